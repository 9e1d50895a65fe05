"""End to end in Chromium: the front desk books from the calendar and cancels; a client books online
and cancels from the link in the email a real SMTP server received; a client on the waitlist books the
time a cancellation frees from the link in her offer."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from clients.models import Client
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world
from tests.factories import PASSWORD
from treatments.booking import appointment_cancel, appointment_set_status, course_book
from treatments.models import Appointment, AppointmentStatus, WaitlistEntry

pytestmark = pytest.mark.browser


@pytest.fixture
def world(transactional_db):
    world = build_world()
    world.clinic.slug = "lumen"
    world.clinic.phone = "+44 20 7946 0000"
    world.clinic.save(update_fields=["slug", "phone"])
    world.microcurrent.bookable_online = True
    world.microcurrent.save(update_fields=["bookable_online"])
    world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com", phone="+44 7700 900123")
    return world


def next_week(world) -> dt.date:
    return timezone.localdate(timezone=world.clinic.zone) + dt.timedelta(days=7)


def microcurrent_next_week(world, client, practitioner, hour: int):
    """Book `client` a microcurrent workout with `practitioner` at `hour` o'clock a week from today."""
    from treatments.booking import BookingRequest, appointment_book

    start = dt.datetime.combine(next_week(world), dt.time(hour), tzinfo=world.clinic.zone)
    return appointment_book(
        BookingRequest(client=client, service=world.microcurrent, practitioner=practitioner, start=start)
    )


def sign_in(page, live_server, username):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")


def open_microcurrent_for_olivia(page, live_server, day, *, search):
    """From the day's calendar, open Dr Lee's free 10:00 for a microcurrent workout and pick Olivia
    (found by `search`) with the keyboard."""
    page.goto(f"{live_server.url}/calendar/?date={day.isoformat()}")
    page.get_by_role("link", name="Book Dr Amara Lee at 10:00").click()
    page.get_by_label("Service").select_option(label="Microcurrent workout (45 min)")
    page.get_by_label("Search by name, phone, email or date of birth").fill(search)
    page.get_by_role("option", name=re.compile("Olivia Smith")).wait_for()
    page.get_by_label("Search by name, phone, email or date of birth").press("Enter")


def test_what_the_front_desk_typed_before_the_search_script_loaded_is_searched(
    live_server, world, browser_page
):
    page = browser_page
    sign_in(page, live_server, world.desk.user.username)
    # given a page whose search script arrives late (a slow connection, a busy tablet)
    script_held = []
    page.route("**/client-search*.js", lambda route: script_held.append(route))
    start = f"{next_week(world).isoformat()}T10:00"
    page.goto(f"{live_server.url}/book/?practitioner={world.dr_lee.id}&start={start}", wait_until="commit")
    # when the front desk types before the script has run
    page.get_by_label("Search by name, phone, email or date of birth").fill("900123")
    page.wait_for_timeout(300)
    assert script_held, "the script was not requested"
    assert page.locator("#client-results").get_by_role("option").count() == 0
    script_held[0].continue_()
    # then the client is found all the same
    page.get_by_role("option", name=re.compile("Olivia Smith")).wait_for()


def test_the_front_desk_steps_through_days_with_the_arrow_keys(live_server, world, browser_page):
    page = browser_page
    day = next_week(world)
    sign_in(page, live_server, world.desk.user.username)
    page.goto(f"{live_server.url}/calendar/?date={day.isoformat()}")
    # → is the next day, ← the one before, T today: the calendar and the day's list alike
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(rf"date={day + dt.timedelta(days=1)}"))
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(rf"date={day}"))
    # an arrow typed into a field stays in the field
    page.get_by_label("Date").press("ArrowRight")
    page.wait_for_timeout(300)
    assert f"date={day}" in page.url
    page.locator("h1").click()  # out of the field
    page.keyboard.press("t")
    page.wait_for_url(re.compile(r"/calendar/\?view=day&by=practitioner$"))
    page.goto(f"{live_server.url}/?date={day.isoformat()}")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(rf"/\?date={day + dt.timedelta(days=1)}$"))
    page.keyboard.press("t")
    page.wait_for_url(live_server.url + "/")


