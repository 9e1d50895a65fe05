"""Celery tasks of the treatments layer. Each takes ids (or nothing) and is safe to run twice."""

from celery import shared_task

from clinic.models import Clinic
from treatments.keeping import keeping_review_remind


@shared_task(name="treatments.tasks.remind_records_past_keeping_task", ignore_result=True)
def remind_records_past_keeping_task() -> int:
    """Each clinic's managers are told, once a month, of the client records past their keeping time."""
    return sum(keeping_review_remind(clinic) for clinic in Clinic.objects.order_by("pk"))
