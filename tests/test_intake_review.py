"""Practitioners read what the client answered and signed, word for word; the front desk does not."""

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import IntakeQuestionnaire, IntakeResponse, SignedConsent, fitzpatrick_type_of
from clients.services import intake_submit, photo_consent_give, photo_consent_withdraw
from tests.booking_world import build_world, days_ahead
from tests.factories import ConsentTemplateFactory, sign_consent
from treatments import demo_data
from treatments.booking import BookingRequest, appointment_book

pytestmark = pytest.mark.django_db

QUESTIONS = [
    {"code": "cold-sores", "text": "Do you get cold sores?", "kind": "yes_no", "condition": "cold-sores"},
    {"code": "pregnancy", "text": "Are you pregnant?", "kind": "yes_no", "condition": "pregnancy"},
    {
        "code": "isotretinoin",
        "text": "Date of your last isotretinoin dose, if ever",
        "kind": "date",
        "condition": "isotretinoin",
    },
    {"code": "fitzpatrick", "text": "Skin type", "kind": "choice", "choices": demo_data.FITZPATRICK_CHOICES},
    {"code": "goals", "text": "What would you like to improve?", "kind": "text"},
]


@pytest.fixture
def world(db):
    world = build_world()
    world.intake = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="Health questionnaire", questions=QUESTIONS, is_current=True
    )
    return world


def _filled_before(world, client, days_ago, **answers):
    """An intake the client filled `days_ago` days ago (no to the yes/no questions unless said)."""
    return IntakeResponse.objects.create(
        client=client,
        questionnaire=world.intake,
        answers={"cold-sores": "no", "pregnancy": "no"} | answers,
        submitted_at=timezone.now() - dt.timedelta(days=days_ago),
    )


def _fill(world, client, **answers):
    base = {"cold-sores": "no", "pregnancy": "no"}
    return intake_submit(client=client, questionnaire=world.intake, answers=base | answers)


def _page(http, member, client, **params):
    http.force_login(member.user)
    return http.get(reverse("client-intake-and-consent", args=[client.pk]), params)


