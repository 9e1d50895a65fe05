"""The pages staff and clients use pass axe-core's WCAG 2.1 A and AA rules and its best practices.

Run in Chromium over the demo clinic (`seed_demo`: a full calendar, a sick afternoon, failed mail),
so the pages hold what they hold in use: visits, flags, timelines, forms with their errors. axe-core
is the copy bundled in the `axe-playwright-python` package; nothing is fetched.
"""

import datetime as dt
import importlib
import io
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from django.apps import apps as django_apps
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clients.links import forms_url, unsubscribe_url
from clients.models import Client, ClientCondition, PhotoConsent
from clinic.models import Clinic, OutboxMessage, StaffMember, TimeOff
from treatments import demo_data
from treatments.links import client_visits_url, feedback_url, manage_url
from treatments.models import Appointment, AppointmentStatus

pytestmark = pytest.mark.browser
RULE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@pytest.fixture
def demo(transactional_db):
    # The live server's tests flush the database, which empties the body areas a data migration
    # wrote: written again here, as that migration writes them, before the demo is built on them.
    body_areas = importlib.import_module("treatments.migrations.0002_body_areas")
    body_areas.forward(django_apps, schema_editor=None)
    call_command("seed_demo", stdout=io.StringIO())


def violations(page) -> list[str]:
    """axe-core's violations on the page as loaded, one line each (empty when it passes)."""
    page.evaluate(AXE_SCRIPT)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        RULE_TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']}; e.g. {v['nodes'][0]['html'][:120]}"
        for v in result["violations"]
    ]


