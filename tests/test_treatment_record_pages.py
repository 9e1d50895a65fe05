"""The record's pages: the visit offers to start it, the practitioner writes it, the desk cannot.

Lumen (London) at SUITE_NOW, 07:00 on Tuesday 1 December 2026; Olivia's microneedling at 10:00 today.
"""

import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import OutboxMessage
from tests.booking_world import build_world, give_face_depth_ranges, local
from tests.factories import AppointmentFactory, ConsentTemplateFactory
from treatments.aftercare import aftercare_install_default_plan
from treatments.booking import BookingRequest, appointment_book
from treatments.models import (
    AppointmentStatus,
    BodyArea,
    MicroneedlingRecord,
    Product,
    ProductLot,
    TreatmentSession,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world()
    give_face_depth_ranges(world)
    aftercare_install_default_plan(world.microneedling_protocol)
    return world


@pytest.fixture
def visit(world):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", email="olivia@example.com"),
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, 10),
        )
    )


@pytest.fixture
def practitioner(client, world):
    client.force_login(world.dr_lee.user)
    return client


@pytest.fixture
def desk_user(world):
    """The front desk, in a browser of its own beside the practitioner's."""
    browser = BrowserClient()
    browser.force_login(world.desk.user)
    return browser


def record_url(visit):
    return reverse("session-record", args=[visit.pk])


def add_area(browser, visit, **fields):
    data = {
        "action": "add_microneedling",
        "microneedling-area": BodyArea.objects.get(code=fields.pop("area", "cheeks")).pk,
        "microneedling-device": fields.pop("device", ""),
        "microneedling-depth_mm": fields.pop("depth", "0.75"),
        "microneedling-passes": fields.pop("passes", "3"),
        "microneedling-cartridge_lot": fields.pop("lot", ""),
        "microneedling-outside_protocol_reason": fields.pop("reason", ""),
    }
    return browser.post(record_url(visit), data | fields)


def test_the_practitioner_starts_records_and_signs_off_from_the_visit(practitioner, world, visit):
    page = practitioner.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert 'id="start-record"' in page and "Starting it checks Olivia in." in page
    response = practitioner.post(reverse("session-record-start", args=[visit.pk]))
    assert response.status_code == 302 and response["Location"] == record_url(visit)
    page = practitioner.get(record_url(visit)).content.decode()
    assert "Cheeks (0.5–1 mm)" in page and "Forehead (0.25–0.5 mm)" in page
    assert "Neck (not in the protocol)" in page
    assert f'<option value="{world.pens[0].pk}" selected>' in page  # the visit's pen
    response = add_area(practitioner, visit, device=world.pens[0].pk, lot="CART-9")
    assert response.status_code == 302
    record = MicroneedlingRecord.objects.get()
    assert (record.area.code, record.depth_mm, record.cartridge_lot) == ("cheeks", Decimal("0.75"), "CART-9")
    practitioner.post(record_url(visit), {"action": "notes", "notes-notes": "Even pinpoint bleeding."})
    response = practitioner.post(record_url(visit), {"action": "sign_off"}, follow=True)
    page = response.content.decode()
    assert "Signed off: the record is final and the visit completed." in page
    sent = OutboxMessage.objects.filter(dedupe_key__startswith=f"session:{record.session_id}:").count()
    assert sent >= 1 and f"{sent} aftercare emails scheduled for Olivia." in page
    assert 'id="aftercare"' in page and "Aftercare microneedling day0" in page
    assert 'id="add-microneedling"' not in page and "Remove" not in page
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.FULFILLED
    visit_page = practitioner.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert "Signed off</span> by Dr Amara Lee" in visit_page and "Read the record" in visit_page


