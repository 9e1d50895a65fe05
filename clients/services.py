"""Writes about clients. Each function is the one door for its change."""

from django.db import transaction
from django.utils import timezone

from clients.models import Client
from clinic.models import Clinic
from clinic.outbox import outbox_cancel_non_essential


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


@transaction.atomic
def client_unsubscribe(*, client: Client) -> bool:
    """Stop aftercare and other non-essential mail to the client; return False if already stopped.

    Booking mail (confirmations, reminders, changes) still goes: the client needs it to attend.
    """
    client = Client.objects.select_for_update().get(pk=client.pk)
    changed = (
        client.unsubscribed_at is None or client.accepts_aftercare_email or client.accepts_marketing_email
    )
    if changed:
        client.unsubscribed_at = client.unsubscribed_at or timezone.now()
        client.accepts_aftercare_email = False
        client.accepts_marketing_email = False
        client.save(update_fields=["unsubscribed_at", "accepts_aftercare_email", "accepts_marketing_email"])
    outbox_cancel_non_essential(client_id=client.pk)
    return changed


def client_accepts_non_essential_mail(client: Client) -> bool:
    return bool(client.email) and client.unsubscribed_at is None and client.accepts_aftercare_email
