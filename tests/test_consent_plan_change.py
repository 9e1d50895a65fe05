"""DOMAIN.md: the client consents again "when the plan changes". The practitioner records what changed;
the consent stops counting for the visits ahead, the client is sent the link and reads why above the
consent, and signing again restores it. Lumen (London) at SUITE_NOW, 07:00 on Tuesday 1 December 2026;
Olivia's microneedling is at 10:00 on 8 December with Dr Lee, another on 5 January.
"""

import html
import re

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.urls import reverse

from clients.models import ConsentEndedBecause, ConsentWithdrawal
from clients.selectors import client_forms, forms_needed
from clients.services import consent_ask_again, consent_countersign, consent_withdraw
from clinic.errors import ClinicError
from clinic.models import OutboxMessage
from tests.booking_world import build_world, local
from tests.factories import ConsentTemplateFactory, sign_consent
from tests.test_consent_withdrawal import consent_world
from tests.test_fhir_export import client_bundle, resources
from treatments.consents import consent_plan_change

pytestmark = pytest.mark.django_db

WHAT_CHANGED = "Adding the neck, up to 1.0 mm, over four more sessions"


@pytest.fixture
def world(db):
    return consent_world(((2026, 12, 8), (2027, 1, 5)), email="olivia@example.com")


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _forms_links(world):
    return list(
        OutboxMessage.objects.filter(client_id=world.olivia.pk, template_key="forms_request").order_by("id")
    )


def test_a_changed_plan_asks_for_consent_again_and_sends_the_link_for_the_next_visit(world):
    assert not forms_needed(client=world.olivia, modalities={"microneedling"}, at=world.visits[0].start)
    assert _forms_links(world) == []
    change = consent_plan_change(
        client=world.olivia, modality="microneedling", by=world.dr_lee, what_changed=f"  {WHAT_CHANGED} "
    )
    assert change.asked.because == ConsentEndedBecause.PLAN_CHANGED
    assert change.asked.note == WHAT_CHANGED and change.asked.told == ""
    assert change.visits_ahead == world.visits and change.link_sent_for == world.visits[0]
    for visit in world.visits:
        needed = forms_needed(client=world.olivia, modalities={"microneedling"}, at=visit.start)
        assert needed.names == ["Microneedling consent"]
    [link] = _forms_links(world)
    assert link.topic == f"appointment:{world.visits[0].pk}"
    assert link.context["forms_needed"] == ["Microneedling consent"]
    [state] = [s for s in client_forms(world.olivia, now=local(world, 2026, 12, 1, 8)) if "Micro" in s.title]
    assert (state.state, state.text) == (
        "missing",
        "Asked again on 1 Dec 2026 as the plan changed; not signed since",
    )
    # signing again restores it
    sign_consent(world.olivia, world.template)
    assert not forms_needed(client=world.olivia, modalities={"microneedling"}, at=world.visits[1].start)


def test_who_may_change_the_plan_and_what_they_must_say(world):
    other = build_world()
    nurse_without_meso = world.sam  # microneedling and microcurrent, not mesotherapy
    meso = ConsentTemplateFactory(clinic=world.clinic, modality="mesotherapy")
    sign_consent(world.olivia, meso)
    refusals = [
        ({"by": world.desk, "modality": "microneedling"}, "Only a practitioner qualified for microneedling"),
        (
            {"by": nurse_without_meso, "modality": "mesotherapy"},
            "Only a practitioner qualified for mesotherapy",
        ),
        ({"by": other.dr_lee, "modality": "microneedling"}, "Only the clinic's own staff"),
        ({"by": world.dr_lee, "modality": "laser"}, "Choose the treatment whose plan changed."),
        ({"by": world.dr_lee, "modality": "microcurrent"}, "has no consent to microcurrent standing"),
    ]
    for kwargs, said in refusals:
        with pytest.raises(ClinicError, match=said):
            consent_ask_again(client=world.olivia, what_changed=WHAT_CHANGED, **kwargs)
    with pytest.raises(
        ClinicError, match="Say what changed in the plan: Olivia reads it before signing again."
    ):
        consent_ask_again(client=world.olivia, modality="microneedling", by=world.dr_lee, what_changed="  ")
    assert not ConsentWithdrawal.objects.exists()
    # the manager may; asked once, there is nothing standing to ask again
    consent_ask_again(
        client=world.olivia, modality="mesotherapy", by=world.manager, what_changed=WHAT_CHANGED
    )
    with pytest.raises(ClinicError, match="has no consent to mesotherapy standing"):
        consent_ask_again(
            client=world.olivia, modality="mesotherapy", by=world.dr_lee, what_changed=WHAT_CHANGED
        )
    with pytest.raises(ClinicError, match="no consent to mesotherapy standing: there is nothing to withdraw"):
        consent_withdraw(client=world.olivia, modality="mesotherapy", by=world.desk, told="phone")


