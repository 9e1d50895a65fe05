"""The admin, as a manager uses it: what the database refuses is said on the form, never a 500.

A manager's forms fix the clinic to their own. Before, the clinic was left off the form, and with it
every constraint it is part of: a second room of the same name reached the database as a 500.
"""

import pytest
from django.contrib.auth.models import Permission, User

from clinic.models import Device, Room
from tests.booking_world import build_world
from treatments.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def manager(client, world):
    user = world.manager.user
    user.is_staff = True
    user.save()
    models = ["room", "device", "service", "staffmember", "workinghours", "timeoff"]
    codenames = [f"{verb}_{model}" for verb in ("add", "change", "view") for model in models]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def _errors(page: str) -> str:
    import re

    return " ".join(re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, re.S))


def test_a_second_room_of_the_same_name_is_refused_on_the_form(manager, world):
    name = world.rooms[0].name
    response = manager.post("/admin/clinic/room/add/", {"name": name, "is_active": "on"})
    assert response.status_code == 200
    assert "There is already a room with this name." in _errors(response.content.decode())
    assert Room.objects.filter(clinic=world.clinic, name=name).count() == 1


def test_a_new_room_is_the_managers_clinics_whatever_is_sent(manager, world):
    from tests.factories import ClinicFactory

    other = ClinicFactory(name="Harbour")
    response = manager.post(
        "/admin/clinic/room/add/", {"name": "Room 9", "is_active": "on", "clinic": other.pk}
    )
    assert response.status_code == 302
    assert Room.objects.get(name="Room 9").clinic == world.clinic


def test_the_manager_sees_their_clinic_on_the_form_and_cannot_change_it(manager, world):
    page = manager.get("/admin/clinic/room/add/").content.decode()
    assert 'name="clinic"' in page and "disabled" in page.split('name="clinic"')[1].split(">")[0]
    assert world.clinic.name in page


def test_a_second_device_or_service_of_the_same_name_is_refused_on_the_form(manager, world):
    pen = world.pens[0]
    response = manager.post(
        "/admin/clinic/device/add/", {"name": pen.name, "kind": pen.kind, "is_active": "on"}
    )
    assert response.status_code == 200
    assert "There is already a device with this name." in _errors(response.content.decode())
    assert Device.objects.filter(clinic=world.clinic, name=pen.name).count() == 1
    response = manager.post(
        "/admin/treatments/service/add/",
        {
            "name": world.microcurrent.name,
            "duration_minutes": "45",
            "buffer_before_minutes": "0",
            "buffer_after_minutes": "0",
            "price": "80",
            "requires_room": "on",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "There is already a service with this name." in _errors(response.content.decode())
    assert Service.objects.filter(clinic=world.clinic, name=world.microcurrent.name).count() == 1


def test_working_hours_ending_before_they_start_are_said_in_words(client, world):
    from tests.test_working_hours_clash import _admin_change, _hours_field

    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw"))
    page = _admin_change(client, world.sam, **{_hours_field(world, world.sam, 1, "end_time"): "08:00"})
    assert "Working hours must end after they start." in _errors(page)
    assert "is violated" not in page


def test_a_manager_opens_and_saves_their_clinics_settings(client, world):
    """The clinic's own page: filtered by its id (it used to be a 500 for every manager)."""
    from django.urls import reverse

    from tests.factories import ClinicFactory

    other = ClinicFactory(name="Harbour Aesthetics")
    user = world.manager.user
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=["change_clinic", "view_clinic"]))
    client.force_login(user)
    listing = client.get("/admin/clinic/clinic/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert world.clinic.name in page and other.name not in page
    change = reverse("admin:clinic_clinic_change", args=[world.clinic.pk])
    assert client.get(change).status_code == 200
    assert 'name="missed_visit_fee"' in client.get(change).content.decode()  # the booking policy's fee
    assert client.get(reverse("admin:clinic_clinic_change", args=[other.pk])).status_code == 302


def test_every_admin_page_a_manager_opens_answers_without_a_500(client, world):
    """Each registered model's list, add page, an empty add, a row's page sent back as it is, and its
    delete confirmation: a page, a redirect or a refusal, never a server error."""
    from django.contrib import admin
    from django.urls import NoReverseMatch, reverse

    from clients.models import ConsentTemplate, IntakeQuestionnaire
    from clinic.models import TimeOff
    from tests.test_working_hours_clash import _book, _FormFields

    _book(world, 10)
    IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="Q", questions=[], is_current=True
    )
    ConsentTemplate.objects.create(
        clinic=world.clinic, modality="microneedling", version=1, title="C", body="Text.", is_current=True
    )
    visit = _book(world, 11)
    TimeOff.objects.create(staff_member=world.sam, start=visit.start, end=visit.end)
    user = world.manager.user
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.all())
    client.force_login(user)
    answers = []
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        answers.append((name, "list", client.get(reverse(f"{name}_changelist")).status_code))
        try:
            add = reverse(f"{name}_add")
        except NoReverseMatch:
            add = None
        if add:
            answers.append((name, "add", client.get(add).status_code))
            answers.append((name, "add empty", client.post(add, {}).status_code))
        row = model._default_manager.order_by("pk").first()
        if row is None:
            continue
        change = reverse(f"{name}_change", args=[row.pk])
        page = client.get(change)
        answers.append((name, "change", page.status_code))
        if page.status_code == 200:
            fields = _FormFields()
            fields.feed(page.content.decode())
            sent = {k: v for k, v in fields.fields.items() if "__prefix__" not in k}
            answers.append((name, "sent back", client.post(change, sent).status_code))
            answers.append(
                (name, "saved as new", client.post(change, {**sent, "_saveasnew": "1"}).status_code)
            )
        answers.append((name, "delete", client.get(reverse(f"{name}_delete", args=[row.pk])).status_code))
    assert len(answers) > 60
    assert [a for a in answers if a[2] not in (200, 302, 403)] == []


