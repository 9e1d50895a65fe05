"""Two people taken for one: a manager undoes the merge, the merged record comes back with its id, and
every row it held moves back, signed consents and signed-off records included, which the database
otherwise never lets change."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.links import FORMS, client_from_token, forms_url
from clients.merging import (
    client_merge,
    client_merge_undo,
    client_merged_into,
    likely_duplicates,
    rows_held,
    rows_to_move_back,
)
from clients.models import Client, ClientMerge, DistinctClients, SignedConsent
from clients.services import client_unsubscribe, client_update_details
from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus
from tests import test_client_merge
from tests.booking_world import build_world, local
from tests.factories import ConsentTemplateFactory, sign_consent
from tests.test_client_merge import _give_everything
from treatments.aftercare import aftercare_install_default_plan
from treatments.booking import BookingRequest, appointment_book
from treatments.models import Appointment, BodyArea, MicroneedlingRecord, TreatmentSession
from treatments.sessions import treatment_session_sign_off

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world(slug="lumen-undo")
    world.clinic.email = "hello@lumen.example"
    world.clinic.save(update_fields=["email"])
    for protocol in world.microneedling.protocols.all():
        aftercare_install_default_plan(protocol)
    return world


olivia = test_client_merge.olivia  # the same Olivia, registered at the desk in 2025


@pytest.fixture
def ava(world):
    """Olivia's daughter Ava: same surname, same family phone. Not the same person."""
    return world.client(
        first_name="Ava",
        last_name="Smith",
        email="ava.smith@example.com",
        phone="+44 7700 900123",
        date_of_birth=dt.date(2004, 8, 9),
        notes="Allergic to lidocaine.",
    )


def book_visit(world, client, day=(2026, 12, 7)):
    """A deep microneedling visit of `client` at 15:00 on `day`."""
    return appointment_book(
        BookingRequest(
            client=client,
            service=world.deep_microneedling,
            practitioner=world.dr_lee,
            start=local(world, *day, 15),
        )
    )


def treat_and_sign_off(world, visit, client):
    """The visit's record, on `client`'s record: one area, signed off."""
    session = TreatmentSession.objects.create(
        clinic=world.clinic, appointment=visit, client=client, practitioner=world.dr_lee
    )
    MicroneedlingRecord.objects.create(
        session=session,
        area=BodyArea.objects.order_by("code").first(),
        device=world.pens[0],
        depth_mm=Decimal("0.5"),
        passes=3,
    )
    return treatment_session_sign_off(session=session, by=world.dr_lee)


def signed_off_session(world, client, day=(2026, 12, 7)):
    return treat_and_sign_off(world, book_visit(world, client, day), client)


def test_undoing_brings_the_record_back_with_its_id_details_and_every_row(world, olivia, ava):
    consent = ConsentTemplateFactory(clinic=world.clinic, modality="mesotherapy")
    _give_everything(world, olivia, local(world, 2026, 12, 7, 10), consent)
    _give_everything(world, ava, local(world, 2026, 12, 8, 10), consent)
    ava_session = signed_off_session(world, ava)
    ava_details = {name: getattr(ava, name) for name in ("first_name", "email", "phone", "notes")}
    before = rows_held([olivia, ava])
    merge = client_merge(kept=olivia, merged=ava, by=world.manager, take_from_merged=frozenset({"email"}))
    assert rows_to_move_back(merge) == {
        label: n for label, n in before[ava.pk].items() if label != "emails"
    } | {
        "emails": OutboxMessage.objects.filter(
            pk__in=merge.moved_rows["clinic.OutboxMessage.client_id"]
        ).count()
    }

    undone = client_merge_undo(merge=merge, by=world.manager)

    restored = Client.objects.get(pk=ava.pk)
    assert undone.restored == restored
    assert {name: getattr(restored, name) for name in ava_details} == ava_details
    assert restored.date_of_birth == dt.date(2004, 8, 9) and restored.created_at == ava.created_at
    after = rows_held([olivia, restored])
    assert after[ava.pk] == before[ava.pk]
    # Olivia's page keeps the undone merge's row, for the audit trail
    assert after[olivia.pk] == before[olivia.pk] | {"client merges": 1}
    assert undone.moved_back == before[ava.pk]
    assert TreatmentSession.objects.get(pk=ava_session.pk).client_id == ava.pk  # signed off, moved back
    assert SignedConsent.objects.filter(client=ava).count() == 1
    olivia.refresh_from_db()
    assert (olivia.email, olivia.notes) == ("olivia@example.com", "Prefers afternoons.")
    merge.refresh_from_db()
    assert merge.undone_at is not None and merge.undone_by == world.manager
    assert client_merged_into(ava.pk) is None
    # the two are two people now: not offered as a pair again
    assert DistinctClients.objects.filter(first=olivia, second=ava).exists()
    assert not likely_duplicates(world.clinic)


