"""Each staff sign-in's activity: signed in (from where), wrong passwords, passwords and email changed
and by whom, two-step sign-in on and off. Each person reads their own on "Your password"; managers
read everyone's on the staff page, in a fixed number of queries however many staff there are."""

import datetime as dt
import html

import pytest
import time_machine
from django.db import connection
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.account_events import ACTIVITY_SHOWN, account_activity, account_event_record
from clinic.models import AccountAction, AccountEvent
from clinic.staff import (
    staff_email_set,
    staff_password_link_send,
    staff_password_set,
    staff_password_set_from_link,
    staff_sign_in_unpause,
)
from clinic.two_step import code_at, step_of, two_step_begin, two_step_confirm, two_step_reset_for
from tests.factories import StaffMemberFactory

pytestmark = pytest.mark.django_db

PASSWORD = "lilac-harbour-47"


@pytest.fixture
def jo(lumen):
    member = StaffMemberFactory(clinic=lumen, role="front_desk", display_name="Jo Carter")
    member.user.username = "jo"
    member.user.email = "jo@lumen.example"
    member.user.set_password(PASSWORD)
    member.user.save()
    return member


@pytest.fixture
def manager(lumen):
    return StaffMemberFactory(clinic=lumen, role="manager", display_name="Morgan Ellis")


def _said(lines):
    return [(line.said, line.by, line.address) for line in lines]


def test_signing_in_and_wrong_passwords_are_on_your_own_page(jo):
    browser = BrowserClient()
    browser.post(reverse("login"), {"username": "jo", "password": "guess"}, REMOTE_ADDR="198.51.100.7")
    browser.post(reverse("login"), {"username": "jo", "password": PASSWORD}, REMOTE_ADDR="203.0.113.5")
    page = html.unescape(browser.get(reverse("own-password")).content.decode())
    assert "Your sign-in's latest activity" in page
    assert "· Signed in · from 203.0.113.5</li>" in page
    # signing in cleared the wrong password's count, and so its line
    assert "Wrong password" not in page
    BrowserClient().post(
        reverse("login"), {"username": "jo", "password": "guess"}, REMOTE_ADDR="198.51.100.7"
    )
    assert _said(account_activity([jo.user])[jo.user.pk]) == [
        ("Wrong password or code", "", "198.51.100.7"),
        ("Signed in", "", "203.0.113.5"),
    ]


def test_what_a_manager_did_says_who(jo, manager):
    staff_password_set(jo, password="another-pass-93", by=manager)
    staff_email_set(jo, email="jo.carter@lumen.example", by=manager)
    staff_sign_in_unpause(jo, by=manager)
    two_step_begin(jo.user)
    two_step_confirm(jo.user, code=code_at(jo.user.two_step_key.secret, step_of(timezone.now())))
    two_step_reset_for(jo, by=manager)
    assert _said(account_activity([jo.user])[jo.user.pk]) == [
        ("Two-step sign-in turned off", "Morgan Ellis", ""),
        ("Turned two-step sign-in on", "", ""),
        ("Let sign in again after wrong passwords", "Morgan Ellis", ""),
        ("Email address changed", "Morgan Ellis", ""),
        ("Given a new password", "Morgan Ellis", ""),
    ]
    browser = BrowserClient()
    browser.force_login(manager.user)
    page = html.unescape(browser.get(reverse("staff")).content.decode())
    assert "Jo Carter's activity" in page and "Given a new password by Morgan Ellis" in page


def test_a_password_from_the_emailed_link_and_ones_own_change_are_recorded(jo):
    staff_password_link_send("jo", address="192.0.2.44")
    staff_password_set_from_link(jo.user, password="another-pass-93")
    browser = BrowserClient()
    browser.force_login(jo.user)
    browser.post(
        reverse("own-password"),
        {
            "old_password": "another-pass-93",
            "new_password1": "third-pass-517",
            "new_password2": "third-pass-517",
        },
    )
    said = [line.said for line in account_activity([jo.user])[jo.user.pk]]
    assert said == [
        "Changed their password",
        "Signed in",  # the test's own sign-in
        "Chose a new password from the emailed link",
        "Emailed a link to a new password",
    ]
    assert account_activity([jo.user])[jo.user.pk][-1].address == "192.0.2.44"


def test_someone_busy_does_not_crowd_out_a_colleague(jo, manager):
    for _ in range(ACTIVITY_SHOWN + 5):
        account_event_record(manager.user, AccountAction.SIGNED_IN, address="203.0.113.9")
    account_event_record(jo.user, AccountAction.SIGNED_IN, address="203.0.113.5")
    activity = account_activity([manager.user, jo.user])
    assert len(activity[manager.user.pk]) == ACTIVITY_SHOWN
    assert _said(activity[jo.user.pk]) == [("Signed in", "", "203.0.113.5")]


def test_events_are_kept_for_400_days(jo):
    account_event_record(jo.user, AccountAction.SIGNED_IN)
    with time_machine.travel(timezone.now() + dt.timedelta(days=401), tick=False):
        account_event_record(jo.user, AccountAction.SIGNED_IN)
    assert AccountEvent.objects.filter(user=jo.user).count() == 1


def test_the_staff_page_reads_everyones_activity_in_the_same_number_of_queries(lumen, manager):
    browser = BrowserClient()
    browser.force_login(manager.user)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(reverse("staff")).status_code == 200
        return len(captured)

    for _ in range(2):
        member = StaffMemberFactory(clinic=lumen, role="practitioner")
        account_event_record(member.user, AccountAction.SIGNED_IN)
    few = queries()
    for _ in range(10):
        member = StaffMemberFactory(clinic=lumen, role="practitioner")
        account_event_record(member.user, AccountAction.SIGNED_IN)
        account_event_record(member.user, AccountAction.PASSWORD_SET, by=manager.user)
    assert queries() == few
