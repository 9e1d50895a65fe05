"""Guessing a staff member's password is stopped: after five wrong passwords in fifteen minutes the
account's sign-in pauses (the right password too) until the window has passed, on the sign-in page
and the admin's alike; an address trying many accounts pauses as well. Signing in clears the count."""

import datetime as dt

import pytest
import time_machine
from django.test import Client as BrowserClient
from django.utils import timezone

from clinic.models import SignInFailure
from clinic.sign_in import FAILURES_PER_ADDRESS, FAILURES_PER_USERNAME, locked_until
from tests.factories import StaffMemberFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def member(lumen):
    member = StaffMemberFactory(clinic=lumen, role="front_desk", display_name="Jo Carter")
    member.user.username = "jo"
    member.user.set_password(PASSWORD)
    member.user.save()
    return member


def _sign_in(browser, username, password, address="203.0.113.5"):
    return browser.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_five_wrong_passwords_pause_the_account_even_for_the_right_one(member):
    browser = BrowserClient()
    for _ in range(FAILURES_PER_USERNAME):
        answer = _sign_in(browser, "jo", "guess")
        assert "That username and password do not match" in answer.content.decode()
    assert SignInFailure.objects.filter(username="jo").count() == FAILURES_PER_USERNAME
    answer = _sign_in(browser, "jo", PASSWORD)
    page = answer.content.decode()
    assert answer.status_code == 200  # the form again, not signed in
    assert "Too many wrong passwords: signing in is paused to stop guessing. Try again in 15 minutes" in page
    assert "_auth_user_id" not in browser.session
    # the same for "JO": usernames are counted as the sign-in treats them
    assert "Too many wrong passwords" in _sign_in(BrowserClient(), "JO ", PASSWORD).content.decode()


def test_the_pause_ends_when_the_window_has_passed(member):
    browser = BrowserClient()
    for _ in range(FAILURES_PER_USERNAME):
        _sign_in(browser, "jo", "guess")
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16), tick=False):
        answer = _sign_in(browser, "jo", PASSWORD)
    assert answer.status_code == 302
    assert not SignInFailure.objects.filter(username="jo").exists()  # signing in cleared them


def test_four_wrong_then_the_right_one_signs_in_and_clears_the_count(member):
    browser = BrowserClient()
    for _ in range(FAILURES_PER_USERNAME - 1):
        _sign_in(browser, "jo", "guess")
    assert _sign_in(browser, "jo", PASSWORD).status_code == 302
    assert not SignInFailure.objects.filter(username="jo").exists()


def test_another_account_is_not_paused_by_someone_elses_guesses(member, lumen):
    other = StaffMemberFactory(clinic=lumen, role="manager")
    other.user.set_password(PASSWORD)
    other.user.save()
    for _ in range(FAILURES_PER_USERNAME):
        _sign_in(BrowserClient(), "jo", "guess")
    assert _sign_in(BrowserClient(), other.user.username, PASSWORD, address="198.51.100.7").status_code == 302


def test_an_address_trying_many_accounts_is_paused(member):
    for n in range(FAILURES_PER_ADDRESS):
        _sign_in(BrowserClient(), f"user{n}", "guess", address="192.0.2.9")
    assert locked_until("jo", "192.0.2.9") is not None
    answer = _sign_in(BrowserClient(), "jo", PASSWORD, address="192.0.2.9")
    assert "Too many wrong passwords" in answer.content.decode()
    # from elsewhere, Jo signs in
    assert _sign_in(BrowserClient(), "jo", PASSWORD, address="203.0.113.77").status_code == 302


def test_the_admins_sign_in_is_paused_too(member):
    member.user.is_staff = True
    member.user.save(update_fields=["is_staff"])
    for _ in range(FAILURES_PER_USERNAME):
        _sign_in(BrowserClient(), "jo", "guess")
    browser = BrowserClient()
    answer = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "jo", "password": PASSWORD, "next": "/admin/"},
        REMOTE_ADDR="203.0.113.5",
    )
    # the admin signs in through the clinic's sign-in (which asks for a code where one is set up)
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/?next=/admin/"
    assert "_auth_user_id" not in answer.wsgi_request.session
    answer = browser.post(
        answer["Location"],
        {"username": "jo", "password": PASSWORD, "next": "/admin/"},
        REMOTE_ADDR="203.0.113.5",
    )
    assert answer.status_code == 200 and "Too many wrong passwords" in answer.content.decode()
    assert "_auth_user_id" not in answer.wsgi_request.session


def test_old_failures_are_deleted_as_new_ones_come(member):
    SignInFailure.objects.create(username="jo", at=timezone.now() - dt.timedelta(days=31))
    _sign_in(BrowserClient(), "someone", "guess")
    assert list(SignInFailure.objects.values_list("username", flat=True)) == ["someone"]


def test_a_sign_in_lasts_a_working_day(member, settings):
    from clinic import settings as project_settings

    assert project_settings.SESSION_COOKIE_AGE == 12 * 3600
    settings.SESSION_COOKIE_AGE = project_settings.SESSION_COOKIE_AGE  # conftest lengthens it for others
    browser = BrowserClient()
    assert _sign_in(browser, "jo", PASSWORD).status_code == 302
    assert browser.session.get_expiry_age() == 12 * 3600
    with time_machine.travel(timezone.now() + dt.timedelta(hours=13), tick=False):
        assert browser.get("/").status_code == 302  # back to the sign-in page


def test_behind_the_clinics_proxy_the_address_is_the_one_it_forwarded(member, settings):
    settings.BEHIND_TLS_PROXY = True
    for n in range(FAILURES_PER_ADDRESS):
        BrowserClient().post(
            "/accounts/login/",
            {"username": f"user{n}", "password": "guess"},
            REMOTE_ADDR="10.0.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR="1.2.3.4, 192.0.2.9",  # what the client wrote, then what the proxy saw
        )
    assert set(SignInFailure.objects.values_list("ip_address", flat=True)) == {"192.0.2.9"}
    # another client behind the same proxy signs in
    answer = BrowserClient().post(
        "/accounts/login/",
        {"username": "jo", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.8",
    )
    assert answer.status_code == 302
