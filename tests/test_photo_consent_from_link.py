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
