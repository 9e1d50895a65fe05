"""Staff correct a client's details on their page; the emails still to be sent follow the address."""

import datetime as dt
import html

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import NO_WAY_TO_REACH
from clinic.models import OutboxMessage, OutboxStatus

pytestmark = pytest.mark.django_db


def _message(client_record, *, status, key):
    now = timezone.now()
    return OutboxMessage.objects.create(
        clinic=client_record.clinic,
        client_id=client_record.pk,
        recipient_email=client_record.email,
        recipient_name=client_record.full_name,
        template_key="booking_reminder",
        due_at=now + dt.timedelta(days=1) if status == OutboxStatus.PENDING else now,
        status=status,
        sent_at=now if status == OutboxStatus.SENT else None,
        last_error="550 5.1.1 User unknown" if status == OutboxStatus.FAILED else "",
        dedupe_key=key,
    )


def _details(client_record, **changes):
    fields = {
        "first_name": client_record.first_name,
        "last_name": client_record.last_name,
        "email": client_record.email,
        "phone": client_record.phone,
        "date_of_birth": "",
        "emergency_contact_name": "",
        "emergency_contact_phone": "",
        "gp_details": "",
    }
    return {**fields, **changes}


@pytest.fixture
def mistyped(lumen):
    from tests.factories import ClientFactory

    return ClientFactory(clinic=lumen, first_name="Olivia", last_name="Smith", email="olivia@exampel.com")


def test_correcting_an_address_sends_the_scheduled_emails_there(alice_client, mistyped):
    failed = _message(mistyped, status=OutboxStatus.FAILED, key="confirmation")
    sent = _message(mistyped, status=OutboxStatus.SENT, key="forms")
    reminders = [_message(mistyped, status=OutboxStatus.PENDING, key=f"reminder:{h}") for h in (24, 2)]
    edit = reverse("client-edit", args=[mistyped.pk])
    assert b"olivia@exampel.com" in alice_client.get(edit).content

    response = alice_client.post(edit, _details(mistyped, email=" Olivia@Example.com "), follow=True)

    assert response.redirect_chain[-1][0] == reverse("client-detail", args=[mistyped.pk])
    assert "Saved Olivia Smith's details. 2 scheduled emails will go to olivia@example.com." in (
        html.unescape(response.content.decode())
    )
    mistyped.refresh_from_db()
    assert mistyped.email == "olivia@example.com"
    for reminder in reminders:
        reminder.refresh_from_db()
        assert (reminder.status, reminder.recipient_email) == (OutboxStatus.PENDING, "olivia@example.com")
    # what already went out (or failed) is the record of what happened: unchanged
    for kept in (failed, sent):
        kept.refresh_from_db()
        assert kept.recipient_email == "olivia@exampel.com"
    # and the failed one is resent to the corrected address
    alice_client.post(reverse("outbox-resend", args=[failed.pk]))
    assert (
        OutboxMessage.objects.get(dedupe_key=f"resend:{failed.pk}:1").recipient_email == "olivia@example.com"
    )


def test_a_corrected_name_is_on_the_scheduled_emails(alice_client, lumen_client_record):
    reminder = _message(lumen_client_record, status=OutboxStatus.PENDING, key="reminder")
    reminder.context = {"client_first_name": "Olivai", "service_name": "Microneedling facial"}
    reminder.save()
    other = _message(lumen_client_record, status=OutboxStatus.PENDING, key="other")
    edit = reverse("client-edit", args=[lumen_client_record.pk])
    alice_client.post(edit, _details(lumen_client_record, first_name="Olivia", last_name="Jones"))
    reminder.refresh_from_db()
    assert (reminder.recipient_name, reminder.recipient_email) == ("Olivia Jones", "olivia@example.com")
    # the reminder greets her by the corrected name; the rest of what it says is as it was
    assert reminder.context == {"client_first_name": "Olivia", "service_name": "Microneedling facial"}
    other.refresh_from_db()
    assert (other.recipient_name, other.context) == ("Olivia Jones", {})


def test_removing_the_address_cancels_the_scheduled_emails(alice_client, lumen_client_record):
    reminder = _message(lumen_client_record, status=OutboxStatus.PENDING, key="reminder")
    edit = reverse("client-edit", args=[lumen_client_record.pk])
    response = alice_client.post(edit, _details(lumen_client_record, email=""), follow=True)
    assert "1 scheduled email cancelled: no email address." in response.content.decode()
    reminder.refresh_from_db()
    assert reminder.status == OutboxStatus.CANCELLED
    assert reminder.last_error == "The client's email address was removed."


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"email": "", "phone": ""}, NO_WAY_TO_REACH),
        ({"email": "olivia@"}, "Enter a valid email address."),
        ({"first_name": ""}, "This field is required."),
        ({"first_name": "Oli\tvia"}, "This contains a control character"),
        ({"date_of_birth": "2999-01-01"}, "The date of birth cannot be in the future."),
        ({"date_of_birth": "0163-02-20"}, "A date of birth in 163 is more than 120 years ago."),
        ({"date_of_birth": "20/02/1990x"}, "Enter a valid date."),
    ],
)
def test_bad_details_are_refused_in_words_and_nothing_changes(
    alice_client, lumen_client_record, changes, error
):
    reminder = _message(lumen_client_record, status=OutboxStatus.PENDING, key="reminder")
    edit = reverse("client-edit", args=[lumen_client_record.pk])
    response = alice_client.post(edit, _details(lumen_client_record, **changes))
    assert response.status_code == 200
    assert error in response.content.decode()
    lumen_client_record.refresh_from_db()
    assert (lumen_client_record.first_name, lumen_client_record.email) == ("Olivia", "olivia@example.com")
    reminder.refresh_from_db()
    assert (reminder.status, reminder.recipient_email) == (OutboxStatus.PENDING, "olivia@example.com")


