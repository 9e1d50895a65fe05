"""The demo seed: realistic, scoped, and safe to run again."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from clients.models import Client, IntakeResponse, SignedConsent
from clients.selectors import refused_addresses
from clinic.models import Clinic, OutboxMessage, StaffMember
from clinic.outbox import resend_refusals
from treatments.models import INACTIVE_STATUSES, Appointment, DeviceHold, Protocol, Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(capsys):
    call_command("seed_demo")
    return capsys.readouterr().out


def _counts():
    return [
        m.objects.count()
        for m in (Clinic, StaffMember, Client, Service, Protocol, Appointment, SignedConsent, OutboxMessage)
    ]


def test_it_prints_the_demo_logins(seeded):
    for username in ("frontdesk", "manager", "practitioner", "nurse", "doctor"):
        assert username in seeded


def test_running_it_twice_creates_nothing_more(seeded):
    before = _counts()
    call_command("seed_demo")
    assert _counts() == before


def test_it_builds_a_realistic_clinic(seeded):
    clinic = Clinic.objects.get(slug="lumen")
    practitioners = StaffMember.objects.filter(clinic=clinic, role="practitioner")
    assert practitioners.count() == 3
    # different qualifications: not everyone may do mesotherapy or deep needling
    quals = {
        p.user.username: {q.modality: q.max_depth_mm for q in p.qualifications.all()} for p in practitioners
    }
    assert "mesotherapy" not in quals["practitioner"]
    assert quals["practitioner"]["microneedling"] < quals["doctor"]["microneedling"]
    assert Service.objects.filter(clinic=clinic).count() >= 6
    assert set(Protocol.objects.filter(clinic=clinic).values_list("modality", flat=True)) == {
        "microneedling",
        "microcurrent",
        "mesotherapy",
    }
    # 40, one of them twice, and two callers of long ago whose records are past their keeping time
    assert Client.objects.filter(clinic=clinic).count() == 43
    from treatments.keeping import records_past_keeping

    assert [past.client.full_name for past in records_past_keeping(clinic)] == [
        "Harriet Cole",
        "George Patel",
    ]
    from clinic.models import WorkingHours

    new_rota = WorkingHours.objects.filter(staff_member__user__username="nurse", applies_from__isnull=False)
    assert sorted(new_rota.values_list("weekday", flat=True)) == [0, 1, 2, 3]
    begins = {hours.applies_from for hours in new_rota}
    assert len(begins) == 1 and (first := begins.pop()).weekday() == 0
    assert first >= timezone.localdate(timezone=clinic.zone) + dt.timedelta(
        days=14
    )  # after the demo's visits
    # intake and consent in various states: none, stale version, current
    with_intake = IntakeResponse.objects.filter(client__clinic=clinic).values("client").distinct().count()
    assert 0 < with_intake < 40
    assert IntakeResponse.objects.filter(client__clinic=clinic, questionnaire__is_current=False).exists()
    assert SignedConsent.objects.filter(client__clinic=clinic, template__is_current=False).exists()


def test_appointments_span_two_weeks_around_today_without_double_booking(seeded):
    clinic = Clinic.objects.get(slug="lumen")
    appointments = list(Appointment.objects.filter(clinic=clinic).exclude(status="cancelled"))
    days = {timezone.localtime(a.start, clinic.zone).date() for a in appointments}
    today = timezone.localdate(timezone=clinic.zone)
    assert min(days) < today < max(days)
    assert (max(days) - min(days)).days >= 12
    for field in ("practitioner_id", "room_id", "device_id"):
        by_resource = {}
        for a in appointments:
            key = getattr(a, field)
            if key is None:
                continue
            for other in by_resource.get(key, []):
                assert a.end <= other.start or a.start >= other.end, (field, a, other)
            by_resource.setdefault(key, []).append(a)


def test_demo_combined_visits_hold_a_pen_and_a_microcurrent_unit_and_no_device_twice(seeded):
    combos = Appointment.objects.filter(service__name="Microneedling + microcurrent combo").select_related(
        "device", "second_device"
    )
    assert combos, "the demo books the combined facial"
    assert {(a.device.kind, a.second_device.kind) for a in combos} == {("pen", "microcurrent_unit")}
    # a device is held over buffers too, as a visit's first device or as its second
    holds = sorted(DeviceHold.objects.values_list("device_id", "blocked_start", "blocked_end"))
    active = Appointment.objects.exclude(status__in=INACTIVE_STATUSES)
    assert len(holds) == sum(len(a.devices) for a in active.select_related("device", "second_device"))
    for (device, _, end), (next_device, next_start, _) in itertools.pairwise(holds):
        assert device != next_device or end <= next_start, (device, end, next_start)


def test_protocol_defaults_are_data_from_domain_md(seeded):
    protocol = Protocol.objects.get(clinic__slug="lumen", name="Microneedling – face and neck")
    cheeks = protocol.areas.get(area__code="cheeks")
    assert (str(cheeks.min_depth_mm), str(cheeks.max_depth_mm)) == ("0.50", "1.00")
    isotretinoin = protocol.contraindications.get(condition_code="isotretinoin")
    assert isotretinoin.within_days == 180


def test_the_demo_has_a_course_in_progress(seeded):
    from treatments.booking import course_progress
    from treatments.models import Course

    [course] = Course.objects.filter(clinic__slug="lumen")
    sessions = list(course.appointments.order_by("start"))
    assert len(sessions) == course.planned_sessions >= 3
    assert {s.client_id for s in sessions} == {course.client_id}
    assert len({s.practitioner_id for s in sessions}) == 1
    others = Appointment.objects.filter(client=course.client, service=course.service).exclude(course=course)
    assert not others.exclude(status__in=["cancelled", "noshow"]).exists()
    assert all(b.start - a.start >= dt.timedelta(days=3) for a, b in itertools.pairwise(sessions))
    progress = course_progress(course, sessions)
    assert progress["done"] >= 1 and progress["upcoming"] >= 1


def test_each_demo_visits_history_explains_its_status(seeded):
    last_action = {
        "booked": "booked",
        "cancelled": "cancelled",
        "arrived": "status:arrived",
        "fulfilled": "status:fulfilled",
        "noshow": "status:noshow",
    }
    visits = Appointment.objects.filter(clinic__slug="lumen").prefetch_related("events")
    for visit in visits:
        actions = [e.action for e in sorted(visit.events.all(), key=lambda e: (e.at, e.id))]
        assert actions[0] == "booked"
        assert actions[-1] == last_action[visit.status], (visit.pk, visit.status, actions)


def test_no_demo_client_is_in_two_visits_at_once(seeded):
    visits = Appointment.objects.exclude(status__in=INACTIVE_STATUSES).order_by("client_id", "start")
    for client_id, theirs in itertools.groupby(visits, key=lambda a: a.client_id):
        ordered = list(theirs)
        for earlier, later in itertools.pairwise(ordered):
            assert earlier.end <= later.start, (client_id, earlier.pk, later.pk)


def test_a_demo_client_comes_at_most_once_a_day(seeded):
    from collections import Counter

    from django.utils import timezone

    clinic = Clinic.objects.get(slug="lumen")
    visits = Appointment.objects.filter(clinic=clinic).select_related("clinic")
    days = Counter((a.client_id, timezone.localtime(a.start, clinic.zone).date()) for a in visits)
    assert max(days.values()) == 1, [key for key, count in days.items() if count > 1]


def test_no_demo_client_was_treated_without_their_forms(seeded):
    from clients.selectors import forms_needed

    done = Appointment.objects.filter(
        clinic__slug="lumen", status__in=["fulfilled", "arrived"]
    ).select_related("client__clinic", "service")
    assert done.exists()
    for visit in done:
        modalities = {p.modality for p in visit.service.protocols.all()}
        assert not forms_needed(client=visit.client, modalities=modalities, at=visit.start), visit.pk


def test_the_demo_clinic_asks_its_practitioners_to_sign_consents_and_they_did_before_treating(seeded):
    from clients.models import ConsentCountersignature

    clinic = Clinic.objects.get(slug="lumen")
    assert clinic.consent_signed_by_practitioner and not clinic.consent_witnessed
    treated = Appointment.objects.filter(clinic=clinic, status="fulfilled").select_related("client")
    assert treated.exists()
    for visit in treated.prefetch_related("service__protocols"):
        for modality in {p.modality for p in visit.service.protocols.all()}:
            under = (
                SignedConsent.objects.filter(
                    client=visit.client, modality=modality, signed_at__lt=visit.start
                )
                .order_by("-signed_at", "-id")
                .first()
            )
            signature = ConsentCountersignature.objects.get(consent=under, role="practitioner")
            assert signature.signed_at <= visit.start, visit.pk
            assert signature.signed_by.qualifications.filter(modality=modality).exists()
    # and some consents wait for a practitioner's signature at the client's next visit
    assert SignedConsent.objects.filter(client__clinic=clinic, countersignatures__isnull=True).exists()


def test_most_demo_visits_ahead_have_their_forms_and_a_few_still_lack_them(seeded):
    """As at a clinic with regulars: "Forms missing" marks the few the desk has to chase."""
    from treatments.selectors import forms_missing

    clinic = Clinic.objects.get(slug="lumen")
    ahead = list(Appointment.objects.filter(clinic=clinic, status="booked", start__gt=timezone.now()))
    missing = forms_missing(ahead, clinic)
    assert len(ahead) >= 40
    assert 0 < len(missing) <= len(ahead) // 4, (len(missing), len(ahead))


def _messages_about(visit):
    return {
        m.template_key: m
        for m in OutboxMessage.objects.filter(topic=f"appointment:{visit.pk}").order_by("due_at")
        if m.template_key != "booking_reminder"
    }


def test_each_demo_visit_has_the_emails_its_booking_wrote(seeded):
    clinic = Clinic.objects.get(slug="lumen")
    now = timezone.now()
    # nothing in the past waits to be sent: a first start sends no burst of old mail
    assert not OutboxMessage.objects.filter(status="pending", due_at__lte=now).exists()
    upcoming = Appointment.objects.filter(clinic=clinic, status="booked", course=None, start__gt=now)
    assert upcoming.count() > 10
    for visit in upcoming:
        confirmation = _messages_about(visit)["booking_confirmation"]
        assert confirmation.due_at == visit.created_at
        assert confirmation.status in {"sent", "failed"}
        reminders = OutboxMessage.objects.filter(
            topic=f"appointment:{visit.pk}", template_key="booking_reminder"
        )
        expected = {visit.start - dt.timedelta(hours=h) for h in clinic.reminder_lead_hours}
        assert {r.due_at for r in reminders} == expected
        for reminder in reminders:
            went = "failed" if reminder.address_refused_at else "sent"  # the demo's refused address
            assert reminder.status == ("pending" if reminder.due_at > now else went), reminder
    for visit in Appointment.objects.filter(clinic=clinic, status="fulfilled"):
        reminders = OutboxMessage.objects.filter(
            topic=f"appointment:{visit.pk}", template_key="booking_reminder"
        )
        assert reminders and all(r.status == "sent" and r.sent_at < visit.start for r in reminders)
    for visit in Appointment.objects.filter(clinic=clinic, status="cancelled").prefetch_related("events"):
        cancelled_at = next(e.at for e in visit.events.all() if e.action == "cancelled")
        notice = _messages_about(visit)["booking_cancelled"]
        assert (notice.status, notice.sent_at) == ("sent", cancelled_at)
        about = OutboxMessage.objects.filter(topic=f"appointment:{visit.pk}")
        assert not about.filter(status="pending").exists()
        assert not about.filter(status="sent", sent_at__gt=cancelled_at).exists()
    sent = OutboxMessage.objects.filter(status="sent")
    assert not sent.filter(smtp_message_id="").exists()
    assert not sent.filter(sent_at__gt=now).exists()


def test_the_demo_has_one_refused_address_to_fix(seeded):
    # every email to the address since its confirmation was refused, as a wrong address is
    failures = list(
        OutboxMessage.objects.filter(clinic__slug="lumen", status="failed").order_by("due_at", "id")
    )
    assert {(m.client_id, m.recipient_email) for m in failures} == {
        (failures[0].client_id, failures[0].recipient_email)
    }
    confirmation = failures[0]
    assert confirmation.template_key == "booking_confirmation"
    for failed in failures:
        assert failed.last_error == (
            f"The client's mail server refused the address: 550 5.1.1 <{failed.recipient_email}>: "
            "Recipient address rejected: User unknown"
        )
        assert failed.sent_at is None and failed.address_refused_at == failed.due_at
    # the desk is told where they meet the client, until the address is corrected
    client = Client.objects.get(pk=confirmation.client_id)
    assert refused_addresses([client]) == {client.pk: failures[-1]}
    # its visit is still ahead, so once the address is fixed it can be resent
    assert resend_refusals([confirmation]) == {}


def test_demo_cancellations_were_phoned_in_while_the_desk_was_open(seeded):
    clinic = Clinic.objects.get(slug="lumen")
    cancelled = Appointment.objects.filter(clinic=clinic, status="cancelled").prefetch_related("events")
    assert cancelled
    for visit in cancelled:
        [call] = [e for e in visit.events.all() if e.action == "cancelled"]
        assert visit.created_at < call.at < min(visit.start, timezone.now())
        local = timezone.localtime(call.at, clinic.zone)
        assert (local.hour, local.minute) == (10, 0) or call.at == visit.created_at + dt.timedelta(minutes=1)


def test_the_demo_has_an_afternoon_off_with_visits_still_to_move(seeded):
    from clinic.models import TimeOff
    from treatments.selectors import time_off_clashes

    clinic = Clinic.objects.get(slug="lumen")
    [off] = TimeOff.objects.filter(staff_member__clinic=clinic, reason="Training course")
    # the first afternoon from the day after tomorrow with visits (not a Sunday, when nobody works)
    day = timezone.localtime(off.start, clinic.zone).date()
    after_tomorrow = timezone.localdate(timezone=clinic.zone) + dt.timedelta(days=2)
    assert after_tomorrow <= day < after_tomorrow + dt.timedelta(days=7) and day.weekday() != 6
    afternoons = {
        local.date()
        for local in (
            timezone.localtime(a.start, clinic.zone)
            for a in Appointment.objects.filter(clinic=clinic, status="booked")
        )
        if local.hour >= 13
    }
    assert day in afternoons and not {d for d in afternoons if after_tomorrow <= d < day}
    flagged = time_off_clashes(list(Appointment.objects.filter(clinic=clinic)))
    assert flagged and all(off == clash for clash in flagged.values())


def test_no_demo_visit_is_one_a_booking_would_refuse_for_the_clients_intake(seeded):
    from treatments.contraindications import absolute, contraindication_findings, relative

    clinic = Clinic.objects.get(slug="lumen")
    visits = Appointment.objects.filter(clinic=clinic).select_related("client", "service")
    weighed = 0
    for visit in visits.prefetch_related("service__protocols"):
        on = timezone.localtime(visit.start, clinic.zone).date()
        findings = contraindication_findings(client=visit.client, service=visit.service, on=on)
        assert not absolute(findings), visit
        # a relative one was accepted at booking with a reason, as booking asks
        booked = visit.events.get(action="booked").details
        if relative(findings):
            weighed += 1
            (note,) = booked["accepted"]
            assert note.startswith("Relative contraindication accepted (") and "): " in note, visit
        else:
            assert not booked.get("accepted"), visit
    assert weighed >= 3  # the demo shows what a practitioner sees of one
    # and nobody named as a man is recorded as pregnant
    from clients.models import ClientCondition
    from treatments.demo_data import MALE_FIRST_NAMES

    assert not ClientCondition.objects.filter(
        code="pregnancy", client__first_name__in=MALE_FIRST_NAMES
    ).exists()


def test_no_demo_visit_is_one_a_booking_would_refuse_as_too_soon(seeded):
    # a client's sessions of a protocol are as far apart as the protocol asks, as booking requires,
    # so moving a demo visit is refused only for what the desk changes, not for what the seed wrote
    clinic = Clinic.objects.get(slug="lumen")
    visits = (
        Appointment.objects.filter(clinic=clinic)
        .exclude(status__in=INACTIVE_STATUSES)
        .prefetch_related("service__protocols")
        .order_by("start")
    )
    last: dict[tuple[int, int], Appointment] = {}
    checked = 0
    for visit in visits:
        for protocol in visit.service.protocols.all():
            before = last.get((visit.client_id, protocol.pk))
            if before is not None and protocol.min_interval_days:
                checked += 1
                assert visit.start - before.start >= dt.timedelta(days=protocol.min_interval_days), (
                    protocol.name,
                    before,
                    visit,
                )
            last[(visit.client_id, protocol.pk)] = visit
    assert checked  # regulars come back: the rule was met, not dodged by one visit each


def test_each_demo_intake_answers_every_question_as_its_conditions_say(seeded):
    from clients.models import fitzpatrick_type_of
    from clients.services import intake_answers_errors

    responses = IntakeResponse.objects.select_related("questionnaire").prefetch_related("conditions")
    assert responses.count() > 20
    skin_types = set()
    for response in responses:
        questions = response.questionnaire.questions
        today = timezone.localdate()
        # the answers a client could have given on the form: every yes/no answered, choices from the list
        assert intake_answers_errors(response.questionnaire, response.answers, today=today) == {}, response
        assert set(response.answers) == {q["code"] for q in questions}
        recorded = {c.code for c in response.conditions.all()}
        said = {
            q["condition"]
            for q in questions
            if q.get("condition") and response.answers[q["code"]] not in ("", "no")
        }
        assert said == recorded, response
        assert response.fitzpatrick_type == fitzpatrick_type_of(response.answers["fitzpatrick"])
        skin_types.add(response.fitzpatrick_type)
    assert len(skin_types) >= 4  # a range of skin types, each one the client chose


def test_every_demo_contraindication_rule_can_apply(seeded):
    """Each rule is over a condition the current intake form records, or one worked out (under 18)."""
    from treatments.contraindications import rules_never_met

    protocols = Protocol.objects.filter(clinic__slug="lumen").prefetch_related("contraindications")
    assert sum(p.contraindications.count() for p in protocols) > 30
    assert {p.name: [r.condition_code for r in rules_never_met(p)] for p in protocols} == {
        p.name: [] for p in protocols
    }


def test_one_demo_client_withdrew_their_consent_to_microneedling_and_has_no_such_visit_ahead(seeded):
    from clients.models import ConsentWithdrawal
    from clients.selectors import client_forms

    (withdrawal,) = ConsentWithdrawal.objects.filter(client__clinic__slug="lumen", because="withdrawn")
    assert (withdrawal.modality, withdrawal.told, withdrawal.recorded_by.role) == (
        "microneedling",
        "phone",
        "front_desk",
    )
    states = {f.title: f.text for f in client_forms(withdrawal.client, now=timezone.now())}
    assert any(text.startswith("Withdrawn on ") for text in states.values()), states
    assert not Appointment.objects.filter(
        client=withdrawal.client,
        service__protocols__modality="microneedling",
        end__gt=withdrawal.withdrawn_at,
    ).exists()


def test_one_demo_client_is_asked_to_consent_again_as_their_plan_changed_before_a_visit(seeded):
    from clients.models import ConsentWithdrawal
    from clients.selectors import client_forms, forms_needed
    from clinic.models import OutboxMessage

    (change,) = ConsentWithdrawal.objects.filter(client__clinic__slug="lumen", because="plan_changed")
    assert change.modality == "microneedling" and change.recorded_by.is_practitioner and change.note
    assert change.recorded_by.qualifications.filter(modality="microneedling").exists()
    states = {f.title: f.text for f in client_forms(change.client, now=timezone.now())}
    assert any(text.startswith("Asked again on ") for text in states.values()), states
    ahead = Appointment.objects.filter(
        client=change.client, service__protocols__modality="microneedling", start__gt=timezone.now()
    ).first()
    needed = forms_needed(client=change.client, modalities={"microneedling"}, at=ahead.start)
    assert [t.modality for t in needed.consents] == ["microneedling"]
    # the visit's booking mail asks for the consent: the link is in the outbox
    request = OutboxMessage.objects.get(dedupe_key=f"appointment:{ahead.pk}:forms")
    assert any("Microneedling" in name for name in request.context["forms_needed"])


def test_the_demos_16_year_old_has_their_parent_sign_and_no_microcurrent_booked(seeded):
    from clients.models import Client

    today = timezone.localdate()
    minors = [c for c in Client.objects.filter(clinic__slug="lumen") if c.is_minor_on(today)]
    assert [c.age_on(today) for c in minors] == [16]
    [mia] = minors
    consents = list(mia.signed_consents.all())
    assert consents and {(c.signed_as, c.signature_name) for c in consents} == {
        ("parent", mia.emergency_contact_name)
    }
    assert {r.answered_by for r in mia.intake_responses.all()} == {"parent"}
    # microcurrent rules out under-18s: nothing booked for it
    assert not Appointment.objects.filter(client=mia, service__protocols__modality="microcurrent").exists()


def test_the_demo_clinic_is_closed_at_christmas_and_covers_a_saturday(seeded):
    from clinic.models import ExtraHours, StaffMember, TimeOff

    clinic = Clinic.objects.get(slug="lumen")
    christmas = TimeOff.objects.filter(staff_member__clinic=clinic, reason="Christmas and Boxing Day")
    practitioners = StaffMember.objects.filter(clinic=clinic, role="practitioner", is_active=True)
    assert sorted(off.staff_member_id for off in christmas) == sorted(p.pk for p in practitioners)
    assert {timezone.localtime(off.start, clinic.zone).strftime("%d %b %H:%M") for off in christmas} == {
        "25 Dec 00:00"
    }
    [saturday] = ExtraHours.objects.filter(staff_member__clinic=clinic)
    local_start = timezone.localtime(saturday.start, clinic.zone)
    assert (local_start.weekday(), local_start.hour, saturday.reason) == (5, 10, "Covering Saturday")
    assert not saturday.staff_member.working_hours.filter(weekday=5).exists()


def test_one_demo_client_has_a_second_record_from_booking_online_to_merge(seeded, client):
    from clients.merging import SAME_PHONE, client_merge, likely_duplicates

    clinic = Clinic.objects.get(slug="lumen")
    [pair] = likely_duplicates(clinic)
    assert pair.reasons == (SAME_PHONE,)
    assert pair.older.full_name == pair.newer.full_name and pair.older.email != pair.newer.email
    [visit] = Appointment.objects.filter(client=pair.newer)
    assert visit.start > timezone.now() and visit.status == "booked"
    assert not IntakeResponse.objects.filter(client=pair.newer).exists()
    assert IntakeResponse.objects.filter(client=pair.older).exists()
    # a treatment: its forms show missing, and its page points to the other record
    from treatments.selectors import forms_missing

    assert forms_missing([visit], clinic)[visit.pk]
    assert not likely_duplicates(Clinic.objects.get(slug="harbour"))
    # booked online this morning: today's list says so
    from treatments.selectors import changes_by_clients

    [change] = changes_by_clients(clinic, since=timezone.now() - dt.timedelta(hours=24))
    assert change["appointment"] == visit and change["said"].startswith("booked ")

    manager = StaffMember.objects.get(user__username="manager")
    client_merge(kept=pair.older, merged=pair.newer, by=manager)
    visit.refresh_from_db()
    assert visit.client_id == pair.older.pk and likely_duplicates(clinic) == []


def test_a_demo_device_is_away_for_servicing_and_its_visits_are_flagged(seeded):
    from clinic.models import OutOfService
    from treatments.selectors import out_of_use

    clinic = Clinic.objects.get(slug="lumen")
    [period] = OutOfService.objects.filter(clinic=clinic).select_related("device")
    assert period.reason == "Servicing"
    local_start = timezone.localtime(period.start, clinic.zone)
    assert (local_start.hour, timezone.localtime(period.end, clinic.zone).hour) == (9, 13)
    booked_with_it = list(
        Appointment.objects.filter(
            device=period.device, blocked_start__lt=period.end, blocked_end__gt=period.start
        ).exclude(status__in=INACTIVE_STATUSES)
    )
    assert booked_with_it  # the busiest device of a morning: there is something to move
    flags = out_of_use(booked_with_it)
    assert {flags[visit.pk] for visit in booked_with_it} == {
        f"{period.device.name} is out of service then (Servicing)"
    }


def test_a_demo_visit_booked_online_has_the_clients_note_and_another_the_desks(seeded, client):
    clinic = Clinic.objects.get(slug="lumen")
    [with_client_note] = Appointment.objects.filter(clinic=clinic).exclude(client_note="")
    assert with_client_note.events.filter(action="booked", details__source="online").exists()
    assert with_client_note.start > timezone.now()
    [with_desk_note] = Appointment.objects.filter(clinic=clinic).exclude(notes="")
    assert with_desk_note.pk != with_client_note.pk and with_desk_note.status == "booked"
    client.force_login(StaffMember.objects.get(user__username="frontdesk").user)
    page = client.get(f"/appointments/{with_client_note.pk}/").content.decode()
    assert "Is there somewhere to park nearby?" in page


def test_demo_clients_said_how_their_visits_went_and_one_was_unhappy(seeded):
    from treatments.feedback import low_ratings_since
    from treatments.models import VisitFeedback

    clinic = Clinic.objects.get(slug="lumen")
    given = list(VisitFeedback.objects.filter(appointment__clinic=clinic).select_related("appointment"))
    assert len(given) >= 3
    assert all(f.appointment.status == "fulfilled" and f.given_at <= timezone.now() for f in given)
    [unhappy] = low_ratings_since(clinic, since=timezone.now() - dt.timedelta(days=7))
    assert unhappy.rating == 2 and "waited" in unhappy.comment


def test_the_demo_visits_had_were_paid_and_never_past_their_price(seeded):
    from treatments.models import AppointmentStatus, Payment
    from treatments.payments import visit_money

    clinic = Clinic.objects.get(slug="lumen")
    had = Appointment.objects.filter(clinic=clinic, status=AppointmentStatus.FULFILLED, price__gt=0)
    assert had.exists()
    owing = [v for v in had if visit_money(v).owed]
    assert len(owing) <= 1  # at most the latest visit had today, still to pay
    for payment in Payment.objects.filter(clinic=clinic, appointment__isnull=False).select_related(
        "appointment"
    ):
        money = visit_money(payment.appointment)
        assert 0 <= money.paid <= money.price
    refund = Payment.objects.get(clinic=clinic, refund_of__isnull=False)
    assert refund.amount < refund.refund_of.amount and refund.reason
    deposits = Payment.objects.filter(clinic=clinic, appointment__status=AppointmentStatus.BOOKED)
    assert deposits.count() == 3
    from treatments.models import GiftVoucher
    from treatments.vouchers import left_on

    vouchers = {v.code: left_on(v) for v in GiftVoucher.objects.filter(clinic=clinic)}
    assert vouchers == {"XMAS-2DEC": Decimal("60.00"), "GLAM-4YQU": Decimal("250.00")}


def test_the_demo_stock_has_something_to_use_first_and_none_given_past_what_it_held(seeded):
    from treatments.stock import product_stock

    clinic = Clinic.objects.get(slug="lumen")
    stock = product_stock(clinic, on=timezone.localdate(timezone=clinic.zone))
    assert [p.product.name for p in stock] == [
        "HA Revitalising Complex",
        "Scalp Growth Formula",
        "Vitamin & Amino Cocktail",
    ]
    lots = [s for p in stock for s in p.lots]
    assert all(s.lot.received_ml and not s.over_given for s in lots)
    assert sum(s.given for s in lots) > 0  # the demo's records gave some
    assert [s.lot.lot_number for s in lots if s.expires_soon] == ["VAC-87990"]


def test_one_demo_client_had_microneedling_elsewhere_and_booking_them_it_too_soon_is_refused(seeded):
    from treatments.booking import EarlierStart, too_soon_after
    from treatments.models import EarlierSession

    clinic = Clinic.objects.get(slug="lumen")
    [earlier] = EarlierSession.objects.filter(clinic=clinic).select_related("client", "service")
    today = timezone.localdate(timezone=clinic.zone)
    assert earlier.given_on == today - dt.timedelta(days=10) and earlier.recorded_by is not None
    # no visit of theirs for it is booked within the interval, either side
    gap = max(p.min_interval_days for p in earlier.service.protocols.all())
    assert gap
    assert (
        not Appointment.objects.filter(
            client=earlier.client,
            service__protocols__in=earlier.service.protocols.all(),
            start__date__gt=earlier.given_on - dt.timedelta(days=gap),
            start__date__lt=earlier.given_on + dt.timedelta(days=gap),
        )
        .exclude(status__in=INACTIVE_STATUSES)
        .exists()
    )
    # booking them it before the interval has passed is too soon (the rule the booking runs)
    start = dt.datetime.combine(today + dt.timedelta(days=3), dt.time(11), tzinfo=clinic.zone)
    [(found, protocol)] = too_soon_after(earlier.client, earlier.service, start, start)
    assert isinstance(found, EarlierStart) and found.earlier == earlier and protocol.min_interval_days == gap
