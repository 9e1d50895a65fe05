"""Clients brought over from the software a clinic used before, as a CSV file.

A clinic leaving another booking tool takes its clients with it as a spreadsheet. A manager uploads it
(`client_import_read`), sees what each column was taken to hold and what each row will become
(`import_preview`: a new client, already a client, the same person twice in the file, or refused and
why), may say otherwise what a column holds or how its dates are written (`client_import_settings`),
then imports it, once (`client_import_apply`), or puts it aside (`client_import_discard`).

- The file's first line names its columns. Common names are recognised (First name, Surname, Mobile,
  DOB, Email address, …, and the clinic's own clients export); a column nobody recognised is left out
  unless the manager says what it holds.
- UTF-8 (with or without a spreadsheet's byte-order mark) or Windows-1252; commas, semicolons or tabs.
  A workbook (.xlsx) is refused with how to save it as CSV.
- Each row is checked as a client typed in at the desk is: first and last name, an email or a phone,
  a date of birth neither ahead nor longer ago than anyone lives. A date like 03/04/1985 is read in the
  order the file shows (a day above 12 settles it) or, if none does, the clinic's custom.
- A row whose email, phone (however written), or name and date of birth a client of the clinic has is
  not imported again: the preview names the client. The same person twice in the file: the first row
  is imported. A detail more than `LARGEST_SHARED_GROUP` records share is a placeholder
  ("none@none.com"), not a person, as on the duplicates page.
- Importing is one transaction under the import's row lock: every new client or none, and once.
- What an import keeps of people goes when it is no use: a file left unimported for a week is put
  aside (its text deleted); the rows left out are forgotten 90 days after the import.
- Reading the clinic's clients for the comparison is one query, whatever the file's size.
"""

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clients.addresses import likely_typo
from clients.merging import LARGEST_SHARED_GROUP, identity_keys
from clients.models import (
    FILE_KEPT,
    NO_WAY_TO_REACH,
    Client,
    ClientImport,
    ClientImportStatus,
    DateOrder,
    ImportKind,
    validate_date_of_birth,
    validate_phone_number,
    validate_printable,
)
from clinic.account_events import account_event_record
from clinic.errors import ClinicError
from clinic.models import AccountAction, Clinic, StaffMember
from clinic.spreadsheets import cell_read

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
NOTES_LONGEST = 5000
# what an import keeps of people, and for how long (`imports_forget_old`, every few hours)
KEEP_UNIMPORTED_DAYS = 7
KEEP_LEFT_OUT_DAYS = 90

# What a column can hold, as the preview's choices say it.
IMPORT_FIELDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (first and last together)",
    "email": "Email",
    "phone": "Phone",
    "date_of_birth": "Date of birth",
    "emergency_contact_name": "Emergency contact",
    "emergency_contact_phone": "Emergency contact phone",
    "gp_details": "GP",
    "notes": "Notes",
    "accepts_marketing_email": "Marketing emails (yes or no)",
    "accepts_aftercare_email": "Aftercare emails (yes or no)",
}

# Column names as other software writes them, lower case, letters and digits only; for a detail two
# columns may hold (a mobile and a home phone), the earlier name in its list wins.
COLUMN_NAMES = {
    "first_name": ["firstname", "forename", "forenames", "givenname", "first", "fname", "firstnames"],
    "last_name": ["lastname", "surname", "familyname", "last", "lname"],
    "full_name": ["fullname", "name", "clientname", "customername", "patientname"],
    "email": ["email", "emailaddress", "mail", "emailid"],
    "phone": [
        "mobile",
        "mobilephone",
        "mobilenumber",
        "mobileno",
        "cell",
        "cellphone",
        "cellnumber",
        "phone",
        "phonenumber",
        "phoneno",
        "primaryphone",
        "telephone",
        "tel",
        "contactnumber",
        "homephone",
        "landline",
        "workphone",
    ],
    "date_of_birth": ["dateofbirth", "dob", "birthday", "birthdate", "born"],
    "emergency_contact_name": ["emergencycontact", "emergencycontactname", "nextofkin", "nextofkinname"],
    "emergency_contact_phone": [
        "emergencycontactphone",
        "emergencycontactnumber",
        "emergencyphone",
        "nextofkinphone",
    ],
    "gp_details": ["gp", "gpdetails", "gpname", "familydoctor", "doctor"],
    "notes": ["notes", "note", "comments", "comment", "clientnotes", "alerts"],
    "accepts_marketing_email": [
        "marketingemails",
        "marketing",
        "emailmarketing",
        "acceptsmarketing",
        "acceptsmarketingemails",
        "marketingconsent",
        "marketingoptin",
        "newsletter",
    ],
    "accepts_aftercare_email": ["aftercareemails", "aftercare"],
}
NAME_PREFIXES = ("client", "customer", "patient", "contact")
_FIELD_OF_NAME = {
    name: (detail, rank) for detail, names in COLUMN_NAMES.items() for rank, name in enumerate(names)
}