def test_saving_without_a_change_moves_nothing(alice_client, lumen_client_record):
    reminder = _message(lumen_client_record, status=OutboxStatus.PENDING, key="reminder")
    edit = reverse("client-edit", args=[lumen_client_record.pk])
    response = alice_client.post(edit, _details(lumen_client_record), follow=True)
    assert "Saved Olivia Smith's details.</li>" in html.unescape(response.content.decode())
    reminder.refresh_from_db()
    assert reminder.recipient_email == "olivia@example.com"


def test_another_clinics_client_cannot_be_edited(alice_client, harbour_client_record):
    edit = reverse("client-edit", args=[harbour_client_record.pk])
    assert alice_client.get(edit).status_code == 404
    assert alice_client.post(edit, _details(harbour_client_record, email="x@example.com")).status_code == 404
    harbour_client_record.refresh_from_db()
    assert harbour_client_record.email == "hank@example.com"


def test_the_client_page_links_to_the_edit_page_and_the_outbox_links_to_the_client(
    alice, alice_client, lumen_client_record
):
    page = alice_client.get(reverse("client-detail", args=[lumen_client_record.pk])).content.decode()
    assert reverse("client-edit", args=[lumen_client_record.pk]) in page
    _message(lumen_client_record, status=OutboxStatus.FAILED, key="confirmation")
    alice.role = "manager"
    alice.save()
    outbox = alice_client.get(reverse("outbox")).content.decode()
    assert f'href="{reverse("client-detail", args=[lumen_client_record.pk])}"' in outbox


def test_the_api_corrects_an_address_and_the_scheduled_emails_follow(api, mistyped):
    reminder = _message(mistyped, status=OutboxStatus.PENDING, key="reminder")
    response = api.patch(f"/api/v1/clients/{mistyped.pk}/", {"email": "Olivia@Example.com"}, format="json")
    assert response.status_code == 200
    assert response.json()["email"] == "olivia@example.com"
    assert response.json()["first_name"] == "Olivia"  # what the request did not name is kept
    reminder.refresh_from_db()
    assert reminder.recipient_email == "olivia@example.com"


def test_the_api_refuses_to_leave_a_client_unreachable(api, lumen_client_record):
    lumen_client_record.phone = ""
    lumen_client_record.save()
    response = api.patch(f"/api/v1/clients/{lumen_client_record.pk}/", {"email": ""}, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [NO_WAY_TO_REACH]}
    lumen_client_record.refresh_from_db()
    assert lumen_client_record.email == "olivia@example.com"


def test_the_api_cannot_change_another_clinics_client_nor_replace_a_whole_client(api, harbour_client_record):
    path = f"/api/v1/clients/{harbour_client_record.pk}/"
    assert api.patch(path, {"email": "x@example.com"}, format="json").status_code == 404
    assert api.put(path, {"first_name": "X", "last_name": "Y"}, format="json").status_code == 405
    harbour_client_record.refresh_from_db()
    assert harbour_client_record.email == "hank@example.com"


def test_a_manager_correcting_an_address_in_the_admin_moves_the_scheduled_emails(client, lumen, mistyped):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffMemberFactory

    manager = StaffMemberFactory(clinic=lumen, role="manager", user__is_staff=True)
    manager.user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_client", "change_client"])
    )
    client.force_login(manager.user)
    reminder = _message(mistyped, status=OutboxStatus.PENDING, key="reminder")
    form = {
        **_details(mistyped, email="olivia@example.com"),
        "notes": "",
        "accepts_aftercare_email": "on",
        "clinic": lumen.pk,
    }
    response = client.post(f"/admin/clients/client/{mistyped.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    reminder.refresh_from_db()
    assert reminder.recipient_email == "olivia@example.com"


def test_an_emergency_number_that_cannot_be_dialled_is_refused_in_words(alice_client, mistyped):
    edit = reverse("client-edit", args=[mistyped.pk])
    response = alice_client.post(
        edit, _details(mistyped, emergency_contact_name="Sam Smith", emergency_contact_phone="n/a")
    )
    assert response.status_code == 200
    assert "This does not look like a phone number" in html.unescape(response.content.decode())
    mistyped.refresh_from_db()
    assert mistyped.emergency_contact_phone == ""