@pytest.fixture
def consents(world):
    """Version 2 of the microneedling consent, current and signed by Olivia; version 3 drafted."""
    from clients.models import ConsentTemplate
    from tests.factories import sign_consent

    current = ConsentTemplate.objects.create(
        clinic=world.clinic,
        modality="microneedling",
        version=2,
        title="Microneedling consent",
        body="Risks: redness.",
        is_current=True,
    )
    olivia = world.client(first_name="Olivia")
    sign_consent(olivia, current)
    draft = ConsentTemplate.objects.create(
        clinic=world.clinic, modality="microneedling", version=3, title="Microneedling consent", body="New."
    )
    return current, draft, olivia


@pytest.fixture
def forms_manager(client, world):
    user = world.manager.user
    user.is_staff = True
    user.save()
    codenames = [
        f"{verb}_{m}"
        for verb in ("add", "change", "view")
        for m in ("consenttemplate", "intakequestionnaire")
    ]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def test_a_signed_consent_versions_text_cannot_be_changed_in_place(forms_manager, world, consents):
    from django.urls import reverse

    current, draft, _olivia = consents
    url = reverse("admin:clients_consenttemplate_change", args=[current.pk])
    page = forms_manager.get(url).content.decode()
    assert 'name="body"' not in page and "Risks: redness." in page
    assert "Clients have already answered or signed this version, so its text cannot change." in page
    forms_manager.post(url, {"body": "Risks: none.", "version": "2", "title": "Other", "is_current": "on"})
    current.refresh_from_db()
    assert (current.body, current.title) == ("Risks: redness.", "Microneedling consent")
    # a version nobody signed yet is still edited freely
    assert (
        'name="body"'
        in forms_manager.get(
            reverse("admin:clients_consenttemplate_change", args=[draft.pk])
        ).content.decode()
    )


def test_making_a_new_version_current_retires_the_old_one_and_asks_signers_again(
    forms_manager, world, consents
):
    import datetime as dt

    from django.utils import timezone

    from clients.selectors import forms_needed

    current, draft, olivia = consents
    visit_at = timezone.now() + dt.timedelta(days=3)
    assert not forms_needed(client=olivia, modalities={"microneedling"}, at=visit_at).consents
    response = forms_manager.post(
        "/admin/clients/consenttemplate/",
        {"action": "make_current", "_selected_action": [draft.pk]},
        follow=True,
    )
    assert "“Microneedling consent” version 3 is now current." in response.content.decode()
    current.refresh_from_db()
    draft.refresh_from_db()
    assert (current.is_current, draft.is_current) == (False, True)
    assert [
        t.version for t in forms_needed(client=olivia, modalities={"microneedling"}, at=visit_at).consents
    ] == [3]


