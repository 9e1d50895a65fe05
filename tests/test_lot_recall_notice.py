"""A maker recalls a product lot: a manager records it with what the maker said, no treatment record
takes the lot from then on, and each client given it is emailed once (through a real SMTP server),
in the clinic's words, even if they unsubscribed from aftercare; those without an email address are
listed to phone."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone

from clinic.errors import ClinicError, NotAllowedError
from clinic.models import OutboxMessage
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book
from treatments.lot_recalls import RECALL_NOTICE, lot_recall_notify, lot_recall_record
from treatments.models import BodyArea, Product, ProductLot
from treatments.selectors import usable_lots
from treatments.sessions import (
    treatment_session_add_mesotherapy,
    treatment_session_sign_off,
    treatment_session_start,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


def give(world, client, lot, hour, areas=("face",)):
    visit = appointment_book(
        BookingRequest(
            client=client,
            service=world.mesotherapy,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, hour),
        )
    )
    session = treatment_session_start(appointment=visit, by=world.dr_lee)
    for code in areas:
        treatment_session_add_mesotherapy(
            session=session,
            by=world.dr_lee,
            area=BodyArea.objects.get(code=code),
            lot=lot,
            volume_ml=Decimal("1"),
            depth_mm=Decimal("2"),
            technique="papule",
        )
    treatment_session_sign_off(session=session, by=world.dr_lee)
    return session


@pytest.fixture
def lots(world):
    """Ann (unsubscribed from aftercare) and Bea (no email address) were given lot HA-2291 on
    1 December, Cat another lot."""
    product = Product.objects.create(clinic=world.clinic, name="HA cocktail")
    recalled = ProductLot.objects.create(
        product=product, lot_number="HA-2291", expiry_date=dt.date(2027, 6, 30)
    )
    other = ProductLot.objects.create(product=product, lot_number="HA-3300", expiry_date=dt.date(2027, 9, 30))
    ann = world.client(
        first_name="Ann", last_name="Hale", email="ann@example.com", unsubscribed_at=timezone.now()
    )
    bea = world.client(first_name="Bea", last_name="Moss", email="", phone="07700 900111")
    cat = world.client(first_name="Cat", last_name="Ng", email="cat@example.com")
    give(world, ann, recalled, 10, areas=("face", "neck"))
    give(world, bea, recalled, 12)
    give(world, cat, other, 14)
    OutboxMessage.objects.all().delete()  # the visits' own emails are not this test's
    return {"recalled": recalled, "other": other, "ann": ann, "bea": bea, "cat": cat}


def test_a_recalled_lot_is_never_given_again(world, lots):
    recalled = lots["recalled"]
    with pytest.raises(NotAllowedError):
        lot_recall_record(lot=recalled, by=world.dr_lee, note="Sterility")
    with pytest.raises(ClinicError, match="Say what the manufacturer said"):
        lot_recall_record(lot=recalled, by=world.manager, note="  ")
    lot_recall_record(lot=recalled, by=world.manager, note="Possible loss of sterility: stop using it.")
    recalled.refresh_from_db()
    assert recalled.recalled_on == dt.date(2026, 12, 1) and recalled.recalled_by == world.manager
    with pytest.raises(ClinicError, match="recalled already, on 1 December 2026"):
        lot_recall_record(lot=recalled, by=world.manager, note="Again")
    assert list(usable_lots(world.clinic, on=dt.date(2026, 12, 1))) == [lots["other"]]
    with pytest.raises(ClinicError) as refused:
        give(world, world.client(first_name="Dee"), recalled, 16)
    assert refused.value.code == "lot_recalled"
    assert "HA cocktail lot HA-2291 was recalled by its maker on 01 December 2026" in refused.value.message
    with pytest.raises(IntegrityError), transaction.atomic():  # a recall says what the maker said
        ProductLot.objects.filter(pk=recalled.pk).update(recall_note="")


def test_each_client_given_the_lot_is_emailed_once_in_the_clinics_words(
    world, lots, smtp_settings, smtp_server
):
    recalled = lots["recalled"]
    with pytest.raises(ClinicError, match="Record the recall first"):
        lot_recall_notify(lot=recalled, by=world.manager, words="Call us")
    lot_recall_record(lot=recalled, by=world.manager, note="Possible loss of sterility.")
    with pytest.raises(NotAllowedError):
        lot_recall_notify(lot=recalled, by=world.desk, words="Call us")

    notices = lot_recall_notify(lot=recalled, by=world.manager, words="Please call us so we can see you.")
    assert (notices.written, notices.already, [c.first_name for c in notices.to_phone]) == (1, 0, ["Bea"])
    [notice] = OutboxMessage.objects.filter(template_key=RECALL_NOTICE)
    assert notice.client_id == lots["ann"].pk and notice.is_essential  # unsubscribed, and still told
    again = lot_recall_notify(lot=recalled, by=world.manager, words="Please call us.")
    assert (again.written, again.already) == (0, 1)
    assert OutboxMessage.objects.filter(template_key=RECALL_NOTICE).count() == 1

    deliver_due_messages_task()
    [mail] = smtp_server.messages
    assert mail["To"] == "Ann Hale <ann@example.com>"
    assert mail["Subject"] == "Important: about a product used in your treatment at Lumen Skin Clinic"
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "The maker of HA cocktail has recalled one batch of it (lot HA-2291)" in body
    assert "used in your treatment on Tuesday 1 December 2026." in body  # two areas, one day said once
    assert "Please call us so we can see you." in body


def test_the_lots_page_records_the_recall_and_tells_the_clients(world, lots):
    recalled = lots["recalled"]
    page_url = f"{reverse('lot-recall')}?lot={recalled.pk}"
    practitioner = BrowserClient()
    practitioner.force_login(world.dr_lee.user)
    assert 'id="recall-record-form"' not in practitioner.get(page_url).content.decode()  # a manager's
    manager = BrowserClient()
    manager.force_login(world.manager.user)
    page = manager.get(page_url).content.decode()
    assert 'id="recall-record-form"' in page and 'id="recall-notify-form"' not in page

    done = manager.post(reverse("lot-recall-record", args=[recalled.pk]), {"note": "Sterility"}, follow=True)
    said = done.content.decode()
    assert "lot HA-2291 is recalled" in said and 'id="lot-recalled"' in said and "“Sterility”" in said
    assert "Email the 1 client" in said and said.count("Not yet") == 2 and said.count("To phone") == 1

    told = manager.post(reverse("lot-recall-notify", args=[recalled.pk]), {"words": "Call us."}, follow=True)
    said = told.content.decode()
    assert "1 client emailed. No email address, to phone: Bea Moss." in said
    assert 'id="recall-all-told"' in said and said.count("Emailed") >= 2 and said.count("To phone") == 1
    refused = practitioner.post(reverse("lot-recall-notify", args=[recalled.pk]), {"words": "x"}, follow=True)
    assert "manager" in refused.content.decode()
    assert OutboxMessage.objects.filter(template_key=RECALL_NOTICE).count() == 1
