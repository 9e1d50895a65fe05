"""Celery tasks of the clients layer."""

from celery import shared_task

from clients.imports import imports_forget_old


@shared_task(name="clients.tasks.forget_old_client_imports_task", ignore_result=True)
def forget_old_client_imports_task() -> tuple[int, int]:
    """Files of clients left unimported put aside, and the rows imports left out forgotten, when due."""
    return imports_forget_old()
