"""What clients say of their visits: the rating and words given from the link in the email that asks
(`notifications.notify_feedback_request`), and what the staff read of them."""

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count

from clinic.errors import ClinicError
from clinic.models import Clinic
from treatments.booking import note_text
from treatments.models import AppointmentStatus, VisitFeedback

RATINGS = {1: "Poor", 2: "Disappointing", 3: "All right", 4: "Good", 5: "Excellent"}
# A rating this low or lower is put before the managers on today's list.
LOW_RATING = 2
# What the staff's lists of feedback show of each: the visit's client, practitioner and service.
FEEDBACK_RELATED = ("appointment__client", "appointment__practitioner", "appointment__service")


def visit_feedback_give(appointment, *, rating: int, comment: str = "") -> VisitFeedback:
    """Keep the client's rating (1 to 5) and words for a visit that took place; once per visit."""
    if appointment.status != AppointmentStatus.FULFILLED:
        raise ClinicError("This visit has not taken place, so there is nothing to rate yet.", code="not_had")
    if rating not in RATINGS:
        raise ClinicError("Choose from 1 to 5.", code="rating")
    comment = note_text(comment, whose="Your")
    try:
        with transaction.atomic():
            return VisitFeedback.objects.create(appointment=appointment, rating=rating, comment=comment)
    except IntegrityError:
        raise ClinicError(
            "You have already told us about this visit. Thank you.", code="already_given"
        ) from None


def low_ratings_since(clinic: Clinic, *, since: dt.datetime) -> list[VisitFeedback]:
    """The clinic's feedback of LOW_RATING or less given since then, newest first (one query)."""
    return list(
        VisitFeedback.objects.filter(appointment__clinic=clinic, given_at__gte=since, rating__lte=LOW_RATING)
        .select_related(*FEEDBACK_RELATED)
        .order_by("-given_at", "-id")
    )


def feedback_between(clinic: Clinic, start: dt.datetime, end: dt.datetime) -> dict:
    """The feedback on the clinic's visits that started between these instants: how many, the mean
    rating, and each, lowest first (two queries)."""
    given = VisitFeedback.objects.filter(
        appointment__clinic=clinic, appointment__start__gte=start, appointment__start__lt=end
    )
    summary = given.aggregate(count=Count("id"), mean=Avg("rating"))
    return {
        "count": summary["count"],
        "mean": round(summary["mean"], 1) if summary["mean"] is not None else None,
        "each": list(given.select_related(*FEEDBACK_RELATED).order_by("rating", "-given_at", "-id")),
    }


def stars(rating: int) -> str:
    """★★★☆☆ for 3."""
    return "★" * rating + "☆" * (5 - rating)
