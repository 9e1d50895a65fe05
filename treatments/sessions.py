"""Writes about treatment sessions: the practitioner's record of a visit, area by area, then its sign-off.

A record is started from a visit once the client is there, and only when nothing stops the treatment
(an absolute contraindication in the latest intake, a form still to fill or sign). Each treated area is
checked as it is written:
- hard limits refuse: the practitioner's qualification (modality and needle depth), the device's reach,
  a device of the wrong kind, a product lot past its expiry or recalled by its maker;
- the protocol's ranges (areas, depths, current, frequency, waveforms, techniques, products) are the
  clinic's defaults, so going outside one needs a reason, recorded with the area.
Signing off makes the record read-only, completes the visit and writes its aftercare to the outbox, in
one transaction.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from clients.models import PhotoConsentScope
from clients.selectors import consent_signatures, forms_needed, photo_consent_current
from clinic.errors import ClinicError, NotAllowedError
from clinic.models import Device, Modality, StaffMember
from clinic.permissions import may_read_health_data
from treatments.aftercare import aftercare_schedule
from treatments.booking import appointment_set_status, status_refusal
from treatments.contraindications import absolute, contraindication_findings
from treatments.models import (
    Appointment,
    AppointmentStatus,
    BodyArea,
    MesoTechnique,
    MesotherapyRecord,
    MicrocurrentRecord,
    MicroneedlingRecord,
    ProductLot,
    Protocol,
    ProtocolArea,
    SessionAddendum,
    SessionPhoto,
    TreatmentSession,
    Waveform,
)
from treatments.selectors import device_kinds_for

RECORD_MODELS = {
    Modality.MICRONEEDLING: MicroneedlingRecord,
    Modality.MICROCURRENT: MicrocurrentRecord,
    Modality.MESOTHERAPY: MesotherapyRecord,
}


def num(value) -> str:
    """0.50 → "0.5", 100 → "100"."""
    return format(Decimal(value).normalize(), "f")


def mm(value) -> str:
    """0.50 → "0.5 mm"."""
    return f"{num(value)} mm"


def between(low, high, unit: str) -> str:
    """The protocol's range as a person reads it: "100–400 µA", "from 0.5 Hz", "up to 10 Hz"."""
    if low is None and high is None:
        return "range (none set)"
    if low is not None and high is not None:
        return f"{num(low)}–{num(high)} {unit}"
    return f"from {num(low)} {unit}" if low is not None else f"up to {num(high)} {unit}"


def may_record(member: StaffMember | None) -> bool:
    """Treatment records are written by those who may read the client's health data (practitioners and
    managers): a record is written against the intake and its flags. The front desk sees only its state."""
    return may_read_health_data(member)


def may_write(member: StaffMember | None, visit_or_session) -> bool:
    """A record is written by the practitioner who treats (the visit's), or by a manager for them."""
    return (
        member is not None
        and member.clinic_id == visit_or_session.clinic_id
        and (member.pk == visit_or_session.practitioner_id or member.is_manager)
    )


def write_refusal(by: StaffMember, visit_or_session) -> NotAllowedError | None:
    """Why `by` may not write this visit's record (None if they may)."""
    if may_write(by, visit_or_session):
        return None
    if not may_record(by) or by.clinic_id != visit_or_session.clinic_id:
        return NotAllowedError("Treatment records are written by the clinic's practitioners and managers.")
    return NotAllowedError(
        f"{visit_or_session.practitioner.display_name} treats this client, so they write the record "
        "(or a manager for them). If you treat instead, move the visit to you first."
    )


def _check_recorder(visit_or_session, by: StaffMember) -> None:
    refusal = write_refusal(by, visit_or_session)
    if refusal is not None:
        raise refusal


# --- starting the record --------------------------------------------------------------------------


