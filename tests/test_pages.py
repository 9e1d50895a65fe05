"""Staff pages: sign-in first, today's list in the clinic's own time zone, assets served locally."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.utils import timezone

from tests.booking_world import begun_today
from tests.factories import PASSWORD, AppointmentFactory
from treatments.selectors import local_day_bounds

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def test_the_front_page_asks_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert b"Sign in" in response.content


def test_a_wrong_password_gets_a_plain_message(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert "do not match" in response.content.decode()


def test_signing_in_lands_on_todays_appointments(client, alice, lumen, lumen_client_record):
    zone = lumen.zone
    today = timezone.localdate(timezone=zone)
    AppointmentFactory(
        clinic=lumen,
        client=lumen_client_record,
        start=dt.datetime.combine(today, dt.time(14, 30), tzinfo=zone),
        end=dt.datetime.combine(today, dt.time(15, 30), tzinfo=zone),
    )
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}, follow=True)
    page = response.content.decode()
    assert "Olivia Smith" in page
    assert "14:30–15:30" in page  # local time, not UTC
    assert "Europe/London" in page


def _visit_at(lumen, client_record, day, hour=14):
    zone = lumen.zone
    return AppointmentFactory(
        clinic=lumen,
        client=client_record,
        start=dt.datetime.combine(day, dt.time(hour, 30), tzinfo=zone),
        end=dt.datetime.combine(day, dt.time(hour + 1, 30), tzinfo=zone),
    )


def test_the_days_list_opens_each_visit_and_its_client_and_checks_clients_in(
    alice_client, lumen, lumen_client_record
):
    visit = _visit_at(lumen, lumen_client_record, timezone.localdate(timezone=lumen.zone))
    page = alice_client.get("/").content.decode()
    assert f'<a href="/appointments/{visit.pk}/">14:30–15:30</a>' in page
    assert f'<a href="/clients/{lumen_client_record.pk}/">Olivia Smith</a>' in page
    assert 'aria-label="Check in Olivia Smith at 14:30"' in page

    response = alice_client.post(f"/appointments/{visit.pk}/check_in/", {"next": "/"}, follow=True)

    assert response.redirect_chain == [("/", 302)]
    page = response.content.decode()
    assert "Olivia Smith: checked in." in page
    assert 'aria-label="Check in Olivia Smith' not in page
    visit.refresh_from_db()
    assert visit.status == "arrived"


def test_another_days_list_offers_no_check_in(alice_client, lumen, lumen_client_record):
    tomorrow = timezone.localdate(timezone=lumen.zone) + dt.timedelta(days=1)
    _visit_at(lumen, lumen_client_record, tomorrow)
    page = alice_client.get(f"/?date={tomorrow.isoformat()}").content.decode()
    assert "Olivia Smith" in page
    assert "Check in" not in page


def test_the_days_list_offers_each_visit_its_next_step_as_its_status_and_time_allow(
    alice_client, lumen, lumen_client_record
):
    import time_machine

    today = dt.date(2026, 12, 7)
    visit = _visit_at(lumen, lumen_client_record, today)  # 14:30–15:30

    def buttons(at_hour, at_minute=0):
        when = dt.datetime.combine(today, dt.time(at_hour, at_minute), tzinfo=lumen.zone)
        with time_machine.travel(when, tick=False):
            page = alice_client.get(f"/?date={today.isoformat()}").content.decode()
        return [b for b in ("Check in", "Completed", "No-show") if f">{b}</button>" in page]

    assert buttons(9) == ["Check in"]  # the morning of the visit
    assert buttons(14, 45) == ["Check in", "No-show"]  # its time has come, nobody checked in
    visit.status = "arrived"
    visit.save(update_fields=["status"])
    assert buttons(14, 45) == ["Completed"]
    visit.status = "booked"
    visit.save(update_fields=["status"])
    # the day after, nobody having marked it: completed or a no-show, said with the visit's name and time
    with time_machine.travel(dt.datetime(2026, 12, 8, 9, tzinfo=lumen.zone), tick=False):
        page = alice_client.get(f"/?date={today.isoformat()}").content.decode()
        assert 'aria-label="Mark Olivia Smith&#x27;s visit at 14:30 completed">Completed</button>' in page
        assert 'aria-label="Mark Olivia Smith a no-show for 14:30">No-show</button>' in page
        response = alice_client.post(
            f"/appointments/{visit.pk}/no_show/", {"next": f"/?date={today}"}, follow=True
        )
    assert "Olivia Smith: marked as a no-show." in response.content.decode()
    visit.refresh_from_db()
    assert visit.status == "noshow"


def test_an_action_never_sends_the_desk_off_the_site(alice_client, lumen, lumen_client_record):
    visit = _visit_at(lumen, lumen_client_record, timezone.localdate(timezone=lumen.zone))
    response = alice_client.post(f"/appointments/{visit.pk}/check_in/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/appointments/{visit.pk}/"


def test_a_bad_date_is_explained_not_a_500(alice_client):
    response = alice_client.get("/?date=31-02-2026")
    assert response.status_code == 200
    assert "is not a date" in response.content.decode()


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/London", dt.date(2026, 3, 29), 23),
        ("Europe/London", dt.date(2026, 10, 25), 25),
        ("America/New_York", dt.date(2026, 3, 8), 23),
        ("America/New_York", dt.date(2026, 11, 1), 25),
        ("Europe/London", dt.date(2026, 6, 1), 24),
    ],
)
def test_a_local_day_is_23_or_25_hours_on_daylight_saving_days(lumen, zone, day, hours):
    lumen.time_zone = zone
    start, end = local_day_bounds(lumen, day)
    # Subtracting aware datetimes that share a tzinfo is wall-clock arithmetic in Python: compare in UTC.
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=hours)


def test_an_appointment_just_after_local_midnight_on_a_dst_day_is_on_that_day(
    alice_client, lumen, lumen_client_record
):
    zone = lumen.zone
    day = dt.date(2026, 10, 25)  # clocks go back in London
    AppointmentFactory(
        clinic=lumen,
        client=lumen_client_record,
        start=dt.datetime(2026, 10, 25, 23, 30, tzinfo=zone),
        end=dt.datetime(2026, 10, 25, 23, 45, tzinfo=zone),
    )
    page = alice_client.get(f"/?date={day.isoformat()}").content.decode()
    assert "23:30–23:45" in page


def test_no_template_or_stylesheet_loads_anything_from_the_internet():
    offenders = []
    for path in list((ROOT / "templates").rglob("*.html")) + list((ROOT / "static").rglob("*.css")):
        for url in re.findall(r"(?:src|href|url)\s*[=(]\s*[\"']?(https?:)?//", path.read_text()):
            offenders.append((path.name, url))
    assert offenders == []


def test_the_stylesheet_is_served_by_the_app(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200


def test_a_visit_under_way_offers_check_in_no_show_and_complete(alice_client, lumen, lumen_client_record):
    begun = begun_today(lumen)
    visit = AppointmentFactory(
        clinic=lumen, client=lumen_client_record, start=begun, end=begun + dt.timedelta(hours=1)
    )
    page = alice_client.get(f"/appointments/{visit.pk}/").content.decode()
    for action in ("check_in", "no_show", "complete"):
        assert f"/appointments/{visit.pk}/{action}/" in page


def test_a_day_with_nothing_on_points_to_the_next_day_with_visits(alice_client, lumen, lumen_client_record):
    today = timezone.localdate(timezone=lumen.zone)
    later = today + dt.timedelta(days=9)
    cancelled = _visit_at(lumen, lumen_client_record, today + dt.timedelta(days=4))
    cancelled.status = "cancelled"
    cancelled.save(update_fields=["status"])
    _visit_at(lumen, lumen_client_record, later)

    page = alice_client.get(f"/?date={(today + dt.timedelta(days=1)).isoformat()}").content.decode()

    assert "No appointments on this day." in page
    assert (
        f'The next visits are on <a href="?date={later.isoformat()}">{later:%A} {later.day} {later:%B}</a>.'
    ) in page
    last_page = alice_client.get(f"/?date={later.isoformat()}").content.decode()
    assert "The next visits are on" not in last_page  # it has a visit of its own
    after_it = alice_client.get(f"/?date={(later + dt.timedelta(days=1)).isoformat()}").content.decode()
    assert "Nothing is booked after this day." in after_it


def test_a_mistaken_check_in_is_undone_from_the_visit_page_and_the_history_says_so(
    alice_client, alice, lumen, lumen_client_record
):
    begun = begun_today(lumen)
    visit = AppointmentFactory(
        clinic=lumen, client=lumen_client_record, start=begun, end=begun + dt.timedelta(hours=1)
    )
    alice_client.post(f"/appointments/{visit.pk}/check_in/")
    page = alice_client.get(f"/appointments/{visit.pk}/").content.decode()
    assert '<button type="submit" id="undo-status">Undo check-in</button>' in page

    response = alice_client.post(f"/appointments/{visit.pk}/undo/", follow=True)

    page = response.content.decode()
    assert "Olivia Smith: check-in undone, booked again." in page
    assert f"<strong>Checked in</strong> by {alice.display_name}" in page
    assert f"<strong>Check-in undone</strong> by {alice.display_name}" in page
    assert 'id="undo-status"' not in page
    visit.refresh_from_db()
    assert visit.status == "booked"


def test_undo_is_not_offered_for_a_visit_on_another_day(alice_client, lumen, lumen_client_record):
    yesterday = timezone.localdate(timezone=lumen.zone) - dt.timedelta(days=1)
    visit = _visit_at(lumen, lumen_client_record, yesterday)
    visit.status = "noshow"
    visit.save(update_fields=["status"])
    page = alice_client.get(f"/appointments/{visit.pk}/").content.decode()
    assert 'id="undo-status"' not in page
    response = alice_client.post(f"/appointments/{visit.pk}/undo/", follow=True)
    assert "A no-show can be undone on the day of the visit only." in response.content.decode()


def test_no_table_column_heading_is_left_without_words():
    """A screen reader reads each column's heading: a column of buttons is named too (visually hidden)."""
    from pathlib import Path

    templates = Path(__file__).resolve().parent.parent / "templates"
    unnamed = [
        str(p.relative_to(templates)) for p in templates.rglob("*.html") if "<th></th>" in p.read_text()
    ]
    assert unnamed == []
