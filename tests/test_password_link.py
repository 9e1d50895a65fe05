"""Someone who forgot their password chooses a new one from a link emailed to them: asked for by
username or email address (the page says the same whether or not it exists), sent through the outbox
like any message, working once and for an hour; their other sign-ins end and a pause after wrong
passwords is lifted. Managers give a colleague the email address the link goes to."""

import datetime as dt
import html
import re

import pytest
import time_machine
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone

from clinic.models import OutboxMessage, OutboxStatus, SignInFailure
from clinic.sign_in import FAILURES_PER_USERNAME
from clinic.staff import staff_password_link_send
from clinic.tasks import deliver_due_messages_task
from tests.factories import StaffMemberFactory

pytestmark = pytest.mark.django_db

OLD = "old-password-91"
NEW = "lilac-harbour-47"


@pytest.fixture
def jo(lumen):
    member = StaffMemberFactory(clinic=lumen, role="front_desk", display_name="Jo Carter")
    member.user.username = "jo"
    member.user.email = "Jo.Carter@lumen.example"
    member.user.set_password(OLD)
    member.user.save()
    return member


def _signs_in(username, password) -> bool:
    answer = BrowserClient().post("/accounts/login/", {"username": username, "password": password})
    return answer.status_code == 302


def _ask(identifier):
    return BrowserClient().post(reverse("password-forgotten"), {"identifier": identifier})


def _links():
    return list(OutboxMessage.objects.filter(template_key="staff_password_reset").order_by("id"))


def _emailed_link(smtp_server) -> str:
    (email,) = [m for m in smtp_server.messages if "new password" in m["Subject"]]
    body = email.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://\S+/accounts/password/link/\S+/", body).group(0)


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _choose(browser, link_path, password1, password2=None):
    """Open the link (Django moves the token into the session) and send the new password."""
    opened = browser.get(link_path)
    assert opened.status_code == 302, "a working link moves to the form's own address"
    form_path = opened["Location"]
    page = browser.get(form_path)
    assert "Choose a new password" in page.content.decode()
    return browser.post(
        form_path, {"new_password1": password1, "new_password2": password2 or password1}, follow=True
    )


def test_the_sign_in_page_offers_it(client):
    page = client.get(reverse("login")).content.decode()
    assert 'href="/accounts/password/forgotten/"' in page and "Forgotten your password?" in page


def test_a_forgotten_password_is_chosen_from_the_emailed_link(jo, smtp_settings, smtp_server):
    for _ in range(FAILURES_PER_USERNAME):  # locked out after wrong guesses
        _signs_in("jo", "guess")
    assert not _signs_in("jo", OLD)
    elsewhere = BrowserClient()
    elsewhere.force_login(jo.user)  # signed in at the desk earlier

    answer = _ask(" JO ")
    page = answer.content.decode()
    assert answer.status_code == 200 and "Check your email" in page
    assert (
        "a link to choose a new password is on its way to that address. It works once, for 60 minutes" in page
    )
    (row,) = _links()
    assert row.recipient_email == "Jo.Carter@lumen.example" and row.status == OutboxStatus.PENDING
    assert deliver_due_messages_task() == 1
    (email,) = smtp_server.messages
    assert email["Subject"] == "A new password for Lumen Skin Clinic: your link"
    assert email["To"].addresses[0].addr_spec == "Jo.Carter@lumen.example"
    body = email.get_body(preferencelist=("plain",)).get_content()
    assert 'your sign-in to Lumen Skin Clinic, "jo"' in body and "within 60 minutes" in body
    link = _path(_emailed_link(smtp_server))

    browser = BrowserClient()
    done = _choose(browser, link, NEW)
    assert done.redirect_chain[-1][0] == reverse("login")
    assert "Your password is set: sign in with it." in done.content.decode()
    assert not SignInFailure.objects.filter(username="jo").exists()
    assert _signs_in("jo", NEW)  # the pause is lifted with the new password
    assert not _signs_in("jo", OLD)
    # the sign-in at the desk ended with the old password
    assert elsewhere.get(reverse("home"))["Location"].startswith(reverse("login"))
    # the link works once
    again = BrowserClient().get(link, follow=True).content.decode()
    assert "This link no longer works" in again and 'href="/accounts/password/forgotten/"' in again


def test_the_email_address_finds_the_sign_in_too_in_any_case(jo):
    _ask("jo.carter@LUMEN.example")
    (row,) = _links()
    assert row.context["username"] == "jo"


@pytest.mark.parametrize("case", ["unknown", "no email", "inactive", "inactive user", "email as a username"])
def test_nothing_is_sent_where_nobody_can_receive_it_and_the_page_says_the_same(lumen, jo, case):
    identifier = "jo"
    if case == "unknown":
        identifier = "nobody"
    elif case == "no email":
        jo.user.email = ""
        jo.user.save()
    elif case == "inactive":
        jo.is_active = False
        jo.save()
    elif case == "inactive user":
        jo.user.is_active = False
        jo.user.save()
    else:
        identifier = "jo.carter"  # an email's first half is not a username
    answer = _ask(identifier)
    assert answer.status_code == 200 and "Check your email" in answer.content.decode()
    assert _links() == []


