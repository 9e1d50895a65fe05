"""Alice (Lumen) sees nothing of Harbour's, on pages and through the API; Bob likewise."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import AppointmentFactory, PractitionerFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _today_at(clinic, hour):
    local_today = timezone.localdate(timezone=clinic.zone)
    return dt.datetime.combine(local_today, dt.time(hour), tzinfo=clinic.zone)


def test_home_shows_only_the_signed_in_clinics_appointments(
    alice_client, lumen, harbour, lumen_client_record, harbour_client_record
):
    # given an appointment today in each clinic
    AppointmentFactory(
        clinic=lumen, client=lumen_client_record, start=_today_at(lumen, 12), end=_today_at(lumen, 13)
    )
    AppointmentFactory(
        clinic=harbour, client=harbour_client_record, start=_today_at(harbour, 12), end=_today_at(harbour, 13)
    )
    # when Alice opens her home page
    page = alice_client.get("/").content.decode()
    # then she sees Lumen's client and not Harbour's
    assert "Olivia Smith" in page
    assert "Harbourside" not in page


def test_client_list_page_shows_only_own_clients(alice_client, lumen_client_record, harbour_client_record):
    page = alice_client.get("/clients/").content.decode()
    assert "Olivia Smith" in page
    assert "Harbourside" not in page


def _api_as(staff_member):
    api = APIClient()
    api.force_authenticate(staff_member.user)
    return api


def test_api_client_list_holds_only_own_clients(alice, lumen_client_record, harbour_client_record):
    response = _api_as(alice).get("/api/v1/clients/")
    assert response.status_code == 200
    ids = [c["id"] for c in response.json()["results"]]
    assert ids == [lumen_client_record.id]


def test_api_client_search_never_reaches_another_clinic(alice, lumen_client_record, harbour_client_record):
    response = _api_as(alice).get("/api/v1/clients/", {"search": "hank"})
    assert response.json()["results"] == []


def test_api_refuses_another_clinics_client_as_not_found(alice, harbour_client_record):
    response = _api_as(alice).get(f"/api/v1/clients/{harbour_client_record.id}/")
    assert response.status_code == 404


def test_api_services_and_practitioners_are_scoped(alice, bob, lumen, harbour):
    ServiceFactory(clinic=lumen, name="Lumen facial")
    ServiceFactory(clinic=harbour, name="Harbour lift")
    PractitionerFactory(clinic=lumen, display_name="Dr Lumen")
    PractitionerFactory(clinic=harbour, display_name="Dr Harbour")
    api = _api_as(bob)
    services = [s["name"] for s in api.get("/api/v1/services/").json()["results"]]
    practitioners = [p["display_name"] for p in api.get("/api/v1/practitioners/").json()["results"]]
    assert services == ["Harbour lift"]
    assert practitioners == ["Dr Harbour"]


def test_a_new_client_is_registered_in_the_creators_clinic(alice, lumen):
    response = _api_as(alice).post(
        "/api/v1/clients/",
        {
            "first_name": "Nia",
            "last_name": "Cole",
            "email": "nia@example.com",
            "phone": "+44 7700 111222",
            "date_of_birth": "1990-04-02",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    from clients.models import Client

    assert Client.objects.get(pk=response.json()["id"]).clinic == lumen


def test_a_user_without_a_clinic_gets_no_api_data(db, lumen_client_record):
    from tests.factories import UserFactory

    api = APIClient()
    api.force_authenticate(UserFactory())
    assert api.get("/api/v1/clients/").status_code == 403


def test_a_user_without_a_clinic_is_refused_the_home_page(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    assert client.get("/").status_code == 403


def test_admin_shows_a_manager_only_their_clinics_clients(
    client, lumen, harbour, lumen_client_record, harbour_client_record
):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffMemberFactory

    manager = StaffMemberFactory(clinic=lumen, role="manager", user__is_staff=True)
    manager.user.user_permissions.add(Permission.objects.get(codename="view_client"))
    client.force_login(manager.user)
    page = client.get("/admin/clients/client/").content.decode()
    assert "Smith" in page
    assert "Harbourside" not in page
    assert client.get(f"/admin/clients/client/{harbour_client_record.pk}/change/").status_code in (302, 404)
