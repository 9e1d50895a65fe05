"""Template context shared by every staff page."""

from django.conf import settings

from clinic.permissions import staff_member_of


def current_clinic(request):
    """Expose the signed-in staff member, their clinic, and whether the dev mailbox is on."""
    member = staff_member_of(getattr(request, "user", None))
    return {
        "staff_member": member,
        "current_clinic": member.clinic if member else None,
        # the screen signs itself out after this long without use (static/js/idle-sign-out.js)
        "idle_sign_out_seconds": (member.clinic.idle_sign_out_minutes or 0) * 60 if member else 0,
        "mailbox_enabled": settings.EMAIL_BACKEND == "clinic.mail.MailDirBackend",
    }