def test_the_database_still_refuses_any_other_change_to_a_signed_consent(world, olivia, ava):
    signed = sign_consent(ava, ConsentTemplateFactory(clinic=world.clinic))
    stranger = world.client(first_name="Zed", last_name="Other")
    merge = client_merge(kept=olivia, merged=ava, by=world.manager)
    client_merge_undo(merge=merge, by=world.manager)
    for change in ({"client": stranger}, {"signature_name": "Someone else"}, {"client": olivia}):
        with pytest.raises(IntegrityError), transaction.atomic():
            SignedConsent.objects.filter(pk=signed.pk).update(**change)
    assert SignedConsent.objects.get(pk=signed.pk).client_id == ava.pk


def test_details_changed_since_the_merge_stay_and_are_named(world, olivia, ava):
    merge = client_merge(kept=olivia, merged=ava, by=world.manager, take_from_merged=frozenset({"email"}))
    client_update_details(client=Client.objects.get(pk=olivia.pk), phone="07700 900999")
    undone = client_merge_undo(merge=merge, by=world.manager)
    olivia.refresh_from_db()
    assert olivia.phone == "07700 900999"  # changed since: stays, and the manager is told
    assert olivia.email == "olivia@example.com"  # as before the merge
    assert undone.details_kept_as_changed == ("phone",)


def test_a_record_written_since_the_merge_for_a_visit_that_moves_back_goes_with_it(world, olivia, ava):
    visit = book_visit(world, ava)
    merge = client_merge(kept=olivia, merged=ava, by=world.manager)
    kept = Client.objects.get(pk=olivia.pk)
    # treated and signed off while the records were one: the record is written on Olivia's
    session = treat_and_sign_off(world, visit, kept)
    olivias_own = signed_off_session(world, kept, day=(2027, 1, 11))

    client_merge_undo(merge=merge, by=world.manager)

    assert Appointment.objects.get(pk=visit.pk).client_id == ava.pk
    assert TreatmentSession.objects.get(pk=session.pk).client_id == ava.pk  # signed off, and follows
    assert TreatmentSession.objects.get(pk=olivias_own.pk).client_id == olivia.pk
    aftercare = OutboxMessage.objects.filter(topic=f"session:{session.pk}")
    assert aftercare.exists() and {m.client_id for m in aftercare} == {ava.pk}
    assert {m.client_id for m in OutboxMessage.objects.filter(topic=f"session:{olivias_own.pk}")} == {
        olivia.pk
    }


def test_emails_the_merge_stopped_go_again_and_invitations_are_keyed_by_their_record(world, olivia, ava):
    visit = book_visit(world, ava)
    with time_machine.travel(local(world, 2026, 12, 7, 16), tick=False):
        session = treat_and_sign_off(world, visit, ava)
        _emails_the_merge_stopped_go_again(world, olivia, ava, session)


def _emails_the_merge_stopped_go_again(world, olivia, ava, session):
    aftercare = OutboxMessage.objects.filter(topic=f"session:{session.pk}", status=OutboxStatus.PENDING)
    rebook = OutboxMessage.objects.get(client_id=ava.pk, template_key="aftercare_rebook")
    pending_ids = set(aftercare.values_list("pk", flat=True))
    assert pending_ids
    client_unsubscribe(client=olivia)
    merge = client_merge(kept=olivia, merged=ava, by=world.manager)
    assert not OutboxMessage.objects.filter(pk__in=pending_ids, status=OutboxStatus.PENDING).exists()
    assert set(merge.cancelled_messages) >= pending_ids
    rebook.refresh_from_db()
    assert rebook.topic.startswith(f"rebook:client:{olivia.pk}:")

    undone = client_merge_undo(merge=merge, by=world.manager)

    now = timezone.now()
    ahead = OutboxMessage.objects.filter(pk__in=pending_ids, due_at__gt=now)
    assert ahead.count() >= 2  # day 1 and 3
    assert {(m.status, m.client_id, m.recipient_email) for m in ahead} == {
        (OutboxStatus.PENDING, ava.pk, "ava.smith@example.com")
    }
    # the day 0 instructions, due while the records were one, are not sent late
    assert {m.status for m in OutboxMessage.objects.filter(pk__in=pending_ids, due_at__lte=now)} <= {
        OutboxStatus.CANCELLED
    }
    assert undone.emails_back_on_their_way == ahead.count() + 1  # and the rebooking invitation
    rebook.refresh_from_db()
    assert rebook.topic.startswith(f"rebook:client:{ava.pk}:"), rebook.topic
    assert rebook.status == OutboxStatus.PENDING, rebook.last_error
    olivia.refresh_from_db()
    assert olivia.unsubscribed_at is not None  # her own choice stands


