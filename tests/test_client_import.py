"""A manager imports the clients the clinic had in other software from a CSV file: the columns and the
way dates are written are recognised (or said), each row is checked as the desk checks a client typed
in, someone already a client is not added again, and the import happens once, all or nothing."""

import csv
import dataclasses
import datetime as dt
import io
import threading

import pytest
from django.db import connection, connections
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients import imports
from clients.imports import (
    ALREADY,
    NEW,
    REFUSED,
    TWICE,
    client_import_apply,
    client_import_discard,
    client_import_read,
    client_import_settings,
    date_read,
    guess_mapping,
    import_preview,
)
from clients.models import Client, ClientImport, ClientImportStatus, DateOrder, ImportKind
from clinic.errors import ClinicError
from clinic.models import AccountAction, AccountEvent
from tests.booking_world import build_world
from tests.factories import ClinicFactory, StaffMemberFactory
from treatments.exports import client_rows

TODAY = dt.date(2026, 12, 1)  # the suite's fixed day


@pytest.fixture
def world(db):
    return build_world()


def csv_bytes(rows, *, delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def read(world, rows, **options):
    return client_import_read(
        clinic=world.clinic,
        uploaded_by=world.manager,
        file_name="clients.csv",
        data=csv_bytes(rows, **options),
    )


OTHER_SOFTWARE = [
    [
        "Client ID",
        "First Name",
        "Surname",
        "Email Address",
        "Mobile",
        "Home Phone",
        "DOB",
        "Notes",
        "Marketing Opt In",
    ],
    [
        "101",
        "Jane",
        "Doe",
        "Jane.Doe@Example.com",
        "07700 900001",
        "020 7946 0001",
        "25/03/1985",
        "Likes mornings",
        "Yes",
    ],
    ["102", "Olivia", "Smith", "olivia@example.com", "", "", "", "", "No"],
    ["103", "Nobody", "Reachable", "", "n/a", "", "", "", ""],
    ["104", "Jane", "Doe-Again", "jane.doe@example.com", "", "", "", "", ""],
    ["105", "Priya", "Patel", "priya@example.com", "n/a", "", "03/04/1990", "", "no"],
    ["106", "Bob", "Broken", "bob@", "07700 900006", "", "", "", ""],
    ["107", "Amy", "Typo", "amy@gmial.com", "", "", "", "", "maybe"],
    ["108", "Amy", "Typo", "amy@gmial.com", "", "", "", "", "y"],
    ["", "", "", "", "", "", "", "", ""],
]


def test_a_file_from_other_software_is_read_checked_and_imported_once(world):
    world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    # given a file whose columns are named as another tool names them
    client_import = read(world, OTHER_SOFTWARE)
    # then each column is taken for what its name says; the mobile wins over the home phone
    assert client_import.mapping == [
        "",
        "first_name",
        "last_name",
        "email",
        "phone",
        "",
        "date_of_birth",
        "notes",
        "accepts_marketing_email",
    ]
    # and 25/03/1985 says the file writes the day first
    assert client_import.date_order == DateOrder.DAY_FIRST
    preview = import_preview(client_import)
    assert preview.date_order_why == "25/03/1985 on line 2 can only be read day first."
    outcomes = {row.line: (row.outcome, row.reason) for row in preview.rows}
    assert outcomes == {
        2: (NEW, ""),
        3: (ALREADY, "Already a client: Olivia Smith (the same email)."),
        4: (REFUSED, "Give an email address or a phone number so we can reach the client."),
        5: (TWICE, "The same person as line 2."),
        6: (NEW, ""),
        7: (REFUSED, "Email: Enter a valid email address."),
        8: (REFUSED, "Marketing emails: “maybe” is neither yes nor no."),
        9: (NEW, ""),
    }
    assert preview.counts == {NEW: 3, ALREADY: 1, TWICE: 1, REFUSED: 3}
    assert [row.warning for row in preview.of(NEW)] == [
        "",
        "",
        "Did you mean amy@gmail.com? Imported as written.",
    ]
    # when the manager imports it
    done = client_import_apply(client_import, actor=world.manager)
    # then the three new clients are registered as the desk would have, and marked as imported
    jane = Client.objects.get(last_name="Doe")
    assert (jane.email, jane.phone, jane.date_of_birth, jane.notes) == (
        "jane.doe@example.com",
        "07700 900001",
        dt.date(1985, 3, 25),
        "Likes mornings",
    )
    assert jane.accepts_marketing_email is True and jane.accepts_aftercare_email is True
    priya = Client.objects.get(last_name="Patel")
    assert (priya.phone, priya.date_of_birth, priya.accepts_marketing_email) == (
        "",
        dt.date(1990, 4, 3),
        False,
    )
    assert Client.objects.get(last_name="Typo").accepts_marketing_email is True
    assert set(Client.objects.filter(imported_in=done).values_list("last_name", flat=True)) == {
        "Doe",
        "Patel",
        "Typo",
    }
    assert Client.objects.filter(clinic=world.clinic, last_name="Smith").count() == 1
    # and the rows left out are kept with why, the file itself not
    assert done.status == ClientImportStatus.IMPORTED and done.imported_count == 3 and done.text == ""
    assert [(row["line"], row["reason"]) for row in done.left_out] == [
        (3, "Already a client: Olivia Smith (the same email)."),
        (4, "Give an email address or a phone number so we can reach the client."),
        (5, "The same person as line 2."),
        (7, "Email: Enter a valid email address."),
        (8, "Marketing emails: “maybe” is neither yes nor no."),
    ]
    assert done.left_out[0]["cells"] == OTHER_SOFTWARE[2]
    assert (
        AccountEvent.objects.filter(user=world.manager.user, action=AccountAction.IMPORTED_CLIENTS).count()
        == 1
    )
    # and importing it again adds nobody
    with pytest.raises(ClinicError) as again:
        client_import_apply(client_import, actor=world.manager)
    assert again.value.code == "already_imported"
    assert Client.objects.filter(imported_in=done).count() == 3


def test_the_database_keeps_no_file_once_imported_or_put_aside(world):
    from django.db import IntegrityError, transaction

    client_import = read(world, OTHER_SOFTWARE[:2])
    client_import_discard(client_import, actor=world.manager)
    client_import.refresh_from_db()
    assert (client_import.status, client_import.text) == (ClientImportStatus.DISCARDED, "")
    with pytest.raises(ClinicError) as refused:
        client_import_apply(client_import, actor=world.manager)
    assert refused.value.code == "discarded"
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientImport.objects.filter(pk=client_import.pk).update(text="Jane,Doe")


def test_a_windows_spreadsheet_with_semicolons_and_a_full_name_column(world):
    rows = [
        ["Name", "E-mail", "Telephone", "Birthday"],
        ["Zoë Ångström", "zoe@example.com", "+44 7700 900111", "3 Apr 1985"],
        ["Smith, Olivia", "", "07700 900222", "April 3, 1990"],
        ["Cher", "cher@example.com", "", ""],
    ]
    client_import = read(world, rows, delimiter=";", encoding="cp1252")
    assert client_import.delimiter == ";"
    assert client_import.mapping == ["full_name", "email", "phone", "date_of_birth"]
    preview = import_preview(client_import)
    assert [(r.details.get("first_name"), r.details.get("last_name")) for r in preview.of(NEW)] == [
        ("Zoë", "Ångström"),
        ("Olivia", "Smith"),
    ]
    assert [r.details["date_of_birth"] for r in preview.of(NEW)] == [dt.date(1985, 4, 3), dt.date(1990, 4, 3)]
    assert preview.of(REFUSED)[0].reason == "Full name “Cher”: give both a first and a last name."


def test_a_utf8_file_with_a_byte_order_mark_and_tabs(world):
    data = "\ufeff" + "First name\tLast name\tPhone\nAoife\tNí Bhriain\t087 123 4567\n"
    client_import = client_import_read(
        clinic=world.clinic, uploaded_by=world.manager, file_name="x.tsv", data=data.encode("utf-8")
    )
    assert client_import.columns == ["First name", "Last name", "Phone"]
    assert import_preview(client_import).of(NEW)[0].details["last_name"] == "Ní Bhriain"


@pytest.mark.parametrize(
    ("data", "code", "said"),
    [
        (b"", "empty", "This file has no clients in it"),
        (b"First name,Last name,Email\r\n", "empty", "This file has no clients in it"),
        (
            b"PK\x03\x04\x14\x00\x06\x00rest of a workbook",
            "not_csv",
            "This is a spreadsheet workbook, not a CSV",
        ),
        (b"\x00\x01\x02\x81\x8d\x8f", "not_csv", "This file is not text we can read"),
        (
            b'First name,Last name\r\n"Jane,Doe\r\n',
            "not_csv",
            "The row that starts on line 2 cannot be read as CSV (unexpected end of data)",
        ),
    ],
)
def test_a_file_that_is_not_a_list_of_clients_is_refused_in_words(world, data, code, said):
    with pytest.raises(ClinicError) as refused:
        client_import_read(clinic=world.clinic, uploaded_by=world.manager, file_name="x.csv", data=data)
    assert refused.value.code == code
    assert refused.value.message.startswith(said)
    assert not ClientImport.objects.exists()


def test_too_big_and_too_long_files_are_refused(world, monkeypatch):
    clients_file = imports.FILE_KINDS[ImportKind.CLIENTS]
    monkeypatch.setitem(
        imports.FILE_KINDS, ImportKind.CLIENTS, dataclasses.replace(clients_file, most_rows=3)
    )
    rows = [["First name", "Last name", "Phone"]] + [["A", f"B{i}", f"0770090{i:04d}"] for i in range(4)]
    with pytest.raises(ClinicError) as long_file:
        read(world, rows)
    assert long_file.value.message == (
        "This file has more than 3 clients. Split it into files of 3 rows or fewer (each with the first "
        "line) and import each."
    )
    assert read(world, rows[:4]).pk  # three is fine
    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", 50)
    with pytest.raises(ClinicError) as big:
        read(world, rows)
    assert big.value.code == "too_big"


def test_columns_nobody_recognised_are_said_and_then_chosen(world):
    rows = [["Given", "Family", "Contact"], ["Jane", "Doe", "jane@example.com"]]
    client_import = read(world, rows)
    assert client_import.mapping == ["", "", ""]
    # the page shows what each column holds, to choose by
    page = signed_in(world.manager).get(reverse("client-import", args=[client_import.pk])).content.decode()
    assert '<td class="muted">jane@example.com</td>' in page
    preview = import_preview(client_import)
    assert preview.rows == [] and preview.problems == [
        "Say which columns hold the first and last names (or one column with the full name).",
        "Say which column holds the email or the phone: each client needs one of them.",
    ]
    with pytest.raises(ClinicError) as refused:
        client_import_apply(client_import, actor=world.manager)
    assert refused.value.code == "bad_mapping"
    client_import = client_import_settings(
        client_import, mapping=["first_name", "first_name", "email"], date_order=DateOrder.DAY_FIRST
    )
    assert (
        import_preview(client_import).problems[0]
        == "Two columns are said to hold the first name: choose one."
    )
    client_import = client_import_settings(
        client_import, mapping=["first_name", "last_name", "email"], date_order=DateOrder.DAY_FIRST
    )
    assert import_preview(client_import).counts[NEW] == 1
    with pytest.raises(ClinicError):
        client_import_settings(
            client_import, mapping=["first_name", "last_name", "password"], date_order="dmy"
        )
    with pytest.raises(ClinicError):
        client_import_settings(client_import, mapping=["first_name", "last_name"], date_order="dmy")
    with pytest.raises(ClinicError):
        client_import_settings(client_import, mapping=["first_name", "last_name", "email"], date_order="ymd")


def test_month_first_where_the_file_says_so_or_where_the_clinic_writes_dates_so(world):
    # a file whose 04/25/1985 can only be month first
    rows = [
        ["First name", "Last name", "Phone", "DOB"],
        ["A", "B", "07700900001", "04/25/1985"],
        ["C", "D", "07700900002", "03/04/1990"],
    ]
    client_import = read(world, rows)
    assert client_import.date_order == DateOrder.MONTH_FIRST
    assert [r.details["date_of_birth"] for r in import_preview(client_import).of(NEW)] == [
        dt.date(1985, 4, 25),
        dt.date(1990, 3, 4),
    ]
    # a file where nothing settles it: the clinic's custom, and the page asks to check
    ambiguous = [rows[0], ["C", "D", "07700900002", "03/04/1990"]]
    assert read(world, ambiguous).date_order == DateOrder.DAY_FIRST  # London
    new_york = ClinicFactory(time_zone="America/New_York")
    in_new_york = client_import_read(
        clinic=new_york,
        uploaded_by=StaffMemberFactory(clinic=new_york, role="manager"),
        file_name="x.csv",
        data=csv_bytes(ambiguous),
    )
    assert in_new_york.date_order == DateOrder.MONTH_FIRST
    assert import_preview(in_new_york).date_order_why == (
        "No date in the file says which comes first, the day or the month: check a few below."
    )
    # a file that writes them both ways: the dates that cannot be read the chosen way are refused
    mixed = [rows[0], ["A", "B", "07700900001", "25/03/1985"], ["C", "D", "07700900002", "04/25/1985"]]
    both = read(world, mixed)
    preview = import_preview(both)
    assert preview.date_order_why.startswith(
        "The file writes dates both ways (25/03/1985 on line 2, 04/25/1985"
    )
    assert preview.of(REFUSED)[0].reason == (
        "Date of birth: “04/25/1985” is not a date read as day/month/year. "
        "Check it, or how the file writes dates."
    )


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("1985-04-03", DateOrder.MONTH_FIRST, dt.date(1985, 4, 3)),
        ("1985-04-03 00:00:00", DateOrder.DAY_FIRST, dt.date(1985, 4, 3)),
        ("1985/4/3", DateOrder.DAY_FIRST, dt.date(1985, 4, 3)),
        ("03.04.1985", DateOrder.DAY_FIRST, dt.date(1985, 4, 3)),
        ("4/3/1985 12:00 AM", DateOrder.MONTH_FIRST, dt.date(1985, 4, 3)),
        ("03/04/85", DateOrder.DAY_FIRST, dt.date(1985, 4, 3)),
        ("03/04/26", DateOrder.DAY_FIRST, dt.date(2026, 4, 3)),
        ("03/04/27", DateOrder.DAY_FIRST, dt.date(1927, 4, 3)),
        ("3 April 1985", DateOrder.MONTH_FIRST, dt.date(1985, 4, 3)),
        ("03-Apr-1985", DateOrder.MONTH_FIRST, dt.date(1985, 4, 3)),
        ("Apr 3, 1985", DateOrder.DAY_FIRST, dt.date(1985, 4, 3)),
        ("3 Apr 85", DateOrder.DAY_FIRST, dt.date(1985, 4, 3)),
    ],
)
def test_dates_of_birth_as_exports_write_them(text, order, expected):
    assert date_read(text, order, today=TODAY) == expected