def test_one_link_every_ten_minutes_however_often_it_is_asked(jo):
    assert staff_password_link_send("jo") == 1
    assert staff_password_link_send("jo") == 0
    assert staff_password_link_send("jo.carter@lumen.example") == 0
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=11), tick=False):
        assert staff_password_link_send("jo") == 1
    assert len(_links()) == 2


def test_a_link_past_its_hour_no_longer_works(jo, smtp_settings, smtp_server):
    _ask("jo")
    deliver_due_messages_task()
    link = _path(_emailed_link(smtp_server))
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=61), tick=False):
        page = BrowserClient().get(link, follow=True).content.decode()
    assert "This link no longer works" in page and "more than 60 minutes old" in page
    assert _signs_in("jo", OLD)


def test_a_link_held_up_past_its_hour_is_not_sent(jo, smtp_settings, smtp_server):
    _ask("jo")
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=61), tick=False):
        assert deliver_due_messages_task() == 0  # the mail server was down for the hour
    (row,) = _links()
    assert row.status == OutboxStatus.CANCELLED
    assert (
        row.last_error
        == "Not sent: the link in it no longer works (used, or too old): they can ask for another."
    )
    assert smtp_server.messages == []


def test_a_link_used_before_it_went_is_not_sent(jo, smtp_settings, smtp_server):
    _ask("jo")
    _links()[0]  # written; meanwhile a manager set a new password
    jo.user.set_password(NEW)
    jo.user.save()
    assert deliver_due_messages_task() == 0
    assert _links()[0].status == OutboxStatus.CANCELLED


@pytest.mark.parametrize(
    ("first", "second", "said"),
    [
        (NEW, NEW + "x", "The two passwords differ: type the same one twice."),
        ("12345678", "12345678", "This password is entirely numeric."),
        ("jo", "jo", "This password is too short."),
    ],
)
def test_a_new_password_refused_says_why_and_the_link_still_works(
    jo, smtp_settings, smtp_server, first, second, said
):
    _ask("jo")
    deliver_due_messages_task()
    link = _path(_emailed_link(smtp_server))
    browser = BrowserClient()
    refused = _choose(browser, link, first, second)
    assert refused.status_code == 200 and said in refused.content.decode()
    jo.user.refresh_from_db()
    assert jo.user.check_password(OLD)  # (signing in would end the link: it signs the last sign-in)
    done = _choose(browser, link, NEW)
    assert "Your password is set" in done.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/password/link/not-base64!/abc-def/",
        "/accounts/password/link/MTIzNDU2Nzg5/abc-def/",
        "/accounts/password/link/%E2%80%A6/%00/",
    ],
)
def test_a_mangled_link_says_so(client, path):
    answer = client.get(path, follow=True)
    assert answer.status_code in (200, 404) and b"Traceback" not in answer.content
    if answer.status_code == 200:
        assert "This link no longer works" in answer.content.decode()


@pytest.mark.parametrize(("identifier", "said"), [("", "Type your username"), ("x" * 300, "too long")])
def test_the_request_form_refuses_bad_input_in_words(client, identifier, said):
    answer = client.post(reverse("password-forgotten"), {"identifier": identifier})
    assert answer.status_code == 400 and said in answer.content.decode()
    assert _links() == []


def test_a_manager_gives_a_colleague_the_address_their_link_goes_to(lumen, jo):
    manager = StaffMemberFactory(clinic=lumen, role="manager", display_name="Morgan Ellis")
    browser = BrowserClient()
    browser.force_login(manager.user)
    jo.user.email = ""
    jo.user.save()
    page = browser.get(reverse("staff")).content.decode()
    assert "No email address: a forgotten password is yours to set" in page
    refused = browser.post(reverse("staff-email", args=[jo.pk]), {"email": "jo at lumen"}, follow=True)
    said = html.unescape(refused.content.decode())
    assert "Jo Carter's email address is unchanged: “jo at lumen” is not an email address" in said
    saved = browser.post(reverse("staff-email", args=[jo.pk]), {"email": " jo@lumen.example "}, follow=True)
    assert "Jo Carter's email address is jo@lumen.example" in html.unescape(saved.content.decode())
    jo.user.refresh_from_db()
    assert jo.user.email == "jo@lumen.example"
    assert staff_password_link_send("jo") == 1


def test_only_a_manager_of_the_clinic_sets_a_colleagues_address(lumen, harbour, jo):
    desk = StaffMemberFactory(clinic=lumen, role="front_desk")
    other_manager = StaffMemberFactory(clinic=harbour, role="manager")
    for member, expected in ((desk, 403), (other_manager, 404)):
        browser = BrowserClient()
        browser.force_login(member.user)
        answer = browser.post(reverse("staff-email", args=[jo.pk]), {"email": "evil@example.com"})
        assert answer.status_code == expected
    jo.user.refresh_from_db()
    assert jo.user.email == "Jo.Carter@lumen.example"
