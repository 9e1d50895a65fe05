"""Check a client's intake conditions against the contraindication rules of a service's protocols."""

import datetime as dt
from dataclasses import dataclass

from clients.models import Client, ClientCondition, IntakeResponse
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


def contraindication_findings(*, client: Client, service: Service, on: dt.date) -> list[Finding]:
    """Return the rules of the service's protocols that the client's latest intake triggers on `on`.

    A rule with within_days applies when the condition's date is fewer than that many days before `on`;
    a dated rule whose condition has no date applies (the safe reading of an unanswered date).
    """
    conditions = {c.code: c for c in latest_conditions(client)}
    if not conditions:
        return []
    rules = ContraindicationRule.objects.filter(
        protocol__in=service.protocols.all(), condition_code__in=conditions
    ).select_related("protocol")
    findings = []
    for rule in rules.order_by("severity", "condition_code", "id"):
        condition = conditions[rule.condition_code]
        if rule.within_days and condition.noted_on and (on - condition.noted_on).days >= rule.within_days:
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
