"""A manager imports the visits booked ahead in the software the clinic used before: each row's client,
service, practitioner and local time are read (or said), visits over, cancelled or held already are left
out, and each visit is booked as the desk books one, its refusals listed with why."""

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.erasure import client_erase
from clients.imports import client_import_discard, file_rows, text_without_lines
from clients.models import ClientImport, ClientImportStatus, ImportKind
from clinic.errors import ClinicError
from clinic.models import AccountAction, AccountEvent, OutboxMessage
from clinic.spreadsheets import cell_read
from tests.booking_world import build_world, local
from tests.conftest import wait_until
from tests.factories import ClinicFactory, StaffMemberFactory
from treatments import visit_imports
from treatments.booking import BookingRequest, appointment_book, appointment_cancel
from treatments.exports import visit_rows
from treatments.models import Appointment, AppointmentEvent, AppointmentStatus
from treatments.visit_imports import (
    ALREADY,
    BOOK,
    HISTORY,
    NOT_COMING,
    REFUSED,
    clock_read,
    guess_visit_mapping,
    local_instant,
    sample_rows,
    start_read,
    visit_import_book,
    visit_import_preview,
    visit_import_queue,
    visit_import_read,
    visit_import_settings,
    visit_imports_unfinished,
)


@pytest.fixture
def world(db):
    return build_world()


