"""The calendar offers only the times a booking accepts, and shows where now is."""

import datetime as dt
import re

import pytest
import time_machine

from clinic.errors import ClinicError
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()  # open every day 09:00-17:00, a 15-minute step


def _offered(page: str, practitioner: str) -> list[str]:
    """The local start times the calendar offers as links to book the practitioner."""
    return re.findall(rf'aria-label="Book {re.escape(practitioner)} at (\d\d:\d\d)', page)


def _now_lines(page: str) -> list[float]:
    return [float(top) for top in re.findall(r'class="now" style="top: ([\d.]+)px"', page)]


def test_todays_calendar_offers_no_time_the_booking_would_refuse_as_past(desk, world):
    # given it is 11:35 in London on Monday 7 December
    with time_machine.travel(local(world, 2026, 12, 7, 11, 35), tick=False):
        page = desk.get("/calendar/?date=2026-12-07").content.decode()
        offered = _offered(page, "Dr Amara Lee")
        # then the day's free times start at 11:30, the first a booking still takes (15 minutes' grace)
        assert offered[0] == "11:30"
        assert offered[-1] == "16:45"
        assert len(offered) == 22  # 11:30 .. 16:45 every 15 minutes
        # and the booking agrees on both sides of that edge
        with pytest.raises(ClinicError) as refused:
            appointment_book(_request(world, local(world, 2026, 12, 7, 11, 15)))
        assert refused.value.code == "in_the_past"
        assert appointment_book(_request(world, local(world, 2026, 12, 7, 11, 30))).pk
    # and the morning that went by is drawn as past time, one block per step (09:00 .. 11:15)
    assert page.count('<span class="past"') == 2 * 10  # Dr Lee and Sam


def test_a_day_ahead_offers_the_whole_day_and_no_now_line(desk, world):
    with time_machine.travel(local(world, 2026, 12, 7, 11, 35), tick=False):
        page = desk.get("/calendar/?date=2026-12-08").content.decode()
    assert _offered(page, "Dr Amara Lee")[0] == "09:00"
    assert len(_offered(page, "Dr Amara Lee")) == 32
    assert '<span class="past"' not in page
    assert _now_lines(page) == []
    assert "The red line is now" not in page


def test_the_now_line_is_at_the_local_time_in_every_column_of_today(desk, world):
    with time_machine.travel(local(world, 2026, 12, 7, 11, 35), tick=False):
        page = desk.get("/calendar/?date=2026-12-07").content.decode()
    # the grid opens at 09:00 and maps a minute to 1.2 pixels: 155 minutes later
    assert _now_lines(page) == [pytest.approx(155 * 1.2)] * 2
    assert "The red line is now, 11:35." in page


def test_the_now_line_follows_the_clock_change(desk, world):
    # on Sunday 29 March 2026 London moves to BST at 01:00 UTC; 10:00 UTC is 11:00 local
    with time_machine.travel(dt.datetime(2026, 3, 29, 10, 0, tzinfo=dt.UTC), tick=False):
        page = desk.get("/calendar/?date=2026-03-29").content.decode()
    assert _now_lines(page) == [pytest.approx(120 * 1.2)] * 2
    assert "The red line is now, 11:00." in page


def test_before_opening_there_is_no_now_line_and_the_whole_day_is_offered(desk, world):
    with time_machine.travel(local(world, 2026, 12, 7, 7, 30), tick=False):
        page = desk.get("/calendar/?date=2026-12-07").content.decode()
    assert _now_lines(page) == []
    assert _offered(page, "Dr Amara Lee")[0] == "09:00"


def test_the_week_offers_nothing_on_the_days_gone_by(desk, world):
    # given Wednesday 9 December at 10:00, the week of Monday 7 December for Dr Lee
    with time_machine.travel(local(world, 2026, 12, 9, 10, 0), tick=False):
        page = desk.get(
            f"/calendar/?view=week&practitioner={world.dr_lee.id}&date=2026-12-09"
        ).content.decode()
    offered_days = re.findall(r'aria-label="Book Dr Amara Lee at (\d\d:\d\d) on (\w+ \d+ \w+)"', page)
    days = [day for _time, day in offered_days]
    assert "Mon 7 Dec" not in days
    assert "Tue 8 Dec" not in days
    assert ("09:45", "Wed 9 Dec") in offered_days  # 15 minutes ago: still taken as a walk-in
    assert ("09:30", "Wed 9 Dec") not in offered_days
    assert ("09:00", "Thu 10 Dec") in offered_days
    # and the line is drawn in Wednesday's column only
    assert len(_now_lines(page)) == 1


def _request(world, start):
    return BookingRequest(
        client=world.client(), service=world.microcurrent, practitioner=world.dr_lee, start=start
    )