def _text(response) -> str:
    """The page's words without tags, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.mark.parametrize(
    ("answer", "skin_type"),
    [
        ("IV – olive: rarely burns, tans easily", 4),
        ("VI – dark brown or black: never burns", 6),
        ("I", 1),
        ("iii", 3),
        ("5", 5),
        ("", None),
        ("Not sure", None),
        ("7", None),
    ],
)
def test_the_skin_type_is_read_from_the_answer_s_first_word(answer, skin_type):
    assert fitzpatrick_type_of(answer) == skin_type


def test_submitting_the_intake_keeps_the_skin_type_as_a_number(world):
    ada = world.client(first_name="Ada")
    response = _fill(world, ada, fitzpatrick=demo_data.FITZPATRICK_CHOICES[4])
    response.refresh_from_db()
    assert response.fitzpatrick_type == 5


def test_a_practitioner_reads_every_answer_with_the_yes_and_the_dates_first(client, world):
    ada = world.client(first_name="Ada", last_name="Byron")
    _fill(
        world,
        ada,
        **{
            "cold-sores": "yes",
            "isotretinoin": "2026-08-04",
            "fitzpatrick": demo_data.FITZPATRICK_CHOICES[3],
            "goals": "Softer acne scars",
        },
    )
    response = _page(client, world.dr_lee, ada)
    assert response.status_code == 200
    text = _text(response)
    assert "Skin type: Fitzpatrick IV" in text
    flagged = text.split("To note", 1)[1].split("Every answer", 1)[0]
    assert "Yes Do you get cold sores?" in flagged
    assert "4 Aug 2026 Date of your last isotretinoin dose, if ever" in flagged
    assert "pregnant" not in flagged  # a no is not something to note
    answers = text.split("Every answer", 1)[1].split("Consents signed", 1)[0]
    assert "Are you pregnant? No" in answers
    assert "What would you like to improve? Softer acne scars" in answers
    assert "Skin type IV – olive: rarely burns, tans easily" in answers


def test_an_unanswered_question_says_so_and_a_clear_intake_notes_nothing(client, world):
    ada = world.client(first_name="Ada")
    _fill(world, ada)
    text = _text(_page(client, world.dr_lee, ada))
    assert "No yes answers and no dates given to the health questions." in text
    assert "Date of your last isotretinoin dose, if ever None given" in text
    assert "What would you like to improve? Not answered" in text
    assert "Skin type: Fitzpatrick" not in text


def test_earlier_intakes_are_listed_and_each_can_be_read_as_it_was_answered(client, world):
    ada = world.client(first_name="Ada")
    first = _filled_before(world, ada, 400, **{"cold-sores": "yes"})
    # the clinic's next version asks a question the first did not
    second_form = IntakeQuestionnaire.objects.create(
        clinic=world.clinic,
        version=2,
        title="Health questionnaire",
        questions=[*QUESTIONS, {"code": "sunbed", "text": "Sunbed in the last week?", "kind": "yes_no"}],
    )
    intake_submit(
        client=ada,
        questionnaire=second_form,
        answers={"cold-sores": "no", "pregnancy": "no", "sunbed": "yes"},
    )
    latest = _text(_page(client, world.dr_lee, ada))
    assert "Latest intake" in latest and "version 2" in latest
    assert "Sunbed in the last week? Yes" in latest
    assert "Do you get cold sores? No" in latest
    earlier = _page(client, world.dr_lee, ada, intake=first.pk)
    text = _text(earlier)
    assert "Earlier intake" in text
    assert "Do you get cold sores? Yes" in text
    assert "Sunbed" not in text.split("Every intake")[0]  # version 1 never asked it
    assert 'href="?"' in earlier.content.decode()  # back to the latest


def test_an_edited_or_foreign_intake_id_shows_the_latest_not_an_error(client, world):
    ada, bea = world.client(first_name="Ada"), world.client(first_name="Bea")
    _fill(world, ada, goals="Ada's goal")
    bea_intake = _fill(world, bea, goals="Bea's goal")
    for edited in ("x", "99999999999999999999", str(bea_intake.pk)):
        response = _page(client, world.dr_lee, ada, intake=edited)
        assert response.status_code == 200
        assert "Ada's goal" in _text(response) and "Bea's goal" not in _text(response)


def test_each_signed_consent_shows_the_exact_text_signed_and_that_it_is_intact(client, world):
    ada = world.client(first_name="Ada", last_name="Byron")
    template = ConsentTemplateFactory(clinic=world.clinic, body="Risks: redness.\nI may withdraw.")
    signed = sign_consent(ada, template)
    response = _page(client, world.dr_lee, ada)
    page = response.content.decode()
    assert "Risks: redness.\nI may withdraw." in page
    text = _text(response)
    assert "Microneedling consent, version 1" in text
    assert "Signed “Ada Byron” on" in text and "from 198.51.100.7" in text
    assert "still matches the fingerprint (SHA-256) taken at signing" in text
    assert "no longer matches" not in text
    # a text altered behind the app's back: the database refuses an UPDATE, so a row written with
    # another text under the first one's fingerprint stands in for it
    altered = SignedConsent.objects.create(
        client=ada,
        template=template,
        modality=template.modality,
        version=template.version,
        signed_text="Risks: none.",
        signed_text_sha256=signed.signed_text_sha256,
        signature_name="Ada Byron",
    )
    text = _text(_page(client, world.dr_lee, ada))
    assert "no longer matches the fingerprint taken at signing" in text
    assert altered.signed_text in text


def test_photo_consents_withdrawn_ones_included(client, world):
    ada = world.client(first_name="Ada", last_name="Byron")
    photo_consent_give(client=ada, scope="clinical", signature_name="Ada Byron", agreed=True)
    photo_consent_give(client=ada, scope="marketing", signature_name="Ada Byron", agreed=True)
    photo_consent_withdraw(client=ada, scope="marketing")
    text = _text(_page(client, world.dr_lee, ada))
    assert "Clinical record: given" in text
    marketing = text.split("Marketing: given", 1)[1]
    assert "withdrawn" in marketing.split(".")[0]


def test_the_front_desk_is_refused_in_words_and_sees_no_answer(client, world):
    ada = world.client(first_name="Ada")
    _fill(world, ada, goals="Something private")
    response = _page(client, world.desk, ada)
    assert response.status_code == 403
    text = _text(response)
    assert "health data, for the clinic's practitioners and managers" in text
    assert "Something private" not in text
    client.force_login(world.desk.user)
    detail = client.get(reverse("client-detail", args=[ada.pk])).content.decode()
    assert 'id="read-intake"' not in detail


def test_another_clinic_s_client_is_not_found(client, world):
    other = build_world(slug="other-clinic")
    stranger = other.client(first_name="Stranger")
    assert _page(client, world.dr_lee, stranger).status_code == 404


def test_the_page_reads_the_same_number_of_queries_however_long_the_history(client, world):
    ada = world.client(first_name="Ada")
    template = ConsentTemplateFactory(clinic=world.clinic)

    def count():
        client.force_login(world.dr_lee.user)
        url = reverse("client-intake-and-consent", args=[ada.pk])
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    _fill(world, ada)
    sign_consent(ada, template)
    few = count()
    for _ in range(6):
        _fill(world, ada)
        sign_consent(ada, template)
    assert count() == few


def test_the_visit_page_gives_the_practitioner_the_intake_notes_and_the_link(client, world):
    ada = world.client(first_name="Ada")
    _fill(world, ada, **{"cold-sores": "yes", "fitzpatrick": demo_data.FITZPATRICK_CHOICES[1]})
    visit = appointment_book(
        BookingRequest(
            client=ada,
            service=world.microcurrent,
            practitioner=world.sam,
            start=days_ahead(world, 3, 10),
        )
    )
    url = reverse("appointment-detail", args=[visit.pk])
    client.force_login(world.sam.user)
    text = _text(client.get(url))
    assert "skin type Fitzpatrick II ; to note: Yes : Do you get cold sores?" in text
    assert "Read every answer and the consents signed" in text
    client.force_login(world.desk.user)
    desk_text = _text(client.get(url))
    assert "Fitzpatrick" not in desk_text
    assert "Read every answer" not in desk_text


def test_what_changed_since_the_intake_before_is_said_on_both_pages(client, world):
    ada = world.client(first_name="Ada")
    first = _filled_before(world, ada, 300, isotretinoin="", goals="Glow")
    _fill(world, ada, pregnancy="yes", isotretinoin="2026-08-04", goals="Glow")
    text = _text(_page(client, world.dr_lee, ada))
    changes = text.split(f"Changed since the intake of {first.submitted_at:%-d %b %Y}", 1)[1]
    changes = changes.split("Every answer", 1)[0]
    assert "Are you pregnant? No → Yes" in changes
    assert "Date of your last isotretinoin dose, if ever None given → 4 Aug 2026" in changes
    assert "cold sores" not in changes and "improve" not in changes  # the same answers
    # the earlier intake, read on its own, has nothing before it
    assert "Changed since" not in _text(_page(client, world.dr_lee, ada, intake=first.pk))
    visit = appointment_book(
        BookingRequest(
            client=ada,
            service=world.microcurrent,
            practitioner=world.sam,
            start=days_ahead(world, 3, 10),
        )
    )
    client.force_login(world.sam.user)
    text = _text(client.get(reverse("appointment-detail", args=[visit.pk])))
    assert "Changed since the intake of" in text
    assert "Are you pregnant? No → Yes" in text


def test_an_unchanged_intake_says_so(client, world):
    ada = world.client(first_name="Ada")
    _filled_before(world, ada, 300)
    _fill(world, ada)
    assert "No answer changed." in _text(_page(client, world.dr_lee, ada))


def test_the_answers_come_under_the_forms_headings_with_the_photoageing_beside_the_skin_type(client, world):
    world.intake.questions = [
        {**QUESTIONS[0], "section": "Your health"},
        {**QUESTIONS[1], "section": "Your health"},
        {**QUESTIONS[2], "section": "Medicines"},
        {**QUESTIONS[3], "section": "Your skin"},
        {
            "section": "Your skin",
            "code": "glogau",
            "text": "Lines and wrinkles",
            "kind": "choice",
            "choices": demo_data.GLOGAU_CHOICES,
        },
        {**QUESTIONS[4], "section": "Your skin"},
    ]
    world.intake.save()
    ada = world.client(first_name="Ada")
    _fill(world, ada, fitzpatrick=demo_data.FITZPATRICK_CHOICES[2], glogau=demo_data.GLOGAU_CHOICES[1])
    response = _page(client, world.dr_lee, ada)
    text = _text(response)
    assert "Skin type: Fitzpatrick III · Photoageing: Glogau II" in text
    answers = text.split("Every answer", 1)[1].split("Consents signed", 1)[0]
    assert answers.index("Your health") < answers.index("Do you get cold sores?")
    assert answers.index("Medicines") < answers.index("isotretinoin") < answers.index("Your skin")
    page = response.content.decode()
    assert page.count('<th scope="colgroup"') == 3  # one heading each, not one per question
    visit = appointment_book(
        BookingRequest(
            client=ada, service=world.microcurrent, practitioner=world.sam, start=days_ahead(world, 3, 10)
        )
    )
    client.force_login(world.sam.user)
    visit_text = _text(client.get(reverse("appointment-detail", args=[visit.pk])))
    assert "skin type Fitzpatrick III ; photoageing Glogau II ;" in visit_text


@pytest.mark.parametrize(
    ("answer", "numeral"),
    [
        ("II – lines when I smile or frown", "II"),
        ("IV – lines all over, some deep", "IV"),
        ("V", ""),
        ("", ""),
    ],
)
def test_the_photoageing_is_read_from_the_answer_s_first_word(answer, numeral):
    from clients.models import glogau_numeral

    assert glogau_numeral(answer) == numeral
