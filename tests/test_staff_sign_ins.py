"""A manager keeps the clinic's sign-ins without a superuser: gives someone new a sign-in (a manager
gets the managers' settings too), gives a colleague a new password, lets a paused one in again; and
everyone changes their own password."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as BrowserClient
from django.urls import reverse

from clinic.models import SignInFailure, StaffMember
from clinic.sign_in import FAILURES_PER_USERNAME
from tests.factories import StaffMemberFactory

pytestmark = pytest.mark.django_db

GOOD = "lilac-harbour-47"


@pytest.fixture
def manager(lumen):
    member = StaffMemberFactory(clinic=lumen, role="manager", display_name="Morgan Ellis")
    member.user.set_password(GOOD)
    member.user.save()
    return member


@pytest.fixture
def jo(lumen):
    member = StaffMemberFactory(clinic=lumen, role="front_desk", display_name="Jo Carter")
    member.user.username = "jo"
    member.user.set_password("old-password-91")
    member.user.save()
    return member


def _as(member):
    browser = BrowserClient()
    browser.force_login(member.user)
    return browser


def _signs_in(username, password) -> bool:
    return (
        BrowserClient().post("/accounts/login/", {"username": username, "password": password}).status_code
        == 302
    )


NEW = {
    "username": "sam.rivera",
    "display_name": "Sam Rivera",
    "email": "sam@lumen.example",
    "role": "practitioner",
    "password1": "quiet-meadow-22",
    "password2": "quiet-meadow-22",
}


def test_a_manager_gives_someone_new_a_sign_in(manager, lumen):
    answer = _as(manager).post(reverse("staff"), NEW, follow=True)
    assert "Sam Rivera can sign in as “sam.rivera” with the password you chose" in answer.content.decode()
    sam = StaffMember.objects.get(user__username="sam.rivera")
    assert (sam.clinic, sam.role, sam.display_name, sam.user.email) == (
        lumen,
        "practitioner",
        "Sam Rivera",
        "sam@lumen.example",
    )
    assert not sam.user.is_staff  # the admin's settings are for managers
    assert _signs_in("sam.rivera", "quiet-meadow-22")


def test_a_new_manager_gets_the_managers_settings(manager):
    _as(manager).post(reverse("staff"), {**NEW, "username": "alex", "role": "manager"})
    alex = get_user_model().objects.get(username="alex")
    assert alex.is_staff and alex.has_perm("treatments.change_service")
    assert alex.has_perm("clinic.view_outboxmessage") and not alex.has_perm("clinic.change_outboxmessage")


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"username": "JO"}, "The username “JO” is taken: choose another."),
        ({"password1": "password", "password2": "password"}, "This password is too common."),
        ({"password2": "something-else-1"}, "The two passwords differ: type the same one twice."),
        ({"role": "owner"}, "Select a valid choice."),
    ],
)
def test_what_cannot_be_a_sign_in_is_refused_in_words(manager, jo, change, said):
    answer = _as(manager).post(reverse("staff"), {**NEW, **change})
    assert answer.status_code == 400
    assert said in answer.content.decode()
    assert not StaffMember.objects.filter(display_name="Sam Rivera").exists()


def test_only_managers_open_the_staff_page(jo):
    assert _as(jo).get(reverse("staff")).status_code == 403
    assert (
        _as(jo)
        .post(reverse("staff-password", args=[jo.pk]), {"password1": GOOD, "password2": GOOD})
        .status_code
        == 403
    )


def test_a_manager_gives_a_locked_out_colleague_a_new_password(manager, jo):
    for _ in range(FAILURES_PER_USERNAME):
        _signs_in("jo", "guess")
    page = _as(manager).get(reverse("staff")).content.decode()
    assert "Paused after wrong passwords until" in page
    answer = _as(manager).post(
        reverse("staff-password", args=[jo.pk]), {"password1": GOOD, "password2": GOOD}, follow=True
    )
    assert "Jo Carter has a new password" in answer.content.decode()
    assert not SignInFailure.objects.filter(username="jo").exists()
    assert not _signs_in("jo", "old-password-91")
    assert _signs_in("jo", GOOD)


def test_a_weak_new_password_is_refused_and_the_old_one_stands(manager, jo):
    answer = _as(manager).post(
        reverse("staff-password", args=[jo.pk]),
        {"password1": "12345678", "password2": "12345678"},
        follow=True,
    )
    assert "Jo Carter&#x27;s password is unchanged" in answer.content.decode()
    assert _signs_in("jo", "old-password-91")


def test_a_manager_lets_a_paused_colleague_in_again(manager, jo):
    for _ in range(FAILURES_PER_USERNAME):
        _signs_in("jo", "guess")
    assert not _signs_in("jo", "old-password-91")
    answer = _as(manager).post(reverse("staff-unpause", args=[jo.pk]), follow=True)
    assert "Jo Carter can sign in again now." in answer.content.decode()
    assert _signs_in("jo", "old-password-91")


def test_another_clinics_staff_are_out_of_reach(manager, harbour):
    theirs = StaffMemberFactory(clinic=harbour, role="front_desk")
    answer = _as(manager).post(
        reverse("staff-password", args=[theirs.pk]), {"password1": GOOD, "password2": GOOD}
    )
    assert answer.status_code == 404


def test_everyone_changes_their_own_password(jo):
    browser = _as(jo)
    wrong = browser.post(
        reverse("own-password"),
        {"old_password": "not-it", "new_password1": GOOD, "new_password2": GOOD},
    )
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    answer = browser.post(
        reverse("own-password"),
        {"old_password": "old-password-91", "new_password1": GOOD, "new_password2": GOOD},
        follow=True,
    )
    assert "Your password is changed." in answer.content.decode()
    assert _signs_in("jo", GOOD)


def test_someone_who_left_can_no_longer_sign_in_and_comes_back(manager, jo, lumen):
    import datetime as dt
    import html

    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from clinic.models import AccountEvent, TimeOff
    from clinic.time_off import clinic_closure_record

    jo.role = "practitioner"
    jo.save(update_fields=["role"])
    Token.objects.create(user=jo.user)
    browser = _as(manager)
    page = html.unescape(browser.get(reverse("staff")).content.decode())
    assert "Jo Carter no longer works here" in page
    assert "Morgan Ellis no longer works here" not in page  # not for oneself
    said = html.unescape(browser.post(reverse("staff-leave", args=[jo.pk]), follow=True).content.decode())
    assert "Jo Carter can no longer sign in. Their visits still booked are flagged to move" in said
    jo.refresh_from_db()
    jo.user.refresh_from_db()
    assert not jo.is_active and not jo.user.is_active
    assert not Token.objects.filter(user=jo.user).exists()
    assert not _signs_in("jo", "old-password-91")
    assert AccountEvent.objects.filter(user=jo.user, action="left", by=manager.user).exists()
    # a closure entered while they were away is theirs too once they are back
    start = timezone.now() + dt.timedelta(days=20)
    clinic_closure_record(clinic=lumen, start=start, end=start + dt.timedelta(days=1), reason="Refit")
    assert not TimeOff.objects.filter(staff_member=jo).exists()
    back = html.unescape(browser.post(reverse("staff-return", args=[jo.pk]), follow=True).content.decode())
    assert "Jo Carter can sign in again with their password" in back
    assert _signs_in("jo", "old-password-91")
    assert TimeOff.objects.filter(staff_member=jo).count() == 1


def test_a_manager_cannot_mark_themselves_gone_and_the_desk_marks_nobody(manager, jo):
    said = _as(manager).post(reverse("staff-leave", args=[manager.pk]), follow=True).content.decode()
    assert "You cannot mark yourself as gone: another manager does." in said
    manager.refresh_from_db()
    assert manager.is_active
    assert _as(jo).post(reverse("staff-leave", args=[manager.pk])).status_code == 403
    assert _as(jo).post(reverse("staff-return", args=[manager.pk])).status_code == 403
