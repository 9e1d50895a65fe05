"""Who opened a client's health data is kept: each read of intake answers and consents, the intake
summary on a visit, treatment records and photos, and every export, by whom and when (reads in one
half hour of the clock count once). The front desk, who cannot read it, leaves nothing; managers see
the list on the client's page; a merge of two records keeps their accesses with the kept one."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clients.merging import client_merge
from clients.models import HealthDataAccess, HealthDataRead, IntakeQuestionnaire, IntakeResponse
from tests.booking_world import local
from tests.test_fhir_export import signed_off_record
from treatments.booking import BookingRequest, appointment_book
from treatments.models import TreatmentSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def record(db):
    return signed_off_record()


def _accesses(client_id):
    return list(
        HealthDataAccess.objects.filter(client_id=client_id)
        .order_by("at", "id")
        .values_list("staff_member__display_name", "what")
    )


def _signed_in(client, member):
    client.force_login(member.user)
    return client


def test_reading_intake_and_consent_is_kept_once_in_half_an_hour(client, record):
    world, session = record
    olivia = session.client
    browser = _signed_in(client, world.dr_lee)
    url = reverse("client-intake-and-consent", args=[olivia.pk])
    assert browser.get(url).status_code == 200
    assert browser.get(url).status_code == 200
    assert _accesses(olivia.pk) == [("Dr Amara Lee", HealthDataRead.INTAKE_AND_CONSENT)]
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31), tick=False):
        browser.get(url)
    assert len(_accesses(olivia.pk)) == 2


def test_the_front_desk_is_refused_and_leaves_nothing(client, record):
    world, session = record
    browser = _signed_in(client, world.desk)
    assert browser.get(reverse("client-intake-and-consent", args=[session.client_id])).status_code == 403
    browser.get(reverse("client-detail", args=[session.client_id]))
    browser.get(reverse("appointment-detail", args=[session.appointment_id]))
    assert _accesses(session.client_id) == []


def test_the_record_page_the_client_page_and_the_visit_page_are_kept(client, record):
    world, session = record
    olivia = session.client
    IntakeResponse.objects.create(
        client=olivia,
        questionnaire=IntakeQuestionnaire.objects.create(
            clinic=world.clinic, version=1, title="Health", questions=[], is_current=True
        ),
        answers={},
    )
    later = session.appointment  # its record is signed off: the visit is done; book one ahead to read
    browser = _signed_in(client, world.sam)
    browser.get(reverse("session-record", args=[later.pk]))
    browser.get(reverse("client-detail", args=[olivia.pk]))
    ahead = appointment_book(
        BookingRequest(
            client=olivia,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 9, 10),
        )
    )
    browser.get(reverse("appointment-detail", args=[ahead.pk]))
    assert _accesses(olivia.pk) == [
        ("Sam Rivera", HealthDataRead.TREATMENT_RECORD),
        ("Sam Rivera", HealthDataRead.TREATMENT_HISTORY),
        ("Sam Rivera", HealthDataRead.VISIT_INTAKE),
    ]


def test_exports_through_the_api_are_kept(record):
    world, session = record
    olivia = session.client
    api = APIClient()
    api.force_authenticate(world.manager.user)
    assert api.get(f"/api/v1/clients/{olivia.pk}/fhir/everything/").status_code == 200
    assert api.get("/api/v1/treatment-records/").status_code == 200
    assert api.get(f"/api/v1/treatment-records/{session.pk}/").status_code == 200  # coalesced with the list
    assert api.get(f"/api/v1/treatment-records/{session.pk}/fhir/").status_code == 200  # with the export
    assert _accesses(olivia.pk) == [
        (world.manager.display_name, HealthDataRead.EXPORT),
        (world.manager.display_name, HealthDataRead.TREATMENT_RECORD),
    ]


def test_a_lot_recall_is_kept_for_each_client_it_names(client, record):
    """The recall page says what each client was given and when: their treatment, read for a recall."""
    from treatments.models import ProductLot

    world, session = record
    browser = _signed_in(client, world.dr_lee)
    lot = ProductLot.objects.get(lot_number="HA-2291")
    assert browser.get(reverse("lot-recall")).status_code == 200  # choosing a lot names nobody yet
    assert _accesses(session.client_id) == []
    page = browser.get(reverse("lot-recall"), {"lot": lot.pk}).content.decode()
    assert "Olivia" in page
    assert _accesses(session.client_id) == [("Dr Amara Lee", HealthDataRead.LOT_RECALL)]


def test_managers_see_who_opened_it_on_the_clients_page_and_the_desk_does_not(client, record):
    world, session = record
    _signed_in(client, world.dr_lee).get(reverse("client-intake-and-consent", args=[session.client_id]))
    page = _signed_in(client, world.manager).get(reverse("client-detail", args=[session.client_id]))
    text = page.content.decode()
    assert "Who opened Olivia's health data" in text
    assert "Dr Amara Lee</td><td>Intake answers and signed consents" in text
    desk = _signed_in(client, world.desk).get(reverse("client-detail", args=[session.client_id]))
    assert "Who opened" not in desk.content.decode()


def test_a_merge_keeps_the_accesses_with_the_kept_record(client, record):
    world, session = record
    olivia = session.client
    again = world.client(first_name="Olivia", last_name="Smith", email="olivia.smith@home.example")
    browser = _signed_in(client, world.dr_lee)
    browser.get(reverse("client-intake-and-consent", args=[again.pk]))
    client_merge(kept=olivia, merged=again, by=world.manager)
    assert _accesses(olivia.pk) == [("Dr Amara Lee", HealthDataRead.INTAKE_AND_CONSENT)]
    assert TreatmentSession.objects.filter(client=olivia).exists()


def test_both_records_read_in_one_half_hour_merge_into_one_access(client, record):
    world, session = record
    olivia = session.client
    again = world.client(first_name="Olivia", last_name="Smith", email="olivia.smith@home.example")
    browser = _signed_in(client, world.dr_lee)
    for one in (olivia, again):  # comparing the two before merging them
        browser.get(reverse("client-intake-and-consent", args=[one.pk]))
    client_merge(kept=olivia, merged=again, by=world.manager)
    assert _accesses(olivia.pk) == [("Dr Amara Lee", HealthDataRead.INTAKE_AND_CONSENT)]
    assert _accesses(again.pk) == []


def test_undoing_the_merge_gives_each_record_its_own_reads_again(client, record):
    """Both read in one half hour, folded into one by the merge; two people after all: each has its own."""
    from clients.merging import client_merge_undo

    world, session = record
    olivia = session.client
    again = world.client(first_name="Olivia", last_name="Smith", email="olivia.smith@home.example")
    browser = _signed_in(client, world.dr_lee)
    for one in (olivia, again):
        browser.get(reverse("client-intake-and-consent", args=[one.pk]))
    _signed_in(client, world.sam).get(reverse("client-intake-and-consent", args=[again.pk]))  # moves
    read_at = dict(HealthDataAccess.objects.filter(client=again).values_list("staff_member_id", "at"))
    merge = client_merge(kept=olivia, merged=again, by=world.manager)
    assert len(_accesses(olivia.pk)) == 2

    client_merge_undo(merge=merge, by=world.manager)
    assert _accesses(olivia.pk) == [("Dr Amara Lee", HealthDataRead.INTAKE_AND_CONSENT)]
    assert sorted(_accesses(again.pk)) == [
        ("Dr Amara Lee", HealthDataRead.INTAKE_AND_CONSENT),
        ("Sam Rivera", HealthDataRead.INTAKE_AND_CONSENT),
    ]
    assert dict(HealthDataAccess.objects.filter(client=again).values_list("staff_member_id", "at")) == read_at
