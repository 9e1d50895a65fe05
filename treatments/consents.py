"""Changes to a client's consent that reach their visits ahead."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from clients.models import Client, ConsentWithdrawal
from clients.services import consent_ask_again
from clinic.models import StaffMember
from treatments.models import Appointment
from treatments.notifications import notify_forms_request
from treatments.selectors import client_visits_ahead_for


@dataclass(frozen=True)
class PlanChange:
    """The consent asked again, the visits ahead that now wait for it, and the visit whose link went."""

    asked: ConsentWithdrawal
    visits_ahead: list[Appointment]
    link_sent_for: Appointment | None


@transaction.atomic
def consent_plan_change(*, client: Client, modality: str, by: StaffMember, what_changed: str) -> PlanChange:
    """The practitioner changed the client's plan for a treatment: the client consents again
    (`consent_ask_again`), and, when they have an email address, the link to sign is queued now for
    their next visit for it, in the same transaction."""
    asked = consent_ask_again(client=client, modality=modality, by=by, what_changed=what_changed)
    ahead = client_visits_ahead_for(client, modality, now=timezone.now())
    link_sent_for = None
    if ahead and client.email and notify_forms_request(ahead[0]):
        link_sent_for = ahead[0]
    return PlanChange(asked, ahead, link_sent_for)
