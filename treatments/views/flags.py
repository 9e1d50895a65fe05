"""What the desk is told of each visit in a list: why it cannot go ahead as booked, and forms missing."""

from clients.selectors import refused_addresses
from treatments.selectors import (
    forms_missing,
    not_qualified_for,
    outside_working_hours,
    room_and_devices_to_change,
    staff_signatures_missing,
    time_off_clashes,
)


def flag_visits(appointments, clinic, *, time_off=None, hours=None, extra=None) -> dict[int, list[str]]:
    """Set on each visit `.time_off`, `.off_hours`, `.unqualified`, `.out_of_use`, `.forms_missing` and
    `.consent_unsigned` (the staff signatures the clinic asks on its consents, still missing).

    `.out_of_use` says what of the room and devices must change: taken out of use, or a device the
    service needs and the visit does not hold (then `.device_not_booked` is set too).

    The day's list, the calendar and the client's page show them. A fixed number of queries however many
    visits; fewer when the caller has the time off, or the working hours (of active practitioners) and
    extra hours, loaded. Returns the forms missing by visit id, as `forms_missing` does.
    """
    clashes = time_off_clashes(appointments, time_off)
    off_hours = outside_working_hours(appointments, clinic.zone, hours, extra)
    unqualified = not_qualified_for(appointments)
    to_change, lacking_a_device = room_and_devices_to_change(appointments)
    missing = forms_missing(appointments, clinic)
    unsigned = staff_signatures_missing(appointments, clinic)
    for visit in appointments:
        visit.time_off = clashes.get(visit.pk)
        visit.off_hours = visit.pk in off_hours
        visit.unqualified = visit.pk in unqualified
        visit.out_of_use = to_change.get(visit.pk, "")
        visit.device_not_booked = visit.pk in lacking_a_device
        visit.forms_missing = missing.get(visit.pk, [])
        visit.consent_unsigned = unsigned.get(visit.pk, [])
    return missing


def flag_refused_addresses(visits) -> None:
    """Set on each visit `.email_refused`: the standing refusal of its client's address (one query)."""
    refused = refused_addresses({visit.client for visit in visits})
    for visit in visits:
        visit.email_refused = refused.get(visit.client_id)