def csv_bytes(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def read(world, rows, *, name="appointments.csv"):
    return visit_import_read(
        clinic=world.clinic, uploaded_by=world.manager, file_name=name, data=csv_bytes(rows)
    )


HEADER = [
    "Customer Name",
    "Customer Email",
    "Customer Phone",
    "Service",
    "Provider",
    "Date",
    "Start Time",
    "Status",
]


@pytest.fixture
def clients(world):
    return {
        "olivia": world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com", phone=""),
        "amara": world.client(first_name="Amara", last_name="Okafor", email="", phone="+44 7700 900456"),
        "priya": world.client(first_name="Priya", last_name="Patel", email="priya@example.com"),
    }


def book(client_import, *, actor):
    """Ask for the file's visits to be booked, and book them as the worker does."""
    visit_import_queue(client_import, actor=actor)
    return visit_import_book(client_import.pk)


def olivia(date, time, *, service="Microneedling facial", practitioner="Dr Amara Lee", status=""):
    """A row of the file for Olivia Smith, by her email."""
    return ["Olivia Smith", "olivia@example.com", "", service, practitioner, date, time, status]


def outcomes(preview) -> dict[int, str]:
    return {row.line: row.outcome for row in preview.rows}


def test_columns_are_recognised_by_the_names_other_software_gives_them():
    assert guess_visit_mapping(HEADER) == [
        "full_name",
        "email",
        "phone",
        "service",
        "practitioner",
        "date",
        "time",
        "status",
    ]
    # the clinic's own visits export: a client's full name, a start with its offset
    assert guess_visit_mapping(
        ["Visit id", "Client id", "Client", "Service", "Practitioner", "Start", "End"]
    ) == [
        "",
        "",
        "full_name",
        "service",
        "practitioner",
        "start",
        "",
    ]
    assert guess_visit_mapping(
        ["First Name", "Last Name", "Mobile", "Treatment", "Therapist", "Appointment Date", "Time", "Notes"]
    ) == [
        "first_name",
        "last_name",
        "phone",
        "service",
        "practitioner",
        "date",
        "time",
        "notes",
    ]


def test_times_are_read_as_people_write_them_and_a_clock_change_is_said():
    assert [clock_read(t) for t in ("14:30", "2:30 PM", "2.30pm", "14h30", "9am", "12am", "10:00:00")] == [
        dt.time(14, 30),
        dt.time(14, 30),
        dt.time(14, 30),
        dt.time(14, 30),
        dt.time(9),
        dt.time(0),
        dt.time(10),
    ]
    for bad in ("14", "25:00", "13pm", "soon"):
        with pytest.raises(ValueError, match="is not a time we can read: write it as 14:30"):
            clock_read(bad)
    zone = ZoneInfo("Europe/London")
    today = dt.date(2026, 12, 1)
    assert start_read("08/12/2026 10:00", "", "", order="dmy", zone=zone, today=today) == dt.datetime(
        2026, 12, 8, 10, tzinfo=dt.UTC
    )
    assert start_read("Dec 8, 2026 2:30 PM", "", "", order="mdy", zone=zone, today=today) == dt.datetime(
        2026, 12, 8, 14, 30, tzinfo=dt.UTC
    )
    assert start_read("", "12/08/27", "9:00", order="mdy", zone=zone, today=today) == dt.datetime(
        2027, 12, 8, 9, tzinfo=dt.UTC
    )
    # summer time: 10:00 in London is 09:00 UTC; an offset written is taken as written
    assert local_instant(dt.date(2027, 6, 1), dt.time(10), zone) == dt.datetime(2027, 6, 1, 9, tzinfo=dt.UTC)
    assert start_read("2027-06-01T10:00+01:00", "", "", order="dmy", zone=zone, today=today) == dt.datetime(
        2027, 6, 1, 9, tzinfo=dt.UTC
    )
    with pytest.raises(ValueError, match="01:30 on 28 Mar 2027 does not exist here: the clocks go forward"):
        local_instant(dt.date(2027, 3, 28), dt.time(1, 30), zone)
    with pytest.raises(ValueError, match="01:30 on 31 Oct 2027 happens twice here: the clocks go back"):
        local_instant(dt.date(2027, 10, 31), dt.time(1, 30), zone)


def test_the_preview_says_what_each_row_becomes(world, clients):
    appointment_book(
        BookingRequest(
            client=clients["priya"],
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 9, 11),
        )
    )
    client_import = read(
        world,
        [
            HEADER,
            olivia("08/12/2026", "10:00", status="Booked"),
            [
                "Amara Okafor",
                "",
                "07700 900456",
                "microcurrent workout",
                "Sam",
                "08/12/2026",
                "2:00 PM",
                "Confirmed",
            ],
            olivia("30/11/2026", "10:00"),
            olivia("09/12/2026", "10:00", status="Cancelled"),
            [
                "Priya Patel",
                "priya@example.com",
                "",
                "Microcurrent workout",
                "Sam Rivera",
                "09/12/2026",
                "11:00",
                "",
            ],
            ["Amara Okafor", "", "07700 900456", "microcurrent workout", "Sam", "08/12/2026", "14:00", ""],
            [
                "Nobody Known",
                "nobody@example.com",
                "",
                "Microneedling facial",
                "Dr Amara Lee",
                "10/12/2026",
                "10:00",
                "",
            ],
            olivia("10/12/2026", "12:00", service="Hydrafacial", practitioner="Dr Lee"),
            olivia("28/03/2027", "01:30"),
            olivia("31/02/2027", "10:00"),
        ],
    )
    assert client_import.kind == ImportKind.VISITS and client_import.date_order == "dmy"
    preview = visit_import_preview(client_import)
    assert preview.problems == []
    assert preview.date_order_why == "30/11/2026 on line 4 can only be read day first."
    assert outcomes(preview) == {
        2: BOOK,
        3: BOOK,
        4: HISTORY,
        5: NOT_COMING,
        6: ALREADY,
        7: ALREADY,
        8: REFUSED,
        9: REFUSED,
        10: REFUSED,
        11: REFUSED,
    }
    rows = {row.line: row for row in preview.rows}
    assert rows[2].client == clients["olivia"] and rows[2].practitioner == world.dr_lee
    assert rows[2].start == dt.datetime(2026, 12, 8, 10, tzinfo=dt.UTC)
    # a phone however written, a service's name in any case, a practitioner by their first name alone
    assert (rows[3].client, rows[3].service, rows[3].practitioner) == (
        clients["amara"],
        world.microcurrent,
        world.sam,
    )
    assert rows[5].reason == "“Cancelled” in the old software: not booked."
    assert rows[6].reason == "Booked here already."
    assert rows[7].reason == "The same visit as line 3."
    assert rows[8].reason == "No client here is Nobody Known: import the clients first, or register them."
    assert rows[9].reason == (
        "No service here is called “Hydrafacial”: choose which it is above. "
        "No practitioner here is called “Dr Lee”: choose which it is above."
    )
    assert rows[10].reason.startswith("When: 01:30 on 28 Mar 2027 does not exist here")
    assert rows[11].reason.startswith("When: “31/02/2027” is not a date read as day/month/year.")
    assert preview.unknown == {"service": {"Hydrafacial": 1}, "practitioner": {"Dr Lee": 1}}


