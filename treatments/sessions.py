"""Writes about treatment sessions. Signing a session off is what starts its aftercare."""

from django.db import transaction
from django.utils import timezone

from clinic.errors import ClinicError, NotAllowedError
from clinic.models import StaffMember
from treatments.aftercare import aftercare_schedule
from treatments.models import TreatmentSession


@transaction.atomic
def treatment_session_sign_off(*, session: TreatmentSession, by: StaffMember) -> TreatmentSession:
    """Sign the session's record off (then it is read-only) and write its aftercare to the outbox."""
    session = (
        TreatmentSession.objects.select_for_update(of=("self",))
        .select_related("clinic", "client", "practitioner", "appointment__service")
        .get(pk=session.pk)
    )
    if by.clinic_id != session.clinic_id or not (by.is_practitioner or by.is_manager):
        raise NotAllowedError("Only a practitioner or manager of this clinic can sign a session off.")
    if session.signed_off_at is not None:
        raise ClinicError("This session was already signed off.", code="already_signed_off")
    if not (session.microneedling.exists() or session.microcurrent.exists() or session.mesotherapy.exists()):
        raise ClinicError(
            "Record at least one treated area before signing the session off.", code="empty_record"
        )
    session.signed_off_at = timezone.now()
    session.signed_off_by = by
    session.save(update_fields=["signed_off_at", "signed_off_by"])
    aftercare_schedule(session)
    return session