def test_front_desk_books_from_the_calendar_and_cancels(live_server, world, browser_page):
    page = browser_page
    day = next_week(world)
    sign_in(page, live_server, world.desk.user.username)
    # given the calendar of a day next week, when the front desk clicks Dr Lee's free 10:00
    # and finds the client by typing part of her phone number, choosing with the keyboard
    open_microcurrent_for_olivia(page, live_server, day, search="900123")
    assert "Olivia Smith" in page.locator("#chosen-client").inner_text()
    page.get_by_role("button", name="Book", exact=True).click()
    # then the appointment page says it is booked, at the local time chosen
    assert page.locator("#status").inner_text() == "Booked"
    assert "10:00–10:45" in page.content()
    appointment = Appointment.objects.get(client__last_name="Smith")
    assert appointment.start == dt.datetime.combine(day, dt.time(10), tzinfo=world.clinic.zone)
    # and the calendar shows it
    page.goto(f"{live_server.url}/calendar/?date={day.isoformat()}")
    assert "Olivia Smith" in page.locator(f"[data-appointment-id='{appointment.id}']").inner_text()
    # when the front desk cancels it
    page.locator(f"[data-appointment-id='{appointment.id}']").click()
    page.get_by_label("Reason (optional)").fill("Client called in sick")
    page.get_by_role("button", name="Cancel appointment").click()
    # then it is cancelled, with who and why in its history
    assert page.locator("#status").inner_text() == "Cancelled"
    assert "Client called in sick" in page.locator(".history").inner_text()
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"


def test_front_desk_typing_in_a_client_the_clinic_has_is_offered_them_and_books_them(
    live_server, world, browser_page
):
    page = browser_page
    day = next_week(world)
    sign_in(page, live_server, world.desk.user.username)
    # given the desk opens a free time and types Olivia in anew, her phone written the national way
    page.goto(f"{live_server.url}/calendar/?date={day.isoformat()}")
    page.get_by_role("link", name="Book Dr Amara Lee at 10:00").click()
    page.get_by_label("Service").select_option(label="Microcurrent workout (45 min)")
    page.locator("#new-client summary").click()
    page.get_by_label("First name", exact=True).fill("Olivia")
    page.get_by_label("Last name", exact=True).fill("Smith")
    page.get_by_label("Phone", exact=True).fill("07700 900123")
    page.get_by_role("button", name="Book", exact=True).click()
    # then the page asks first, offering the client the clinic has
    assert "This may be a client the clinic has already" in page.locator("#booking-error").inner_text()
    assert "(the same phone)" in page.locator("#possible-matches").inner_text()
    # when the desk says she is the one
    page.get_by_role("button", name="Olivia Smith is the client").click()
    # then she is booked, and nobody new was registered
    assert page.locator("#status").inner_text() == "Booked"
    assert Client.objects.count() == 1
    assert Appointment.objects.get().client.email == "olivia@example.com"


def test_front_desk_books_a_course_moving_the_one_session_that_is_taken(live_server, world, browser_page):
    page = browser_page
    protocol = world.microcurrent.protocols.get()
    protocol.course_sessions, protocol.course_sessions_per_week = 4, 2
    protocol.save()
    first_day = next_week(world)
    zone = world.clinic.zone
    # given Dr Lee is busy at 10:00 on the day of the second session (three days after the first)
    second_day = first_day + dt.timedelta(days=3)
    world.keep_lee_busy(dt.datetime.combine(second_day, dt.time(10), tzinfo=zone))
    sign_in(page, live_server, world.desk.user.username)
    open_microcurrent_for_olivia(page, live_server, first_day, search="Olivia")
    # when the front desk turns the visit into a course
    page.get_by_role("button", name="Book a course from this visit…").click()
    # then the protocol's plan is laid out and each date is checked: the second one is taken
    rows = page.locator("#course-sessions tbody tr")
    assert rows.count() == 4
    assert "Dr Amara Lee is already booked 09:50–10:55." in rows.nth(1).inner_text()
    assert [rows.nth(i).inner_text().strip().endswith("Free") for i in (0, 2, 3)] == [True, True, True]
    # when the front desk moves it to 12:00 and checks again
    page.get_by_label("Session 2").fill(f"{second_day.isoformat()}T12:00")
    page.get_by_role("button", name="Check these dates").click()
    assert page.locator("#course-sessions tbody tr.session-free").count() == 4
    page.get_by_role("button", name="Book all 4 sessions").click()
    # then all four are booked, and the first visit shows the course's progress
    assert page.locator("#course-progress").inner_text() == "Session 1 of 4 · 0 done, 4 booked ahead"
    booked = Appointment.objects.filter(client__last_name="Smith").order_by("start")
    assert [timezone.localtime(a.start, zone).replace(tzinfo=None) for a in booked] == [
        dt.datetime.combine(first_day, dt.time(10)),
        dt.datetime.combine(second_day, dt.time(12)),
        dt.datetime.combine(first_day + dt.timedelta(days=7), dt.time(10)),
        dt.datetime.combine(first_day + dt.timedelta(days=10), dt.time(10)),
    ]


