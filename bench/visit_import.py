"""Time importing the largest file of visits a clinic may (3,000 rows) into the bench clinic (PostgreSQL).

Usage: .venv/bin/python -m bench.setup_data && .venv/bin/python -m bench.visit_import
The bench clinic: 10 practitioners, 500 clients, 5,000 visits in its next 30 days. The file: 3,000
visits as another tool exports them (client name and email, service, staff, day-first date, a 12-hour
time, a status) on the 13 days after those 30, a "Quick check" every 30 minutes 08:00–20:00 for each
practitioner; of which 150 cancelled, 150 over already (kept in the clients' histories, for the
interval between sessions), and 150 at 20:30 (after the practitioner's hours, refused by the booking).
Prints, for the manager's steps, the seconds and the peak memory Python allocated (tracemalloc), and
the preview's queries:
- read: the upload decoded, its columns and date order guessed, kept (`visit_import_read`);
- preview: every row's client, service, practitioner and time read, visits held already looked up
  (`visit_import_preview`), and the page that shows it;
- import: asked for (`visit_import_queue`: the preview again), then each visit booked as the desk
  books one (`visit_import_book`, what the worker runs), in one transaction, then rolled back.
Targets (ours: the issue sets none): preview ≤ 2 s and its page ≤ 3 s (the manager waits for them),
peak ≤ 200 MB; the import, by a worker while the page waits, well inside the 10 minutes after which
beat hands a file to another worker (`VISIT_IMPORT_STALE_SECONDS`).
"""

import csv
import datetime as dt
import io
import time

from bench.client_import import _peak_mb, _timed
from bench.setup_data import DAYS, first_bench_day, setup_django

ROWS = 3_000
CANCELLED = 150
PAST = 150
LATE = 150
PREVIEWS = 3


class RolledBack(Exception):
    pass


def _file(clients, practitioners) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Customer Name", "Customer Email", "Service", "Staff", "Date", "Time", "Status"])
    first_day = first_bench_day() + dt.timedelta(days=DAYS + 1)
    to_book = ROWS - CANCELLED - PAST - LATE
    per_day = 24 * len(practitioners)  # every 30 minutes, 08:00-20:00
    for n in range(to_book + CANCELLED):
        day = first_day + dt.timedelta(days=n // per_day)
        slot, practitioner = divmod(n % per_day, len(practitioners))
        clock = dt.time(8 + slot // 2, 30 * (slot % 2))
        client = clients[n % len(clients)]
        writer.writerow(
            [
                f"{client.first_name} {client.last_name}",
                client.email,
                "Quick check",
                practitioners[practitioner].display_name,
                f"{day:%d/%m/%Y}",
                f"{clock:%I:%M %p}",
                "Cancelled" if n >= to_book else "Confirmed",
            ]
        )
    past_day = first_bench_day() - dt.timedelta(days=10)
    for n in range(PAST):
        client = clients[n % len(clients)]
        writer.writerow(
            [f"{client.first_name} {client.last_name}", client.email, "Quick check",
             practitioners[n % 10].display_name, f"{past_day:%d/%m/%Y}", "10:00 AM", "Completed"]
        )  # fmt: skip
    for n in range(LATE):
        client = clients[n % len(clients)]
        day = first_day + dt.timedelta(days=n // len(practitioners))
        writer.writerow(
            [f"{client.first_name} {client.last_name}", client.email, "Quick check",
             practitioners[n % len(practitioners)].display_name, f"{day:%d/%m/%Y}", "08:30 PM", "Confirmed"]
        )  # fmt: skip
    return out.getvalue().encode()


def main():
    setup_django()
    from django.db import connection, transaction
    from django.test import Client as Client_
    from django.test.utils import CaptureQueriesContext

    from clients.models import Client, ClientImport
    from clinic.models import Clinic, StaffMember, StaffRole
    from treatments.models import Appointment, EarlierSession
    from treatments.visit_imports import (
        BOOK,
        HISTORY,
        visit_import_book,
        visit_import_preview,
        visit_import_queue,
        visit_import_read,
    )

    clinic = Clinic.objects.get(slug="bench")
    manager = StaffMember.objects.filter(clinic=clinic, role=StaffRole.MANAGER).first()
    if manager is None:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user(username="bench-visit-import-manager")
        manager = StaffMember.objects.create(
            user=user, clinic=clinic, role=StaffRole.MANAGER, display_name="Bench manager"
        )
    clients = list(Client.objects.filter(clinic=clinic).order_by("id")[:500])
    practitioners = list(
        StaffMember.objects.filter(clinic=clinic, role=StaffRole.PRACTITIONER).order_by("id")
    )
    data = _file(clients, practitioners)
    visits_before = Appointment.objects.filter(clinic=clinic).count()
    print(f"visits in the clinic: {visits_before}; file: {ROWS} rows, {len(data) / 1024:.0f} KB")

    def read():
        return visit_import_read(clinic=clinic, uploaded_by=manager, file_name="bench-visits.csv", data=data)

    client_import, seconds = _timed(read)
    ClientImport.objects.exclude(pk=client_import.pk).filter(file_name="bench-visits.csv").delete()
    print(f"read:    {seconds:6.2f} s")
    client_import = ClientImport.objects.select_related("clinic").get(pk=client_import.pk)
    timings = []
    for _ in range(PREVIEWS):
        with CaptureQueriesContext(connection) as queries:
            preview, seconds = _timed(lambda: visit_import_preview(client_import))
        timings.append(seconds)
    peak = _peak_mb(lambda: visit_import_preview(client_import))
    print(
        f"preview: {min(timings):6.2f} s best of {PREVIEWS} (worst {max(timings):.2f}), peak {peak:6.1f} MB, "
        f"queries {len(queries)}; counts {preview.counts}"
    )
    expected_book = ROWS - CANCELLED - PAST
    assert preview.counts[BOOK] == expected_book and preview.counts[HISTORY] == PAST, preview.counts
    browser = Client_()
    browser.force_login(manager.user)
    page, seconds = _timed(lambda: browser.get(f"/visits/import/{client_import.pk}/", HTTP_HOST="localhost"))
    assert page.status_code == 200 and f"Book {expected_book} visits".encode() in page.content, (
        page.status_code
    )
    print(f"page:    {seconds:6.2f} s, {len(page.content) / 1024:.0f} KB (in-process client)")

    outcome = {}

    def import_and_roll_back():
        with transaction.atomic():
            visit_import_queue(client_import, actor=manager)
            outcome["done"] = visit_import_book(client_import.pk)
            outcome["visits"] = Appointment.objects.filter(clinic=clinic).count() - visits_before
            outcome["kept"] = EarlierSession.objects.filter(client_import=client_import).count()
            raise RolledBack

    started = time.perf_counter()
    try:
        import_and_roll_back()
    except RolledBack:
        pass
    seconds = time.perf_counter() - started  # not tracemalloc's: it slows the bookings several times
    done = outcome["done"]
    print(
        f"import:  {seconds:6.2f} s, {done.imported_count} visits booked "
        f"({seconds / done.imported_count * 1000:.1f} ms each), {outcome['kept']} visits had kept, "
        f"{done.left_out_count} rows left out; rolled back"
    )
    assert done.imported_count == ROWS - CANCELLED - PAST - LATE == outcome["visits"], outcome
    assert outcome["kept"] == PAST and done.left_out_count == CANCELLED + LATE, outcome
    client_import.delete()


if __name__ == "__main__":
    main()
