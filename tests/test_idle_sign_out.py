"""Where the clinic asks for it, a staff sign-in nobody used for a while ends (the server's half; the
screen's own sign-out is in test_browser). The day's list asking whether it changed, or reloading
itself, is not use; a page someone types in tells the server they are still here."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone

from clinic.middleware import IDLE_SIGNED_OUT
from clinic.models import Clinic
from tests.factories import StaffMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(lumen):
    Clinic.objects.filter(pk=lumen.pk).update(idle_sign_out_minutes=15)
    member = StaffMemberFactory(clinic=lumen, role="front_desk")
    browser = BrowserClient()
    browser.force_login(member.user)
    return browser


def _at(minutes):
    return time_machine.travel(timezone.now() + dt.timedelta(minutes=minutes), tick=False)


def _signed_out(answer) -> bool:
    return answer.status_code == 302 and answer["Location"].startswith(reverse("login"))


def test_fifteen_minutes_without_use_sign_out_with_a_word_why(desk):
    assert desk.get("/calendar/").status_code == 200
    with _at(10):
        assert desk.get("/").status_code == 200
    with _at(20):  # ten minutes after the last use
        assert desk.get("/").status_code == 200
    with _at(36):
        answer = desk.get("/calendar/?date=2026-12-02")
    assert _signed_out(answer) and "next=%2Fcalendar%2F%3Fdate%3D2026-12-02" in answer["Location"]
    page = desk.get(answer["Location"]).content.decode()
    assert IDLE_SIGNED_OUT.replace("'", "&#x27;") in page
    assert _signed_out(desk.get("/"))  # and stays out


def test_the_day_lists_own_checks_and_reloads_are_not_use(desk):
    assert desk.get("/").status_code == 200
    with _at(10):
        assert desk.get("/day/version/", HTTP_X_CLINIC_POLL="1").status_code == 200
        assert desk.get("/?auto=1").status_code == 200
    with _at(16):
        poll = desk.get("/day/version/", HTTP_X_CLINIC_POLL="1")
    assert poll.status_code == 401 and poll.json()["code"] == "signed_out"


def test_someone_typing_on_an_open_page_keeps_the_sign_in(desk):
    assert desk.get("/").status_code == 200
    with _at(10):
        assert desk.get(reverse("still-here")).status_code == 204
    with _at(20):
        assert desk.get("/").status_code == 200


def test_without_the_setting_a_sign_in_lasts_the_working_day(lumen):
    member = StaffMemberFactory(clinic=lumen, role="front_desk")
    browser = BrowserClient()
    browser.force_login(member.user)
    assert browser.get("/").status_code == 200
    page = browser.get("/").content.decode()
    assert "data-idle-seconds" not in page and "idle-sign-out.js" not in page
    with _at(180):
        assert browser.get("/").status_code == 200


def test_the_screen_is_told_how_long_it_may_sit(desk):
    page = desk.get("/").content.decode()
    assert 'data-idle-seconds="900"' in page and "/static/js/idle-sign-out.js" in page
    assert 'data-idle-next="/accounts/login/?idle=1"' in page
    assert (
        "You were signed out after a while without use"
        in BrowserClient().get("/accounts/login/?idle=1").content.decode()
    )


def test_a_manager_chooses_it_on_the_staff_page(lumen):
    manager = StaffMemberFactory(clinic=lumen, role="manager")
    browser = BrowserClient()
    browser.force_login(manager.user)
    page = browser.get(reverse("staff")).content.decode()
    assert '<option value="" selected>The working day (12 hours)</option>' in page
    saved = browser.post(reverse("clinic-idle-sign-out"), {"minutes": "15"}, follow=True).content.decode()
    assert "A screen nobody uses for 15 minutes now signs out." in saved
    assert Clinic.objects.get(pk=lumen.pk).idle_sign_out_minutes == 15
    for junk in ("7", "x", "-5", "99999999999999999999"):
        refused = browser.post(reverse("clinic-idle-sign-out"), {"minutes": junk}, follow=True)
        assert "Choose how long from the list." in refused.content.decode()
    assert Clinic.objects.get(pk=lumen.pk).idle_sign_out_minutes == 15
    browser.post(reverse("clinic-idle-sign-out"), {"minutes": ""})
    assert Clinic.objects.get(pk=lumen.pk).idle_sign_out_minutes is None


def test_only_a_manager_chooses_it(lumen):
    desk = StaffMemberFactory(clinic=lumen, role="front_desk")
    browser = BrowserClient()
    browser.force_login(desk.user)
    assert browser.post(reverse("clinic-idle-sign-out"), {"minutes": "5"}).status_code == 403
    assert Clinic.objects.get(pk=lumen.pk).idle_sign_out_minutes is None


@pytest.mark.parametrize("minutes", [4, 241])
def test_the_database_keeps_it_between_5_and_240_minutes(lumen, minutes):
    with pytest.raises(IntegrityError), transaction.atomic():
        Clinic.objects.filter(pk=lumen.pk).update(idle_sign_out_minutes=minutes)