def test_ticking_a_second_current_version_says_how_to_publish_it(forms_manager, world, consents):
    from django.urls import reverse

    _current, draft, _olivia = consents
    url = reverse("admin:clients_consenttemplate_change", args=[draft.pk])
    response = forms_manager.post(
        url,
        {
            "modality": "microneedling",
            "version": "3",
            "title": "Microneedling consent",
            "body": "New.",
            "is_current": "on",
            "published_at_0": "2026-12-01",
            "published_at_1": "09:00",
        },
    )
    assert response.status_code == 200
    assert "Another version of this consent is current." in _errors(response.content.decode())
    draft.refresh_from_db()
    assert not draft.is_current


def test_making_two_versions_current_at_once_is_refused(forms_manager, world, consents):
    current, draft, _olivia = consents
    response = forms_manager.post(
        "/admin/clients/consenttemplate/",
        {"action": "make_current", "_selected_action": [current.pk, draft.pk]},
        follow=True,
    )
    assert "Choose exactly one version to make current." in response.content.decode()
    current.refresh_from_db()
    assert current.is_current


def test_an_answered_intake_forms_questions_are_fixed_too(forms_manager, world):
    from django.urls import reverse

    from clients.models import IntakeQuestionnaire, IntakeResponse

    form = IntakeQuestionnaire.objects.create(
        clinic=world.clinic, version=1, title="Health questionnaire", questions=[], is_current=True
    )
    url = reverse("admin:clients_intakequestionnaire_change", args=[form.pk])
    assert 'name="questions"' in forms_manager.get(url).content.decode()
    IntakeResponse.objects.create(client=world.client(), questionnaire=form, answers={})
    assert 'name="questions"' not in forms_manager.get(url).content.decode()


