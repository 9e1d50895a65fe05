"""A client asks the clinic to erase their record: a manager erases one that holds no health records.
Their details, notes and emails go; their visits stay as times in the schedule; their links, the
search, the API and booking treat the record as gone. A record with health records, or a visit still
ahead, is refused in words."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clients.erasure import client_erase, erasure_refusal
from clients.links import forms_url, unsubscribe_url
from clients.merging import client_merge, merge_undo_refusal
from clients.models import Client, ClientMerge, IntakeQuestionnaire, IntakeResponse
from clients.selectors import clients_matching
from clients.services import client_update_details
from clinic.errors import ClinicError, NotAllowedError
from clinic.models import OutboxMessage
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_cancel
from treatments.links import client_visits_url, manage_token
from treatments.models import Appointment, AppointmentEvent, AppointmentStatus, WaitlistEntry
from treatments.waitlist import waitlist_add, waitlist_url

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 12, 7)


@pytest.fixture
def world(db):
    return build_world(slug="lumen-erasure")


@pytest.fixture
def nadia(world):
    """Nadia booked online, then cancelled, and waits for another time: no health records."""
    nadia = world.client(
        first_name="Nadia",
        last_name="Okafor",
        email="nadia@example.com",
        phone="07700 900123",
        date_of_birth=dt.date(1990, 5, 17),
        notes="Prefers mornings",
    )
    visit = appointment_book(
        BookingRequest(
            client=nadia,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 7, 10),
            client_note="Parking nearby?",
            notes="Asked about her skin",
        )
    )
    appointment_cancel(visit, reason="Moving house")
    waitlist_add(
        client=nadia,
        service=world.microcurrent,
        first_day=MONDAY,
        last_day=MONDAY + dt.timedelta(days=6),
        note="After 10 please",
    )
    return nadia


def test_a_record_without_health_records_is_erased_and_its_visits_stay_as_times(world, nadia):
    visit = Appointment.objects.get(client=nadia)
    assert OutboxMessage.objects.filter(client_id=nadia.pk).count() >= 3  # booked, cancelled, waitlist
    assert erasure_refusal(nadia) == ""

    client_erase(client=nadia, by=world.manager)

    erased = Client.objects.get(pk=nadia.pk)
    assert (erased.first_name, erased.last_name) == ("Erased", "client")
    assert (erased.email, erased.phone, erased.date_of_birth, erased.notes) == ("", "", None, "")
    assert dt.timedelta(0) <= timezone.now() - erased.erased_at < dt.timedelta(seconds=5)
    assert erased.erased_by == world.manager
    assert not OutboxMessage.objects.filter(client_id=nadia.pk).exists()
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.CANCELLED and visit.service == world.microcurrent
    assert (visit.notes, visit.client_note, visit.cancellation_reason) == ("", "", "")
    assert [e.details for e in AppointmentEvent.objects.filter(appointment=visit)] == [{}, {}]
    [place] = WaitlistEntry.objects.filter(client=nadia)
    assert place.ended_at is not None and place.note == ""
    # nothing that named her is found any more
    for query in ("Nadia", "Okafor", "nadia@example.com", "07700900123", ""):
        assert not clients_matching(clinic=world.clinic, query=query).filter(pk=nadia.pk).exists()


def test_nothing_new_is_written_for_an_erased_record(world, nadia):
    client_erase(client=nadia, by=world.manager)
    with pytest.raises(ClinicError) as refused:
        appointment_book(
            BookingRequest(
                client=nadia,
                service=world.microcurrent,
                practitioner=world.sam,
                start=local(world, 2026, 12, 8, 10),
            )
        )
    assert refused.value.code == "client_erased" and "register them again" in refused.value.message
    with pytest.raises(ClinicError, match="erased at their request"):
        waitlist_add(client=nadia, service=world.microcurrent, first_day=MONDAY, last_day=MONDAY)
    with pytest.raises(ClinicError, match="erased at their request"):
        client_update_details(client=nadia, email="nadia@example.com")
    with pytest.raises(ClinicError, match="already"):
        client_erase(client=nadia, by=world.manager)
    # and the database keeps an erased record empty whatever writes it
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.filter(pk=nadia.pk).update(email="nadia@example.com")


def test_the_links_already_emailed_to_them_lead_nowhere(world, nadia):
    visit = Appointment.objects.get(client=nadia)
    place = WaitlistEntry.objects.get(client=nadia)
    links = [
        forms_url(nadia, modalities=["microcurrent"]),
        unsubscribe_url(nadia),
        client_visits_url(nadia),
        reverse("public-manage", args=[manage_token(visit)]),
        waitlist_url(place),
    ]
    browser = BrowserClient()
    assert all(browser.get(link).status_code == 200 for link in links)
    client_erase(client=nadia, by=world.manager)
    for link in links:
        answer = browser.get(link)
        assert answer.status_code == 404, link
        assert "Nadia" not in answer.content.decode()


def test_a_record_with_health_records_or_a_visit_ahead_is_refused_in_words(world, nadia):
    ahead = appointment_book(
        BookingRequest(
            client=nadia,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 9, 10),
        )
    )
    said = erasure_refusal(nadia)
    assert "Nadia Okafor still has visits booked (Microcurrent workout Wed 9 Dec 10:00)" in said
    assert "cancel them first" in said
    with pytest.raises(ClinicError) as refused:
        client_erase(client=nadia, by=world.manager)
    assert refused.value.code == "cannot_erase"
    appointment_cancel(ahead)

    IntakeResponse.objects.create(
        client=nadia,
        questionnaire=IntakeQuestionnaire.objects.create(
            clinic=world.clinic, version=1, title="Health", questions=[], is_current=True
        ),
        answers={},
    )
    said = erasure_refusal(nadia)
    assert said.startswith(
        "Nadia Okafor's record holds health records the clinic must keep until 1 December 2034 "
        "(1 intake form), so it cannot be erased yet."
    )
    with pytest.raises(ClinicError):
        client_erase(client=nadia, by=world.manager)
    assert Client.objects.get(pk=nadia.pk).email == "nadia@example.com"
    # only a manager
    IntakeResponse.objects.filter(client=nadia).delete()
    with pytest.raises(NotAllowedError):
        client_erase(client=nadia, by=world.desk)


def test_a_merged_records_details_go_too_and_the_merge_cannot_be_undone(world, nadia):
    again = world.client(first_name="Nadia", last_name="Okafor", email="nadia.okafor@work.example")
    merge = client_merge(kept=nadia, merged=again, by=world.manager)
    assert merge.merged_details["email"] == "nadia.okafor@work.example"
    client_erase(client=nadia, by=world.manager)
    merge = ClientMerge.objects.select_related("kept", "clinic").get(pk=merge.pk)
    assert (merge.merged_name, merge.merged_details, merge.kept_details) == ("Erased client", {}, {})
    assert "erased at their request" in merge_undo_refusal(merge)


def test_the_pages_a_manager_erases_from_and_what_others_see(world, nadia):
    page_url = reverse("client-erase", args=[nadia.pk])
    desk = BrowserClient()
    desk.force_login(world.desk.user)
    assert desk.get(page_url).status_code == 403
    assert 'id="erase-client"' not in desk.get(reverse("client-detail", args=[nadia.pk])).content.decode()
    manager = BrowserClient()
    manager.force_login(world.manager.user)
    assert 'id="erase-client"' in manager.get(reverse("client-detail", args=[nadia.pk])).content.decode()
    page = manager.get(page_url).content.decode()
    assert 'id="erase-what-goes"' in page and 'id="erase-form"' in page
    unticked = manager.post(page_url)
    assert unticked.status_code == 400 and "Tick the box" in unticked.content.decode()
    assert Client.objects.get(pk=nadia.pk).erased_at is None

    done = manager.post(page_url, {"asked": "yes"}, follow=True)
    text = done.content.decode()
    assert 'id="client-erased"' in text and "Nadia" not in text and "Microcurrent workout" in text
    # the search and the API no longer list them; the API says the record was erased
    assert "Erased client" not in manager.get(reverse("client-list")).content.decode()
    api = APIClient()
    api.force_authenticate(world.desk.user)
    assert nadia.pk not in [c["id"] for c in api.get("/api/v1/clients/").json()["results"]]
    assert api.get(f"/api/v1/clients/{nadia.pk}/").json()["erased_at"] is not None
    refused = api.patch(f"/api/v1/clients/{nadia.pk}/", {"email": "nadia@example.com"}, format="json")
    assert refused.status_code == 400


def test_the_api_erases_for_a_manager_and_refuses_in_words(world, nadia):
    api = APIClient()
    url = f"/api/v1/clients/{nadia.pk}/erase/"
    api.force_authenticate(world.desk.user)
    assert api.post(url).status_code == 403
    kept = world.client(first_name="Kim", last_name="Held", email="kim@example.com")
    IntakeResponse.objects.create(
        client=kept,
        questionnaire=IntakeQuestionnaire.objects.create(
            clinic=world.clinic, version=1, title="Health", questions=[], is_current=True
        ),
        answers={},
    )
    api.force_authenticate(world.manager.user)
    refused = api.post(f"/api/v1/clients/{kept.pk}/erase/")
    assert refused.status_code == 400 and refused.json()["code"] == "cannot_erase"
    assert "1 intake form" in refused.json()["detail"]
    erased = api.post(url)
    assert erased.status_code == 200
    assert erased.json()["first_name"] == "Erased" and erased.json()["email"] == ""
    assert erased.json()["erased_at"] is not None
    assert api.post(url).json()["code"] == "cannot_erase"  # erased already


def test_health_records_are_kept_their_years_then_erased_with_the_record(
    db, tmp_path, settings, django_capture_on_commit_callbacks
):
    """Olivia's record of 1 December 2026 (a consent, photos, three treatments): kept eight years, to
    1 December 2034; the day after, her record is erased with her health records and photos."""
    import time_machine
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from clients.erasure import health_records_kept_until
    from clients.models import PhotoConsent, SignedConsent
    from clients.services import photo_consent_give
    from tests.factories import ConsentTemplateFactory, sign_consent
    from tests.test_fhir_export import signed_off_record
    from treatments.models import MesotherapyRecord, SessionPhoto, TreatmentSession

    settings.MEDIA_ROOT = tmp_path
    world, session = signed_off_record()
    olivia = session.client
    sign_consent(olivia, ConsentTemplateFactory(clinic=world.clinic, modality="mesotherapy"))
    photo_consent_give(client=olivia, scope="clinical", signature_name="Olivia Smith", agreed=True)
    name = default_storage.save("session-photos/olivia.jpg", ContentFile(b"\xff\xd8\xff photo"))
    SessionPhoto.objects.bulk_create([SessionPhoto(session=session, image=name)])  # as it was taken
    assert health_records_kept_until(olivia) == dt.date(2034, 12, 1)
    said = erasure_refusal(olivia)
    assert "must keep until 1 December 2034" in said and "1 treatment record" in said

    with time_machine.travel(dt.datetime(2034, 12, 1, 12, tzinfo=dt.UTC)):
        assert "until 1 December 2034" in erasure_refusal(olivia)
    with time_machine.travel(dt.datetime(2034, 12, 2, 9, tzinfo=dt.UTC)):
        assert erasure_refusal(olivia) == ""
        with django_capture_on_commit_callbacks(execute=True):
            client_erase(client=olivia, by=world.manager)
    assert not TreatmentSession.objects.filter(client=olivia).exists()
    assert not MesotherapyRecord.objects.filter(session_id=session.pk).exists()
    assert not SignedConsent.objects.filter(client=olivia).exists()
    assert not PhotoConsent.objects.filter(client=olivia).exists()
    assert not default_storage.exists(name)  # the photo's file, once the erasure committed
    assert Appointment.objects.filter(pk=session.appointment_id).exists()  # the visit stays, as a time


def test_a_childs_health_records_are_kept_until_they_are_25(world, nadia):
    nadia.date_of_birth = dt.date(2012, 3, 1)  # 14 when her intake was taken
    nadia.save(update_fields=["date_of_birth"])
    IntakeResponse.objects.create(
        client=nadia,
        questionnaire=IntakeQuestionnaire.objects.create(
            clinic=world.clinic, version=1, title="Health", questions=[], is_current=True
        ),
        answers={},
    )
    from clients.erasure import health_records_kept_until

    assert health_records_kept_until(nadia) == dt.date(2037, 3, 1)  # her 25th birthday, after 2034
    world.clinic.minor_records_until_age = 21
    world.clinic.save(update_fields=["minor_records_until_age"])
    nadia.clinic.refresh_from_db()
    assert health_records_kept_until(nadia) == dt.date(2034, 12, 1)  # eight years is later


@pytest.mark.django_db(transaction=True)
def test_a_booking_made_while_the_record_is_erased_waits_and_is_refused():
    """PostgreSQL, two connections: the erasure holds the client's row; a booking for them waits for it
    and then finds the record erased. No visit ahead is left on an erased record."""
    import threading
    import time

    from django.db import connection, connections

    from clients import erasure

    if connection.vendor != "postgresql":
        pytest.skip("Two writers at once need PostgreSQL (SQLite serialises every write)")
    world = build_world(slug="lumen-erasure-race")
    nadia = world.client(first_name="Nadia", last_name="Okafor", email="nadia@example.com")
    holding, go_on, said = threading.Event(), threading.Event(), {}

    def hold(client):  # the erasure, its row locked, waits here until the booking has started
        holding.set()
        go_on.wait(10)

    def erase():
        try:
            client_erase(client=nadia, by=world.manager)
        finally:
            connections.close_all()

    def book():
        try:
            appointment_book(
                BookingRequest(
                    client=nadia,
                    service=world.microcurrent,
                    practitioner=world.sam,
                    start=local(world, 2026, 12, 8, 10),
                )
            )
            said["booked"] = True
        except ClinicError as refusal:
            said["refused"] = refusal.code
        finally:
            connections.close_all()

    erasure.register_after_erasure(hold)
    try:
        erasing = threading.Thread(target=erase)
        erasing.start()
        assert holding.wait(10)
        booking = threading.Thread(target=book)
        booking.start()
        time.sleep(0.5)
        assert booking.is_alive()  # waiting for the erasure's lock on the client's row
        go_on.set()
        erasing.join(10)
        booking.join(10)
    finally:
        erasure._after_erasure.remove(hold)
    assert said == {"refused": "client_erased"}
    assert not Appointment.objects.filter(client=nadia).exists()
    assert Client.objects.get(pk=nadia.pk).erased_at is not None