def test_the_database_keeps_the_reason_and_refuses_a_change_of_it(world):
    asked = consent_ask_again(
        client=world.olivia, modality="microneedling", by=world.dr_lee, what_changed=WHAT_CHANGED
    )
    with (
        pytest.raises(DatabaseError, match="a consent withdrawal can never be changed"),
        transaction.atomic(),
    ):
        ConsentWithdrawal.objects.filter(pk=asked.pk).update(note="")
    for row in (
        {"because": "plan_changed", "told": "", "note": ""},  # a plan change says what changed
        {"because": "plan_changed", "told": "phone", "note": "x"},  # the client did not phone it in
        {"because": "withdrawn", "told": "", "note": "x"},  # a withdrawal says how the client told
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            ConsentWithdrawal.objects.create(
                client=world.olivia, modality="microneedling", recorded_by=world.dr_lee, **row
            )


def test_a_consent_asked_again_cannot_be_countersigned(world):
    world.clinic.consent_signed_by_practitioner = True
    world.clinic.save(update_fields=["consent_signed_by_practitioner"])
    consent_ask_again(
        client=world.olivia, modality="microneedling", by=world.dr_lee, what_changed=WHAT_CHANGED
    )
    with pytest.raises(ClinicError, match="no longer stands"):
        consent_countersign(consent=world.signed, role="practitioner", by=world.dr_lee, confirmed=True)


def test_the_practitioner_asks_on_the_clients_forms_page_and_is_told_what_follows(client, world):
    client.force_login(world.dr_lee.user)
    url = reverse("client-intake-and-consent", args=[world.olivia.pk])
    assert "The plan changed? Ask Olivia to consent again" in _text(client.get(url))
    blank = client.post(
        reverse("consent-plan-changed", args=[world.olivia.pk]),
        {"modality": "microneedling", "what_changed": ""},
        follow=True,
    )
    assert "Say what changed in the plan" in _text(blank) and not ConsentWithdrawal.objects.exists()
    response = client.post(
        reverse("consent-plan-changed", args=[world.olivia.pk]),
        {"modality": "microneedling", "what_changed": WHAT_CHANGED},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url
    text = _text(response)
    assert (
        "Olivia Smith is asked to consent to microneedling again, as the plan changed. 2 visits ahead for it "
        "wait for the new signature. The link to sign is on its way to olivia@example.com."
    ) in text
    assert f"Asked again on 1 Dec 2026 as the plan changed (by Dr Amara Lee): “{WHAT_CHANGED}”" in text
    assert "The plan changed? Ask Olivia" not in text  # nothing standing to ask again
    # the desk sees the consent missing on the client's page and the visits
    client.force_login(world.desk.user)
    desk = _text(client.get(reverse("client-detail", args=[world.olivia.pk])))
    assert "Asked again on 1 Dec 2026 as the plan changed; not signed since" in desk
    assert desk.count("Forms missing") == 2


def test_the_front_desk_cannot_change_a_plan(client, world):
    client.force_login(world.desk.user)
    response = client.post(
        reverse("consent-plan-changed", args=[world.olivia.pk]),
        {"modality": "microneedling", "what_changed": WHAT_CHANGED},
    )
    assert response.status_code == 403 and not ConsentWithdrawal.objects.exists()
    other = build_world()
    client.force_login(other.dr_lee.user)
    response = client.post(
        reverse("consent-plan-changed", args=[world.olivia.pk]),
        {"modality": "microneedling", "what_changed": WHAT_CHANGED},
    )
    assert response.status_code == 404 and not ConsentWithdrawal.objects.exists()


def test_the_client_reads_why_above_the_consent_and_signs_again(client, world):
    consent_plan_change(
        client=world.olivia, modality="microneedling", by=world.dr_lee, what_changed=WHAT_CHANGED
    )
    [link] = _forms_links(world)
    path = "/" + link.context["forms_url"].split("://", 1)[1].partition("/")[2]
    page = _text(client.get(path))
    assert (
        "We ask you to sign this again because your treatment plan changed on 1 December 2026: "
        f"“{WHAT_CHANGED}”"
    ) in page
    signed = client.post(
        path,
        {
            f"consent-{world.template.pk}-agree": "yes",
            f"consent-{world.template.pk}-name": "Olivia Smith",
        },
    )
    assert signed.status_code == 200, _text(signed)
    assert not forms_needed(client=world.olivia, modalities={"microneedling"}, at=world.visits[0].start)
    assert "Nothing to fill in" in _text(client.get(path))


def test_a_withdrawal_after_the_plan_change_is_not_said_to_the_client_as_one(client, world):
    from clients.selectors import plan_changes_to_sign

    consent_ask_again(
        client=world.olivia, modality="microneedling", by=world.dr_lee, what_changed=WHAT_CHANGED
    )
    assert set(plan_changes_to_sign(world.olivia, {"microneedling"})) == {"microneedling"}
    sign_consent(world.olivia, world.template)
    assert plan_changes_to_sign(world.olivia, {"microneedling"}) == {}  # signed since
    consent_withdraw(client=world.olivia, modality="microneedling", by=world.desk, told="phone")
    assert plan_changes_to_sign(world.olivia, {"microneedling"}) == {}


def test_the_fhir_consent_ends_when_the_plan_changed(world):
    consent_ask_again(
        client=world.olivia, modality="microneedling", by=world.dr_lee, what_changed=WHAT_CHANGED
    )
    [ended] = resources(client_bundle(world, world.olivia), "Consent")
    assert ended["status"] == "inactive"
    assert ended["provision"]["period"]["end"].startswith("2026-12-01T07:00:00")


def test_the_visit_page_says_why_the_consent_is_missing(client, world):
    consent_plan_change(
        client=world.olivia, modality="microneedling", by=world.dr_lee, what_changed=WHAT_CHANGED
    )
    client.force_login(world.desk.user)
    text = _text(client.get(reverse("appointment-detail", args=[world.visits[0].pk])))
    assert "Still to fill or sign before the visit: Microneedling consent." in text
    assert (
        f"Microneedling consent asked again: Dr Amara Lee changed the plan on 1 Dec 2026: “{WHAT_CHANGED}”"
    ) in text
    sign_consent(world.olivia, world.template)
    assert "consent asked again" not in _text(
        client.get(reverse("appointment-detail", args=[world.visits[0].pk]))
    )