def test_a_refused_area_comes_back_as_typed_with_the_reason_beside_it(practitioner, world, visit):
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    response = add_area(practitioner, visit, area="forehead", depth="0.9", lot="CART-77")
    assert response.status_code == 400
    page = response.content.decode()
    assert "0.9 mm is outside the protocol&#x27;s 0.25–0.5 mm for Forehead. Give the reason" in page
    assert 'value="0.9"' in page and 'value="CART-77"' in page
    assert not MicroneedlingRecord.objects.exists()
    response = add_area(
        practitioner, visit, area="forehead", depth="0.9", reason="Deep lines, agreed with client"
    )
    assert response.status_code == 302
    assert MicroneedlingRecord.objects.get().outside_protocol_reason == "Deep lines, agreed with client"


@pytest.mark.parametrize(
    "fields",
    [
        {"depth": "abc"},
        {"depth": "4"},
        {"depth": "-1"},
        {"passes": "0"},
        {"passes": ""},
        {"microneedling-area": "99999"},
        {"microneedling-area": "x"},
        {"device": "99999"},
        {"reason": "\x00"},
    ],
)
def test_bad_input_is_a_page_with_the_error_never_a_500(practitioner, visit, fields):
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    response = add_area(practitioner, visit, **fields)
    assert response.status_code == 400
    assert 'class="error" role="alert"' in response.content.decode()
    assert not MicroneedlingRecord.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "add_nothing"},
        {"action": "remove", "modality": "microneedling", "record": "x"},
        {"action": "remove", "modality": "laser", "record": "1"},
        {"action": "add_microcurrent", "microcurrent-area": "1"},
        {"action": "sign_off"},
        {},
    ],
)
def test_other_posts_are_refused_in_words(practitioner, visit, data):
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    response = practitioner.post(record_url(visit), data, follow=True)
    assert response.status_code in (200, 400)
    assert 'class="error' in response.content.decode()
    assert TreatmentSession.objects.get().signed_off_at is None


def test_another_clinics_lot_or_device_cannot_be_chosen(practitioner, world, visit):
    other = build_world()
    lot = ProductLot.objects.create(
        product=Product.objects.create(clinic=other.clinic, name="Theirs"),
        lot_number="T-1",
        expiry_date="2030-01-01",
    )
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    response = add_area(practitioner, visit, device=other.pens[0].pk)
    assert response.status_code == 400 and not MicroneedlingRecord.objects.exists()
    assert lot.pk  # (mesotherapy's lot list is scoped the same way: tests/test_treatment_record.py)
    assert (
        practitioner.get(
            reverse("session-record", args=[other.keep_lee_busy(local(other, 2026, 12, 1, 11)).pk])
        ).status_code
        == 404
    )


def test_the_front_desk_sees_the_records_state_but_not_the_record(desk, world, visit):
    page = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert 'id="start-record"' not in page
    assert desk.post(reverse("session-record-start", args=[visit.pk])).status_code == 403
    assert not TreatmentSession.objects.exists()
    TreatmentSession.objects.create(
        clinic=world.clinic, appointment=visit, client=visit.client, practitioner=world.dr_lee
    )
    assert desk.get(record_url(visit)).status_code == 403
    page = desk.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert "Not signed off</span> 0 areas recorded so far." in page and 'id="open-record"' not in page


def test_the_visit_says_why_no_record_can_start_yet(practitioner, world, visit):
    ConsentTemplateFactory(clinic=world.clinic, modality="microneedling")
    page = practitioner.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert 'id="start-record"' not in page
    assert "No treatment record yet: Olivia must still fill or sign: Microneedling consent." in page
    response = practitioner.post(reverse("session-record-start", args=[visit.pk]), follow=True)
    assert "Olivia must still fill or sign" in response.content.decode()
    assert not TreatmentSession.objects.exists()


def test_a_visit_without_a_record_sends_the_record_page_back_to_the_visit(practitioner, visit):
    response = practitioner.get(record_url(visit))
    assert response.status_code == 302 and response["Location"] == reverse(
        "appointment-detail", args=[visit.pk]
    )


