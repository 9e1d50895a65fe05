"""Who may perform a service: the practitioner's qualifications against the service's protocols."""

from clinic.models import PractitionerQualification, StaffMember
from treatments.models import Service


def qualification_gaps(
    *, qualifications: list[PractitionerQualification], service: Service, modalities: set[str]
) -> list[str]:
    """Return what stops the practitioner from performing the service, in plain words; empty if nothing.

    `modalities` are the service's protocol modalities (passed in so callers can prefetch them).
    """
    by_modality = {q.modality: q for q in qualifications}
    gaps = []
    for modality in sorted(modalities):
        qualification = by_modality.get(modality)
        if qualification is None:
            gaps.append(f"not qualified for {modality}")
            continue
        if (
            modality == "microneedling"
            and service.max_depth_mm is not None
            and (qualification.max_depth_mm is None or qualification.max_depth_mm < service.max_depth_mm)
        ):
            allowed = qualification.max_depth_mm or 0
            gaps.append(
                f"qualified for microneedling to {millimetres(allowed)} mm, "
                f"the service needs {millimetres(service.max_depth_mm)} mm"
            )
    return gaps


def millimetres(depth) -> str:
    """A needle depth as people write it: 1.0, 0.25, 2.5 (not 1.00 from the database, nor 1)."""
    text = f"{depth:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def is_qualified(practitioner: StaffMember, service: Service) -> bool:
    """Return True when the practitioner may perform every modality of the service at its depth."""
    modalities = {p.modality for p in service.protocols.all()}
    return not qualification_gaps(
        qualifications=list(practitioner.qualifications.all()), service=service, modalities=modalities
    )
