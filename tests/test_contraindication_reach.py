"""Every contraindication rule must be able to apply: over a condition an intake question records, or
over one worked out from the client's details (under 18 on the visit's day, from the date of birth).
Lumen (London) at SUITE_NOW, Tuesday 1 December 2026."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from clients.models import IntakeQuestionnaire
from clients.services import intake_submit
from clinic.errors import ClinicError
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book
from treatments.contraindications import contraindication_findings, rules_never_met
from treatments.models import ContraindicationRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    world = build_world()
    world.microcurrent_protocol = world.microcurrent.protocols.get()
    ContraindicationRule.objects.create(
        protocol=world.microcurrent_protocol,
        condition_code="under-18",
        severity="absolute",
        explanation="Under 18",
    )
    return world


def _book_microcurrent(world, client, day=(2026, 12, 3)):
    return appointment_book(
        BookingRequest(
            client=client, service=world.microcurrent, practitioner=world.sam, start=local(world, *day, 10)
        )
    )


def test_a_client_under_18_on_the_visits_day_cannot_be_booked_without_any_intake(world):
    teen = world.client(first_name="Mia", date_of_birth=dt.date(2008, 12, 4))
    with pytest.raises(ClinicError, match=r"Mia Example cannot have “Microcurrent workout”: Under 18"):
        _book_microcurrent(world, teen, day=(2026, 12, 3))  # the day before her 18th birthday
    assert _book_microcurrent(world, teen, day=(2026, 12, 4)).pk  # her 18th birthday


def test_the_age_is_reckoned_on_the_visits_day_and_only_with_a_date_of_birth(world):
    teen = world.client(first_name="Mia", date_of_birth=dt.date(2010, 2, 28))
    unknown = world.client(first_name="Noor")
    on = dt.date(2026, 12, 1)
    assert [
        f.condition_code for f in contraindication_findings(client=teen, service=world.microcurrent, on=on)
    ] == ["under-18"]
    assert contraindication_findings(client=teen, service=world.microcurrent, on=dt.date(2028, 2, 28)) == []
    assert contraindication_findings(client=unknown, service=world.microcurrent, on=on) == []
    # a protocol without the rule is not affected
    assert contraindication_findings(client=teen, service=world.microneedling, on=on) == []


def test_the_age_adds_to_what_the_intake_records(world):
    form = IntakeQuestionnaire.objects.create(
        clinic=world.clinic,
        version=1,
        title="Health questionnaire",
        is_current=True,
        questions=[{"code": "pacemaker", "text": "Pacemaker?", "kind": "yes_no", "condition": "pacemaker"}],
    )
    teen = world.client(first_name="Mia", date_of_birth=dt.date(2010, 1, 1))
    intake_submit(client=teen, questionnaire=form, answers={"pacemaker": "yes"})
    found = contraindication_findings(client=teen, service=world.microcurrent, on=dt.date(2026, 12, 1))
    assert sorted(f.condition_code for f in found) == ["pacemaker", "under-18"]


def test_rules_over_a_condition_no_question_records_are_named(world):
    protocol = world.microneedling_protocol  # pregnancy, isotretinoin, cold-sores
    IntakeQuestionnaire.objects.create(
        clinic=world.clinic,
        version=1,
        title="Health questionnaire",
        is_current=True,
        questions=[
            {"code": "pregnant", "text": "Pregnant?", "kind": "yes_no", "condition": "pregnancy"},
            {"code": "roaccutane", "text": "Last dose?", "kind": "date", "condition": "isotretinoin"},
        ],
    )
    assert [r.condition_code for r in rules_never_met(protocol)] == ["cold-sores"]
    assert rules_never_met(world.microcurrent_protocol)[0].condition_code == "pacemaker"  # under-18 is met


def _manager_opens_a_protocol_no_question_covers(client, world) -> str:
    """An intake form that asks nothing; the manager signed in to the admin; the microcurrent
    protocol's page address."""
    IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="Health questionnaire", questions=[], is_current=True
    )
    user = world.manager.user
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="treatments"))
    client.force_login(user)
    return reverse("admin:treatments_protocol_change", args=[world.microcurrent_protocol.pk])


def test_the_manager_is_told_on_the_protocols_page(client, world):
    url = _manager_opens_a_protocol_no_question_covers(client, world)
    page = client.get(url).content.decode()
    assert "No question of the current intake form records “pacemaker”, so this rule can never apply." in page
    assert "under-18" not in page.split("can never apply")[0].split("records")[-1]


def test_saving_the_protocol_warns_the_manager_of_a_rule_that_can_never_apply(client, world):
    from tests.test_working_hours_clash import _FormFields

    url = _manager_opens_a_protocol_no_question_covers(client, world)
    fields = _FormFields()
    fields.feed(client.get(url).content.decode())
    sent = {k: v for k, v in fields.fields.items() if "__prefix__" not in k}
    if sent.get("products") == "":
        del sent["products"]  # a multiple select with nothing chosen sends nothing
    saved = client.post(url, sent, follow=True)
    assert saved.redirect_chain[-1][0].endswith("/admin/treatments/protocol/")
    messages = [str(m) for m in saved.context["messages"]]
    assert any("records “pacemaker”, so this rule can never apply" in m for m in messages), messages
