"""An address the client's mail server refuses is said where the desk meets the client, until corrected.

A refused address is a mistyped or dead mailbox: every email to it fails the same way, and the desk
only learns of it by reading the outbox. The delivery notes the refusal of the address itself (a 5xx
to RCPT TO), as opposed to a refusal of the message or of the clinic's sender; the day's list, the
visit's page and the client's page then ask the desk to take a correct address.
"""

import html

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.selectors import refused_addresses
from clinic.models import OutboxMessage, OutboxStatus
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import build_world, local
from tests.factories import ClientFactory
from tests.test_forms_request import book, forms_world
from treatments.booking import BookingRequest, appointment_book

pytestmark = pytest.mark.django_db

USER_UNKNOWN = "550 5.1.1 <olivia@exampel.com>: Recipient address rejected: User unknown"


@pytest.fixture
def world(db):
    return build_world()


def _book(world, client, day=7):
    return appointment_book(
        BookingRequest(
            client=client,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, day, 10),
        )
    )


@pytest.fixture
def olivia(world):
    return ClientFactory(
        clinic=world.clinic, first_name="Olivia", last_name="Smith", email="olivia@exampel.com"
    )


@pytest.fixture
def refused_visit(world, olivia, smtp_settings, smtp_server):
    """Olivia's visit on Monday 7 December, whose confirmation her mail server refused: no such user."""
    visit = _book(world, olivia)
    smtp_server.handler.refuse_recipient_with = USER_UNKNOWN
    deliver_due_messages_task()
    smtp_server.handler.refuse_recipient_with = None
    return visit


def test_the_delivery_notes_when_the_address_itself_is_refused(world, olivia, refused_visit):
    confirmation = OutboxMessage.objects.get(dedupe_key=f"appointment:{refused_visit.pk}:booked")
    assert confirmation.status == OutboxStatus.FAILED
    assert confirmation.address_refused_at is not None
    assert refused_addresses([olivia]) == {olivia.pk: confirmation}


def test_a_refused_message_is_not_a_refused_address(world, olivia, smtp_settings, smtp_server):
    # given a server that takes the address but refuses the message (content, size, policy)
    visit = _book(world, olivia)
    smtp_server.handler.refuse_with = "554 5.7.1 Message rejected as spam"
    # when
    deliver_due_messages_task()
    # then the message failed, but nothing says the address is wrong
    confirmation = OutboxMessage.objects.get(dedupe_key=f"appointment:{visit.pk}:booked")
    assert confirmation.status == OutboxStatus.FAILED
    assert confirmation.address_refused_at is None
    assert refused_addresses([olivia]) == {}


def test_a_passing_refusal_is_not_a_refused_address(world, olivia, smtp_settings, smtp_server):
    visit = _book(world, olivia)
    smtp_server.handler.refuse_recipient_with = "450 4.2.1 Mailbox busy, try again later"
    deliver_due_messages_task()
    confirmation = OutboxMessage.objects.get(dedupe_key=f"appointment:{visit.pk}:booked")
    assert confirmation.status == OutboxStatus.PENDING  # retried later
    assert confirmation.address_refused_at is None
    assert refused_addresses([olivia]) == {}


def test_the_database_keeps_a_refused_address_to_failed_messages(world, olivia, refused_visit):
    confirmation = OutboxMessage.objects.get(dedupe_key=f"appointment:{refused_visit.pk}:booked")
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboxMessage.objects.filter(pk=confirmation.pk).update(status=OutboxStatus.PENDING)


def test_the_days_list_the_visit_and_the_client_page_ask_for_a_correct_address(
    desk, world, olivia, refused_visit
):
    client_page = reverse("client-detail", args=[olivia.pk])
    day = desk.get("/?date=2026-12-07").content.decode()
    assert f'href="{client_page}#client-email"' in day
    assert day.count(">Email refused</a>") == 1
    for page in (desk.get(reverse("appointment-detail", args=[refused_visit.pk])), desk.get(client_page)):
        text = page.content.decode()
        assert "Emails to this address are refused (Tue 1 Dec): ask Olivia for a correct one" in text
        assert "Recipient address rejected: User unknown" in text


def test_correcting_the_address_ends_the_warning_and_the_confirmation_goes_to_the_new_one(
    desk, world, olivia, refused_visit, smtp_server
):
    # given the desk corrects the address on the client's page
    edit = reverse("client-edit", args=[olivia.pk])
    fields = {
        "first_name": "Olivia",
        "last_name": "Smith",
        "email": "olivia@example.com",
        "phone": olivia.phone,
        "date_of_birth": "",
        "emergency_contact_name": "",
        "emergency_contact_phone": "",
        "gp_details": "",
    }
    client_page = desk.post(edit, fields, follow=True).content.decode()
    assert "What olivia@exampel.com refused can be sent again to olivia@example.com below." in client_page
    assert "Emails to this address are refused" not in client_page
    assert ">Email refused</a>" not in desk.get("/?date=2026-12-07").content.decode()
    # when the failed confirmation is resent from the timeline
    confirmation = OutboxMessage.objects.get(dedupe_key=f"appointment:{refused_visit.pk}:booked")
    desk.post(reverse("outbox-resend", args=[confirmation.pk]), {"next": "/"})
    deliver_due_messages_task()
    # then it reaches the corrected address
    [received] = smtp_server.handler.messages
    assert received["To"].addresses[0].addr_spec == "olivia@example.com"


def test_a_message_that_gets_through_later_ends_the_warning(world, olivia, refused_visit, smtp_server):
    # given the mailbox was only missing for a while: a later email to the same address is taken
    _book(world, olivia, day=10)
    deliver_due_messages_task()
    assert len(smtp_server.handler.messages) == 1
    # then the address no longer stands refused
    assert refused_addresses([olivia]) == {}


