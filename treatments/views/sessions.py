"""The practitioner's treatment record of a visit: start it, write each treated area, sign it off.

Every write goes through treatments.sessions, which checks it. A form the service refuses comes back
with what was typed and the reason beside it, so nothing typed is lost.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clients.access_log import health_data_read, health_data_read_many
from clients.models import PHOTO_CONSENT_TEXTS, Client, GuardianRole, HealthDataRead, PhotoConsentScope
from clients.selectors import photo_consent_current
from clients.services import forms_copy_write, photo_consent_give, signs_for_a_minor
from clinic.errors import ClinicError
from clinic.models import DeviceKind, Modality, OutboxStatus
from clinic.parsing import parse_id
from clinic.permissions import staff_required
from treatments.forms import (
    AddendumForm,
    MesotherapyEntryForm,
    MicrocurrentEntryForm,
    MicroneedlingEntryForm,
    PhotoConsentForm,
    SessionNotesForm,
    SessionPhotoForm,
)
from treatments.lot_recalls import (
    NOTICE_WORDS_MAX_CHARACTERS,
    lot_recall_notify,
    lot_recall_record,
    recall_notified,
)
from treatments.models import (
    RECALL_NOTE_MAX_CHARACTERS,
    MesoTechnique,
    ProductLot,
    SessionPhoto,
    TreatmentSession,
    Waveform,
)
from treatments.selectors import (
    client_photo_album,
    earlier_sessions,
    lot_recipients,
    photos_compared,
    recording_devices,
    session_aftercare,
    usable_lots,
    with_recorded_areas,
)
from treatments.sessions import (
    between,
    may_record,
    may_write,
    photo_media_type,
    treatment_session_add_addendum,
    treatment_session_add_mesotherapy,
    treatment_session_add_microcurrent,
    treatment_session_add_microneedling,
    treatment_session_add_photo,
    treatment_session_remove_area,
    treatment_session_set_notes,
    treatment_session_sign_off,
    treatment_session_start,
    write_refusal,
)
from treatments.stock import with_stock_left
from treatments.views.booking import before_the_session, visit_of_this_clinic

ENTRY_FORMS = {
    Modality.MICRONEEDLING: MicroneedlingEntryForm,
    Modality.MICROCURRENT: MicrocurrentEntryForm,
    Modality.MESOTHERAPY: MesotherapyEntryForm,
}
ADD_AREA = {
    Modality.MICRONEEDLING: treatment_session_add_microneedling,
    Modality.MICROCURRENT: treatment_session_add_microcurrent,
    Modality.MESOTHERAPY: treatment_session_add_mesotherapy,
}


# What an area's form takes again from that area's entry last time: not the device (today's is the
# one the visit holds), nor the cartridge's lot (a new cartridge each session), nor a reason for going
# outside the protocol (said anew if still so).
AS_LAST_TIME = {
    Modality.MICRONEEDLING: ("depth_mm", "passes"),
    Modality.MICROCURRENT: ("current_ua", "frequency_hz", "waveform", "minutes"),
    Modality.MESOTHERAPY: ("lot", "volume_ml", "depth_mm", "technique"),
}
FOREIGN_KEYS = {"lot"}


def _last_time(modality, earlier, recorded_area_ids):
    """The entry of the client's latest record of this modality, for the first area of it not
    recorded yet this time, and that record; (None, None) when there is none."""
    for past in earlier:
        entries = sorted(getattr(past, modality).all(), key=lambda entry: entry.pk)
        if entries:
            entry = next((e for e in entries if e.area_id not in recorded_area_ids), None)
            return (entry, past) if entry is not None else (None, None)
    return None, None


RECORDERS_ONLY = "Treatment records are written and read by the clinic's practitioners and managers."


def recorder(request, *, why: str = RECORDERS_ONLY):
    """The signed-in practitioner or manager (who write treatment records and keep the products they
    give), or a 403 saying `why`."""
    if not may_record(request.staff_member):
        raise PermissionDenied(why)
    return request.staff_member


@staff_required
@require_POST
def record_start(request, pk):
    """Start the visit's record (checking the client in if they are still booked), then open it."""
    by = recorder(request)
    appointment = visit_of_this_clinic(request, pk)
    try:
        treatment_session_start(appointment=appointment, by=by)
    except ClinicError as refusal:
        messages.error(request, refusal.message)
        return redirect("appointment-detail", pk)
    return redirect("session-record", pk)