def test_names_in_the_file_are_said_to_be_the_clinics_and_the_visits_booked(world, clients):
    client_import = read(
        world,
        [
            HEADER,
            olivia("08/12/2026", "10:00", service="MN Facial", practitioner="Dr Lee"),
        ],
    )
    assert outcomes(visit_import_preview(client_import)) == {2: REFUSED}
    visit_import_settings(
        client_import,
        mapping=client_import.mapping,
        date_order="dmy",
        names_chosen={
            "service": {"MN Facial": world.microneedling.pk},
            "practitioner": {"Dr Lee": world.dr_lee.pk},
        },
        confirmations_sent=False,
    )
    client_import.refresh_from_db()
    assert client_import.names_chosen == {
        "service": {"MN Facial": world.microneedling.pk},
        "practitioner": {"Dr Lee": world.dr_lee.pk},
    }
    assert outcomes(visit_import_preview(client_import)) == {2: BOOK}
    # a service of another clinic is not a choice
    other = build_world()
    with pytest.raises(ClinicError, match="Choose the service from its list."):
        visit_import_settings(
            client_import,
            mapping=client_import.mapping,
            date_order="dmy",
            names_chosen={"service": {"MN Facial": other.microneedling.pk}},
            confirmations_sent=False,
        )
    done = book(client_import, actor=world.manager)
    visit = Appointment.objects.get(client=clients["olivia"])
    assert (visit.service, visit.practitioner, visit.start) == (
        world.microneedling,
        world.dr_lee,
        dt.datetime(2026, 12, 8, 10, tzinfo=dt.UTC),
    )
    assert visit.room is not None and visit.device is not None  # assigned as for any booking
    assert done.status == ClientImportStatus.IMPORTED and done.imported_count == 1 and done.text == ""


def test_each_visit_is_booked_as_the_desk_books_one_and_its_refusals_kept(world, clients):
    client_import = read(
        world,
        [
            [*HEADER, "Notes"],
            [
                "Olivia Smith",
                "olivia@example.com",
                "",
                "Microneedling facial",
                "Dr Amara Lee",
                "08/12/2026",
                "10:00",
                "",
                "Numbing at 9:45",
            ],
            # Dr Lee is held 09:45-11:10 by the visit above: this one overlaps it
            [
                "Priya Patel",
                "priya@example.com",
                "",
                "Mesotherapy facial",
                "Dr Amara Lee",
                "08/12/2026",
                "10:30",
                "",
                "",
            ],
            # outside the hours the practitioner works (09:00-17:00)
            [
                "Amara Okafor",
                "",
                "07700 900456",
                "Microcurrent workout",
                "Sam Rivera",
                "08/12/2026",
                "18:00",
                "",
                "",
            ],
            # Sam is not qualified for mesotherapy
            [
                "Amara Okafor",
                "",
                "07700 900456",
                "Mesotherapy facial",
                "Sam Rivera",
                "09/12/2026",
                "10:00",
                "",
                "",
            ],
            [
                "Amara Okafor",
                "",
                "07700 900456",
                "Microcurrent workout",
                "Sam Rivera",
                "09/12/2026",
                "12:00",
                "",
                "",
            ],
        ],
    )
    assert visit_import_preview(client_import).counts[BOOK] == 5
    done = book(client_import, actor=world.manager)
    assert done.imported_count == 2 and done.left_out_count == 3
    booked = Appointment.objects.filter(clinic=world.clinic).order_by("start")
    assert [(v.client, v.status) for v in booked] == [
        (clients["olivia"], AppointmentStatus.BOOKED),
        (clients["amara"], AppointmentStatus.BOOKED),
    ]
    assert booked[0].notes.endswith("Numbing at 9:45")
    reasons = {row["line"]: row["reason"] for row in done.left_out}
    assert reasons == {
        3: "Dr Amara Lee is already booked 09:45–11:10.",
        4: "Sam Rivera does not work Tue 08 Dec 18:00–18:55 (Europe/London).",
        5: "Sam Rivera cannot perform “Mesotherapy facial”: not qualified for mesotherapy.",
    }
    assert {row["client"] for row in done.left_out} == {clients["priya"].pk, clients["amara"].pk}
    # recorded as imported, by the manager, in each visit's history
    event = AppointmentEvent.objects.get(appointment=booked[0], action="booked")
    assert event.details["source"] == "imported" and event.actor == world.manager.user
    assert (
        AccountEvent.objects.filter(user=world.manager.user, action=AccountAction.IMPORTED_VISITS).count()
        == 1
    )
    # the clients get their reminders, not a confirmation (the old software sent it)
    written = OutboxMessage.objects.filter(client_id=clients["olivia"].pk)
    keys = set(written.values_list("template_key", flat=True))
    assert "booking_confirmation" not in keys and "booking_reminder" in keys


