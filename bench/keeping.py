"""Time the manager's list of records past their keeping time with 20,000 of them.

Usage: .venv/bin/python -m bench.setup_data && .venv/bin/python -m bench.keeping
Adds 20,000 clients registered ten years ago (nothing on them since) to the bench clinic, beside its
500 clients and 5,000 visits, times `records_past_keeping` (the whole list, which the page counts and
shows the first 100 of) and the page itself through the in-process client, prints p50 and p95 in
milliseconds and the queries per call, then deletes those clients.
"""

import datetime as dt

from bench.availability import measure, percentile
from bench.setup_data import setup_django

OLD_CLIENTS = 20_000


def _spread(timings) -> str:
    p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
    return f"p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(timings)} runs"


def main():
    setup_django()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client as BrowserClient
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from clients.models import Client
    from clinic.models import Clinic, StaffMember
    from treatments.keeping import records_past_keeping

    clinic = Clinic.objects.order_by("pk").first()
    long_ago = timezone.now() - dt.timedelta(days=3700)
    Client.objects.bulk_create(
        [
            Client(clinic=clinic, first_name=f"Former{n}", last_name="Client", created_at=long_ago)
            for n in range(OLD_CLIENTS)
        ],
        batch_size=2000,
    )
    try:
        with CaptureQueriesContext(connection) as read:
            listed = records_past_keeping(clinic)
        print(
            f"{len(listed)} records past their keeping time, queries per call: {len(read.captured_queries)}"
        )
        timings = measure(lambda: records_past_keeping(clinic))
        print(f"records past keeping, {len(listed)} listed, selector: {_spread(timings)}")
        user = User.objects.create_user("bench-keeping-manager")
        StaffMember.objects.create(user=user, clinic=clinic, role="manager", display_name="Bench manager")
        browser = BrowserClient()
        browser.force_login(user)
        page = browser.get("/manage/keeping/", HTTP_HOST="127.0.0.1")
        assert page.status_code == 200 and f"{len(listed)} records past" in page.content.decode(), (
            page.status_code
        )
        timings = measure(lambda: browser.get("/manage/keeping/", HTTP_HOST="127.0.0.1"))
        print(f"records past keeping, {len(listed)} listed, page (first 100 shown): {_spread(timings)}")
    finally:
        Client.objects.filter(clinic=clinic, last_name="Client", first_name__startswith="Former").delete()
        User.objects.filter(username="bench-keeping-manager").delete()


if __name__ == "__main__":
    main()