def test_front_desk_stops_a_course_from_the_clients_page(live_server, world, browser_page):
    page = browser_page
    zone = world.clinic.zone
    olivia = Client.objects.get(last_name="Smith")
    first_day = next_week(world)
    course = course_book(
        client=olivia,
        service=world.microcurrent,
        practitioner=world.dr_lee,
        starts=[
            dt.datetime.combine(first_day + dt.timedelta(days=7 * i), dt.time(10), tzinfo=zone)
            for i in range(3)
        ],
    )
    first, second, third = course.appointments.order_by("start")
    appointment_set_status(first, status=AppointmentStatus.FULFILLED, now=first.start)
    sign_in(page, live_server, world.desk.user.username)
    # given the client's page, when the front desk opens her course (on its next session)
    page.goto(f"{live_server.url}/clients/{olivia.pk}/")
    page.locator("#courses").get_by_role("link", name="Microcurrent workout").click()
    page.wait_for_url(re.compile(rf"/appointments/{second.pk}/\?show=course#course-sessions$"))
    # the course's sessions are shown at once (the link opens the folded list), with the way to stop it
    page.locator("#course-cancel").get_by_label("Reason (optional)").fill("Moving abroad")
    page.get_by_role("button", name="Cancel 2 sessions ahead").click()
    # then both sessions ahead are cancelled, the one had stays completed, and the desk is told
    assert "Cancelled 2 sessions from" in page.locator(".flash").inner_text()
    assert page.locator("#course-progress").inner_text() == (
        "Session 2 of 3 · 1 done, 0 booked ahead, 2 missed or cancelled"
    )
    statuses = list(course.appointments.order_by("start").values_list("status", flat=True))
    assert statuses == ["fulfilled", "cancelled", "cancelled"]
    assert third.events.filter(action="cancelled", details__reason="Moving abroad").exists()


def test_a_client_books_online_and_cancels_from_the_emailed_link(
    live_server, world, browser_page, smtp_settings, smtp_server
):
    smtp_settings.SITE_URL = live_server.url
    page = browser_page
    day = next_week(world)
    # given the clinic's public booking page
    page.goto(f"{live_server.url}/p/lumen/")
    page.get_by_role("link", name="Choose a time for Microcurrent workout").click()
    page.get_by_label("Day").fill(day.isoformat())
    page.get_by_role("button", name="Show times").click()
    # when the client picks 11:00 and gives her details
    page.get_by_role("link", name="11:00", exact=True).click()
    page.get_by_label("First name").fill("Maya")
    page.get_by_label("Last name").fill("Patel")
    page.get_by_label("Email").fill("maya@example.com")
    page.get_by_label("Phone").fill("+44 7700 900555")
    page.get_by_role("button", name="Book").click()
    # then she is booked and told so
    page.get_by_text("You are booked").wait_for()
    assert "11:00" in page.locator("#when").inner_text()
    appointment = Appointment.objects.get(client__email="maya@example.com")
    assert appointment.status == "booked"
    # when the worker sends the confirmation through the SMTP server
    assert deliver_due_messages_task() == 1
    [email] = smtp_server.messages
    body = email.get_body().get_content()
    assert "11:00" in body and "Europe/London" in body
    link = re.search(r"(http://\S+/p/manage/\S+/)", body).group(1)
    # and she opens the link from the email and cancels
    page.goto(link)
    page.get_by_role("button", name="Cancel my appointment").click()
    # then she is asked first, and nothing is cancelled until she says yes
    page.get_by_role("heading", name="Cancel this visit?").wait_for()
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    page.get_by_role("button", name="Yes, cancel it").click()
    # then the visit is cancelled and the time is free again
    page.get_by_text("Your visit is cancelled").wait_for()
    assert page.locator("#status").inner_text() == "Cancelled"
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    assert appointment.events.filter(action="cancelled", details__by_client=True).exists()


def test_a_tampered_link_is_refused(live_server, world, browser_page):
    page = browser_page
    response = page.goto(f"{live_server.url}/p/manage/not-a-real-token/")
    assert response.status == 404
    assert "This link does not work" in page.content()


