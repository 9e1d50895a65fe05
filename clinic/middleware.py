"""Render every page in its clinic's time zone: a staff member's, or the clinic a client's page is of."""

from django.utils import timezone

from clinic.permissions import staff_member_of


class ClinicTimezoneMiddleware:
    """Activate the clinic's IANA zone for the request, so templates show local times."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        member = staff_member_of(request.user)
        if member is not None:
            timezone.activate(member.clinic.zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def show_times_in_clinic_zone(clinic) -> None:
    """Render the rest of this request in `clinic`'s zone: for the pages a client (not signed in) opens.

    Templates write aware times in the active zone, which is otherwise the server's (UTC). The
    middleware above resets it after the response.
    """
    timezone.activate(clinic.zone)
