"""Time finding one client twice in a clinic of 20,000 clients (PostgreSQL).

Usage: .venv/bin/python -m bench.setup_data && .venv/bin/python -m bench.duplicates
Adds a clinic of 20,000 clients to the bench database the first time (100 of them a second record of
another: 50 with the same phone written the national way, 50 with the same email in capitals), then
prints p50 and p95 in milliseconds, and the queries, of:
- `clients_like`: what the desk's new-client form asks before registering anyone (one query);
- `likely_duplicates`: the duplicates page's pairs (three queries, every client's details read once).
"""

import datetime as dt

from bench.availability import measure, percentile
from bench.setup_data import setup_django

CLIENTS = 20_000
SECOND_RECORDS = 100


def _clinic():
    from clients.models import Client
    from clinic.models import Clinic

    clinic, created = Clinic.objects.get_or_create(
        slug="bench-clients", defaults={"name": "Bench clients", "time_zone": "Europe/London"}
    )
    if created or not Client.objects.filter(clinic=clinic).exists():
        rows = [
            Client(
                clinic=clinic,
                first_name=f"First{n}",
                last_name=f"Last{n % 997}",
                email=f"client{n}@example.com",
                phone=f"+44 7700 {n:06d}",
                date_of_birth=dt.date(1950 + n % 50, 1 + n % 12, 1 + n % 28),
            )
            for n in range(CLIENTS - SECOND_RECORDS)
        ]
        for n in range(SECOND_RECORDS):
            first = rows[n * 97]
            rows.append(
                Client(
                    clinic=clinic,
                    first_name=first.first_name,
                    last_name=first.last_name,
                    email=first.email.upper() if n % 2 else f"again{n}@example.com",
                    phone=first.phone if n % 2 else "0" + first.phone[4:],
                )
            )
        Client.objects.bulk_create(rows, batch_size=2000)
    return clinic


def main():
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clients.merging import clients_like, likely_duplicates
    from clients.models import Client

    clinic = _clinic()
    print(f"clients in the clinic: {Client.objects.filter(clinic=clinic).count()}")

    def asked():
        return clients_like(
            clinic=clinic,
            first_name="Nia",
            last_name="Cole",
            email="nobody@example.com",
            phone="07700 012345",
            date_of_birth=dt.date(1990, 3, 2),
        )

    def pairs():
        return likely_duplicates(clinic)

    for label, fn in (
        ("clients_like (the desk's new-client form)", asked),
        ("likely_duplicates (the page)", pairs),
    ):
        with CaptureQueriesContext(connection) as queries:
            found = fn()
        timings = measure(fn)
        print(
            f"{label}: {len(found)} found, {len(queries)} queries, "
            f"p50 {percentile(timings, 0.5):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms"
        )


if __name__ == "__main__":
    main()
