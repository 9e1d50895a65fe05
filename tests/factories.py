"""factory_boy factories for the few objects tests build by hand."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from clients.models import Client, ConsentTemplate, SignedConsent
from clients.services import consent_sign
from clinic.models import Clinic, Device, OutboxMessage, Room, StaffMember, WorkingHours
from treatments.models import Appointment, Service

PASSWORD = "correct-horse-battery-staple"


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    time_zone = "Europe/London"
    email = factory.Sequence(lambda n: f"desk{n}@clinic.example")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMember
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = "front_desk"
    display_name = factory.Sequence(lambda n: f"Staff {n}")


class PractitionerFactory(StaffMemberFactory):
    role = "practitioner"

    @factory.post_generation
    def hours(obj, create, extracted, **kwargs):
        if create:
            WorkingHours.objects.bulk_create(
                WorkingHours(staff_member=obj, weekday=d, start_time=dt.time(9), end_time=dt.time(17))
                for d in range(7)
            )


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    clinic = factory.SubFactory(ClinicFactory)
    first_name = factory.Sequence(lambda n: f"Client{n}")
    last_name = "Example"
    email = factory.Sequence(lambda n: f"client{n}@example.com")
    phone = factory.Sequence(lambda n: f"+44 7700 {n:06d}")


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Room {n}")


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Pen {n}")
    kind = "pen"
    max_depth_mm = Decimal("2.5")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Service {n}")
    duration_minutes = 60
    price = Decimal("100.00")


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    clinic = factory.SubFactory(ClinicFactory)
    client = factory.SubFactory(ClientFactory, clinic=factory.SelfAttribute("..clinic"))
    practitioner = factory.SubFactory(PractitionerFactory, clinic=factory.SelfAttribute("..clinic"))
    service = factory.SubFactory(ServiceFactory, clinic=factory.SelfAttribute("..clinic"))
    start = factory.LazyFunction(lambda: dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC))
    end = factory.LazyAttribute(lambda o: o.start + dt.timedelta(hours=1))
    blocked_start = factory.LazyAttribute(
        lambda o: o.start - dt.timedelta(minutes=o.service.buffer_before_minutes)
    )
    blocked_end = factory.LazyAttribute(
        lambda o: o.end + dt.timedelta(minutes=o.service.buffer_after_minutes)
    )
    price = factory.LazyAttribute(lambda o: o.service.price)


class ConsentTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentTemplate

    clinic = factory.SubFactory(ClinicFactory)
    modality = "microneedling"
    version = 1
    title = "Microneedling consent"
    body = "Procedure, risks, alternatives, aftercare. I may withdraw at any time."
    is_current = True


def sign_consent(client, template) -> SignedConsent:
    """Return a consent the client signed for the template, through the service the signing page uses."""
    return consent_sign(
        client=client,
        template=template,
        signature_name=client.full_name,
        agreed=True,
        ip_address="198.51.100.7",
        user_agent="pytest",
    )


def due_outbox_messages(clinic, count: int, prefix: str) -> None:
    """Store `count` messages due now to client0@… clientN@…, each noting `prefix-i` in its text."""
    now = timezone.now()
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            clinic=clinic,
            recipient_email=f"client{i}@example.com",
            template_key="outbox_test",
            context={"note": f"{prefix}-{i}"},
            due_at=now,
            dedupe_key=f"{prefix}-{i}",
        )
        for i in range(count)
    )
