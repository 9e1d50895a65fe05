"""A client's photos over time: by area, oldest first, two side by side with the days and treatments
between them; for practitioners and managers only, each read in the client's access log."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as BrowserClient

from clients.models import HealthDataAccess
from clients.services import photo_consent_give
from tests import test_session_photos
from tests.booking_world import build_world, local
from tests.test_session_photos import JPEG
from treatments.booking import BookingRequest, appointment_book
from treatments.models import BodyArea
from treatments.selectors import client_photo_album, photos_compared
from treatments.sessions import (
    treatment_session_add_microcurrent,
    treatment_session_add_photo,
    treatment_session_sign_off,
    treatment_session_start,
)

pytestmark = pytest.mark.django_db


media = test_session_photos.media  # photos stored under a temporary MEDIA_ROOT (autouse)


@pytest.fixture
def world(db):
    return build_world(slug="lumen-photos")


@pytest.fixture
def olivia(world):
    client = world.client(first_name="Olivia", last_name="Smith")
    photo_consent_give(client=client, scope="clinical", signature_name="Olivia Smith", agreed=True)
    return client


def _treated(world, client, day, photos):
    """A microcurrent visit on `day` (Dec 2026) at 10:00, treated, photographed, signed off there."""
    visit = appointment_book(
        BookingRequest(
            client=client,
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, day, 10),
        )
    )
    with time_machine.travel(local(world, 2026, 12, day, 10, 30), tick=False):
        session = treatment_session_start(appointment=visit, by=world.dr_lee)
        taken = [
            treatment_session_add_photo(
                session=session,
                by=world.dr_lee,
                image=SimpleUploadedFile("x.jpg", JPEG, content_type="image/jpeg"),
                area=area,
                caption=caption,
            )
            for area, caption in photos
        ]
        treatment_session_add_microcurrent(
            session=session,
            by=world.dr_lee,
            area=BodyArea.objects.get(code="face"),
            current_ua=200,
            frequency_hz=Decimal("2.5"),
            waveform="square",
            minutes=10,
            device=world.microcurrent_unit,
        )
        treatment_session_sign_off(session=session, by=world.dr_lee)
    return taken


def test_the_album_groups_by_area_oldest_first_in_one_query(world, olivia, django_assert_num_queries):
    cheeks, forehead = BodyArea.objects.order_by("name")[:2]
    [first_cheeks, first_forehead] = _treated(world, olivia, 2, [(cheeks, "Before"), (forehead, "")])
    _treated(world, olivia, 9, [])  # a treatment without photos
    [latest_cheeks, loose] = _treated(world, olivia, 16, [(cheeks, "After 3"), (None, "Neck, side")])
    with django_assert_num_queries(1):
        album = client_photo_album(olivia)
    assert [(a.name, [p.pk for p in a.photos]) for a in album] == [
        (cheeks.name, [first_cheeks.pk, latest_cheeks.pk]),
        (forehead.name, [first_forehead.pk]),
        ("Area not named", [loose.pk]),
    ]
    assert album[0].first_and_latest == (first_cheeks, latest_cheeks) and album[1].first_and_latest is None

    compared = photos_compared(olivia, [latest_cheeks.pk, first_cheeks.pk])
    assert (compared.before, compared.after) == (first_cheeks, latest_cheeks)
    assert compared.days_apart == 14 and compared.sessions_between == 1  # the 9th's
    stranger = world.client(first_name="Zed", last_name="Other")
    assert photos_compared(stranger, [latest_cheeks.pk, first_cheeks.pk]) is None
    assert photos_compared(olivia, [first_cheeks.pk]) is None
    assert photos_compared(olivia, [first_cheeks.pk, first_cheeks.pk]) is None


def test_the_page_shows_two_side_by_side_for_practitioners_only(world, olivia):
    cheeks = BodyArea.objects.order_by("name").first()
    [before] = _treated(world, olivia, 2, [(cheeks, "Before")])
    _treated(world, olivia, 9, [])
    [after] = _treated(world, olivia, 16, [(cheeks, "After")])
    desk = BrowserClient()
    desk.force_login(world.desk.user)
    assert desk.get(f"/clients/{olivia.pk}/photos/").status_code == 403
    assert desk.get(f"/clients/{olivia.pk}/photos/{before.pk}/").status_code == 403
    assert 'id="client-photos"' not in desk.get(f"/clients/{olivia.pk}/").content.decode()

    practitioner = BrowserClient()
    practitioner.force_login(world.dr_lee.user)
    assert 'id="client-photos"' in practitioner.get(f"/clients/{olivia.pk}/").content.decode()
    page = practitioner.get(f"/clients/{olivia.pk}/photos/").content.decode()
    assert f'href="?photo={before.pk}&amp;photo={after.pk}#comparison"' in page
    assert 'id="comparison"' not in page
    compared = practitioner.get(f"/clients/{olivia.pk}/photos/", {"photo": [after.pk, before.pk]})
    page = compared.content.decode()
    assert "14 days apart, 1 treatment in between" in page
    assert page.index(f"/clients/{olivia.pk}/photos/{before.pk}/") < page.index(
        f"/clients/{olivia.pk}/photos/{after.pk}/"
    )
    assert 'id="before"' in page and "Wed 2 Dec 2026" in page and "Wed 16 Dec 2026" in page
    image = practitioner.get(f"/clients/{olivia.pk}/photos/{before.pk}/")
    assert image.status_code == 200 and b"".join(image.streaming_content) == JPEG
    assert image["Cache-Control"] == "private, no-store"
    assert HealthDataAccess.objects.filter(client=olivia, staff_member=world.dr_lee, what="photo").exists()
    # one photo, or another client's, is not a comparison: said in words
    said = practitioner.get(f"/clients/{olivia.pk}/photos/", {"photo": [before.pk]}, follow=True)
    assert "Choose two of Olivia&#x27;s photos to compare." in said.content.decode()
    stranger = world.client(first_name="Zed", last_name="Other")
    assert practitioner.get(f"/clients/{stranger.pk}/photos/{before.pk}/").status_code == 404
    assert 'id="no-photos"' in practitioner.get(f"/clients/{stranger.pk}/photos/").content.decode()


def test_another_clinics_practitioner_finds_nothing(world, olivia):
    [photo] = _treated(world, olivia, 2, [(None, "")])
    other = build_world(slug="elsewhere-photos")
    practitioner = BrowserClient()
    practitioner.force_login(other.dr_lee.user)
    assert practitioner.get(f"/clients/{olivia.pk}/photos/").status_code == 404
    assert practitioner.get(f"/clients/{olivia.pk}/photos/{photo.pk}/").status_code == 404


def test_the_page_takes_the_same_queries_for_two_photos_and_twelve(
    world, olivia, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cheeks = BodyArea.objects.order_by("name").first()
    practitioner = BrowserClient()
    practitioner.force_login(world.dr_lee.user)
    _treated(world, olivia, 2, [(cheeks, "")])
    _treated(world, olivia, 4, [(cheeks, "")])
    with CaptureQueriesContext(connection) as few:
        practitioner.get(f"/clients/{olivia.pk}/photos/")
    for day in (7, 9, 11, 14, 16):
        _treated(world, olivia, day, [(cheeks, ""), (None, "")])
    with CaptureQueriesContext(connection) as many:
        practitioner.get(f"/clients/{olivia.pk}/photos/")
    assert len(many) == len(few)
    assert dt.date(2026, 12, 16)  # the last day photographed is inside the suite's calendar
