"""Error pages say what happened in words, in the clinic's look, to staff and to clients alike."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_page_for_managers_tells_the_front_desk_why_not(alice_client):
    response = alice_client.get("/manage/outbox/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Only a manager can change the clinic&#x27;s emails or see its outbox." in page
    assert "<main>" in page and 'aria-label="Main"' in page  # the app's own layout and menu
    assert "403 Forbidden" not in page


def test_a_missing_visit_is_a_page_not_found_in_the_apps_look(alice_client):
    response = alice_client.get("/appointments/999999/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page and "Find a client" in page


def test_a_client_on_a_public_address_gets_a_page_not_found_meant_for_them(db):
    response = Client().get("/p/no-such-clinic/")
    assert response.status_code == 404
    page = " ".join(response.content.decode().split())
    assert "please call or email the clinic" in page
    assert "Find a client" not in page and "today&#x27;s visits" not in page


@pytest.mark.parametrize(
    ("path", "says", "not_said"),
    [
        ("/broken/", "check the visit's page", "please call the clinic"),
        ("/p/lumen-test/broken/", "If no email comes, please call the clinic.", "tell your manager"),
    ],
)
def test_a_server_error_says_what_to_do_next(settings, lumen, path, says, not_said):
    settings.ROOT_URLCONF = "tests.error_urls"
    browser = Client(raise_request_exception=False)
    response = browser.get(path)
    assert response.status_code == 500
    page = " ".join(response.content.decode().split())
    assert "Something went wrong on our side" in page and says in page and not_said not in page


def test_a_broken_link_page_has_a_title_for_the_browser_tab(db):
    response = Client().get("/p/manage/not-a-real-token/")
    assert response.status_code == 404
    assert "<title>This link does not work</title>" in response.content.decode()
