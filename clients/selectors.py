"""Reads of the clients layer."""

from django.db.models import Q, QuerySet

from clients.models import Client
from clinic.models import Clinic


def clients_matching(*, clinic: Clinic, query: str) -> QuerySet[Client]:
    """Return the clinic's clients whose name, email or phone contain every word of the query."""
    clients = Client.objects.filter(clinic=clinic)
    for word in query.split():
        clients = clients.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(phone__icontains=word)
        )
    return clients.order_by("last_name", "first_name", "id")
