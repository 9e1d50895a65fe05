"""A form that goes stale after booking is asked for again in the visit's reminder, when it goes.

Lumen (London). Kim and Olivia are booked for 10:00 and 13:00 on Monday 7 December with their intake and
the microneedling consent (version 2) in order. On 2 December the manager publishes consent version 3.
The 24-hour reminders, delivered on 6 December through a real SMTP server, ask Kim (who has not signed
version 3) to sign it, with a link; Olivia signs on 4 December, so hers asks for nothing.
"""

import re

import pytest
import time_machine
from django.test import Client as BrowserClient

from clients.models import ConsentTemplate, IntakeResponse
from clients.services import form_version_make_current
from clinic.models import OutboxMessage, OutboxStatus
from clinic.tasks import deliver_due_messages_task
from tests.booking_world import local
from tests.factories import sign_consent
from tests.test_forms_request import book, forms_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return forms_world()


def ready_client(world, first_name):
    client = world.client(first_name=first_name, email=f"{first_name.lower()}@example.com")
    IntakeResponse.objects.create(client=client, questionnaire=world.intake, answers={})
    sign_consent(client, world.consent)
    return client


def reminder_bodies(smtp_server) -> dict[str, str]:
    return {
        m["To"].addresses[0].addr_spec: m.get_body(preferencelist=("plain",)).get_content()
        for m in smtp_server.messages
        if "Reminder" in m["Subject"]
    }


def test_a_consent_published_after_booking_is_asked_for_in_the_reminder(world, smtp_settings, smtp_server):
    kim = book(world, ready_client(world, "Kim"))
    olivia = book(world, ready_client(world, "Olivia"), start=local(world, 2026, 12, 7, 13))
    assert not OutboxMessage.objects.filter(template_key="forms_request").exists()  # nothing missing then
    deliver_due_messages_task()  # the confirmations
    with time_machine.travel(local(world, 2026, 12, 2, 9), tick=False):
        version_3 = ConsentTemplate.objects.create(
            clinic=world.clinic,
            modality="microneedling",
            version=3,
            title="Microneedling consent",
            body="New.",
        )
        form_version_make_current(version_3)
    with time_machine.travel(local(world, 2026, 12, 4, 9), tick=False):
        sign_consent(olivia.client, version_3)
    with time_machine.travel(local(world, 2026, 12, 6, 13, 1), tick=False):
        assert deliver_due_messages_task() == 2  # both 24-hour reminders
    bodies = reminder_bodies(smtp_server)
    assert "Before your visit, please fill in: Microneedling consent." in bodies["kim@example.com"]
    link = re.search(r"(http\S+/clients/forms/\S+/)", bodies["kim@example.com"]).group(1)
    assert "please fill in" not in bodies["olivia@example.com"]
    [sent] = OutboxMessage.objects.filter(
        topic=f"appointment:{kim.pk}", template_key="booking_reminder", status=OutboxStatus.SENT
    )
    assert sent.status == OutboxStatus.SENT and sent.context["forms_needed"] == ["Microneedling consent"]
    # the link opens Kim's forms page, asking for version 3
    with time_machine.travel(local(world, 2026, 12, 6, 14), tick=False):
        page = BrowserClient().get(link[link.index("/clients/") :])
    assert page.status_code == 200 and "New." in page.content.decode()


def test_a_reminder_of_a_visit_whose_forms_are_in_order_asks_for_nothing(world, smtp_settings, smtp_server):
    book(world, ready_client(world, "Kim"))
    with time_machine.travel(local(world, 2026, 12, 6, 10, 1), tick=False):
        deliver_due_messages_task()
    [body] = reminder_bodies(smtp_server).values()
    assert "please fill in" not in body and "/clients/forms/" not in body
