"""Aftercare: the plan follows what was recorded; managers' wording; one-click unsubscribe (RFC 8058)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from clients.models import Client
from clinic.errors import ClinicError
from clinic.message_templates import message_template_save
from clinic.models import MessageTemplate, OutboxMessage, OutboxStatus
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from treatments.aftercare import aftercare_install_default_plan, step_due_at
from treatments.booking import BookingRequest, appointment_book
from treatments.models import (
    AftercareStep,
    Appointment,
    BodyArea,
    MesotherapyRecord,
    MicrocurrentRecord,
    MicroneedlingRecord,
    Product,
    ProductLot,
    TreatmentSession,
)
from treatments.sessions import treatment_session_sign_off

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world()
    world.clinic.email = "hello@lumen.example"
    world.clinic.save(update_fields=["email"])
    for service in (world.microneedling, world.mesotherapy):
        for protocol in service.protocols.all():
            aftercare_install_default_plan(protocol)
    return world


def needled_session(world, *depths, client=None, hour=10, day=(2026, 12, 7)):
    client = client or world.client(first_name="Olivia", last_name="O'Brien", email="olivia@example.com")
    appointment = appointment_book(
        BookingRequest(
            client=client,
            service=world.deep_microneedling,
            practitioner=world.dr_lee,
            start=local(world, *day, hour),
        )
    )
    session = TreatmentSession.objects.create(
        clinic=world.clinic, appointment=appointment, client=client, practitioner=world.dr_lee
    )
    areas = list(BodyArea.objects.order_by("code")[: len(depths)])
    for area, depth in zip(areas, depths, strict=True):
        MicroneedlingRecord.objects.create(
            session=session, area=area, device=world.pens[0], depth_mm=Decimal(depth), passes=3
        )
    return session


def aftercare_keys(session):
    return sorted(
        OutboxMessage.objects.filter(dedupe_key__startswith=f"session:{session.pk}:aftercare:").values_list(
            "template_key", flat=True
        )
    )


def test_deeper_microneedling_gets_the_longer_sequence(world):
    shallow = treatment_session_sign_off(session=needled_session(world, "0.5", "1.0"), by=world.dr_lee)
    deep = treatment_session_sign_off(session=needled_session(world, "0.5", "1.5", hour=14), by=world.dr_lee)
    standard = [
        "aftercare_microneedling_day0",
        "aftercare_microneedling_day1",
        "aftercare_microneedling_day3",
        "aftercare_rebook",
    ]
    assert aftercare_keys(shallow) == standard
    assert aftercare_keys(deep) == sorted(
        [*standard, "aftercare_microneedling_deep_day5", "aftercare_microneedling_deep_day7"]
    )
    rows = OutboxMessage.objects.filter(dedupe_key__startswith=f"session:{deep.pk}:")
    assert all(not row.is_essential for row in rows)
    assert {row.client_id for row in rows} == {deep.client_id}


def test_later_days_go_at_ten_local_even_across_the_clock_change(world):
    [day1] = AftercareStep.objects.filter(
        protocol=world.microneedling_protocol, template_key="aftercare_microneedling_day1"
    )
    [rebook] = AftercareStep.objects.filter(
        protocol=world.microneedling_protocol, is_rebooking_invitation=True
    )
    # treated and signed off on Saturday 24 October 2026 at 18:00 BST; the clocks go back that night
    treated = local(world, 2026, 10, 24, 18)
    when = {"treated_at": treated, "signed_off_at": treated, "zone": world.clinic.zone}
    assert step_due_at(day1, **when) == dt.datetime(
        2026, 10, 25, 10, 0, tzinfo=dt.UTC
    )  # 10:00 GMT, not 09:00
    # the rebooking invitation waits the protocol's minimum interval (28 days), not its own offset
    assert step_due_at(rebook, **when) == dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)


def test_days_count_from_the_treatment_when_the_record_is_signed_off_later(world):
    # given a deep session on Monday 7 December at 10:30, its record signed off on Wednesday at 08:00
    session = needled_session(world, "1.5")
    TreatmentSession.objects.filter(pk=session.pk).update(started_at=local(world, 2026, 12, 7, 10, 30))
    session.refresh_from_db()
    with time_machine.travel(local(world, 2026, 12, 9, 8), tick=False):
        treatment_session_sign_off(session=session, by=world.dr_lee)
    rows = {
        m.template_key: m
        for m in OutboxMessage.objects.filter(dedupe_key__startswith=f"session:{session.pk}:aftercare:")
    }
    # then day 0 and day 1 are not sent (their advice was for days already over), and say so
    for key, day in (
        ("aftercare_microneedling_day0", "Mon 7 Dec"),
        ("aftercare_microneedling_day1", "Tue 8 Dec"),
    ):
        assert rows[key].status == OutboxStatus.CANCELLED
        assert rows[key].last_error == f"Not sent: its day ({day}) was over when the record was signed off."
    # and the later days keep the treatment's calendar, not the sign-off's
    pending = {key: m.due_at for key, m in rows.items() if m.status == OutboxStatus.PENDING}
    assert pending == {
        "aftercare_microneedling_day3": local(world, 2026, 12, 10, 10),
        "aftercare_microneedling_deep_day5": local(world, 2026, 12, 12, 10),
        "aftercare_microneedling_deep_day7": local(world, 2026, 12, 14, 10),
        "aftercare_rebook": local(world, 2027, 1, 4, 10),
    }
    assert rows["aftercare_rebook"].context["session_date"] == "Monday 7 December 2026"


def test_a_day_signed_off_after_its_hour_goes_at_once(world):
    # treated on Monday 7 December, signed off on Tuesday at 18:00: day 1's advice still holds that day
    session = needled_session(world, "0.5")
    TreatmentSession.objects.filter(pk=session.pk).update(started_at=local(world, 2026, 12, 7, 10, 30))
    session.refresh_from_db()
    signed_off = local(world, 2026, 12, 8, 18)
    with time_machine.travel(signed_off, tick=False):
        treatment_session_sign_off(session=session, by=world.dr_lee)
    rows = OutboxMessage.objects.filter(dedupe_key__startswith=f"session:{session.pk}:aftercare:")
    day1 = rows.get(template_key="aftercare_microneedling_day1")
    assert day1.status == OutboxStatus.PENDING and day1.due_at == signed_off
    assert rows.get(template_key="aftercare_microneedling_day0").status == OutboxStatus.CANCELLED
    assert rows.get(template_key="aftercare_microneedling_day3").due_at == local(world, 2026, 12, 10, 10)


def test_day_zero_is_delivered_with_unsubscribe_headers_and_unescaped_text(world, smtp_settings, smtp_server):
    treatment_session_sign_off(session=needled_session(world, "1.5"), by=world.dr_lee)
    deliver_due_messages_task()
    [aftercare] = [m for m in smtp_server.messages if "aftercare" in m["Subject"].lower()]
    unsubscribe = aftercare["List-Unsubscribe"].strip()  # a long header may be folded
    assert unsubscribe.startswith("<http") and "/clients/u/" in unsubscribe
    assert aftercare["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = aftercare.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert "to 1.5 mm" in text
    assert aftercare["To"] == "Olivia O'Brien <olivia@example.com>"
    html = aftercare.get_body(preferencelist=("html",)).get_content()
    assert "<li>Stay out of the sun.</li>" in html
    # booking mail carries no unsubscribe header: it is not optional
    [confirmation] = [m for m in smtp_server.messages if m["Subject"].startswith("Booked")]
    assert confirmation["List-Unsubscribe"] is None


def test_mesotherapy_aftercare_names_the_products_and_lots(world, smtp_settings, smtp_server):
    client = world.client(first_name="Mia", email="mia@example.com")
    product = Product.objects.create(clinic=world.clinic, name="Hyaluronic cocktail")
    lot = ProductLot.objects.create(product=product, lot_number="HA-2291", expiry_date=dt.date(2027, 6, 30))
    session = TreatmentSession.objects.create(clinic=world.clinic, client=client, practitioner=world.dr_lee)
    MesotherapyRecord.objects.create(
        session=session,
        area=BodyArea.objects.order_by("code").first(),
        lot=lot,
        product_name=product.name,
        lot_number=lot.lot_number,
        expiry_date=lot.expiry_date,
        volume_ml=Decimal("1.50"),
        depth_mm=Decimal("2.00"),
        technique="papule",
    )
    treatment_session_sign_off(session=session, by=world.dr_lee)
    deliver_due_messages_task()
    [message] = smtp_server.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Hyaluronic cocktail (lot HA-2291), 1.50 ml" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<li>Hyaluronic cocktail (lot HA-2291), 1.50 ml" in html


def test_the_managers_wording_replaces_the_default_for_their_clinic_only(world, smtp_settings, smtp_server):
    MessageTemplate.objects.create(
        clinic=world.clinic,
        key="aftercare_microneedling_day0",
        subject="Care tips from {{ clinic.name }}",
        body_text="Hi {{ client_first_name }}, cool water only tonight.",
        body_html="<p>Hi {{ client_first_name }}, <b>cool water</b> only tonight.</p>",
    )
    treatment_session_sign_off(session=needled_session(world, "0.5"), by=world.dr_lee)
    deliver_due_messages_task()
    [aftercare] = [m for m in smtp_server.messages if m["Subject"].startswith("Care tips")]
    assert aftercare["Subject"] == "Care tips from Lumen Skin Clinic"
    assert aftercare.get_body(preferencelist=("plain",)).get_content().strip() == (
        "Hi Olivia, cool water only tonight."
    )
    assert "<b>cool water</b>" in aftercare.get_body(preferencelist=("html",)).get_content()


def test_a_session_with_nothing_recorded_cannot_be_signed_off_and_sends_nothing(world):
    session = needled_session(world)
    before = OutboxMessage.objects.count()
    with pytest.raises(ClinicError, match="Record at least one treated area"):
        treatment_session_sign_off(session=session, by=world.dr_lee)
    session.refresh_from_db()
    assert session.signed_off_at is None
    assert OutboxMessage.objects.count() == before


def test_front_desk_cannot_sign_a_session_off(world):
    with pytest.raises(ClinicError, match="Only Dr Amara Lee, who treated the client, or a manager"):
        treatment_session_sign_off(session=needled_session(world, "0.5"), by=world.desk)


def test_one_click_unsubscribe_stops_aftercare_but_not_booking_mail(
    world, client, smtp_settings, smtp_server
):
    session = treatment_session_sign_off(session=needled_session(world, "1.5"), by=world.dr_lee)
    pending = OutboxMessage.objects.filter(
        client_id=session.client_id, is_essential=False, status=OutboxStatus.PENDING
    )
    assert pending.count() == 6  # day 0, 1, 3, 5, 7 and the rebooking invitation, none sent yet
    url = (
        OutboxMessage.objects.filter(client_id=session.client_id, is_essential=False)
        .first()
        .context["unsubscribe_url"]
    )
    path = url.split("://", 1)[1].partition("/")[2]
    # a link scanner's GET changes nothing
    page = client.get("/" + path)
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    assert Client.objects.get(pk=session.client_id).unsubscribed_at is None
    # the mailbox provider's one-click POST (RFC 8058), with no session and no CSRF token
    response = client.post(
        "/" + path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and b"You are unsubscribed" in response.content
    olivia = Client.objects.get(pk=session.client_id)
    assert olivia.unsubscribed_at is not None and not olivia.accepts_aftercare_email
    assert pending.count() == 0
    # a later session writes no aftercare, but a booking still sends its confirmation
    later = treatment_session_sign_off(
        session=needled_session(world, "0.5", client=olivia, day=(2027, 1, 11)), by=world.dr_lee
    )
    assert aftercare_keys(later) == []
    deliver_due_messages_task()
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert sum(s.startswith("Booked") for s in subjects) == 2
    assert not any("aftercare" in s.lower() for s in subjects[1:])


def test_a_forged_unsubscribe_link_is_refused_plainly(client, world):
    response = client.post(reverse("client-unsubscribe", args=["not-a-token"]))
    assert response.status_code == 404
    assert b"This link is not valid" in response.content


def test_booking_again_cancels_the_pending_rebooking_invitation(world):
    session = treatment_session_sign_off(session=needled_session(world, "0.5"), by=world.dr_lee)
    rebook = OutboxMessage.objects.get(client_id=session.client_id, template_key="aftercare_rebook")
    assert rebook.status == OutboxStatus.PENDING
    appointment_book(
        BookingRequest(
            client=session.client,
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2027, 1, 11, 10),
        )
    )
    rebook.refresh_from_db()
    assert rebook.status == OutboxStatus.CANCELLED


def test_the_appointment_page_shows_its_booking_mail_and_its_aftercare(world, client):
    session = treatment_session_sign_off(session=needled_session(world, "0.5"), by=world.dr_lee)
    client.force_login(world.desk.user)
    page = client.get(reverse("appointment-detail", args=[session.appointment_id])).content.decode()
    timeline = page[page.index("<h2>Messages</h2>") : page.index("<h2>History</h2>")]
    expected = ["booking_confirmation", "booking_reminder", "aftercare_microneedling_day0"]
    expected.append("aftercare_rebook")
    for key in expected:
        assert key in timeline
    # each aftercare email says which visit it follows, as each booking email does
    signed_off = timezone.localtime(session.signed_off_at, world.clinic.zone)
    after = (
        f'title="Microneedling">After the visit of {signed_off:%A} {signed_off.day} {signed_off:%B %Y}</span>'
    )
    assert timeline.count(after) == 4  # day 0, 1, 3 and the rebooking invitation


# --- a visit with two treatments: one email a day ---------------------------------------------------


def combined_session(world, depth="1.5"):
    """Microneedling with microcurrent in one visit (as the demo's 'Microneedling + microcurrent lift')."""
    microcurrent = world.microcurrent.protocols.get()
    aftercare_install_default_plan(microcurrent)
    world.deep_microneedling.protocols.add(microcurrent)
    session = needled_session(world, depth)
    MicrocurrentRecord.objects.create(
        session=session,
        area=BodyArea.objects.order_by("code").last(),
        device=world.microcurrent_unit,
        current_ua=300,
        frequency_hz=Decimal("0.50"),
        waveform="square",
        minutes=10,
    )
    return session


def test_a_visit_with_two_treatments_gets_one_aftercare_email_at_a_time(world, smtp_settings, smtp_server):
    session = treatment_session_sign_off(session=combined_session(world), by=world.dr_lee)
    # day 0 of both protocols is one email; microneedling's later days and its invitation stay its own
    assert aftercare_keys(session) == sorted(
        [
            "aftercare_several_treatments",
            "aftercare_microneedling_day1",
            "aftercare_microneedling_day3",
            "aftercare_microneedling_deep_day5",
            "aftercare_microneedling_deep_day7",
            "aftercare_rebook",
        ]
    )
    deliver_due_messages_task()
    [aftercare] = [m for m in smtp_server.messages if "aftercare" in m["Subject"].lower()]
    assert aftercare["Subject"] == "Your aftercare for today's treatments"
    assert aftercare["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = aftercare.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    # one greeting and one footer; each treatment's advice under its name, the areas its own
    assert text.count("Hello Olivia,") == 1
    assert text.count("To stop these emails") == 1
    assert "Thank you for your visit with Dr Amara Lee today." in text
    needled_area, microcurrent_area = (
        BodyArea.objects.order_by("code")[0],
        BodyArea.objects.order_by("code").last(),
    )
    assert f"Microneedling:\nWe treated {needled_area.name} to 1.5 mm." in text
    assert "Stay out of the sun." in text
    assert f"Microcurrent:\nWe worked on {microcurrent_area.name}.\n" in text
    assert max(text.index("Microneedling:"), text.index("Microcurrent:")) < text.index("To stop these emails")
    html = aftercare.get_body(preferencelist=("html",)).get_content()
    assert html.count("<p>Hello Olivia,</p>") == 1
    assert '<h2 style="font-size: 1.1em; margin-bottom: 0">Microneedling</h2>' in html
    assert "<li>Stay out of the sun.</li>" in html
    assert f"<p>We worked on {microcurrent_area.name}.</p>" in html


def test_the_visits_page_names_the_treatments_of_its_one_aftercare_email(world, client):
    session = treatment_session_sign_off(session=combined_session(world), by=world.dr_lee)
    client.force_login(world.desk.user)
    page = client.get(reverse("appointment-detail", args=[session.appointment_id])).content.decode()
    assert 'title="Microcurrent, Microneedling">After the visit of' in page
    assert "Aftercare several treatments" in page


def test_a_combined_email_uses_each_treatments_wording_as_the_clinic_set_it(
    world, smtp_settings, smtp_server
):
    message_template_save(
        clinic=world.clinic,
        key="aftercare_microcurrent_day0",
        subject="After microcurrent",
        body_text=(
            "Hi {{ client_first_name }}!\n"
            "{% block section %}Sip water & rest, {{ areas.0 }}.{% endblock %}\nBye"
        ),
        body_html="",
        by=world.manager,
    )
    treatment_session_sign_off(session=combined_session(world), by=world.dr_lee)
    deliver_due_messages_task()
    [aftercare] = [m for m in smtp_server.messages if "aftercare" in m["Subject"].lower()]
    text = aftercare.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    area = BodyArea.objects.order_by("code").last().name
    assert f"Microcurrent:\nSip water & rest, {area}.\n" in text
    assert "Hi Olivia!" not in text and "Bye" not in text
    # a wording with no HTML body is its text in the HTML email, escaped
    html = aftercare.get_body(preferencelist=("html",)).get_content()
    assert f"<p>Sip water &amp; rest, {area}.</p>" in html


def test_a_manager_cannot_save_a_treatments_aftercare_without_its_section(world):
    with pytest.raises(ClinicError, match=r"Keep \{% block section %\} … \{% endblock %\} around the advice"):
        message_template_save(
            clinic=world.clinic,
            key="aftercare_microneedling_day1",
            subject="Day 1",
            body_text="Hello {{ client_first_name }}, sunscreen every morning.",
            body_html="",
            by=world.manager,
        )
    assert not MessageTemplate.objects.filter(clinic=world.clinic).exists()
    # the rebooking invitation is never combined, so it has no section to keep
    message_template_save(
        clinic=world.clinic,
        key="aftercare_rebook",
        subject="Time to rebook",
        body_text="Hello {{ client_first_name }}, book again: {{ rebook_url }}",
        body_html="",
        by=world.manager,
    )


def test_a_wording_stored_without_its_section_is_included_whole(world, smtp_settings, smtp_server):
    # (a row from before sections, or written around the form): nothing of it is lost
    MessageTemplate.objects.create(
        clinic=world.clinic,
        key="aftercare_microcurrent_day0",
        subject="After microcurrent",
        body_text="Drink water tonight.",
    )
    treatment_session_sign_off(session=combined_session(world), by=world.dr_lee)
    deliver_due_messages_task()
    [aftercare] = [m for m in smtp_server.messages if "aftercare" in m["Subject"].lower()]
    text = aftercare.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert "Microcurrent:\nDrink water tonight.\n" in text


def test_a_merge_keeps_one_rebooking_invitation_and_booking_again_cancels_it(world):
    from clients.merging import client_merge

    first = world.client(first_name="Olivia", last_name="O'Brien", email="olivia@example.com")
    again = world.client(first_name="Olivia", last_name="O'Brien", email="liv@example.com")
    treatment_session_sign_off(
        session=needled_session(world, "0.5", client=first, day=(2026, 12, 2)), by=world.dr_lee
    )
    treatment_session_sign_off(
        session=needled_session(world, "0.5", client=again, day=(2026, 12, 9)), by=world.dr_lee
    )
    Appointment.objects.update(status="fulfilled")  # both visits had
    earlier, later = OutboxMessage.objects.filter(template_key="aftercare_rebook").order_by("due_at", "id")
    assert (earlier.client_id, later.client_id) == (first.pk, again.pk)

    client_merge(kept=first, merged=again, by=world.manager)
    earlier.refresh_from_db()
    later.refresh_from_db()
    assert earlier.status == OutboxStatus.CANCELLED
    assert earlier.last_error == "A later invitation, of the client's other record, goes instead."
    assert (later.status, later.client_id, later.recipient_email) == (
        OutboxStatus.PENDING,
        first.pk,
        first.email,
    )

    appointment_book(  # booking the kept record again cancels the invitation it took over
        BookingRequest(
            client=first,
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2027, 1, 11, 10),
        )
    )
    later.refresh_from_db()
    assert later.status == OutboxStatus.CANCELLED


def test_a_merge_into_a_record_booked_ahead_cancels_the_other_records_invitation(world):
    from clients.merging import client_merge

    first = world.client(first_name="Olivia", last_name="O'Brien", email="olivia@example.com")
    again = world.client(first_name="Olivia", last_name="O'Brien", email="liv@example.com")
    treatment_session_sign_off(session=needled_session(world, "0.5", client=again), by=world.dr_lee)
    Appointment.objects.update(status="fulfilled")
    appointment_book(
        BookingRequest(
            client=first,
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2027, 1, 11, 10),
        )
    )
    client_merge(kept=first, merged=again, by=world.manager)
    rebook = OutboxMessage.objects.get(template_key="aftercare_rebook")
    assert (rebook.status, rebook.last_error) == (OutboxStatus.CANCELLED, "The client booked again.")
