"""A client may withdraw their consent to a treatment at any time (every consent says so). The desk
records it as the client told them; every consent to that treatment signed before stops counting until
the client signs again, and what they signed is kept. Lumen (London) at SUITE_NOW, 07:00 on Tuesday
1 December 2026; Olivia's microneedling is at 10:00 today with Dr Lee, another on 15 December.
"""

import datetime as dt
import html
import re

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from clients.models import ConsentWithdrawal
from clients.selectors import client_forms, forms_needed
from clients.services import consent_countersign, consent_withdraw
from clinic.errors import ClinicError
from tests.booking_world import build_world, local
from tests.factories import ConsentTemplateFactory, sign_consent
from tests.test_fhir_export import client_bundle, resources
from treatments.booking import BookingRequest, appointment_book
from treatments.sessions import treatment_session_start

pytestmark = pytest.mark.django_db


def consent_world(days, **olivia):
    """Lumen, where Olivia Smith signed the microneedling consent and is booked for it with Dr Lee at
    10:00 on each of the days."""
    world = build_world()
    world.template = ConsentTemplateFactory(clinic=world.clinic, modality="microneedling")
    world.olivia = world.client(first_name="Olivia", last_name="Smith", **olivia)
    world.signed = sign_consent(world.olivia, world.template)
    world.visits = [
        appointment_book(
            BookingRequest(
                client=world.olivia,
                service=world.microneedling,
                practitioner=world.dr_lee,
                start=local(world, *day, 10),
            )
        )
        for day in days
    ]
    return world


@pytest.fixture
def world(db):
    return consent_world(((2026, 12, 1), (2026, 12, 29)))


def _withdraw(world, **extra):
    return consent_withdraw(
        client=world.olivia, modality="microneedling", by=world.desk, **{"told": "phone", **extra}
    )


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_a_withdrawn_consent_no_longer_counts_until_the_client_signs_again(world):
    visit = world.visits[0]
    assert not forms_needed(client=world.olivia, modalities={"microneedling"}, at=visit.start)
    withdrawal = _withdraw(world, note="  Changed her mind  after reading about it ")
    assert (withdrawal.recorded_by, withdrawal.told, withdrawal.note) == (
        world.desk,
        "phone",
        "Changed her mind after reading about it",
    )
    needed = forms_needed(client=world.olivia, modalities={"microneedling"}, at=visit.start)
    assert needed.names == ["Microneedling consent"]
    with pytest.raises(ClinicError, match="Olivia must still fill or sign: Microneedling consent"):
        treatment_session_start(appointment=visit, by=world.dr_lee)
    states = {f.title: f.text for f in client_forms(world.olivia, now=timezone.now())}
    assert states["Microneedling consent"] == "Withdrawn on 1 Dec 2026; not signed since"
    # what was signed is kept, word for word
    world.signed.refresh_from_db()
    assert world.signed.signed_text == world.template.body
    # signing again restores it
    sign_consent(world.olivia, world.template)
    assert not forms_needed(client=world.olivia, modalities={"microneedling"}, at=visit.start)
    assert treatment_session_start(appointment=visit, by=world.dr_lee).pk


def test_an_older_consent_does_not_stand_in_for_the_withdrawn_one(world):
    world.template.is_current = False
    world.template.save(update_fields=["is_current"])
    v2 = ConsentTemplateFactory(clinic=world.clinic, version=2, body="Version 2.")
    sign_consent(world.olivia, v2)
    _withdraw(world)
    needed = forms_needed(client=world.olivia, modalities={"microneedling"}, at=world.visits[0].start)
    assert needed.names == ["Microneedling consent"]  # neither version 1 nor 2 counts


def test_nothing_to_withdraw_is_said_and_other_treatments_are_untouched(world):
    with pytest.raises(ClinicError, match="has no consent to mesotherapy standing"):
        consent_withdraw(client=world.olivia, modality="mesotherapy", by=world.desk, told="phone")
    _withdraw(world)
    with pytest.raises(ClinicError, match="has no consent to microneedling standing"):
        _withdraw(world)  # already withdrawn
    with pytest.raises(ClinicError, match="Say how the client told the clinic"):
        sign_consent(world.olivia, world.template)
        _withdraw(world, told="pigeon")
    other = build_world()
    with pytest.raises(ClinicError, match="Only the clinic's own staff"):
        consent_withdraw(client=world.olivia, modality="microneedling", by=other.desk, told="phone")
    assert ConsentWithdrawal.objects.count() == 1