def test_a_practitioner_with_no_hours_that_day_is_shown_as_not_working(desk, world):
    # given Sam does not work on Tuesdays
    world.sam.working_hours.filter(weekday=1).delete()
    with time_machine.travel(local(world, 2026, 12, 7, 11, 35), tick=False):
        page = desk.get("/calendar/?date=2026-12-08").content.decode()
    # then Sam's column says why it is grey, in words and not as a warning, and offers nothing
    headings = dict(
        re.findall(
            r"<section class=\"column\"[^>]*>\s*<h2[^>]*>([^<]+?)"
            r"( <span class=\"muted rest-note\">Not working</span>)?</h2>",
            page,
        )
    )
    assert headings == {"Dr Amara Lee": "", "Sam Rivera": ' <span class="muted rest-note">Not working</span>'}
    assert _offered(page, "Sam Rivera") == [] and _offered(page, "Dr Amara Lee")
    assert "off-note" not in page
    # and the calendar can be scrolled from the keyboard whatever it holds
    assert '<div class="calendar" style="--calendar-height: ' in page
    assert 'tabindex="0" role="region" aria-label="Calendar, Tuesday 8 December 2026"' in page


def _movable(page: str) -> set[int]:
    """The visits the calendar lets the desk drag: those with the visit page's reschedule address."""
    return {
        int(visit)
        for visit, move_pk in re.findall(
            r'data-appointment-id="(\d+)"[^>]*?data-move-url="/appointments/(\d+)/reschedule/"', page
        )
        if visit == move_pk
    }


def test_a_visit_still_to_be_had_can_be_dragged_and_one_over_or_cancelled_cannot(desk, world):
    from treatments.booking import appointment_cancel

    with time_machine.travel(local(world, 2026, 12, 7, 8, 0), tick=False):
        over = appointment_book(_request(world, local(world, 2026, 12, 7, 9, 0)))
        ahead = appointment_book(_request(world, local(world, 2026, 12, 7, 12, 0)))
        cancelled = appointment_cancel(appointment_book(_request(world, local(world, 2026, 12, 7, 14, 0))))
    # given it is 11:35 on the day: the 09:00 is over, the 12:00 to come, the 14:00 cancelled
    with time_machine.travel(local(world, 2026, 12, 7, 11, 35), tick=False):
        page = desk.get("/calendar/?date=2026-12-07").content.decode()
        rooms = desk.get("/calendar/?date=2026-12-07&by=room").content.decode()
    # then only the 12:00 can be dragged
    assert _movable(page) == {ahead.id}
    assert f'data-appointment-id="{over.id}"' in page and f'data-appointment-id="{cancelled.id}"' in page
    # and what is held (the visit and its buffers, as epoch seconds) is given for the active ones only,
    # so the dragged visit can show where it would overlap another
    held = f'data-held="{int(ahead.blocked_start.timestamp())} {int(ahead.blocked_end.timestamp())}"'
    assert held in page
    assert page.count("data-held=") == 2  # the 09:00 and the 12:00: a cancelled visit holds nothing
    # and each practitioner's column says whose it is and when its first pixel is (09:00 in London)
    opening = int(local(world, 2026, 12, 7, 9, 0).timestamp())
    for practitioner in (world.dr_lee, world.sam):
        assert (
            f'data-practitioner="{practitioner.id}" data-practitioner-name="{practitioner.display_name}" '
            f'data-open="{opening}"'
        ) in page
    assert 'data-step="900" data-pixels-per-minute="1.2" data-zone="Europe/London"' in page
    assert '<dialog id="move-dialog"' in page and "js/calendar-move.js" in page
    # and by room, where a drop would change the room (the visit's page does that), nothing is dragged
    assert _movable(rooms) == set()
    assert "move-dialog" not in rooms and "data-step=" not in rooms


def test_the_columns_of_a_clock_change_day_open_at_the_local_opening(desk, world):
    # Sunday 25 October 2026: London goes back to GMT at 02:00; the day still opens at 09:00 local
    page = desk.get(f"/calendar/?view=week&practitioner={world.sam.id}&date=2026-10-25").content.decode()
    opens = [int(epoch) for epoch in re.findall(r'data-open="(\d+)"', page)]
    assert opens == [int(local(world, 2026, 10, day, 9, 0).timestamp()) for day in range(19, 26)]
    assert opens[-1] - opens[-2] == 25 * 3600  # the Sunday is an hour longer
    assert set(re.findall(r'class="column-body" data-practitioner="(\d+)"', page)) == {str(world.sam.id)}