YES = {"yes", "y", "true", "1", "x", "opted in", "optedin", "subscribed", "on"}
NO = {"", "no", "n", "false", "0", "opted out", "optedout", "unsubscribed", "off"}
# What old software writes for "no phone": taken as none, not refused as a number
NO_PHONE = {"", "-", "--", "n/a", "na", "none", "nil", "unknown", "0", "tbc", "."}

NEW, ALREADY, TWICE, REFUSED = "new", "already", "twice", "refused"


def name_key(name: str) -> str:
    """A name as two spellings of it compare: letters and digits only, any case ("Date of birth",
    "DOB"-style columns; "MN facial" and "mn-facial")."""
    return re.sub(r"[^a-z0-9]", "", name.casefold())


def column_detail(name: str) -> tuple[str, int] | None:
    """The client's detail a column of this name holds, and how sure (lower is surer), or None."""
    key = name_key(name)
    if key in _FIELD_OF_NAME:
        return _FIELD_OF_NAME[key]
    for prefix in NAME_PREFIXES:
        if key.startswith(prefix) and key[len(prefix) :] in _FIELD_OF_NAME:
            return _FIELD_OF_NAME[key[len(prefix) :]]
    return None


def guess_mapping(columns: list[str], *, detail_of=column_detail) -> list[str]:
    """For each column, the detail it holds by its name ("" for none); a detail goes to one column,
    the surest (`detail_of` says which detail a name holds, and how sure)."""
    best: dict[str, tuple[int, int]] = {}
    for index, name in enumerate(columns):
        found = detail_of(name)
        if found and (found[0] not in best or found[1] < best[found[0]][0]):
            best[found[0]] = (found[1], index)
    mapping = [""] * len(columns)
    for detail, (_rank, index) in best.items():
        mapping[index] = detail
    return mapping


def columns_twice(mapping: list[str], fields: dict[str, str]) -> list[str]:
    """A detail two columns are said to hold, in words, each once, in the order of `fields`."""
    chosen = [detail for detail in mapping if detail]
    return [
        f"Two columns are said to hold the {fields[detail].lower()}: choose one."
        for detail in sorted({d for d in chosen if chosen.count(d) > 1}, key=list(fields).index)
    ]


def mapping_problems(mapping: list[str]) -> list[str]:
    """What stops any row being imported with this mapping, in words; none when it will do."""
    problems = columns_twice(mapping, IMPORT_FIELDS)
    chosen = [detail for detail in mapping if detail]
    names = {"first_name", "last_name"} <= set(chosen) or "full_name" in chosen
    if not names:
        problems.append("Say which columns hold the first and last names (or one column with the full name).")
    if not {"email", "phone"} & set(chosen):
        problems.append("Say which column holds the email or the phone: each client needs one of them.")
    return problems


# ---------------------------------------------------------------------------------------- reading


def file_text(data: bytes) -> str:
    """An uploaded file's text; a workbook or a file that is not text refused, saying how to save it."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ClinicError(
            "This is a spreadsheet workbook, not a CSV file. Open it in your spreadsheet program, "
            "save it as “CSV UTF-8 (comma delimited)”, and upload that file.",
            code="not_csv",
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise ClinicError(
        "This file is not text we can read. Save it from your spreadsheet program as "
        "“CSV UTF-8 (comma delimited)” and upload that.",
        code="not_csv",
    )


def file_delimiter(text: str) -> str:
    """Commas, semicolons or tabs: what the first line holds most of (a comma when it holds none)."""
    first_line = text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    chosen = max(counts, key=lambda d: (counts[d], d == ","))
    return chosen if counts[chosen] else ","


def file_rows(
    text: str, delimiter: str, *, first: int | None = None, most: int = MAX_IMPORT_ROWS, what: str = "clients"
) -> list[tuple[int, list[str]]]:
    """The file's rows with their line numbers, blank rows left out; only the `first` so many if given.
    A file of more than `most` rows (of `what`) is refused, saying how to split it."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    last_line = 0
    try:
        for cells in reader:
            last_line = reader.line_num
            if any(c.strip() for c in cells):
                rows.append((reader.line_num, cells))
                if len(rows) == first:
                    break
                if len(rows) > most + 1:
                    raise ClinicError(
                        f"This file has more than {most:,} {what}. Split it into files of "
                        f"{most:,} rows or fewer (each with the first line) and import each.",
                        code="too_many_rows",
                    )
    except csv.Error as error:
        raise ClinicError(
            f"The row that starts on line {last_line + 1} cannot be read as CSV ({error}): a quote mark "
            "never closed? Check it in your spreadsheet program and save the file as CSV again.",
            code="not_csv",
        ) from error
    return rows


