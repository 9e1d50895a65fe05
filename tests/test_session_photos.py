"""Photos in the treatment record: only with the client's consent, only photos, seen only by the
practitioners and managers, stored under names that say nothing of the client."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as BrowserClient
from django.urls import reverse

from clients.models import PhotoConsent
from clients.services import photo_consent_give, photo_consent_withdraw
from clinic.errors import ClinicError
from clinic.models import OutboxMessage
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book
from treatments.models import SessionPhoto
from treatments.sessions import (
    treatment_session_add_microneedling,
    treatment_session_add_photo,
    treatment_session_sign_off,
    treatment_session_start,
)

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def session(world):
    visit = appointment_book(
        BookingRequest(
            client=world.client(first_name="Olivia", last_name="Smith"),
            service=world.microneedling,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 1, 10),
        )
    )
    return treatment_session_start(appointment=visit, by=world.dr_lee)


def consent(session):
    return photo_consent_give(
        client=session.client, scope="clinical", signature_name="Olivia Smith", agreed=True
    )


def upload(name="olivia-smith-cheeks.jpg", content=JPEG):
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


def test_no_photo_without_the_clients_consent_to_photos_for_their_record(world, session):
    with pytest.raises(ClinicError, match="Olivia has not consented to photos for their clinical record"):
        treatment_session_add_photo(session=session, by=world.dr_lee, image=upload())
    consent(session)
    photo = treatment_session_add_photo(session=session, by=world.dr_lee, image=upload(), caption=" Before ")
    assert photo.caption == "Before"
    photo_consent_withdraw(client=session.client, scope="clinical")
    with pytest.raises(ClinicError, match="has not consented"):
        treatment_session_add_photo(session=session, by=world.dr_lee, image=upload())
    assert SessionPhoto.objects.count() == 1  # the one taken while consent stood stays


def test_a_photo_is_stored_under_a_random_name_of_its_real_kind(world, session, media):
    consent(session)
    photo = treatment_session_add_photo(session=session, by=world.dr_lee, image=upload("olivia.jpg", PNG))
    assert "olivia" not in photo.image.name.lower() and photo.image.name.endswith(".png")
    assert (media / photo.image.name).read_bytes() == PNG


@pytest.mark.parametrize(
    "content",
    [b"<html><script>alert(1)</script>", b"%PDF-1.7", b"", b"\xff\xd8"],
    ids=["html", "pdf", "empty", "short"],
)
def test_what_is_not_a_photo_is_refused_whatever_its_name(world, session, content):
    consent(session)
    with pytest.raises(ClinicError, match="That file is not a photo"):
        treatment_session_add_photo(session=session, by=world.dr_lee, image=upload("photo.jpg", content))
    assert not SessionPhoto.objects.exists()


def test_no_photo_is_added_after_sign_off(world, session):
    consent(session)
    from treatments.models import BodyArea

    treatment_session_add_microneedling(
        session=session, by=world.dr_lee, area=BodyArea.objects.get(code="cheeks"), depth_mm="0.5", passes=2
    )
    treatment_session_sign_off(session=session, by=world.dr_lee)
    with pytest.raises(ClinicError, match="signed off"):
        treatment_session_add_photo(session=session, by=world.dr_lee, image=upload())


def test_consent_is_refused_unsigned_and_given_once(session):
    with pytest.raises(ClinicError, match="tick the box"):
        photo_consent_give(
            client=session.client, scope="clinical", signature_name="Olivia Smith", agreed=False
        )
    with pytest.raises(ClinicError, match="type your full name"):
        photo_consent_give(client=session.client, scope="clinical", signature_name=" ", agreed=True)
    first = consent(session)
    assert consent(session) == first and PhotoConsent.objects.count() == 1
    assert "clinical record" in first.signed_text


def test_the_practitioner_takes_consent_and_a_photo_on_the_record_page_and_only_staff_who_treat_see_it(
    client, world, session
):
    client.force_login(world.dr_lee.user)
    url = reverse("session-record", args=[session.appointment_id])
    page = client.get(url).content.decode()
    assert 'id="photo-consent"' in page and 'id="add-photo"' not in page
    response = client.post(
        url, {"action": "photo_consent", "consent-signature_name": "Olivia Smith"}, follow=True
    )
    assert "Please tick the box" in response.content.decode() and not PhotoConsent.objects.exists()
    client.post(
        url, {"action": "photo_consent", "consent-agreed": "on", "consent-signature_name": "Olivia Smith"}
    )
    assert PhotoConsent.objects.get().signature_name == "Olivia Smith"
    # their copy of it is emailed, once however many taps
    client.post(
        url, {"action": "photo_consent", "consent-agreed": "on", "consent-signature_name": "Olivia Smith"}
    )
    [copy] = OutboxMessage.objects.filter(template_key="forms_signed", client_id=session.client_id)
    assert [use["label"] for use in copy.context["photo_uses"]] == ["Clinical record"]
    assert copy.recipient_email == session.client.email != ""
    response = client.post(url, {"action": "photo", "photo-image": upload("x.jpg", b"not an image")})
    assert response.status_code == 400 and "That file is not a photo" in response.content.decode()
    response = client.post(url, {"action": "photo", "photo-image": upload(), "photo-caption": "Before"})
    assert response.status_code == 302
    photo = SessionPhoto.objects.get()
    photo_url = reverse("session-photo", args=[session.appointment_id, photo.pk])
    assert photo_url in client.get(url).content.decode()
    served = client.get(photo_url)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert b"".join(served.streaming_content) == JPEG
    assert served["Cache-Control"] == "private, no-store"
    desk = BrowserClient()
    desk.force_login(world.desk.user)
    assert desk.get(photo_url).status_code == 403
    elsewhere = BrowserClient()
    elsewhere.force_login(build_world().dr_lee.user)
    assert elsewhere.get(photo_url).status_code == 404
    assert (
        client.get(reverse("session-photo", args=[session.appointment_id, photo.pk + 1])).status_code == 404
    )


def test_the_desk_records_a_withdrawal_on_the_clients_page(client, world, session):
    consent(session)
    client.force_login(world.desk.user)
    page_url = reverse("client-detail", args=[session.client_id])
    assert 'id="photo-consent-clinical"' in client.get(page_url).content.decode()
    withdraw = reverse("photo-consent-withdraw", args=[session.client_id, "clinical"])
    response = client.post(withdraw, follow=True)
    assert "Olivia Smith withdrew consent to photos for: clinical record." in response.content.decode()
    assert 'id="photo-consent-clinical"' not in response.content.decode()
    assert PhotoConsent.objects.get().revoked_at is not None
    assert "no standing consent" in client.post(withdraw, follow=True).content.decode()
    assert client.post(reverse("photo-consent-withdraw", args=[session.client_id, "x"])).status_code == 302
    other = build_world().client()
    assert client.post(reverse("photo-consent-withdraw", args=[other.pk, "clinical"])).status_code == 404
