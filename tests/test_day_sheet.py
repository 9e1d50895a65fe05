"""The day's list for one practitioner (their day sheet, printable) or for everyone."""

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


def _book(world, practitioner, hour, first_name):
    return appointment_book(
        BookingRequest(
            client=world.client(first_name=first_name, last_name="Smith"),
            service=world.microcurrent,
            practitioner=practitioner,
            start=local(world, 2026, 12, 8, hour),
        )
    )


def test_one_practitioners_day_shows_only_their_visits_and_keeps_them_from_day_to_day(world, desk):
    _book(world, world.dr_lee, 10, "Olivia")
    _book(world, world.sam, 12, "Ada")
    everyone = desk.get(reverse("home"), {"date": "2026-12-08"}).content.decode()
    assert "Olivia Smith" in everyone and "Ada Smith" in everyone
    page = desk.get(reverse("home"), {"date": "2026-12-08", "practitioner": world.sam.pk}).content.decode()
    assert "Ada Smith" in page and "Olivia Smith" not in page
    assert "Tuesday 8 December 2026: Sam Rivera" in page
    assert f"?date=2026-12-09&amp;practitioner={world.sam.pk}" in page
    assert f'<option value="{world.sam.pk}" selected>Sam Rivera\'s visits</option>' in page


def test_someone_not_a_practitioner_here_shows_everyone(world, desk):
    _book(world, world.dr_lee, 10, "Olivia")
    for odd in (world.desk.pk, "x", "99999"):
        page = desk.get(reverse("home"), {"date": "2026-12-08", "practitioner": odd})
        assert page.status_code == 200 and "Olivia Smith" in page.content.decode()


def test_the_day_prints_as_a_sheet_without_the_pages_controls(world, desk):
    page = desk.get(reverse("home"), {"date": "2026-12-08"}).content.decode()
    assert '<button type="button" data-print>Print this day</button>' in page
    with open(finders.find("css/app.css"), encoding="utf-8") as css:
        sheet = css.read()
    assert "@media print" in sheet and ".day-filter" in sheet[sheet.index("@media print") :]
    with open(finders.find("js/day-keys.js"), encoding="utf-8") as script:
        assert "window.print()" in script.read()
