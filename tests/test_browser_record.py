"""End to end in Chromium: the practitioner records a session and signs it off; the client's first
aftercare email reaches a real SMTP server."""

import datetime as dt

import pytest

from clinic.tasks import deliver_due_messages_task
from tests.booking_world import begun_today, build_world, give_face_depth_ranges
from tests.factories import PASSWORD, AppointmentFactory, ConsentTemplateFactory, sign_consent
from treatments.aftercare import aftercare_install_default_plan
from treatments.models import AppointmentStatus, MicroneedlingRecord

pytestmark = pytest.mark.browser


@pytest.fixture
def world(transactional_db):
    world = build_world()
    give_face_depth_ranges(world)
    aftercare_install_default_plan(world.microneedling_protocol)
    return world


def test_the_practitioner_records_the_session_and_signs_it_off(
    live_server, world, browser_page, smtp_settings, smtp_server
):
    smtp_settings.SITE_URL = live_server.url
    # the clinic asks its practitioners to sign each consent with the client too
    world.clinic.consent_signed_by_practitioner = True
    world.clinic.save(update_fields=["consent_signed_by_practitioner"])
    begun = begun_today(world.clinic)
    olivia = world.client(first_name="Olivia", last_name="Smith", email="olivia@example.com")
    sign_consent(olivia, ConsentTemplateFactory(clinic=world.clinic, modality="microneedling"))
    visit = AppointmentFactory(
        clinic=world.clinic,
        client=olivia,
        practitioner=world.dr_lee,
        service=world.microneedling,
        room=world.rooms[0],
        device=world.pens[0],
        start=begun,
        end=begun + dt.timedelta(minutes=60),
    )
    page = browser_page
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(world.dr_lee.user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    # given Olivia's visit, started minutes ago
    page.goto(f"{live_server.url}/appointments/{visit.pk}/")
    # Dr Lee goes through Olivia's consent with her and signs it: the record can start only then
    assert page.get_by_role("button", name="Start the treatment record").count() == 0
    page.get_by_label("I went through this consent with Olivia Smith").check()
    page.get_by_role("button", name="Sign as the practitioner").click()
    page.get_by_text(
        "You signed Olivia Smith's Microneedling consent (version 1) as the practitioner."
    ).wait_for()
    page.get_by_role("button", name="Start the treatment record").click()
    page.get_by_role("heading", name="Treatment record: Olivia Smith").wait_for()
    # when Dr Lee records the cheeks within the protocol
    form = page.locator("#add-microneedling")
    form.get_by_label("Area").select_option(label="Cheeks (0.5–1 mm)")
    form.get_by_label("Depth (mm)").fill("0.75")
    form.get_by_label("Passes").fill("3")
    form.get_by_label("Cartridge lot").fill("CART-2211")
    form.get_by_role("button", name="Record this area").click()
    page.get_by_text("Recorded Cheeks.").wait_for()
    # and the forehead deeper than the protocol: refused until she gives the reason, nothing retyped
    form = page.locator("#add-microneedling")
    form.get_by_label("Area").select_option(label="Forehead (0.25–0.5 mm)")
    form.get_by_label("Depth (mm)").fill("0.6")
    form.get_by_label("Passes").fill("2")
    form.get_by_role("button", name="Record this area").click()
    page.get_by_text("0.6 mm is outside the protocol's 0.25–0.5 mm for Forehead.").wait_for()
    form = page.locator("#add-microneedling")
    assert form.get_by_label("Depth (mm)").input_value() == "0.6"
    form.get_by_label("Reason, if outside the protocol").fill("Deep static lines, agreed with Olivia")
    form.get_by_role("button", name="Record this area").click()
    page.get_by_text("Recorded Forehead.").wait_for()
    rows = page.locator("#record-microneedling tbody tr")
    assert rows.count() == 2
    assert "Deep static lines" in rows.nth(1).inner_text()
    # then she signs off: the record is final, the visit completed, the aftercare scheduled
    page.get_by_role("button", name="Sign the record off").click()
    page.get_by_text("Signed off: the record is final and the visit completed.").wait_for()
    assert page.locator("#add-microneedling").count() == 0
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.FULFILLED
    assert MicroneedlingRecord.objects.filter(session__appointment=visit).count() == 2
    # and the day-0 instructions go out through the SMTP server
    assert deliver_due_messages_task() == 1
    [email] = smtp_server.messages
    assert email["To"].addresses[0].addr_spec == "olivia@example.com"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
