"""The practitioner's treatment record: started from the visit, written area by area, signed off.

Lumen (London) at SUITE_NOW, 07:00 on Tuesday 1 December 2026. Olivia's microneedling is at 10:00
today with Dr Lee (qualified to 3.0 mm); the protocol needles the forehead at 0.25–0.5 mm and the
cheeks at 0.5–1.0 mm. Sam Rivera needles to 1.0 mm at most; the pens reach 2.5 mm.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from clients.models import ClientCondition, IntakeQuestionnaire, IntakeResponse
from clinic.errors import ClinicError, NotAllowedError
from clinic.models import Device, OutboxMessage
from tests.booking_world import build_world, give_face_depth_ranges, local
from tests.factories import ConsentTemplateFactory, sign_consent
from treatments.aftercare import aftercare_install_default_plan
from treatments.booking import BookingRequest, appointment_book, appointment_cancel
from treatments.models import (
    AppointmentStatus,
    BodyArea,
    MesotherapyRecord,
    MicroneedlingRecord,
    Product,
    ProductLot,
    TreatmentSession,
)
from treatments.sessions import (
    treatment_session_add_mesotherapy,
    treatment_session_add_microcurrent,
    treatment_session_add_microneedling,
    treatment_session_remove_area,
    treatment_session_set_notes,
    treatment_session_sign_off,
    treatment_session_start,
)

pytestmark = pytest.mark.django_db


def area(code):
    return BodyArea.objects.get(code=code)


@pytest.fixture
def world(db):
    world = build_world()
    give_face_depth_ranges(world)
    protocol = world.microneedling_protocol
    protocol.allowed_device_kinds = ["pen"]
    protocol.save(update_fields=["allowed_device_kinds"])
    mc = world.microcurrent.protocols.get()
    mc.current_min_ua, mc.current_max_ua = 100, 400
    mc.frequency_min_hz, mc.frequency_max_hz = Decimal("0.5"), Decimal("10")
    mc.waveforms = ["square", "sine"]
    mc.save()
    for service in (world.microneedling, world.microcurrent, world.mesotherapy):
        aftercare_install_default_plan(service.protocols.get())
    return world


def book(world, service=None, practitioner=None, hour=10, day=(2026, 12, 1), client=None):
    return appointment_book(
        BookingRequest(
            client=client or world.client(first_name="Olivia", email="olivia@example.com"),
            service=service or world.microneedling,
            practitioner=practitioner or world.dr_lee,
            start=local(world, *day, hour),
        )
    )


@pytest.fixture
def visit(world):
    return book(world)


@pytest.fixture
def session(world, visit):
    return treatment_session_start(appointment=visit, by=world.dr_lee)


def needle(world, session, code="forehead", depth="0.5", by=None, **extra):
    return treatment_session_add_microneedling(
        session=session,
        by=by or world.dr_lee,
        area=area(code),
        depth_mm=Decimal(depth),
        passes=3,
        device=extra.pop("device", world.pens[0]),
        **extra,
    )


# --- starting ---------------------------------------------------------------------------------


def test_starting_the_record_checks_the_booked_client_in_and_is_safe_to_repeat(world, visit):
    session = treatment_session_start(appointment=visit, by=world.dr_lee)
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.ARRIVED
    assert visit.events.filter(action="status:arrived").count() == 1
    assert (session.client, session.practitioner, session.appointment) == (visit.client, world.dr_lee, visit)
    assert treatment_session_start(appointment=visit, by=world.dr_lee) == session  # a second click
    assert TreatmentSession.objects.count() == 1


def test_a_visit_ahead_cancelled_or_never_checked_in_has_no_record(world):
    ahead = book(world, day=(2026, 12, 2))
    with pytest.raises(ClinicError, match="Wednesday 2 December. The record is started when the client"):
        treatment_session_start(appointment=ahead, by=world.dr_lee)
    cancelled = book(world, hour=12)
    appointment_cancel(cancelled)
    with pytest.raises(ClinicError, match="cancelled: there is no treatment to record"):
        treatment_session_start(appointment=cancelled, by=world.dr_lee)
    assert not TreatmentSession.objects.exists()


def test_an_absolute_contraindication_in_the_latest_intake_stops_the_record(world, visit):
    questionnaire = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="Health questionnaire", is_current=True
    )
    response = IntakeResponse.objects.create(client=visit.client, answers={}, questionnaire=questionnaire)
    ClientCondition.objects.create(client=visit.client, response=response, code="pregnancy")
    with pytest.raises(ClinicError, match=r"Do not treat: Pregnant \(Microneedling\)"):
        treatment_session_start(appointment=visit, by=world.dr_lee)
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.BOOKED  # not checked in either: nothing happened


def test_an_unsigned_consent_stops_the_record_until_the_client_signs(world, visit):
    consent = ConsentTemplateFactory(clinic=world.clinic, modality="microneedling")
    with pytest.raises(ClinicError, match="Olivia must still fill or sign: Microneedling consent"):
        treatment_session_start(appointment=visit, by=world.dr_lee)
    sign_consent(visit.client, consent)
    assert treatment_session_start(appointment=visit, by=world.dr_lee).pk


def test_the_front_desk_does_not_write_records(world, visit):
    with pytest.raises(NotAllowedError, match="practitioners and managers"):
        treatment_session_start(appointment=visit, by=world.desk)


# --- microneedling ------------------------------------------------------------------------------


def test_an_area_within_the_protocol_is_recorded_as_given(world, session):
    record = needle(world, session, "cheeks", "0.75", cartridge_lot=" CART-2211 ")
    assert (record.depth_mm, record.passes, record.device, record.cartridge_lot) == (
        Decimal("0.75"),
        3,
        world.pens[0],
        "CART-2211",
    )
    assert record.outside_protocol_reason == ""


def test_deeper_than_the_protocol_needs_a_reason_which_is_kept(world, session):
    with pytest.raises(
        ClinicError, match=r"0.8 mm is outside the protocol's 0.25–0.5 mm for Forehead\. Give"
    ):
        needle(world, session, "forehead", "0.8")
    assert not MicroneedlingRecord.objects.exists()
    record = needle(world, session, "forehead", "0.8", outside_protocol_reason="Deep static lines, agreed")
    assert record.outside_protocol_reason == "Deep static lines, agreed"


def test_an_area_the_protocol_does_not_list_needs_a_reason(world, session):
    with pytest.raises(ClinicError, match="Neck is not an area of the protocol Microneedling"):
        needle(world, session, "neck", "0.5")
    assert needle(world, session, "neck", "0.5", outside_protocol_reason="Client asked").area.code == "neck"


def test_the_practitioners_qualification_and_the_devices_reach_are_hard_limits(world):
    sams = treatment_session_start(appointment=book(world, practitioner=world.sam), by=world.sam)
    with pytest.raises(ClinicError, match="Sam Rivera is qualified to needle to 1 mm, not 1.2 mm"):
        needle(world, sams, "cheeks", "1.2", by=world.sam, outside_protocol_reason="any reason")
    dr_lees = treatment_session_start(appointment=book(world, hour=12), by=world.dr_lee)
    with pytest.raises(ClinicError, match="Pen A reaches 2.5 mm, not 2.8 mm"):
        needle(world, dr_lees, "cheeks", "2.8", outside_protocol_reason="any reason")
    roller = Device.objects.create(
        clinic=world.clinic, name="Roller", kind="roller", max_depth_mm=Decimal("1")
    )
    with pytest.raises(ClinicError, match="Roller is a dermaroller, not a device for microneedling here"):
        needle(world, dr_lees, "cheeks", "0.5", device=roller)
    assert not MicroneedlingRecord.objects.exists()


def test_a_modality_the_service_does_not_include_is_refused(world, session):
    with pytest.raises(ClinicError, match="Microneedling facial does not include microcurrent"):
        treatment_session_add_microcurrent(
            session=session,
            by=world.dr_lee,
            area=area("cheeks"),
            current_ua=200,
            frequency_hz=Decimal("2"),
            waveform="square",
            minutes=10,
        )


# --- microcurrent and mesotherapy ----------------------------------------------------------------


def test_microcurrent_outside_the_protocols_current_frequency_or_waves_needs_a_reason(world):
    session = treatment_session_start(appointment=book(world, service=world.microcurrent), by=world.dr_lee)

    def work(**settings):
        values = {"current_ua": 200, "frequency_hz": Decimal("2"), "waveform": "square", "minutes": 12}
        return treatment_session_add_microcurrent(
            session=session,
            by=world.dr_lee,
            area=area("cheeks"),
            device=world.microcurrent_unit,
            **values | settings,
        )

    assert work().current_ua == 200
    with pytest.raises(ClinicError, match="600 µA is outside the protocol's 100–400 µA"):
        work(current_ua=600)
    with pytest.raises(ClinicError, match="25 Hz is outside the protocol's 0.5–10 Hz"):
        work(frequency_hz=Decimal("25"))
    with pytest.raises(ClinicError, match="The protocol uses square or sine waves, not sawtooth"):
        work(waveform="sawtooth")
    assert work(current_ua=600, outside_protocol_reason="Maker's lift programme").outside_protocol_reason


@pytest.fixture
def lots(world):
    product = Product.objects.create(clinic=world.clinic, name="HA cocktail")
    meso = world.mesotherapy.protocols.get()
    meso.products.set([product])
    meso.depth_min_mm, meso.depth_max_mm = Decimal("1"), Decimal("4")
    meso.techniques = ["papule", "nappage"]
    meso.save()
    return {
        "good": ProductLot.objects.create(
            product=product, lot_number="HA-2291", expiry_date=dt.date(2027, 6, 30)
        ),
        "expired": ProductLot.objects.create(
            product=product, lot_number="HA-1180", expiry_date=dt.date(2026, 11, 30)
        ),
        "other": ProductLot.objects.create(
            product=Product.objects.create(clinic=world.clinic, name="Vitamin blend"),
            lot_number="VB-7",
            expiry_date=dt.date(2027, 1, 31),
        ),
    }


def test_mesotherapy_keeps_product_lot_and_expiry_and_refuses_an_expired_lot(world, lots):
    session = treatment_session_start(appointment=book(world, service=world.mesotherapy), by=world.dr_lee)

    def inject(lot, **extra):
        values = {"volume_ml": Decimal("0.8"), "depth_mm": Decimal("2"), "technique": "papule"}
        return treatment_session_add_mesotherapy(
            session=session, by=world.dr_lee, area=area("face"), lot=lot, **values | extra
        )

    record = inject(lots["good"])
    assert (record.product_name, record.lot_number, record.expiry_date) == (
        "HA cocktail",
        "HA-2291",
        dt.date(2027, 6, 30),
    )
    with pytest.raises(
        ClinicError, match="HA cocktail lot HA-1180 expired on 30 November 2026: do not use it"
    ):
        inject(lots["expired"], outside_protocol_reason="any reason")
    with pytest.raises(ClinicError, match="Vitamin blend is not one of the protocol's products"):
        inject(lots["other"])
    with pytest.raises(ClinicError, match="6 mm is outside the protocol's 1–4 mm"):
        inject(lots["good"], depth_mm=Decimal("6"))
    with pytest.raises(ClinicError, match="Point by point is not one of the protocol's techniques"):
        inject(lots["good"], technique="point_by_point")
    # a recall of the lot finds the client
    assert list(
        MesotherapyRecord.objects.filter(lot_number="HA-2291").values_list("session__client", flat=True)
    ) == [session.client_id]


# --- changing, signing off ----------------------------------------------------------------------


def test_a_mistaken_area_is_taken_back_and_notes_are_kept_before_sign_off(world, session):
    record = needle(world, session, "cheeks", "0.5")
    treatment_session_remove_area(
        session=session, by=world.dr_lee, modality="microneedling", record_id=record.pk
    )
    assert not MicroneedlingRecord.objects.exists()
    with pytest.raises(ClinicError, match="no longer in the record"):
        treatment_session_remove_area(
            session=session, by=world.dr_lee, modality="microneedling", record_id=record.pk
        )
    treatment_session_set_notes(session=session, by=world.dr_lee, notes="  Mild erythema, settled.  ")
    session.refresh_from_db()
    assert session.notes == "Mild erythema, settled."


def test_signing_off_completes_the_visit_writes_aftercare_and_freezes_the_record(world, visit, session):
    needle(world, session, "cheeks", "0.75")
    with pytest.raises(NotAllowedError, match="Only Dr Amara Lee, who treated the client, or a manager"):
        treatment_session_sign_off(session=session, by=world.sam)
    treatment_session_sign_off(session=session, by=world.dr_lee)
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.FULFILLED
    assert visit.events.filter(action="status:fulfilled").count() == 1
    keys = set(
        OutboxMessage.objects.filter(dedupe_key__startswith=f"session:{session.pk}:").values_list(
            "template_key", flat=True
        )
    )
    assert "aftercare_microneedling_day0" in keys and "aftercare_microneedling_deep_day5" not in keys
    for write in (
        lambda: needle(world, session, "forehead", "0.3"),
        lambda: treatment_session_set_notes(session=session, by=world.dr_lee, notes="later"),
        lambda: treatment_session_remove_area(
            session=session, by=world.dr_lee, modality="microneedling", record_id=0
        ),
    ):
        with pytest.raises(ClinicError, match="signed off and can no longer change"):
            write()


def test_a_manager_may_sign_off_for_the_practitioner(world, session):
    needle(world, session)
    assert treatment_session_sign_off(session=session, by=world.manager).signed_off_by == world.manager


def test_the_database_refuses_any_change_to_a_signed_off_record(world, session):
    record = needle(world, session)
    treatment_session_sign_off(session=session, by=world.dr_lee)
    for change in (
        lambda: MicroneedlingRecord.objects.filter(pk=record.pk).update(depth_mm=Decimal("2")),
        lambda: MicroneedlingRecord.objects.create(
            session=session, area=area("nose"), depth_mm=Decimal("0.3"), passes=1
        ),
        lambda: TreatmentSession.objects.filter(pk=session.pk).update(notes="rewritten"),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            change()
    record.refresh_from_db()
    assert record.depth_mm == Decimal("0.5")


def test_the_database_lets_a_record_change_before_sign_off(world, session):
    record = needle(world, session)
    assert MicroneedlingRecord.objects.filter(pk=record.pk).update(depth_mm=Decimal("0.4")) == 1
    assert TreatmentSession.objects.filter(pk=session.pk).update(notes="draft") == 1


def test_a_colleague_does_not_write_another_practitioners_record(world, visit, session):
    with pytest.raises(NotAllowedError, match="Dr Amara Lee treats this client, so they write the record"):
        needle(world, session, by=world.sam)
    with pytest.raises(NotAllowedError, match="Dr Amara Lee treats this client"):
        treatment_session_set_notes(session=session, by=world.sam, notes="mine")
    other_visit = book(world, hour=13)
    with pytest.raises(NotAllowedError, match="If you treat instead, move the visit to you first"):
        treatment_session_start(appointment=other_visit, by=world.sam)
    assert needle(world, session, by=world.manager).pk  # a manager may, for the practitioner


def test_a_protocol_that_sets_no_ranges_takes_any_setting_without_a_reason(world):
    meso = world.mesotherapy.protocols.get()
    assert (meso.depth_min_mm, meso.depth_max_mm, meso.techniques) == (None, None, [])
    product = Product.objects.create(clinic=world.clinic, name="HA cocktail")
    lot = ProductLot.objects.create(product=product, lot_number="HA-1", expiry_date=dt.date(2027, 1, 1))
    session = treatment_session_start(appointment=book(world, service=world.mesotherapy), by=world.dr_lee)
    record = treatment_session_add_mesotherapy(
        session=session,
        by=world.dr_lee,
        area=area("scalp"),
        lot=lot,
        volume_ml=Decimal("2"),
        depth_mm=Decimal("6"),
        technique="point_by_point",
    )
    assert record.outside_protocol_reason == ""
    world.microcurrent.protocols.update(current_min_ua=None, current_max_ua=None, waveforms=[])
    session = treatment_session_start(
        appointment=book(world, service=world.microcurrent, hour=14), by=world.dr_lee
    )
    record = treatment_session_add_microcurrent(
        session=session,
        by=world.dr_lee,
        area=area("neck"),
        current_ua=900,
        frequency_hz=Decimal("0.5"),
        waveform="other",
        minutes=5,
    )
    assert record.outside_protocol_reason == ""


def test_what_is_learnt_after_sign_off_is_added_beside_the_final_record(world, session):
    from treatments.models import SessionAddendum
    from treatments.sessions import treatment_session_add_addendum

    needle(world, session)
    with pytest.raises(ClinicError, match="not signed off yet: write this in its notes"):
        treatment_session_add_addendum(session=session, by=world.dr_lee, text="Too early")
    treatment_session_sign_off(session=session, by=world.dr_lee)
    with pytest.raises(NotAllowedError):
        treatment_session_add_addendum(session=session, by=world.desk, text="Desk note")
    with pytest.raises(ClinicError, match="Write what the addendum says"):
        treatment_session_add_addendum(session=session, by=world.sam, text="   ")
    addendum = treatment_session_add_addendum(
        session=session, by=world.sam, text=" Client phoned day 2: redness settled. "
    )
    assert (addendum.text, addendum.written_by) == ("Client phoned day 2: redness settled.", world.sam)
    with pytest.raises(IntegrityError), transaction.atomic():
        SessionAddendum.objects.filter(pk=addendum.pk).update(text="rewritten")
    addendum.refresh_from_db()
    assert addendum.text == "Client phoned day 2: redness settled."


def test_a_signed_off_record_follows_a_merge_of_its_clients_records_and_nothing_else(world, session):
    from clients.merging import client_merge
    from clients.models import ClientMerge

    needle(world, session)
    treatment_session_sign_off(session=session, by=world.dr_lee)
    kept = world.client(first_name="Olivia", last_name="Example", email="olivia.new@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():  # no merge says the records are one
        TreatmentSession.objects.filter(pk=session.pk).update(client=kept)

    client_merge(kept=kept, merged=session.client, by=world.manager)
    session.refresh_from_db()
    assert session.client_id == kept.pk and session.signed_off_at is not None

    later = world.client(first_name="Liv", email="liv@example.com")
    ClientMerge.objects.create(
        clinic=world.clinic, kept=later, merged_client_id=kept.pk, merged_name="x", merged_details={}
    )
    with pytest.raises(IntegrityError), transaction.atomic():  # a merge moves it, and changes nothing else
        TreatmentSession.objects.filter(pk=session.pk).update(client=later, notes="rewritten")
    assert TreatmentSession.objects.filter(pk=session.pk).update(client=later) == 1
