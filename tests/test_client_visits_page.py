"""A client's emails link to every visit they have still ahead (`/p/visits/<token>/`): each opens its
own page to confirm, move or cancel, with their waitlist places; the link is signed and expires."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.merging import client_merge
from clinic.models import OutboxMessage
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_cancel, course_book
from treatments.links import client_visits_url, manage_token
from treatments.waitlist import waitlist_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world(slug="lumen-visits")


@pytest.fixture
def olivia(world):
    return world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")


def _book(world, client, day, hour, service=None):
    return appointment_book(
        BookingRequest(
            client=client,
            service=service or world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, day, hour),
        )
    )


def _path(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def test_the_confirmation_links_to_every_visit_still_ahead_and_only_theirs(client, world, olivia):
    first = _book(world, olivia, 8, 10)
    second = _book(world, olivia, 15, 11)
    cancelled = _book(world, olivia, 11, 9)
    appointment_cancel(cancelled)
    _book(world, world.client(first_name="Someone", last_name="Else"), 9, 10)
    confirmation = OutboxMessage.objects.get(
        template_key="booking_confirmation", topic=f"appointment:{first.pk}"
    )
    url = confirmation.context["visits_url"]
    assert "/p/visits/" in url

    page = client.get(_path(url))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Your visits, Olivia" in html
    assert html.index("Tuesday 8 December 2026 at 10:00") < html.index("Tuesday 15 December 2026 at 11:00")
    for visit in (first, second):
        assert reverse("public-manage", args=[manage_token(visit)]) in html
    assert "Friday 11 December" not in html  # cancelled
    assert "Wednesday 9 December" not in html  # another client's
    assert reverse("public-services", args=[world.clinic.slug]) in html


def test_the_email_says_where_the_link_is(world, olivia):
    from clinic.message_templates import default_wording, render_wording

    visit = _book(world, olivia, 8, 10)
    message = OutboxMessage.objects.get(template_key="booking_confirmation", topic=f"appointment:{visit.pk}")
    body = render_wording(
        default_wording("booking_confirmation"), {**message.context, "clinic": world.clinic}
    ).body_text
    assert f"All your visits with us: {message.context['visits_url']}" in body


def test_a_course_is_listed_session_by_session(client, world, olivia):
    course = course_book(
        client=olivia,
        service=world.microcurrent,
        practitioner=world.dr_lee,
        starts=[local(world, 2026, 12, day, 10) for day in (7, 10, 14)],
    )
    message = OutboxMessage.objects.get(template_key="course_confirmation", topic=f"course:{course.pk}")
    html = client.get(_path(message.context["visits_url"])).content.decode()
    assert html.count("part of a course of 3 sessions") == 3


def test_what_a_client_waits_for_is_listed_with_its_link(client, world, olivia):
    waitlist_add(
        client=olivia,
        service=world.microcurrent,
        first_day=dt.date(2026, 12, 8),
        last_day=dt.date(2026, 12, 12),
    )
    html = client.get(_path(client_visits_url(olivia))).content.decode()
    assert "You have no visits booked with us at the moment." in html
    assert "Microcurrent workout, 8 Dec to 12 Dec" in html


def test_the_page_takes_a_fixed_number_of_queries(client, world, olivia):
    _book(world, olivia, 8, 10)
    path = _path(client_visits_url(olivia))
    with CaptureQueriesContext(connection) as few:
        client.get(path)
    for day in range(11, 30, 3):  # the protocol wants two days between sessions
        _book(world, olivia, day, 10)
    with CaptureQueriesContext(connection) as many:
        assert client.get(path).content.decode().count("Confirm, move or cancel</a>") == 8
    assert len(many) == len(few)


def test_an_altered_or_expired_link_says_so(client, world, olivia, time_machine):
    path = _path(client_visits_url(olivia))
    altered = client.get(path[:-3] + "abc/")
    assert altered.status_code == 404
    assert "This link is not valid" in altered.content.decode()
    time_machine.move_to(local(world, 2027, 3, 5, 9))  # more than 90 days on
    expired = client.get(path)
    assert expired.status_code == 404
    assert "This link has expired" in expired.content.decode()


def test_a_link_stays_good_until_a_day_after_the_visit_it_was_sent_for(world, olivia, client, time_machine):
    path = _path(client_visits_url(olivia, until=local(world, 2027, 5, 1, 11)))
    time_machine.move_to(local(world, 2027, 5, 2, 9))
    assert client.get(path).status_code == 200


def test_a_link_sent_before_a_merge_lists_the_kept_records_visits(client, world, olivia):
    again = world.client(first_name="Olivia", last_name="Smith", email="liv@home.example")
    path = _path(client_visits_url(again))
    visit = _book(world, again, 8, 10)
    client_merge(kept=olivia, merged=again, by=world.manager)
    html = client.get(path).content.decode()
    assert reverse("public-manage", args=[manage_token(visit)]) in html


def test_a_visits_page_links_back_to_all_the_clients_visits(client, world, olivia):
    visit = _book(world, olivia, 8, 10)
    html = client.get(reverse("public-manage", args=[manage_token(visit)])).content.decode()
    assert 'id="all-visits"' in html and "/p/visits/" in html