def test_a_colleague_reads_the_record_without_its_forms(client, world, visit):
    client.force_login(world.sam.user)
    page = client.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert 'id="start-record"' not in page
    TreatmentSession.objects.create(
        clinic=world.clinic, appointment=visit, client=visit.client, practitioner=world.dr_lee
    )
    page = client.get(record_url(visit)).content.decode()
    assert 'id="add-microneedling"' not in page and 'id="sign-off"' not in page
    assert "Dr Amara Lee, who treats Olivia, writes this record and signs it off" in page
    response = add_area(client, visit)
    assert response.status_code == 302 and not MicroneedlingRecord.objects.exists()


def _signed_records(world, client, count, first_hour=9):
    """`count` signed-off microneedling records for `client`, on days before today."""
    from treatments.sessions import treatment_session_add_microneedling, treatment_session_sign_off

    for n in range(count):
        visit = AppointmentFactory(
            clinic=world.clinic,
            client=client,
            practitioner=world.dr_lee,
            service=world.microneedling,
            status=AppointmentStatus.ARRIVED,
            start=local(world, 2026, 11, 30 - n, first_hour),
            end=local(world, 2026, 11, 30 - n, first_hour + 1),
        )
        session = TreatmentSession.objects.create(
            clinic=world.clinic, appointment=visit, client=client, practitioner=world.dr_lee
        )
        treatment_session_add_microneedling(
            session=session,
            by=world.dr_lee,
            area=BodyArea.objects.get(code="cheeks"),
            depth_mm="0.5",
            passes=2,
        )
        treatment_session_sign_off(session=session, by=world.dr_lee)


def _queries(browser, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert browser.get(url).status_code == 200
    return len(queries)


def test_the_clients_page_lists_their_records_for_practitioners_only(practitioner, desk_user, world, visit):
    _signed_records(world, visit.client, 2)
    url = reverse("client-detail", args=[visit.client.pk])
    page = practitioner.get(url).content.decode()
    assert 'id="treatment-records"' in page and page.count("Cheeks 0.5 mm × 2") == 2
    assert "Signed off" in page
    assert 'id="treatment-records"' not in desk_user.get(url).content.decode()


def test_the_clients_page_and_the_record_read_as_many_queries_for_few_and_many_records(
    practitioner, world, visit
):
    _signed_records(world, visit.client, 1)
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    client_page, record_page = reverse("client-detail", args=[visit.client.pk]), record_url(visit)
    few = (_queries(practitioner, client_page), _queries(practitioner, record_page))
    _signed_records(world, visit.client, 12, first_hour=14)
    many = (_queries(practitioner, client_page), _queries(practitioner, record_page))
    assert TreatmentSession.objects.filter(client=visit.client).count() == 14
    assert few == many


@pytest.mark.parametrize(
    ("client_fields", "why"),
    [
        ({"email": ""}, "they have no email address."),
        ({"accepts_aftercare_email": False}, "they do not take aftercare email."),
    ],
)
def test_signing_off_says_why_no_aftercare_goes(practitioner, world, client_fields, why):
    visit = appointment_book(
        BookingRequest(
            client=world.client(first_name="Ann", **client_fields),
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, 12),
        )
    )
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    add_area(practitioner, visit)
    page = practitioner.post(record_url(visit), {"action": "sign_off"}, follow=True).content.decode()
    assert "No aftercare email goes to Ann: see why below." in page
    assert f"No aftercare email goes to Ann: {why}" in page
    assert not OutboxMessage.objects.filter(template_key__startswith="aftercare").exists()


def test_todays_list_reminds_each_practitioner_of_their_records_not_signed_off(practitioner, world, visit):
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    page = practitioner.get("/").content.decode()
    assert 'id="to-sign-off"' in page and "1 treatment record not signed off" in page
    assert record_url(visit) in page
    for colleague, expected in ((world.sam, False), (world.desk, False), (world.manager, True)):
        browser = BrowserClient()
        browser.force_login(colleague.user)
        assert ('id="to-sign-off"' in browser.get("/").content.decode()) is expected
    add_area(practitioner, visit)
    practitioner.post(record_url(visit), {"action": "sign_off"})
    assert 'id="to-sign-off"' not in practitioner.get("/").content.decode()