def refuse_if_too_big(size: int) -> None:
    """Refuse a file over `MAX_IMPORT_BYTES`, saying how big it is (checked before it is read)."""
    if size > MAX_IMPORT_BYTES:
        raise ClinicError(
            f"This file is {size / 1024 / 1024:.1f} MB: at most {MAX_IMPORT_BYTES // 1024 // 1024} MB "
            "can be imported at once. Split it into smaller files.",
            code="too_big",
        )


def client_import_read(
    *, clinic: Clinic, uploaded_by: StaffMember, file_name: str, data: bytes
) -> ClientImport:
    """Read an uploaded file of clients, guess what each column holds and how dates are written, and
    keep it to preview. Refuses, in words, a file that is empty, too big, not CSV, or has no names to
    read."""
    return import_file_read(
        clinic=clinic, uploaded_by=uploaded_by, file_name=file_name, data=data, kind=ImportKind.CLIENTS
    )


@dataclass(frozen=True)
class ImportFileKind:
    """How a kind of file is read: what a row is, how many a file holds at most, what its columns
    hold by their names, and which column's dates say how the file writes them."""

    rows_are: str
    most_rows: int
    guess: Callable[[list[str]], list[str]]
    date_details: tuple[str, ...]


FILE_KINDS: dict[str, ImportFileKind] = {}


@transaction.atomic
def import_file_read(
    *, clinic: Clinic, uploaded_by: StaffMember, file_name: str, data: bytes, kind: str
) -> ClientImport:
    """Read an uploaded file of a kind (`FILE_KINDS`) and keep it to preview, its columns guessed."""
    how = FILE_KINDS[kind]
    refuse_if_too_big(len(data))
    text = file_text(data)
    delimiter = file_delimiter(text)
    rows = file_rows(text, delimiter, most=how.most_rows, what=how.rows_are)
    if len(rows) < 2:
        one = how.rows_are.removesuffix("s")
        raise ClinicError(
            f"This file has no {how.rows_are} in it: it needs a first line naming the columns, then a line "
            f"for each {one}.",
            code="empty",
        )
    columns = [name.strip() for name in rows[0][1]]
    mapping = how.guess(columns)
    client_import = ClientImport(
        clinic=clinic,
        kind=kind,
        uploaded_by=uploaded_by,
        file_name=(file_name or f"{how.rows_are}.csv")[:200],
        text=text,
        delimiter=delimiter,
        columns=columns,
        mapping=mapping,
        date_order=date_order_of(
            rows[1:], mapping, default=_clinic_date_order(clinic), date_details=how.date_details
        )[0],
    )
    client_import.save()
    return client_import


def _clinic_date_order(clinic: Clinic) -> str:
    """Month first where the clinic's zone is in the Americas' month-first countries, else day first."""
    return DateOrder.MONTH_FIRST if clinic.time_zone.startswith("America/") else DateOrder.DAY_FIRST


# ---------------------------------------------------------------------------------------- dates

_NUMERIC_DATE = re.compile(
    r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm])?)?$"
)
_WORDED_FORMATS = (
    "%d %B %Y",
    "%d %b %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d-%b-%Y",
    "%d-%B-%Y",
    "%d %b %y",
    "%d-%b-%y",
)


def _full_year(year: str, today: dt.date, *, birth: bool) -> int:
    """A year as written: two digits are this century's, for a birth year only if not ahead."""
    number = int(year)
    if len(year) > 2:
        return number
    return 2000 + number if 2000 + number <= today.year or not birth else 1900 + number