def test_undo_is_refused_in_words_twice_for_old_merges_and_before_a_later_merge_is_undone(world, olivia, ava):
    merge = client_merge(kept=olivia, merged=ava, by=world.manager)
    third = world.client(first_name="Liv", last_name="Smith", email="olivia@example.com")
    later = client_merge(kept=third, merged=Client.objects.get(pk=olivia.pk), by=world.manager)
    merge.refresh_from_db()
    assert merge.kept_id == third.pk  # the merge followed the kept record
    with pytest.raises(ClinicError, match="itself merged later, into Liv Smith's: undo that merge first"):
        client_merge_undo(merge=merge, by=world.manager)
    client_merge_undo(merge=later, by=world.manager)
    merge.refresh_from_db()
    assert merge.kept_id == olivia.pk
    client_merge_undo(merge=merge, by=world.manager)
    assert Client.objects.filter(pk__in=[olivia.pk, ava.pk, third.pk]).count() == 3
    with pytest.raises(ClinicError, match="already undone"):
        client_merge_undo(merge=merge, by=world.manager)

    old = ClientMerge.objects.create(
        clinic=world.clinic,
        kept=third,
        merged_client_id=999_999,
        merged_name="Old Record",
        merged_details={},
        moved={"appointments": 2},
    )
    with pytest.raises(ClinicError, match="merged before merges could be undone"):
        client_merge_undo(merge=old, by=world.manager)


def test_a_record_brought_back_can_be_merged_again_and_its_links_are_its_own(world, olivia, ava):
    link = forms_url(ava, modalities=["microneedling"])
    token = link.rstrip("/").rsplit("/", 1)[1]
    merge = client_merge(kept=olivia, merged=ava, by=world.manager)
    assert client_from_token(token, purpose=FORMS)[0] == olivia
    client_merge_undo(merge=merge, by=world.manager)
    assert client_from_token(token, purpose=FORMS)[0] == Client.objects.get(pk=ava.pk)
    again = client_merge(kept=olivia, merged=Client.objects.get(pk=ava.pk), by=world.manager)
    assert ClientMerge.objects.filter(merged_client_id=ava.pk).count() == 2
    assert client_merged_into(ava.pk) == olivia and again.undone_at is None


# --- the pages ----------------------------------------------------------------------------------


def test_a_manager_undoes_a_merge_from_the_clients_page(client, world, olivia, ava):
    appointment_book(
        BookingRequest(
            client=ava,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 9, 10),
        )
    )
    merge = client_merge(kept=olivia, merged=ava, by=world.manager)
    client.force_login(world.desk.user)
    page = client.get(f"/clients/{olivia.pk}/").content.decode()
    assert f'id="merge-{merge.pk}"' in page and "Undo this merge" not in page
    assert client.get(f"/clients/merges/{merge.pk}/undo/").status_code == 403
    assert client.post(f"/clients/merges/{merge.pk}/undo/").status_code == 403
    assert not Client.objects.filter(pk=ava.pk).exists()

    client.force_login(world.manager.user)
    page = client.get(f"/clients/{olivia.pk}/").content.decode()
    assert f"/clients/merges/{merge.pk}/undo/" in page
    ask = client.get(f"/clients/merges/{merge.pk}/undo/").content.decode()
    assert "moves back what it held: 1 visit and " in ask and 'id="undo-merge"' in ask
    response = client.post(f"/clients/merges/{merge.pk}/undo/", follow=True)
    assert response.redirect_chain[-1][0] == f"/clients/{ava.pk}/"
    said = response.content.decode()
    assert "Ava Smith&#x27;s record is back, with 1 visit and " in said
    assert "noted as another person than Olivia Smith." in said
    kept_page = client.get(f"/clients/{olivia.pk}/").content.decode()
    assert "undone</a> on" in kept_page and "by Morgan Ellis: two people" in kept_page
    again = client.get(f"/clients/merges/{merge.pk}/undo/").content.decode()
    assert 'id="cannot-undo"' in again and "already undone" in again
    refused = client.post(f"/clients/merges/{merge.pk}/undo/", follow=True).content.decode()
    assert "That merge was already undone" in refused


def test_another_clinics_merge_is_not_found(client, world, olivia, ava):
    merge = client_merge(kept=olivia, merged=ava, by=world.manager)
    other = build_world(slug="elsewhere-undo")
    client.force_login(other.manager.user)
    assert client.get(f"/clients/merges/{merge.pk}/undo/").status_code == 404
    assert client.post(f"/clients/merges/{merge.pk}/undo/").status_code == 404


def test_two_people_of_one_name_are_told_apart_by_their_records(client, world, olivia):
    namesake = world.client(first_name="Olivia", last_name="Smith", email="o.smith@work.example")
    merge = client_merge(kept=olivia, merged=namesake, by=world.manager)
    client.force_login(world.manager.user)
    assert (
        "Two clients called Olivia Smith?" in client.get(f"/clients/merges/{merge.pk}/undo/").content.decode()
    )
    said = client.post(f"/clients/merges/{merge.pk}/undo/", follow=True).content.decode()
    assert "noted as another person than the Olivia Smith registered 01 May 2025." in said
