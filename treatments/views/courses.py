"""The staff page to book a course: plan the sessions, see what would stop each one, book them all.

The plan starts from the time picked on the calendar and the protocol's course plan; each date can
be changed before booking. "Check" is a dry run of the booking itself (`course_check`), so what the
page says about a session is what booking it would say.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clients.models import Client
from clients.services import client_register
from clinic.errors import ClinicError, ConflictError
from clinic.models import StaffMember
from clinic.parsing import parse_id
from clinic.permissions import staff_required
from treatments.booking import course_book, course_cancel_remaining, course_check, course_plan, course_starts
from treatments.forms import CancelForm, CourseForm, NewClientForm, parse_local_datetime
from treatments.models import Course, Service
from treatments.views.booking import client_problem, picked_time, services_for, what_the_client_is_sent

DEFAULT_SESSIONS = 6
DEFAULT_GAPS = [7]


def _listed_starts(request, zone) -> tuple[list, str]:
    """Return the session starts as listed (and maybe edited) on the page, or an error."""
    raw = request.POST.getlist("course_start")
    starts = [parse_local_datetime(value, zone) for value in raw]
    if not raw or None in starts:
        return [], "Give every session a date and a time."
    return starts, ""


@dataclass
class _Order:
    """What the page asks to book: whom, what, with whom, when."""

    service: Service
    practitioner: StaffMember
    starts: list
    chosen_client: Client | None
    new_client_form: NewClientForm

    def client(self, clinic) -> Client:
        return self.chosen_client or client_register(clinic=clinic, **self.new_client_form.cleaned_data)

    def arguments(self, request, client) -> dict:
        return {
            "client": client,
            "service": self.service,
            "practitioner": self.practitioner,
            "starts": self.starts,
            "actor": request.user,
            "relative_contraindication_reason": request.POST.get("relative_reason", ""),
            "interval_override_reason": request.POST.get("override_reason", ""),
        }


def _planned_starts(course_form: CourseForm, first_start, plan_gaps, zone) -> list:
    if course_form.is_bound:
        sessions, gaps = course_form.cleaned_data["sessions"], course_form.cleaned_gaps()
    else:
        sessions, gaps = course_form.initial["sessions"], plan_gaps or DEFAULT_GAPS
    return course_starts(first_start=first_start, sessions=sessions, weekdays_pattern_days=gaps, zone=zone)


@staff_required
def book_course(request):
    """Plan a course from a first visit, check each session, and book all of them or none."""
    clinic = request.staff_member.clinic
    zone = clinic.zone
    params = request.POST if request.method == "POST" else request.GET
    practitioner, first_start = picked_time(clinic, params)
    if practitioner is None or first_start is None:
        return redirect("book")
    service = (
        Service.objects.filter(clinic=clinic, is_active=True, pk=parse_id(params.get("service")))
        .prefetch_related("protocols")
        .first()
    )
    plan_sessions, plan_gaps = course_plan(service) if service else (None, None)
    course_form = CourseForm(
        params if "sessions" in params else None,
        plan_gaps=plan_gaps,
        initial={
            "sessions": plan_sessions or DEFAULT_SESSIONS,
            "repeat": ",".join(str(g) for g in plan_gaps or DEFAULT_GAPS),
        },
    )
    new_client_form = NewClientForm(
        request.POST or None, prefix="new", use_required_attribute=False, clinic=clinic
    )
    chosen_client = Client.objects.filter(clinic=clinic, pk=parse_id(params.get("client"))).first()
    action = request.POST.get("action", "plan")

    starts, error = [], ""
    if action in ("check", "book"):
        starts, error = _listed_starts(request, zone)
    elif course_form.is_bound and not course_form.is_valid():
        error = "Check the number of sessions and how often they repeat."
    else:
        starts = _planned_starts(course_form, first_start, plan_gaps, zone)
    status = 400 if error else 200

    problems: list[str] = []
    to_check = ""  # what is missing before the sessions can be checked
    if request.method == "POST" and not error:
        missing = (
            "Choose the service of the course."
            if service is None
            else client_problem(request, chosen_client, new_client_form)
        )
        if missing and action == "book":
            error, status = missing, 400
        elif missing:
            to_check = missing
        else:
            order = _Order(service, practitioner, starts, chosen_client, new_client_form)
            if action == "book":
                try:
                    return _book(request, clinic, order)
                except ClinicError as refusal:
                    error = refusal.message
                    status = 409 if isinstance(refusal, ConflictError) else 400
            try:  # after a refused booking too: the table then shows every session that stops it
                problems = _dry_run(request, clinic, order)
            except ClinicError as refusal:  # the course as a whole cannot be (e.g. too many sessions)
                error, status = refusal.message, 400

    starts = sorted(starts)
    return render(
        request,
        "treatments/book_course.html",
        {
            "practitioner": practitioner,
            "start_value": timezone.localtime(first_start, zone).strftime("%Y-%m-%dT%H:%M"),
            "services": services_for(clinic, practitioner),
            "service": service,
            "course_form": course_form,
            "chosen_client": chosen_client,
            "new_client_form": new_client_form,
            "sessions": [
                {
                    "number": number,
                    "value": timezone.localtime(start, zone).strftime("%Y-%m-%dT%H:%M"),
                    "local": timezone.localtime(start, zone),
                    "checked": bool(problems),
                    "problem": problems[number - 1] if problems else "",
                }
                for number, start in enumerate(starts, 1)
            ],
            "blocked": sum(bool(p) for p in problems),
            "error": error,
            "to_check": to_check,
            "posted": request.POST,
        },
        status=status,
    )


def _book(request, clinic, order: _Order):
    """Book every session (and register a client typed in), then show the first with the course."""
    with transaction.atomic():
        client = order.client(clinic)
        course = course_book(
            **order.arguments(request, client),
            price_total=request.POST.get("course_price", "").strip() or None,
        )
    booked = list(course.appointments.order_by("start"))
    first = timezone.localtime(booked[0].start, clinic.zone)
    last = timezone.localtime(booked[-1].start, clinic.zone)
    messages.success(
        request,
        f"Booked {len(booked)} sessions of {order.service.name} for {client.full_name} with "
        f"{order.practitioner.display_name}, {first:%a %d %b %H:%M} to {last:%a %d %b %Y}."
        f"{what_the_client_is_sent(booked[0])}",
    )
    return redirect("appointment-detail", booked[0].pk)


def _dry_run(request, clinic, order: _Order) -> list[str]:
    """Check every session as booking would; a client typed in is registered only for the dry run."""
    with transaction.atomic():
        problems = course_check(**order.arguments(request, order.client(clinic)))
        transaction.set_rollback(True)
    return problems


@staff_required
@require_POST
def cancel_remaining(request, pk):
    """Cancel every session of a course still ahead, then go back to the visit it was done from."""
    course = get_object_or_404(Course, pk=pk, clinic=request.staff_member.clinic)
    form = CancelForm(request.POST, prefix="course-cancel")
    form.is_valid()
    try:
        cancelled = course_cancel_remaining(
            course, actor=request.user, reason=form.cleaned_data.get("reason", "")
        )
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        first = timezone.localtime(cancelled[0].start, request.staff_member.clinic.zone)
        count = len(cancelled)
        messages.success(
            request,
            f"Cancelled {count} session{'s' if count != 1 else ''} from {first:%a %d %b}. "
            "Their times are free again and the client will get one email.",
        )
    back_to = course.appointments.filter(pk=parse_id(request.POST.get("appointment"))).first()
    if back_to is not None:
        return redirect("appointment-detail", back_to.pk)
    return redirect("client-detail", course.client_id)