def audit(page, base_url: str, paths: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        page.goto(base_url + path)
        if problems := violations(page):
            found[path] = problems
    return found


def sign_in(page, live_server, username):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(demo_data.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")


def _a_visit_ahead() -> Appointment:
    return (
        Appointment.objects.filter(status=AppointmentStatus.BOOKED, client__email__gt="")
        .order_by("start")
        .last()
    )


def _the_visit_whose_confirmation_was_refused() -> Appointment:
    # the first refused: a later visit's confirmation to the same wrong address was refused too
    confirmation = (
        OutboxMessage.objects.filter(
            clinic__slug="lumen", template_key="booking_confirmation", address_refused_at__isnull=False
        )
        .order_by("due_at", "id")
        .first()
    )
    return Appointment.objects.get(pk=confirmation.topic.removeprefix("appointment:"))


def _a_visit_had() -> int:
    """A demo visit that was had, of a single treatment with no visit of it booked after."""
    from treatments.selectors import next_visit_after

    had = Appointment.objects.filter(
        status=AppointmentStatus.FULFILLED, course=None, clinic__slug="lumen"
    ).order_by("-start")
    return next(a.pk for a in had if (n := next_visit_after(a, now=timezone.now())) and n.booked is None)


def _a_visit_to_rate(*, rated: bool) -> Appointment:
    """A demo visit had, which its client rated (the lowest rating: the page says sorry) or not yet."""
    had = Appointment.objects.filter(status=AppointmentStatus.FULFILLED, clinic__slug="lumen")
    if rated:
        return had.filter(feedback__isnull=False).order_by("feedback__rating", "id").first()
    return had.filter(feedback__isnull=True).order_by("-start").first()


def _the_client_twice() -> tuple[int, int]:
    """The demo client's two records (the second from booking online): older, newer."""
    from clients.merging import likely_duplicates

    [pair] = likely_duplicates(Clinic.objects.get(slug="lumen"))
    return pair.older.pk, pair.newer.pk


def _the_client_who_had_a_session_elsewhere() -> int:
    from treatments.models import EarlierSession

    return EarlierSession.objects.get(clinic__slug="lumen").client_id


def _a_voucher_spent() -> int:
    from treatments.models import GiftVoucher

    return GiftVoucher.objects.get(code="XMAS-2DEC", clinic__slug="lumen").pk


def _yesterday(clinic) -> dt.date:
    return timezone.localdate(timezone=clinic.zone) - dt.timedelta(days=1)


def test_the_front_desks_pages_pass(live_server, demo, browser_page):
    page = browser_page
    page.goto(live_server.url + "/accounts/login/")
    assert violations(page) == []
    sign_in(page, live_server, "frontdesk")
    visit = _a_visit_ahead()
    refused = _the_visit_whose_confirmation_was_refused()
    refused_day = timezone.localtime(refused.start, refused.clinic.zone).date()
    found = audit(
        page,
        live_server.url,
        [
            "/",
            "/calendar/",
            "/calendar/?view=week",
            "/clients/",
            "/clients/?q=a",
            reverse("client-detail", args=[visit.client_id]),
            reverse("client-edit", args=[visit.client_id]),
            reverse("appointment-detail", args=[visit.pk]),
            # a client whose address was refused, flagged on each page the desk meets them
            f"/?date={refused_day.isoformat()}",
            reverse("client-detail", args=[refused.client_id]),
            reverse("appointment-detail", args=[refused.pk]),
            "/book/",
            "/book/course/",
            "/time-off/",
            "/manage/outbox/",  # not theirs: the page that says so
            "/appointments/999999/",
            # a visit the client came to, with their next one to book
            reverse("appointment-detail", args=[_a_visit_had()]),
            # one client twice: the list of such pairs, the second record's page, the two compared
            "/clients/duplicates/",
            reverse("client-detail", args=[_the_client_twice()[1]]),
            reverse("client-same-as", args=_the_client_twice()),
            # a client who had a treatment elsewhere: listed under "Had before"
            reverse("client-detail", args=[_the_client_who_had_a_session_elsewhere()]),
            # telling a practitioner's clients they run late: whose, then their visits later today
            reverse("running-late"),
            reverse("own-password"),
            f"{reverse('running-late')}?practitioner={visit.practitioner_id}",
            # the day's money: today's, and yesterday's with its payments and a refund
            reverse("takings"),
            f"{reverse('takings')}?day={_yesterday(visit.clinic)}",
            reverse("vouchers"),
            reverse("voucher-detail", args=[_a_voucher_spent()]),
        ],
    )
    # and a booking form, opened from a free time on the next day that has one (tomorrow may be a
    # Sunday, when nobody works), sent empty: with its errors shown
    today = timezone.localdate(timezone=visit.clinic.zone)
    for ahead in range(1, 8):
        page.goto(f"{live_server.url}/calendar/?date={(today + dt.timedelta(days=ahead)).isoformat()}")
        if page.locator("a.free").count():
            break
    page.locator("a.free").first.click()
    page.locator("#booking-form").evaluate("form => form.noValidate = true")
    page.get_by_role("button", name="Book", exact=True).click()
    page.wait_for_load_state()
    if problems := violations(page):
        found["/book/ sent empty"] = problems
    assert found == {}


def test_the_managers_pages_pass(live_server, demo, browser_page):
    page = browser_page
    sign_in(page, live_server, "manager")
    # a client whose intake notes something, read as a practitioner reads it before treating
    noted = ClientCondition.objects.order_by("id").first().client_id
    visit = _a_visit_ahead()
    caller = Client.objects.create(  # a caller who asks to be erased: nothing health-related held
        clinic=visit.clinic, first_name="Ravi", last_name="Caller", phone="07700 900456"
    )
    assert (
        audit(
            page,
            live_server.url,
            [
                reverse("client-erase", args=[noted]),  # refused: health records
                reverse("client-erase", args=[caller.pk]),  # the form
                "/manage/outbox/",
                "/manage/report/",
                "/manage/keeping/",  # the demo's two former clients
                "/manage/export/",
                "/manage/emails/",
                "/manage/emails/booking_reminder/",
                "/manage/staff/",
                "/mailbox/",
                reverse("client-detail", args=[noted]),
                reverse("client-intake-and-consent", args=[noted]),
                reverse("appointment-detail", args=[visit.pk]),
                reverse("appointment-detail", args=[_a_visit_had()]),  # paid: a refund can be given
                reverse("client-same-as", args=_the_client_twice()),  # with the merge's choices
            ],
        )
        == {}
    )


def test_a_lot_recall_passes_both_ways(live_server, demo, browser_page):
    """A lot given in the demo: the form to record its recall, then the form to tell its clients."""
    from treatments.lot_recalls import lot_recall_record
    from treatments.models import MesotherapyRecord, ProductLot

    given = MesotherapyRecord.objects.order_by("id").first()
    lot = ProductLot.objects.get(lot_number=given.lot_number, product__name=given.product_name)
    page = browser_page
    sign_in(page, live_server, "manager")
    lot_page = f"{reverse('lot-recall')}?lot={lot.pk}"
    assert audit(page, live_server.url, [lot_page]) == {}
    assert page.locator("#recall-record-form").count() == 1
    lot_recall_record(
        lot=lot, by=StaffMember.objects.get(user__username="manager"), note="Sterility not assured."
    )
    assert audit(page, live_server.url, [lot_page]) == {}
    assert page.locator("#recall-notify-form").count() == 1
    # the stock page, with the recalled lot to throw away, and today's list saying so
    assert audit(page, live_server.url, [reverse("stock"), "/"]) == {}
    assert page.locator("#stock-alerts").count() == 1


def test_the_practitioners_pages_pass(live_server, demo, browser_page):
    """A visit of theirs whose consent waits for their signature: the form to sign it, the client's
    answers and signed consents."""
    from clients.selectors import consent_signatures

    practitioner = StaffMember.objects.get(user__username="practitioner")
    ahead = Appointment.objects.filter(
        practitioner=practitioner, status=AppointmentStatus.BOOKED, start__gt=timezone.now()
    ).select_related("client", "service")
    visit = next(
        a
        for a in ahead.order_by("start")
        if any(
            c.signable
            for c in consent_signatures(
                client=a.client,
                modalities={p.modality for p in a.service.protocols.all()},
                member=practitioner,
            )
        )
    )
    page = browser_page
    sign_in(page, live_server, "practitioner")
    found = audit(
        page,
        live_server.url,
        [
            "/",
            "/my-calendar/",
            reverse("appointment-detail", args=[visit.pk]),
            reverse("client-intake-and-consent", args=[visit.client_id]),
        ],
    )
    assert page.get_by_role("button", name="Sign as the practitioner").count() >= 1
    # a client's photos over time (the demo photographs a client at each visit of one service), and
    # the first and latest side by side, each photo loaded
    from django.db.models import Count

    from treatments.models import SessionPhoto

    photographed = (
        SessionPhoto.objects.filter(session__clinic__slug="lumen")
        .values("session__client_id")
        .annotate(photos=Count("id"))
        .filter(photos__gte=2)
        .order_by("session__client_id")
        .values_list("session__client_id", flat=True)
        .first()
    )
    album = reverse("client-photos", args=[photographed])
    found |= audit(page, live_server.url, [album])
    page.get_by_role("checkbox").first.check()
    page.get_by_role("checkbox").last.check()
    page.get_by_role("button", name="Compare the two ticked").click()
    page.locator("#comparison").wait_for()
    found |= {page.url: problems} if (problems := violations(page)) else {}
    loaded = page.eval_on_selector_all(
        "#comparison img", "imgs => imgs.map(i => i.complete && i.naturalWidth)"
    )
    assert len(loaded) == 2 and all(width == 160 for width in loaded)
    assert found == {}


def _christmas_day_online() -> str:
    """Lumen's booking page on its Christmas Day, when the clinic is closed."""
    from clinic.models import ClinicClosure

    closure = ClinicClosure.objects.select_related("clinic").get(clinic__slug=demo_data.CLINIC["slug"])
    clinic = closure.clinic
    online = clinic.services.filter(bookable_online=True).order_by("id").first()
    day = timezone.localtime(closure.start, clinic.zone).date().isoformat()
    return f"/p/{clinic.slug}/book/{online.pk}/?date={day}"


def test_the_clients_pages_pass(live_server, demo, browser_page):
    page = browser_page
    visit = _a_visit_ahead()
    client = Client.objects.get(pk=visit.client_id)
    online = visit.clinic.services.filter(bookable_online=True).order_by("id").first()
    found = audit(
        page,
        live_server.url,
        [
            f"/p/{visit.clinic.slug}/",
            f"/p/{visit.clinic.slug}/book/{online.pk}/",
            # the client's details and their note for the clinic, for a time chosen
            f"/p/{visit.clinic.slug}/book/{online.pk}/details/?start="
            f"{(timezone.localdate(timezone=visit.clinic.zone) + dt.timedelta(days=3)).isoformat()}T10:00"
            f"&practitioner={visit.practitioner_id}",
            f"/p/{visit.clinic.slug}/book/{online.pk}/waitlist/",  # nothing suits: their details and days
            urlsplit(manage_url(visit)).path,
            urlsplit(manage_url(visit)).path + "?ask=cancel",
            # how a visit went: asked, then answered
            urlsplit(feedback_url(_a_visit_to_rate(rated=False))).path,
            urlsplit(feedback_url(_a_visit_to_rate(rated=True))).path,
            urlsplit(client_visits_url(client)).path,
            # the photos they agreed to, each to withdraw
            urlsplit(client_visits_url(PhotoConsent.objects.order_by("id").first().client)).path,
            _christmas_day_online(),  # closed: the page says so
            urlsplit(forms_url(client, modalities=["microneedling"])).path,
            urlsplit(unsubscribe_url(client)).path,
            "/p/manage/not-a-real-token/",
            "/p/no-such-clinic/",
        ],
    )
    assert found == {}


def test_on_a_tablet_the_calendars_columns_are_equal_whatever_their_headings_say(
    live_server, demo, browser_page
):
    page = browser_page
    page.set_viewport_size({"width": 820, "height": 1180})
    sign_in(page, live_server, "frontdesk")
    # the demo's afternoon off (from the day after tomorrow, the first with visits) gives one column a
    # long heading
    off = TimeOff.objects.get(staff_member__clinic__slug=demo_data.CLINIC["slug"], reason="Training course")
    day = timezone.localtime(off.start, off.staff_member.clinic.zone).date()
    page.goto(f"{live_server.url}/calendar/?date={day.isoformat()}")
    assert page.locator(".off-note").count() == 1
    widths = page.locator(".calendar .column").evaluate_all("columns => columns.map(c => c.offsetWidth)")
    assert len(widths) == 3 and max(widths) - min(widths) <= 1, widths


def test_on_a_phone_each_answer_box_sits_before_its_words_at_a_thumbs_size(live_server, demo, browser_page):
    # given a client's forms link opened on a phone (the intake's yes/no questions, the consents' and
    # the photos' checkboxes)
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    clinic = Clinic.objects.get(slug=demo_data.CLINIC["slug"])  # Lumen, whose forms ask yes or no
    client = Client.objects.create(clinic=clinic, first_name="Ada", last_name="New", email="ada@example.com")
    page.goto(live_server.url + urlsplit(forms_url(client, modalities=["microneedling"])).path)
    boxes = page.locator("label > input[type=radio], label > input[type=checkbox]").evaluate_all(
        """inputs => inputs.map(input => {
            const box = input.getBoundingClientRect(), label = input.parentElement.getBoundingClientRect();
            const words = document.createRange();
            words.selectNodeContents(input.parentElement);
            words.setStartAfter(input);
            const text = words.getBoundingClientRect();
            return {type: input.type, size: box.width, boxTop: box.top, boxBottom: box.bottom,
                    boxRight: box.right, textLeft: text.left, textTop: text.top, labelHeight: label.height};
        })"""
    )
    assert {b["type"] for b in boxes} == {"radio", "checkbox"}
    for box in boxes:
        # then each box is big enough to hit, before its words and on their first line, not above them
        assert 18 <= box["size"] <= 32, box
        assert box["boxRight"] <= box["textLeft"], box
        assert box["boxTop"] <= box["textTop"] + 12 and box["textTop"] < box["boxBottom"], box
    yes_no = [b for b in boxes if b["type"] == "radio"]
    assert yes_no and max(b["labelHeight"] for b in yes_no) < 60


def test_importing_clients_passes_from_upload_to_done(live_server, demo, browser_page):
    """A file of every kind of row: new, already a client, twice, refused, an address to check."""
    from clients.imports import client_import_apply, client_import_read

    manager = StaffMember.objects.get(user__username="manager")
    known = Client.objects.filter(clinic=manager.clinic, email__gt="").order_by("id").first()
    rows = [
        "First name,Last name,Email,Mobile,DOB,Marketing",
        "Jane,Doe,jane@example.com,07700 900001,25/03/1985,yes",
        f"{known.first_name},{known.last_name},{known.email},,,",
        "Jane,Again,jane@example.com,,,",
        "No,Contact,,n/a,,",
        "Amy,Typo,amy@gmial.com,,,maybe",
        "Amy,Typo,amy@gmial.com,,,no",
    ]
    client_import = client_import_read(
        clinic=manager.clinic, uploaded_by=manager, file_name="old.csv", data="\r\n".join(rows).encode()
    )
    page = browser_page
    sign_in(page, live_server, "manager")
    preview = reverse("client-import", args=[client_import.pk])
    assert audit(page, live_server.url, [reverse("client-import-start"), preview]) == {}
    assert page.locator("#rows-refused").count() == page.locator("#rows-warned").count() == 1
    client_import_apply(client_import, actor=manager)
    assert audit(page, live_server.url, [preview, reverse("client-import-start")]) == {}
    assert page.locator("#imports").count() == 1


def test_the_calendars_move_dialog_passes(live_server, demo, browser_page):
    page = browser_page
    sign_in(page, live_server, "frontdesk")
    visit = _a_visit_ahead()
    day = timezone.localtime(visit.start, visit.clinic.zone).date()
    page.goto(f"{live_server.url}/calendar/?date={day.isoformat()}")
    block = page.locator(f"[data-appointment-id='{visit.pk}']")
    other = page.locator(
        f".column-body[data-practitioner]:not([data-practitioner='{visit.practitioner_id}'])"
    ).first
    block.scroll_into_view_if_needed()
    start, target = block.bounding_box(), other.bounding_box()
    page.mouse.move(start["x"] + 10, start["y"] + 5)
    page.mouse.down()
    page.mouse.move(target["x"] + 20, target["y"] + 60, steps=8)
    page.mouse.up()
    assert page.get_by_role("dialog", name="Move this visit?").is_visible()
    assert violations(page) == []


def test_the_clinics_news_passes_written_and_sent(live_server, demo, browser_page):
    from treatments.models import NewsAudience
    from treatments.news import news_send, news_write

    manager = StaffMember.objects.get(user__username="manager")
    Client.objects.filter(clinic=manager.clinic, email__gt="").update(accepts_marketing_email=True)
    news = news_write(
        clinic=manager.clinic,
        by=manager,
        subject="Our new LED treatment",
        text="From January we offer LED light therapy.",
        audience=NewsAudience.EVERYONE,
    )
    page = browser_page
    sign_in(page, live_server, "manager")
    detail = reverse("news-detail", args=[news.pk])
    assert audit(page, live_server.url, [reverse("news"), detail]) == {}
    assert page.locator("#news-recipients").count() == 1
    news_send(news, by=manager)
    assert audit(page, live_server.url, [detail, reverse("news")]) == {}
    assert page.locator("#news-written").count() == 1


def test_importing_visits_passes_from_upload_to_done(live_server, demo, browser_page):
    """A file with a visit to book, a name to say, a cancelled row, one had (kept) and one over that is
    not kept: every state of the page."""
    from django.utils import timezone

    from treatments.visit_imports import visit_import_book, visit_import_queue, visit_import_read

    manager = StaffMember.objects.get(user__username="manager")
    clinic = manager.clinic
    known = Client.objects.filter(clinic=clinic, email__gt="").order_by("id").first()
    ahead = timezone.localdate(timezone=clinic.zone) + dt.timedelta(days=40)
    who, day = f"{known.full_name},{known.email}", f"{ahead:%d/%m/%Y}"
    rows = [
        "Client,Email,Service,Staff,Date,Time,Status",
        f"{who},Microcurrent face workout,Sam Rivera,{day},23:00,",
        f"{who},MN facial,Sam Rivera,{day},10:00,",
        f"{who},Microcurrent face workout,Sam Rivera,{day},12:00,Cancelled",
        f"{who},Microcurrent face workout,Sam Rivera,01/01/2020,12:00,",  # had: kept in their history
        "Nobody Known,nobody@example.com,Microcurrent face workout,Sam Rivera,01/02/2020,12:00,",  # not kept
    ]
    client_import = visit_import_read(
        clinic=clinic, uploaded_by=manager, file_name="diary.csv", data="\r\n".join(rows).encode()
    )
    page = browser_page
    sign_in(page, live_server, "manager")
    preview = reverse("visit-import", args=[client_import.pk])
    assert audit(page, live_server.url, [reverse("visit-import-start"), preview]) == {}
    assert page.locator("#service-names").count() == page.locator("#rows-not-coming").count() == 1
    assert page.locator("#rows-history").count() == page.locator("#rows-past").count() == 1
    visit_import_queue(client_import, actor=manager)
    assert audit(page, live_server.url, [preview]) == {}
    assert page.locator("#import-booking").count() == 1
    visit_import_book(client_import.pk)
    page.wait_for_selector("#import-done", timeout=15_000)  # the waiting page shows the result itself
    assert audit(page, live_server.url, [reverse("visit-import-start"), preview]) == {}
    assert page.locator("#rows-left-out").count() == page.locator("#history-kept").count() == 1
