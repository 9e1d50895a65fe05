"""Time importing the largest file of clients a clinic may (20,000 rows) into a clinic of 20,000 (PostgreSQL).

Usage: .venv/bin/python -m bench.setup_data && .venv/bin/python -m bench.client_import
Uses the clinic of 20,000 clients `bench.duplicates` adds. The file: 20,000 rows written as another
tool exports them (day-first dates, a mobile and a home phone), of which 2,000 are already clients (the
same email in capitals, or the same phone written the national way), 200 are the same person twice,
and 200 are refused (no way to reach them). Prints, for the manager's three steps, the seconds and the
peak memory Python allocated (tracemalloc), and the queries of the preview:
- read: the upload decoded, its columns and date order guessed, kept (`client_import_read`);
- preview: every row checked and compared with the clinic's clients (`import_preview`), and the
  page that shows it (the first 200 rows of each kind);
- import: the same, then 17,600 clients written (`client_import_apply`), then deleted again.
Targets (ours: the issue sets none): preview ≤ 5 s, import ≤ 15 s, peak ≤ 200 MB.
"""

import csv
import io
import time
import tracemalloc

from bench.duplicates import _clinic
from bench.setup_data import setup_django

ROWS = 20_000
ALREADY = 2_000
TWICE = 200
REFUSED = 200
PREVIEWS = 3


def _file(existing) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["Client ID", "First Name", "Surname", "Email Address", "Mobile", "Home Phone", "DOB", "Notes"]
    )
    new = ROWS - ALREADY - TWICE - REFUSED
    for n in range(new):
        writer.writerow(
            [
                n,
                f"Imported{n}",
                f"Person{n % 991}",
                f"imported{n}@example.org",
                f"07800 {n:06d}",
                "",
                f"{1 + n % 28:02d}/{1 + n % 12:02d}/{1950 + n % 50}",
                "From the old system",
            ]
        )
    for n, client in enumerate(existing[:ALREADY]):
        email, phone = (client.email.upper(), "") if n % 2 else ("", "0" + client.phone[4:])
        writer.writerow([f"a{n}", client.first_name, client.last_name, email, phone, "", "", ""])
    for n in range(TWICE):
        writer.writerow([f"t{n}", f"Imported{n}", "Again", f"IMPORTED{n}@example.org", "", "", "", ""])
    for n in range(REFUSED):
        writer.writerow([f"r{n}", f"No{n}", "Contact", "", "n/a", "", "", ""])
    return out.getvalue().encode()


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def _peak_mb(fn) -> float:
    """What Python allocated at most while `fn` ran (measured apart: tracing slows it several times)."""
    tracemalloc.start()
    fn()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024 / 1024


def main():
    setup_django()
    from django.db import connection, transaction
    from django.test import Client as Client_
    from django.test.utils import CaptureQueriesContext

    from clients.imports import NEW, client_import_apply, client_import_read, import_preview
    from clients.models import Client, ClientImport
    from clinic.models import StaffMember, StaffRole

    clinic = _clinic()
    manager = StaffMember.objects.filter(clinic=clinic, role=StaffRole.MANAGER).first()
    if manager is None:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user(username="bench-import-manager")
        manager = StaffMember.objects.create(
            user=user, clinic=clinic, role=StaffRole.MANAGER, display_name="Bench manager"
        )
    existing = list(Client.objects.filter(clinic=clinic, imported_in=None).order_by("id")[: ALREADY * 3 : 3])
    data = _file(existing)
    print(
        f"clients in the clinic: {Client.objects.filter(clinic=clinic).count()}; "
        f"file: {ROWS} rows, {len(data) / 1024 / 1024:.1f} MB"
    )

    def read():
        return client_import_read(clinic=clinic, uploaded_by=manager, file_name="bench.csv", data=data)

    client_import, seconds = _timed(read)
    ClientImport.objects.exclude(pk=client_import.pk).filter(file_name="bench.csv").delete()
    peak = _peak_mb(lambda: read().delete())
    print(f"read:    {seconds:6.2f} s, peak {peak:6.1f} MB")
    client_import = ClientImport.objects.select_related("clinic").get(pk=client_import.pk)
    timings = []
    for _ in range(PREVIEWS):
        with CaptureQueriesContext(connection) as queries:
            preview, seconds = _timed(lambda: import_preview(client_import))
        timings.append(seconds)
    peak = _peak_mb(lambda: import_preview(client_import))
    print(
        f"preview: {min(timings):6.2f} s best of {PREVIEWS} (worst {max(timings):.2f}), peak {peak:6.1f} MB, "
        f"queries {len(queries)}; counts {preview.counts}"
    )
    browser = Client_()
    browser.force_login(manager.user)
    page, seconds = _timed(lambda: browser.get(f"/clients/import/{client_import.pk}/", HTTP_HOST="localhost"))
    assert page.status_code == 200 and b"Import 17600 clients" in page.content, page.status_code
    print(f"page:    {seconds:6.2f} s, {len(page.content) / 1024:.0f} KB (in-process client)")
    expected = {
        "new": ROWS - ALREADY - TWICE - REFUSED,
        "already": ALREADY,
        "twice": TWICE,
        "refused": REFUSED,
    }
    assert preview.counts == expected, preview.counts
    done, seconds = _timed(lambda: client_import_apply(client_import, actor=manager))
    print(f"import:  {seconds:6.2f} s, {done.imported_count} clients written")
    assert done.imported_count == preview.counts[NEW]
    Client.objects.filter(imported_in=done).delete()
    done.delete()
    # the import's peak, on a second copy of the file, rolled back
    again = ClientImport.objects.select_related("clinic").get(pk=read().pk)

    def import_and_roll_back():
        with transaction.atomic():
            client_import_apply(again, actor=manager)
            transaction.set_rollback(True)

    print(f"import:  peak {_peak_mb(import_and_roll_back):6.1f} MB")
    again.delete()


if __name__ == "__main__":
    main()
