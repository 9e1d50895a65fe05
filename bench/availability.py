"""Time availability for one service over 30 days with 10 practitioners and 5,000 appointments.

Usage: .venv/bin/python -m bench.setup_data && .venv/bin/python -m bench.availability
Prints p50 and p95 in milliseconds for the service function and for the HTTP API (in-process client),
for the 30 days holding the 5,000 appointments (the target) and, for reference, 30 open days later on,
where nearly every step is free and the answer is ~13,000 slots.
"""

import datetime as dt
import statistics
import time

from bench.setup_data import DAYS, first_bench_day, setup_django

RUNS = 60
WARM_UP = 5


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(fn) -> list[float]:
    for _ in range(WARM_UP):
        fn()
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main():
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from treatments.availability import available_slots
    from treatments.models import Appointment, Service

    service = Service.objects.get(clinic__slug="bench", name="Microneedling facial")
    http = Client(HTTP_AUTHORIZATION="Token " + "b" * 40)
    busy_first = first_bench_day()
    open_first = busy_first + dt.timedelta(days=DAYS + 10)
    print(f"appointments in the database: {Appointment.objects.count()}")
    for label, first in (("30 booked days", busy_first), ("30 open days", open_first)):
        last = first + dt.timedelta(days=DAYS - 1)
        with CaptureQueriesContext(connection) as queries:
            slot_count = len(
                available_slots(service=Service.objects.get(pk=service.pk), start_date=first, end_date=last)
            )
        print(f"{label}, {first}..{last}: {slot_count} slots, queries per call: {len(queries)}")

        def direct(first=first, last=last):
            available_slots(service=Service.objects.get(pk=service.pk), start_date=first, end_date=last)

        url = f"/api/v1/availability/?service={service.pk}&start={first}&end={last}"

        def api(url=url):
            response = http.get(url, HTTP_HOST="127.0.0.1")
            assert response.status_code == 200, response.content[:200]

        for name, fn in (("service function", direct), ("HTTP API (in-process)", api)):
            timings = measure(fn)
            print(
                f"availability, {label}, {name}: p50 {statistics.median(timings):.1f} ms, "
                f"p95 {percentile(timings, 0.95):.1f} ms over {RUNS} runs"
            )


if __name__ == "__main__":
    main()
