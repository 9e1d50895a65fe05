"""Build the benchmark clinic in a fresh PostgreSQL database: 10 practitioners, 5,000 appointments.

Usage (from the repository root): .venv/bin/python -m bench.setup_data
Needs BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/clinic_bench); drops and recreates it.
"""

import datetime as dt
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench")
PRACTITIONERS = 10
APPOINTMENTS = 5000
DAYS = 30
# The benches' own var/ (filesystem broker, mail folder): every booking they make asks for a delivery
# task, and those must not pile up in the broker folder that `make run`'s worker reads.
BENCH_VAR_DIR = Path(__file__).resolve().parent.parent / "var" / "bench"


def django_env() -> dict:
    return {
        **os.environ,
        "DATABASE_URL": BENCH_DATABASE_URL,
        "VAR_DIR": str(BENCH_VAR_DIR),
        "SECRET_KEY": os.environ.get(
            "SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
        ),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_MANIFEST": "false",
        "LOG_LEVEL": "WARNING",
    }


def setup_django():
    os.environ.update(django_env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    import django

    from clinic.memory import freeze_startup_objects

    django.setup()
    freeze_startup_objects()  # as clinic.wsgi and the Celery worker do after start-up


def recreate_database():
    url = urlparse(BENCH_DATABASE_URL)
    name = url.path.lstrip("/")
    base = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    subprocess.run(["dropdb", "--if-exists", *base, name], check=True)
    shutil.rmtree(BENCH_VAR_DIR, ignore_errors=True)  # delivery tasks queued for the old database
    subprocess.run(["createdb", *base, name], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, env=django_env())


def first_bench_day() -> dt.date:
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)


def build():
    """Create the clinic, staff, rooms, devices, a service and 5,000 non-overlapping appointments."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from clients.models import Client
    from clinic.models import Clinic, Device, PractitionerQualification, Room, StaffMember, WorkingHours
    from treatments.models import Appointment, Protocol, Service

    clinic = Clinic.objects.create(
        name="Bench Clinic",
        slug="bench",
        time_zone="Europe/London",
        min_booking_notice_minutes=0,
        slot_step_minutes=15,
    )
    users = get_user_model().objects
    desk_user = users.create_user("bench-desk", password="bench-pass-2026")  # noqa: S106 (local benchmark)
    desk = StaffMember.objects.create(
        user=desk_user,
        clinic=clinic,
        role="front_desk",
        display_name="Bench Desk",
    )
    Token.objects.create(key="b" * 40, user=desk.user)
    protocol = Protocol.objects.create(clinic=clinic, modality="microneedling", name="Microneedling")
    service = Service.objects.create(
        clinic=clinic,
        name="Microneedling facial",
        duration_minutes=60,
        buffer_before_minutes=15,
        buffer_after_minutes=10,
        price=Decimal("180"),
        device_kind="pen",
        max_depth_mm=Decimal("1.0"),
    )
    service.protocols.set([protocol])
    short = Service.objects.create(
        clinic=clinic, name="Quick check", duration_minutes=20, price=Decimal("0"), device_kind="pen"
    )
    short.protocols.set([protocol])
    practitioners, rooms, pens = [], [], []
    for i in range(PRACTITIONERS):
        member = StaffMember.objects.create(
            user=users.create_user(f"bench-p{i}"),
            clinic=clinic,
            role="practitioner",
            display_name=f"Practitioner {i:02d}",
        )
        PractitionerQualification.objects.create(
            staff_member=member, modality="microneedling", max_depth_mm=Decimal("3.0")
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(staff_member=member, weekday=d, start_time=dt.time(8), end_time=dt.time(20))
            for d in range(7)
        )
        practitioners.append(member)
        rooms.append(Room.objects.create(clinic=clinic, name=f"Room {i:02d}"))
        pens.append(
            Device.objects.create(clinic=clinic, name=f"Pen {i:02d}", kind="pen", max_depth_mm=Decimal("2.5"))
        )
    clients = Client.objects.bulk_create(
        Client(clinic=clinic, first_name=f"Client{i}", last_name="Bench", email=f"c{i}@example.com")
        for i in range(500)
    )
    zone = clinic.zone
    rows = []
    per_day_each = APPOINTMENTS // (DAYS * PRACTITIONERS)  # 16: 20-minute visits every 40 minutes
    for day_index in range(DAYS):
        day = first_bench_day() + dt.timedelta(days=day_index)
        for p_index, member in enumerate(practitioners):
            for n in range(
                per_day_each + (1 if day_index * PRACTITIONERS + p_index < APPOINTMENTS % (DAYS * 10) else 0)
            ):
                start = dt.datetime.combine(day, dt.time(8), tzinfo=zone) + dt.timedelta(
                    minutes=40 * n + 5 * p_index
                )
                start = start.astimezone(dt.UTC)
                end = start + dt.timedelta(minutes=20)
                rows.append(
                    Appointment(
                        clinic=clinic,
                        client=clients[len(rows) % len(clients)],
                        practitioner=member,
                        service=short,
                        room=rooms[p_index],
                        device=pens[p_index],
                        start=start,
                        end=end,
                        blocked_start=start,
                        blocked_end=end,
                        price=short.price,
                    )
                )
    Appointment.objects.bulk_create(rows[:APPOINTMENTS], batch_size=1000)
    return clinic, service


def main():
    recreate_database()
    setup_django()
    clinic, service = build()
    from django.db import connection

    from treatments.models import Appointment

    # Fresh statistics now, as autovacuum would give them a little later: the timed runs then
    # neither plan on empty statistics nor share the machine with autovacuum's ANALYZE.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    print(f"Bench clinic {clinic.pk}, service {service.pk}, {Appointment.objects.count()} appointments")


if __name__ == "__main__":
    main()