def test_making_a_version_current_says_how_many_visits_ahead_now_wait_for_it(forms_manager, world, consents):
    from tests.booking_world import local
    from treatments.booking import BookingRequest, appointment_book

    _current, draft, olivia = consents
    for client, day in ((olivia, 8), (world.client(first_name="Kim"), 9)):
        appointment_book(
            BookingRequest(
                client=client,
                service=world.microneedling,
                practitioner=world.dr_lee,
                start=local(world, 2026, 12, day, 10),
            )
        )
    # a microcurrent visit needs no microneedling consent
    appointment_book(
        BookingRequest(
            client=world.client(first_name="Ann"),
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 8, 11),
        )
    )
    response = forms_manager.post(
        "/admin/clients/consenttemplate/",
        {"action": "make_current", "_selected_action": [draft.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "2 booked visits ahead (2 clients) now wait for it, the first Tue 8 Dec 10:00." in page
    assert 'href="/?date=2026-12-08">day\'s list</a> marks them "Forms missing"' in page
    assert '<a href="/visits/forms-missing/">one page emails them all the link now</a>' in page


def test_visits_courses_and_sessions_are_shown_in_the_admin_never_written(client, world):
    """Even the owner: a save there would skip the booking rules, the history and the client's emails
    (and on SQLite, with no exclusion constraints, "Save as new" made a second booking of the same time)."""
    from django.urls import reverse

    from tests.test_working_hours_clash import _book, _FormFields
    from treatments.models import Appointment

    visit = _book(world, 10)
    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw"))
    change = reverse("admin:treatments_appointment_change", args=[visit.pk])
    page = client.get(change)
    assert page.status_code == 200
    fields = _FormFields()
    fields.feed(page.content.decode())
    assert "start_0" not in fields.fields and "practitioner" not in fields.fields
    sent = {"start_0": "2026-12-08", "start_1": "15:00", "status": "cancelled", "_saveasnew": "1"}
    assert client.post(change, sent).status_code == 403
    assert client.post(reverse("admin:treatments_appointment_add"), sent).status_code == 403
    assert (
        client.post(
            reverse("admin:treatments_appointment_delete", args=[visit.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert list(Appointment.objects.values_list("pk", "start", "status")) == [
        (visit.pk, visit.start, "booked")
    ]
    for model in ("course", "treatmentsession"):
        assert client.get(reverse(f"admin:treatments_{model}_add")).status_code == 403


def test_the_visits_waiting_for_a_version_take_seven_queries_however_many(world, consents):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tests.booking_world import local
    from treatments.booking import BookingRequest, appointment_book
    from treatments.selectors import visits_ahead_needing

    _current, draft, _olivia = consents

    def count(visits, hour):
        for day in range(visits):
            appointment_book(
                BookingRequest(
                    client=world.client(),
                    service=world.microneedling,
                    practitioner=world.dr_lee,
                    start=local(world, 2026, 12, 8 + day, hour),
                )
            )
        with CaptureQueriesContext(connection) as queries:
            found = visits_ahead_needing(draft, clinic=world.clinic, now=timezone.now())
        return len(queries), len(found)

    # the visits, their protocols, then the forms: intake form, intakes, consents, withdrawals, versions
    assert count(2, 10) == (7, 0)  # version 3 is not current yet: nobody waits for it
    draft.is_current = True
    type(draft).objects.filter(pk=_current.pk).update(is_current=False)
    draft.save()
    assert count(3, 14) == (7, 5)


def test_time_off_entered_in_the_admin_is_checked_as_on_the_time_off_page(client, world):
    from clinic.models import TimeOff
    from tests.test_working_hours_clash import _admin_change

    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw"))
    page = _admin_change(
        client,
        world.sam,
        **{
            "time_off-TOTAL_FORMS": "1",
            "time_off-0-start_0": "2026-12-08",
            "time_off-0-start_1": "00:00",
            "time_off-0-end_0": "2028-12-08",
            "time_off-0-end_1": "00:00",
            "time_off-0-reason": "Typo",
        },
    )
    assert "That is more than a year of time off. Check the dates." in page
    assert not TimeOff.objects.exists()


def _post_intake_form(forms_manager, questions: str):
    return forms_manager.post(
        "/admin/clients/intakequestionnaire/add/",
        {
            "version": "7",
            "title": "Health questionnaire",
            "questions": questions,
            "published_at_0": "2026-12-01",
            "published_at_1": "09:00",
        },
    )


@pytest.mark.parametrize(
    ("questions", "said"),
    [
        ('{"code": "pregnancy"}', "Write the questions as a list, in square brackets"),
        (
            '[{"text": "Are you pregnant?", "kind": "yes_no"}]',
            "Question 1 (“Are you pregnant?”) needs a code",
        ),
        (
            '[{"code": "a", "text": "One?", "kind": "yes_no"}, '
            '{"code": "a", "text": "Two?", "kind": "yes_no"}]',
            "the code “a” is used twice",
        ),
        (
            '[{"code": "a", "text": "One?", "kind": "yesno"}]',
            "the kind must be one of yes_no, date, text, choice",
        ),
        ('[{"code": "a", "text": "", "kind": "yes_no"}]', "needs its text"),
        ('[{"code": "skin", "text": "Skin?", "kind": "choice"}]', "is a choice: list at least two choices"),
        (
            '[{"code": "a", "text": "One?", "kind": "yes_no", "choices": ["x", "y"]}]',
            "has choices but is not a choice question",
        ),
        ('[{"code": "a", "text": "One?", "kind": "yes_no", "conditon": "a"}]', "&#x27;conditon&#x27;"),
        (
            '[{"code": "a", "text": "One?", "kind": "yes_no", "condition": "Heart condition"}]',
            "the condition",
        ),
        (
            '[{"code": "fitzpatrick", "text": "Skin type?", "kind": "choice", "choices": ["fair", "dark"]}]',
            "begin each choice with its type, I to VI",
        ),
    ],
)
def test_an_intake_form_the_client_could_not_answer_is_refused_in_words(
    forms_manager, world, questions, said
):
    """Before, any JSON was saved: a question without a code gave every client a 500 on their forms page,
    and the skin type was a choice with no choices (no client could give one)."""
    from django.utils.html import escape

    from clients.models import IntakeQuestionnaire

    response = _post_intake_form(forms_manager, questions)
    assert response.status_code == 200
    assert escape(said) in _errors(response.content.decode()) or said in _errors(response.content.decode())
    assert not IntakeQuestionnaire.objects.filter(clinic=world.clinic, version=7).exists()


def test_an_intake_form_with_sections_and_choices_is_saved(forms_manager, world):
    from clients.models import IntakeQuestionnaire

    questions = (
        '[{"section": "Your health", "code": "pregnancy", "text": "Are you pregnant?", "kind": "yes_no", '
        '"condition": "pregnancy"}, {"section": "Your skin", "code": "fitzpatrick", "text": "Skin type", '
        '"kind": "choice", "choices": ["I – very fair", "II – fair"]}, {"code": "goals", "text": "Goals?"}]'
    )
    response = _post_intake_form(forms_manager, questions)
    assert response.status_code == 302, _errors(response.content.decode())
    saved = IntakeQuestionnaire.objects.get(clinic=world.clinic, version=7)
    assert [q["code"] for q in saved.questions] == ["pregnancy", "fitzpatrick", "goals"]