def _entry_form(modality, protocol, session, data=None, last=None):
    """The form to add one area of this modality, with the choices the protocol and the clinic give;
    `last`: an entry of the client's last record to fill it in from (a lot no longer to be used is
    left out, as the form only offers those it may take)."""
    clinic = session.clinic
    protocol_areas = {pa.area_id: pa for pa in protocol.areas.all()} if protocol else {}
    kwargs = {"prefix": modality, "protocol_areas": protocol_areas}
    initial = {}
    if modality != Modality.MESOTHERAPY:
        kwargs["devices"] = recording_devices(clinic, modality, protocol)
        # The visit's device of this modality's kinds: a combined visit holds a pen and a microcurrent unit.
        kinds = {d.kind for d in kwargs["devices"]}
        visit_devices = session.appointment.devices if session.appointment_id else []
        initial["device"] = next((d.pk for d in visit_devices if d.kind in kinds), None)
    if modality == Modality.MICROCURRENT and protocol and protocol.waveforms:
        initial["waveform"] = protocol.waveforms[0]
    if modality == Modality.MESOTHERAPY:
        # each with what is left of it by the records: a lot that ran out is still offered (a count may
        # be wrong), and says so
        kwargs["lots"] = with_stock_left(
            usable_lots(clinic, on=timezone.localdate(session.started_at, clinic.zone))
        )
        if protocol and protocol.techniques:
            initial["technique"] = protocol.techniques[0]
    if last is not None:
        initial["area"] = last.area_id
        for name in AS_LAST_TIME[modality]:
            initial[name] = getattr(last, f"{name}_id" if name in FOREIGN_KEYS else name)
    return ENTRY_FORMS[modality](data, initial=initial, **kwargs)


def protocol_says(protocol) -> str:
    """The protocol's settings in a line, beside the form: what the practitioner is expected to use."""
    if protocol.modality == Modality.MICRONEEDLING:
        kinds = [DeviceKind(k).label.lower() for k in protocol.allowed_device_kinds if k in DeviceKind.values]
        depths = "the depth range of each area is beside its name"
        return f"{' or '.join(kinds)} only; {depths}" if kinds else depths
    parts = []
    if protocol.modality == Modality.MICROCURRENT:
        for low, high, unit in (
            (protocol.current_min_ua, protocol.current_max_ua, "µA"),
            (protocol.frequency_min_hz, protocol.frequency_max_hz, "Hz"),
        ):
            if low is not None or high is not None:
                parts.append(between(low, high, unit))
        waves = [Waveform(w).label.lower() for w in protocol.waveforms if w in Waveform.values]
        if waves:
            parts.append(f"{' or '.join(waves)} waves")
    if protocol.modality == Modality.MESOTHERAPY:
        if protocol.depth_min_mm is not None or protocol.depth_max_mm is not None:
            parts.append(between(protocol.depth_min_mm, protocol.depth_max_mm, "mm") + " deep")
        known = MesoTechnique.values
        techniques = [MesoTechnique(t).label.lower() for t in protocol.techniques if t in known]
        if techniques:
            parts.append(" or ".join(techniques))
        products = [p.name for p in protocol.products.all()]
        if products:
            parts.append("products: " + ", ".join(products))
    return "; ".join(parts)


def _recorded(session: TreatmentSession, modality: str) -> list:
    return list(getattr(session, modality).all())