def test_front_desk_moves_a_sick_practitioners_visit_to_a_colleague(live_server, world, browser_page):
    from clinic.models import TimeOff

    page = browser_page
    day = next_week(world)
    zone = world.clinic.zone
    olivia = Client.objects.get(last_name="Smith")
    # given Olivia's microcurrent visit with Dr Lee at 10:00, and then Dr Lee off sick that day
    visit = microcurrent_next_week(world, olivia, world.dr_lee, 10)
    TimeOff.objects.create(
        staff_member=world.dr_lee,
        start=dt.datetime.combine(day, dt.time(0), tzinfo=zone),
        end=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
        reason="Sick",
    )
    sign_in(page, live_server, world.desk.user.username)
    # when the front desk opens that day's list, the visit is flagged; its link leads to moving it
    page.goto(f"{live_server.url}/?date={day.isoformat()}")
    page.get_by_role("link", name="Off then: Sick. Move it").click()
    assert "(Sick)" in page.locator("#time-off-clash").inner_text()
    # and the free times first offered are Sam's: the same 10:00 is one of them
    page.get_by_role("button", name=f"Move to {day:%a} {day.day} {day:%b} 10:00 with Sam Rivera").click()
    # then the visit is Sam's at the same time, and the history says who moved it from whom
    assert "with Sam Rivera" in page.locator(".flash").inner_text()
    assert page.locator("#time-off-clash").count() == 0
    assert "from Dr Amara Lee to Sam Rivera" in page.locator(".history").inner_text()
    visit.refresh_from_db()
    assert visit.practitioner == world.sam and visit.start == dt.datetime.combine(
        day, dt.time(10), tzinfo=zone
    )


def _drag(page, block, column, *, to_minutes, let_go=True):
    """Press on a visit's block 6 pixels below its top, drag it so its top lands `to_minutes` after the
    column's first pixel (the day's opening, 1.2 pixels a minute), and let go."""
    block.scroll_into_view_if_needed()
    start = block.bounding_box()
    target = column.bounding_box()
    page.mouse.move(start["x"] + 20, start["y"] + 6)
    page.mouse.down()
    page.mouse.move(target["x"] + 30, target["y"] + to_minutes * 1.2 + 6, steps=12)
    if let_go:
        page.mouse.up()


def test_front_desk_drags_a_visit_to_a_colleague_later_that_morning(live_server, world, browser_page):
    from clinic.models import OutboxMessage

    page = browser_page
    day = next_week(world)
    zone = world.clinic.zone
    olivia = Client.objects.get(last_name="Smith")
    # given Olivia's microcurrent visit with Dr Lee at 10:00, and Sam booked at 14:00
    visit = microcurrent_next_week(world, olivia, world.dr_lee, 10)
    microcurrent_next_week(world, world.client(), world.sam, 14)
    sign_in(page, live_server, world.desk.user.username)
    page.goto(f"{live_server.url}/calendar/?date={day.isoformat()}")
    block = page.locator(f"[data-appointment-id='{visit.id}']")
    sams = page.locator(f".column-body[data-practitioner='{world.sam.id}']")
    # when the front desk drags it to Sam's column, to 14:10, the shadow snaps to 14:15 and says taken
    _drag(page, block, sams, to_minutes=5 * 60 + 10, let_go=False)
    shadow = sams.locator(".move-ghost")
    assert shadow.inner_text() == "14:15–15:00 · taken"
    assert "taken" in shadow.get_attribute("class")
    page.mouse.up()
    dialog = page.get_by_role("dialog", name="Move this visit?")
    assert dialog.is_visible()
    said = page.locator("#move-said").inner_text()
    when = f"{day:%a} {day.day} {day:%b}"
    assert f"From {when} 10:00 with Dr Amara Lee" in said and f"To {when} 14:15 with Sam Rivera" in said
    assert dialog.locator("#move-taken").inner_text() == "Sam Rivera has another visit then."
    # and moving there anyway is refused in words, the visit where it was
    dialog.get_by_role("button", name="Move").click()
    assert "Sam Rivera is already booked" in page.locator(".flash").inner_text()
    visit.refresh_from_db()
    assert (visit.practitioner, visit.start) == (
        world.dr_lee,
        dt.datetime.combine(day, dt.time(10), tzinfo=zone),
    )
    # when it is dragged to Sam at 11:30 instead, with a reason
    _drag(page, page.locator(f"[data-appointment-id='{visit.id}']"), sams, to_minutes=150)
    assert f"To {when} 11:30 with Sam Rivera" in page.locator("#move-said").inner_text()
    assert not dialog.locator("#move-taken").is_visible()
    dialog.get_by_label("Reason (optional)").fill("Dr Lee's clinic overran")
    dialog.get_by_role("button", name="Move").click()
    # then the calendar says where it went and shows it in Sam's column
    assert f"Moved to {day:%a %d %b} 11:30 with Sam Rivera." in page.locator(".flash").inner_text()
    assert sams.locator(f"[data-appointment-id='{visit.id}']").count() == 1
    # and offers to put it back, in case the drop was a slip
    put_back = f"Put Olivia Smith back to {day:%a %d %b} 10:00 with Dr Amara Lee"
    assert page.get_by_role("button", name=put_back).is_visible()
    visit.refresh_from_db()
    assert (visit.practitioner, visit.start) == (
        world.sam,
        dt.datetime.combine(day, dt.time(11, 30), tzinfo=zone),
    )
    assert visit.events.filter(action="rescheduled", details__reason="Dr Lee's clinic overran").exists()
    notice = OutboxMessage.objects.get(dedupe_key=f"appointment:{visit.id}:rescheduled:{visit.sequence}")
    assert notice.template_key == "booking_rescheduled" and notice.status == "pending"
    # when it is dragged again and the desk keeps it where it was, nothing moves
    _drag(page, page.locator(f"[data-appointment-id='{visit.id}']"), sams, to_minutes=4 * 60)
    dialog.get_by_role("button", name="Keep it where it was").click()
    assert not dialog.is_visible()
    # and a click (no drag) still opens the visit
    page.locator(f"[data-appointment-id='{visit.id}']").click()
    page.wait_for_url(re.compile(rf"/appointments/{visit.id}/$"))
    visit.refresh_from_db()
    assert visit.start == dt.datetime.combine(day, dt.time(11, 30), tzinfo=zone) and visit.sequence == 1


