"""Create (once) a realistic demo clinic, a second clinic to show scoping, and print the logins."""

import datetime as dt
import random
import smtplib
import uuid
from collections import Counter
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from clients.models import (
    Client,
    ClientCondition,
    ConsentCountersignature,
    ConsentEndedBecause,
    ConsentTemplate,
    ConsentWithdrawal,
    CountersignatureRole,
    GuardianRole,
    IntakeQuestionnaire,
    IntakeResponse,
    PhotoConsent,
    SignedConsent,
    WithdrawalChannel,
    countersignature_statement,
    fitzpatrick_type_of,
    sha256_hex,
)
from clients.selectors import forms_needed_for_visits
from clinic.errors import ClinicError
from clinic.models import (
    Clinic,
    Device,
    ExtraHours,
    Modality,
    OutboxMessage,
    OutboxStatus,
    PractitionerQualification,
    Room,
    StaffMember,
    StaffRole,
    TimeOff,
    WorkingHours,
)
from clinic.out_of_service import out_of_service_record
from clinic.outbox import failure_reason, sender_domain, stable_message_id
from clinic.staff import manager_group
from clinic.time_off import clinic_closure_record
from treatments import demo_data as data
from treatments.aftercare import aftercare_install_default_plan, aftercare_schedule
from treatments.booking import relative_accepted_note
from treatments.contraindications import absolute, contraindication_findings, relative
from treatments.eligibility import is_qualified
from treatments.models import (
    INACTIVE_STATUSES,
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    BodyArea,
    ContraindicationRule,
    Course,
    EarlierSession,
    EarlierSessionSource,
    GiftVoucher,
    MesotherapyRecord,
    MicrocurrentRecord,
    MicroneedlingRecord,
    Payment,
    PaymentMethod,
    Product,
    ProductLot,
    Protocol,
    ProtocolArea,
    Service,
    SessionPhoto,
    TreatmentSession,
    VisitFeedback,
    WaitlistEnded,
    WaitlistEntry,
)
from treatments.notifications import notify_booked, notify_cancelled, notify_course_booked
from treatments.waitlist import waitlist_add

DAYS_AROUND_TODAY = 7
CLIENT_COUNT = 40
# How many clients who consented to photos get a demo photo at each of their visits.
DEMO_PHOTOGRAPHED = 6


CANCELLED_BY_PHONE = "Client phoned to cancel"
# Why the practitioner went ahead despite a relative contraindication, as booking asks them to record.
RELATIVE_REASON = "Talked it through with the client: nothing active today; they will call if that changes."