def test_a_recall_finds_every_client_given_a_lot_and_no_one_else(practitioner, world):
    from treatments.sessions import treatment_session_add_mesotherapy, treatment_session_sign_off

    product = Product.objects.create(clinic=world.clinic, name="HA cocktail")
    recalled = ProductLot.objects.create(product=product, lot_number="HA-2291", expiry_date="2027-06-30")
    other = ProductLot.objects.create(product=product, lot_number="HA-3300", expiry_date="2027-09-30")
    for hour, name, lot in ((10, "Ann", recalled), (12, "Bea", recalled), (14, "Cat", other)):
        visit = appointment_book(
            BookingRequest(
                client=world.client(first_name=name, phone=f"+44 7700 9000{hour}"),
                service=world.mesotherapy,
                practitioner=world.dr_lee,
                start=local(world, 2026, 12, 1, hour),
            )
        )
        from treatments.sessions import treatment_session_start

        session = treatment_session_start(appointment=visit, by=world.dr_lee)
        treatment_session_add_mesotherapy(
            session=session,
            by=world.dr_lee,
            area=BodyArea.objects.get(code="face"),
            lot=lot,
            volume_ml=Decimal("1"),
            depth_mm=Decimal("2"),
            technique="papule",
        )
        treatment_session_sign_off(session=session, by=world.dr_lee)
    page = practitioner.get(reverse("lot-recall"), {"lot": recalled.pk}).content.decode()
    assert "HA cocktail lot HA-2291: 2 clients, 2 administrations" in page
    assert "Ann" in page and "Bea" in page and "+44 7700 900010" in page and "Cat " not in page
    elsewhere = build_world()
    theirs = ProductLot.objects.create(
        product=Product.objects.create(clinic=elsewhere.clinic, name="Theirs"),
        lot_number="T",
        expiry_date="2030-01-01",
    )
    assert (
        "not one of the clinic"
        in practitioner.get(reverse("lot-recall"), {"lot": theirs.pk}).content.decode()
    )
    assert "not one of the clinic" in practitioner.get(reverse("lot-recall"), {"lot": "x"}).content.decode()


def test_the_front_desk_has_no_recall_page(desk):
    assert desk.get(reverse("lot-recall")).status_code == 403


GARBAGE = ["", "abc", "-1", "0", "NaN", "Infinity", "1e400", "99999999999", "1.234567", "\x00", "１２"]


@pytest.mark.parametrize("value", GARBAGE)
@pytest.mark.parametrize(
    ("service", "modality", "fields"),
    [
        (
            "microcurrent",
            "microcurrent",
            ["current_ua", "frequency_hz", "minutes", "area", "device", "waveform"],
        ),
        ("mesotherapy", "mesotherapy", ["volume_ml", "depth_mm", "lot", "area", "technique"]),
    ],
)
def test_every_field_of_every_form_answers_bad_input_with_a_page(
    practitioner, world, service, modality, fields, value
):
    product = Product.objects.create(clinic=world.clinic, name="HA cocktail")
    lot = ProductLot.objects.create(product=product, lot_number="HA-1", expiry_date="2027-01-01")
    visit = appointment_book(
        BookingRequest(
            client=world.client(),
            service=getattr(world, service),
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, 10),
        )
    )
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    good = {
        "current_ua": "200",
        "frequency_hz": "2",
        "minutes": "10",
        "area": str(BodyArea.objects.get(code="cheeks").pk),
        "device": "",
        "waveform": "square",
        "volume_ml": "1",
        "depth_mm": "2",
        "lot": str(lot.pk),
        "technique": "papule",
    }
    for field in fields:
        data = {f"{modality}-{k}": v for k, v in good.items()} | {f"{modality}-{field}": value}
        response = practitioner.post(record_url(visit), {"action": f"add_{modality}", **data})
        assert response.status_code in (302, 400), (field, value, response.status_code)
    session = TreatmentSession.objects.get(appointment=visit)
    for record in getattr(session, modality).all():  # whatever was accepted is a sane record
        assert record.area_id and (getattr(record, "current_ua", 1) or 0) > 0


