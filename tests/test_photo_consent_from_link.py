"""Consent to photos is as easy to take back as it was to give: from the link to their visits, a client
withdraws it for one use; for teaching or marketing the clinic is emailed to stop using their photos."""

import pytest
from django.urls import reverse

from clients.models import PhotoConsent
from clients.services import photo_consent_give
from clinic.models import OutboxMessage
from tests.booking_world import build_world
from treatments.links import client_visits_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world(slug="lumen-photo-link")
    world.clinic.email = "hello@lumen.example"
    world.clinic.save(update_fields=["email"])
    return world


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].partition("/")[2]


def test_a_client_withdraws_photo_consent_from_their_link(client, world):
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    for scope in ("clinical", "marketing"):
        photo_consent_give(client=olivia, scope=scope, signature_name="Olivia Smith", agreed=True)
    visits = _path(client_visits_url(olivia))
    page = client.get(visits).content.decode()
    assert 'id="photos-clinical"' in page and 'id="photos-marketing"' in page
    withdraw = reverse("public-photos-withdraw", args=[visits.split("/")[-2]])

    answer = client.post(withdraw, {"scope": "marketing"}, follow=True).content.decode()
    assert "We have told the clinic to stop using your photos for it." in answer
    assert 'id="photos-marketing"' not in answer and 'id="photos-clinical"' in answer
    assert PhotoConsent.objects.get(client=olivia, scope="marketing").revoked_at is not None
    [told] = OutboxMessage.objects.filter(template_key="photo_consent_withdrawn")
    assert told.recipient_email == "hello@lumen.example" and told.context["client_name"] == "Olivia Smith"
    assert told.context["client_page_url"].endswith(reverse("client-detail", args=[olivia.pk]))
    # again: nothing left to withdraw, and the clinic is not told twice
    again = client.post(withdraw, {"scope": "marketing"}, follow=True).content.decode()
    assert "You had no consent to photos for marketing to withdraw." in again
    # the clinical record's: no new photos; nothing for the clinic to stop using
    answer = client.post(withdraw, {"scope": "clinical"}, follow=True).content.decode()
    assert "Photos already taken stay in your record." in answer
    assert not PhotoConsent.objects.filter(client=olivia, revoked_at=None).exists()
    assert OutboxMessage.objects.filter(template_key="photo_consent_withdrawn").count() == 1
    assert "not a use of photos" in client.post(withdraw, {"scope": "x"}, follow=True).content.decode()
    assert client.get(withdraw).status_code == 405
    assert (
        client.post(reverse("public-photos-withdraw", args=["forged"]), {"scope": "clinical"}).status_code
        == 404
    )


def test_a_client_withdraws_a_treatment_consent_from_their_link(client, db):
    """It counts at once, as one the desk records; the clinic is emailed; their visit ahead stays booked
    and says the consent is missing; the withdrawal can never be changed, as the desk's cannot."""
    from django.db import DatabaseError, IntegrityError, transaction

    from clients.models import ConsentWithdrawal
    from clients.selectors import standing_consent_modalities
    from tests.test_consent_withdrawal import consent_world

    world = consent_world(((2026, 12, 29),), email="olivia@example.com")
    world.clinic.email = "hello@lumen.example"
    world.clinic.save(update_fields=["email"])
    olivia = world.olivia
    visits = _path(client_visits_url(olivia))
    page = client.get(visits).content.decode()
    assert 'id="consent-microneedling"' in page and "Your 1 visit ahead for it stays booked" in page
    withdraw = reverse("public-consent-withdraw", args=[visits.split("/")[-2]])

    answer = client.post(withdraw, {"modality": "microneedling"}, follow=True).content.decode()
    assert "You have withdrawn your consent to microneedling" in answer
    assert "Your 1 visit ahead for it stays booked" in answer and 'id="consent-microneedling"' not in answer
    [withdrawal] = ConsentWithdrawal.objects.filter(client=olivia)
    assert (withdrawal.told, withdrawal.recorded_by) == ("own_link", None)
    assert "microneedling" not in standing_consent_modalities(olivia)
    [told] = OutboxMessage.objects.filter(template_key="consent_withdrawn")
    assert told.recipient_email == "hello@lumen.example" and told.context["treatment"] == "microneedling"
    again = client.post(withdraw, {"modality": "microneedling"}, follow=True).content.decode()
    assert "You have no consent to microneedling standing: there is nothing to withdraw." in again
    # the practitioner reads how it was withdrawn
    client.force_login(world.dr_lee.user)
    staff_page = client.get(reverse("client-intake-and-consent", args=[olivia.pk])).content.decode()
    assert "(from their own link)" in staff_page
    # as every withdrawal: never changed; and only the client's own has no staff member
    with (
        pytest.raises(DatabaseError, match="a consent withdrawal can never be changed"),
        transaction.atomic(),
    ):
        ConsentWithdrawal.objects.filter(pk=withdrawal.pk).update(note="changed")
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentWithdrawal.objects.create(
            client=olivia, modality="microcurrent", told="phone", recorded_by=None
        )
    from clients.services import consent_withdraw
    from clinic.errors import ClinicError

    with pytest.raises(ClinicError, match="Say how the client told the clinic"):  # the desk cannot say so
        consent_withdraw(client=olivia, modality="microneedling", by=world.desk, told="own_link")