def test_a_confirmation_goes_when_the_manager_asks(world, clients):
    client_import = read(
        world,
        [
            HEADER,
            olivia("08/12/2026", "10:00"),
        ],
    )
    visit_import_settings(
        client_import,
        mapping=client_import.mapping,
        date_order="dmy",
        names_chosen={},
        confirmations_sent=True,
    )
    book(client_import, actor=world.manager)
    written = OutboxMessage.objects.filter(client_id=clients["olivia"].pk)
    keys = list(written.values_list("template_key", flat=True))
    assert keys.count("booking_confirmation") == 1


def test_a_file_imported_twice_books_nothing_twice_and_once_is_once(world, clients):
    rows = [
        HEADER,
        olivia("08/12/2026", "10:00"),
    ]
    first = read(world, rows)
    visit_import_queue(first, actor=world.manager)
    # asked twice: the second click is told, and the worker's task run twice books once
    with pytest.raises(ClinicError, match="This file's visits are being booked now"):
        visit_import_queue(first, actor=world.manager)
    assert visit_import_book(first.pk).imported_count == 1
    assert visit_import_book(first.pk) is None
    with pytest.raises(
        ClinicError, match=r"This file was imported already \(1 visits\): nothing was imported again."
    ):
        book(first, actor=world.manager)
    second = read(world, rows, name="again.csv")
    assert outcomes(visit_import_preview(second)) == {2: ALREADY}
    with pytest.raises(
        ClinicError, match="No visit in this file can be booked or kept: nothing was imported."
    ):
        book(second, actor=world.manager)
    assert Appointment.objects.filter(clinic=world.clinic).count() == 1
    # once cancelled here, the same row books it again
    appointment_cancel(Appointment.objects.get(), reason="Moved", actor=world.desk.user)
    assert outcomes(visit_import_preview(second)) == {2: BOOK}


def test_a_file_without_the_columns_needed_says_which(world):
    client_import = read(world, [["Who", "What"], ["Olivia", "Facial"]])
    preview = visit_import_preview(client_import)
    assert preview.rows == [] and preview.problems == [
        "Say which column names the client: their email, phone or name.",
        "Say which column holds the service.",
        "Say which column holds the practitioner.",
        "Say which columns hold the visit's date and time (or one column with both).",
    ]


def test_the_clinics_own_visits_export_moves_its_visits_ahead_to_another_clinic(world, clients):
    appointment_book(
        BookingRequest(
            client=clients["olivia"],
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2027, 6, 1, 10),
        )
    )
    gone = appointment_book(
        BookingRequest(
            client=clients["priya"],
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2027, 6, 1, 12),
        )
    )
    appointment_cancel(gone, reason="Moved away", actor=world.desk.user)
    exported = list(visit_rows(world.clinic))
    new_home = build_world()
    new_home.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    new_home.client(first_name="Priya", last_name="Patel", email="priya@example.com")
    client_import = visit_import_read(
        clinic=new_home.clinic,
        uploaded_by=new_home.manager,
        file_name="lumen-visits.csv",
        data=csv_bytes(exported),
    )
    preview = visit_import_preview(client_import)
    assert outcomes(preview) == {2: BOOK, 3: NOT_COMING}
    book(client_import, actor=new_home.manager)
    moved = Appointment.objects.get(clinic=new_home.clinic)
    assert moved.start == dt.datetime(2027, 6, 1, 9, tzinfo=dt.UTC)  # 10:00 in London's summer


def test_a_new_york_clinic_reads_its_times_in_its_zone_across_a_clock_change(db):
    world = build_world(time_zone="America/New_York")
    world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    client_import = read(
        world,
        [
            HEADER,
            olivia("03/15/2027", "9:00 AM", service="Microcurrent workout", practitioner="Sam Rivera"),
            olivia("03/14/2027", "2:30 AM", service="Microcurrent workout", practitioner="Sam Rivera"),
            olivia("11/07/2027", "1:30 AM", service="Microcurrent workout", practitioner="Sam Rivera"),
        ],
    )
    assert client_import.date_order == "mdy"
    rows = {row.line: row for row in visit_import_preview(client_import).rows}
    assert rows[2].outcome == BOOK and rows[2].start == dt.datetime(2027, 3, 15, 13, tzinfo=dt.UTC)
    assert "02:30 on 14 Mar 2027 does not exist here" in rows[3].reason
    assert "01:30 on 7 Nov 2027 happens twice here" in rows[4].reason


