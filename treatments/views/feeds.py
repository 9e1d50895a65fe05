"""The practitioner's calendar feed (the page that gives, renews and stops its link, and the feed) and
the practitioner's choice of emails about clients' own changes, on the same page."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from clinic.models import ClientChangeEmails, StaffMember
from clinic.permissions import staff_required
from treatments.feeds import calendar_feed_ics, calendar_feed_renew, calendar_feed_stop, feed_url
from treatments.models import CalendarFeed


@staff_required
@require_http_methods(["GET", "POST"])
def my_calendar(request):
    """A practitioner's link to their visits as a calendar feed (make it, make a new one, or stop it),
    and when they are emailed that a client booked, moved or cancelled one of their visits online."""
    member = request.staff_member
    if request.method == "POST" and member.is_practitioner:
        if request.POST.get("action") == "emails":
            return _set_client_change_emails(request, member)
        if request.POST.get("action") == "stop":
            if calendar_feed_stop(member):
                messages.success(request, "The feed is stopped: calendars subscribed to it get nothing more.")
        else:
            renewed = CalendarFeed.objects.filter(staff_member=member).exists()
            calendar_feed_renew(member)
            messages.success(
                request,
                "A new link is ready: the old one no longer works. Subscribe to the new one below."
                if renewed
                else "Your link is ready: subscribe to it below.",
            )
        return redirect("my-calendar")
    feed = CalendarFeed.objects.filter(staff_member=member).first()
    url = feed_url(feed) if feed else ""
    return render(
        request,
        "treatments/my_calendar.html",
        {
            "feed": feed,
            "feed_url": url,
            "webcal_url": url.replace("https://", "webcal://", 1).replace("http://", "webcal://", 1),
            "email_choices": ClientChangeEmails.choices,
        },
    )


def _set_client_change_emails(request, member):
    """Keep the practitioner's choice of when to be emailed of clients' online changes."""
    choice = request.POST.get("client_change_emails", "")
    if choice not in ClientChangeEmails.values:
        messages.error(request, "Choose when to be emailed: never, for visits today or tomorrow, or always.")
    else:
        StaffMember.objects.filter(pk=member.pk).update(client_change_emails=choice)
        messages.success(
            request,
            "You will not be emailed of clients' changes."
            if choice == ClientChangeEmails.NEVER
            else f"Saved: you are emailed of clients' changes {ClientChangeEmails(choice).label.lower()}.",
        )
    return redirect("my-calendar")


@require_safe
def calendar_feed(request, token):
    """The feed itself, for calendar apps: no sign-in, the link is the key (404 for any other)."""
    feed = CalendarFeed.objects.select_related("staff_member__clinic").filter(token=token).first()
    if feed is None or not feed.staff_member.is_active:
        raise Http404("No such calendar.")
    response = HttpResponse(calendar_feed_ics(feed), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="visits.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response