def date_read(text: str, order: str, *, today: dt.date, birth: bool = True) -> dt.date:
    """A date as written in an export: 1985-04-03, 03/04/1985 (in `order`), 3 Apr 1985, …; a year of
    two digits is a `birth` year (85 is 1985) or not (27 is 2027).

    Raises ValueError with what to check, in words.
    """
    text = " ".join(text.replace(",", " ").split())
    if match := _NUMERIC_DATE.match(text):
        first, second, third = match.groups()
        if len(first) == 4:  # year first, as ISO writes it
            year, month, day = int(first), int(second), int(third)
        elif len(third) in (2, 4) and len(first) <= 2:
            year = _full_year(third, today, birth=birth)
            day, month = (
                (int(first), int(second)) if order == DateOrder.DAY_FIRST else (int(second), int(first))
            )
        else:
            raise ValueError(f"“{text}” is not a date we can read: write it as 1985-04-03.")
        try:
            return dt.date(year, month, day)
        except ValueError:
            said = "day/month/year" if order == DateOrder.DAY_FIRST else "month/day/year"
            raise ValueError(
                f"“{text}” is not a date read as {said}. Check it, or how the file writes dates."
            ) from None
    for pattern in _WORDED_FORMATS:
        try:
            read = dt.datetime.strptime(text, pattern).date()  # noqa: DTZ007 (a date: no time, no zone)
        except ValueError:
            continue
        if pattern.endswith("%y"):
            read = read.replace(year=_full_year(f"{read.year % 100:02d}", today, birth=birth))
        return read
    raise ValueError(f"“{text}” is not a date we can read: write it as 1985-04-03.")


def date_order_of(
    rows, mapping: list[str], *, default: str, date_details: tuple[str, ...] = ("date_of_birth",)
) -> tuple[str, str]:
    """How the file writes dates, and why we think so: a day above 12 first (25/03/1985) says day
    first; in second place, month first. With neither, or both, the clinic's custom (`default`). The
    dates looked at are the first column of `date_details` the file has."""
    column = next((mapping.index(detail) for detail in date_details if detail in mapping), None)
    if column is None:
        return default, ""
    day_first = month_first = None
    for number, cells in rows:
        text = cells[column].strip() if column < len(cells) else ""
        match = _NUMERIC_DATE.match(text)
        if not match or len(match.group(1)) == 4:
            continue
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12 and second <= 12 and day_first is None:
            day_first = (number, text)
        if second > 12 and first <= 12 and month_first is None:
            month_first = (number, text)
        if day_first and month_first:
            break
    if day_first and not month_first:
        return DateOrder.DAY_FIRST, f"{day_first[1]} on line {day_first[0]} can only be read day first."
    if month_first and not day_first:
        return (
            DateOrder.MONTH_FIRST,
            f"{month_first[1]} on line {month_first[0]} can only be read month first.",
        )
    if day_first and month_first:
        return default, (
            f"The file writes dates both ways ({day_first[1]} on line {day_first[0]}, {month_first[1]} on "
            f"line {month_first[0]}): the dates that cannot be read one way are refused."
        )
    return default, "No date in the file says which comes first, the day or the month: check a few below."


# ---------------------------------------------------------------------------------------- rows


class ImportedClientForm(forms.Form):
    """One row's details, checked as the desk's new-client form checks a client typed in (its fields'
    rules; `_row_details` runs each field's clean itself, and asks for an email or a phone)."""

    first_name = forms.CharField(max_length=100, validators=[validate_printable])
    last_name = forms.CharField(max_length=100, validators=[validate_printable])
    email = forms.EmailField(required=False, max_length=254)  # as the column holds
    phone = forms.CharField(
        max_length=40, required=False, validators=[validate_printable, validate_phone_number]
    )
    date_of_birth = forms.DateField(required=False, validators=[validate_date_of_birth])
    emergency_contact_name = forms.CharField(max_length=200, required=False, validators=[validate_printable])
    emergency_contact_phone = forms.CharField(
        max_length=40, required=False, validators=[validate_printable, validate_phone_number]
    )
    gp_details = forms.CharField(max_length=200, required=False, validators=[validate_printable])
    notes = forms.CharField(max_length=NOTES_LONGEST, required=False)
    accepts_marketing_email = forms.BooleanField(required=False)
    accepts_aftercare_email = forms.BooleanField(required=False)


_ROW_FIELDS = ImportedClientForm.base_fields


