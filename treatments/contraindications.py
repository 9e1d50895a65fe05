"""Check a client's intake conditions against the contraindication rules of a service's protocols."""

import datetime as dt
from dataclasses import dataclass

from clients.models import Client, ClientCondition, IntakeQuestionnaire, IntakeResponse
from treatments.models import ContraindicationRule, ContraindicationSeverity, Service


@dataclass(frozen=True)
class Finding:
    severity: str  # ContraindicationSeverity
    condition_code: str
    protocol_name: str
    explanation: str

    def describe(self) -> str:
        return f"{self.explanation or self.condition_code} ({self.protocol_name})"


def latest_conditions(client: Client) -> list[ClientCondition]:
    """Return the conditions recorded by the client's most recent intake, or none without an intake."""
    response = IntakeResponse.objects.filter(client=client).order_by("-submitted_at", "-id").first()
    return list(response.conditions.all()) if response else []


# A condition the clinic knows without asking, from the client's date of birth on the visit's day; a
# protocol's rule can name it like any condition an intake answer records.
UNDER_18 = "under-18"
DERIVED_CONDITIONS = {UNDER_18: "Under 18 on the day of the visit (from the date of birth)"}


def contraindication_findings(*, client: Client, service: Service, on: dt.date) -> list[Finding]:
    """Return the rules of the service's protocols that the client's latest intake triggers on `on`,
    and those over what their date of birth says that day (`DERIVED_CONDITIONS`).

    A rule with within_days applies when the condition's date is fewer than that many days before `on`;
    a dated rule whose condition has no date applies (the safe reading of an unanswered date).
    """
    conditions = {c.code: c.noted_on for c in latest_conditions(client)}
    age = client.age_on(on)
    if age is not None and age < 18:
        conditions[UNDER_18] = None
    if not conditions:
        return []
    rules = ContraindicationRule.objects.filter(
        protocol__in=service.protocols.all(), condition_code__in=conditions
    ).select_related("protocol")
    findings = []
    for rule in rules.order_by("severity", "condition_code", "id"):
        noted_on = conditions[rule.condition_code]
        if rule.within_days and noted_on and (on - noted_on).days >= rule.within_days:
            continue
        findings.append(
            Finding(
                severity=rule.severity,
                condition_code=rule.condition_code,
                protocol_name=rule.protocol.name,
                explanation=rule.explanation,
            )
        )
    return findings


def absolute(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ContraindicationSeverity.ABSOLUTE]


def relative(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ContraindicationSeverity.RELATIVE]


def conditions_recorded(clinic) -> set[str]:
    """The condition codes a rule can meet in this clinic: those the current intake form's answers
    record, and the derived ones (one query)."""
    form = IntakeQuestionnaire.objects.filter(clinic=clinic, is_current=True).first()
    asked = {q["condition"] for q in (form.questions if form else []) if q.get("condition")}
    return asked | set(DERIVED_CONDITIONS)


def rules_never_met(protocol) -> list[ContraindicationRule]:
    """The protocol's rules over a condition no current intake question records: they can never apply."""
    recorded = conditions_recorded(protocol.clinic)
    return [rule for rule in protocol.contraindications.all() if rule.condition_code not in recorded]
