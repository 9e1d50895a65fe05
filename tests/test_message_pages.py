"""Staff pages about mail: the wording editor, the outbox, client and appointment timelines, resend."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.message_templates import default_keys, default_wording
from clinic.models import MessageTemplate, OutboxMessage, OutboxStatus
from tests.factories import StaffMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, lumen):
    manager = StaffMemberFactory(clinic=lumen, role="manager", user__username="morgan", display_name="Morgan")
    client.force_login(manager.user)
    return client


def _text(response) -> str:
    """The page as read: an address is one word, whatever <wbr> lets it wrap at."""
    return response.content.decode().replace("<wbr>", "")


def message(clinic, *, status=OutboxStatus.SENT, client_id=None, key="booking_confirmation", **fields):
    now = timezone.now()
    return OutboxMessage.objects.create(
        clinic=clinic,
        recipient_email=fields.pop("recipient_email", "olivia@example.com"),
        recipient_name="Olivia Smith",
        template_key=key,
        context={"client_first_name": "Olivia"},
        due_at=fields.pop("due_at", now),
        status=status,
        sent_at=now if status == OutboxStatus.SENT else None,
        dedupe_key=f"test:{OutboxMessage.objects.count()}:{key}",
        client_id=client_id,
        **fields,
    )


def test_the_manager_lists_and_edits_the_wording_with_a_preview(manager_client, lumen):
    listing = manager_client.get(reverse("message-templates"))
    assert listing.status_code == 200
    for key in (
        "booking_confirmation",
        "booking_reminder",
        "aftercare_microneedling_day0",
        "aftercare_rebook",
    ):
        assert key.encode() in listing.content
    url = reverse("message-template-edit", args=["booking_reminder"])
    page = manager_client.get(url)
    assert page.status_code == 200 and b"The standard wording" in page.content
    response = manager_client.post(
        url,
        {
            "subject": "See you soon, {{ client_first_name }}",
            "body_text": "Hi {{ client_first_name }}!",
            "body_html": "",
        },
        follow=True,
    )
    assert b"Saved." in response.content
    assert b"See you soon, Olivia" in response.content  # the preview, filled with sample details
    row = MessageTemplate.objects.get(clinic=lumen, key="booking_reminder")
    assert row.subject == "See you soon, {{ client_first_name }}" and row.updated_by.display_name == "Morgan"


def test_every_shipped_wording_previews_and_saves_as_it_is(manager_client, lumen):
    for key in default_keys():
        url = reverse("message-template-edit", args=[key])
        page = manager_client.get(url)
        assert page.status_code == 200 and b"Preview with sample details" in page.content, key
        shipped = default_wording(key)
        saved = manager_client.post(
            url, {"subject": shipped.subject, "body_text": shipped.body_text, "body_html": shipped.body_html}
        )
        assert saved.status_code == 302, (key, _text(saved))
    assert MessageTemplate.objects.filter(clinic=lumen).count() == len(default_keys())
    combined = manager_client.get(reverse("message-template-edit", args=["aftercare_several_treatments"]))
    assert "Microneedling</h2>" in combined.context["preview"].body_html  # the sample parts


def test_a_treatments_aftercare_says_which_part_a_combined_email_takes(manager_client, lumen):
    page = _text(manager_client.get(reverse("message-template-edit", args=["aftercare_mesotherapy_day0"])))
    assert 'id="section-hint"' in page and "{% block section %} … {% endblock %}" in page
    url = reverse("message-template-edit", args=["aftercare_mesotherapy_day0"])
    response = manager_client.post(
        url, {"subject": "Aftercare", "body_text": "No makeup today.", "body_html": ""}
    )
    assert response.status_code == 400 and "Keep {% block section %}" in _text(response)
    assert "No makeup today." in _text(response)  # what they typed is kept
    assert not MessageTemplate.objects.filter(clinic=lumen).exists()
    reminder = _text(manager_client.get(reverse("message-template-edit", args=["booking_reminder"])))
    assert 'id="section-hint"' not in reminder
    # a message of the clinic's own (as for an aftercare step it adds) is told how to mark its part
    own = _text(manager_client.get(reverse("message-template-edit", args=["aftercare_peel_day2"])))
    assert "If this is an aftercare step, put its advice between <code>{% block section %}" in own


def test_a_broken_template_is_refused_in_plain_words_and_not_saved(manager_client, lumen):
    url = reverse("message-template-edit", args=["booking_reminder"])
    response = manager_client.post(url, {"subject": "Hello", "body_text": "{% if %}oops", "body_html": ""})
    assert response.status_code == 400
    assert b"This template has a mistake" in response.content
    assert b"{% if %}oops" in response.content  # what they typed is kept
    assert not MessageTemplate.objects.filter(clinic=lumen).exists()


def test_going_back_to_the_standard_wording(manager_client, lumen):
    MessageTemplate.objects.create(clinic=lumen, key="booking_reminder", subject="Mine", body_text="Mine")
    manager_client.post(reverse("message-template-edit", args=["booking_reminder"]), {"action": "restore"})
    assert not MessageTemplate.objects.filter(clinic=lumen).exists()


def test_front_desk_may_not_edit_wording_or_see_the_outbox(alice_client):
    assert alice_client.get(reverse("message-templates")).status_code == 403
    assert (
        alice_client.post(
            reverse("message-template-edit", args=["booking_reminder"]), {"subject": "x", "body_text": "y"}
        ).status_code
        == 403
    )
    assert alice_client.get(reverse("outbox")).status_code == 403


def test_the_outbox_shows_failures_first_and_only_this_clinics(manager_client, lumen, harbour):
    message(lumen, status=OutboxStatus.SENT, recipient_email="sent@example.com")
    message(
        lumen,
        status=OutboxStatus.FAILED,
        recipient_email="bounced@example.com",
        last_error="550 no such user",
    )
    message(lumen, status=OutboxStatus.PENDING, recipient_email="later@example.com")
    message(harbour, status=OutboxStatus.FAILED, recipient_email="hank@example.com")
    page = _text(manager_client.get(reverse("outbox")))
    assert (
        page.index("bounced@example.com") < page.index("later@example.com") < page.index("sent@example.com")
    )
    assert "550 no such user" in page and "1 failed" in page
    assert "hank@example.com" not in page
    only_failed = _text(manager_client.get(reverse("outbox"), {"status": "failed"}))
    assert "bounced@example.com" in only_failed and "sent@example.com" not in only_failed


def test_the_outbox_lists_the_next_message_to_go_first_and_the_latest_sent_first(manager_client, lumen):
    now = timezone.now()
    for hours, status, address in (
        (48, OutboxStatus.PENDING, "in-two-days@example.com"),
        (2, OutboxStatus.PENDING, "in-two-hours@example.com"),
        (-30, OutboxStatus.SENT, "yesterday@example.com"),
        (-1, OutboxStatus.SENT, "an-hour-ago@example.com"),
    ):
        message(lumen, status=status, recipient_email=address, due_at=now + dt.timedelta(hours=hours))
    page = _text(manager_client.get(reverse("outbox")))
    order = ["in-two-hours", "in-two-days", "an-hour-ago", "yesterday"]
    assert sorted(order, key=lambda address: page.index(f"{address}@example.com")) == order


def test_front_desk_resends_a_failed_message_to_the_corrected_address(alice_client, lumen_client_record):
    failed = message(
        lumen_client_record.clinic,
        status=OutboxStatus.FAILED,
        client_id=lumen_client_record.pk,
        recipient_email="olivia@exampel.com",
        last_error="550 no such domain",
    )
    detail = reverse("client-detail", args=[lumen_client_record.pk])
    page = alice_client.get(detail)
    assert "olivia@exampel.com" in _text(page) and "550 no such domain" in _text(page)
    response = alice_client.post(reverse("outbox-resend", args=[failed.pk]), {"next": detail}, follow=True)
    assert response.redirect_chain[-1][0] == detail
    assert b"Queued to send again now." in response.content
    copy = OutboxMessage.objects.get(dedupe_key=f"resend:{failed.pk}:1")
    assert copy.status == OutboxStatus.PENDING and copy.recipient_email == "olivia@example.com"
    assert copy.template_key == failed.template_key and copy.context == failed.context
    # a second resend is its own row, not refused as a duplicate
    alice_client.post(reverse("outbox-resend", args=[failed.pk]), {"next": detail})
    assert OutboxMessage.objects.filter(dedupe_key__startswith=f"resend:{failed.pk}:").count() == 2


def test_a_message_still_scheduled_is_not_resent(alice_client, lumen_client_record):
    pending = message(
        lumen_client_record.clinic, status=OutboxStatus.PENDING, client_id=lumen_client_record.pk
    )
    response = alice_client.post(reverse("outbox-resend", args=[pending.pk]), follow=True)
    assert b"Only a message that was sent or that failed can be sent again." in response.content
    assert not OutboxMessage.objects.filter(dedupe_key__startswith="resend:").exists()


def test_staff_cannot_resend_another_clinics_message(alice_client, harbour):
    theirs = message(harbour)
    assert alice_client.post(reverse("outbox-resend", args=[theirs.pk])).status_code == 404


def test_the_manager_adds_a_message_of_their_own_for_an_aftercare_step(manager_client, lumen):
    url = reverse("message-template-edit", args=["aftercare_peel_day2"])
    assert b"A new message of your own." in manager_client.get(url).content
    manager_client.post(url, {"subject": "Day 2", "body_text": "Keep moisturising.", "body_html": ""})
    saved = MessageTemplate.objects.get(clinic=lumen, key="aftercare_peel_day2")
    assert saved.body_text == "Keep moisturising."


def test_an_address_wraps_only_after_its_at_sign_and_stays_escaped():
    from clinic.templatetags.clinic_text import breakable_email

    assert breakable_email("olivia@example.com") == "olivia@<wbr>example.com"
    assert breakable_email('"<b>"@example.com') == "&quot;&lt;b&gt;&quot;@<wbr>example.com"
    assert breakable_email("no-at-sign<i>") == "no-at-sign&lt;i&gt;"


def test_a_manager_emails_themselves_a_test_of_each_message_as_clients_get_it(
    manager_client, lumen, smtp_settings, smtp_server
):
    from clinic.models import OutboxMessage, OutboxStatus, StaffMember
    from clinic.tasks import deliver_due_messages_task

    manager = StaffMember.objects.get(clinic=lumen, role="manager")
    manager.user.email = "morgan@lumen.example"
    manager.user.save(update_fields=["email"])
    manager_client.post(
        reverse("message-template-edit", args=["booking_reminder"]),
        {
            "subject": "See you soon, {{ client_first_name }}",
            "body_text": "Hi {{ client_first_name }}!",
            "body_html": "",
        },
    )
    page = _text(manager_client.get(reverse("message-template-edit", args=["booking_reminder"])))
    assert "Email me a test (morgan@lumen.example)" in page and "your saved wording" in page
    for key in default_keys():
        answer = manager_client.post(
            reverse("message-template-edit", args=[key]), {"action": "test"}, follow=True
        )
        assert f"A test of “{key}”, as clients get it now, with sample details" in _text(answer), key
    assert deliver_due_messages_task() == len(default_keys())
    tests = OutboxMessage.objects.filter(topic__startswith="template-test:")
    assert not tests.exclude(status=OutboxStatus.SENT).exists(), list(
        tests.exclude(status=OutboxStatus.SENT).values_list("template_key", "last_error")
    )
    by_subject = {m["Subject"]: m for m in smtp_server.messages}
    assert "See you soon, Olivia" in by_subject  # the clinic's saved wording
    assert all(m["To"].addresses[0].addr_spec == "morgan@lumen.example" for m in smtp_server.messages)
    several = next(
        m
        for m in smtp_server.messages
        if m["Subject"] == _rendered_subject("aftercare_several_treatments", lumen)
    )
    body = several.get_body(preferencelist=("plain",)).get_content()
    assert "Microneedling" in body and "Microcurrent" in body


def _rendered_subject(key, clinic):
    from clinic.message_templates import SAMPLE_CONTEXT, render_wording

    return render_wording(default_wording(key), {**SAMPLE_CONTEXT, "clinic": clinic}).subject


def test_a_manager_without_an_email_address_is_told_where_to_get_one(manager_client, lumen):
    from clinic.models import StaffMember

    manager = StaffMember.objects.get(clinic=lumen, role="manager")
    manager.user.email = ""
    manager.user.save(update_fields=["email"])
    answer = manager_client.post(
        reverse("message-template-edit", args=["booking_reminder"]), {"action": "test"}, follow=True
    )
    assert "Your sign-in has no email address to send the test to" in _text(answer)


def test_a_subject_too_long_is_refused_in_words_and_kept_as_typed(manager_client, lumen):
    long_subject = "Hello {{ client_first_name }} " + "x" * 500
    answer = manager_client.post(
        reverse("message-template-edit", args=["booking_reminder"]),
        {"subject": long_subject, "body_text": "Hi!", "body_html": ""},
    )
    assert answer.status_code == 400
    assert "The subject is 530 characters long, tags and all: make it at most 500." in _text(answer)
    assert long_subject in _text(answer)
    assert not MessageTemplate.objects.filter(clinic=lumen, key="booking_reminder").exists()
