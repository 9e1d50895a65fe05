"""Sessions a client had before this calendar held them (in the software used before, or at another
clinic) count for a protocol's interval between sessions as a visit here does: booking refuses a visit
too soon after one, the finder leaves its times out, a visits' import keeps the visits over already
from the old software's file, and the desk notes one a client tells them of."""

import datetime as dt

import pytest
from django.test import Client as BrowserClient
from django.urls import reverse

from clients.erasure import client_erase
from clients.merging import client_merge, held_said, rows_held
from clinic.errors import ClinicError, NotAllowedError
from tests.booking_world import build_world, local
from tests.factories import ClinicFactory, ServiceFactory
from tests.test_visit_import import HEADER, olivia, read
from treatments.booking import BookingRequest, appointment_book, too_soon_after
from treatments.earlier_sessions import earlier_session_record, earlier_session_remove
from treatments.models import Appointment, EarlierSession, EarlierSessionSource
from treatments.visit_imports import (
    ALREADY,
    BOOK,
    HISTORY,
    PAST,
    visit_import_book,
    visit_import_preview,
    visit_import_queue,
)


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def olivia_smith(world):
    return world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com", phone="")


def noted(world, client, day, service=None, **kwargs):
    return earlier_session_record(
        client=client, service=service or world.microneedling, given_on=day, by=world.desk, **kwargs
    )


def booking(world, client, start, *, service=None, practitioner=None, reason=""):
    return BookingRequest(
        client=client,
        service=service or world.microneedling,
        practitioner=practitioner or world.dr_lee,
        start=start,
        interval_override_reason=reason,
    )


def test_a_session_had_elsewhere_holds_back_the_protocols_next_until_its_interval_has_passed(
    world, olivia_smith
):
    noted(world, olivia_smith, dt.date(2026, 11, 20), given_by="Glow Clinic, Leeds")
    # 27 days after it, a service of the same protocol (the deeper microneedling) is too soon
    with pytest.raises(ClinicError) as refused:
        appointment_book(
            booking(world, olivia_smith, local(world, 2026, 12, 17, 14), service=world.deep_microneedling)
        )
    assert refused.value.code == "too_soon"
    assert refused.value.message == (
        "Olivia Smith had “Microneedling” on Fri 20 Nov 2026 (before coming here); sessions must be at "
        "least 28 days apart. A manager can override with a reason."
    )
    # the desk cannot override it; a manager can, with a reason
    with pytest.raises(NotAllowedError):
        appointment_book(
            booking(world, olivia_smith, local(world, 2026, 12, 17, 14), reason="Light pass"),
            actor=world.desk.user,
        )
    overridden = appointment_book(
        booking(world, olivia_smith, local(world, 2026, 12, 17, 14), reason="Light pass"),
        actor=world.manager.user,
    )
    assert overridden.pk
    overridden.delete()
    # from the 28th day on, at the day's first time, it books
    assert appointment_book(booking(world, olivia_smith, local(world, 2026, 12, 18, 9, 15))).pk
    # another protocol's treatment is not held back by it
    assert appointment_book(
        booking(world, olivia_smith, local(world, 2026, 12, 2, 10), service=world.microcurrent)
    ).pk


def test_a_session_had_is_reckoned_by_its_local_day_across_both_clock_changes(db):
    """The day `min_interval_days` after a session had is the first allowed, from its first minute in
    the clinic's zone, whichever way the clocks changed between (an hour's difference in absolute time)."""
    changes = {
        "Europe/London": [dt.date(2026, 10, 20), dt.date(2027, 3, 20)],  # back 25 Oct, forward 28 Mar
        "America/New_York": [dt.date(2026, 10, 25), dt.date(2027, 3, 6)],  # back 1 Nov, forward 14 Mar
    }
    for zone, days in changes.items():
        world = build_world(time_zone=zone)
        client = world.client(first_name="Ana", last_name="Reyes")
        for day in days:
            EarlierSession.objects.create(
                clinic=world.clinic,
                client=client,
                service=world.mesotherapy,
                given_on=day,
                source=EarlierSessionSource.ELSEWHERE,
            )
            first_allowed = day + dt.timedelta(days=14)  # mesotherapy: 14 days apart

            def at(on, hour, minute, zone=world.clinic.zone):
                return dt.datetime.combine(on, dt.time(hour, minute), tzinfo=zone)

            assert (
                too_soon_after(client, world.mesotherapy, at(first_allowed, 0, 1), at(first_allowed, 0, 1))
                == []
            )
            before = at(first_allowed - dt.timedelta(days=1), 23, 59)
            assert [
                p.min_interval_days for _, p in too_soon_after(client, world.mesotherapy, before, before)
            ] == [14]
            EarlierSession.objects.filter(client=client).delete()
    # a booking on the day after the spring change: refused the day before, booked at 09:00 local
    world = build_world()
    client = world.client(first_name="Ana", last_name="Reyes")
    EarlierSession.objects.create(
        clinic=world.clinic,
        client=client,
        service=world.mesotherapy,
        given_on=dt.date(2027, 3, 15),
        source=EarlierSessionSource.ELSEWHERE,
    )
    with pytest.raises(ClinicError, match="had “Mesotherapy” on Mon 15 Mar 2027"):
        appointment_book(booking(world, client, local(world, 2027, 3, 28, 16), service=world.mesotherapy))
    booked = appointment_book(
        booking(world, client, local(world, 2027, 3, 29, 9, 15), service=world.mesotherapy)
    )
    assert booked.start == dt.datetime(2027, 3, 29, 8, 15, tzinfo=dt.UTC)