def _render(request, appointment, session, *, bound=None, status=200):
    """The record page: the visit, what to check first, each modality's areas and their forms.

    `bound` holds the forms that came back with errors, by modality or by name ("notes", "photo",
    "addendum"), to show again as typed.
    """
    session = with_recorded_areas(TreatmentSession.objects.filter(pk=session.pk)).get()
    protocols = list(appointment.service.protocols.prefetch_related("areas__area", "products"))
    forms = bound or {}
    member = request.staff_member
    writable = not session.signed_off_at and may_write(member, session)
    earlier = [] if session.signed_off_at else earlier_sessions(session)
    sections = []
    for protocol in protocols:
        if protocol.modality not in ENTRY_FORMS:
            continue
        entries = _recorded(session, protocol.modality)
        form, as_last_time = forms.get(protocol.modality), None
        if writable and form is None:
            last, past = _last_time(protocol.modality, earlier, {e.area_id for e in entries})
            form = _entry_form(protocol.modality, protocol, session, last=last)
            if last is not None:
                lot_field = form.fields.get("lot")
                as_last_time = {
                    "on": past.started_at,
                    "area": last.area.name,
                    # last time's lot, expired or used up since, is not offered: they choose another
                    "lot_gone": lot_field is not None
                    and not lot_field.queryset.filter(pk=last.lot_id).exists(),
                }
        sections.append(
            {
                "modality": protocol.modality,
                "label": Modality(protocol.modality).label,
                "protocol": protocol,
                "entries": entries,
                "protocol_says": protocol_says(protocol),
                "form": form if writable else None,
                "as_last_time": as_last_time,
            }
        )
    aftercare = list(session_aftercare(session)) if session.signed_off_at else []
    return render(
        request,
        "treatments/session_record.html",
        {
            "appointment": appointment,
            "session": session,
            "sections": sections,
            "areas_recorded": sum(len(s["entries"]) for s in sections),
            "notes_form": forms.get("notes")
            or SessionNotesForm(prefix="notes", initial={"notes": session.notes}),
            # what to check before treating: nothing to treat once signed off
            "safety": None if session.signed_off_at else before_the_session(appointment),
            "earlier": earlier,
            "aftercare": aftercare,
            "may_write": may_write(member, session),
            "photos": list(session.photos.select_related("area")),
            "photo_consent": photo_consent_current(appointment.client, PhotoConsentScope.CLINICAL),
            "photo_consent_text": PHOTO_CONSENT_TEXTS[PhotoConsentScope.CLINICAL],
            "photo_form": forms.get("photo") or SessionPhotoForm(prefix="photo"),
            "photo_consent_form": PhotoConsentForm(prefix="consent"),
            # a client under the age of majority has a parent or legal guardian sign for them
            "signs_for_a_minor": signs_for_a_minor(appointment.client),
            "guardian_roles": GuardianRole.choices,
            "addenda": list(session.addenda.select_related("written_by")),
            "addendum_form": forms.get("addendum") or AddendumForm(prefix="addendum"),
        },
        status=status,
    )


def _add_area(request, appointment, session, by, modality):
    """Write one area from the posted form; on a refusal, show the form again as typed."""
    protocol = next((p for p in appointment.service.protocols.all() if p.modality == modality), None)
    if protocol is None:
        label = Modality(modality).label.lower()
        messages.error(request, f"{appointment.service.name} does not include {label}.")
        return redirect("session-record", appointment.pk)
    form = _entry_form(modality, protocol, session, data=request.POST)
    if form.is_valid():
        try:
            entry = ADD_AREA[modality](session=session, by=by, **form.cleaned_data)
        except ClinicError as refusal:
            field = "outside_protocol_reason" if refusal.code == "needs_reason" else None
            form.add_error(field, refusal.message)
        else:
            messages.success(request, f"Recorded {entry.area.name}.")
            return redirect("session-record", appointment.pk)
    return _render(request, appointment, session, bound={modality: form}, status=400)