def first_and_last(first: str, last: str, full: str) -> tuple[str, str]:
    """A row's first and last name: as given, or, neither given, read from its full name."""
    return split_full_name(full) if not first and not last and full else (first, last)


def split_full_name(full: str) -> tuple[str, str]:
    """ "Smith, Olivia" and "Olivia Smith" alike; the last word is the last name."""
    if "," in full:
        last, _, first = full.partition(",")
        return first.strip(), last.strip()
    first, _, last = full.strip().rpartition(" ")
    return first.strip(), last.strip()


def _yes_no(text: str) -> bool:
    said = text.strip().casefold()
    if said in YES:
        return True
    if said in NO:
        return False
    raise ValueError(f"“{text}” is neither yes nor no.")


def row_cells(cells: list[str], mapping: list[str]) -> dict[str, str]:
    """A row's cells by the detail the manager said each column holds (the columns said to hold
    nothing left out), each as a person typed it (`cell_read`)."""
    return {
        detail: cell_read(cells[i].strip()) for i, detail in enumerate(mapping) if detail and i < len(cells)
    }


def _row_details(cells: list[str], mapping: list[str], order: str, today: dt.date) -> tuple[dict, str]:
    """A row's client details, checked; or what is wrong with it, in words ("" when nothing is)."""
    if len(cells) > len(mapping) and any(c.strip() for c in cells[len(mapping) :]):
        return {}, (
            "This line has more cells than the first line names columns: a comma in a value without "
            "quotes around it?"
        )
    raw = row_cells(cells, mapping)
    data = {name: raw.get(name, "") for name in ImportedClientForm.base_fields}
    problems = []
    data["first_name"], data["last_name"] = first_and_last(
        data["first_name"], data["last_name"], raw.get("full_name", "")
    )
    for phone in ("phone", "emergency_contact_phone"):
        if data[phone].casefold() in NO_PHONE:
            data[phone] = ""
    data["email"] = data["email"].lower()
    if data["date_of_birth"]:
        try:
            data["date_of_birth"] = date_read(data["date_of_birth"], order, today=today)
        except ValueError as error:
            problems.append(f"Date of birth: {error}")
            data["date_of_birth"] = None
    else:
        data["date_of_birth"] = None
    for flag in ("accepts_marketing_email", "accepts_aftercare_email"):
        if flag not in raw:
            data[flag] = flag == "accepts_aftercare_email"  # as for a client typed in at the desk
            continue
        try:
            data[flag] = _yes_no(raw[flag])
        except ValueError as error:
            problems.append(f"{IMPORT_FIELDS[flag].split(' (')[0]}: {error}")
    # each field's own clean, as the form would run it, without a form (and its copies) per row
    cleaned = {}
    for name, form_field in _ROW_FIELDS.items():
        try:
            cleaned[name] = form_field.clean(data[name])
        except ValidationError as error:
            cleaned[name] = None
            label, messages = f"{IMPORT_FIELDS[name]}: ", error.messages
            if name == "first_name" and "full_name" in raw and not data["first_name"]:
                label, messages = f"Full name “{raw['full_name']}”: ", ["give both a first and a last name."]
            problems.extend(f"{label}{message}" for message in messages)
    if not data["email"] and not data["phone"]:
        problems.append(NO_WAY_TO_REACH)
    if problems:
        return {}, " ".join(dict.fromkeys(problems))
    return cleaned, ""


def row_said(cells: list[str]) -> str:
    """A row's cells that hold something, as a person reads them: "Jane · Doe · jane@example.com"."""
    return " · ".join(text.strip() for text in cells if text.strip())


@dataclass
class ImportRow:
    """One line of the file and what importing it does."""

    line: int
    cells: list[str]
    outcome: str
    reason: str = ""
    details: dict = field(default_factory=dict)
    warning: str = ""
    client_id: int | None = None  # the client it already is
    same_as_line: int | None = None  # the earlier line of the same person

    @property
    def said(self) -> str:
        return row_said(self.cells)


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    problems: list[str]  # what stops the import as a whole (the columns chosen)
    date_order_why: str

    def of(self, outcome: str) -> list[ImportRow]:
        return [row for row in self.rows if row.outcome == outcome]

    @property
    def counts(self) -> dict[str, int]:
        counted = defaultdict(int)
        for row in self.rows:
            counted[row.outcome] += 1
        return {outcome: counted[outcome] for outcome in (NEW, ALREADY, TWICE, REFUSED)}


