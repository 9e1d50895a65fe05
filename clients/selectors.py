"""Reads of the clients layer."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from clients.models import Client, ConsentTemplate, IntakeQuestionnaire, IntakeResponse, SignedConsent
from clinic.models import Clinic


def clients_matching(*, clinic: Clinic, query: str) -> QuerySet[Client]:
    """Return the clinic's clients whose name, email or phone contain every word of the query.

    A NUL character is dropped: no stored text holds one (PostgreSQL refuses it in a query, a 500).
    """
    clients = Client.objects.filter(clinic=clinic)
    for word in query.replace("\x00", "").split():
        clients = clients.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(phone__icontains=word)
        )
    return clients.order_by("last_name", "first_name", "id")


@dataclass(frozen=True)
class FormsNeeded:
    """What a client must fill or sign before a visit: the intake form and consent per modality."""

    intake: IntakeQuestionnaire | None
    consents: list[ConsentTemplate]

    def __bool__(self) -> bool:
        return self.intake is not None or bool(self.consents)

    @property
    def names(self) -> list[str]:
        return ([self.intake.title] if self.intake else []) + [c.title for c in self.consents]


def forms_needed(*, client: Client, modalities: set[str], at: dt.datetime) -> FormsNeeded:
    """Return the forms missing or stale for a visit at `at` (four queries whatever the history).

    Intake is stale once older than the clinic's validity; a consent when the clinic published a
    new version of it or it is older than the clinic's consent validity.
    """
    clinic = client.clinic
    current_intake = IntakeQuestionnaire.objects.filter(clinic=clinic, is_current=True).first()
    intake = None
    if current_intake is not None:
        latest = IntakeResponse.objects.filter(client=client).order_by("-submitted_at", "-id").first()
        if latest is None or latest.submitted_at < at - dt.timedelta(days=clinic.intake_validity_days):
            intake = current_intake
    current_consents = ConsentTemplate.objects.filter(clinic=clinic, modality__in=modalities, is_current=True)
    signed_after = at - dt.timedelta(days=clinic.consent_validity_days)
    signed = {
        (s.modality, s.version)
        for s in SignedConsent.objects.filter(
            client=client, modality__in=modalities, signed_at__gte=signed_after
        )
    }
    consents = [t for t in current_consents.order_by("modality") if (t.modality, t.version) not in signed]
    return FormsNeeded(intake=intake, consents=consents)
