"""The manager's report: hours open and booked per practitioner (a day the clocks change counts its real
hours), what became of the visits, how many clients booked again; a fixed number of queries."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import ExtraHours, TimeOff
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_cancel
from treatments.models import Appointment, AppointmentEvent, AppointmentStatus
from treatments.report import clinic_report

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 12, 7)


@pytest.fixture
def world(db):
    return build_world(slug="lumen-report")  # open 09:00-17:00 every day, two practitioners


def _book(world, start, *, practitioner=None, client=None, service=None, source="desk"):
    return appointment_book(
        BookingRequest(
            client=client or world.client(),
            service=service or world.microcurrent,  # 45 minutes
            practitioner=practitioner or world.dr_lee,
            start=start,
            source=source,
        )
    )


def _lines(report):
    return {line.name: line for line in report.lines}


def test_hours_open_and_booked_and_what_became_of_the_visits(world):
    TimeOff.objects.create(
        staff_member=world.dr_lee, start=local(world, 2026, 12, 8, 9), end=local(world, 2026, 12, 8, 13)
    )
    ExtraHours.objects.create(
        staff_member=world.sam, start=local(world, 2026, 12, 7, 17), end=local(world, 2026, 12, 7, 19)
    )
    olivia = world.client(first_name="Olivia")
    done = _book(world, local(world, 2026, 12, 7, 10), client=olivia)
    _book(world, local(world, 2026, 12, 7, 11), source="online")
    no_show = _book(world, local(world, 2026, 12, 7, 12))
    late = _book(world, local(world, 2026, 12, 7, 14))
    early = _book(world, local(world, 2026, 12, 8, 14), practitioner=world.sam)
    appointment_cancel(late, by_client=True)
    AppointmentEvent.objects.filter(appointment=late, action="cancelled").update(
        at=local(world, 2026, 12, 7, 8)
    )
    appointment_cancel(early)  # a week ahead: not late
    Appointment.objects.filter(pk=done.pk).update(status=AppointmentStatus.FULFILLED)
    Appointment.objects.filter(pk=no_show.pk).update(status=AppointmentStatus.NOSHOW)
    _book(world, local(world, 2027, 1, 4, 10), client=olivia)  # Olivia booked again

    report = clinic_report(world.clinic, first_day=MONDAY, last_day=MONDAY + dt.timedelta(days=1))
    lee, sam = _lines(report)["Dr Amara Lee"], _lines(report)["Sam Rivera"]
    assert lee.open_hours == 16 - 4  # two days of eight hours, less a morning off
    assert sam.open_hours == 16 + 2  # and an evening of extra hours
    assert lee.booked_hours == 0.75 * 2  # the completed visit and the one booked; not the no-show
    assert (lee.completed, lee.no_shows, lee.cancelled, lee.cancelled_late, lee.booked_online) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert (sam.cancelled, sam.cancelled_late) == (1, 0)
    assert lee.utilisation == round(100 * 1.5 / 12)
    assert report.total.open_hours == 30 and report.total.cancelled == 2
    assert (report.completed_clients, report.rebooked, report.rebooking_rate) == (1, 1, 100)
    assert report.first_visits == 1  # Olivia's first with the clinic


def test_what_the_visits_were_worth_at_the_prices_they_were_booked_at(world, client):
    """Two visits completed, booked at £100 and, after a price rise, £120; a no-show and a late
    cancellation missed at £120; an early cancellation and a visit still booked count in neither."""
    from decimal import Decimal

    first = _book(world, local(world, 2026, 12, 7, 10))
    world.microcurrent.price = Decimal("120")
    world.microcurrent.save(update_fields=["price"])
    assert Appointment.objects.get(pk=first.pk).price == Decimal("100")  # kept as booked
    second = _book(world, local(world, 2026, 12, 7, 11))
    no_show = _book(world, local(world, 2026, 12, 7, 12))
    late = _book(world, local(world, 2026, 12, 7, 14))
    _book(world, local(world, 2026, 12, 7, 15))  # still booked
    appointment_cancel(_book(world, local(world, 2026, 12, 8, 10)))  # early: not missed
    appointment_cancel(late, by_client=True)
    AppointmentEvent.objects.filter(appointment=late, action="cancelled").update(
        at=local(world, 2026, 12, 7, 8)
    )
    Appointment.objects.filter(pk__in=[first.pk, second.pk]).update(status=AppointmentStatus.FULFILLED)
    Appointment.objects.filter(pk=no_show.pk).update(status=AppointmentStatus.NOSHOW)

    report = clinic_report(world.clinic, first_day=MONDAY, last_day=MONDAY + dt.timedelta(days=1))
    lee = _lines(report)["Dr Amara Lee"]
    assert (lee.completed_value, lee.missed_value) == (Decimal("220"), Decimal("240"))
    assert (report.total.completed_value, report.total.missed_value) == (Decimal("220"), Decimal("240"))
    [service] = report.services
    assert (
        service.name,
        service.completed,
        service.completed_value,
        service.no_shows,
        service.cancelled,
    ) == (
        world.microcurrent.name,
        2,
        Decimal("220"),
        1,
        2,
    )

    client.force_login(world.manager.user)
    visit_page = client.get(f"/appointments/{first.pk}/").content.decode()
    assert (
        '<dd id="price">£100 <span class="muted">as booked (the service is £120 now)</span></dd>'
        in visit_page
    )
    page = client.get("/manage/report/", {"start": "2026-12-07", "end": "2026-12-08"}).content.decode()
    assert "<td>£220</td><td>£240</td>" in page
    assert (
        f'<th scope="row">{world.microcurrent.name}</th><td>2</td><td>£220</td><td>1</td><td>2</td>' in page
    )
    sheet = client.get("/manage/report/", {"start": "2026-12-07", "end": "2026-12-08", "format": "csv"})
    lines = sheet.content.decode().splitlines()
    assert lines[0].endswith("Completed value,No-shows and late cancellations value")
    assert lines[-1].endswith(",220.00,240.00")


def test_the_products_given_and_the_first_visits(world, client):
    """Two clients given HA cocktail on 1 December (2.5 mL in all); Ann had been before, Bea not."""
    from decimal import Decimal

    from tests.factories import AppointmentFactory
    from tests.test_lot_recall_notice import give
    from treatments.models import Product, ProductLot

    lot = ProductLot.objects.create(
        product=Product.objects.create(clinic=world.clinic, name="HA cocktail"),
        lot_number="HA-1",
        expiry_date=dt.date(2027, 6, 30),
    )
    ann, bea = world.client(first_name="Ann"), world.client(first_name="Bea")
    AppointmentFactory(  # a month ago, as it was kept (booking refuses the past)
        clinic=world.clinic,
        client=ann,
        practitioner=world.dr_lee,
        service=world.microcurrent,
        start=local(world, 2026, 11, 2, 10),
        status=AppointmentStatus.FULFILLED,
    )
    give(world, ann, lot, 10, areas=("face", "neck"))
    give(world, bea, lot, 12)
    report = clinic_report(world.clinic, first_day=dt.date(2026, 12, 1), last_day=dt.date(2026, 12, 1))
    assert [(p.name, p.volume_ml, p.clients) for p in report.products] == [("HA cocktail", Decimal("3"), 2)]
    assert (report.completed_clients, report.first_visits) == (2, 1)  # Bea's was her first
    client.force_login(world.manager.user)
    page = client.get("/manage/report/", {"start": "2026-12-01", "end": "2026-12-01"}).content.decode()
    assert '<th scope="row">HA cocktail</th><td>3 mL</td><td>2</td>' in page and "1 was its client" in page


@pytest.mark.parametrize(
    "zone, day, hours",
    [("Europe/London", dt.date(2027, 3, 28), 8), ("America/New_York", dt.date(2027, 11, 7), 8)],
)
def test_a_day_the_clocks_change_counts_the_working_hours_it_has(zone, day, hours):
    world = build_world(time_zone=zone, slug=f"report-{zone.split('/')[1].lower()}")
    report = clinic_report(world.clinic, first_day=day, last_day=day)
    assert [line.open_hours for line in report.lines] == [hours, hours]


def test_the_report_takes_the_same_queries_for_few_and_many_visits(world):
    def count():
        with CaptureQueriesContext(connection) as queries:
            clinic_report(world.clinic, first_day=MONDAY, last_day=MONDAY + dt.timedelta(days=6))
        return len(queries)

    _book(world, local(world, 2026, 12, 7, 9))
    few = count()
    for day in range(7, 14):
        for hour in (10, 11, 13, 14, 15):
            _book(world, local(world, 2026, 12, day, hour), practitioner=world.sam)
    assert count() == few


def test_the_report_is_for_managers_and_refuses_a_span_in_words(client, world):
    client.force_login(world.desk.user)
    assert client.get("/manage/report/").status_code == 403
    client.force_login(world.manager.user)
    page = client.get("/manage/report/?start=2026-12-07&end=2026-12-08").content.decode()
    assert "7 Dec 2026 to 8 Dec 2026" in page and "Dr Amara Lee" in page
    backwards = client.get("/manage/report/?start=2026-12-08&end=2026-12-07")
    assert backwards.status_code == 400
    assert "The last day comes on or after the first." in backwards.content.decode()
    too_long = client.get("/manage/report/?start=2026-01-01&end=2026-12-07")
    assert "A report covers at most 92 days" in too_long.content.decode()
    assert client.get("/manage/report/?start=nonsense").status_code == 400


def test_the_report_downloads_as_csv_for_a_spreadsheet(client, world):
    import csv
    import io

    _book(world, local(world, 2026, 12, 7, 10))
    client.force_login(world.manager.user)
    response = client.get("/manage/report/?start=2026-12-07&end=2026-12-07&format=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="report-2026-12-07-to-2026-12-07.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["Practitioner", "Hours open", "Hours booked", "Utilisation %"]
    assert rows[1][:4] == ["Dr Amara Lee", "8.0", "0.8", "9"]
    assert rows[-1][0] == "The clinic" and rows[-1][1] == "16.0"
    assert 'id="report-csv"' in client.get("/manage/report/").content.decode()