def test_noting_a_session_had_refuses_what_cannot_be_with_words_the_desk_understands(world, olivia_smith):
    cases = [
        ({"given_on": dt.date(2026, 12, 2)}, "02 Dec 2026 is still ahead: note a session they had already"),
        ({"given_on": dt.date(2015, 1, 1)}, "01 Jan 2015 is more than 10 years ago: no interval reaches it."),
        ({"given_on": None}, "Give the day they had it, as 20/11/2026 or 2026-11-20."),
        ({"service": None}, "Choose the treatment they had from the list."),
        ({"notes": "x" * 501}, "The note is 501 characters long: please keep it to 500."),
    ]
    for change, message in cases:
        details = {
            "client": olivia_smith,
            "service": world.microneedling,
            "given_on": dt.date(2026, 11, 20),
            "by": world.desk,
            **change,
        }
        with pytest.raises(ClinicError, match=message):
            earlier_session_record(**details)
    other_clinics = ServiceFactory(clinic=ClinicFactory())
    with pytest.raises(ClinicError, match="Choose the treatment they had from the list."):
        noted(world, olivia_smith, dt.date(2026, 11, 20), service=other_clinics)
    assert EarlierSession.objects.count() == 0
    # today is a day they may have had it
    assert noted(world, olivia_smith, dt.date(2026, 12, 1)).source == EarlierSessionSource.ELSEWHERE


def test_the_desk_notes_a_session_had_elsewhere_on_the_clients_page_and_takes_one_off(world, olivia_smith):
    desk = BrowserClient()
    desk.force_login(world.desk.user)
    page_url = reverse("client-detail", args=[olivia_smith.pk])
    assert "Nothing noted" in desk.get(page_url).content.decode()
    added = desk.post(
        reverse("earlier-session-add", args=[olivia_smith.pk]),
        {"service": world.microneedling.pk, "given_on": "2026-11-20", "given_by": "Glow Clinic", "notes": ""},
        follow=True,
    )
    page = added.content.decode()
    assert "Noted: Olivia Smith had Microneedling facial on Fri 20 Nov 2026." in page
    earlier = EarlierSession.objects.get()
    assert (earlier.recorded_by, earlier.given_by) == (world.desk, "Glow Clinic")
    assert f'id="earlier-session-{earlier.pk}"' in page and "Before coming here, by Glow Clinic" in page
    # a day that is not one is said, nothing noted
    bad = desk.post(
        reverse("earlier-session-add", args=[olivia_smith.pk]),
        {"service": world.microneedling.pk, "given_on": "20/11/2026x"},
        follow=True,
    )
    assert "Give the day they had it" in bad.content.decode() and EarlierSession.objects.count() == 1
    # the finder for her leaves out the times too soon after it, and says why
    finder = desk.get(
        f"/book/?service={world.microneedling.pk}&client={olivia_smith.pk}&practitioner={world.sam.pk}"
        "&date=2026-12-17"
    ).content.decode()
    assert "Olivia had the same treatment on Fri 20 Nov (before coming here)" in finder
    assert "start=2026-12-17T" not in finder
    assert (
        "start=2026-12-18T09:15"
        in desk.get(
            f"/book/?service={world.microneedling.pk}&client={olivia_smith.pk}&practitioner={world.sam.pk}"
            "&date=2026-12-18"
        ).content.decode()
    )
    # another clinic's staff cannot take it off; the desk can
    stranger = BrowserClient()
    stranger.force_login(build_world(slug="elsewhere").desk.user)
    remove_url = reverse("earlier-session-remove", args=[olivia_smith.pk, earlier.pk])
    assert stranger.post(remove_url).status_code == 404
    removed = desk.post(remove_url, follow=True).content.decode()
    assert "Taken off: Microneedling facial on Fri 20 Nov 2026 (noted by mistake)." in removed
    # kept, and said, with who took it off: it may have let a booking through
    assert "Taken off 1 Dec 2026 by Jo Carter: noted by mistake, not counted" in removed
    earlier.refresh_from_db()
    assert earlier.removed_by == world.desk and earlier.removed_at is not None
    assert desk.post(remove_url).status_code == 404  # taken off already
    assert appointment_book(booking(world, olivia_smith, local(world, 2026, 12, 17, 14))).pk


