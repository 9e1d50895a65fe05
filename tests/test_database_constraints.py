"""The database itself refuses what must never be true, whatever code path writes it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from clients.models import SignedConsent
from clinic.models import OutboxMessage
from clinic.outbox import outbox_enqueue
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ConsentTemplateFactory,
    DeviceFactory,
    PractitionerFactory,
    sign_consent,
)
from treatments.models import Appointment, BodyArea, MicroneedlingRecord, TreatmentSession

pytestmark = pytest.mark.django_db


def test_it_refuses_an_appointment_that_ends_before_it_starts(lumen):
    start = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(clinic=lumen, start=start, end=start - dt.timedelta(minutes=30))


def test_it_refuses_an_appointment_that_ends_when_it_starts(lumen):
    start = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(clinic=lumen, start=start, end=start)


def test_it_refuses_moving_an_appointment_end_before_its_start_with_a_bulk_update(lumen):
    appointment = AppointmentFactory(clinic=lumen)
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk).update(end=appointment.start - dt.timedelta(hours=1))


@pytest.fixture
def session(lumen):
    practitioner = PractitionerFactory(clinic=lumen)
    return TreatmentSession.objects.create(
        clinic=lumen, client=ClientFactory(clinic=lumen), practitioner=practitioner
    )


@pytest.mark.parametrize("depth", ["-0.5", "0", "3.01", "5"])
def test_it_refuses_a_needle_depth_outside_0_to_3_mm(session, lumen, depth):
    with pytest.raises(IntegrityError), transaction.atomic():
        MicroneedlingRecord.objects.create(
            session=session,
            area=BodyArea.objects.get(code="cheeks"),
            device=DeviceFactory(clinic=lumen),
            depth_mm=Decimal(depth),
            passes=2,
        )


@pytest.mark.parametrize("depth", ["0.25", "1.5", "3.0"])
def test_it_accepts_a_needle_depth_within_0_to_3_mm(session, depth):
    record = MicroneedlingRecord.objects.create(
        session=session, area=BodyArea.objects.get(code="cheeks"), depth_mm=Decimal(depth), passes=2
    )
    assert record.pk is not None


def test_it_refuses_a_device_deeper_than_3_mm(lumen):
    with pytest.raises(IntegrityError), transaction.atomic():
        DeviceFactory(clinic=lumen, max_depth_mm=Decimal("5.0"))


@pytest.fixture
def signed_consent(lumen):
    template = ConsentTemplateFactory(clinic=lumen)
    return sign_consent(ClientFactory(clinic=lumen), template)


def test_it_refuses_to_change_a_signed_consent_through_save(signed_consent):
    signed_consent.signed_text = "Something the client never saw."
    with pytest.raises(DatabaseError, match="signed consent can never be changed"), transaction.atomic():
        signed_consent.save()
    assert SignedConsent.objects.get(pk=signed_consent.pk).signed_text != "Something the client never saw."


def test_it_refuses_to_change_a_signed_consent_through_a_bulk_update(signed_consent):
    with pytest.raises(DatabaseError, match="signed consent can never be changed"), transaction.atomic():
        SignedConsent.objects.filter(pk=signed_consent.pk).update(signature_name="Someone else")
    assert SignedConsent.objects.get(pk=signed_consent.pk).signature_name == signed_consent.signature_name


def test_it_refuses_a_consent_stored_without_a_signature(lumen):
    template = ConsentTemplateFactory(clinic=lumen)
    with pytest.raises(IntegrityError), transaction.atomic():
        SignedConsent.objects.create(
            client=ClientFactory(clinic=lumen),
            template=template,
            modality=template.modality,
            version=1,
            signed_text=template.body,
            signed_text_sha256="0" * 64,
            signature_name="",
        )


def test_it_refuses_two_current_consent_versions_for_one_modality(lumen):
    ConsentTemplateFactory(clinic=lumen, version=1, is_current=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentTemplateFactory(clinic=lumen, version=2, is_current=True)


def test_it_refuses_a_duplicate_dedupe_key(lumen):
    OutboxMessage.objects.create(
        clinic=lumen,
        recipient_email="a@example.com",
        template_key="outbox_test",
        due_at=timezone.now(),
        dedupe_key="appointment:1:confirmation",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboxMessage.objects.create(
            clinic=lumen,
            recipient_email="a@example.com",
            template_key="outbox_test",
            due_at=timezone.now(),
            dedupe_key="appointment:1:confirmation",
        )


def test_enqueueing_the_same_dedupe_key_twice_keeps_one_message(lumen):
    first = outbox_enqueue(
        clinic=lumen, recipient_email="a@example.com", template_key="outbox_test", dedupe_key="k1"
    )
    second = outbox_enqueue(
        clinic=lumen, recipient_email="a@example.com", template_key="outbox_test", dedupe_key="k1"
    )
    assert first.pk == second.pk
    assert OutboxMessage.objects.filter(dedupe_key="k1").count() == 1


def test_it_refuses_a_microcurrent_of_1_ma_or_more(session):
    from treatments.models import MicrocurrentRecord

    with pytest.raises(IntegrityError), transaction.atomic():
        MicrocurrentRecord.objects.create(
            session=session,
            area=BodyArea.objects.get(code="cheeks"),
            current_ua=1000,
            frequency_hz=Decimal("1"),
            waveform="square",
            minutes=10,
        )