def test_finding_refused_addresses_takes_one_query_for_one_client_or_ten(world, olivia, refused_visit):
    # given nine more clients, each with a refusal: of their current address, of an address they no
    # longer have, or of one that has since taken an email
    refusal = OutboxMessage.objects.get(dedupe_key=f"appointment:{refused_visit.pk}:booked")
    others = [ClientFactory(clinic=world.clinic, email=f"c{i}@example.com") for i in range(9)]
    for i, client in enumerate(others):
        address = client.email if i % 3 != 1 else f"old{i}@example.com"
        copy = {"client_id": client.pk, "recipient_email": address, "dedupe_key": f"refused:{i}"}
        OutboxMessage.objects.create(**{**_fields(refusal), **copy})
        if i % 3 == 2:
            sent_since = {"status": OutboxStatus.SENT, "sent_at": timezone.now(), "address_refused_at": None}
            OutboxMessage.objects.create(
                **{**_fields(refusal), **copy, **sent_since, "dedupe_key": f"ok:{i}"}
            )
    # when
    with CaptureQueriesContext(connection) as one:
        refused_addresses([olivia])
    with CaptureQueriesContext(connection) as ten:
        found = refused_addresses([olivia, *others])
    # then
    assert len(one) == len(ten) == 1
    assert sorted(found) == sorted([olivia.pk, *(c.pk for i, c in enumerate(others) if i % 3 == 0)])


def _fields(message: OutboxMessage) -> dict:
    return {
        f.name: getattr(message, f.name) for f in OutboxMessage._meta.concrete_fields if f.name not in {"id"}
    }


def test_the_forms_link_is_not_emailed_to_a_refused_address(desk, world, olivia, refused_visit):
    # when the desk asks for the forms link from the visit's page (the refusal is said before
    # whether anything is missing: no link can reach her either way)
    response = desk.post(reverse("appointment-action", args=[refused_visit.pk, "send_forms"]), follow=True)
    # then nothing is queued and the desk is told why, in words
    text = response.content.decode()
    assert "olivia@exampel.com was refused by its mail server on Tue 1 Dec." in text
    assert "Correct the address on Olivia Smith&#x27;s page" in text
    assert not OutboxMessage.objects.filter(template_key="forms_request").exists()


def test_the_days_list_offers_no_email_to_chase_forms_that_cannot_reach_anyone(client):
    # given a clinic that asks for forms, and Olivia, who lacks hers for Monday and whose address
    # was refused
    forms = forms_world()
    olivia = forms.client(first_name="Olivia", last_name="Smith", email="olivia@exampel.com")
    visit = book(forms, olivia)
    OutboxMessage.objects.filter(topic=f"appointment:{visit.pk}").update(
        status=OutboxStatus.FAILED, last_error=USER_UNKNOWN, address_refused_at=timezone.now()
    )
    client.force_login(forms.desk.user)
    # when the desk opens Monday's list
    page = client.get("/?date=2026-12-07").content.decode()
    # then it says how to get the forms filled instead of offering an email that would be refused
    assert "1 visit ahead on this day still lacks forms." in page
    assert "Email the client the link" not in page
    assert "No email reaches the client (no address, or one refused)" in page


def test_booking_a_client_whose_address_was_refused_says_the_confirmation_will_not_reach_them(
    desk, world, olivia, refused_visit
):
    # when the desk books Olivia again from the booking page
    start = local(world, 2026, 12, 14, 10)
    response = desk.post(
        reverse("book"),
        {
            "practitioner": world.sam.pk,
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "service": world.microcurrent.pk,
            "client": olivia.pk,
        },
        follow=True,
    )
    # then the booking is made, and the desk is told to take a correct address now
    text = html.unescape(response.content.decode())
    assert "Booked Olivia Smith for" in text
    assert (
        "olivia@exampel.com was refused by its mail server on Tue 1 Dec, so the confirmation will not "
        "reach Olivia: ask for a correct address" in text
    )


def test_the_api_says_a_client_s_address_is_refused_until_it_is_corrected(world, olivia, refused_visit):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(world.desk.user)
    refusal = OutboxMessage.objects.get(dedupe_key=f"appointment:{refused_visit.pk}:booked")
    # the client, and the client in a list (whose page reads its refusals in one query)
    body = api.get(f"/api/v1/clients/{olivia.pk}/").json()
    assert body["email_refused"] == {
        "address": "olivia@exampel.com",
        "refused_at": body["email_refused"]["refused_at"],
        "reply": refusal.last_error,
    }
    assert "User unknown" in body["email_refused"]["reply"]
    refused_at = timezone.datetime.fromisoformat(body["email_refused"]["refused_at"])
    assert refused_at == refusal.address_refused_at
    others = ClientFactory.create_batch(5, clinic=world.clinic)
    with CaptureQueriesContext(connection) as five:
        listed = api.get("/api/v1/clients/").json()["results"]
    ClientFactory.create_batch(20, clinic=world.clinic)
    with CaptureQueriesContext(connection) as twenty_five:
        api.get("/api/v1/clients/")
    assert len(five) == len(twenty_five)
    flags = {row["id"]: row["email_refused"] for row in listed}
    assert flags[olivia.pk]["address"] == "olivia@exampel.com"
    assert all(flags[other.pk] is None for other in others)
    # correcting the address ends it
    corrected = api.patch(f"/api/v1/clients/{olivia.pk}/", {"email": "olivia@example.com"}, format="json")
    assert corrected.status_code == 200 and corrected.json()["email_refused"] is None
    assert "email_refused" in api.get("/api/schema/").content.decode()