def test_an_import_keeps_visits_over_already_and_the_bookings_it_makes_count_them(world, olivia_smith):
    amara = world.client(first_name="Amara", last_name="Okafor", email="", phone="+44 7700 900456")
    rows = [
        HEADER,
        olivia("20/11/2026", "10:00", practitioner="Jess Moore"),  # had: by someone who never worked here
        olivia("15/12/2026", "10:00"),  # ahead, 25 days after it: too soon
        olivia("18/12/2026", "10:00", service="Acne scar microneedling"),  # 28 days after: books
        [
            "Amara Okafor",
            "",
            "07700 900456",
            "Microcurrent workout",
            "Sam",
            "27/11/2026",
            "14:00",
            "Completed",
        ],
        ["Nobody Known", "nobody@example.com", "", "Microcurrent workout", "Sam", "26/11/2026", "11:00", ""],
        olivia("10/11/2026", "10:00", service="Hydrafacial"),
        olivia("10/11/2026", "10:00", service="Microneedling facial", status="No show"),
        olivia("01/06/2015", "10:00"),
        olivia("20/11/2026", "10:00"),  # the same visit twice
    ]
    client_import = read(world, rows)
    preview = visit_import_preview(client_import)
    assert {row.line: row.outcome for row in preview.rows} == {
        2: HISTORY,
        3: BOOK,
        4: BOOK,
        5: HISTORY,
        6: PAST,
        7: PAST,
        8: "not_coming",
        9: PAST,
        10: ALREADY,
    }
    by_line = {row.line: row for row in preview.rows}
    assert by_line[2].given_by == "Jess Moore" and by_line[5].given_by == "Sam Rivera"
    assert by_line[6].reason == (
        "Over already, and not kept: No client here is Nobody Known: import the clients first, or "
        "register them."
    )
    assert by_line[7].reason == (
        "Over already, and not kept: No service here is called “Hydrafacial”: choose which it is above."
    )
    assert by_line[9].reason == "Over more than 10 years ago: not kept (no interval reaches it)."
    assert by_line[10].reason == "The same visit as line 2."
    assert preview.unknown == {"service": {"Hydrafacial": 1}}
    visit_import_queue(client_import, actor=world.manager)
    done = visit_import_book(client_import.pk, batch=1)
    kept = list(
        EarlierSession.objects.order_by("given_on").values_list(
            "client", "service", "given_on", "import_line"
        )
    )
    assert kept == [
        (olivia_smith.pk, world.microneedling.pk, dt.date(2026, 11, 20), 2),
        (amara.pk, world.microcurrent.pk, dt.date(2026, 11, 27), 5),
    ]
    assert all(
        e.source == EarlierSessionSource.IMPORTED and e.client_import_id == done.pk
        for e in EarlierSession.objects.all()
    )
    # the bookings saw the visit had: the one 25 days after it was refused, with why
    assert done.booked_lines == [4] and [row["line"] for row in done.left_out] == [3, 6, 7, 8, 9, 10]
    left_out = {row["line"]: row["reason"] for row in done.left_out}
    assert left_out[3] == (
        "Olivia Smith had “Microneedling” on Fri 20 Nov 2026 (in the software used before); sessions must "
        "be at least 28 days apart. A manager can override with a reason."
    )
    assert Appointment.objects.get().start == local(world, 2026, 12, 18, 10)
    # the same file again: the visits had are in the histories already, nothing is kept twice
    again = visit_import_preview(read(world, rows, name="again.csv"))
    assert {row.line: row.outcome for row in again.rows if row.line in (2, 4, 5)} == {
        2: ALREADY,
        4: ALREADY,
        5: ALREADY,
    }
    assert {row.line: row.reason for row in again.rows}[2] == "In the client's history already."


def test_a_file_of_visits_had_only_is_kept_and_its_page_says_so(world, olivia_smith):
    client_import = read(world, [HEADER, olivia("20/11/2026", "10:00")])
    manager = BrowserClient()
    manager.force_login(world.manager.user)
    url = reverse("visit-import", args=[client_import.pk])
    page = manager.get(url).content.decode()
    assert '<li id="count-history"><strong>1</strong> visit had already: kept in the client' in page
    assert "Keep 1 visit had already</button>" in page and 'id="rows-history"' in page
    manager.post(url, {"action": "apply"})
    visit_import_book(client_import.pk)
    done = manager.get(url).content.decode()
    assert '<p id="history-kept"><strong>1 visit had already</strong>' in done
    client_page = manager.get(reverse("client-detail", args=[olivia_smith.pk])).content.decode()
    assert "In the software used before, by Dr Amara Lee" in client_page and "(import)" in client_page


