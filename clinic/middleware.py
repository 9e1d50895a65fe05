"""Render every staff page in the signed-in staff member's clinic time zone."""

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