def test_the_preview_reads_the_clinic_in_the_same_queries_however_long_the_file(world, clients):
    def queries(rows: int) -> int:
        body = [
            [
                "Olivia Smith",
                "olivia@example.com",
                "",
                "Microneedling facial",
                "Dr Amara Lee",
                f"{8 + n % 20:02d}/12/2026",
                f"{9 + n % 8}:00",
                "",
            ]
            for n in range(rows)
        ]
        client_import = read(world, [HEADER, *body])
        with CaptureQueriesContext(connection) as captured:
            visit_import_preview(client_import)
        return len(captured)

    assert queries(5) == queries(200)


def test_erasing_a_client_takes_their_rows_out_of_what_an_import_left_out(world, clients):
    client_import = read(
        world,
        [
            HEADER,
            olivia("08/12/2026", "18:30"),
            [
                "Priya Patel",
                "priya@example.com",
                "",
                "Microneedling facial",
                "Dr Amara Lee",
                "09/12/2026",
                "10:00",
                "",
            ],
        ],
    )
    done = book(client_import, actor=world.manager)
    assert [row["client"] for row in done.left_out] == [clients["olivia"].pk]
    client_erase(client=clients["olivia"], by=world.manager)
    done.refresh_from_db()
    assert done.left_out == [] and done.left_out_count == 1


def test_erasing_a_client_takes_the_rows_naming_them_out_of_files_still_to_import_or_being_booked(
    world, clients
):
    priya = ["Priya Patel", "priya@example.com", "", "Microneedling facial", "Dr Amara Lee", "09/12/2026"]
    rows = [
        HEADER,
        olivia("08/12/2026", "10:00"),  # by her email
        [*priya, "10:00", ""],
        # by her name only, which no other client has
        [
            "Olivia Smith",
            "",
            "",
            "Microneedling facial",
            "Dr Amara Lee",
            "10/12/2026",
            "10:00",
            "",
        ],
        [*priya, "14:00", "Cancelled"],
        # a namesake with an address of her own
        [
            "Olivia Smith",
            "olivia.other@example.com",
            "",
            "Microcurrent workout",
            "Sam",
            "11/12/2026",
            "10:00",
            "",
        ],
    ]
    waiting = read(world, rows, name="waiting.csv")
    being_booked = read(world, rows, name="being-booked.csv")
    visit_import_queue(being_booked, actor=world.manager)
    # a file whose first batch left a row of hers out (the booking refused it), still being booked
    half_done = read(world, [HEADER, olivia("08/12/2026", "18:30"), [*priya, "11:00", ""]], name="half.csv")
    visit_import_queue(half_done, actor=world.manager)
    refused = {"line": 2, "cells": olivia("08/12/2026", "18:30"), "reason": "Outside hours.", "client": None}
    ClientImport.objects.filter(pk=half_done.pk).update(
        left_out=[{**refused, "client": clients["olivia"].pk}]
    )
    client_erase(client=clients["olivia"], by=world.manager)
    half_done.refresh_from_db()
    assert half_done.left_out == [] and "olivia@example.com" not in half_done.text
    for client_import in (waiting, being_booked):
        client_import.refresh_from_db()
        assert "olivia@example.com" not in client_import.text
        # the other rows keep their lines; a namesake with an address of her own is not her
        assert [row.line for row in visit_import_preview(client_import).rows] == [3, 5, 6]
        assert client_import.text.count("Olivia Smith") == 1
    done = visit_import_book(being_booked.pk)
    assert done.booked_lines == [3]
    assert [row["line"] for row in done.left_out] == [5, 6]
    assert "olivia@example.com" not in str(done.left_out)


def test_a_files_rows_taken_out_keep_the_other_rows_lines_whatever_their_line_ends_and_quotes():
    text = 'Name;Notes\r\nAna;"two\r\nlines"\r\nBea;one\r\n\r\nCai;"three\nmore\nlines"\nDee;x'
    before = file_rows(text, ";")
    assert [line for line, _ in before] == [1, 3, 4, 8, 9]
    after = text_without_lines(text, ";", {3, 8})
    assert file_rows(after, ";") == [row for row in before if row[0] not in (3, 8)]
    assert "Ana" not in after and "Cai" not in after and "lines" not in after