@pytest.mark.parametrize("text", ["31/02/1985", "soon", "1985", "12/13/14/15"])
def test_what_is_not_a_date_is_said(text):
    with pytest.raises(ValueError):
        date_read(text, DateOrder.DAY_FIRST, today=TODAY)


def test_a_date_of_birth_ahead_or_long_ago_is_refused_as_at_the_desk(world):
    rows = [
        ["First name", "Last name", "Phone", "DOB"],
        ["A", "B", "07700900001", "01/01/2030"],
        ["C", "D", "07700900002", "01/01/1880"],
    ]
    reasons = [r.reason for r in import_preview(read(world, rows)).of(REFUSED)]
    assert reasons == [
        "Date of birth: The date of birth cannot be in the future.",
        "Date of birth: A date of birth in 1880 is more than 120 years ago. Check the year.",
    ]


def test_a_value_longer_than_its_column_is_refused_in_words_not_cut(world):
    long_email = "a" * 250 + "@example.com"
    rows = [["First name", "Last name", "Email"], ["Jane", "Doe" * 40, long_email]]
    (refused,) = import_preview(read(world, rows)).of(REFUSED)
    assert refused.reason == (
        "Last name: Ensure this value has at most 100 characters (it has 120). "
        "Email: Ensure this value has at most 254 characters (it has 262)."
    )


