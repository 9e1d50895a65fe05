"""Writes about clients. Each function is the one door for its change."""

from django.db import transaction

from clients.models import Client
from clinic.models import Clinic


@transaction.atomic
def client_register(
    *,
    clinic: Clinic,
    first_name: str,
    last_name: str,
    email: str = "",
    phone: str = "",
    date_of_birth=None,
    **details,
) -> Client:
    """Create a client of the clinic from already-validated fields."""
    client = Client(
        clinic=clinic,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip().lower(),
        phone=phone.strip(),
        date_of_birth=date_of_birth,
        **details,
    )
    client.full_clean()
    client.save()
    return client
