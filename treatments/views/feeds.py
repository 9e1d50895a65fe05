"""The practitioner's calendar feed: the page that gives, renews and stops its link, and the feed."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from clinic.permissions import staff_required
from treatments.feeds import calendar_feed_ics, calendar_feed_renew, calendar_feed_stop, feed_url
from treatments.models import CalendarFeed


@staff_required
@require_http_methods(["GET", "POST"])
def my_calendar(request):
    """A practitioner's link to their visits as a calendar feed: make it, make a new one, or stop it."""
    member = request.staff_member
    if request.method == "POST" and member.is_practitioner:
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
        },
    )


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
