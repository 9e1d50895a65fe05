"""The manager's pages to email the clinic's news to the clients who said yes to it (`treatments.news`)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from clinic.errors import ClinicError
from clinic.message_templates import render_wording, wording_for
from clinic.parsing import parse_id
from clinic.permissions import manager_required
from treatments.forms import NewsForm, parse_local_datetime
from treatments.models import ClinicNews
from treatments.news import (
    NEWS_EMAIL,
    news_delete,
    news_delivery,
    news_recipients,
    news_send,
    news_send_test,
    news_stop,
    news_write,
)

ONLY_MANAGERS = "Emailing the clinic's news is for its managers."
NAMES_SHOWN = 50


@manager_required(ONLY_MANAGERS)
def news_list(request):
    """Write news; the news written and sent before."""
    member = request.staff_member
    form = NewsForm(request.POST or None, clinic=member.clinic, initial={"audience": "everyone"})
    if request.method == "POST" and form.is_valid():
        try:
            news = news_write(clinic=member.clinic, by=member, **form.cleaned_data)
        except ClinicError as refusal:
            messages.error(request, refusal.message)
        else:
            return redirect("news-detail", news.pk)
    written = ClinicNews.objects.filter(clinic=member.clinic).select_related("service", "sent_by")[:50]
    return render(
        request,
        "treatments/news_list.html",
        {"form": form, "written": written},
        status=400 if form.errors else 200,
    )


@manager_required(ONLY_MANAGERS)
def news_detail(request, pk):
    """Who it goes to and what they read; send it (once) or throw it away; once sent, how it went."""
    member = request.staff_member
    news = get_object_or_404(
        ClinicNews.objects.select_related("clinic", "service", "sent_by", "written_by"),
        pk=pk,
        clinic=member.clinic,
    )
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "send":
                typed = request.POST.get("goes_at", "").strip()
                goes_at = parse_local_datetime(typed, news.clinic.zone) if typed else None
                if typed and goes_at is None:
                    raise ClinicError("Give the time to send it as a date and a time, or leave it empty.")
                sent = news_send(
                    news, by=member, expected=parse_id(request.POST.get("expected")), goes_at=goes_at
                )
                when = timezone.localtime(sent.goes_at, news.clinic.zone)
                messages.success(
                    request,
                    f"Sent to {sent.recipients} clients: the emails go out {when:%a %d %b at %H:%M}."
                    if goes_at
                    else f"Sent to {sent.recipients} clients: the emails are on their way.",
                )
            elif action == "stop":
                stopped = news_stop(news, by=member)
                messages.success(
                    request, f"Stopped: {stopped} email{'' if stopped == 1 else 's'} will not go."
                )
            elif action == "test":
                test = news_send_test(news, by=member)
                messages.success(request, f"A test is on its way to {test.recipient_email}.")
            elif action == "delete":
                news_delete(news, by=member)
                messages.success(request, "Thrown away: it was not sent.")
                return redirect("news")
            else:
                raise Http404("No such action.")
        except ClinicError as refusal:
            messages.error(request, refusal.message)
        return redirect("news-detail", pk)
    context = {"news": news}
    if news.sent_at:
        context["delivery"] = news_delivery(news)
    else:
        recipients = news_recipients(news, now=timezone.now())
        first = recipients[0] if recipients else None
        rendered = render_wording(
            wording_for(clinic_id=news.clinic_id, key=NEWS_EMAIL),
            {
                "clinic": news.clinic,
                "client_first_name": first.first_name if first else "Olivia",
                "recipient_name": first.full_name if first else "Olivia Smith",
                "news_subject": news.subject,
                "news_text": news.text,
                "unsubscribe_url": "(their own link to stop these emails)",
            },
        )
        context.update(
            recipients=recipients[:NAMES_SHOWN],
            recipient_count=len(recipients),
            names_shown=NAMES_SHOWN,
            rendered=rendered,
            first=first,
        )
    return render(request, "treatments/news_detail.html", context)