def test_the_visit_says_completing_it_by_hand_sends_no_aftercare_while_the_record_is_open(
    practitioner, visit
):
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    page = practitioner.get(reverse("appointment-detail", args=[visit.pk])).content.decode()
    assert 'id="complete-note"' in page and "completing it here sends none" in page


def test_an_addendum_is_added_on_the_signed_off_record_page(practitioner, world, visit):
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    add_area(practitioner, visit)
    practitioner.post(record_url(visit), {"action": "sign_off"})
    response = practitioner.post(record_url(visit), {"action": "addendum", "addendum-text": ""})
    assert response.status_code == 400 and 'id="addenda"' in response.content.decode()
    colleague = BrowserClient()
    colleague.force_login(world.sam.user)  # whoever takes the client's call
    response = colleague.post(
        record_url(visit), {"action": "addendum", "addendum-text": "Phoned: mild flaking day 3."}, follow=True
    )
    page = response.content.decode()
    assert (
        "Addendum added to the record." in page and "Sam Rivera:</strong> Phoned: mild flaking day 3." in page
    )


def test_the_api_gives_practitioners_a_clients_records_and_refuses_the_desk(world, visit):
    from rest_framework.test import APIClient

    from treatments.sessions import (
        treatment_session_add_addendum,
        treatment_session_add_microneedling,
        treatment_session_sign_off,
        treatment_session_start,
    )

    session = treatment_session_start(appointment=visit, by=world.dr_lee)
    treatment_session_add_microneedling(
        session=session,
        by=world.dr_lee,
        area=BodyArea.objects.get(code="forehead"),
        depth_mm=Decimal("0.8"),
        passes=2,
        device=world.pens[0],
        outside_protocol_reason="Deep lines",
    )
    treatment_session_sign_off(session=session, by=world.dr_lee)
    treatment_session_add_addendum(session=session, by=world.sam, text="Settled by day 3.")
    api = APIClient()
    api.force_authenticate(world.dr_lee.user)
    body = api.get("/api/v1/treatment-records/", {"client": visit.client_id}).json()
    [record] = body["results"]
    assert record["appointment"] == visit.pk and record["signed_off_by"] == world.dr_lee.pk
    assert record["microneedling"] == [
        {
            "area": "forehead",
            "device": world.pens[0].pk,
            "depth_mm": "0.80",
            "passes": 2,
            "cartridge_lot": "",
            "outside_protocol_reason": "Deep lines",
        }
    ]
    assert record["addenda"][0]["written_by"] == "Sam Rivera"
    assert api.get(f"/api/v1/treatment-records/{session.pk}/").json()["id"] == session.pk
    other = build_world()
    assert api.get("/api/v1/treatment-records/", {"client": other.client().pk}).status_code == 400
    desk = APIClient()
    desk.force_authenticate(world.desk.user)
    assert desk.get("/api/v1/treatment-records/").status_code == 403
    elsewhere = APIClient()
    elsewhere.force_authenticate(other.dr_lee.user)
    assert elsewhere.get(f"/api/v1/treatment-records/{session.pk}/").status_code == 404
    assert "/api/v1/treatment-records/" in api.get("/api/schema/").content.decode()