def record_start_refusal(appointment: Appointment, *, now: dt.datetime) -> ClinicError | None:
    """Why a treatment record cannot be started for this visit now (None if it can)."""
    status = appointment.status
    zone = appointment.clinic.zone
    if status in (AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN, AppointmentStatus.FULFILLED):
        pass
    elif status == AppointmentStatus.BOOKED:
        refusal = status_refusal(appointment, AppointmentStatus.ARRIVED, now=now)
        if refusal is not None:
            start = timezone.localtime(appointment.start, zone)
            if start.date() > timezone.localdate(now, zone):
                return ClinicError(
                    f"This visit is on {start:%A} {start.day} {start:%B}. The record is started when the "
                    "client is here.",
                    code="not_yet",
                )
            return ClinicError(
                "This visit was on an earlier day and was never checked in: mark it completed or a "
                "no-show first.",
                code="not_today",
            )
    else:
        return ClinicError(
            f"This visit is {appointment.get_status_display().lower()}: there is no treatment to record.",
            code="not_treated",
        )
    on = timezone.localdate(appointment.start, zone)
    stops = absolute(contraindication_findings(client=appointment.client, service=appointment.service, on=on))
    if stops:
        return ClinicError(
            "Do not treat: "
            + "; ".join(f"{f.explanation} ({f.protocol_name})" for f in stops)
            + ", in the client's latest intake. If the intake is wrong, have the client fill it again.",
            code="contraindicated",
        )
    modalities = {p.modality for p in appointment.service.protocols.all()}
    missing = forms_needed(client=appointment.client, modalities=modalities, at=appointment.start).names
    if missing:
        return ClinicError(
            f"{appointment.client.first_name} must still fill or sign: {', '.join(missing)}. Open the forms "
            "on the visit's page for them to fill, then start the record.",
            code="forms_missing",
        )
    unsigned = [c for c in consent_signatures(client=appointment.client, modalities=modalities) if c.missing]
    if unsigned:
        return ClinicError(
            f"{appointment.client.first_name}'s consent still needs signing by the clinic: "
            + "; ".join(c.missing_text for c in unsigned)
            + ". Sign it under “Before the session” on the visit's page, then start the record.",
            code="countersignature_missing",
        )
    return None


@transaction.atomic
def treatment_session_start(
    *, appointment: Appointment, by: StaffMember, now: dt.datetime | None = None
) -> TreatmentSession:
    """Start the visit's treatment record (or return the one already started).

    A client still booked on the visit's day is checked in by it; a visit ahead, cancelled or missed
    has nothing to record.
    """
    _check_recorder(appointment, by)
    now = now or timezone.now()
    visit = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("clinic", "client", "service", "practitioner")
        .get(pk=appointment.pk)
    )
    existing = TreatmentSession.objects.filter(appointment=visit).first()
    if existing is not None:
        return existing
    refusal = record_start_refusal(visit, now=now)
    if refusal is not None:
        raise refusal
    if visit.status == AppointmentStatus.BOOKED:
        appointment_set_status(visit, status=AppointmentStatus.ARRIVED, actor=by.user, now=now)
    return TreatmentSession.objects.create(
        clinic=visit.clinic,
        appointment=visit,
        client=visit.client,
        practitioner=visit.practitioner,
        started_at=now,
    )


# --- what each area may be ------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    """A session being written, with what checks its areas: the protocol and the practitioner's limits."""

    session: TreatmentSession
    modality: str
    protocol: Protocol | None
    areas: dict[int, ProtocolArea]  # by area id; empty when the protocol lists no areas
    qualification_max_depth: Decimal | None


def _locked_unsigned(session: TreatmentSession) -> TreatmentSession:
    """The session locked for this transaction, refused if it is signed off already."""
    locked = (
        TreatmentSession.objects.select_for_update(of=("self",))
        .select_related("clinic", "client", "practitioner", "appointment__service")
        .get(pk=session.pk)
    )
    if locked.signed_off_at is not None:
        raise ClinicError("This record is signed off and can no longer change.", code="signed_off")
    return locked


def _open_for_writing(session: TreatmentSession, by: StaffMember, modality: str) -> Recording:
    """Lock the session, check it can still be written by `by` for this modality, and load its rules."""
    _check_recorder(session, by)
    locked = _locked_unsigned(session)
    label = Modality(modality).label.lower()
    protocol = None
    if locked.appointment_id:
        protocol = next(
            (p for p in locked.appointment.service.protocols.all() if p.modality == modality), None
        )
        if protocol is None:
            raise ClinicError(
                f"{locked.appointment.service.name} does not include {label}: record only what the "
                "service is for, or book the client for the other service.",
                code="not_in_service",
            )
    qualification = locked.practitioner.qualifications.filter(modality=modality).first()
    if qualification is None:
        raise ClinicError(
            f"{locked.practitioner.display_name} is not qualified for {label}.", code="not_qualified"
        )
    areas = {pa.area_id: pa for pa in protocol.areas.select_related("area")} if protocol else {}
    return Recording(locked, modality, protocol, areas, qualification.max_depth_mm)