# ---------------------------------------------------------------------------------------- pages


def signed_in(member):
    browser = BrowserClient()
    browser.force_login(member.user)
    return browser


def test_a_manager_uploads_says_the_names_and_books_from_the_pages(world, clients):
    manager = signed_in(world.manager)
    assert 'id="visit-import-link"' in manager.get(reverse("client-list")).content.decode()
    assert 'id="visit-import-link"' in manager.get(reverse("client-import-start")).content.decode()
    upload = io.BytesIO(
        csv_bytes(
            [
                HEADER,
                olivia("08/12/2026", "10:00", service="MN facial"),
                [
                    "Priya Patel",
                    "priya@example.com",
                    "",
                    "Microcurrent workout",
                    "Sam Rivera",
                    "08/12/2026",
                    "18:00",
                    "",
                ],
                [
                    "Amara Okafor",
                    "",
                    "07700 900456",
                    "Microcurrent workout",
                    "Sam Rivera",
                    "20/11/2026",
                    "10:00",
                    "",
                ],
            ]
        )
    )
    upload.name = "old-diary.csv"
    read_page = manager.post(reverse("visit-import-start"), {"file": upload})
    client_import = ClientImport.objects.get()
    assert read_page["Location"] == reverse("visit-import", args=[client_import.pk])
    page = manager.get(read_page["Location"]).content.decode()
    assert '<li id="count-book"><strong>1</strong> visit to book' in page
    assert '<li id="count-history"><strong>1</strong> visit had already: kept in the client' in page
    assert '<li id="count-past"><strong>0</strong> over already and not kept' in page
    assert '<li id="count-refused"><strong>1</strong> row that cannot be booked' in page
    assert 'MN facial <span class="muted">(1 row)</span>' in page
    # the clients' import pages do not show a file of visits
    assert manager.get(reverse("client-import", args=[client_import.pk])).status_code == 404
    settings = {f"column-{i}": detail for i, detail in enumerate(client_import.mapping)}
    checked = manager.post(
        reverse("visit-import", args=[client_import.pk]),
        {
            "action": "settings",
            "date_order": "dmy",
            "service-names": "1",
            "service-name-0": "MN facial",
            "service-choice-0": str(world.microneedling.pk),
            "practitioner-names": "0",
            **settings,
        },
        follow=True,
    ).content.decode()
    assert "Checked again with what you chose." in checked
    assert '<li id="count-book"><strong>2</strong> visits to book' in checked
    asked = manager.post(reverse("visit-import", args=[client_import.pk]), {"action": "apply"}, follow=True)
    waiting = asked.content.decode()
    assert "Booking the visits: this page says when they are booked." in waiting
    assert 'id="import-booking"' in waiting and 'id="wait-until-done"' in waiting
    asking = manager.get(reverse("visit-import", args=[client_import.pk]), {"status": "1"})
    assert asking.json() == {"status": "booking"}
    assert "Being booked" in manager.get(reverse("visit-import-start")).content.decode()
    visit_import_book(client_import.pk)  # the worker's task
    said = manager.get(reverse("visit-import", args=[client_import.pk])).content.decode()
    assert "<strong>1 visit booked</strong>" in said and "1 row of the file was not booked." in said
    assert (
        """<p id="history-kept"><strong>1 visit had already</strong> kept in the clients' histories""" in said
    )
    assert 'id="wait-until-done"' not in said
    asking = manager.get(reverse("visit-import", args=[client_import.pk]), {"status": "1"})
    assert asking.json() == {"status": "imported"}
    left_out = manager.get(reverse("client-import-left-out", args=[client_import.pk]))
    assert left_out["Content-Disposition"] == 'attachment; filename="old-diary-not-imported.csv"'
    rows = list(csv.reader(io.StringIO(left_out.content.decode())))
    assert rows[0] == [*HEADER, "Line", "Why not imported"]
    assert [row[-2] for row in rows[1:]] == ["3"]
    listed = manager.get(reverse("visit-import-start")).content.decode()
    assert "1 visit booked, 1 row not" in listed
    history = manager.get(reverse("appointment-detail", args=[Appointment.objects.get().pk])).content.decode()
    assert "from the file of the software used before" in history


