"""Two-step sign-in: after the password, a code from an authenticator app (RFC 6238), never the same
code twice; recovery codes once each; wrong codes pause the sign-in as wrong passwords do; a manager
turns a colleague's off, and can require it of everyone, who then set it up before anything else."""

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone

from clinic.models import Clinic, RecoveryCode, SignInFailure, TwoStepKey
from clinic.sign_in import FAILURES_PER_USERNAME
from clinic.two_step import (
    code_at,
    step_of,
    two_step_begin,
    two_step_check,
    two_step_confirm,
)
from tests.factories import StaffMemberFactory

pytestmark = pytest.mark.django_db

PASSWORD = "lilac-harbour-47"


def _code(user, *, offset_steps=0):
    key = TwoStepKey.objects.get(user=user)
    return code_at(key.secret, step_of(timezone.now()) + offset_steps)


@pytest.fixture
def jo(lumen):
    member = StaffMemberFactory(clinic=lumen, role="practitioner", display_name="Jo Carter")
    member.user.username = "jo"
    member.user.set_password(PASSWORD)
    member.user.save()
    return member


@pytest.fixture
def jo_codes(jo):
    two_step_begin(jo.user)
    return two_step_confirm(jo.user, code=_code(jo.user))


def _password(browser, username="jo", password=PASSWORD, next_url=""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return browser.post(reverse("login"), data)


def _signed_in(browser) -> bool:
    return browser.get(reverse("home")).status_code == 200


def test_the_codes_are_rfc_6238s():
    # RFC 6238, appendix B: the SHA-1 secret "12345678901234567890", eight digits
    import base64

    secret = base64.b32encode(b"12345678901234567890").decode()
    assert code_at(secret, 59 // 30, digits=8) == "94287082"
    assert code_at(secret, 1111111109 // 30, digits=8) == "07081804"
    assert code_at(secret, 2000000000 // 30, digits=8) == "69279037"


def test_setting_it_up_takes_a_code_from_the_app_and_gives_ten_recovery_codes(jo):
    browser = BrowserClient()
    browser.force_login(jo.user)
    page = browser.get(reverse("two-step")).content.decode()
    assert "Off: signing in asks for your password only." in page
    page = browser.post(reverse("two-step"), {"action": "begin"}).content.decode()
    assert "<svg" in page and 'id="two-step-secret"' in page
    key = TwoStepKey.objects.get(user=jo.user)
    shown = re.search(r'id="two-step-secret">([A-Z2-7 ]+)<', page).group(1)
    assert shown.replace(" ", "") == key.secret and len(key.secret) == 32
    wrong = browser.post(reverse("two-step"), {"action": "confirm", "code": "000000"})
    assert wrong.status_code == 400 and "That code does not match" in wrong.content.decode()
    assert key.confirmed_at is None
    done = browser.post(reverse("two-step"), {"action": "confirm", "code": _code(jo.user)}).content.decode()
    assert "Two-step sign-in is on" in done and "Your recovery codes" in done
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", done)
    assert len(set(codes)) == 10 and RecoveryCode.objects.filter(user=jo.user).count() == 10
    # kept as hashes only
    assert not RecoveryCode.objects.filter(code_hash__in=codes).exists()
    again = browser.get(reverse("two-step")).content.decode()
    assert "10 recovery codes left" in again and "Your recovery codes" not in again


def test_signing_in_asks_for_the_code_after_the_password(jo, jo_codes):
    browser = BrowserClient()
    answer = _password(browser, next_url="/calendar/")
    assert answer["Location"] == reverse("two-step-code")
    assert not _signed_in(browser)  # the password alone does not sign in
    page = browser.get(reverse("two-step-code")).content.decode()
    assert "Your code" in page and 'autocomplete="one-time-code"' in page
    # the code of the step that was used to set it up is spent: the next one signs in
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=30), tick=False):
        code = _code(jo.user)
        signed = browser.post(reverse("two-step-code"), {"code": code[:3] + " " + code[3:]})
    assert signed["Location"] == "/calendar/"
    assert _signed_in(browser)


def test_a_code_signs_in_once(jo, jo_codes):
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=30), tick=False):
        code = _code(jo.user)
        first, second = BrowserClient(), BrowserClient()
        _password(first)
        _password(second)
        assert first.post(reverse("two-step-code"), {"code": code}).status_code == 302
        replayed = second.post(reverse("two-step-code"), {"code": code})
    assert replayed.status_code == 400 and "That code does not match" in replayed.content.decode()
    assert not _signed_in(second)


