"""A small clinic set up for booking tests: Lumen, London, open every day 09:00–17:00."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from clinic.models import Clinic, Device, PractitionerQualification, Room, StaffMember, WorkingHours
from tests.factories import ClientFactory, ClinicFactory, StaffMemberFactory
from treatments.booking import BookingRequest, appointment_book
from treatments.models import ContraindicationRule, Protocol, Service


@dataclass
class World:
    clinic: Clinic
    dr_lee: StaffMember  # all modalities, needles to 3.0 mm
    sam: StaffMember  # microcurrent and microneedling to 1.0 mm
    desk: StaffMember
    manager: StaffMember
    rooms: list[Room]
    pens: list[Device]
    microcurrent_unit: Device
    microneedling: Service  # 60 min, 15 before, 10 after, pen, 1.0 mm
    deep_microneedling: Service  # 75 min, pen, 2.0 mm
    microcurrent: Service  # 45 min, 0 before, 10 after, microcurrent unit
    mesotherapy: Service
    microneedling_protocol: Protocol

    def client(self, **kwargs):
        return ClientFactory(clinic=self.clinic, **kwargs)

    def keep_lee_busy(self, start: dt.datetime):
        """Book Dr Lee for mesotherapy with another client at `start` (held from 10 minutes before
        to 10 minutes after its 45)."""
        return appointment_book(
            BookingRequest(
                client=self.client(), service=self.mesotherapy, practitioner=self.dr_lee, start=start
            )
        )


def build_world(
    *, time_zone="Europe/London", hours=(dt.time(9), dt.time(17)), rooms=2, pens=2, slug=None
) -> World:
    """Build Lumen; `slug` fixes its public address (/p/<slug>/) for tests that open the public pages."""
    clinic = ClinicFactory(
        name="Lumen Skin Clinic",
        time_zone=time_zone,
        slot_step_minutes=15,
        min_booking_notice_minutes=0,
        **({"slug": slug} if slug else {}),
    )

    def practitioner(name, quals):
        member = StaffMemberFactory(clinic=clinic, role="practitioner", display_name=name)
        for modality, depth in quals.items():
            PractitionerQualification.objects.create(
                staff_member=member, modality=modality, max_depth_mm=depth
            )
        WorkingHours.objects.bulk_create(
            WorkingHours(staff_member=member, weekday=d, start_time=hours[0], end_time=hours[1])
            for d in range(7)
        )
        return member

    dr_lee = practitioner(
        "Dr Amara Lee", {"microneedling": Decimal("3.0"), "microcurrent": None, "mesotherapy": None}
    )
    sam = practitioner("Sam Rivera", {"microneedling": Decimal("1.0"), "microcurrent": None})
    room_list = [Room.objects.create(clinic=clinic, name=f"Room {i + 1}") for i in range(rooms)]
    pen_list = [
        Device.objects.create(
            clinic=clinic, name=f"Pen {chr(65 + i)}", kind="pen", max_depth_mm=Decimal("2.5")
        )
        for i in range(pens)
    ]
    unit = Device.objects.create(clinic=clinic, name="Microcurrent unit", kind="microcurrent_unit")
    mn_protocol = Protocol.objects.create(
        clinic=clinic, modality="microneedling", name="Microneedling", min_interval_days=28
    )
    mc_protocol = Protocol.objects.create(
        clinic=clinic, modality="microcurrent", name="Microcurrent", min_interval_days=2
    )
    meso_protocol = Protocol.objects.create(
        clinic=clinic, modality="mesotherapy", name="Mesotherapy", min_interval_days=14
    )
    for code, severity, within, text in [
        ("pregnancy", "absolute", None, "Pregnant"),
        ("isotretinoin", "absolute", 180, "Isotretinoin in the last 6 months"),
        ("cold-sores", "relative", None, "History of cold sores"),
    ]:
        ContraindicationRule.objects.create(
            protocol=mn_protocol, condition_code=code, severity=severity, within_days=within, explanation=text
        )
    ContraindicationRule.objects.create(
        protocol=mc_protocol, condition_code="pacemaker", severity="absolute", explanation="Pacemaker"
    )

    def service(name, protocol, minutes, before, after, kind, depth=None):
        created = Service.objects.create(
            clinic=clinic,
            name=name,
            duration_minutes=minutes,
            buffer_before_minutes=before,
            buffer_after_minutes=after,
            price=Decimal("100"),
            device_kind=kind,
            max_depth_mm=depth,
        )
        created.protocols.set([protocol])
        return created

    return World(
        clinic=clinic,
        dr_lee=dr_lee,
        sam=sam,
        desk=StaffMemberFactory(clinic=clinic, role="front_desk", display_name="Jo Carter"),
        manager=StaffMemberFactory(clinic=clinic, role="manager", display_name="Morgan Ellis"),
        rooms=room_list,
        pens=pen_list,
        microcurrent_unit=unit,
        microneedling=service("Microneedling facial", mn_protocol, 60, 15, 10, "pen", Decimal("1.0")),
        deep_microneedling=service("Acne scar microneedling", mn_protocol, 75, 15, 10, "pen", Decimal("2.0")),
        microcurrent=service("Microcurrent workout", mc_protocol, 45, 0, 10, "microcurrent_unit"),
        mesotherapy=service("Mesotherapy facial", meso_protocol, 45, 10, 10, ""),
        microneedling_protocol=mn_protocol,
    )


def begun_today(clinic, minutes=10) -> dt.datetime:
    """A start a few minutes ago that is still today in the clinic's zone (so a visit then is under way)."""
    today = timezone.localdate(timezone=clinic.zone)
    midnight = dt.datetime.combine(today, dt.time(0), tzinfo=clinic.zone)
    return max(midnight, timezone.now() - dt.timedelta(minutes=minutes))


def local(world_or_clinic, year, month, day, hour, minute=0) -> dt.datetime:
    clinic = getattr(world_or_clinic, "clinic", world_or_clinic)
    return dt.datetime(year, month, day, hour, minute, tzinfo=clinic.zone)


def days_ahead(world_or_clinic, days: int, hour: int, minute: int = 0) -> dt.datetime:
    """A local time `days` after today: for tests on the real clock, whose workers share no frozen one."""
    clinic = getattr(world_or_clinic, "clinic", world_or_clinic)
    day = timezone.localdate(timezone=clinic.zone) + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=clinic.zone)


def give_face_depth_ranges(world) -> None:
    """Set the microneedling protocol's depths: forehead 0.25–0.5 mm, cheeks 0.5–1.0 mm (DOMAIN.md)."""
    from treatments.models import BodyArea, ProtocolArea

    for code, low, high in (("forehead", "0.25", "0.5"), ("cheeks", "0.5", "1.0")):
        # a transactional test's flush empties the areas the data migration wrote: put back what is used
        area, _ = BodyArea.objects.get_or_create(code=code, defaults={"name": code.capitalize()})
        ProtocolArea.objects.create(
            protocol=world.microneedling_protocol,
            area=area,
            min_depth_mm=Decimal(low),
            max_depth_mm=Decimal(high),
        )