class _Deviations:
    """What falls outside the protocol's defaults: allowed with a reason, refused without one."""

    def __init__(self):
        self.found: list[str] = []

    def check(self, condition: bool, text: str) -> None:
        if condition:
            self.found.append(text)

    def settle(self, reason: str) -> str:
        reason = (reason or "").strip()
        if self.found and not reason:
            raise ClinicError(
                " ".join(self.found) + " Give the reason to record it anyway.", code="needs_reason"
            )
        return reason if self.found else ""


def _check_area(recording: Recording, area: BodyArea, deviations: _Deviations):
    protocol_area = recording.areas.get(area.pk)
    deviations.check(
        bool(recording.areas) and protocol_area is None,
        f"{area.name} is not an area of the protocol {recording.protocol and recording.protocol.name}.",
    )
    return protocol_area


def _check_device(recording: Recording, device: Device | None) -> None:
    if device is None:
        return
    label = Modality(recording.modality).label.lower()
    allowed = device_kinds_for(recording.modality, recording.protocol)
    if device.clinic_id != recording.session.clinic_id:
        raise ClinicError("Choose one of the clinic's devices.", code="bad_device")
    if device.kind not in allowed:
        raise ClinicError(
            f"{device.name} is a {device.get_kind_display().lower()}, not a device for {label} here.",
            code="bad_device",
        )
    if not device.is_active:
        raise ClinicError(f"{device.name} is out of use: choose another device.", code="bad_device")


@transaction.atomic
def treatment_session_add_microneedling(
    *,
    session: TreatmentSession,
    by: StaffMember,
    area: BodyArea,
    depth_mm: Decimal,
    passes: int,
    device: Device | None = None,
    cartridge_lot: str = "",
    outside_protocol_reason: str = "",
) -> MicroneedlingRecord:
    """Record one needled area: depth and passes, with the device and its cartridge's lot."""
    recording = _open_for_writing(session, by, Modality.MICRONEEDLING)
    _check_device(recording, device)
    depth = Decimal(depth_mm)
    practitioner = recording.session.practitioner.display_name
    if recording.qualification_max_depth is not None and depth > recording.qualification_max_depth:
        most = mm(recording.qualification_max_depth)
        raise ClinicError(
            f"{practitioner} is qualified to needle to {most}, not {mm(depth)}.",
            code="too_deep_for_practitioner",
        )
    if device is not None and device.max_depth_mm is not None and depth > device.max_depth_mm:
        raise ClinicError(
            f"{device.name} reaches {mm(device.max_depth_mm)}, not {mm(depth)}.", code="too_deep_for_device"
        )
    deviations = _Deviations()
    protocol_area = _check_area(recording, area, deviations)
    if protocol_area is not None and protocol_area.min_depth_mm is not None:
        low, high = protocol_area.min_depth_mm, protocol_area.max_depth_mm
        deviations.check(
            not low <= depth <= high,
            f"{mm(depth)} is outside the protocol's {between(low, high, 'mm')} for {area.name}.",
        )
    return MicroneedlingRecord.objects.create(
        session=recording.session,
        area=area,
        device=device,
        depth_mm=depth,
        passes=passes,
        cartridge_lot=cartridge_lot.strip(),
        outside_protocol_reason=deviations.settle(outside_protocol_reason),
    )