def test_a_row_with_more_cells_than_columns_is_refused_not_cut(world):
    rows = [["First name", "Last name", "Email"], ["Jane", "Doe", "jane@example.com", "Smith"]]
    assert (
        import_preview(read(world, rows))
        .of(REFUSED)[0]
        .reason.startswith("This line has more cells than the first line names columns")
    )


def test_a_placeholder_many_share_does_not_make_them_one_person(world):
    rows = [["First name", "Last name", "Email", "Phone"]] + [
        ["Client", f"Number{i}", "none@none.com", f"07700 9{i:05d}"] for i in range(14)
    ]
    assert import_preview(read(world, rows)).counts[NEW] == 14


def test_the_same_phone_written_two_ways_is_one_person(world):
    world.client(first_name="Olivia", last_name="Smith", email="", phone="07700 900123")
    rows = [["First name", "Last name", "Phone"], ["Liv", "Smith", "+44 7700 900123"]]
    assert (
        import_preview(read(world, rows)).of(ALREADY)[0].reason
        == "Already a client: Olivia Smith (the same phone)."
    )


def test_the_clinics_own_export_is_imported_by_another_clinic_as_it_was(world):
    world.client(
        first_name="=Olivia",
        last_name="Smith",
        email="olivia@example.com",
        phone="+44 7700 900123",
        date_of_birth=dt.date(1985, 4, 3),
        emergency_contact_name="Sam Smith",
        emergency_contact_phone="+44 7700 900999",
        gp_details="Dr Khan, Mill Lane Surgery",
        notes="Prefers afternoons",
        accepts_marketing_email=True,
        accepts_aftercare_email=False,
    )
    exported = csv_bytes(list(client_rows(world.clinic)))
    other = ClinicFactory(time_zone="America/New_York")
    client_import = client_import_read(
        clinic=other,
        uploaded_by=StaffMemberFactory(clinic=other, role="manager"),
        file_name="x.csv",
        data=exported,
    )
    assert client_import.mapping == [
        "",
        "first_name",
        "last_name",
        "email",
        "phone",
        "date_of_birth",
        "emergency_contact_name",
        "emergency_contact_phone",
        "gp_details",
        "notes",
        "accepts_aftercare_email",
        "accepts_marketing_email",
        "",
        "",
    ]
    (row,) = import_preview(client_import).of(NEW)
    assert row.details == {
        "first_name": "=Olivia",
        "last_name": "Smith",
        "email": "olivia@example.com",
        "phone": "+44 7700 900123",
        "date_of_birth": dt.date(1985, 4, 3),
        "emergency_contact_name": "Sam Smith",
        "emergency_contact_phone": "+44 7700 900999",
        "gp_details": "Dr Khan, Mill Lane Surgery",
        "notes": "Prefers afternoons",
        "accepts_marketing_email": True,
        "accepts_aftercare_email": False,
    }