@staff_required
def session_record(request, pk):
    """Show the visit's record and take its writes: an area, a removal, the notes, the sign-off."""
    by = recorder(request)
    appointment = visit_of_this_clinic(request, pk)
    session = TreatmentSession.objects.filter(appointment=appointment).first()
    if session is None:
        messages.info(request, "This visit has no treatment record yet: start it from here.")
        return redirect("appointment-detail", pk)
    if request.method != "POST":
        health_data_read(by, session.client_id, HealthDataRead.TREATMENT_RECORD)
        return _render(request, appointment, session)
    action = request.POST.get("action", "")
    refusal = write_refusal(by, session) if action != "addendum" else None
    if refusal is not None:
        messages.error(request, refusal.message)
        return redirect("session-record", pk)
    try:
        if action.startswith("add_") and action[4:] in ENTRY_FORMS:
            return _add_area(request, appointment, session, by, action[4:])
        if action == "remove" and request.POST.get("modality") in ENTRY_FORMS:
            treatment_session_remove_area(
                session=session,
                by=by,
                modality=request.POST["modality"],
                record_id=parse_id(request.POST.get("record")) or 0,
            )
            messages.success(request, "Taken out of the record.")
        elif action == "notes":
            form = SessionNotesForm(request.POST, prefix="notes")
            if not form.is_valid():
                return _render(request, appointment, session, bound={"notes": form}, status=400)
            treatment_session_set_notes(session=session, by=by, notes=form.cleaned_data["notes"])
            messages.success(request, "Notes saved.")
        elif action == "photo":
            form = SessionPhotoForm(request.POST, request.FILES, prefix="photo")
            if not form.is_valid():
                return _render(request, appointment, session, bound={"photo": form}, status=400)
            try:
                treatment_session_add_photo(session=session, by=by, **form.cleaned_data)
            except ClinicError as refusal:
                form.add_error("image", refusal.message)
                return _render(request, appointment, session, bound={"photo": form}, status=400)
            messages.success(request, "Photo kept in the record.")
        elif action == "photo_consent":
            form = PhotoConsentForm(request.POST, prefix="consent")
            form.is_valid()
            with transaction.atomic():  # given in the room: their copy is emailed, as from their link
                given = photo_consent_give(
                    client=appointment.client,
                    scope=PhotoConsentScope.CLINICAL,
                    signature_name=form.cleaned_data.get("signature_name", ""),
                    agreed=form.cleaned_data.get("agreed", False),
                    signed_as=form.cleaned_data.get("signed_as", ""),
                )
                forms_copy_write(appointment.client, photo_consents=[given])
            messages.success(request, f"{appointment.client.first_name}'s consent to photos is recorded.")
        elif action == "addendum":
            form = AddendumForm(request.POST, prefix="addendum")
            if not form.is_valid():
                return _render(request, appointment, session, bound={"addendum": form}, status=400)
            treatment_session_add_addendum(session=session, by=by, text=form.cleaned_data["text"])
            messages.success(request, "Addendum added to the record.")
        elif action == "sign_off":
            signed = treatment_session_sign_off(session=session, by=by)
            statuses = list(session_aftercare(signed).values_list("status", flat=True))
            sent, late = statuses.count(OutboxStatus.PENDING), statuses.count(OutboxStatus.CANCELLED)
            aftercare = (
                f" {sent} aftercare email{'s' if sent != 1 else ''} scheduled for {signed.client.first_name}."
                if sent
                else f" No aftercare email goes to {signed.client.first_name}: see why below."
            )
            if late == 1:
                aftercare += " 1 was not sent: its day was over before the sign-off."
            elif late:
                aftercare += f" {late} were not sent: their days were over before the sign-off."
            messages.success(request, "Signed off: the record is final and the visit completed." + aftercare)
        else:
            messages.error(request, "That is not something the record page can do.")
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    return redirect("session-record", pk)


@staff_required
def session_photo(request, pk, photo_id):
    """One photo of a record, to the clinic's practitioners and managers only, never cached."""
    recorder(request)
    appointment = visit_of_this_clinic(request, pk)
    photo = get_object_or_404(SessionPhoto, pk=photo_id, session__appointment=appointment)
    return _photo_file(request, photo, appointment.client_id)


def _photo_file(request, photo: SessionPhoto, client_id: int):
    """Serve a photo's file, noting the read in the client's access log; never cached."""
    health_data_read(request.staff_member, client_id, HealthDataRead.PHOTO)
    try:
        handle = photo.image.open("rb")
    except FileNotFoundError as missing:
        raise Http404("This photo's file is missing from the clinic's storage.") from missing
    response = FileResponse(handle, content_type=photo_media_type(photo.image.name))
    response["Cache-Control"] = "private, no-store"
    return response


