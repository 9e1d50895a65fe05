"""Records the clinic no longer has to keep: nothing on them for its keeping time (8 years), and a
child's health records until they are 25. A manager sees them listed, the longest past it first,
and erases those ticked, each `erased_because` the keeping time was over; one that changed since the
list was shown is refused in words."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone

from clients.erasure import client_erase
from clients.models import Client, ErasureReason, IntakeQuestionnaire, IntakeResponse
from clinic.errors import ClinicError, NotAllowedError
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book, appointment_cancel
from treatments.keeping import client_erase_past_keeping, keeping_of, records_past_keeping
from treatments.models import Appointment
from treatments.waitlist import waitlist_add

pytestmark = pytest.mark.django_db


def at(year, month, day, hour=12):
    return time_machine.travel(dt.datetime(year, month, day, hour, tzinfo=dt.UTC))


@pytest.fixture
def world(db):
    return build_world(slug="lumen-keeping")


@pytest.fixture
def clients(world):
    """Registered on 1 December 2026 (the suite's today): Nadia visits on 7 December; Omar never
    comes; Mia, 14, answers an intake; Priya visits again in 2030; Ruth was erased at her request."""
    nadia = world.client(first_name="Nadia", last_name="Okafor", email="nadia@example.com")
    appointment_book(
        BookingRequest(
            client=nadia,
            service=world.microcurrent,
            practitioner=world.sam,
            start=local(world, 2026, 12, 7, 10),
        )
    )
    omar = world.client(first_name="Omar", last_name="Haddad", phone="07700 900456")
    mia = world.client(first_name="Mia", last_name="Jones", date_of_birth=dt.date(2012, 3, 1))
    IntakeResponse.objects.create(
        client=mia,
        questionnaire=IntakeQuestionnaire.objects.create(
            clinic=world.clinic, version=1, title="Health", questions=[], is_current=True
        ),
        answers={},
    )
    priya = world.client(first_name="Priya", last_name="Shah")
    with at(2030, 6, 1):
        appointment_book(
            BookingRequest(
                client=priya,
                service=world.microcurrent,
                practitioner=world.sam,
                start=local(world, 2030, 6, 3, 10),
            )
        )
    ruth = world.client(first_name="Ruth", last_name="Ellis")
    client_erase(client=ruth, by=world.manager)
    return {"nadia": nadia, "omar": omar, "mia": mia, "priya": priya, "ruth": ruth}


def listed(world):
    return [record.client.first_name for record in records_past_keeping(world.clinic)]


def test_records_are_listed_once_nothing_has_happened_on_them_for_the_keeping_time(world, clients):
    assert listed(world) == []
    with at(2034, 12, 1):  # eight years to the day since Omar registered: kept that day still
        assert listed(world) == []
    with at(2034, 12, 2):
        assert listed(world) == ["Omar"]
        omar = keeping_of(clients["omar"])
        assert (omar.last_what, omar.health_kept_until, omar.kept_until) == (
            "registered",
            None,
            dt.date(2034, 12, 1),
        )
    with at(2034, 12, 8):  # Nadia's visit was on 7 December 2026; Mia's intake is kept until she is 25
        assert listed(world) == ["Omar", "Nadia"]
        nadia = keeping_of(clients["nadia"])
        assert (nadia.last_what, timezone.localdate(nadia.last_at, world.clinic.zone)) == (
            "visit",
            dt.date(2026, 12, 7),
        )
        mia = keeping_of(clients["mia"])
        assert mia.health_kept_until == mia.kept_until == dt.date(2037, 3, 1)
    with at(2037, 3, 2):  # Mia is 25; Priya's visit of 2030 keeps hers to 2038
        assert listed(world) == ["Omar", "Nadia", "Mia"]
    with at(2038, 6, 4):
        assert listed(world) == ["Omar", "Nadia", "Mia", "Priya"]  # Ruth, erased already, never


def test_anything_new_on_a_record_keeps_it_longer(world, clients):
    nadia = clients["nadia"]
    with at(2029, 1, 10):  # she cancels the visit she had in 2026... years later, as a change on record
        appointment_cancel(Appointment.objects.get(client=nadia), reason="Tidying up")
    with at(2034, 12, 8):
        assert "Nadia" not in listed(world)
        assert keeping_of(nadia).last_what == "change to a visit"
    with at(2031, 3, 1):  # Omar asks to be told of a free time
        waitlist_add(
            client=clients["omar"],
            service=world.microcurrent,
            first_day=dt.date(2031, 3, 2),
            last_day=dt.date(2031, 3, 9),
        )
    with at(2037, 1, 1):
        assert listed(world) == []
    with at(2039, 3, 2):
        assert keeping_of(clients["omar"]).last_what == "waitlist place"
        assert listed(world) == ["Nadia", "Mia", "Priya", "Omar"]


def test_the_same_queries_list_them_however_many_clients(world, clients, django_assert_num_queries):
    for n in range(30):
        world.client(first_name=f"Client{n}", last_name="Old")
    with at(2035, 1, 1), django_assert_num_queries(11):  # one per kind of moment, one for the clients
        assert len(records_past_keeping(world.clinic)) == 32  # Omar, Nadia and the thirty


def test_a_manager_erases_a_record_past_its_keeping_time_and_it_says_why(world, clients):
    with at(2035, 1, 1):
        with pytest.raises(NotAllowedError):
            client_erase_past_keeping(client=clients["omar"], by=world.desk)
        erased = client_erase_past_keeping(client=clients["omar"], by=world.manager)
        assert (erased.first_name, erased.phone, erased.erased_because) == (
            "Erased",
            "",
            ErasureReason.KEPT_LONG_ENOUGH,
        )
        with pytest.raises(ClinicError) as not_yet:
            client_erase_past_keeping(client=clients["mia"], by=world.manager)
        assert not_yet.value.code == "not_past_keeping"
        assert str(not_yet.value.message) == (
            "Mia Jones's record is not past its keeping time: the latest on it "
            "(intake form, 1 December 2026) keeps it until 1 March 2037."
        )
        with pytest.raises(ClinicError) as again:
            client_erase_past_keeping(client=clients["omar"], by=world.manager)
        assert again.value.message == "This record was erased already."
    assert Client.objects.get(pk=clients["ruth"].pk).erased_because == ErasureReason.ASKED


def test_the_database_refuses_an_erased_record_that_does_not_say_why(world, clients):
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.filter(pk=clients["ruth"].pk).update(erased_because="")
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.filter(pk=clients["omar"].pk).update(erased_because=ErasureReason.ASKED)


def signed_in(member):
    browser = BrowserClient()
    browser.force_login(member.user)
    return browser


def test_the_page_lists_them_and_erases_those_ticked(world, clients):
    url = reverse("records-past-keeping")
    assert signed_in(world.desk).get(url).status_code == 403
    manager = signed_in(world.manager)
    assert 'id="keeping-link"' in manager.get(reverse("client-list")).content.decode()
    assert 'id="keeping-none"' in manager.get(url).content.decode()
    omar, nadia, mia = clients["omar"], clients["nadia"], clients["mia"]
    with at(2037, 3, 2):
        manager = signed_in(world.manager)  # a sign-in lasts hours, not years
        page = manager.get(url).content.decode()
        assert "3 records past their keeping time" in page
        assert page.index("Omar Haddad") < page.index("Nadia Okafor") < page.index("Mia Jones")
        assert "Visit, 7 Dec 2026" in page and "kept until 1 Mar 2037" in page and "none held" in page

        unticked = manager.post(url, {"client": [omar.pk, nadia.pk]})
        assert unticked.status_code == 400 and "Tick the box to confirm" in unticked.content.decode()
        assert not Client.objects.filter(erased_at__isnull=False).exclude(pk=clients["ruth"].pk).exists()

        with at(2037, 3, 2, 13):  # Nadia books again between the list and the erasure
            appointment_book(
                BookingRequest(
                    client=nadia,
                    service=world.microcurrent,
                    practitioner=world.sam,
                    start=local(world, 2037, 3, 9, 10),
                )
            )
            done = manager.post(url, {"client": [omar.pk, nadia.pk], "reviewed": "yes"}, follow=True)
        said = done.content.decode()
        assert "1 record erased" in said
        assert "Not erased, Nadia Okafor: Nadia Okafor&#x27;s record is not past its keeping time" in said
        assert Client.objects.get(pk=omar.pk).erased_because == ErasureReason.KEPT_LONG_ENOUGH
        assert Client.objects.get(pk=nadia.pk).erased_at is None
        assert Client.objects.get(pk=mia.pk).erased_at is None  # unticked: kept
        erased_page = manager.get(reverse("client-detail", args=[omar.pk])).content.decode()
        assert "erased once the clinic no longer had to keep it on" in erased_page


def test_the_managers_are_reminded_once_a_month_while_any_wait(world, clients, smtp_settings, smtp_server):
    from clinic.models import OutboxMessage
    from clinic.tasks import deliver_due_messages_task
    from treatments.keeping import REVIEW_REMINDER
    from treatments.tasks import remind_records_past_keeping_task

    world.manager.user.email = "morgan@lumen.example"
    world.manager.user.save(update_fields=["email"])
    reminders = OutboxMessage.objects.filter(template_key=REVIEW_REMINDER)
    assert remind_records_past_keeping_task() == 0 and not reminders.exists()  # nothing past yet
    with at(2035, 1, 1):
        assert remind_records_past_keeping_task() == 1
        remind_records_past_keeping_task()  # beat runs it every few hours: still one this month
        assert reminders.count() == 1
        deliver_due_messages_task()
    [mail] = [m for m in smtp_server.messages if "keeping time" in m["Subject"]]
    assert mail["Subject"] == "2 client records past their keeping time at Lumen Skin Clinic"
    assert mail["To"].endswith("<morgan@lumen.example>")
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "2 client records at Lumen Skin Clinic have passed their keeping time (8 years" in body
    assert "the first on 1 December 2034" in body and "/manage/keeping/" in body
    with at(2035, 2, 1):
        remind_records_past_keeping_task()
    assert reminders.count() == 2  # February's