def test_no_visit_is_dropped_on_someone_who_left(desk, world):
    with time_machine.travel(local(world, 2026, 12, 7, 8, 0), tick=False):
        ahead = appointment_book(_request(world, local(world, 2026, 12, 8, 12, 0)))
    world.dr_lee.is_active = False
    world.dr_lee.save(update_fields=["is_active"])
    with time_machine.travel(local(world, 2026, 12, 7, 11, 35), tick=False):
        page = desk.get("/calendar/?date=2026-12-08").content.decode()
    # Dr Lee keeps a column while her visit is to be moved, the visit can be dragged out of it,
    # and nothing can be dropped into it
    assert "No longer active: move these visits" in page
    assert _movable(page) == {ahead.id}
    assert set(re.findall(r'class="column-body" data-practitioner="(\d+)"', page)) == {str(world.sam.id)}


def test_a_move_asked_from_the_calendar_comes_back_to_it_saying_what_happened(desk, world):
    with time_machine.travel(local(world, 2026, 12, 7, 8, 0), tick=False):
        visit = appointment_book(_request(world, local(world, 2026, 12, 8, 10, 0)))
        world.keep_lee_busy(local(world, 2026, 12, 8, 14, 0))
        back_to = "/calendar/?date=2026-12-08"
        # when the dialog the drop opened posts the visit's move to Sam at 11:30
        moved = desk.post(
            f"/appointments/{visit.id}/reschedule/",
            {
                "reschedule-start": "2026-12-08T11:30",
                "reschedule-practitioner": world.sam.id,
                "reschedule-reason": "Dr Lee's clinic overran",
                "next": back_to,
            },
            follow=True,
        )
        # then the calendar shows again, saying where the visit went
        assert moved.redirect_chain[-1] == (back_to, 302)
        assert "Moved to Tue 08 Dec 11:30 with Sam Rivera." in moved.content.decode()
        visit.refresh_from_db()
        assert (visit.start, visit.practitioner) == (local(world, 2026, 12, 8, 11, 30), world.sam)
        assert visit.events.filter(action="rescheduled", details__reason="Dr Lee's clinic overran").exists()
        # and a drop on a time that is taken comes back saying why, moving nothing
        refused = desk.post(
            f"/appointments/{visit.id}/reschedule/",
            {
                "reschedule-start": "2026-12-08T14:15",
                "reschedule-practitioner": world.dr_lee.id,
                "next": back_to,
            },
            follow=True,
        )
    assert refused.redirect_chain[-1] == (back_to, 302)
    assert "Dr Amara Lee is already booked" in refused.content.decode()
    visit.refresh_from_db()
    assert (visit.start, visit.practitioner) == (local(world, 2026, 12, 8, 11, 30), world.sam)


def test_a_visit_dragged_by_mistake_is_put_back_from_the_calendar(desk, world):
    back_to = "/calendar/?date=2026-12-08"

    def move(visit, start, practitioner, **more):
        return desk.post(
            f"/appointments/{visit.id}/reschedule/",
            {"reschedule-start": start, "reschedule-practitioner": practitioner.id, "next": back_to, **more},
            follow=True,
        ).content.decode()

    with time_machine.travel(local(world, 2026, 12, 7, 8, 0), tick=False):
        visit = appointment_book(_request(world, local(world, 2026, 12, 8, 10, 0)))
        name = visit.client.full_name
        # when the desk drops it on Sam at 11:30, the calendar offers to put it back, as long as it stands
        page = move(visit, "2026-12-08T11:30", world.sam)
        offer = f"Put {name} back to Tue 08 Dec 10:00 with Dr Amara Lee</button>"
        assert offer in page
        assert 'name="reschedule-start" value="2026-12-08T10:00"' in page
        assert offer in desk.get(back_to).content.decode()  # a reload keeps it
        # when it is put back, it is back, and nothing more is offered
        page = move(visit, "2026-12-08T10:00", world.dr_lee, undo="1", **{"reschedule-reason": "Put back"})
        assert "Moved to Tue 08 Dec 10:00 with Dr Amara Lee." in page and 'id="move-undo"' not in page
        visit.refresh_from_db()
        assert (visit.start, visit.practitioner) == (local(world, 2026, 12, 8, 10, 0), world.dr_lee)
        # a visit moved again since, or cancelled, is not offered back
        move(visit, "2026-12-08T12:00", world.sam)
        from treatments.booking import appointment_cancel

        appointment_cancel(visit)
        assert 'id="move-undo"' not in desk.get(back_to).content.decode()
        # a move made on the visit's own page offers nothing on the calendar
        other = appointment_book(_request(world, local(world, 2026, 12, 8, 15, 0)))
        desk.post(
            f"/appointments/{other.id}/reschedule/",
            {"reschedule-start": "2026-12-08T16:00", "reschedule-practitioner": world.dr_lee.id},
        )
        assert 'id="move-undo"' not in desk.get(back_to).content.decode()
        move(other, "2026-12-08T15:00", world.dr_lee)
    # ten minutes on, the offer is gone
    with time_machine.travel(local(world, 2026, 12, 7, 8, 11), tick=False):
        assert 'id="move-undo"' not in desk.get(back_to).content.decode()
