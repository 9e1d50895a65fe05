"""The API: token and session auth, search, field errors, and a schema with docs served locally."""

import re

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import ClientFactory, PractitionerFactory

pytestmark = pytest.mark.django_db


def _with_token(key: str) -> APIClient:
    """An API client that signs in with the token `key`, as an integration would."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def test_search_matches_name_email_and_phone(api, lumen):
    ClientFactory(
        clinic=lumen,
        first_name="Grace",
        last_name="Okafor",
        email="g.okafor@example.com",
        phone="+44 7700 900123",
    )
    ClientFactory(
        clinic=lumen, first_name="Ruby", last_name="Hill", email="ruby@example.com", phone="+44 7700 555"
    )
    for term in ("okafor", "g.okafor@", "900123", "grace okafor"):
        results = api.get("/api/v1/clients/", {"search": term}).json()["results"]
        assert [c["last_name"] for c in results] == ["Okafor"], term


def test_client_has_the_documented_fields(api, lumen_client_record):
    body = api.get(f"/api/v1/clients/{lumen_client_record.id}/").json()
    assert {"id", "first_name", "last_name", "email", "phone"} <= set(body)


def test_bad_client_input_gets_field_errors_not_a_500(api):
    response = api.post(
        "/api/v1/clients/",
        {"first_name": "", "email": "not-an-email", "date_of_birth": "2999-01-01"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert {"first_name", "last_name", "email", "date_of_birth"} <= set(errors)


@pytest.mark.parametrize(
    ("date_of_birth", "message"),
    [
        ("2999-01-01", "The date of birth cannot be in the future."),
        ("0163-02-20", "A date of birth in 163 is more than 120 years ago. Check the year."),
    ],
)
def test_a_date_of_birth_in_the_future_or_centuries_ago_is_refused(api, date_of_birth, message):
    payload = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
    response = api.post("/api/v1/clients/", {**payload, "date_of_birth": date_of_birth}, format="json")
    assert response.status_code == 400
    assert response.json()["date_of_birth"] == [message]


def test_a_name_or_phone_with_a_control_character_is_refused(api):
    response = api.post(
        "/api/v1/clients/",
        {"first_name": "Ann\x0f", "last_name": "Lee", "phone": "+44\t7700 900123"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"first_name", "phone"}
    assert "control character" in response.json()["first_name"][0]


def test_a_client_born_in_1910_is_registered(api):
    payload = {
        "first_name": "Ada",
        "last_name": "Byron",
        "email": "ada@example.com",
        "date_of_birth": "1910-12-10",
    }
    assert api.post("/api/v1/clients/", payload, format="json").status_code == 201


def test_registering_names_the_clients_who_may_be_the_same_person_and_registers_all_the_same(api, lumen):
    olivia = ClientFactory(
        clinic=lumen,
        first_name="Olivia",
        last_name="Smith",
        email="olivia@example.com",
        phone="+44 7700 900123",
    )
    ClientFactory(
        clinic=lumen, first_name="Ruby", last_name="Hill", email="ruby@example.com", phone="+44 7700 555"
    )
    payload = {
        "first_name": "Liv",
        "last_name": "Smith",
        "email": "OLIVIA@example.com",
        "phone": "07700 900123",
    }
    response = api.post("/api/v1/clients/", payload, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != olivia.pk
    assert body["possible_duplicates"] == [
        {"id": olivia.pk, "first_name": "Olivia", "last_name": "Smith", "shares": ["email", "phone"]}
    ]
    stranger = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
    assert api.post("/api/v1/clients/", stranger, format="json").json()["possible_duplicates"] == []
    # reading a client back has no such field: it is what registering found
    assert "possible_duplicates" not in api.get(f"/api/v1/clients/{body['id']}/").json()


def test_a_client_needs_a_way_to_be_reached(api):
    response = api.post("/api/v1/clients/", {"first_name": "Ann", "last_name": "Lee"}, format="json")
    assert response.status_code == 400
    assert "email address or a phone number" in str(response.json())


def test_token_auth_works_with_drf_create_token(alice):
    call_command("drf_create_token", alice.user.username)
    api = _with_token(Token.objects.get(user=alice.user).key)
    assert api.get("/api/v1/services/").status_code == 200


def test_anonymous_requests_are_refused(db):
    assert APIClient().get("/api/v1/clients/").status_code in (401, 403)


def test_the_openapi_schema_documents_the_endpoints(alice_client):
    response = alice_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    for path in ("/api/v1/clients/", "/api/v1/services/", "/api/v1/practitioners/"):
        assert path in schema["paths"]


def test_the_docs_page_loads_its_assets_from_this_server(alice_client):
    page = alice_client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, page
    assert all(not a.startswith(("http://", "https://", "//")) for a in assets), assets


def test_a_token_request_loads_the_staff_member_and_clinic_with_the_token(alice, django_assert_num_queries):
    PractitionerFactory(clinic=alice.clinic)
    api = _with_token(Token.objects.create(user=alice.user).key)
    # the token with its user, staff member and clinic; then the page's count, rows and qualifications
    with django_assert_num_queries(4):
        response = api.get("/api/v1/practitioners/?limit=1")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_a_token_of_someone_who_is_not_staff_is_refused(db, django_user_model):
    outsider = django_user_model.objects.create_user("outsider", password="x")  # noqa: S106
    api = _with_token(Token.objects.create(user=outsider).key)
    response = api.get("/api/v1/services/")
    assert response.status_code == 403
    assert "clinic staff" in response.json()["detail"]
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api.get("/api/v1/services/")
    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "Invalid token."


@pytest.mark.parametrize(
    "path", ["/api/v1/clients/", "/api/v1/practitioners/", "/api/v1/services/", "/api/v1/appointments/"]
)
def test_a_huge_limit_or_offset_gives_a_page_not_a_server_error(api, lumen, path):
    # given more clients than one page holds, when asked for far more than any list has
    ClientFactory.create_batch(3, clinic=lumen)
    huge = "61166870564591282345176840798208"
    for query in ({"limit": huge}, {"offset": huge}, {"limit": huge, "offset": huge}, {"offset": "-37"}):
        response = api.get(path, query)
        # then the answer is a page: capped, or empty past the end
        assert response.status_code == 200, (query, response.content[:200])
        assert len(response.json()["results"]) <= 1000


def test_a_huge_limit_is_capped_at_a_thousand(api, lumen):
    ClientFactory.create_batch(1001, clinic=lumen)
    response = api.get("/api/v1/clients/", {"limit": "100000"})
    assert len(response.json()["results"]) == 1000
    assert response.json()["count"] == 1001


@pytest.mark.parametrize(
    "typed",
    ["07700 900123", "07700900123", "+44 7700 900123", "+447700900123", "0044 7700 900 123", "7700-900-123"],
)
def test_a_phone_number_is_found_however_it_is_typed(api, alice_client, lumen, typed):
    ClientFactory(clinic=lumen, first_name="Grace", last_name="Okafor", phone="+44 7700 900123")
    ClientFactory(clinic=lumen, first_name="Ruby", last_name="Hill", phone="+44 7700 900999")
    results = api.get("/api/v1/clients/", {"search": typed}).json()["results"]
    assert [c["last_name"] for c in results] == ["Okafor"], typed
    # and the clients page, which searches the same way
    page = alice_client.get("/clients/", {"q": typed}).content.decode()
    assert "Okafor" in page and "Hill" not in page


def test_a_north_american_number_is_found_as_people_write_it(api, harbour, bob):
    from rest_framework.test import APIClient

    ClientFactory(clinic=harbour, first_name="Hank", last_name="Harbourside", phone="+1 555 010 2000")
    bobs = APIClient()
    bobs.force_authenticate(bob.user)
    for typed in ("(555) 010-2000", "555.010.2000", "5550102000"):
        results = bobs.get("/api/v1/clients/", {"search": typed}).json()["results"]
        assert [c["last_name"] for c in results] == ["Harbourside"], typed


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("17/05/1990", ["Okafor"]),
        ("17.5.1990", ["Okafor"]),
        ("1990-05-17", ["Okafor"]),
        ("05/17/1990", ["Okafor"]),  # month first, as written in the US
        ("okafor 17/05/1990", ["Okafor"]),
        ("hill 17/05/1990", []),  # every word holds: Ruby Hill was born another day
        ("03/04/1985", ["Hill", "Jones"]),  # 3 April or 4 March: both
        ("31/02/1990", []),  # no such day
    ],
)
def test_a_date_of_birth_is_found_however_it_is_typed(api, alice_client, lumen, typed, found):
    import datetime as dt

    ClientFactory(clinic=lumen, first_name="Grace", last_name="Okafor", date_of_birth=dt.date(1990, 5, 17))
    ClientFactory(clinic=lumen, first_name="Ruby", last_name="Hill", date_of_birth=dt.date(1985, 4, 3))
    ClientFactory(clinic=lumen, first_name="Ann", last_name="Jones", date_of_birth=dt.date(1985, 3, 4))
    results = api.get("/api/v1/clients/", {"search": typed}).json()["results"]
    assert [c["last_name"] for c in results] == found, typed
    page = alice_client.get("/clients/", {"q": typed}).content.decode()
    assert all(name in page for name in found) and ("Okafor" in page) == ("Okafor" in found)


def test_the_api_says_whose_token_it_is_and_their_clinics_zone_from_the_sign_ins_one_query(
    alice, django_assert_num_queries
):
    api = _with_token(Token.objects.create(user=alice.user).key)
    with django_assert_num_queries(1):
        response = api.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {
        "id": alice.pk,
        "username": "alice",
        "display_name": "Alice Front",
        "role": alice.role,
        "clinic": {
            "id": alice.clinic.pk,
            "name": "Lumen Skin Clinic",
            "slug": "lumen-test",
            "time_zone": "Europe/London",
        },
    }


def test_whose_token_it_is_is_not_said_without_one_or_to_someone_who_is_not_staff(db, django_user_model):
    api = APIClient()
    assert api.get("/api/v1/me/").status_code in (401, 403)
    outsider = django_user_model.objects.create_user("outsider", password="x")  # noqa: S106
    assert _with_token(Token.objects.create(user=outsider).key).get("/api/v1/me/").status_code == 403