def test_on_a_tablet_a_visit_is_held_before_it_is_dragged_and_a_swipe_only_scrolls(
    live_server, world, browser_page
):

    page = browser_page
    day = next_week(world)
    zone = world.clinic.zone
    visit = microcurrent_next_week(world, Client.objects.get(last_name="Smith"), world.dr_lee, 10)
    sign_in(page, live_server, world.desk.user.username)
    # a touch screen, its fingers sent through Chromium's input pipeline as a tablet's would be
    touch = page.context.new_cdp_session(page)
    touch.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    page.goto(f"{live_server.url}/calendar/?date={day.isoformat()}")
    block = page.locator(f"[data-appointment-id='{visit.id}']")
    block.scroll_into_view_if_needed()
    box = block.bounding_box()
    sams = page.locator(f".column-body[data-practitioner='{world.sam.id}']").bounding_box()
    x, y = box["x"] + 20, box["y"] + 6

    def finger(kind, at=None):
        points = [{"x": at[0], "y": at[1]}] if at else []
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    # when a finger swipes across the visit straight away, it is a swipe: nothing is dragged
    finger("touchStart", (x, y))
    for step in range(1, 6):
        finger("touchMove", (x, y - 12 * step))
    finger("touchEnd")
    page.wait_for_timeout(500)
    assert page.locator(".move-ghost").count() == 0
    assert not page.locator("#move-dialog").is_visible()
    assert page.url.startswith(f"{live_server.url}/calendar/")
    # when the finger holds the visit a moment, then drags it to Sam at 11:30
    block.scroll_into_view_if_needed()
    box = block.bounding_box()
    sams = page.locator(f".column-body[data-practitioner='{world.sam.id}']").bounding_box()
    x, y = box["x"] + 20, box["y"] + 6
    finger("touchStart", (x, y))
    page.wait_for_timeout(600)
    target = (sams["x"] + 30, sams["y"] + 150 * 1.2 + 6)
    for step in range(1, 9):
        finger("touchMove", (x + (target[0] - x) * step / 8, y + (target[1] - y) * step / 8))
    assert page.locator(".move-ghost").inner_text() == "11:30–12:15"
    finger("touchEnd")
    # then it asks, and the move is made
    when = f"{day:%a} {day.day} {day:%b}"
    assert f"To {when} 11:30 with Sam Rivera" in page.locator("#move-said").inner_text()
    page.get_by_role("button", name="Move").click()
    assert f"Moved to {day:%a %d %b} 11:30 with Sam Rivera." in page.locator(".flash").inner_text()
    visit.refresh_from_db()
    assert (visit.practitioner, visit.start) == (
        world.sam,
        dt.datetime.combine(day, dt.time(11, 30), tzinfo=zone),
    )


