"""One person, two records: the desk is asked before typing in a client the clinic has; the pairs that
look alike are listed; a manager merges a pair, and nothing the merged record held is lost."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from clients.links import FORMS, client_from_token, forms_url
from clients.merging import (
    SAME_EMAIL,
    SAME_NAME_AND_BIRTHDAY,
    SAME_PHONE,
    client_merge,
    clients_distinct,
    clients_like,
    held_said,
    likely_duplicates,
    match_reasons,
    phone_key,
    rows_held,
)
from clients.models import Client, ClientMerge, ConsentWithdrawal, DistinctClients, PhotoConsent
from clients.services import client_unsubscribe
from clinic.errors import ClinicError
from clinic.models import OutboxMessage, OutboxStatus
from tests.booking_world import build_world, local
from tests.factories import ClientFactory, ConsentTemplateFactory, sign_consent
from treatments.booking import BookingRequest, appointment_book, course_book
from treatments.models import Appointment, Course, WaitlistEntry
from treatments.waitlist import waitlist_add

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 12, 7)


@pytest.fixture
def world(db):
    return build_world(slug="lumen-merge")


@pytest.fixture
def olivia(world):
    """Olivia, registered at the desk in 2025."""
    client = world.client(
        first_name="Olivia",
        last_name="Smith",
        email="olivia@example.com",
        phone="07700 900123",
        date_of_birth=dt.date(1990, 3, 2),
        notes="Prefers afternoons.",
    )
    Client.objects.filter(pk=client.pk).update(created_at=dt.datetime(2025, 5, 1, 9, tzinfo=dt.UTC))
    client.refresh_from_db()
    return client


@pytest.fixture
def olivia_online(world):
    """The same Olivia, who booked online under her married name and a new address, same phone."""
    return world.client(
        first_name="Olivia",
        last_name="Smith-Jones",
        email="olivia.sj@example.com",
        phone="+44 7700 900123",
        date_of_birth=dt.date(1990, 3, 2),
        notes="Allergic to lidocaine.",
    )


def _book(world, client, start, service=None):
    return appointment_book(
        BookingRequest(
            client=client, service=service or world.microcurrent, practitioner=world.dr_lee, start=start
        )
    )


# --- telling that two records may be one person -------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ("07700 900123", "+44 7700 900123"),
        ("+44 (0)7700-900.123", "07700900123"),
        ("(555) 010-2000", "+1 555 010 2000"),
        ("06 12 34 56 78", "+33 6 12 34 56 78"),
    ],
)
def test_one_number_written_nationally_and_internationally_is_one_phone(a, b):
    assert phone_key(a) == phone_key(b) != ""


def test_short_or_empty_numbers_match_nothing():
    assert phone_key("") == phone_key("12345") == ""
    assert phone_key("07700 900123") != phone_key("07700 900124")


def test_what_two_records_share(olivia, olivia_online, world):
    assert match_reasons(olivia, olivia_online) == (SAME_PHONE,)
    twin = Client(
        first_name="olivia", last_name="SMITH", date_of_birth=dt.date(1990, 3, 2), email="OLIVIA@example.com"
    )
    assert match_reasons(olivia, twin) == (SAME_EMAIL, SAME_NAME_AND_BIRTHDAY)
    namesake = Client(first_name="Olivia", last_name="Smith", date_of_birth=dt.date(1991, 3, 2))
    assert match_reasons(olivia, namesake) == ()  # a name alone is not enough: it is common


def test_clients_like_finds_by_email_phone_or_name_and_birthday_in_one_query(world, olivia):
    world.client(first_name="Olivia", last_name="Smith", email="other@example.com", phone="01632 960001")
    with CaptureQueriesContext(connection) as queries:
        by_email = clients_like(
            clinic=world.clinic, first_name="Liv", last_name="S", email="Olivia@Example.com"
        )
    assert len(queries) == 1
    assert [m.client for m in by_email] == [olivia] and by_email[0].reasons == (SAME_EMAIL,)
    by_phone = clients_like(clinic=world.clinic, first_name="O", last_name="S", phone="+44 7700 900 123")
    assert [m.client for m in by_phone] == [olivia]
    by_birthday = clients_like(
        clinic=world.clinic, first_name=" olivia ", last_name="smith", date_of_birth=dt.date(1990, 3, 2)
    )
    assert [m.client for m in by_birthday] == [olivia]
    assert clients_like(clinic=world.clinic, first_name="Olivia", last_name="Smith") == []


def test_another_clinics_client_is_never_offered(world, olivia):
    other = build_world(slug="elsewhere")
    assert clients_like(clinic=other.clinic, first_name="A", last_name="B", email=olivia.email) == []


def test_the_pairs_of_a_clinic_with_what_they_share_newest_first(world, olivia, olivia_online):
    twin = world.client(
        first_name="Emma", last_name="Smith", email="olivia@example.com", phone="01632 960002"
    )
    world.client(first_name="Unrelated", last_name="Person", email="u@example.com", phone="01632 960003")
    pairs = likely_duplicates(world.clinic)
    assert [(p.older, p.newer, p.reasons) for p in pairs] == [
        (olivia, twin, (SAME_EMAIL,)),
        (olivia, olivia_online, (SAME_PHONE,)),
    ]
    assert clients_distinct(first=twin, second=olivia, by=world.manager) is True
    assert clients_distinct(first=olivia, second=twin, by=world.manager) is False  # said already
    assert [(p.older, p.newer) for p in likely_duplicates(world.clinic)] == [(olivia, olivia_online)]
    assert [m.client for m in clients_like(exclude=olivia, clinic=world.clinic, email=olivia.email)] == []


def test_listing_the_pairs_takes_the_same_queries_for_a_small_and_a_large_clinic(world):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            likely_duplicates(world.clinic)
        return len(queries)

    for n in range(5):
        world.client(email=f"pair{n}@example.com")
        world.client(email=f"pair{n}@example.com")
    small = count_queries()
    for n in range(5, 100):
        world.client(email=f"pair{n}@example.com")
        world.client(email=f"pair{n}@example.com")
    assert count_queries() == small == 3


def test_a_placeholder_shared_by_many_records_pairs_none_of_them(world, olivia):
    for n in range(13):
        world.client(email="none@none.com", phone=f"01632 9601{n:02d}")
    world.client(email="family@example.com", phone="01632 960200")
    sibling = world.client(email="family@example.com", phone="01632 960201")
    assert [(p.newer, p.reasons) for p in likely_duplicates(world.clinic)] == [(sibling, (SAME_EMAIL,))]


def test_two_records_said_distinct_are_stored_once_in_id_order(world, olivia, olivia_online):
    with pytest.raises(IntegrityError), transaction.atomic():
        DistinctClients.objects.create(clinic=world.clinic, first=olivia_online, second=olivia)
    with pytest.raises(ClinicError):
        clients_distinct(first=olivia, second=olivia, by=None)


# --- merging ------------------------------------------------------------------------------------


def _give_everything(world, client, when, consent):
    """Book `client` a visit and a course, put them on the waitlist, have them sign a consent, give
    photo consent, withdraw a consent: a row of every kind that refers to a client."""
    _book(world, client, when)
    course_book(
        client=client,
        service=world.microcurrent,
        practitioner=world.sam,
        starts=[when + dt.timedelta(days=7), when + dt.timedelta(days=14)],
    )
    waitlist_add(
        client=client,
        service=world.microneedling,
        practitioner=None,
        first_day=MONDAY + dt.timedelta(days=21),
        last_day=MONDAY + dt.timedelta(days=22),
    )
    sign_consent(client, consent)
    PhotoConsent.objects.create(client=client, scope="clinical", signed_text="x", signature_name="O S")
    ConsentWithdrawal.objects.create(
        client=client, modality="microneedling", because="withdrawn", told="phone", recorded_by=world.manager
    )


def test_a_merge_moves_every_row_the_merged_record_held_and_keeps_what_it_said(world, olivia, olivia_online):
    consent = ConsentTemplateFactory(clinic=world.clinic, modality="mesotherapy")
    _give_everything(world, olivia, local(world, 2026, 12, 7, 10), consent)
    _give_everything(world, olivia_online, local(world, 2026, 12, 8, 10), consent)
    before = rows_held([olivia, olivia_online])
    assert before[olivia_online.pk]["appointments"] == 3 and before[olivia_online.pk]["emails"] >= 1

    merge = client_merge(kept=olivia, merged=olivia_online, by=world.manager)

    assert not Client.objects.filter(pk=olivia_online.pk).exists()
    after = rows_held([olivia])[olivia.pk]
    expected = {
        label: before[olivia.pk].get(label, 0) + before[olivia_online.pk].get(label, 0)
        for label in set(before[olivia.pk]) | set(before[olivia_online.pk])
    }
    expected["client merges"] = expected.get("client merges", 0) + 1
    assert after == expected
    assert merge.moved["appointments"] == 3 and merge.moved["courses"] == 1
    assert "3 visits, 1 course" in held_said(merge.moved)
    assert merge.merged_client_id == olivia_online.pk and merge.merged_by == world.manager
    assert merge.merged_name == "Olivia Smith-Jones"
    assert merge.merged_details["email"] == "olivia.sj@example.com"
    assert merge.merged_details["date_of_birth"] == "1990-03-02"
    assert Appointment.objects.filter(client=olivia).count() == 6
    assert Course.objects.filter(client=olivia).count() == 2
    assert WaitlistEntry.objects.filter(client=olivia).count() == 2


def test_the_kept_record_keeps_its_details_unless_the_manager_takes_the_other(world, olivia, olivia_online):
    olivia.gp_details = ""
    olivia.save()
    olivia_online.gp_details = "Dr Fox, Hill Surgery"
    olivia_online.save()
    client_merge(
        kept=olivia,
        merged=olivia_online,
        by=world.manager,
        take_from_merged=frozenset({"last_name", "email"}),
    )
    olivia.refresh_from_db()
    assert (olivia.first_name, olivia.last_name, olivia.email) == (
        "Olivia",
        "Smith-Jones",
        "olivia.sj@example.com",
    )
    assert olivia.phone == "07700 900123"  # kept's, as not asked for
    assert olivia.gp_details == "Dr Fox, Hill Surgery"  # only the merged record had it
    assert olivia.notes.startswith("Prefers afternoons.\n\nFrom Olivia Smith-Jones's record (merged ")
    assert olivia.notes.endswith("):\nAllergic to lidocaine.")
    assert olivia.created_at == dt.datetime(2025, 5, 1, 9, tzinfo=dt.UTC)


def test_emails_still_to_go_follow_the_kept_record_and_its_address(world, olivia, olivia_online):
    appointment = _book(world, olivia_online, local(world, 2026, 12, 9, 10))
    pending = OutboxMessage.objects.filter(client_id=olivia_online.pk, status=OutboxStatus.PENDING)
    assert pending.exists()
    ids = list(pending.values_list("pk", flat=True))
    client_merge(kept=olivia, merged=olivia_online, by=world.manager)
    moved = OutboxMessage.objects.filter(pk__in=ids)
    assert {m.client_id for m in moved} == {olivia.pk}
    assert {m.recipient_email for m in moved if m.status == OutboxStatus.PENDING} == {"olivia@example.com"}
    assert appointment.__class__.objects.get(pk=appointment.pk).client_id == olivia.pk


def test_unsubscribed_on_either_record_stays_unsubscribed(world, olivia, olivia_online):
    client_unsubscribe(client=olivia_online)
    client_merge(kept=olivia, merged=olivia_online, by=world.manager)
    olivia.refresh_from_db()
    assert olivia.unsubscribed_at is not None
    assert not olivia.accepts_aftercare_email


def test_a_merge_is_refused_in_words_for_one_record_or_two_clinics(world, olivia):
    with pytest.raises(ClinicError, match="cannot be merged into itself"):
        client_merge(kept=olivia, merged=olivia, by=None)
    stranger = ClientFactory()
    with pytest.raises(ClinicError, match="two clinics"):
        client_merge(kept=olivia, merged=stranger, by=None)
    assert Client.objects.filter(pk=stranger.pk).exists()


def test_a_record_merged_meanwhile_is_refused_not_lost(world, olivia, olivia_online):
    stale = Client.objects.get(pk=olivia_online.pk)
    client_merge(kept=olivia, merged=olivia_online, by=None)
    with pytest.raises(ClinicError, match="no longer there"):
        client_merge(kept=olivia, merged=stale, by=None)


def test_merging_the_kept_record_later_takes_its_history_along(world, olivia, olivia_online):
    third = world.client(first_name="Liv", last_name="Smith", email="olivia@example.com")
    client_merge(kept=olivia, merged=olivia_online, by=None)
    client_merge(kept=third, merged=olivia, by=None)
    assert set(ClientMerge.objects.values_list("merged_client_id", "kept_id")) == {
        (olivia_online.pk, third.pk),
        (olivia.pk, third.pk),
    }


def test_links_emailed_to_the_merged_record_act_for_the_kept_one(world, olivia, olivia_online):
    link = forms_url(olivia_online, modalities=["microneedling"])
    client_merge(kept=olivia, merged=olivia_online, by=None)
    token = link.rstrip("/").rsplit("/", 1)[1]
    client, payload = client_from_token(token, purpose=FORMS)
    assert client == olivia and payload["m"] == ["microneedling"]


def test_pairs_said_distinct_follow_the_merge(world, olivia, olivia_online):
    sister = world.client(first_name="Ava", last_name="Smith", email="olivia.sj@example.com")
    clients_distinct(first=olivia_online, second=sister, by=None)
    clients_distinct(first=olivia_online, second=olivia, by=None)
    client_merge(kept=olivia, merged=olivia_online, by=None)
    assert list(DistinctClients.objects.values_list("first_id", "second_id")) == [(olivia.pk, sister.pk)]


def test_a_merged_id_is_merged_once(world, olivia, olivia_online):
    ClientMerge.objects.create(
        clinic=world.clinic, kept=olivia, merged_client_id=999_999, merged_name="X", merged_details={}
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientMerge.objects.create(
            clinic=world.clinic,
            kept=olivia_online,
            merged_client_id=999_999,
            merged_name="X",
            merged_details={},
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientMerge.objects.create(
            clinic=world.clinic, kept=olivia, merged_client_id=olivia.pk, merged_name="X", merged_details={}
        )


# --- the pages ----------------------------------------------------------------------------------


def _book_typed_in(http, world, **extra):
    fields = {
        "practitioner": world.dr_lee.id,
        "start": "2026-12-07T10:00",
        "service": world.microcurrent.id,
        "new-first_name": "Olivia",
        "new-last_name": "Smith-Jones",
        "new-email": "liv@example.com",
        "new-phone": "+44 7700 900 123",
    }
    return http.post("/book/", {**fields, **extra})


def test_the_desk_is_asked_before_typing_in_a_client_the_clinic_has(client, world, olivia):
    client.force_login(world.desk.user)
    response = _book_typed_in(client, world)
    assert response.status_code == 400
    page = response.content.decode()
    assert "This may be a client the clinic has already" in page
    assert f'name="client" value="{olivia.pk}"' in page and "Olivia Smith is the client" in page
    assert "(the same phone)" in page
    assert not Appointment.objects.exists() and Client.objects.count() == 1

    chosen = _book_typed_in(client, world, client=olivia.pk)  # "Olivia Smith is the client"
    assert chosen.status_code == 302
    assert Appointment.objects.get().client == olivia and Client.objects.count() == 1


def test_the_desk_registers_someone_else_with_a_shared_phone_when_told(client, world, olivia):
    client.force_login(world.desk.user)
    response = _book_typed_in(client, world, **{"new-not_a_duplicate": "True"})
    assert response.status_code == 302
    assert Appointment.objects.get().client.last_name == "Smith-Jones"
    assert Client.objects.count() == 2


def test_the_public_page_never_shows_a_stranger_someones_record(client, world, olivia):
    response = client.get(
        f"/p/{world.clinic.slug}/book/{world.microcurrent.id}/details/?practitioner={world.dr_lee.id}&start=2026-12-07T10:00"
    )
    assert response.status_code == 200
    response = client.post(
        f"/p/{world.clinic.slug}/book/{world.microcurrent.id}/details/?practitioner={world.dr_lee.id}&start=2026-12-07T10:00",
        {"first_name": "Olivia", "last_name": "Jones", "email": "x@example.com", "phone": "07700 900123"},
    )
    assert "Olivia Smith" not in response.content.decode()


def test_the_duplicates_page_and_the_compare_page_for_the_desk(client, world, olivia, olivia_online):
    client.force_login(world.desk.user)
    page = client.get("/clients/duplicates/").content.decode()
    assert f"pair-{olivia.pk}-{olivia_online.pk}" in page and "the same phone" in page
    compare = client.get(f"/clients/{olivia.pk}/same-as/{olivia_online.pk}/").content.decode()
    assert "Olivia Smith and Olivia Smith-Jones: one client?" in compare
    assert "The two records have the same phone." in compare
    assert "A manager can merge them" in compare and 'value="merge"' not in compare
    refused = client.post(f"/clients/{olivia.pk}/same-as/{olivia_online.pk}/", {"action": "merge"})
    assert refused.status_code == 403
    assert Client.objects.count() == 2

    two = client.post(
        f"/clients/{olivia.pk}/same-as/{olivia_online.pk}/", {"action": "distinct"}, follow=True
    )
    assert "are two people. Not offered again." in two.content.decode()
    assert "no-duplicates" in client.get("/clients/duplicates/").content.decode()


def test_a_manager_merges_choosing_details_and_the_old_page_leads_to_the_kept_record(
    client, world, olivia, olivia_online
):
    _book(world, olivia_online, local(world, 2026, 12, 7, 10))
    client.force_login(world.manager.user)
    compare = client.get(f"/clients/{olivia.pk}/same-as/{olivia_online.pk}/").content.decode()
    assert 'name="last_name" value="merged"' in compare and 'name="first_name" value="merged"' not in compare
    assert "1 visit" in compare
    response = client.post(
        f"/clients/{olivia.pk}/same-as/{olivia_online.pk}/",
        {"action": "merge", "last_name": "merged", "email": "kept"},
        follow=True,
    )
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/clients/{olivia.pk}/"
    assert "Merged Olivia Smith-Jones&#x27;s record into Olivia Smith-Jones&#x27;s: 1 visit" in page
    assert "Olivia Smith-Jones's record (olivia.sj@example.com), merged in on" in page
    assert "by Morgan Ellis" in page
    olivia.refresh_from_db()
    assert (olivia.last_name, olivia.email) == ("Smith-Jones", "olivia@example.com")

    old = client.get(f"/clients/{olivia_online.pk}/", follow=True)
    assert old.redirect_chain[-1][0] == f"/clients/{olivia.pk}/"
    assert "That record was merged into Olivia Smith-Jones&#x27;s." in old.content.decode()


def test_a_clients_page_says_who_else_they_may_be(client, world, olivia, olivia_online):
    client.force_login(world.desk.user)
    page = client.get(f"/clients/{olivia_online.pk}/").content.decode()
    assert f'id="same-as-{olivia.pk}"' in page and "May be the same client as" in page
    assert f"/clients/{olivia.pk}/same-as/{olivia_online.pk}/" in page  # the first registered is kept
    clients_distinct(first=olivia, second=olivia_online, by=world.desk)
    assert "May be the same client as" not in client.get(f"/clients/{olivia_online.pk}/").content.decode()


def test_a_visit_whose_forms_are_missing_points_to_the_clients_other_record(
    client, world, olivia, olivia_online
):
    consent = ConsentTemplateFactory(clinic=world.clinic, modality="microneedling")
    sign_consent(olivia, consent)  # signed on her first record
    visit = _book(world, olivia_online, local(world, 2026, 12, 7, 10), service=world.microneedling)
    client.force_login(world.dr_lee.user)
    page = client.get(f"/appointments/{visit.pk}/").content.decode()
    assert "Still to fill or sign before the visit" in page
    assert "Olivia may have another record, Olivia Smith (the same phone): their forms may be there." in page
    assert f"/clients/{olivia.pk}/same-as/{olivia_online.pk}/" in page


def test_the_compare_page_warns_of_two_visits_at_once_and_different_birthdays(
    client, world, olivia, olivia_online
):
    olivia_online.date_of_birth = dt.date(1990, 3, 3)
    olivia_online.save()
    _book(world, olivia, local(world, 2026, 12, 7, 10))
    appointment_book(
        BookingRequest(
            client=olivia_online,
            service=world.microneedling,
            practitioner=world.sam,
            start=local(world, 2026, 12, 7, 10, 30),
        )
    )
    client.force_login(world.manager.user)
    compare = client.get(f"/clients/{olivia.pk}/same-as/{olivia_online.pk}/").content.decode()
    assert "Their dates of birth differ (2 Mar 1990 and 3 Mar 1990)" in compare
    assert "Both records have a visit then" in compare
    assert 'value="merge"' not in compare  # not until one is cancelled
    with pytest.raises(ClinicError, match=r"Both records have a visit at the same time: .* Mon 7 Dec 10:00"):
        client_merge(kept=olivia, merged=olivia_online, by=world.manager)
    assert Client.objects.filter(pk=olivia_online.pk).exists()
    refused = client.post(
        f"/clients/{olivia.pk}/same-as/{olivia_online.pk}/", {"action": "merge"}, follow=True
    ).content.decode()
    assert "Cancel the one not needed, then merge." in refused


def test_another_clinics_records_cannot_be_compared(client, world, olivia):
    stranger = ClientFactory()
    client.force_login(world.manager.user)
    assert client.get(f"/clients/{olivia.pk}/same-as/{stranger.pk}/").status_code == 404
    assert client.post(f"/clients/{olivia.pk}/same-as/{stranger.pk}/", {"action": "merge"}).status_code == 404
    assert client.get(f"/clients/{olivia.pk}/same-as/{olivia.pk}/").status_code == 404
    assert Client.objects.filter(pk=stranger.pk).exists()


def test_a_signed_consent_follows_a_merge_and_nothing_else_changes_it(world, olivia, olivia_online):
    from clients.models import SignedConsent

    signed = sign_consent(olivia_online, ConsentTemplateFactory(clinic=world.clinic))
    with pytest.raises(IntegrityError), transaction.atomic():  # no merge says the records are one
        SignedConsent.objects.filter(pk=signed.pk).update(client=olivia)
    ClientMerge.objects.create(
        clinic=world.clinic,
        kept=olivia,
        merged_client_id=olivia_online.pk,
        merged_name="x",
        merged_details={},
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        SignedConsent.objects.filter(pk=signed.pk).update(client=olivia, signature_name="Someone else")
    with pytest.raises(IntegrityError), transaction.atomic():
        SignedConsent.objects.filter(pk=signed.pk).update(signature_name="Someone else")
    assert SignedConsent.objects.filter(pk=signed.pk).update(client=olivia) == 1
    signed.refresh_from_db()
    assert signed.signature_name == "Olivia Smith-Jones"


def test_the_api_answers_a_merged_records_id_with_where_it_went(world, olivia, olivia_online):
    from rest_framework.test import APIClient

    client_merge(kept=olivia, merged=olivia_online, by=world.manager)
    api = APIClient()
    api.force_authenticate(world.desk.user)
    response = api.get(f"/api/v1/clients/{olivia_online.pk}/")
    assert response.status_code == 404
    assert response.json() == {
        "code": "merged",
        "detail": f"This client's record was merged into Olivia Smith's: client {olivia.pk}.",
    }
    assert api.get(f"/api/v1/clients/{olivia.pk}/").json()["id"] == olivia.pk
    assert api.get("/api/v1/clients/999999/").json() == {"detail": "No Client matches the given query."}
    # another clinic's staff learn nothing of it
    other = build_world(slug="elsewhere")
    api.force_authenticate(other.desk.user)
    assert "code" not in api.get(f"/api/v1/clients/{olivia_online.pk}/").json()