def test_erasure_takes_the_sessions_had_off_and_a_merge_moves_them(world, olivia_smith):
    again = world.client(first_name="Olivia", last_name="Smith", email="olivia.s@example.com", phone="")
    noted(world, again, dt.date(2026, 11, 20))
    # the merge page says what each record holds, the session had before among it
    assert held_said(rows_held([again])[again.pk]) == "1 session had before"
    merge = client_merge(kept=olivia_smith, merged=again, by=world.manager)
    assert list(EarlierSession.objects.values_list("client", flat=True)) == [olivia_smith.pk]
    assert merge.moved == {"sessions had before": 1}
    with pytest.raises(ClinicError, match="had “Microneedling” on Fri 20 Nov 2026"):
        appointment_book(booking(world, olivia_smith, local(world, 2026, 12, 10, 10)))
    client_erase(client=olivia_smith, by=world.manager)
    assert EarlierSession.objects.count() == 0
    with pytest.raises(ClinicError, match="erased"):
        noted(world, olivia_smith, dt.date(2026, 11, 20))


def test_taking_off_a_session_noted_twice_is_once_and_what_reads_it_then_leaves_it_out(world, olivia_smith):
    from treatments.exports import earlier_session_rows
    from treatments.fhir import client_everything_as_fhir_bundle

    earlier = noted(world, olivia_smith, dt.date(2026, 11, 20))
    first = earlier_session_remove(earlier=earlier, by=world.desk)
    again = earlier_session_remove(earlier=earlier, by=world.manager)
    assert again.removed_by == world.desk and again.removed_at == first.removed_at
    start = local(world, 2026, 12, 10, 10)
    assert too_soon_after(olivia_smith, world.microneedling, start, start) == []
    assert len(list(earlier_session_rows(world.clinic))) == 1  # the heading only
    [procedure] = [
        e["resource"]
        for e in client_everything_as_fhir_bundle(olivia_smith)["entry"]
        if e["resource"]["resourceType"] == "Procedure"
    ]
    assert procedure["status"] == "entered-in-error"
    # an import of the same session keeps it again: the one taken off does not count
    client_import = read(world, [HEADER, olivia("20/11/2026", "10:00")])
    assert [row.outcome for row in visit_import_preview(client_import).rows] == [HISTORY]


def test_the_api_notes_lists_and_takes_off_sessions_had_before(world, olivia_smith):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(world.desk.user)
    made = api.post(
        "/api/v1/earlier-sessions/",
        {
            "client": olivia_smith.pk,
            "service": world.microneedling.pk,
            "given_on": "2026-11-20",
            "given_by": "Glow",
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["client"], body["service"], body["given_on"], body["source"], body["recorded_by"]) == (
        olivia_smith.pk,
        world.microneedling.pk,
        "2026-11-20",
        "elsewhere",
        world.desk.pk,
    )
    # a day ahead is a 400 the desk understands; another clinic's client is not found
    ahead = api.post(
        "/api/v1/earlier-sessions/",
        {"client": olivia_smith.pk, "service": world.microneedling.pk, "given_on": "2026-12-20"},
        format="json",
    )
    assert ahead.status_code == 400 and ahead.json()["code"] == "day_ahead"
    stranger = build_world(slug="other").client(first_name="Ana", last_name="Reyes")
    elsewhere = api.post(
        "/api/v1/earlier-sessions/",
        {"client": stranger.pk, "service": world.microneedling.pk, "given_on": "2026-11-20"},
        format="json",
    )
    assert elsewhere.status_code == 400 and "client" in elsewhere.json()
    listed = api.get(f"/api/v1/earlier-sessions/?client={olivia_smith.pk}").json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    # booking through the API is refused as too soon, saying where it was had
    booked = api.post(
        "/api/v1/appointments/",
        {
            "client": olivia_smith.pk,
            "service": world.microneedling.pk,
            "practitioner": world.dr_lee.pk,
            "start": "2026-12-10T10:00:00+00:00",
        },
        format="json",
    )
    assert booked.status_code == 400 and booked.json()["code"] == "too_soon"
    assert "(before coming here)" in booked.json()["detail"]
    assert api.post(f"/api/v1/earlier-sessions/{body['id']}/remove/").status_code == 204
    assert api.get(f"/api/v1/earlier-sessions/{body['id']}/").status_code == 404