def test_a_combined_service_records_each_modality_and_signs_off_both_plans(practitioner, world):
    from treatments.models import MicrocurrentRecord, Service

    combo = Service.objects.create(
        clinic=world.clinic, name="Microneedling + microcurrent", duration_minutes=75, price=Decimal("180")
    )
    microcurrent = world.microcurrent.protocols.get()
    combo.protocols.set([world.microneedling_protocol, microcurrent])
    aftercare_install_default_plan(microcurrent)
    visit = appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", email="olivia@example.com"),
            service=combo,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, 10),
        )
    )
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    page = practitioner.get(record_url(visit)).content.decode()
    assert 'id="add-microneedling"' in page and 'id="add-microcurrent"' in page
    assert add_area(practitioner, visit).status_code == 302
    response = practitioner.post(
        record_url(visit),
        {
            "action": "add_microcurrent",
            "microcurrent-area": BodyArea.objects.get(code="cheeks").pk,
            "microcurrent-current_ua": "200",
            "microcurrent-frequency_hz": "2",
            "microcurrent-waveform": "square",
            "microcurrent-minutes": "10",
        },
    )
    assert response.status_code == 302 and MicrocurrentRecord.objects.count() == 1
    practitioner.post(record_url(visit), {"action": "sign_off"})
    # both plans, their day 0 as one email (each treatment's advice in it), the later days as they are
    aftercare = OutboxMessage.objects.filter(template_key__startswith="aftercare")
    [day_zero] = aftercare.filter(template_key="aftercare_several_treatments")
    assert [part["key"] for part in day_zero.context["parts"]] == [
        "aftercare_microcurrent_day0",
        "aftercare_microneedling_day0",
    ]
    assert {"aftercare_microneedling_day1", "aftercare_microneedling_day3"} <= set(
        aftercare.values_list("template_key", flat=True)
    )


def test_signing_off_a_day_late_says_which_aftercare_was_not_sent(practitioner, world, visit):
    # given Olivia treated on Tuesday 1 December, her record signed off on Wednesday at noon
    with time_machine.travel(local(world, 2026, 12, 1, 10, 5), tick=False):
        practitioner.post(reverse("session-record-start", args=[visit.pk]))
        assert add_area(practitioner, visit, device=world.pens[0].pk).status_code == 302
    with time_machine.travel(local(world, 2026, 12, 2, 12), tick=False):
        page = practitioner.post(record_url(visit), {"action": "sign_off"}, follow=True).content.decode()
    # then day 0's "for the next 24 hours" is not sent a day late, and the page says so
    assert (
        "3 aftercare emails scheduled for Olivia. 1 was not sent: its day was over before the sign-off."
        in page
    )
    assert "Not sent: its day (Tue 1 Dec) was over when the record was signed off." in page


def _signed_record_of(world, client, day, areas):
    """A signed-off microneedling record for `client` on 2026-11-`day`: (area code, depth, passes) each."""
    from treatments.sessions import treatment_session_add_microneedling, treatment_session_sign_off

    visit = AppointmentFactory(
        clinic=world.clinic,
        client=client,
        practitioner=world.dr_lee,
        service=world.microneedling,
        status=AppointmentStatus.ARRIVED,
        start=local(world, 2026, 11, day, 10),
        end=local(world, 2026, 11, day, 11),
    )
    session = TreatmentSession.objects.create(
        clinic=world.clinic,
        appointment=visit,
        client=client,
        practitioner=world.dr_lee,
        started_at=local(world, 2026, 11, day, 10),
    )
    for code, depth, passes in areas:
        treatment_session_add_microneedling(
            session=session,
            by=world.dr_lee,
            area=BodyArea.objects.get(code=code),
            device=world.pens[1],
            depth_mm=depth,
            passes=passes,
        )
    treatment_session_sign_off(session=session, by=world.dr_lee)