def test_reading_the_file_against_the_clinics_clients_takes_the_same_queries_for_few_and_many(world):
    def queries(clients: int, rows: int) -> int:
        for i in range(clients):
            world.client(first_name="Existing", last_name=f"C{i}", email=f"c{i}-{clients}@example.com")
        file_rows = [["First name", "Last name", "Email"]] + [
            ["New", f"N{i}", f"n{i}-{rows}@example.com"] for i in range(rows)
        ]
        client_import = read(world, file_rows)
        client_import = ClientImport.objects.select_related("clinic").get(pk=client_import.pk)
        with CaptureQueriesContext(connection) as captured:
            assert import_preview(client_import).counts[NEW] == rows
        return len(captured)

    assert queries(2, 5) == queries(200, 500) == 1


def test_guessing_takes_client_and_customer_prefixes_and_one_column_a_detail():
    assert guess_mapping(
        ["Customer First Name", "Customer Last Name", "Client Email", "Cell Phone", "Phone"]
    ) == ["first_name", "last_name", "email", "phone", ""]
    assert guess_mapping(["Date of Birth", "Patient Notes", "Newsletter", "Next of kin"]) == [
        "date_of_birth",
        "notes",
        "accepts_marketing_email",
        "emergency_contact_name",
    ]


# ---------------------------------------------------------------------------------------- pages