@transaction.atomic
def treatment_session_add_microcurrent(
    *,
    session: TreatmentSession,
    by: StaffMember,
    area: BodyArea,
    current_ua: int,
    frequency_hz: Decimal,
    waveform: str,
    minutes: int,
    device: Device | None = None,
    outside_protocol_reason: str = "",
) -> MicrocurrentRecord:
    """Record one area worked with microcurrent: current, frequency, waveform and minutes."""
    recording = _open_for_writing(session, by, Modality.MICROCURRENT)
    _check_device(recording, device)
    protocol = recording.protocol
    deviations = _Deviations()
    _check_area(recording, area, deviations)
    if protocol is not None:
        for value, low, high, unit in (
            (current_ua, protocol.current_min_ua, protocol.current_max_ua, "µA"),
            (Decimal(frequency_hz), protocol.frequency_min_hz, protocol.frequency_max_hz, "Hz"),
        ):
            deviations.check(
                (low is not None and value < low) or (high is not None and value > high),
                f"{num(value)} {unit} is outside the protocol's {between(low, high, unit)}.",
            )
        usual = [Waveform(w).label.lower() for w in protocol.waveforms if w in Waveform.values]
        deviations.check(
            bool(usual) and waveform not in protocol.waveforms,
            f"The protocol uses {' or '.join(usual)} waves, not {Waveform(waveform).label.lower()}.",
        )
    return MicrocurrentRecord.objects.create(
        session=recording.session,
        area=area,
        device=device,
        current_ua=current_ua,
        frequency_hz=frequency_hz,
        waveform=waveform,
        minutes=minutes,
        outside_protocol_reason=deviations.settle(outside_protocol_reason),
    )


@transaction.atomic
def treatment_session_add_mesotherapy(
    *,
    session: TreatmentSession,
    by: StaffMember,
    area: BodyArea,
    lot: ProductLot,
    volume_ml: Decimal,
    depth_mm: Decimal,
    technique: str,
    outside_protocol_reason: str = "",
) -> MesotherapyRecord:
    """Record one product given into one area, with its lot and expiry, so a recall finds the client."""
    recording = _open_for_writing(session, by, Modality.MESOTHERAPY)
    protocol = recording.protocol
    lot = ProductLot.objects.select_related("product").get(pk=lot.pk)
    if lot.product.clinic_id != recording.session.clinic_id:
        raise ClinicError("Choose a lot of one of the clinic's products.", code="bad_lot")
    treated_on = timezone.localdate(recording.session.started_at, recording.session.clinic.zone)
    if lot.recalled_on:
        raise ClinicError(
            f"{lot.product.name} lot {lot.lot_number} was recalled by its maker on "
            f"{lot.recalled_on:%d %B %Y} ({lot.recall_note}): do not use it.",
            code="lot_recalled",
        )
    if lot.expiry_date < treated_on:
        raise ClinicError(
            f"{lot.product.name} lot {lot.lot_number} expired on {lot.expiry_date:%d %B %Y}: do not use it.",
            code="lot_expired",
        )
    depth = Decimal(depth_mm)
    deviations = _Deviations()
    _check_area(recording, area, deviations)
    if protocol is not None:
        products = list(protocol.products.all())
        deviations.check(
            bool(products) and lot.product not in products,
            f"{lot.product.name} is not one of the protocol's products.",
        )
        low, high = protocol.depth_min_mm, protocol.depth_max_mm
        deviations.check(
            (low is not None and depth < low) or (high is not None and depth > high),
            f"{mm(depth)} is outside the protocol's {between(low, high, 'mm')}.",
        )
        deviations.check(
            bool(protocol.techniques) and technique not in protocol.techniques,
            f"{MesoTechnique(technique).label} is not one of the protocol's techniques.",
        )
    return MesotherapyRecord.objects.create(
        session=recording.session,
        area=area,
        lot=lot,
        product_name=lot.product.name,
        lot_number=lot.lot_number,
        expiry_date=lot.expiry_date,
        volume_ml=volume_ml,
        depth_mm=depth,
        technique=technique,
        outside_protocol_reason=deviations.settle(outside_protocol_reason),
    )


@transaction.atomic
def treatment_session_remove_area(
    *, session: TreatmentSession, by: StaffMember, modality: str, record_id: int
) -> None:
    """Take back an area recorded by mistake, before sign-off."""
    recording = _open_for_writing(session, by, modality)
    deleted, _ = RECORD_MODELS[modality].objects.filter(session=recording.session, pk=record_id).delete()
    if not deleted:
        raise ClinicError("That area is no longer in the record.", code="gone")


@transaction.atomic
def treatment_session_set_notes(
    *, session: TreatmentSession, by: StaffMember, notes: str
) -> TreatmentSession:
    """Write the session's free-text notes (skin's response, advice given), before sign-off."""
    _check_recorder(session, by)
    locked = _locked_unsigned(session)
    locked.notes = notes.strip()
    locked.save(update_fields=["notes"])
    return locked


# --- photos -----------------------------------------------------------------------------------

