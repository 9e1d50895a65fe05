"""A device someone trusts skips the code for 30 days: the password is still asked; the cookie is a
random token the database keeps only as a hash; a new password, two-step turned off, leaving the
clinic or the person's own button forget every device at once."""

import datetime as dt

import pytest
import time_machine
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone

from clinic.models import AccountEvent, TwoStepDevice, TwoStepKey
from clinic.staff import staff_member_leave, staff_password_set
from clinic.two_step import DEVICE_COOKIE, _hash, step_of, two_step_reset_for
from tests.factories import StaffMemberFactory
from tests.test_two_step_sign_in import PASSWORD, _code, _password, _signed_in
from tests.test_two_step_sign_in import jo as jo_fixture
from tests.test_two_step_sign_in import jo_codes as jo_codes_fixture

pytestmark = pytest.mark.django_db

jo, jo_codes = jo_fixture, jo_codes_fixture


def _with_code(browser, user, *, remember, username="jo"):
    """The password, then a code of the step after the last one used (a code signs in once)."""
    _password(browser, username=username)
    last_used = TwoStepKey.objects.get(user=user).last_used_step
    step = max(last_used, step_of(timezone.now())) + 1
    with time_machine.travel(dt.datetime.fromtimestamp(step * 30 + 1, tz=dt.UTC), tick=False):
        data = {"code": _code(user)}
        if remember:
            data["remember"] = "on"
        return browser.post(reverse("two-step-code"), data)


def _trusted_browser(jo):
    browser = BrowserClient()
    answer = _with_code(browser, jo.user, remember=True)
    assert answer.status_code == 302 and _signed_in(browser)
    browser.post(reverse("logout"))
    assert not _signed_in(browser)
    return browser, answer


def test_a_trusted_device_asks_for_the_password_only(jo, jo_codes):
    browser, answer = _trusted_browser(jo)
    cookie = answer.cookies[DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["max-age"] == 30 * 24 * 3600
    [device] = TwoStepDevice.objects.filter(user=jo.user)
    assert device.token_hash == _hash(cookie.value) and cookie.value not in device.token_hash
    # the password alone signs in there, and the two-step page lists the device
    assert _password(browser).url == "/"
    assert _signed_in(browser)
    page = browser.get(reverse("two-step")).content.decode()
    assert 'id="remembered-devices"' in page and 'id="forget-devices"' in page
    # a wrong password is still a wrong password
    browser.post(reverse("logout"))
    assert _password(browser, password="not-it").status_code == 200 and not _signed_in(browser)
    assert AccountEvent.objects.filter(user=jo.user, action="device_remembered").count() == 1


def test_without_the_box_ticked_or_on_another_browser_the_code_is_asked(jo, jo_codes):
    browser = BrowserClient()
    answer = _with_code(browser, jo.user, remember=False)
    assert DEVICE_COOKIE not in answer.cookies and not TwoStepDevice.objects.exists()
    _trusted_browser(jo)
    other = BrowserClient()
    assert _password(other).url == reverse("two-step-code")
    # someone else's password on the trusted browser still asks them for their code
    sam = StaffMemberFactory(clinic=jo.clinic, role="practitioner")
    sam.user.username, sam.user.email = "sam", ""
    sam.user.set_password(PASSWORD)
    sam.user.save()
    from clinic.two_step import two_step_begin, two_step_confirm

    two_step_begin(sam.user)
    two_step_confirm(sam.user, code=_code(sam.user))
    trusted, _ = _trusted_browser(jo)
    assert _password(trusted, username="sam").url == reverse("two-step-code")


def test_after_30_days_the_code_is_asked_again(jo, jo_codes):
    browser, _ = _trusted_browser(jo)
    with time_machine.travel(timezone.now() + dt.timedelta(days=30, minutes=1)):
        assert _password(browser).url == reverse("two-step-code")


@pytest.mark.parametrize(
    "forgotten_by", ["own button", "new password", "manager's password", "two-step off", "left"]
)
def test_every_way_of_forgetting_asks_for_the_code_again(jo, jo_codes, lumen, forgotten_by):
    browser, _ = _trusted_browser(jo)
    manager = StaffMemberFactory(clinic=lumen, role="manager")
    if forgotten_by == "own button":
        assert _password(browser).url == "/"
        answer = browser.post(reverse("two-step"), {"action": "forget_devices"}, follow=True)
        assert "Forgotten: 1 device. Each asks for a code again." in answer.content.decode()
        browser.post(reverse("logout"))
    elif forgotten_by == "new password":
        assert _password(browser).url == "/"
        answer = browser.post(
            reverse("own-password"),
            {
                "old_password": PASSWORD,
                "new_password1": "saffron-quay-93",
                "new_password2": "saffron-quay-93",
            },
            follow=True,
        )
        assert "Your remembered devices ask for a code again." in answer.content.decode()
        browser.post(reverse("logout"))
        assert _password(browser, password="saffron-quay-93").url == reverse("two-step-code")
        return
    elif forgotten_by == "manager's password":
        staff_password_set(jo, password="saffron-quay-93", by=manager)
        assert _password(browser, password="saffron-quay-93").url == reverse("two-step-code")
        return
    elif forgotten_by == "two-step off":
        two_step_reset_for(jo, by=manager)
        assert not TwoStepDevice.objects.filter(user=jo.user).exists()
        return
    else:
        staff_member_leave(jo, by=manager)
        assert not TwoStepDevice.objects.filter(user=jo.user).exists()
        return
    assert not TwoStepDevice.objects.filter(user=jo.user).exists()
    assert _password(browser).url == reverse("two-step-code")


def test_a_manager_sees_and_forgets_a_colleagues_trusted_devices(jo, jo_codes, lumen, harbour):
    """A lost tablet: the staff page lists what skips Jo's code, and one button makes each ask again."""
    browser, _ = _trusted_browser(jo)
    manager = StaffMemberFactory(clinic=lumen, role="manager")
    managing = BrowserClient()
    managing.force_login(manager.user)
    page = managing.get(reverse("staff")).content.decode()
    assert f'id="devices-{jo.pk}"' in page and "Skips the code on 1 device" in page
    forget = reverse("staff-devices-forget", args=[jo.pk])
    assert forget in page
    # the desk may not, nor another clinic's manager
    desk = BrowserClient()
    desk.force_login(StaffMemberFactory(clinic=lumen, role="front_desk").user)
    assert desk.post(forget).status_code == 403
    elsewhere = BrowserClient()
    elsewhere.force_login(StaffMemberFactory(clinic=harbour, role="manager").user)
    assert elsewhere.post(forget).status_code == 404
    assert TwoStepDevice.objects.filter(user=jo.user).count() == 1

    answer = managing.post(forget, follow=True).content.decode()
    assert "Forgotten: 1 of Jo Carter&#x27;s devices. Each asks for their code again." in answer
    assert f'id="devices-{jo.pk}"' not in answer
    assert not TwoStepDevice.objects.filter(user=jo.user).exists()
    assert _password(browser).url == reverse("two-step-code")
    event = AccountEvent.objects.get(user=jo.user, action="devices_forgotten")
    assert event.by_id == manager.user_id