def _keys(details: dict) -> list[tuple]:
    return identity_keys(
        details["first_name"],
        details["last_name"],
        details["email"],
        details["phone"],
        details["date_of_birth"],
    )


def column_samples(client_import: ClientImport, *, each: int = 3, looked_at: int = 20) -> list[list[str]]:
    """For each column, its first few values that hold something (in the first rows), to say what
    a column holds however it was named."""
    head = file_rows(client_import.text, client_import.delimiter, first=looked_at + 1)  # not the whole file
    rows = [cells for _line, cells in head[1:]]
    return [
        [cells[i].strip() for cells in rows if i < len(cells) and cells[i].strip()][:each]
        for i in range(len(client_import.columns))
    ]


def import_preview(client_import: ClientImport) -> ImportPreview:
    """What importing the file as the manager set it up would do, row by row (one query)."""
    rows = file_rows(client_import.text, client_import.delimiter)[1:]
    mapping = client_import.mapping
    problems = mapping_problems(mapping)
    _order, why = date_order_of(rows, mapping, default=client_import.date_order)
    if problems:
        return ImportPreview(rows=[], problems=problems, date_order_why=why)
    today = timezone.localdate(timezone=client_import.clinic.zone)
    read = []
    for line, cells in rows:
        details, reason = _row_details(cells, mapping, client_import.date_order, today)
        read.append((line, cells, details, reason))
    # the clinic's clients by what identifies them, and how many records (theirs and the file's) share each
    clients_by_key: dict[tuple, list[int]] = defaultdict(list)
    names: dict[int, str] = {}
    for client_id, first, last, email, phone, born in Client.objects.filter(
        clinic=client_import.clinic, erased_at=None
    ).values_list("id", "first_name", "last_name", "email", "phone", "date_of_birth"):
        names[client_id] = f"{first} {last}"
        for key in identity_keys(first, last, email, phone, born):
            clients_by_key[key].append(client_id)
    shared = defaultdict(int, {key: len(ids) for key, ids in clients_by_key.items()})
    for *_, details, _reason in read:
        if details:
            for key in _keys(details):
                shared[key] += 1
    said = {"email": "the same email", "phone": "the same phone", "name": "the same name and date of birth"}
    first_line_of: dict[tuple, int] = {}
    preview_rows = []
    for line, cells, details, reason in read:
        if reason:
            preview_rows.append(ImportRow(line=line, cells=cells, outcome=REFUSED, reason=reason))
            continue
        keys = [key for key in _keys(details) if shared[key] <= LARGEST_SHARED_GROUP]
        known = next((key for key in keys if key in clients_by_key), None)
        if known:
            client_id = clients_by_key[known][0]
            preview_rows.append(
                ImportRow(
                    line=line,
                    cells=cells,
                    outcome=ALREADY,
                    reason=f"Already a client: {names[client_id]} ({said[known[0]]}).",
                    client_id=client_id,
                )
            )
            continue
        earlier = next((first_line_of[key] for key in keys if key in first_line_of), None)
        if earlier:
            preview_rows.append(
                ImportRow(
                    line=line,
                    cells=cells,
                    outcome=TWICE,
                    reason=f"The same person as line {earlier}.",
                    same_as_line=earlier,
                )
            )
            continue
        for key in keys:
            first_line_of[key] = line
        suggestion = likely_typo(details["email"]) if details["email"] else None
        preview_rows.append(
            ImportRow(
                line=line,
                cells=cells,
                outcome=NEW,
                details=details,
                warning=f"Did you mean {suggestion}? Imported as written." if suggestion else "",
            )
        )
    return ImportPreview(rows=preview_rows, problems=[], date_order_why=why)


# ---------------------------------------------------------------------------------------- writes


def import_locked(client_import: ClientImport) -> ClientImport:
    """The import's row, locked for the transaction, if it is still to import; else why not, in words."""
    locked = ClientImport.objects.select_for_update().select_related("clinic").get(pk=client_import.pk)
    _refuse_if_done(locked)
    return locked


def _refuse_if_done(client_import: ClientImport) -> None:
    if client_import.status == ClientImportStatus.BOOKING:
        raise ClinicError(
            "This file's visits are being booked now: its page says when they are.", code="booking"
        )
    if client_import.status == ClientImportStatus.IMPORTED:
        raise ClinicError(
            f"This file was imported already ({client_import.imported_count} {client_import.kind}): nothing "
            "was imported again.",
            code="already_imported",
        )
    if client_import.status == ClientImportStatus.DISCARDED:
        raise ClinicError("This file was put aside: upload it again to import it.", code="discarded")