def signed_in(member):
    browser = BrowserClient()
    browser.force_login(member.user)
    return browser


def test_a_manager_uploads_checks_and_imports_from_the_pages(world):
    world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    manager = signed_in(world.manager)
    assert 'id="import-link"' in manager.get(reverse("client-list")).content.decode()
    upload = io.BytesIO(csv_bytes(OTHER_SOFTWARE))
    upload.name = "from-old-system.csv"
    read_page = manager.post(reverse("client-import-start"), {"file": upload})
    client_import = ClientImport.objects.get()
    assert read_page.status_code == 302 and read_page["Location"] == reverse(
        "client-import", args=[client_import.pk]
    )
    page = manager.get(read_page["Location"]).content.decode()
    assert '<li id="count-new"><strong>3</strong> new clients registered</li>' in page
    assert '<li id="count-refused"><strong>3</strong> rows refused' in page
    assert '<li id="count-already"><strong>1</strong> already a client here: not added again</li>' in page
    # each row as it reads, its empty cells left out
    assert "<td>103 · Nobody · Reachable · n/a</td>" in page
    assert "Did you mean amy@gmail.com? Imported as written." in page
    assert "25/03/1985 on line 2 can only be read day first." in page
    assert '<option value="phone" selected>Phone</option>' in page
    # when the manager says the home phone is not imported either way and the date order stays, then imports
    settings = {f"column-{i}": detail for i, detail in enumerate(client_import.mapping)}
    checked = manager.post(
        reverse("client-import", args=[client_import.pk]),
        {"action": "settings", "date_order": "dmy", **settings},
        follow=True,
    )
    assert "Checked again with what you chose." in checked.content.decode()
    imported = manager.post(
        reverse("client-import", args=[client_import.pk]), {"action": "apply"}, follow=True
    )
    said = imported.content.decode()
    assert "3 clients imported. 5 rows were not: they are listed below, to fix and import again." in said
    assert 'id="left-out-csv"' in said
    assert "<td>102 · Olivia · Smith · olivia@example.com · No</td>" in said
    # and the rows left out download as the file's own columns, with the line and why
    left_out = manager.get(reverse("client-import-left-out", args=[client_import.pk]))
    assert left_out["Content-Disposition"] == 'attachment; filename="from-old-system-not-imported.csv"'
    rows = list(csv.reader(io.StringIO(left_out.content.decode())))
    assert rows[0] == [*OTHER_SOFTWARE[0], "Line", "Why not imported"]
    assert rows[1] == [*OTHER_SOFTWARE[2], "3", "Already a client: Olivia Smith (the same email)."]
    assert len(rows) == 6
    # and a second click imports nobody
    again = manager.post(reverse("client-import", args=[client_import.pk]), {"action": "apply"}, follow=True)
    assert "This file was imported already (3 clients): nothing was imported again." in again.content.decode()
    assert Client.objects.filter(clinic=world.clinic).count() == 4
    listed = manager.get(reverse("client-import-start")).content.decode()
    assert "3 clients imported, 5 rows not" in listed


