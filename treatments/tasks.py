"""Celery tasks of the treatments layer. Each takes ids (or nothing) and is safe to run twice."""

from celery import shared_task

from clinic.models import Clinic
from treatments.keeping import keeping_review_remind
from treatments.visit_imports import visit_import_book, visit_imports_unfinished


@shared_task(name="treatments.tasks.remind_records_past_keeping_task", ignore_result=True)
def remind_records_past_keeping_task() -> int:
    """Each clinic's managers are told, once a month, of the client records past their keeping time."""
    return sum(keeping_review_remind(clinic) for clinic in Clinic.objects.order_by("pk"))


@shared_task(name="treatments.tasks.book_imported_visits_task", ignore_result=True)
def book_imported_visits_task(import_id: int) -> int | None:
    """Book the visits of a file a manager imported (once: a file booked already is left alone)."""
    done = visit_import_book(import_id)
    return done.imported_count if done else None


@shared_task(name="treatments.tasks.book_unfinished_visit_imports_task", ignore_result=True)
def book_unfinished_visit_imports_task() -> int:
    """Files of visits whose worker died, or whose broker was down, handed to a worker again."""
    return len(visit_imports_unfinished())