@transaction.atomic
def client_import_settings(
    client_import: ClientImport, *, mapping: list[str], date_order: str
) -> ClientImport:
    """Say what each column holds and how the file writes dates."""
    locked = import_locked(client_import)
    if len(mapping) != len(locked.columns) or any(m and m not in IMPORT_FIELDS for m in mapping):
        raise ClinicError("Choose what each column holds from its list.", code="bad_mapping")
    if date_order not in DateOrder.values:
        raise ClinicError("Choose how the file writes dates from the list.", code="bad_date_order")
    locked.mapping, locked.date_order = mapping, date_order
    locked.save(update_fields=["mapping", "date_order"])
    return locked


@transaction.atomic
def client_import_apply(client_import: ClientImport, *, actor: StaffMember) -> ClientImport:
    """Register every new client of the file, all or none, once; keep the rows not imported and why.

    Under the import's row lock, so a second click, or a colleague importing the same upload, finds it
    imported and adds nobody. The file is checked again against the clinic's clients as they are now.
    """
    locked = import_locked(client_import)
    preview = import_preview(locked)
    if preview.problems:
        raise ClinicError(preview.problems[0], code="bad_mapping")
    new_rows = preview.of(NEW)
    if not new_rows:
        raise ClinicError(
            "Nobody in this file is new to the clinic: nothing to import. The rows below say why.",
            code="nothing_new",
        )
    now = timezone.now()
    # a yes to the clinic's news comes from the file: said so, with the consent's record
    news_how = f"Said yes in {locked.file_name}, imported by {actor.display_name}"[:200]
    created = Client.objects.bulk_create(
        [
            Client(
                clinic=locked.clinic,
                imported_in=locked,
                created_at=now,
                news_choice_at=now if row.details["accepts_marketing_email"] else None,
                news_choice_how=news_how if row.details["accepts_marketing_email"] else "",
                **row.details,
            )
            for row in new_rows
        ],
        batch_size=1000,
    )
    client_of_line = {row.line: client.pk for row, client in zip(new_rows, created, strict=True)}
    locked.status = ClientImportStatus.IMPORTED
    locked.done_at, locked.done_by = now, actor
    locked.imported_count = len(new_rows)
    locked.left_out_count = len(preview.rows) - len(new_rows)
    # each row left out names the client it is, if any, so that client's erasure takes it out too
    locked.left_out = [
        {
            "line": row.line,
            "cells": row.cells,
            "reason": row.reason,
            "client": row.client_id or client_of_line.get(row.same_as_line),
        }
        for row in preview.rows
        if row.outcome != NEW
    ]
    locked.text = ""
    locked.save()
    account_event_record(actor.user, AccountAction.IMPORTED_CLIENTS)
    return locked


@transaction.atomic
def client_import_discard(client_import: ClientImport, *, actor: StaffMember) -> ClientImport:
    """Put a file aside without importing it: its text is not kept."""
    locked = import_locked(client_import)
    locked.status = ClientImportStatus.DISCARDED
    locked.done_at, locked.done_by = timezone.now(), actor
    locked.text = ""
    locked.save(update_fields=["status", "done_at", "done_by", "text"])
    return locked