def test_a_phone_half_a_minute_off_still_works_but_not_two_minutes(jo, jo_codes):
    later = timezone.now() + dt.timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        assert not two_step_check(jo.user, code=_code(jo.user, offset_steps=4))
        assert two_step_check(jo.user, code=_code(jo.user, offset_steps=1))


def test_a_recovery_code_signs_in_once(jo, jo_codes):
    browser = BrowserClient()
    _password(browser)
    assert browser.post(reverse("two-step-code"), {"code": jo_codes[0].upper()}).status_code == 302
    assert _signed_in(browser)
    other = BrowserClient()
    _password(other)
    assert other.post(reverse("two-step-code"), {"code": jo_codes[0]}).status_code == 400
    assert RecoveryCode.objects.filter(user=jo.user, used_at__isnull=True).count() == 9


def test_wrong_codes_pause_the_sign_in_as_wrong_passwords_do(jo, jo_codes):
    browser = BrowserClient()
    _password(browser)
    for _ in range(FAILURES_PER_USERNAME):
        answer = browser.post(reverse("two-step-code"), {"code": "123456"})
        assert "That code does not match" in answer.content.decode()
    assert SignInFailure.objects.filter(username="jo").count() == FAILURES_PER_USERNAME
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=30), tick=False):
        paused = browser.post(reverse("two-step-code"), {"code": _code(jo.user)})
    assert "Too many wrong passwords" in paused.content.decode()
    assert not _signed_in(browser)
    assert _password(BrowserClient()).status_code == 200  # the password page is paused too


def test_the_code_is_asked_for_within_five_minutes_of_the_password(jo, jo_codes):
    browser = BrowserClient()
    _password(browser)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=6), tick=False):
        answer = browser.post(reverse("two-step-code"), {"code": _code(jo.user)}, follow=True)
    assert (
        "Sign in again: the code is asked for within five minutes of the password." in answer.content.decode()
    )
    assert not _signed_in(browser)


def test_the_code_page_without_a_password_sends_to_sign_in(client):
    assert client.get(reverse("two-step-code"))["Location"] == reverse("login")


def test_the_admins_sign_in_is_the_clinics(client):
    answer = client.get("/admin/login/?next=/admin/")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/?next=/admin/"


def test_turning_it_off_takes_a_code(jo, jo_codes):
    browser = BrowserClient()
    browser.force_login(jo.user)
    refused = browser.post(reverse("two-step"), {"action": "off", "code": "000000"})
    assert refused.status_code == 400 and TwoStepKey.objects.filter(user=jo.user).exists()
    browser.post(reverse("two-step"), {"action": "off", "code": jo_codes[3]})
    assert not TwoStepKey.objects.filter(user=jo.user).exists()
    assert not RecoveryCode.objects.filter(user=jo.user).exists()
    assert _password(BrowserClient()).status_code == 302


def test_new_recovery_codes_replace_the_old(jo, jo_codes):
    browser = BrowserClient()
    browser.force_login(jo.user)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=30), tick=False):
        page = browser.post(reverse("two-step"), {"action": "renew", "code": _code(jo.user)}).content.decode()
    fresh = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", page)
    assert len(fresh) == 10 and not set(fresh) & set(jo_codes)
    assert not two_step_check(jo.user, code=jo_codes[0])
    assert two_step_check(jo.user, code=fresh[0])


def test_a_manager_turns_a_colleagues_off_and_requires_it_of_everyone(lumen, jo, jo_codes):
    manager = StaffMemberFactory(clinic=lumen, role="manager", display_name="Morgan Ellis")
    browser = BrowserClient()
    browser.force_login(manager.user)
    page = browser.get(reverse("staff")).content.decode()
    assert "Turn off Jo Carter's (a lost phone)" in page
    browser.post(reverse("staff-two-step-off", args=[jo.pk]))
    assert not TwoStepKey.objects.filter(user=jo.user).exists()
    # required of everyone: the manager's own session has given no code, so they set it up first
    answer = browser.post(reverse("clinic-two-step"), {"required": "yes"})
    assert Clinic.objects.get(pk=lumen.pk).two_step_required
    home = browser.get(reverse("calendar"))
    assert home.status_code == 302 and home["Location"] == "/accounts/two-step/?next=%2Fcalendar%2F"
    assert (
        "Your clinic asks everyone to sign in with a code" in browser.get(home["Location"]).content.decode()
    )
    api = browser.get("/api/v1/me/")
    assert api.status_code == 403 and api.json()["code"] == "two_step_required"
    browser.post(reverse("two-step"), {"action": "begin"})
    browser.post(reverse("two-step"), {"action": "confirm", "code": _code(manager.user)})
    assert browser.get(reverse("calendar")).status_code == 200
    # Jo, whose two-step was turned off, signs in with the password and must set it up
    jo_browser = BrowserClient()
    assert _password(jo_browser)["Location"] == "/"
    assert jo_browser.get("/")["Location"].startswith("/accounts/two-step/")
    # and may not turn it off while the clinic requires it
    two_step_begin(jo.user)
    two_step_confirm(jo.user, code=_code(jo.user))
    refused = jo_browser.post(reverse("two-step"), {"action": "off", "code": "whatever"})
    assert "Your clinic asks everyone to sign in with a code" in refused.content.decode()
    assert answer.status_code == 302