@staff_required
def client_photos(request, pk):
    """A client's treatment photos over time, by area, and two of them side by side (before and after),
    for practitioners and managers only."""
    recorder(request)
    client = get_object_or_404(Client, pk=pk, clinic=request.staff_member.clinic)
    album = client_photo_album(client)
    chosen = [photo_id for raw in request.GET.getlist("photo") if (photo_id := parse_id(raw)) is not None]
    comparison = photos_compared(client, chosen) if chosen else None
    if chosen and comparison is None:
        messages.error(request, f"Choose two of {client.first_name}'s photos to compare.")
    if album:
        health_data_read(request.staff_member, client.pk, HealthDataRead.PHOTO)
    return render(
        request,
        "treatments/client_photos.html",
        {"client": client, "album": album, "comparison": comparison, "chosen": set(chosen)},
    )


@staff_required
def client_photo(request, pk, photo_id):
    """One of a client's photos, by the client (a record need not belong to a visit)."""
    recorder(request)
    photo = get_object_or_404(
        SessionPhoto, pk=photo_id, session__client_id=pk, session__clinic=request.staff_member.clinic
    )
    return _photo_file(request, photo, pk)


@staff_required
def lot_recall(request):
    """Who was given a product lot: for a manufacturer's recall, with each client's contact details."""
    recorder(request)
    clinic = request.staff_member.clinic
    lots = ProductLot.objects.filter(product__clinic=clinic).select_related("product", "recalled_by")
    lots = list(lots.order_by("product__name", "lot_number"))
    chosen = next((lot for lot in lots if lot.pk == parse_id(request.GET.get("lot"))), None)
    given = lot_recipients(clinic, chosen) if chosen else []
    if given:  # what each was given, and when: their treatment, read for a recall
        health_data_read_many(
            request.staff_member, {record.session.client_id for record in given}, HealthDataRead.LOT_RECALL
        )
    notified = recall_notified(chosen) if chosen and chosen.recalled_on else set()
    return render(
        request,
        "treatments/lot_recall.html",
        {
            "lots": lots,
            "chosen": chosen,
            "given": given,
            "clients": len({record.session.client_id for record in given}),
            "asked_unknown": bool(request.GET.get("lot")) and chosen is None,
            "notified": notified,
            "to_notify": len(
                {
                    r.session.client_id
                    for r in given
                    if r.session.client.email and r.session.client_id not in notified
                }
            ),
            "default_words": DEFAULT_NOTICE_WORDS,
            "note_max": RECALL_NOTE_MAX_CHARACTERS,
            "words_max": NOTICE_WORDS_MAX_CHARACTERS,
        },
    )


# What the email to a recalled lot's clients says in the clinic's words, until the manager writes theirs.
DEFAULT_NOTICE_WORDS = (
    "Most people given it have no problem. Please look at the treated skin: if it is red, swollen, warm or "
    "painful, or you notice anything unusual, call us so we can see you."
)


@staff_required
@require_POST
def lot_recall_record_view(request, pk):
    """A manager records a manufacturer's recall of the lot, with what they said."""
    lot = get_object_or_404(ProductLot, pk=pk, product__clinic=request.staff_member.clinic)
    try:
        lot_recall_record(lot=lot, by=request.staff_member, note=request.POST.get("note", ""))
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            f"Recorded: lot {lot.lot_number} is recalled, and no treatment record takes it from now on.",
        )
    return redirect(f"{reverse('lot-recall')}?lot={lot.pk}")


@staff_required
@require_POST
def lot_recall_notify_view(request, pk):
    """A manager emails each client given the recalled lot, once."""
    lot = get_object_or_404(ProductLot, pk=pk, product__clinic=request.staff_member.clinic)
    try:
        notices = lot_recall_notify(lot=lot, by=request.staff_member, words=request.POST.get("words", ""))
    except ClinicError as refusal:
        messages.error(request, refusal.message)
    else:
        said = f"{notices.written} client{'s' if notices.written != 1 else ''} emailed"
        if notices.already:
            said += f" ({notices.already} emailed before, not again)"
        if notices.to_phone:
            names = ", ".join(client.full_name for client in notices.to_phone)
            said += f". No email address, to phone: {names}"
        messages.success(request, said + ".")
    return redirect(f"{reverse('lot-recall')}?lot={lot.pk}")