def test_only_the_clinics_managers_import_visits(world):
    desk = signed_in(world.desk)
    assert desk.get(reverse("visit-import-start")).status_code == 403
    client_import = read(
        world, [HEADER, ["Olivia Smith", "o@example.com", "", "X", "Y", "08/12/2026", "10:00", ""]]
    )
    other = ClinicFactory(name="Elsewhere")
    stranger = signed_in(StaffMemberFactory(clinic=other, role="manager"))
    assert stranger.get(reverse("visit-import", args=[client_import.pk])).status_code == 404
    assert stranger.get(reverse("client-import-left-out", args=[client_import.pk])).status_code == 404


def test_a_file_put_aside_keeps_nothing(world):
    client_import = read(
        world, [HEADER, ["Olivia Smith", "o@example.com", "", "X", "Y", "08/12/2026", "10:00", ""]]
    )
    client_import_discard(client_import, actor=world.manager)
    client_import.refresh_from_db()
    assert client_import.status == ClientImportStatus.DISCARDED and client_import.text == ""
    with pytest.raises(ClinicError, match="This file was put aside"):
        book(client_import, actor=world.manager)


def test_the_sample_file_books_the_sample_clients_visits(world):
    olivia_smith = world.client(first_name="Olivia", last_name="Smith", email="olivia.smith@example.com")
    world.client(first_name="Amara", last_name="Okafor", email="", phone="+44 7700 900456")
    priya = world.client(first_name="Priya", last_name="Patel", email="priya.patel@example.com")
    manager = signed_in(world.manager)
    sample = manager.get(reverse("visit-import-sample"))
    assert sample["Content-Disposition"] == 'attachment; filename="visits-to-import.csv"'
    rows = list(csv.reader(io.StringIO(sample.content.decode())))
    assert [[cell_read(text) for text in row] for row in rows] == list(
        sample_rows(world.clinic, today=dt.date(2026, 12, 1))
    )
    client_import = read(world, rows)
    counts = visit_import_preview(client_import).counts
    assert counts[BOOK] == 5 and counts[NOT_COMING] == 1 and counts[REFUSED] == 0
    done = book(client_import, actor=world.manager)
    # in this clinic of four services Olivia's two are both microneedling, three weeks apart: the second
    # is refused by the protocol's 28 days (the demo's six services book all five)
    assert done.imported_count == 4
    assert [(row["line"], row["reason"], row["client"]) for row in done.left_out] == [
        (
            5,
            "Olivia Smith has “Microneedling” on Tue 08 Dec 2026 11:00; sessions must be at least 28 days "
            "apart. A manager can override with a reason.",
            olivia_smith.pk,
        ),
        (7, "“Cancelled” in the old software: not booked.", priya.pk),
    ]


def test_a_worker_dying_mid_file_loses_only_its_batch_and_the_next_books_the_rest(
    world, clients, monkeypatch
):
    row = ["", "", "", "Microcurrent workout", "Sam Rivera", "08/12/2026", "", ""]
    client_import = read(
        world,
        [
            HEADER,
            ["Olivia Smith", "olivia@example.com", *row[2:6], "10:00", ""],
            ["Priya Patel", "priya@example.com", *row[2:6], "11:00", ""],
            ["Amara Okafor", "", "07700 900456", *row[3:6], "12:00", ""],
            ["Olivia Smith", "olivia@example.com", *row[2:6], "16:00", ""],  # too soon after 10:00
        ],
    )
    visit_import_queue(client_import, actor=world.manager)
    real_book, calls = visit_imports.appointment_book, []

    def dies_on_the_second(request, **kwargs):
        calls.append(request.start)
        if len(calls) == 2:
            raise SystemExit("the worker was killed")  # as a kill: nothing in the worker catches it
        return real_book(request, **kwargs)

    monkeypatch.setattr(visit_imports, "appointment_book", dies_on_the_second)
    with pytest.raises(SystemExit):
        visit_import_book(client_import.pk, batch=1)
    # the first batch stays booked, and recorded; the second left nothing
    client_import.refresh_from_db()
    assert client_import.status == ClientImportStatus.BOOKING and client_import.booked_lines == [2]
    assert list(Appointment.objects.values_list("client__first_name", flat=True)) == ["Olivia"]
    monkeypatch.setattr(visit_imports, "appointment_book", real_book)
    done = visit_import_book(client_import.pk, batch=1)
    assert sorted(done.booked_lines) == [2, 3, 4] and done.imported_count == 3
    assert [(row["line"], row["reason"]) for row in done.left_out] == [
        (
            5,
            "Olivia Smith has “Microcurrent” on Tue 08 Dec 2026 10:00; sessions must be at least 2 days "
            "apart. A manager can override with a reason.",
        )
    ]
    assert Appointment.objects.count() == 3  # each visit once


