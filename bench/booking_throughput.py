"""Booking requests per second through gunicorn, against a trivial endpoint on the same server.

Usage: .venv/bin/python -m bench.setup_data && .venv/bin/python -m bench.booking_throughput
Starts gunicorn on 127.0.0.1 against the bench PostgreSQL database, then drives it with the same
threaded HTTP client: first GET /healthz (one SELECT 1), then GET /api/v1/me/ (an API request that
does nothing beyond the token sign-in and its one query: the most any API request can reach), the
trivial list API, then POST /api/v1/appointments/ for free slots (each a real booking: rules, room
and device assignment, audit event, outbox row, commit).
"""

import datetime as dt
import http.client
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time

from bench.setup_data import DAYS, django_env, first_bench_day, setup_django

HOST, PORT = "127.0.0.1", 8123
CLIENT_THREADS = int(os.environ.get("BENCH_CLIENTS", "8"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
GUNICORN_WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
TOKEN = "b" * 40


def start_gunicorn() -> subprocess.Popen:
    env = {**django_env(), "DB_CONN_MAX_AGE": "60"}
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "clinic.wsgi:application",
            "-b",
            f"{HOST}:{PORT}",
            "-w",
            str(GUNICORN_WORKERS),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, PORT, timeout=2)
            connection.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not start")


def drive(make_request, seconds: float) -> dict:
    """Run CLIENT_THREADS threads for `seconds`; return throughput, latency and status counts."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    statuses: dict[object, int] = {}
    lock = threading.Lock()

    def worker():
        connection = http.client.HTTPConnection(HOST, PORT, timeout=30)
        while time.monotonic() < stop:
            method, path, body = make_request()
            started = time.perf_counter()
            connection.request(
                method,
                path,
                body=body,
                headers={
                    "Host": "127.0.0.1",
                    "Authorization": f"Token {TOKEN}",
                    "Content-Type": "application/json",
                },
            )
            response = connection.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            key = response.status
            if key >= 400:
                key = f"{key} {json.loads(payload or b'{}').get('code', '')}"
            with lock:
                latencies.append(elapsed * 1000)
                statuses[key] = statuses.get(key, 0) + 1
            if response.getheader("Connection", "").lower() == "close" or response.version == 10:
                connection.close()
                connection = http.client.HTTPConnection(HOST, PORT, timeout=30)

    threads = [threading.Thread(target=worker) for _ in range(CLIENT_THREADS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / wall,
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
        "statuses": statuses,
    }


def free_slots(service_id: int, practitioner_ids: list[int], client_ids: list[int], zone):
    """Yield booking bodies for times nobody holds: days after the filled month, every 30 minutes.

    Each practitioner books their own client, since a client is never in two visits at once.
    """
    first_free_day = first_bench_day() + dt.timedelta(days=DAYS + 2)
    for day_offset in itertools.count():
        day = first_free_day + dt.timedelta(days=day_offset)
        for minute in range(0, 11 * 60, 30):
            start = dt.datetime.combine(day, dt.time(8), tzinfo=zone) + dt.timedelta(minutes=minute)
            for practitioner_id, client_id in zip(practitioner_ids, client_ids, strict=True):
                yield json.dumps(
                    {
                        "client": client_id,
                        "service": service_id,
                        "practitioner": practitioner_id,
                        "start": start.isoformat(),
                    }
                )


def main():
    setup_django()
    from clients.models import Client
    from clinic.models import StaffMember
    from treatments.models import Service

    service = Service.objects.get(clinic__slug="bench", name="Quick check")
    practitioners = list(
        StaffMember.objects.filter(clinic__slug="bench", role="practitioner")
        .order_by("id")
        .values_list("id", flat=True)
    )
    client_ids = list(
        Client.objects.filter(clinic__slug="bench").order_by("id").values_list("id", flat=True)
    )[: len(practitioners)]
    bodies = free_slots(service.id, practitioners, client_ids, service.clinic.zone)
    body_lock = threading.Lock()

    def next_booking():
        with body_lock:
            body = next(bodies)
        return "POST", "/api/v1/appointments/", body

    gunicorn = start_gunicorn()
    try:
        trivial = drive(lambda: ("GET", "/healthz", None), SECONDS)
        api_floor = drive(lambda: ("GET", "/api/v1/me/", None), SECONDS)
        trivial_api = drive(lambda: ("GET", "/api/v1/practitioners/?limit=1", None), SECONDS)
        booking = drive(next_booking, SECONDS)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=15)
    print(f"client threads {CLIENT_THREADS}, gunicorn sync workers {GUNICORN_WORKERS}, {SECONDS:.0f} s each")
    for name, result in (
        ("trivial GET /healthz (plain view, SELECT 1)", trivial),
        ("API floor GET /api/v1/me/ (token sign-in, nothing else)", api_floor),
        ("trivial API GET /api/v1/practitioners/?limit=1 (token auth, one row)", trivial_api),
        ("booking POST /api/v1/appointments/", booking),
    ):
        print(
            f"{name}: {result['per_second']:.1f} req/s, p50 {result['p50_ms']:.1f} ms, "
            f"p95 {result['p95_ms']:.1f} ms, statuses {result['statuses']}"
        )
    view_ratio = booking["per_second"] / trivial["per_second"]
    print(f"booking / trivial view throughput: {view_ratio:.2f} (target >= 0.50)")
    print(f"booking / trivial API throughput: {booking['per_second'] / trivial_api['per_second']:.2f}")
    # No API request can beat the one that does nothing: its ratio bounds every endpoint's, bookings' too.
    print(f"API floor / trivial view throughput: {api_floor['per_second'] / trivial['per_second']:.2f}")
    if set(booking["statuses"]) != {201}:
        raise SystemExit("Some bookings did not succeed; the measurement is not of successful bookings.")


if __name__ == "__main__":
    main()
