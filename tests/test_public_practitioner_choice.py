"""On the public booking page a client may ask for one practitioner (theirs last time) or anyone; the
rebooking invitation asks for the practitioner who treated them, and they may still choose anyone."""

import pytest
from django.urls import reverse

from clinic.models import OutboxMessage, TimeOff
from tests.booking_world import build_world, local
from tests.test_aftercare import needled_session
from treatments.aftercare import aftercare_install_default_plan
from treatments.sessions import treatment_session_sign_off

pytestmark = pytest.mark.django_db

# The suite's now is Tuesday 1 December 2026, 07:00 in London; Lumen works 09:00–17:00 every day.


@pytest.fixture
def world(db):
    world = build_world(slug="lumen-choice")
    for service in (world.microcurrent, world.deep_microneedling):
        service.bookable_online = True
        service.save(update_fields=["bookable_online"])
    return world


def _times(client, world, service, **query):
    return client.get(reverse("public-times", args=[world.clinic.slug, service.pk]), query)


def _starts_with(answer, world, practitioner):
    page = answer.content.decode()
    return page.count(f'&practitioner={practitioner.pk}"')


def test_asking_for_one_practitioner_shows_only_their_times(client, world):
    world.keep_lee_busy(local(world, 2026, 12, 8, 10))  # Dr Lee held 09:50–10:55 with another client
    anyone = _times(client, world, world.microcurrent, date="2026-12-08")
    lee = _times(client, world, world.microcurrent, date="2026-12-08", **{"with": world.dr_lee.pk})
    assert lee.status_code == 200
    page = lee.content.decode()
    assert "Tuesday 8 December with Dr Amara Lee" in page
    assert _starts_with(lee, world, world.sam) == 0 and _starts_with(lee, world, world.dr_lee) > 0
    assert "?start=2026-12-08T10:00&practitioner" not in page  # Dr Lee is busy then
    assert "?start=2026-12-08T10:00&practitioner" in anyone.content.decode()  # Sam is free
    # the day's links keep the choice
    assert f"?date=2026-12-09&amp;with={world.dr_lee.pk}" in page


def test_the_choice_lists_only_those_who_give_the_treatment(client, world):
    page = _times(client, world, world.microcurrent, date="2026-12-08").content.decode()
    assert '<option value="">With anyone</option>' in page
    assert f'<option value="{world.dr_lee.pk}">With Dr Amara Lee</option>' in page
    assert f'<option value="{world.sam.pk}">With Sam Rivera</option>' in page
    # deep microneedling (2.0 mm): Sam's needles stop at 1.0 mm, so there is nobody to choose between
    deep = _times(client, world, world.deep_microneedling, date="2026-12-08").content.decode()
    assert "With anyone" not in deep


def test_asking_for_someone_who_does_not_give_it_says_so_and_shows_anyone(client, world):
    answer = _times(client, world, world.deep_microneedling, date="2026-12-08", **{"with": world.sam.pk})
    page = answer.content.decode()
    assert "The practitioner asked for does not give this treatment online" in page
    assert _starts_with(answer, world, world.dr_lee) > 0


def test_a_day_with_nothing_free_with_them_names_their_next_free_time(client, world):
    TimeOff.objects.create(
        staff_member=world.dr_lee,
        start=local(world, 2026, 12, 8, 0),
        end=local(world, 2026, 12, 9, 0),
        reason="Course",
    )
    page = _times(
        client, world, world.microcurrent, date="2026-12-08", **{"with": world.dr_lee.pk}
    ).content.decode()
    assert "No free times on this day with Dr Amara Lee." in page
    assert "The next free time with Dr Amara Lee is" in page
    assert f'class="button primary" href="?date=2026-12-09&amp;with={world.dr_lee.pk}"' in page


def test_the_rebooking_invitation_asks_for_the_practitioner_who_treated_them(client, world):
    for protocol in world.microneedling.protocols.all():
        aftercare_install_default_plan(protocol)
    session = treatment_session_sign_off(session=needled_session(world, "0.5"), by=world.dr_lee)
    rebook = OutboxMessage.objects.get(client_id=session.client_id, template_key="aftercare_rebook")
    url = rebook.context["rebook_url"]
    assert url.endswith(f"/p/{world.clinic.slug}/?with={world.dr_lee.pk}")
    page = client.get(f"/p/{world.clinic.slug}/", {"with": world.dr_lee.pk}).content.decode()
    assert "We will show you the times with Dr Amara Lee" in page
    assert f"/book/{world.microcurrent.pk}/?with={world.dr_lee.pk}" in page
    # a link naming nobody of this clinic asks for nobody
    assert "?with=" not in client.get(f"/p/{world.clinic.slug}/", {"with": "x"}).content.decode()