def test_a_fault_of_ours_in_one_row_leaves_it_out_to_book_by_hand_and_the_file_goes_on(
    world, clients, monkeypatch, caplog
):
    client_import = read(
        world,
        [
            HEADER,
            olivia("08/12/2026", "10:00"),
            ["Priya Patel", "priya@example.com", "", "Microcurrent workout", "Sam", "08/12/2026", "11:00"]
            + [""],
        ],
    )
    visit_import_queue(client_import, actor=world.manager)
    real_book = visit_imports.appointment_book

    def fails_for_priya(request, **kwargs):
        if request.client.first_name == "Priya":
            raise KeyError("a bug")
        return real_book(request, **kwargs)

    monkeypatch.setattr(visit_imports, "appointment_book", fails_for_priya)
    done = visit_import_book(client_import.pk)
    assert done.status == ClientImportStatus.IMPORTED and done.booked_lines == [2]
    assert [(row["line"], row["reason"]) for row in done.left_out] == [(3, visit_imports.UNEXPECTED_FAULT)]
    assert "line 3 could not be booked" in caplog.text and "KeyError: 'a bug'" in caplog.text
    assert visit_imports_unfinished(now=timezone.now() + dt.timedelta(hours=1)) == []
    # the database gone away is not a row's fault: the batch stops, and the file waits for the next run
    again = read(world, [HEADER, olivia("09/12/2026", "10:00")], name="again.csv")
    visit_import_queue(again, actor=world.manager)

    def database_gone(request, **kwargs):
        raise visit_imports.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(visit_imports, "appointment_book", database_gone)
    with pytest.raises(visit_imports.OperationalError):
        visit_import_book(again.pk)
    again.refresh_from_db()
    assert again.status == ClientImportStatus.BOOKING and again.left_out == [] and again.booked_lines == []


def test_a_file_whose_worker_died_is_handed_to_a_worker_again(world, clients):
    client_import = read(
        world,
        [
            HEADER,
            olivia("08/12/2026", "10:00"),
        ],
    )
    asked = visit_import_queue(client_import, actor=world.manager)
    assert asked.status == ClientImportStatus.BOOKING and asked.text  # the file kept until booked
    assert visit_imports_unfinished() == []  # its worker may still be at it
    later = asked.queued_at + dt.timedelta(minutes=11)
    assert visit_imports_unfinished(now=later) == [client_import.pk]
    assert visit_imports_unfinished(now=later + dt.timedelta(minutes=1)) == []  # asked again, not twice
    assert visit_import_book(client_import.pk).imported_count == 1
    assert visit_imports_unfinished(now=later + dt.timedelta(hours=1)) == []


@pytest.mark.worker
def test_a_real_worker_books_the_file_once_the_manager_asks(celery_stack):
    """Not eager mode: "Book" commits the file as being booked, and a real worker books it."""
    world = build_world()
    world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    day = timezone.localdate(timezone=world.clinic.zone) + dt.timedelta(days=10)
    client_import = read(
        world, [HEADER, olivia(f"{day:%d/%m/%Y}", "10:00"), olivia(f"{day:%d/%m/%Y}", "18:00")]
    )
    # the kick on commit goes to this process's broker: beat, looking every second, hands the file to
    # the stack's worker (and keeps handing it while it is booked: a task run twice books once)
    celery_stack.extra_env = {"VISIT_IMPORT_TICK_SECONDS": "1", "VISIT_IMPORT_STALE_SECONDS": "0"}
    celery_stack.start("worker", "beat")
    visit_import_queue(client_import, actor=world.manager)
    wait_until(
        lambda: ClientImport.objects.get(pk=client_import.pk).status == ClientImportStatus.IMPORTED,
        timeout=90,
        message=f"the worker to book the file; logs:\n{celery_stack.logs()}",
    )
    done = ClientImport.objects.get(pk=client_import.pk)
    assert done.imported_count == 1 and [row["line"] for row in done.left_out] == [3]
    visit = Appointment.objects.get(clinic=world.clinic)
    assert timezone.localtime(visit.start, world.clinic.zone).time() == dt.time(10)