def test_a_withdrawn_consent_cannot_be_countersigned(world):
    world.clinic.consent_signed_by_practitioner = True
    world.clinic.save(update_fields=["consent_signed_by_practitioner"])
    _withdraw(world)
    with pytest.raises(ClinicError, match="Olivia Smith.s consent to microneedling no longer stands"):
        consent_countersign(consent=world.signed, role="practitioner", by=world.dr_lee, confirmed=True)


def test_the_database_never_changes_a_withdrawal(world):
    withdrawal = _withdraw(world)
    with (
        pytest.raises(DatabaseError, match="a consent withdrawal can never be changed"),
        transaction.atomic(),
    ):
        ConsentWithdrawal.objects.filter(pk=withdrawal.pk).update(
            withdrawn_at=timezone.now() - dt.timedelta(days=9)
        )


def test_the_desk_records_it_on_the_clients_page_and_is_told_of_the_visits_ahead(client, world):
    client.force_login(world.desk.user)
    url = reverse("client-detail", args=[world.olivia.pk])
    page = client.get(url)
    assert "Olivia withdraws their consent to a treatment?" in _text(page)
    response = client.post(
        reverse("consent-withdrawal", args=[world.olivia.pk]),
        {"modality": "microneedling", "told": "in_person", "note": "Not for me"},
        follow=True,
    )
    text = _text(response)
    assert (
        "Recorded: Olivia Smith withdrew their consent to microneedling. 2 visits ahead for it now show the "
        "consent missing: cancel them, or Olivia signs again before being treated."
    ) in text
    assert "Withdrawn on 1 Dec 2026; not signed since" in text
    assert text.count("Forms missing") == 2
    assert "withdraws their consent to a treatment?" not in text  # nothing left to withdraw
    # sent again, or with nothing chosen: refused in words
    again = client.post(
        reverse("consent-withdrawal", args=[world.olivia.pk]),
        {"modality": "microneedling", "told": "phone"},
        follow=True,
    )
    assert "has no consent to microneedling standing: there is nothing to withdraw." in _text(again)
    empty = client.post(reverse("consent-withdrawal", args=[world.olivia.pk]), {}, follow=True)
    assert "Choose the treatment the client withdrew their consent to." in _text(empty)
    assert ConsentWithdrawal.objects.count() == 1


def test_another_clinics_client_is_not_found(client, world):
    other = build_world()
    client.force_login(other.desk.user)
    response = client.post(
        reverse("consent-withdrawal", args=[world.olivia.pk]), {"modality": "microneedling", "told": "phone"}
    )
    assert response.status_code == 404
    assert not ConsentWithdrawal.objects.exists()


def test_the_practitioner_reads_when_and_how_it_was_withdrawn(client, world):
    _withdraw(world, note="Not for me")
    client.force_login(world.dr_lee.user)
    text = _text(client.get(reverse("client-intake-and-consent", args=[world.olivia.pk])))
    assert "Withdrawn on 1 Dec 2026 (by phone, recorded by Jo Carter): “Not for me”" in text


def test_the_fhir_consent_is_inactive_from_the_withdrawal(world):
    _withdraw(world)
    sign_consent(world.olivia, world.template)
    withdrawn, signed_again = resources(client_bundle(world, world.olivia), "Consent")
    assert withdrawn["status"] == "inactive"
    assert withdrawn["provision"]["period"]["end"].startswith("2026-12-01T07:00:00")
    assert signed_again["status"] == "active"
    assert "end" not in signed_again["provision"]["period"]


def test_a_visit_had_before_the_withdrawal_was_had_with_consent_and_can_still_be_recorded(world):
    visit = world.visits[0]  # 10:00 today; the client withdraws by phone at 12:00, after it
    from treatments.booking import appointment_set_status
    from treatments.models import AppointmentStatus

    appointment_set_status(visit, status=AppointmentStatus.FULFILLED, now=local(world, 2026, 12, 1, 11))
    ConsentWithdrawal.objects.create(
        client=world.olivia,
        modality="microneedling",
        withdrawn_at=local(world, 2026, 12, 1, 12),
        told="phone",
        recorded_by=world.desk,
    )
    assert not forms_needed(client=world.olivia, modalities={"microneedling"}, at=visit.start)
    later = forms_needed(client=world.olivia, modalities={"microneedling"}, at=world.visits[1].start)
    assert later.names == ["Microneedling consent"]
    # the record of what was done that morning is written late, the next day
    assert treatment_session_start(appointment=visit, by=world.dr_lee, now=local(world, 2026, 12, 2, 9)).pk