def test_a_bad_upload_is_said_on_the_page(world):
    manager = signed_in(world.manager)
    nothing = manager.post(reverse("client-import-start"), {})
    assert nothing.status_code == 400 and "Choose the CSV file to import." in nothing.content.decode()
    workbook = io.BytesIO(b"PK\x03\x04 a workbook")
    workbook.name = "clients.xlsx"
    refused = manager.post(reverse("client-import-start"), {"file": workbook})
    assert refused.status_code == 400
    assert "This is a spreadsheet workbook, not a CSV file." in refused.content.decode()


def test_only_managers_import_and_only_their_clinics_files(world):
    client_import = read(world, OTHER_SOFTWARE)
    desk = signed_in(world.desk)
    for url in (
        reverse("client-import-start"),
        reverse("client-import", args=[client_import.pk]),
        reverse("client-import-left-out", args=[client_import.pk]),
    ):
        assert desk.get(url).status_code == 403
    assert 'id="import-link"' not in desk.get(reverse("client-list")).content.decode()
    other = ClinicFactory()
    stranger = signed_in(StaffMemberFactory(clinic=other, role="manager"))
    assert stranger.get(reverse("client-import", args=[client_import.pk])).status_code == 404
    assert (
        stranger.post(reverse("client-import", args=[client_import.pk]), {"action": "apply"}).status_code
        == 404
    )
    manager = signed_in(world.manager)
    assert (
        manager.get(reverse("client-import-left-out", args=[client_import.pk])).status_code == 404
    )  # not yet
    assert manager.post(reverse("client-import", args=[client_import.pk]), {"action": "x"}).status_code == 404
    assert not Client.objects.filter(imported_in=client_import).exists()


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_register_its_clients_once():
    world = build_world()
    rows = [["First name", "Last name", "Email"]] + [["New", f"N{i}", f"n{i}@example.com"] for i in range(50)]
    client_import = read(world, rows)
    outcomes = []
    start = threading.Barrier(2)

    def apply():
        try:
            start.wait()
            client_import_apply(ClientImport.objects.get(pk=client_import.pk), actor=world.manager)
            outcomes.append("imported")
        except ClinicError as refusal:
            outcomes.append(refusal.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=apply) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_imported", "imported"]
    assert Client.objects.filter(imported_in=client_import).count() == 50