MAX_PHOTO_BYTES = 20 * 1024 * 1024  # a phone's full-size photo, with room to spare
# The media type of each kind of photo kept (by its file name's ending, which `photo_kind` gave it).
PHOTO_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic"}


def photo_media_type(name: str) -> str:
    return PHOTO_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


# What a photo's first bytes are, and the extension it is stored under (never the uploaded name).
PHOTO_SIGNATURES = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
)


def photo_kind(head: bytes) -> str | None:
    """The stored extension of a photo from its first bytes: JPEG, PNG, WebP or HEIC; None otherwise."""
    for signature, extension in PHOTO_SIGNATURES:
        if head.startswith(signature):
            return extension
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "heic"
    return None


@transaction.atomic
def treatment_session_add_photo(
    *, session: TreatmentSession, by: StaffMember, image, area: BodyArea | None = None, caption: str = ""
) -> SessionPhoto:
    """Keep a photo in the record, if the client consented to photos for their clinical record.

    The file is stored under a random name (the uploaded one can carry the client's name) and read
    back only through the record's pages.
    """
    _check_recorder(session, by)
    locked = _locked_unsigned(session)
    if photo_consent_current(locked.client, PhotoConsentScope.CLINICAL) is None:
        raise ClinicError(
            f"{locked.client.first_name} has not consented to photos for their clinical record: record "
            "their consent first.",
            code="no_photo_consent",
        )
    if image.size > MAX_PHOTO_BYTES:
        raise ClinicError(
            f"That file is {image.size // (1024 * 1024)} MB; a photo can be at most 20 MB.", code="too_big"
        )
    image.seek(0)
    kind = photo_kind(image.read(16))
    image.seek(0)
    if kind is None:
        raise ClinicError(
            "That file is not a photo: give a JPEG, PNG, WebP or HEIC image.", code="not_a_photo"
        )
    photo = SessionPhoto(session=locked, area=area, caption=caption.strip())
    photo.image.save(f"{uuid.uuid4().hex}.{kind}", image, save=False)
    photo.save()
    return photo


# --- signing off ----------------------------------------------------------------------------------


@transaction.atomic
def treatment_session_sign_off(*, session: TreatmentSession, by: StaffMember) -> TreatmentSession:
    """Sign the session's record off (then it is read-only), complete its visit and write its aftercare.

    The practitioner who treated signs, or a manager for them.
    """
    session = (
        TreatmentSession.objects.select_for_update(of=("self",))
        .select_related("clinic", "client", "practitioner", "appointment__service")
        .get(pk=session.pk)
    )
    if not may_write(by, session):
        raise NotAllowedError(
            f"Only {session.practitioner.display_name}, who treated the client, or a manager can sign "
            "this record off."
        )
    if session.signed_off_at is not None:
        raise ClinicError("This session was already signed off.", code="already_signed_off")
    if not (session.microneedling.exists() or session.microcurrent.exists() or session.mesotherapy.exists()):
        raise ClinicError(
            "Record at least one treated area before signing the session off.", code="empty_record"
        )
    session.signed_off_at = timezone.now()
    session.signed_off_by = by
    session.save(update_fields=["signed_off_at", "signed_off_by"])
    visit = session.appointment
    if visit is not None and visit.status in (AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN):
        appointment_set_status(visit, status=AppointmentStatus.FULFILLED, actor=by.user)
    aftercare_schedule(session)
    return session


@transaction.atomic
def treatment_session_add_addendum(
    *, session: TreatmentSession, by: StaffMember, text: str
) -> SessionAddendum:
    """Add what was learnt after sign-off (a reaction reported, a correction) beside the final record.

    Any of the clinic's practitioners or managers may: the client may call whoever is in. The record
    itself stays as signed; an addendum, once written, never changes either.
    """
    if not may_record(by) or by.clinic_id != session.clinic_id:
        raise NotAllowedError("Treatment records are written by the clinic's practitioners and managers.")
    locked = TreatmentSession.objects.select_for_update(of=("self",)).get(pk=session.pk)
    if locked.signed_off_at is None:
        raise ClinicError(
            "The record is not signed off yet: write this in its notes instead.", code="not_signed_off"
        )
    text = text.strip()
    if not text:
        raise ClinicError("Write what the addendum says.", code="empty")
    return SessionAddendum.objects.create(session=locked, text=text, written_by=by)
