"""End to end in a real Chromium (Playwright): the front desk signs in and sees today's appointments."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import PASSWORD, AppointmentFactory, ClientFactory, StaffMemberFactory

pytestmark = pytest.mark.browser


def _today_at(clinic, hour, minute=0):
    today = timezone.localdate(timezone=clinic.zone)
    return dt.datetime.combine(today, dt.time(hour, minute), tzinfo=clinic.zone)


@pytest.fixture
def frontdesk_with_a_day(transactional_db, lumen, harbour):
    desk = StaffMemberFactory(clinic=lumen, user__username="frontdesk", display_name="Jo Carter")
    olivia = ClientFactory(clinic=lumen, first_name="Olivia", last_name="Smith")
    AppointmentFactory(
        clinic=lumen,
        client=olivia,
        start=_today_at(lumen, 9, 30),
        end=_today_at(lumen, 10, 30),
        service__name="Microneedling facial",
    )
    AppointmentFactory(
        clinic=harbour,
        client=ClientFactory(clinic=harbour, last_name="Harbourside"),
        start=_today_at(harbour, 11),
        end=_today_at(harbour, 12),
    )
    return desk


def test_frontdesk_signs_in_and_sees_todays_appointments(live_server, frontdesk_with_a_day, browser_page):
    page = browser_page
    # given the front page, which asks to sign in
    page.goto(live_server.url + "/")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    # when the front desk signs in
    page.get_by_label("Username").fill("frontdesk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # then today's appointments of their clinic are listed, in local time
    table = page.locator("#appointments")
    table.wait_for()
    text = table.inner_text()
    assert "Olivia Smith" in text
    assert "09:30–10:30" in text
    assert "Microneedling facial" in text
    assert "Harbourside" not in text
    assert page.get_by_role("heading", level=1).inner_text().startswith("Today")


def test_someone_who_forgot_their_password_chooses_a_new_one_from_the_emailed_link(
    live_server, transactional_db, lumen, browser_page
):
    from clinic.models import OutboxMessage
    from tests.test_browser_accessibility import violations

    StaffMemberFactory(clinic=lumen, user__username="frontdesk", user__email="jo@lumen.example")
    page = browser_page
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("link", name="Forgotten your password?").click()
    assert violations(page) == []
    page.get_by_label("Your username or email address").fill("jo@lumen.example")
    page.get_by_role("button", name="Email me a link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    assert violations(page) == []

    # the email's link (sent by the worker in production; its row holds it)
    link = OutboxMessage.objects.get(template_key="staff_password_reset").context["password_link_url"]
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    page.goto(live_server.url + path)
    page.get_by_role("heading", name="Choose a new password").wait_for()
    assert "set-password" in page.url  # the token left the address bar
    assert violations(page) == []
    page.get_by_label("New password").fill("lilac-harbour-47")
    page.get_by_label("The same again").fill("lilac-harbour-47")
    page.get_by_role("button", name="Set my new password").click()
    page.get_by_text("Your password is set: sign in with it.").wait_for()

    page.get_by_label("Username").fill("frontdesk")
    page.get_by_label("Password").fill("lilac-harbour-47")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")

    page.goto(live_server.url + path)  # a second time: used
    page.get_by_role("heading", name="This link no longer works").wait_for()
    assert violations(page) == []


def test_a_practitioner_sets_up_two_step_sign_in_and_signs_in_with_a_code(
    live_server, transactional_db, lumen, browser_page
):
    from clinic.two_step import code_at, step_of
    from tests.test_browser_accessibility import violations

    StaffMemberFactory(clinic=lumen, user__username="amara", role="practitioner")
    page = browser_page
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("amara")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    page.get_by_role("link", name="Your password").click()
    page.get_by_role("link", name="Two-step sign-in").click()
    page.get_by_role("button", name="Set up two-step sign-in").click()
    assert page.locator("#two-step-qr svg").is_visible()
    assert violations(page) == []
    secret = page.locator("#two-step-secret").inner_text().replace(" ", "")
    page.get_by_label("Type the six digits the app shows").fill(code_at(secret, step_of(timezone.now())))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    assert violations(page) == []
    recovery = page.locator("#recovery-codes code").first.inner_text()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").fill("amara")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your code").wait_for()
    assert violations(page) == []
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("That code does not match").wait_for()
    page.get_by_label("Code").fill(recovery)  # the phone left at home
    page.get_by_label("Don't ask again on this device for 30 days").check()  # their own tablet
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    # on that device, the password alone signs in for 30 days
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").fill("amara")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    page.goto(live_server.url + "/accounts/two-step/")
    assert "Devices that skip the code" in page.locator("#remembered-devices").inner_text()
    assert violations(page) == []


def test_the_open_days_list_shows_a_change_made_elsewhere(
    live_server, frontdesk_with_a_day, browser_page, settings
):
    from treatments.booking import appointment_notes_change
    from treatments.models import Appointment

    settings.DAY_REFRESH_SECONDS = 1
    page = browser_page
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("frontdesk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    visit = Appointment.objects.get(client__last_name="Smith")
    # nobody at the desk: the list reloads itself
    appointment_notes_change(visit, notes="Called: running ten minutes late")
    page.get_by_text("Note: Called: running ten minutes late").wait_for(timeout=10_000)
    assert page.locator("#day-changed").is_hidden()
    # someone using the page (a field in hand): it says so and waits for them
    page.focus("#day-practitioner")
    appointment_notes_change(visit, notes="Arrived early")
    page.locator("#day-changed").wait_for(state="visible", timeout=10_000)
    assert page.get_by_text("Note: Arrived early").count() == 0
    page.get_by_role("link", name="Show it").click()
    page.get_by_text("Note: Arrived early").wait_for()


def test_a_screen_left_alone_warns_then_signs_itself_out(live_server, frontdesk_with_a_day, browser_page):
    from clinic.models import Clinic

    Clinic.objects.filter(slug=frontdesk_with_a_day.clinic.slug).update(idle_sign_out_minutes=5)
    page = browser_page
    page.clock.install()  # the page's clock, moved on by the test
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("frontdesk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    warning = page.locator("#idle-warning")
    page.clock.run_for("03:30")
    assert warning.is_hidden()
    page.clock.run_for("00:35")
    assert warning.is_visible()
    assert "it signs out in a minute" in warning.inner_text()
    page.mouse.move(40, 40)  # someone is here
    page.clock.run_for("00:02")
    assert warning.is_hidden()
    page.clock.run_for("05:05")
    page.wait_for_url("**/accounts/login/?idle=1")
    page.get_by_text("You were signed out after a while without use").wait_for()
    page.goto(live_server.url + "/")
    page.wait_for_url("**/accounts/login/?next=/")  # signed out on the server too