def test_what_an_import_keeps_of_people_is_forgotten_when_no_longer_of_use(world):
    from django.utils import timezone

    from clients.imports import imports_forget_old
    from clients.tasks import forget_old_client_imports_task

    world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    now = timezone.now()
    forgotten_file = read(world, OTHER_SOFTWARE)
    fresh_file = read(world, OTHER_SOFTWARE)
    ClientImport.objects.filter(pk=forgotten_file.pk).update(uploaded_at=now - dt.timedelta(days=8))
    imported = client_import_apply(read(world, OTHER_SOFTWARE), actor=world.manager)
    assert imported.left_out_count == 5 == len(imported.left_out)
    # a week on, a file nobody imported is put aside, its text gone; 90 days on, the rows left out go
    ClientImport.objects.filter(pk=imported.pk).update(done_at=now - dt.timedelta(days=91))
    assert forget_old_client_imports_task() == (1, 1)
    assert imports_forget_old(now=now) == (0, 0)  # once
    forgotten_file.refresh_from_db()
    assert (forgotten_file.status, forgotten_file.text, forgotten_file.done_by) == (
        ClientImportStatus.DISCARDED,
        "",
        None,
    )
    fresh_file.refresh_from_db()
    assert fresh_file.status == ClientImportStatus.READ and fresh_file.text
    imported.refresh_from_db()
    assert imported.left_out == [] and imported.left_out_count == 5
    # and the pages say so
    manager = signed_in(world.manager)
    page = manager.get(reverse("client-import", args=[imported.pk])).content.decode()
    assert "5 rows of the file were not imported." in page
    assert '<span id="left-out-forgotten">They were forgotten 90 days after the import.</span>' in page
    assert manager.get(reverse("client-import-left-out", args=[imported.pk])).status_code == 404
    listed = manager.get(reverse("client-import-start")).content.decode()
    assert "3 clients imported, 5 rows not" in listed


def test_erasing_a_client_takes_their_rows_out_of_what_imports_left_out(world):
    from clients.erasure import client_erase

    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    done = client_import_apply(read(world, OTHER_SOFTWARE), actor=world.manager)
    jane = Client.objects.get(last_name="Doe")
    # line 3 was Olivia, already a client; line 5 the same person as line 2, imported as Jane
    assert {row["line"]: row["client"] for row in done.left_out} == {
        3: olivia.pk,
        4: None,
        5: jane.pk,
        7: None,
        8: None,
    }
    client_erase(client=olivia, by=world.manager)
    done.refresh_from_db()
    assert [row["line"] for row in done.left_out] == [4, 5, 7, 8]
    assert "olivia@example.com" not in str(done.left_out)
    client_erase(client=jane, by=world.manager)
    done.refresh_from_db()
    assert [row["line"] for row in done.left_out] == [4, 7, 8]
    assert done.left_out_count == 5  # how many were left out is no one's detail


def test_erasing_a_client_takes_the_rows_naming_them_out_of_a_file_not_imported_yet(world):
    """A file read before the erasure, imported after it, must not register the erased client again."""
    from clients.erasure import client_erase

    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    waiting = read(world, OTHER_SOFTWARE)
    assert import_preview(waiting).of(ALREADY)[0].line == 3
    client_erase(client=olivia, by=world.manager)
    waiting.refresh_from_db()
    assert "olivia@example.com" not in waiting.text and "Olivia" not in waiting.text
    # the other rows keep their lines
    assert [row.line for row in import_preview(waiting).rows] == [2, 4, 5, 6, 7, 8, 9]
    client_import_apply(waiting, actor=world.manager)
    assert not Client.objects.filter(email="olivia@example.com").exists()
    assert Client.objects.filter(first_name="Olivia").count() == 0


def test_the_sample_file_the_page_offers_imports_as_it_is(world):
    from django.conf import settings

    manager = signed_in(world.manager)
    assert 'id="sample-file"' in manager.get(reverse("client-import-start")).content.decode()
    sample = (settings.BASE_DIR / "static" / "samples" / "clients-to-import.csv").read_bytes()
    client_import = client_import_read(
        clinic=world.clinic, uploaded_by=world.manager, file_name="sample.csv", data=sample
    )
    assert "" not in client_import.mapping  # every column read
    preview = import_preview(client_import)
    assert preview.counts == {NEW: 3, ALREADY: 0, TWICE: 0, REFUSED: 0}
    assert preview.of(NEW)[0].details["gp_details"] == "Dr Khan, Mill Lane Surgery"