def test_someone_with_it_on_signed_in_before_it_was_required_gives_a_code_once(lumen, jo, jo_codes):
    browser = BrowserClient()
    browser.force_login(jo.user)  # signed in earlier
    Clinic.objects.filter(pk=lumen.pk).update(two_step_required=True)
    sent = browser.get("/calendar/")
    page = browser.get(sent["Location"]).content.decode()
    assert "type the one your app shows now to go on" in page
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=30), tick=False):
        went = browser.post(sent["Location"], {"action": "verify", "code": _code(jo.user)})
    assert went["Location"] == "/calendar/"
    assert browser.get("/calendar/").status_code == 200


@pytest.mark.parametrize("who", ["front_desk", "practitioner"])
def test_only_managers_change_others_two_step(lumen, jo, jo_codes, who):
    other = StaffMemberFactory(clinic=lumen, role=who)
    browser = BrowserClient()
    browser.force_login(other.user)
    assert browser.post(reverse("staff-two-step-off", args=[jo.pk])).status_code == 403
    assert browser.post(reverse("clinic-two-step"), {"required": "yes"}).status_code == 403
    assert TwoStepKey.objects.filter(user=jo.user).exists()
    assert not Clinic.objects.get(pk=lumen.pk).two_step_required


@pytest.mark.parametrize("code", ["", "x" * 500, "\x00", "12345", "1234567"])
def test_odd_codes_are_refused_in_words(jo, jo_codes, code):
    browser = BrowserClient()
    _password(browser)
    answer = browser.post(reverse("two-step-code"), {"code": code})
    assert answer.status_code == 400 and b"Traceback" not in answer.content
    assert "code" in answer.content.decode().lower()


def test_the_app_reads_the_secret_from_a_full_size_qr_code(jo):
    from clinic.two_step import provisioning_uri, qr_code_svg

    key = two_step_begin(jo.user)
    uri = provisioning_uri(key, issuer="Lumen Skin Clinic")
    assert uri == (
        f"otpauth://totp/Lumen%20Skin%20Clinic%3Ajo?secret={key.secret}"
        "&issuer=Lumen+Skin+Clinic&digits=6&period=30"
    )
    svg = qr_code_svg(uri)
    # a regular QR code (phones' apps do not read Micro QR), scaled by its viewBox, with its quiet zone
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    assert size >= 21 + 8 and "<title>QR code for your authenticator app</title>" in svg


def test_codes_asked_for_on_the_two_step_page_are_counted_and_paused_as_at_sign_in(lumen, jo, jo_codes):
    Clinic.objects.filter(pk=lumen.pk).update(two_step_required=True)
    browser = BrowserClient()
    browser.force_login(jo.user)  # a session that has not given its code
    for _ in range(FAILURES_PER_USERNAME):
        wrong = browser.post(reverse("two-step"), {"action": "verify", "code": "123456"})
        assert "That code does not match" in wrong.content.decode()
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=30), tick=False):
        paused = browser.post(reverse("two-step"), {"action": "verify", "code": _code(jo.user)})
    assert paused.status_code == 400 and "Too many wrong passwords" in paused.content.decode()
    assert browser.get("/calendar/").status_code == 302  # still not let in


def test_a_code_mistyped_while_setting_it_up_is_not_counted_as_a_guess(jo):
    browser = BrowserClient()
    browser.force_login(jo.user)
    browser.post(reverse("two-step"), {"action": "begin"})
    for _ in range(FAILURES_PER_USERNAME + 1):
        browser.post(reverse("two-step"), {"action": "confirm", "code": "000000"})
    assert not SignInFailure.objects.filter(username="jo").exists()