def test_the_desk_puts_a_client_on_the_waitlist_and_she_books_the_time_a_cancellation_frees(
    live_server, world, browser_page, smtp_settings, smtp_server
):
    smtp_settings.SITE_URL = live_server.url
    page = browser_page
    day = next_week(world)
    # given Dr Lee is held at 10:00 that day (mesotherapy with another client, 09:50–10:55)
    busy = world.keep_lee_busy(dt.datetime.combine(day, dt.time(10), tzinfo=world.clinic.zone))
    sign_in(page, live_server, world.desk.user.username)
    # when the front desk puts Olivia on the waitlist for a microcurrent workout with Dr Lee at 10:00
    page.goto(f"{live_server.url}/waitlist/")
    page.get_by_label("Search by name, phone, email or date of birth").fill("Olivia")
    page.get_by_role("option", name=re.compile("Olivia Smith")).wait_for()
    page.get_by_label("Search by name, phone, email or date of birth").press("Enter")
    page.get_by_label("Service").select_option(label="Microcurrent workout")
    page.get_by_label("With").select_option(label="Dr Amara Lee")
    page.get_by_label("From", exact=True).fill(day.isoformat())
    page.get_by_label("Until", exact=True).fill(day.isoformat())
    page.get_by_label("Starting from").fill("10:00")
    page.get_by_label("Starting by").fill("10:00")
    page.get_by_role("button", name="Add to the waitlist").click()
    # then she waits, with nothing free that suits her
    page.get_by_text("Olivia Smith is on the waitlist").wait_for()
    assert "Nothing that suits them is free yet" in page.locator(".waitlist-entry").inner_text()
    # when the other client's visit is cancelled and the worker sends what that wrote
    appointment_cancel(busy, reason="Client called")
    deliver_due_messages_task()
    [offer] = [m for m in smtp_server.messages if m["Subject"].startswith("A time came free")]
    assert offer["To"].addresses[0].addr_spec == "olivia@example.com"
    link = re.search(r"(http://\S+/p/waitlist/\S+/)", offer.get_body().get_content()).group(1)
    # and Olivia opens the link and taps the time
    page.goto(link)
    when = f"{day:%A} {day.day} {day:%B} at 10:00"
    page.get_by_role("link", name=f"Book {when} with Dr Amara Lee").click()
    # then she is asked first, and nothing is booked until she says yes
    page.get_by_role("heading", name="Book this time?").wait_for()
    assert not Appointment.objects.filter(client__email="olivia@example.com").exists()
    page.get_by_role("button", name="Yes, book it").click()
    # then she is booked at that time, and off the waitlist
    page.get_by_text("You are booked").wait_for()
    assert "10:00" in page.locator("#when").inner_text()
    visit = Appointment.objects.get(client__email="olivia@example.com")
    assert visit.start == dt.datetime.combine(day, dt.time(10), tzinfo=world.clinic.zone)
    assert WaitlistEntry.objects.get().ended_because == "booked"


def test_front_desk_takes_a_deposit_then_the_rest_from_the_visits_page(live_server, world, browser_page):

    page = browser_page
    olivia = Client.objects.get(last_name="Smith")
    visit = microcurrent_next_week(world, olivia, world.dr_lee, 10)
    sign_in(page, live_server, world.desk.user.username)
    page.goto(f"{live_server.url}/appointments/{visit.pk}/")
    assert "still owed £100" in page.locator("#payment-state").inner_text()
    # a deposit, typed and sent with the keyboard
    page.get_by_label("Amount (GBP)").fill("30")
    page.get_by_label("Paid by").select_option(label="Card")
    page.get_by_label("Slip or voucher number").fill("004512")
    page.get_by_label("Slip or voucher number").press("Enter")
    page.wait_for_url(re.compile(r"#payments$"))
    assert "Took £30 by card from Olivia Smith." in page.content()
    assert "still owed £70" in page.locator("#payment-state").inner_text()
    assert page.get_by_label("Amount (GBP)").input_value() == "70.00"  # the rest, offered
    page.get_by_label("Paid by").select_option(label="Cash")
    page.get_by_role("checkbox", name=re.compile("Email Olivia a receipt")).uncheck()
    page.get_by_role("button", name="Take the payment").click()
    page.wait_for_load_state()
    assert "Paid in full" in page.locator("#payment-state").inner_text()
    assert page.locator("#payment-list tbody tr").count() == 2
    assert page.locator("#take-payment").count() == 0