def test_each_area_is_filled_in_as_it_was_last_time_to_check_before_recording(practitioner, world, visit):
    _signed_record_of(world, visit.client, 20, [("cheeks", "0.5", 2)])  # older: not the one taken
    _signed_record_of(world, visit.client, 27, [("cheeks", "1.00", 4), ("forehead", "0.25", 2)])
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    page = practitioner.get(record_url(visit)).content.decode()
    cheeks, forehead = BodyArea.objects.get(code="cheeks"), BodyArea.objects.get(code="forehead")
    assert "Filled in as Cheeks was on 27 Nov 2026: check each value against the skin today" in page
    assert f'<option value="{cheeks.pk}" selected>' in page
    assert (
        'name="microneedling-depth_mm" value="1.00"' in page
        and 'name="microneedling-passes" value="4"' in page
    )
    assert f'<option value="{world.pens[0].pk}" selected>' in page  # the pen the visit holds, not last time's
    assert 'name="microneedling-cartridge_lot"' in page and "CART" not in page  # a new cartridge each time
    # nothing is recorded until the practitioner says so
    assert not MicroneedlingRecord.objects.filter(session__appointment=visit).exists()
    add_area(practitioner, visit, area="cheeks", depth="0.75", passes="3")
    page = practitioner.get(record_url(visit)).content.decode()
    assert "Filled in as Forehead was on 27 Nov 2026" in page
    assert f'<option value="{forehead.pk}" selected>' in page
    assert 'name="microneedling-depth_mm" value="0.25"' in page
    add_area(practitioner, visit, area="forehead", depth="0.25", passes="2")
    page = practitioner.get(record_url(visit)).content.decode()
    assert "Filled in as" not in page  # every area of last time is recorded


def test_a_first_record_is_not_filled_in(practitioner, visit):
    practitioner.post(reverse("session-record-start", args=[visit.pk]))
    page = practitioner.get(record_url(visit)).content.decode()
    assert "Filled in as" not in page and 'name="microneedling-depth_mm"' in page


def test_last_times_lot_is_offered_again_only_while_it_can_be_used(practitioner, world):
    from treatments.sessions import (
        treatment_session_add_mesotherapy,
        treatment_session_sign_off,
        treatment_session_start,
    )

    product = Product.objects.create(clinic=world.clinic, name="HA cocktail")
    lot = ProductLot.objects.create(product=product, lot_number="HA-2291", expiry_date="2026-12-20")
    ProductLot.objects.create(product=product, lot_number="HA-3300", expiry_date="2027-09-30")
    client = world.client(first_name="Ann", phone="+44 7700 900010")
    visits = [
        appointment_book(
            BookingRequest(
                client=client,
                service=world.mesotherapy,
                practitioner=world.dr_lee,
                start=local(world, *day, 10),
            )
        )
        for day in ((2026, 12, 1), (2026, 12, 15), (2026, 12, 29))  # the protocol's 14 days apart
    ]
    first = treatment_session_start(appointment=visits[0], by=world.dr_lee)
    treatment_session_add_mesotherapy(
        session=first,
        by=world.dr_lee,
        area=BodyArea.objects.get(code="face"),
        lot=lot,
        volume_ml=Decimal("1.5"),
        depth_mm=Decimal("2"),
        technique="papule",
    )
    treatment_session_sign_off(session=first, by=world.dr_lee)
    with time_machine.travel(local(world, 2026, 12, 15, 10), tick=False):
        practitioner.post(reverse("session-record-start", args=[visits[1].pk]))
        page = practitioner.get(record_url(visits[1])).content.decode()
    assert "Filled in as Full face was on 1 Dec 2026" in page
    assert (
        f'<option value="{lot.pk}" selected>' in page and 'name="mesotherapy-volume_ml" value="1.50"' in page
    )
    assert "can no longer be used" not in page
    with time_machine.travel(local(world, 2026, 12, 29, 10), tick=False):  # HA-2291 expired on the 20th
        practitioner.post(reverse("session-record-start", args=[visits[2].pk]))
        page = practitioner.get(record_url(visits[2])).content.decode()
    assert "Filled in as Full face was on 1 Dec 2026" in page
    assert "Last time&#x27;s lot can no longer be used: choose another." in page or (
        "Last time's lot can no longer be used: choose another." in page
    )
    lots = re.search(r'<select name="mesotherapy-lot".*?</select>', page, re.S).group(0)
    assert "HA-3300" in lots and "HA-2291" not in lots and " selected" not in lots
