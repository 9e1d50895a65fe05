"""Reads are planned: the query count does not grow with the number of appointments or practitioners."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from clinic.models import OutboxMessage, PractitionerQualification, WorkingHours
from tests.booking_world import build_world, local
from tests.factories import PractitionerFactory
from treatments.availability import available_slots
from treatments.models import Appointment

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 12, 7)


@pytest.fixture
def world(db):
    return build_world()


def fill(world, count, days=10):
    """Add `count` non-overlapping 2-minute appointments, spread over `days` days and two practitioners."""
    zone = world.clinic.zone
    practitioners = [world.dr_lee, world.sam]
    clients = [world.client(), world.client()]  # one each: a client is never in two visits at once
    first = Appointment.objects.count()
    rows = []
    for i in range(first, first + count):
        day = DAY + dt.timedelta(days=i % days)
        nth_that_day = i // days
        practitioner, client = practitioners[nth_that_day % 2], clients[nth_that_day % 2]
        minute = (nth_that_day // 2) * 3  # each practitioner's visits 3 minutes apart
        start = dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC) + dt.timedelta(
            minutes=minute
        )
        end = start + dt.timedelta(minutes=2)
        rows.append(
            Appointment(
                clinic=world.clinic,
                client=client,
                practitioner=practitioner,
                service=world.microcurrent,
                start=start,
                end=end,
                blocked_start=start,
                blocked_end=end,
                price=world.microcurrent.price,
            )
        )
    Appointment.objects.bulk_create(rows)


def more_practitioners(world, count):
    for i in range(count):
        member = PractitionerFactory(clinic=world.clinic, display_name=f"Extra {i}")
        PractitionerQualification.objects.create(staff_member=member, modality="microcurrent")


def count_queries(fn):
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries)


def availability(world):
    world.microcurrent.refresh_from_db()
    return available_slots(
        service=world.microcurrent,
        start_date=DAY,
        end_date=DAY + dt.timedelta(days=9),
        now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )


def test_availability_queries_do_not_grow_with_appointments_or_practitioners(world):
    fill(world, 10)
    small = count_queries(lambda: availability(world))
    fill(world, 490)
    more_practitioners(world, 8)
    large = count_queries(lambda: availability(world))
    assert small == large
    assert WorkingHours.objects.count() > 14  # the extra practitioners really have hours


def _api(world):
    api = APIClient()
    api.force_authenticate(world.desk.user)
    return api


def test_appointment_list_queries_do_not_grow(world):
    api = _api(world)
    fill(world, 10)
    url = "/api/v1/appointments/?start=2026-12-07&end=2026-12-16&limit=1000"
    small = count_queries(lambda: api.get(url))
    fill(world, 490)
    large = count_queries(lambda: api.get(url))
    assert api.get(url).json()["count"] == 500
    assert small == large


@pytest.mark.parametrize("signatures_asked", [False, True])
def test_day_page_queries_do_not_grow(world, client, signatures_asked):
    from clients.models import Client
    from tests.factories import ConsentTemplateFactory, sign_consent

    def signed_consents():
        """With signatures asked, every client has signed; the list flags what the staff has not."""
        if signatures_asked:
            for person in Client.objects.filter(clinic=world.clinic, signed_consents__isnull=True):
                sign_consent(person, template)

    if signatures_asked:
        world.clinic.consent_signed_by_practitioner = world.clinic.consent_witnessed = True
        world.clinic.save()
        template = ConsentTemplateFactory(clinic=world.clinic, modality="microcurrent")
    client.force_login(world.desk.user)
    fill(world, 10, days=1)
    signed_consents()
    small = count_queries(lambda: client.get("/?date=2026-12-07"))
    fill(world, 490, days=1)
    signed_consents()
    page = client.get("/?date=2026-12-07").content.decode()
    large = count_queries(lambda: client.get("/?date=2026-12-07"))
    assert small == large
    assert ("Consent to countersign" in page) == signatures_asked


def test_availability_api_queries_do_not_grow(world):
    api = _api(world)
    url = f"/api/v1/availability/?service={world.microcurrent.id}&start=2026-12-07&end=2026-12-16"
    fill(world, 10)
    small = count_queries(lambda: api.get(url))
    fill(world, 490)
    more_practitioners(world, 8)
    large = count_queries(lambda: api.get(url))
    assert small == large


@pytest.mark.parametrize("view", ["day", "week"])
@pytest.mark.parametrize("by", ["practitioner", "room"])
def test_calendar_queries_do_not_grow(world, client, view, by):
    client.force_login(world.desk.user)
    url = f"/calendar/?date=2026-12-07&view={view}&by={by}"
    fill(world, 10, days=1)
    small = count_queries(lambda: client.get(url))
    fill(world, 490, days=1)
    more_practitioners(world, 8)
    large = count_queries(lambda: client.get(url))
    assert client.get(url).status_code == 200
    assert small == large


def test_a_booking_is_a_fixed_plan_of_queries_with_its_messages_in_one_insert(world):
    api = _api(world)

    def book(hour) -> list[str]:
        payload = {
            "client": world.client(email=f"c{hour}@example.com").id,
            "service": world.microcurrent.id,
            "practitioner": world.dr_lee.id,
            "start": local(world, 2026, 12, 21, hour).isoformat(),
        }
        with CaptureQueriesContext(connection) as queries:
            assert api.post("/api/v1/appointments/", payload, format="json").status_code == 201
        return [q["sql"] for q in queries.captured_queries]

    fill(world, 10)
    small = book(10)
    fill(world, 490)
    more_practitioners(world, 8)
    large = book(11)
    assert len(small) == len(large)
    outbox_inserts = [
        sql for sql in large if sql.startswith("INSERT") and 'INTO "clinic_outboxmessage"' in sql[:60]
    ]
    assert len(outbox_inserts) == 1  # confirmation, reminders and form request together
    assert OutboxMessage.objects.filter(topic__startswith="appointment:").count() >= 2 * 3
