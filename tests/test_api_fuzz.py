"""No request to the API gets a 500, nor an answer its OpenAPI schema does not list: every operation, fuzzed.

Run in process through the WSGI app, as the front desk of a clinic with a practitioner, a service, a
client and a visit (so that some generated ids exist). Examples are derandomized: every run sends the
same requests, and a new failure is a change in the code, not luck.
"""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from clinic.wsgi import application
from tests.booking_world import build_world, local
from treatments.booking import BookingRequest, appointment_book

# The schema /api/schema/ serves, built without a request (collection runs before test settings apply).
schema = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
)


@pytest.fixture
def wsgi_app():
    """Call the WSGI app as Django's test client does: without closing the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def front_desk_token(db, settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    world = build_world()
    appointment_book(
        BookingRequest(
            client=world.client(email="olivia@example.com"),
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 7, 10),
        )
    )
    return Token.objects.create(user=world.desk.user).key


@schema.parametrize()
@hypothesis_settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_answer_is_documented_and_none_is_a_500(case, front_desk_token, wsgi_app):
    case.call_and_validate(
        app=wsgi_app,
        headers={"Authorization": f"Token {front_desk_token}"},
        checks=[not_a_server_error, status_code_conformance],
    )