def imports_forget_old(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Forget what imports keep of people once it is no use: a file read and left unimported for
    `KEEP_UNIMPORTED_DAYS` is put aside (its text gone), and the rows an import left out are forgotten
    `KEEP_LEFT_OUT_DAYS` after it (their count stays). Safe to run twice. Returns (put aside, forgotten)."""
    now = now or timezone.now()
    put_aside = ClientImport.objects.filter(
        status=ClientImportStatus.READ, uploaded_at__lt=now - dt.timedelta(days=KEEP_UNIMPORTED_DAYS)
    ).update(status=ClientImportStatus.DISCARDED, done_at=now, text="")
    forgotten = (
        ClientImport.objects.filter(
            status=ClientImportStatus.IMPORTED, done_at__lt=now - dt.timedelta(days=KEEP_LEFT_OUT_DAYS)
        )
        .exclude(left_out=[])
        .update(left_out=[])
    )
    return put_aside, forgotten


def _name_said(first_name: str, last_name: str) -> str:
    return " ".join(f"{first_name} {last_name}".casefold().split())


def lines_naming(client_import: ClientImport, client: Client, *, name_is_theirs: bool) -> set[int]:
    """The lines of a file (of clients or of visits) that name this client: by email, phone, or name
    and date of birth, as one person's records are known (`identity_keys`); by their name alone, in a
    row that gives nothing else, if `name_is_theirs` (no other client has it)."""
    theirs = set(
        identity_keys(client.first_name, client.last_name, client.email, client.phone, client.date_of_birth)
    )
    name = _name_said(client.first_name, client.last_name)
    today = timezone.localdate(timezone=client_import.clinic.zone)
    # a file kept was read within its kind's limit already: no limit here
    rows = file_rows(client_import.text, client_import.delimiter, most=len(client_import.text))
    found = set()
    for line, cells in rows[1:]:
        raw = row_cells(cells, client_import.mapping)
        first, last = first_and_last(
            raw.get("first_name", ""), raw.get("last_name", ""), raw.get("full_name", "")
        )
        try:
            born = date_read(raw["date_of_birth"], client_import.date_order, today=today)
        except (KeyError, ValueError):
            born = None
        keys = identity_keys(first, last, raw.get("email", ""), raw.get("phone", ""), born)
        if theirs & set(keys) or (name_is_theirs and not keys and name and _name_said(first, last) == name):
            found.add(line)
    return found


def text_without_lines(text: str, delimiter: str, lines: set[int]) -> str:
    """The file's text with the rows on `lines` (as `file_rows` numbers them) made blank: every other
    row keeps its line number, which an import's progress names (`booked_lines`, `left_out`)."""
    physical = list(io.StringIO(text, newline=""))
    read = 0

    def feed():
        nonlocal read
        for piece in physical:
            read += 1
            yield piece

    reader = csv.reader(feed(), delimiter=delimiter, strict=True)
    kept, start = [], 0
    for _cells in reader:
        end = read  # this row is physical lines [start, end)
        kept.extend(["\n"] * (end - start) if reader.line_num in lines else physical[start:end])
        start = end
    return "".join(kept + physical[start:])


def imports_pending_locked(clinic_id: int):
    """The clinic's files still to import or being booked, locked until the transaction ends."""
    pending = ClientImport.objects.select_for_update().filter(clinic_id=clinic_id, status__in=FILE_KEPT)
    list(pending.values_list("pk", flat=True))
    return pending


def imports_forget_client(client: Client) -> int:
    """Take out of what imports left out the rows that were this client (already a client, or the
    same person as a row imported), and out of the files still to import or being booked the rows that
    name them (a file of clients would register them again, a file of visits keep their row): part of
    erasing them (`clients.erasure`), before their details are emptied. Returns imports changed."""
    pending = imports_pending_locked(client.clinic_id).exclude(text="")
    name_is_theirs = not (
        Client.objects.filter(
            clinic_id=client.clinic_id,
            erased_at=None,
            first_name__iexact=client.first_name.strip(),
            last_name__iexact=client.last_name.strip(),
        )
        .exclude(pk=client.pk)
        .exists()
    )
    scrubbed = 0
    for client_import in pending.select_related("clinic"):
        if lines := lines_naming(client_import, client, name_is_theirs=name_is_theirs):
            client_import.text = text_without_lines(client_import.text, client_import.delimiter, lines)
            client_import.save(update_fields=["text"])
            scrubbed += 1
    changed = []
    for client_import in (
        ClientImport.objects.filter(clinic_id=client.clinic_id)  # a file being booked has some too
        .exclude(left_out=[])
        .only("id", "left_out")
    ):
        kept = [row for row in client_import.left_out if row.get("client") != client.pk]
        if len(kept) < len(client_import.left_out):
            client_import.left_out = kept
            changed.append(client_import)
    ClientImport.objects.bulk_update(changed, ["left_out"])
    return scrubbed + len(changed)


def left_out_rows(client_import: ClientImport):
    """The rows not imported, as a CSV the manager fixes and imports again: the file's own columns,
    then the line it was on and why."""
    yield [*client_import.columns, "Line", "Why not imported"]
    width = len(client_import.columns)
    for row in client_import.left_out:
        cells = (row["cells"] + [""] * width)[:width] if len(row["cells"]) <= width else row["cells"]
        yield [*cells, row["line"], row["reason"]]


FILE_KINDS[ImportKind.CLIENTS] = ImportFileKind(
    rows_are="clients", most_rows=MAX_IMPORT_ROWS, guess=guess_mapping, date_details=("date_of_birth",)
)