class Command(BaseCommand):
    help = "Create the demo clinics once (idempotent) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--quiet-if-present", action="store_true", help="Print only the logins if seeded."
        )

    def handle(self, *args, **options):
        rng = random.Random(2026)  # the same demo on every machine
        with transaction.atomic():
            group = self._manager_group()
            clinic, created = self._clinic(data.CLINIC, data.STAFF, group)
            other, other_created = self._clinic(data.OTHER_CLINIC, data.OTHER_STAFF, group)
            if created:
                self._configure(clinic)
                self._clients_and_history(clinic, rng, CLIENT_COUNT, with_forms=True)
                self._afternoon_off(clinic)
                self._saturday_covered(clinic)
                self._closed_for_christmas(clinic)
                self._device_away_for_servicing(clinic)
                self._records_past_keeping(clinic)
                self._a_new_rota(clinic)
                self._a_session_had_elsewhere(clinic)
            if other_created:
                self._other_clinic_config(other)
                self._clients_and_history(other, rng, 6, with_forms=False)
        if created or not options["quiet_if_present"]:
            self.stdout.write(self.style.SUCCESS(f"Demo clinic: {clinic.name} ({clinic.time_zone})"))
        self._print_logins()

    @staticmethod
    def _a_session_had_elsewhere(clinic: Clinic) -> None:
        """A client who told the desk they had microneedling at another clinic ten days ago: their page
        lists it under "Had before", and booking them microneedling before its interval has passed is
        refused, saying so."""
        service = (
            Service.objects.filter(clinic=clinic, is_active=True, protocols__modality=Modality.MICRONEEDLING)
            .exclude(protocols__min_interval_days=0)
            .order_by("name")
            .first()
        )
        if service is None:
            return
        gap = dt.timedelta(days=max(p.min_interval_days for p in service.protocols.all()))
        had_on = timezone.localdate(timezone=clinic.zone) - dt.timedelta(days=10)
        near = Appointment.objects.filter(
            service__protocols__in=service.protocols.all(),
            start__date__gt=had_on - gap,
            start__date__lt=had_on + gap,
        ).exclude(status__in=INACTIVE_STATUSES)
        client = (
            Client.objects.filter(clinic=clinic, erased_at=None)
            .exclude(pk__in=near.values("client_id"))
            .order_by("id")
            .first()
        )
        if client is None:
            return
        EarlierSession.objects.create(
            clinic=clinic,
            client=client,
            service=service,
            given_on=had_on,
            given_by="Glow Skin Studio, Leeds",
            notes="0.5 mm, forehead and cheeks; skin settled in three days",
            source=EarlierSessionSource.ELSEWHERE,
            recorded_by=StaffMember.objects.filter(clinic=clinic, role=StaffRole.FRONT_DESK).first(),
        )

    @staticmethod
    def _a_new_rota(clinic: Clinic) -> None:
        """Nurse Priya Shah's new rota, entered ahead: from the first Monday two weeks or more away, four
        longer days (Monday to Thursday 08:30–18:00) instead of five. The calendar, the online booking
        page and the finder offer her new hours from that day, her usual ones until then."""
        today = timezone.localdate(timezone=clinic.zone)
        monday = today + dt.timedelta(days=14 + (7 - today.weekday()) % 7)
        nurse = StaffMember.objects.get(clinic=clinic, user__username="nurse")
        WorkingHours.objects.bulk_create(
            WorkingHours(
                staff_member=nurse,
                weekday=day,
                start_time=dt.time(8, 30),
                end_time=dt.time(18),
                applies_from=monday,
            )
            for day in range(4)
        )

    @staticmethod
    def _records_past_keeping(clinic: Clinic) -> None:
        """Two callers who enquired and never came, longer ago than the clinic keeps a record: the
        manager's `/manage/keeping/` lists them to review and erase."""
        now = timezone.now()
        years = clinic.health_records_kept_years
        Client.objects.bulk_create(
            [
                Client(
                    clinic=clinic,
                    first_name="Harriet",
                    last_name="Cole",
                    email="harriet.cole@example.com",
                    phone="+44 7700 955001",
                    notes="Phoned about microneedling for acne scars; to call back after her holiday.",
                    created_at=now - dt.timedelta(days=(years + 1) * 365 + 40),
                ),
                Client(
                    clinic=clinic,
                    first_name="George",
                    last_name="Patel",
                    email="george.patel@example.com",
                    created_at=now - dt.timedelta(days=years * 365 + 190),
                ),
            ]
        )

    @staticmethod
    def _saturday_covered(clinic: Clinic) -> None:
        """The next Saturday (from tomorrow), the first practitioner who does not work Saturdays covers
        10:00–14:00: extra hours, bookable on the calendar and the public page."""
        zone = clinic.zone
        tomorrow = timezone.localdate(timezone=zone) + dt.timedelta(days=1)
        saturday = tomorrow + dt.timedelta(days=(5 - tomorrow.weekday()) % 7)
        covering = (
            StaffMember.objects.filter(clinic=clinic, role=StaffRole.PRACTITIONER, is_active=True)
            .exclude(working_hours__weekday=5)
            .order_by("id")
            .first()
        )
        if covering is not None:
            ExtraHours.objects.create(
                staff_member=covering,
                start=dt.datetime.combine(saturday, dt.time(10), tzinfo=zone),
                end=dt.datetime.combine(saturday, dt.time(14), tzinfo=zone),
                reason="Covering Saturday",
            )

    @staticmethod
    def _device_away_for_servicing(clinic: Clinic) -> None:
        """The device with the most visits on a morning of the coming days (two to seven days ahead) is
        away for servicing that morning, entered after those visits were booked: they are flagged to
        take another device of the kind at their time."""
        zone = clinic.zone
        today = timezone.localdate(timezone=zone)
        busiest = None  # (visits, day, device)
        for ahead in range(2, 8):
            day = today + dt.timedelta(days=ahead)
            start = dt.datetime.combine(day, dt.time(9), tzinfo=zone)
            end = dt.datetime.combine(day, dt.time(13), tzinfo=zone)
            counts = (
                Appointment.objects.filter(
                    clinic=clinic, device__isnull=False, blocked_start__lt=end, blocked_end__gt=start
                )
                .exclude(status__in=INACTIVE_STATUSES)
                .values("device")
                .annotate(visits=Count("id"))
                .order_by("-visits", "device")
            )
            top = counts.first()
            if top and (busiest is None or top["visits"] > busiest[0]):
                busiest = (top["visits"], day, top["device"])
        if busiest is None:
            return
        _, day, device_id = busiest
        out_of_service_record(
            clinic=clinic,
            device=Device.objects.get(pk=device_id),
            start=dt.datetime.combine(day, dt.time(9), tzinfo=zone),
            end=dt.datetime.combine(day, dt.time(13), tzinfo=zone),
            reason="Servicing",
        )

    @staticmethod
    def _closed_for_christmas(clinic: Clinic) -> None:
        """The clinic is closed on the next Christmas Day and Boxing Day: everyone off."""
        zone = clinic.zone
        today = timezone.localdate(timezone=zone)
        christmas = dt.date(today.year, 12, 25)
        if christmas + dt.timedelta(days=2) <= today:
            christmas = dt.date(today.year + 1, 12, 25)
        clinic_closure_record(
            clinic=clinic,
            start=dt.datetime.combine(christmas, dt.time(0), tzinfo=zone),
            end=dt.datetime.combine(christmas + dt.timedelta(days=2), dt.time(0), tzinfo=zone),
            reason="Christmas and Boxing Day",
        )

    def _afternoon_off(self, clinic: Clinic) -> None:
        """Give the practitioner busiest on an afternoon soon that afternoon off, entered after their
        visits were booked (a training course), so the demo shows visits flagged to be moved.

        The afternoon is the first from the day after tomorrow that has visits booked: the day after
        tomorrow itself is a Sunday when the demo is made on a Friday, and nobody works on Sundays.
        """
        zone = clinic.zone
        after_tomorrow = timezone.localdate(timezone=zone) + dt.timedelta(days=2)
        for day in (after_tomorrow + dt.timedelta(days=n) for n in range(7)):
            one_pm = dt.datetime.combine(day, dt.time(13), tzinfo=zone)
            evening = dt.datetime.combine(day, dt.time(23), tzinfo=zone)
            afternoon = Appointment.objects.filter(
                clinic=clinic, status=AppointmentStatus.BOOKED, start__gte=one_pm, start__lt=evening
            )
            busiest = (
                afternoon.values("practitioner").annotate(visits=Count("id")).order_by("-visits").first()
            )
            if busiest is None:
                continue
            hours = WorkingHours.objects.filter(
                staff_member_id=busiest["practitioner"], weekday=day.weekday()
            )
            closing = max((h.end_time for h in hours), default=dt.time(19))
            TimeOff.objects.create(
                staff_member_id=busiest["practitioner"],
                start=one_pm,
                end=dt.datetime.combine(day, closing, tzinfo=zone),  # the rest of their working day
                reason="Training course",
            )
            return

    # --- users and clinics -------------------------------------------------------------------
    def _manager_group(self) -> Group:
        return manager_group()

    def _clinic(self, fields, staff, group) -> tuple[Clinic, bool]:
        clinic, created = Clinic.objects.get_or_create(slug=fields["slug"], defaults=fields)
        user_model = get_user_model()
        for username, display, role, quals, days, hours in staff:
            user, user_created = user_model.objects.get_or_create(
                username=username, defaults={"first_name": display.split()[-2] if " " in display else display}
            )
            if user_created:
                user.set_password(data.DEMO_PASSWORD)
                user.is_staff = role == "manager"
                user.email = f"{username}@{fields['slug']}.example"
                user.save()
                if role == "manager":
                    user.groups.add(group)
            member, _ = StaffMember.objects.get_or_create(
                user=user, defaults={"clinic": clinic, "role": role, "display_name": display}
            )
            for modality, depth in quals.items():
                PractitionerQualification.objects.get_or_create(
                    staff_member=member, modality=modality, defaults={"max_depth_mm": depth}
                )
            if hours and not member.working_hours.exists():
                start, end = (dt.time.fromisoformat(t) for t in hours)
                WorkingHours.objects.bulk_create(
                    WorkingHours(staff_member=member, weekday=day, start_time=start, end_time=end)
                    for day in days
                )
        return clinic, created

    def _configure(self, clinic: Clinic) -> None:
        for name in data.ROOMS:
            Room.objects.get_or_create(clinic=clinic, name=name)
        for name, kind, depth in data.DEVICES:
            Device.objects.get_or_create(
                clinic=clinic, name=name, defaults={"kind": kind, "max_depth_mm": depth}
            )
        products = {}
        today = timezone.localdate(timezone=clinic.zone)
        for name, maker, reorder_below, lots in data.PRODUCTS:
            product, _ = Product.objects.get_or_create(
                clinic=clinic, name=name, defaults={"manufacturer": maker, "reorder_below_ml": reorder_below}
            )
            products[name] = product
            for lot, expiry, received in lots:
                ProductLot.objects.get_or_create(
                    product=product,
                    lot_number=lot,
                    defaults={
                        "expiry_date": today + dt.timedelta(days=expiry)
                        if isinstance(expiry, int)
                        else dt.date.fromisoformat(expiry),
                        "received_ml": received,
                    },
                )
        areas = {a.code: a for a in BodyArea.objects.all()}
        protocols = {}
        for spec in data.PROTOCOLS:
            fields = {
                k: v for k, v in spec.items() if k not in {"name", "areas", "contraindications", "products"}
            }
            protocol, _ = Protocol.objects.get_or_create(clinic=clinic, name=spec["name"], defaults=fields)
            protocols[spec["name"]] = protocol
            for code, low, high in spec["areas"]:
                ProtocolArea.objects.get_or_create(
                    protocol=protocol, area=areas[code], defaults={"min_depth_mm": low, "max_depth_mm": high}
                )
            for code, severity, within, text in spec["contraindications"]:
                ContraindicationRule.objects.get_or_create(
                    protocol=protocol,
                    condition_code=code,
                    defaults={"severity": severity, "within_days": within, "explanation": text},
                )
            protocol.products.set([products[name] for name in spec.get("products", [])])
            aftercare_install_default_plan(protocol)
        for name, protocol_names, minutes, before, after, price, kind, depth, online, text in data.SERVICES:
            service, _ = Service.objects.get_or_create(
                clinic=clinic,
                name=name,
                defaults={
                    "duration_minutes": minutes,
                    "buffer_before_minutes": before,
                    "buffer_after_minutes": after,
                    "price": price,
                    "device_kind": kind,
                    "second_device_kind": data.SECOND_DEVICE_KINDS.get(name, ""),
                    "max_depth_mm": depth,
                    "bookable_online": online,
                    "description": text,
                },
            )
            service.protocols.set([protocols[p] for p in protocol_names])
        self._forms(clinic)

    def _forms(self, clinic: Clinic) -> None:
        questions = [
            {"section": section, "code": code, "text": text, "kind": kind, "condition": condition}
            | ({"choices": data.INTAKE_CHOICES[code]} if code in data.INTAKE_CHOICES else {})
            for section, asked in data.INTAKE_SECTIONS
            for code, text, kind, condition in asked
        ]
        first_questions = [
            {key: value for key, value in q.items() if key != "section"}
            for q in questions
            if q["code"] not in data.INTAKE_V1_LEFT_OUT
        ]
        IntakeQuestionnaire.objects.get_or_create(
            clinic=clinic,
            version=1,
            defaults={
                "title": "Health questionnaire",
                "questions": first_questions,
                "published_at": timezone.now() - dt.timedelta(days=600),
            },
        )
        IntakeQuestionnaire.objects.get_or_create(
            clinic=clinic,
            version=2,
            defaults={"title": "Health questionnaire", "questions": questions, "is_current": True},
        )
        for modality, (title, body) in data.CONSENT_TEXT.items():
            if modality == "microneedling":
                ConsentTemplate.objects.get_or_create(
                    clinic=clinic,
                    modality=modality,
                    version=1,
                    defaults={
                        "title": title,
                        "body": body.split("\nAftercare")[0],
                        "published_at": timezone.now() - dt.timedelta(days=500),
                    },
                )
            ConsentTemplate.objects.get_or_create(
                clinic=clinic,
                modality=modality,
                version=2 if modality == "microneedling" else 1,
                defaults={"title": title, "body": body, "is_current": True},
            )

    def _other_clinic_config(self, clinic: Clinic) -> None:
        Room.objects.get_or_create(clinic=clinic, name="Suite A")
        Device.objects.get_or_create(
            clinic=clinic, name="Toning unit", defaults={"kind": "microcurrent_unit"}
        )
        protocol, _ = Protocol.objects.get_or_create(
            clinic=clinic,
            name="Microcurrent lift",
            defaults={
                "modality": "microcurrent",
                "min_interval_days": 2,
                "current_min_ua": 100,
                "current_max_ua": 400,
            },
        )
        aftercare_install_default_plan(protocol)
        service, _ = Service.objects.get_or_create(
            clinic=clinic,
            name="Microcurrent lift",
            defaults={
                "duration_minutes": 45,
                "buffer_after_minutes": 15,
                "price": 110,
                "device_kind": "microcurrent_unit",
            },
        )
        service.protocols.set([protocol])

    # --- clients, forms and appointments -------------------------------------------------------
    def _clients_and_history(
        self, clinic: Clinic, rng: random.Random, count: int, *, with_forms: bool
    ) -> None:
        now = timezone.now()
        clients = []
        offset = 0 if with_forms else 17
        for i in range(count):
            first = data.FIRST_NAMES[(i + offset) % len(data.FIRST_NAMES)]
            last = data.LAST_NAMES[(i * 7 + offset) % len(data.LAST_NAMES)]
            clients.append(
                Client.objects.create(
                    clinic=clinic,
                    first_name=first,
                    last_name=last,
                    email=f"{first}.{last}{i}@example.com".lower(),
                    phone=f"+44 7700 9{i:05d}" if with_forms else f"+1 212 555 {1000 + i}",
                    date_of_birth=dt.date(
                        1960 + rng.randrange(45), rng.randrange(1, 13), rng.randrange(1, 29)
                    )
                    if not (with_forms and i == data.MINOR_CLIENT)
                    else now.date() - dt.timedelta(days=16 * 365 + 150),  # 16, for acne scars
                    emergency_contact_name=f"{rng.choice(data.FIRST_NAMES)} {last}",
                    emergency_contact_phone=f"+44 7700 8{i:05d}",
                    accepts_aftercare_email=i % 9 != 0,
                    accepts_marketing_email=i % 3 == 0,  # a third said yes to the clinic's news
                    created_at=now - dt.timedelta(days=rng.randrange(20, 900)),
                )
            )
        if with_forms:
            self._intake_and_consent(clinic, clients, rng)
        self._appointments(clinic, clients, rng)
        if with_forms:
            self._a_client_twice(clinic)
            self._notes_on_visits(clinic)
            self._feedback(clinic)
            self._course_in_progress(clinic, clients)
            self._treatment_records(clinic)
            self._consents_countersigned(clinic)
            self._a_consent_withdrawn(clinic)
            self._a_plan_changed(clinic)
            self._waitlist(clinic, clients)
        self._payments(clinic)
        self._messages(clinic)

    def _intake_and_consent(self, clinic: Clinic, clients: list[Client], rng: random.Random) -> None:
        now = timezone.now()
        old_form, current_form = IntakeQuestionnaire.objects.filter(clinic=clinic).order_by("version")
        templates = list(ConsentTemplate.objects.filter(clinic=clinic))
        flagged = [
            ("cold-sores", None),
            ("isotretinoin", 120),
            ("pregnancy", None),
            ("botox", 20),
            ("diabetes", None),
            ("retinoids", 6),
            ("smoking", None),
        ]
        # As at a clinic with regulars: most have current forms; a new client has none yet, a lapsed
        # one's are 14 months old (an old version), and now and then a consent is still to sign.
        for i, client in enumerate(clients):
            state = i % 8  # 0: nothing yet, 2: stale, 3 and 6: current with flags, others: current
            if state == 0:
                continue
            stale = state == 2
            # before the earliest demo visit: nobody was treated before they filled and signed
            submitted = now - dt.timedelta(days=430 if stale else rng.randrange(DAYS_AROUND_TODAY + 1, 200))
            form = old_form if stale else current_form
            # as a client fills it: no to every health question, no dates, their skin type and goal
            answers = {q["code"]: "no" if q["kind"] == "yes_no" else "" for q in form.questions}
            skin = rng.choice(data.FITZPATRICK_CHOICES)
            answers |= {
                "fitzpatrick": skin,
                "glogau": rng.choice(data.GLOGAU_CHOICES[:3]),
                "sun-exposure": rng.choice(data.SUN_EXPOSURE_CHOICES),
                "concerns": data.INTAKE_CONCERNS[i % len(data.INTAKE_CONCERNS)],
                "goals": data.INTAKE_GOALS[i % len(data.INTAKE_GOALS)],
            }
            asked = {q["code"] for q in form.questions}
            answers = {code: answer for code, answer in answers.items() if code in asked}
            response = IntakeResponse.objects.create(
                client=client,
                questionnaire=form,
                answers=answers,
                submitted_at=submitted,
                fitzpatrick_type=fitzpatrick_type_of(skin),
                # a client under 18's parent answered for them
                answered_by=GuardianRole.PARENT if client.is_minor_on(submitted.date()) else "",
                user_agent="seed_demo",
            )
            if state in (3, 6):
                code, days_ago = flagged[(i // 4) % len(flagged)]
                if code == "pregnancy" and client.first_name in data.MALE_FIRST_NAMES:
                    code, days_ago = "cold-sores", None
                ClientCondition.objects.create(
                    response=response,
                    client=client,
                    code=code,
                    noted_on=(now - dt.timedelta(days=days_ago)).date() if days_ago else None,
                )
                response.answers[code] = (
                    "yes" if days_ago is None else str(now.date() - dt.timedelta(days=days_ago))
                )
                IntakeResponse.objects.filter(pk=response.pk).update(answers=response.answers)
            for template in templates:
                if (template.is_current and i % 9 != 4) or (not template.is_current and i % 5 == 0):
                    minor = client.is_minor_on(submitted.date())  # their parent signs for them
                    SignedConsent.objects.create(
                        client=client,
                        template=template,
                        modality=template.modality,
                        version=template.version,
                        signed_text=template.body,
                        signed_text_sha256=sha256_hex(template.body),
                        signature_name=client.emergency_contact_name if minor else client.full_name,
                        signed_as=GuardianRole.PARENT if minor else "",
                        signed_at=submitted + dt.timedelta(minutes=5),
                        ip_address="203.0.113.10",
                        user_agent="seed_demo",
                    )
            if i % 2:
                PhotoConsent.objects.create(
                    client=client,
                    scope="clinical",
                    signed_text="Photos for my clinical record only.",
                    signature_name=client.full_name,
                    granted_at=submitted,
                )

    def _appointments(self, clinic: Clinic, clients: list[Client], rng: random.Random) -> None:
        """Fill each practitioner's working days around today, never overlapping a person, room or device."""
        zone = clinic.zone
        now = timezone.now()
        today = timezone.localdate(timezone=zone)
        practitioners = list(
            StaffMember.objects.filter(clinic=clinic, role="practitioner").prefetch_related(
                "qualifications", "working_hours"
            )
        )
        services = list(Service.objects.filter(clinic=clinic).prefetch_related("protocols"))
        rooms = list(Room.objects.filter(clinic=clinic))
        devices = list(Device.objects.filter(clinic=clinic))
        busy: dict[object, list[tuple[dt.datetime, dt.datetime]]] = {}

        def free(resource, start, end):
            return all(end <= s or start >= e for s, e in busy.get(resource, []))

        # A booking would refuse a client a service their intake rules out: the demo books none such.
        flagged = set(ClientCondition.objects.filter(client__in=clients).values_list("client_id", flat=True))
        flagged |= {c.pk for c in clients if c.is_minor_on(today)}  # under 18: rules read the date of birth
        ruled_out = {
            (client.pk, service.pk)
            for client in clients
            if client.pk in flagged
            for service in services
            if absolute(contraindication_findings(client=client, service=service, on=today))
        }
        # Nobody was treated without their forms: visits gone by are of clients whose forms are in order.
        in_order = _forms_in_order(clinic, clients, services, now)
        # Nor sooner after (or before) another session of a protocol than it allows, as booking refuses.
        gaps = {
            service.pk: [(p.pk, dt.timedelta(days=p.min_interval_days)) for p in service.protocols.all()]
            for service in services
        }
        sessions: dict[tuple[int, int], list[dt.datetime]] = {}

        def too_soon(client, service, start):
            return any(
                abs(start - other) < gap
                for protocol_id, gap in gaps[service.pk]
                for other in sessions.get((client.pk, protocol_id), [])
            )

        created: list[Appointment] = []
        for day_offset in range(-DAYS_AROUND_TODAY, DAYS_AROUND_TODAY + 1):
            day = today + dt.timedelta(days=day_offset)
            seen_that_day: set[int] = set()  # one visit a client a day, as clients come
            for practitioner in practitioners:
                hours = [h for h in practitioner.working_hours.all() if h.weekday == day.weekday()]
                options = [s for s in services if is_qualified(practitioner, s)]
                if not hours or not options:
                    continue
                cursor = dt.datetime.combine(day, hours[0].start_time, tzinfo=zone)
                closing = dt.datetime.combine(day, hours[0].end_time, tzinfo=zone)
                while True:
                    service = rng.choice(options)
                    cursor += dt.timedelta(minutes=rng.choice([0, 0, 15, 30, 45, 60]))
                    start = cursor + dt.timedelta(minutes=service.buffer_before_minutes)
                    end = start + dt.timedelta(minutes=service.duration_minutes)
                    block = (cursor, end + dt.timedelta(minutes=service.buffer_after_minutes))
                    if block[1] > closing:
                        break
                    room = next((r for r in rooms if free(r, *block)), None)
                    held_devices = [
                        next((d for d in devices if d.kind == kind and free(d, *block)), None)
                        for kind in service.device_kinds
                    ]
                    # a client is one person (never in two visits at once), and comes once a day
                    free_clients = [
                        c
                        for c in clients
                        if c.pk not in seen_that_day
                        and (c.pk, service.pk) not in ruled_out
                        and (start >= now or (c.pk, service.pk) in in_order)
                        and not too_soon(c, service, start)
                    ]
                    if room is None or None in held_devices or not free_clients:
                        cursor += dt.timedelta(minutes=15)
                        continue
                    # most clients booked ahead have filled their forms already; some still have to
                    # (when no regular is free for it, the time mostly stays free, as in a real week)
                    regulars = [c for c in free_clients if (c.pk, service.pk) in in_order]
                    if not regulars and rng.random() < 0.85:
                        cursor += dt.timedelta(minutes=15)
                        continue
                    client = rng.choice(regulars if regulars and rng.random() < 0.9 else free_clients)
                    seen_that_day.add(client.pk)
                    for protocol_id, _gap in gaps[service.pk]:
                        sessions.setdefault((client.pk, protocol_id), []).append(start)
                    for resource in (practitioner, room, *held_devices):
                        busy.setdefault(resource, []).append(block)
                    device, second_device = (*held_devices, None, None)[:2]
                    created.append(
                        Appointment(
                            clinic=clinic,
                            client=client,
                            practitioner=practitioner,
                            service=service,
                            room=room,
                            device=device,
                            second_device=second_device,
                            start=start.astimezone(dt.UTC),
                            end=end.astimezone(dt.UTC),
                            blocked_start=block[0].astimezone(dt.UTC),
                            blocked_end=block[1].astimezone(dt.UTC),
                            status=(status := self._status_for(start, end, now, rng)),
                            cancellation_reason=CANCELLED_BY_PHONE
                            if status == AppointmentStatus.CANCELLED
                            else "",
                            created_at=min(now, start)
                            - dt.timedelta(days=rng.randrange(1, 30)),  # booked before it
                            price=service.price,
                        )
                    )
                    cursor = block[1]
        Appointment.objects.bulk_create(created)
        desk = StaffMember.objects.filter(clinic=clinic, role="front_desk").select_related("user").first()
        visits = Appointment.objects.filter(clinic=clinic).select_related("client", "service")
        AppointmentEvent.objects.bulk_create(
            event
            for a in visits.prefetch_related("service__protocols")
            for event in self._history_of(a, desk.user if desk else None, zone)
        )

    @staticmethod
    def _a_client_twice(clinic: Clinic) -> None:
        """A client who booked their next visit online under another email, their phone written the
        national way, and no date of birth: a second record. Its visit shows their forms missing (they
        are on the first record); both pages say the two may be one client, for a manager to merge."""
        now = timezone.now()
        visit = (
            Appointment.objects.filter(
                clinic=clinic,
                status=AppointmentStatus.BOOKED,
                course=None,
                start__gt=now + dt.timedelta(days=1),
                start__lt=now + dt.timedelta(days=4),
                client__date_of_birth__lt=now.date() - dt.timedelta(days=18 * 366),
                service__protocols__isnull=False,  # a treatment, which needs forms
            )
            .select_related("client")
            .order_by("start", "id")
            .first()
        )
        if visit is None:
            return
        first = visit.client
        digits = "".join(ch for ch in first.phone if ch.isdigit())
        booked_at = now - dt.timedelta(hours=3)  # this morning: today's list names it
        again = Client.objects.create(
            clinic=clinic,
            first_name=first.first_name,
            last_name=first.last_name,
            email=f"{first.first_name}.{first.last_name}@home.example".lower(),
            phone=f"0{digits[2:6]} {digits[6:]}" if digits.startswith("44") else first.phone,
            created_at=booked_at,
        )
        Appointment.objects.filter(pk=visit.pk).update(client=again, created_by=None, created_at=booked_at)
        AppointmentEvent.objects.filter(appointment=visit, action="booked").update(
            actor=None, at=booked_at, details={"source": "online", "start": visit.start.isoformat()}
        )

    @staticmethod
    def _notes_on_visits(clinic: Clinic) -> None:
        """The visit booked online by the client with a second record carries their note for the
        clinic; the next visit ahead of another client carries the desk's note. Both show on the day's
        list and the visit's page."""
        now = timezone.now()
        ahead = Appointment.objects.filter(
            clinic=clinic, status=AppointmentStatus.BOOKED, course=None, start__gt=now
        ).order_by("start", "id")
        online = ahead.filter(events__action="booked", events__details__source="online").first()
        if online is not None:
            Appointment.objects.filter(pk=online.pk).update(
                client_note="I have a new email address. Is there somewhere to park nearby?"
            )
        noted = ahead.exclude(pk=online.pk if online else None).first()
        if noted is not None:
            Appointment.objects.filter(pk=noted.pk).update(
                notes="Prefers the quieter treatment room. Has a gift voucher to use."
            )

    @staticmethod
    def _feedback(clinic: Clinic) -> None:
        """Most clients of the last week's completed visits said how it went, mostly well; one was
        unhappy, which today's list puts before the managers."""
        now = timezone.now()
        had = list(
            Appointment.objects.filter(
                clinic=clinic,
                status=AppointmentStatus.FULFILLED,
                end__gt=now - dt.timedelta(days=7),
                end__lt=now - dt.timedelta(hours=3),
            ).order_by("start", "id")
        )
        said = [
            (5, "Lovely as always, and the aftercare email was really helpful."),
            (4, ""),
            (5, "Explained everything before starting. My skin already looks brighter."),
            (2, "I waited 25 minutes past my time and nobody said why."),
            (5, ""),
            (4, "Great treatment; the room was a little cold."),
        ]
        VisitFeedback.objects.bulk_create(
            VisitFeedback(
                appointment=visit,
                rating=rating,
                comment=comment,
                given_at=min(visit.end + dt.timedelta(hours=4), now),
            )
            for visit, (rating, comment) in zip(had[::2], said, strict=False)
        )

    @staticmethod
    def _gift_vouchers(clinic: Clinic, desk: StaffMember, had: list[Appointment], now) -> list[Appointment]:
        """Two gift vouchers sold for Christmas: one paid part of a visit had since (the rest by card),
        the other, emailed to its buyer, not spent yet. Returns the visit it paid for (paid here)."""
        today = timezone.localdate(timezone=clinic.zone)
        sold = [
            GiftVoucher.objects.create(
                clinic=clinic,
                code=code,
                amount=amount,
                bought_by=buyer,
                for_whom=for_whom,
                email=email,
                expires_on=today + dt.timedelta(days=365 - days_ago),
                sold_at=now - dt.timedelta(days=days_ago),
                sold_by=desk,
            )
            for code, amount, buyer, for_whom, email, days_ago in (
                ("XMAS-2DEC", Decimal("100"), "Sarah Jones", "Emma Jones", "", 10),
                ("GLAM-4YQU", Decimal("250"), "Tom Baker", "", "tom.baker@example.com", 3),
            )
        ]
        Payment.objects.bulk_create(
            Payment(
                clinic=clinic,
                voucher_sold=voucher,
                amount=voucher.amount,
                method=PaymentMethod.CARD,
                taken_by=desk,
                taken_at=voucher.sold_at,
            )
            for voucher in sold
        )
        after = [v for v in had if v.start > sold[0].sold_at and v.price > Decimal("40")]
        if not after:
            return []
        visit = after[0]
        taken_at = min(visit.end + dt.timedelta(minutes=5), now)
        Payment.objects.bulk_create(
            [
                Payment(
                    clinic=clinic,
                    appointment=visit,
                    voucher=sold[0],
                    amount=Decimal("40"),
                    method=PaymentMethod.VOUCHER,
                    reference=sold[0].code,
                    taken_by=desk,
                    taken_at=taken_at,
                ),
                Payment(
                    clinic=clinic,
                    appointment=visit,
                    amount=visit.price - Decimal("40"),
                    method=PaymentMethod.CARD,
                    taken_by=desk,
                    taken_at=taken_at,
                ),
            ]
        )
        return [visit]

    @staticmethod
    def _payments(clinic: Clinic) -> None:
        """The visits had were paid at the desk as they ended, mostly by card; the latest one had
        today is still to pay (the day's list and the takings say so); one client was given part back;
        a few visits ahead have a deposit."""
        now = timezone.now()
        desk = (
            StaffMember.objects.filter(clinic=clinic, role=StaffRole.FRONT_DESK).first()
            or StaffMember.objects.filter(clinic=clinic).order_by("id").first()
        )
        manager = StaffMember.objects.filter(clinic=clinic, role=StaffRole.MANAGER).first() or desk
        had = list(
            Appointment.objects.filter(
                clinic=clinic,
                status__in=[AppointmentStatus.FULFILLED, AppointmentStatus.ARRIVED],
                start__lt=now,
                price__gt=0,
            ).order_by("start", "id")
        )
        today = timezone.localdate(timezone=clinic.zone)
        to_pay = [v for v in had if timezone.localdate(v.start, clinic.zone) == today][-1:]
        to_pay += Command._gift_vouchers(clinic, desk, [v for v in had if v not in to_pay], now)
        methods = [PaymentMethod.CARD, PaymentMethod.CARD, PaymentMethod.CARD, PaymentMethod.CASH]
        paid = Payment.objects.bulk_create(
            Payment(
                clinic=clinic,
                appointment=visit,
                amount=visit.price,
                method=methods[n % len(methods)],
                reference=f"{4100 + n:06d}" if methods[n % len(methods)] == PaymentMethod.CARD else "",
                taken_by=desk,
                taken_at=min(visit.end + dt.timedelta(minutes=5), now),
            )
            for n, visit in enumerate(v for v in had if v not in to_pay)
        )
        if len(paid) > 3:
            given_back = paid[-3]
            Payment.objects.create(
                clinic=clinic,
                appointment=given_back.appointment,
                amount=(given_back.amount / 5).quantize(Decimal("0.01")),
                method=given_back.method,
                refund_of=given_back,
                reason="Goodwill: the session started 20 minutes late",
                waived=True,
                taken_by=manager,
                taken_at=min(given_back.taken_at + dt.timedelta(hours=2), now),
            )
        ahead = Appointment.objects.filter(
            clinic=clinic, status=AppointmentStatus.BOOKED, start__gt=now, price__gt=0
        ).order_by("start", "id")[:12:4]
        Payment.objects.bulk_create(
            Payment(
                clinic=clinic,
                appointment=visit,
                amount=min(Decimal("30"), visit.price),
                method=PaymentMethod.CARD,
                reference=f"{5200 + n:06d}",
                taken_by=desk,
                taken_at=min(visit.created_at, now),
            )
            for n, visit in enumerate(ahead)
        )

    @staticmethod
    def _history_of(visit: Appointment, desk_user, zone) -> list[AppointmentEvent]:
        """The events a visit's status implies, so each demo visit's history explains its status; a
        relative contraindication in the client's intake was accepted at booking with a reason."""
        on = timezone.localtime(visit.start, zone).date()
        warnings = relative(contraindication_findings(client=visit.client, service=visit.service, on=on))
        accepted = [relative_accepted_note(warnings, RELATIVE_REASON)] if warnings else []
        events = [
            AppointmentEvent(
                appointment=visit,
                at=visit.created_at,
                action="booked",
                details={"source": "seed_demo", "accepted": accepted},
            )
        ]
        minutes = dt.timedelta(minutes=1)

        def status(action, at, **details):
            events.append(
                AppointmentEvent(appointment=visit, actor=desk_user, at=at, action=action, details=details)
            )

        if visit.status == AppointmentStatus.CANCELLED:
            halfway = visit.created_at + (min(visit.start, timezone.now()) - visit.created_at) / 2
            # the client phoned while the desk was open: at 10:00 that day (or just after booking)
            opening = dt.datetime.combine(timezone.localtime(halfway, zone).date(), dt.time(10), tzinfo=zone)
            called = max(visit.created_at + minutes, opening)
            status("cancelled", called, reason=CANCELLED_BY_PHONE, by_client=False)
        elif visit.status in (AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED):
            status("status:arrived", visit.start - 5 * minutes, **{"from": "booked", "to": "arrived"})
            if visit.status == AppointmentStatus.FULFILLED:
                status("status:fulfilled", visit.end, **{"from": "arrived", "to": "fulfilled"})
        elif visit.status == AppointmentStatus.NOSHOW:
            status("status:noshow", visit.start + 20 * minutes, **{"from": "booked", "to": "noshow"})
        return events

    def _course_in_progress(self, clinic: Clinic, clients: list[Client]) -> None:
        """Gather seeded twice-a-week visits, 3 or more days apart, into one client's course."""
        service = Service.objects.filter(
            clinic=clinic, protocols__course_sessions_per_week__isnull=False
        ).first()
        visits = list(
            Appointment.objects.filter(clinic=clinic, service=service)
            .exclude(status__in=INACTIVE_STATUSES)
            .order_by("start")
        )
        by_practitioner: dict[int, list[Appointment]] = {}
        for visit in visits:
            picked = by_practitioner.setdefault(visit.practitioner_id, [])
            if not picked or visit.start - picked[-1].start >= dt.timedelta(days=3):
                picked.append(visit)
        picked = max(by_practitioner.values(), key=len, default=[])
        # someone with nothing against the treatment, no other visit of its protocols (this service's or
        # a combined one's) to come too soon beside the course, and no other visit on the day of one of
        # its sessions (a client comes once a day)
        sharing = (
            Appointment.objects.filter(clinic=clinic, service__protocols__in=service.protocols.all())
            .exclude(status__in=INACTIVE_STATUSES)
            .distinct()
            if service
            else []
        )
        others = {v.client_id for v in sharing if v not in picked}
        session_days = {timezone.localtime(p.start, clinic.zone).date() for p in picked}
        others |= {
            v.client_id
            for v in Appointment.objects.filter(clinic=clinic)
            if v not in picked and timezone.localtime(v.start, clinic.zone).date() in session_days
        }
        in_order = _forms_in_order(clinic, clients, [service], timezone.now()) if service else set()
        today = timezone.localdate(timezone=clinic.zone)
        client = next(
            (
                c
                for c in clients
                if c.pk not in others
                and not c.conditions.exists()
                and (c.pk, service.pk) in in_order
                # nothing against it on the day, whatever the intake: an under-18 rule reads the date of birth
                and not absolute(contraindication_findings(client=c, service=service, on=today))
            ),
            None,
        )
        if service is None or client is None or len(picked) < 2:
            return
        course = Course.objects.create(
            clinic=clinic,
            client=client,
            service=service,
            planned_sessions=len(picked),
            created_at=min(v.created_at for v in picked),
        )
        Appointment.objects.filter(pk__in=[v.pk for v in picked]).update(course=course, client=client)
        # their booking now says what was accepted for this client, not for whom the visit was first seeded
        for visit in picked:
            on = timezone.localtime(visit.start, clinic.zone).date()
            warnings = relative(contraindication_findings(client=client, service=service, on=on))
            AppointmentEvent.objects.filter(appointment=visit, action="booked").update(
                details={
                    "source": "seed_demo",
                    "accepted": [relative_accepted_note(warnings, RELATIVE_REASON)] if warnings else [],
                }
            )

    @staticmethod
    def _treatment_records(clinic: Clinic) -> None:
        """Give each completed visit a signed-off record, within the protocol and the practitioner's
        limits, so the practitioner sees what was done last time, with the aftercare it scheduled."""
        visits = (
            Appointment.objects.filter(clinic=clinic, status=AppointmentStatus.FULFILLED)
            .select_related("client", "practitioner", "device")
            .prefetch_related(
                "service__protocols__areas__area",
                "service__protocols__products",
                "practitioner__qualifications",
            )
        )
        lots = list(ProductLot.objects.filter(product__clinic=clinic).select_related("product"))
        # Photos for the clients who consented, each visit's of its first area, redness calming visit
        # by visit: the practitioner's "photos over time" has something to put side by side.
        consented = dict(
            PhotoConsent.objects.filter(client__clinic=clinic, scope="clinical").values_list(
                "client_id", "granted_at"
            )
        )
        # of those, the clients with most visits of one service, photographed at each (the same area)
        repeated = Counter(
            (v.client_id, v.service_id)
            for v in visits
            if v.client_id in consented and consented[v.client_id] < v.start
        )
        photographed_for: dict[int, int] = {}  # client: the service photographed
        for (client_id, service_id), _ in repeated.most_common():
            if len(photographed_for) < DEMO_PHOTOGRAPHED:
                photographed_for.setdefault(client_id, service_id)
        photos_of: dict[int, int] = {}
        for visit in visits.order_by("start", "id"):
            session = TreatmentSession.objects.create(
                clinic=clinic,
                appointment=visit,
                client=visit.client,
                practitioner=visit.practitioner,
                started_at=visit.start,
                notes="Even erythema at the end, as expected. Aftercare explained.",
            )
            for protocol in visit.service.protocols.all():
                for n, protocol_area in enumerate(protocol.areas.all()[:2]):
                    _demo_area(session, visit, protocol, protocol_area, n, lots)
            first_area = next(
                (p.areas.all()[0].area for p in visit.service.protocols.all() if p.areas.all()), None
            )
            chosen = photographed_for.get(visit.client_id) == visit.service_id
            if first_area and chosen and consented[visit.client_id] < visit.start:
                shot = photos_of.get(visit.client_id, 0)
                photo = SessionPhoto(
                    session=session,
                    area=first_area,
                    caption="Before" if shot == 0 else f"Visit {shot + 1}",
                    taken_at=visit.start + dt.timedelta(minutes=5),
                )
                redness = max(0.0, 1 - 0.3 * shot)
                photo.image.save(
                    f"{uuid.uuid4().hex}.png", ContentFile(data.demo_photo_png(redness)), save=False
                )
                photo.save()
                photos_of[visit.client_id] = shot + 1
            TreatmentSession.objects.filter(pk=session.pk).update(
                signed_off_at=visit.end, signed_off_by=visit.practitioner
            )
            session.refresh_from_db()
            aftercare_schedule(session)  # what fell due is settled as sent with the rest (_messages)

    @staticmethod
    def _consents_countersigned(clinic: Clinic) -> None:
        """Where the clinic asks its practitioners to sign consents too, the consent each completed
        visit was treated under was signed by its practitioner as the visit began; the consents of
        clients still to come wait for theirs."""
        if not clinic.consent_signed_by_practitioner:
            return
        visits = (
            Appointment.objects.filter(clinic=clinic, status=AppointmentStatus.FULFILLED)
            .select_related("client", "practitioner")
            .prefetch_related("service__protocols")
            .order_by("start", "id")
        )
        consents = list(SignedConsent.objects.filter(client__clinic=clinic).order_by("signed_at", "id"))
        countersigned = {}
        for visit in visits:
            for modality in {p.modality for p in visit.service.protocols.all()}:
                under = [
                    c
                    for c in consents
                    if c.client_id == visit.client_id and c.modality == modality and c.signed_at < visit.start
                ]
                if under and under[-1].pk not in countersigned:
                    countersigned[under[-1].pk] = ConsentCountersignature(
                        consent=under[-1],
                        role=CountersignatureRole.PRACTITIONER,
                        signed_by=visit.practitioner,
                        signer_name=visit.practitioner.display_name,
                        statement=countersignature_statement(CountersignatureRole.PRACTITIONER, under[-1]),
                        signed_at=visit.start,
                    )
        ConsentCountersignature.objects.bulk_create(countersigned.values())

    @staticmethod
    def _a_consent_withdrawn(clinic: Clinic) -> None:
        """One client phoned last week to withdraw their consent to microneedling: the first with a
        consent to it standing, no visit for it ahead and none had since the phone call."""
        now = timezone.now()
        phoned = now - dt.timedelta(days=6)
        desk = StaffMember.objects.filter(clinic=clinic, role="front_desk").first()
        booked_for_it = Appointment.objects.filter(
            clinic=clinic,
            service__protocols__modality=Modality.MICRONEEDLING,
            end__gt=phoned,
        ).values("client_id")
        consents = SignedConsent.objects.filter(
            client__clinic=clinic, modality=Modality.MICRONEEDLING, signed_at__lt=phoned
        ).exclude(client_id__in=booked_for_it)
        signed_since = SignedConsent.objects.filter(modality=Modality.MICRONEEDLING, signed_at__gte=phoned)
        consents = consents.exclude(client_id__in=signed_since.values("client_id"))
        consent = consents.order_by("client__last_name", "client_id").first()
        if consent is not None and desk is not None:
            ConsentWithdrawal.objects.create(
                client_id=consent.client_id,
                modality=Modality.MICRONEEDLING,
                withdrawn_at=phoned,
                told=WithdrawalChannel.PHONE,
                note="Decided against needling after reading about the downtime.",
                recorded_by=desk,
            )

    @staticmethod
    def _a_plan_changed(clinic: Clinic) -> None:
        """Yesterday a practitioner added the neck to one client's microneedling plan: the first with a
        consent to it standing and a visit for it ahead. The client is asked to consent again (the
        visit shows its forms missing; its booking mail carries the link)."""
        now = timezone.now()
        changed = now - dt.timedelta(days=1)
        visits = Appointment.objects.filter(
            clinic=clinic,
            status=AppointmentStatus.BOOKED,
            service__protocols__modality=Modality.MICRONEEDLING,
            start__gt=now + dt.timedelta(days=2),
            client__signed_consents__modality=Modality.MICRONEEDLING,
            client__signed_consents__signed_at__lt=changed,
        ).exclude(client__consent_withdrawals__isnull=False)
        visit = visits.select_related("practitioner").order_by("start", "id").first()
        if visit is not None:
            ConsentWithdrawal.objects.create(
                client_id=visit.client_id,
                modality=Modality.MICRONEEDLING,
                because=ConsentEndedBecause.PLAN_CHANGED,
                withdrawn_at=changed,
                told="",
                note="Adding the neck from the next session, at 0.5–1.0 mm, as we discussed.",
                recorded_by=visit.practitioner,
            )

    @staticmethod
    def _waitlist(clinic: Clinic, clients: list[Client]) -> None:
        """Three clients wait (added two days ago): one for microneedling any afternoon this week, one
        for microcurrent with a named practitioner tomorrow morning, one for mesotherapy next week; a
        fourth would rather come before their visit; and one was booked from the waitlist. Each is a
        client the service would take (`waitlist_add` refuses the others) and, but for the fourth, who
        has no visit of that service around those days."""
        today = timezone.localdate(timezone=clinic.zone)
        services = {}  # the first single-treatment service of each modality (the facials, not RF or scalp)
        for service in (
            Service.objects.filter(clinic=clinic, is_active=True).prefetch_related("protocols").order_by("id")
        ):
            protocols = list(service.protocols.all())
            if len(protocols) == 1:
                services.setdefault(protocols[0].modality, service)
        practitioners = StaffMember.objects.filter(
            clinic=clinic, role=StaffRole.PRACTITIONER, is_active=True
        ).order_by("id")
        wishes = [
            (Modality.MICRONEEDLING, 0, 6, dt.time(14), dt.time(17), None, "Any afternoon this week"),
            (Modality.MICROCURRENT, 1, 1, dt.time(9), dt.time(11), "first", "Before work"),
            (Modality.MESOTHERAPY, 7, 13, None, None, None, ""),
        ]
        taken = set()
        added_at = timezone.now() - dt.timedelta(days=2)
        for modality, first, last, from_time, until_time, with_whom, note in wishes:
            service = services.get(modality)
            if service is None:
                continue
            practitioner = (
                next((p for p in practitioners if is_qualified(p, service)), None) if with_whom else None
            )
            for client in clients:
                if client.pk in taken or not client.email:
                    continue
                if Appointment.objects.filter(
                    client=client,
                    service=service,
                    start__date__gte=today + dt.timedelta(days=first - 1),
                    start__date__lte=today + dt.timedelta(days=last + 1),
                ).exists():
                    continue
                try:
                    entry = waitlist_add(
                        client=client,
                        service=service,
                        practitioner=practitioner,
                        first_day=today + dt.timedelta(days=first),
                        last_day=today + dt.timedelta(days=last),
                        from_time=from_time,
                        until_time=until_time,
                        note=note,
                    )
                except ClinicError:
                    continue
                WaitlistEntry.objects.filter(pk=entry.pk).update(added_at=added_at)
                OutboxMessage.objects.filter(topic=f"waitlist:{entry.pk}").update(due_at=added_at)
                taken.add(client.pk)
                break
        # one client would rather come before their visit, with the same practitioner
        for visit in (
            Appointment.objects.filter(
                clinic=clinic,
                status=AppointmentStatus.BOOKED,
                course=None,
                start__gt=timezone.now() + dt.timedelta(days=4),
            )
            .exclude(client_id__in=taken)
            .select_related("client", "service", "practitioner")
            .order_by("start", "id")
        ):
            if not visit.client.email:
                continue
            try:
                entry = waitlist_add(
                    client=visit.client,
                    service=visit.service,
                    practitioner=visit.practitioner,
                    first_day=today,
                    last_day=timezone.localtime(visit.start, clinic.zone).date() - dt.timedelta(days=1),
                    visit_to_move=visit,
                    note="Would rather come sooner",
                )
            except ClinicError:
                continue
            WaitlistEntry.objects.filter(pk=entry.pk).update(added_at=added_at)
            OutboxMessage.objects.filter(topic=f"waitlist:{entry.pk}").update(due_at=added_at)
            taken.add(visit.client_id)
            break
        booked = (
            Appointment.objects.filter(
                clinic=clinic,
                status=AppointmentStatus.BOOKED,
                course=None,
                start__gt=timezone.now() + dt.timedelta(days=1),
                created_at__lt=timezone.now() - dt.timedelta(hours=12),
            )
            .exclude(client_id__in=taken)
            .order_by("start", "id")
            .first()
        )
        if booked is not None:
            day = timezone.localtime(booked.start, clinic.zone).date()
            WaitlistEntry.objects.create(
                clinic=clinic,
                client_id=booked.client_id,
                service_id=booked.service_id,
                first_day=day - dt.timedelta(days=1),
                last_day=day + dt.timedelta(days=3),
                added_at=booked.created_at - dt.timedelta(days=3),
                ended_at=booked.created_at,
                ended_because=WaitlistEnded.BOOKED,
                appointment=booked,
            )

    def _messages(self, clinic: Clinic) -> None:
        """Write each demo visit's emails through the booking notifications, as of when it was booked.

        What fell due before now is the demo's past: recorded as sent when it fell due, but never
        delivered, so a first start sends no burst of old mail. The reminders still ahead stay
        scheduled; the worker delivers them to the mailbox when they fall due. One confirmation is
        recorded as refused by the client's mail server, so the outbox has a failure to fix.
        """
        visits = list(
            Appointment.objects.filter(clinic=clinic)
            .select_related("clinic", "client", "practitioner", "service")
            .prefetch_related("service__protocols", "events")
            .order_by("start")
        )
        course_sessions: dict[int, list[Appointment]] = {}
        for visit in visits:
            if visit.course_id is None:
                notify_booked(visit, booked_at=visit.created_at)
            else:
                course_sessions.setdefault(visit.course_id, []).append(visit)
        for course in Course.objects.filter(pk__in=course_sessions):
            notify_course_booked(course, course_sessions[course.pk], booked_at=course.created_at)
        for visit in visits:
            if visit.status != AppointmentStatus.CANCELLED:
                continue
            cancelled_at = next(e.at for e in visit.events.all() if e.action == "cancelled")
            self._settle(clinic, until=cancelled_at, topic=f"appointment:{visit.pk}")
            notify_cancelled(visit)
            OutboxMessage.objects.filter(dedupe_key=f"appointment:{visit.pk}:cancelled").update(
                due_at=cancelled_at
            )
        self._settle(clinic, until=timezone.now())
        sent_when: dict[int, list[dt.datetime]] = {}
        for client_id, due_at in OutboxMessage.objects.filter(
            clinic=clinic, status=OutboxStatus.SENT
        ).values_list("client_id", "due_at"):
            sent_when.setdefault(client_id, []).append(due_at)
        refused = min(
            # a visit still ahead, so that its confirmation can be resent once the address is fixed,
            # of a client emailed as little as can be since (each of those was refused too)
            (
                v
                for v in visits
                if v.status == AppointmentStatus.BOOKED and v.course_id is None and v.start > timezone.now()
            ),
            key=lambda v: (sum(due > v.created_at for due in sent_when.get(v.client_id, [])), v.start),
            default=None,
        )
        if refused is not None and refused.client.email:
            address = refused.client.email
            unknown_user = (550, f"5.1.1 <{address}>: Recipient address rejected: User unknown".encode())
            confirmation = OutboxMessage.objects.get(dedupe_key=f"appointment:{refused.pk}:booked")
            # An address refused once was refused every time after, until the desk corrects it.
            OutboxMessage.objects.filter(
                client_id=refused.client_id,
                recipient_email=address,
                status=OutboxStatus.SENT,
                due_at__gte=confirmation.due_at,
            ).update(
                status=OutboxStatus.FAILED,
                sent_at=None,
                smtp_message_id="",
                last_error=failure_reason(smtplib.SMTPRecipientsRefused({address: unknown_user})),
                address_refused_at=F("due_at"),
            )

    @staticmethod
    def _settle(clinic: Clinic, *, until: dt.datetime, topic: str = "") -> None:
        """Record the clinic's pending messages due by `until` as sent when they fell due."""
        pending = OutboxMessage.objects.filter(clinic=clinic, status=OutboxStatus.PENDING, due_at__lte=until)
        if topic:
            pending = pending.filter(topic=topic)
        settled = list(pending)
        domain = sender_domain(clinic)
        for message in settled:
            message.status = OutboxStatus.SENT
            message.attempts = 1
            message.sent_at = message.due_at
            message.smtp_message_id = stable_message_id(message, domain)
        OutboxMessage.objects.bulk_update(settled, ["status", "attempts", "sent_at", "smtp_message_id"])

    @staticmethod
    def _status_for(start, end, now, rng) -> str:
        roll = rng.random()
        if end <= now:
            return (
                AppointmentStatus.FULFILLED
                if roll < 0.85
                else (AppointmentStatus.NOSHOW if roll < 0.9 else AppointmentStatus.CANCELLED)
            )
        if start <= now:
            return AppointmentStatus.ARRIVED
        return AppointmentStatus.CANCELLED if roll < 0.08 else AppointmentStatus.BOOKED

    def _print_logins(self) -> None:
        self.stdout.write(f"Demo logins (password for all: {data.DEMO_PASSWORD}):")
        for username, display, role, *_ in data.STAFF:
            self.stdout.write(f"  {username:<14} {display} ({role.replace('_', ' ')}, {data.CLINIC['name']})")
        for username, display, role, *_ in data.OTHER_STAFF:
            self.stdout.write(
                f"  {username:<14} {display} ({role.replace('_', ' ')}, {data.OTHER_CLINIC['name']})"
            )


def _forms_in_order(clinic, clients, services, at) -> set[tuple[int, int]]:
    """The (client, service) pairs for which the client's intake and consents are in order at `at`."""
    modalities_of = {s.pk: {p.modality for p in s.protocols.all()} for s in services}
    needed = forms_needed_for_visits(
        clinic, [((c.pk, s.pk), c.pk, modalities_of[s.pk], at) for c in clients for s in services]
    )
    return {key for key, forms in needed.items() if not forms}


def _demo_area(session, visit, protocol, protocol_area, n: int, lots) -> None:
    """One treated area of a demo record, as the practitioner would have given it."""
    area = protocol_area.area
    if protocol.modality == "microneedling" and protocol_area.min_depth_mm is not None:
        qualified = {q.modality: q.max_depth_mm for q in visit.practitioner.qualifications.all()}
        limits = [protocol_area.max_depth_mm, qualified.get("microneedling")]
        limits.append(visit.device.max_depth_mm if visit.device else None)
        depth = min(d for d in limits if d is not None)
        if depth >= protocol_area.min_depth_mm:
            MicroneedlingRecord.objects.create(
                session=session,
                area=area,
                device=visit.device,
                depth_mm=depth,
                passes=3 - n,
                cartridge_lot="CART-2611",
            )
    elif protocol.modality == "microcurrent":
        MicrocurrentRecord.objects.create(
            session=session,
            area=area,
            device=visit.device,
            current_ua=200 + 50 * n,
            frequency_hz=Decimal("2.5"),
            waveform="square",
            minutes=8,
        )
    elif protocol.modality == "mesotherapy":
        products = set(protocol.products.all())
        lot = next((x for x in lots if x.product in products and x.expiry_date >= visit.start.date()), None)
        if lot is not None:
            MesotherapyRecord.objects.create(
                session=session,
                area=area,
                lot=lot,
                product_name=lot.product.name,
                lot_number=lot.lot_number,
                expiry_date=lot.expiry_date,
                volume_ml=Decimal("1.0"),
                depth_mm=protocol.depth_min_mm or Decimal("1.0"),
                technique=(protocol.techniques or ["papule"])[0],
            )
