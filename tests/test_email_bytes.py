"""The bytes sent over SMTP are the ones Python's compat32 policy writes, only written faster."""

from email import policy as email_policy
from email.errors import HeaderParseError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.email_bytes import SMTP_WIRE_POLICY, email_bytes
from clinic.models import OutboxMessage
from clinic.outbox import render_outbox_message

pytestmark = pytest.mark.django_db

COMPAT32_CRLF = email_policy.compat32.clone(linesep="\r\n")
INVITE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:appointment-1@lumen.clinic\r\n"
    "SEQUENCE:0\r\nDTSTART;TZID=Europe/London:20261207T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _row(clinic, **fields) -> OutboxMessage:
    context = {
        "client_first_name": "Olivia",
        "service_name": "Microneedling facial",
        "practitioner_name": "Dr Amara Lee",
        "local_start": "Monday 07 December 2026 at 10:00",
        "zone_name": "Europe/London",
        "zone_abbreviation": "GMT",
        "manage_url": "https://clinic.example/p/manage/x/",
        "cancellation_window_hours": 24,
        **fields.pop("context", {}),
    }
    row = OutboxMessage(
        clinic=clinic,
        context=context,
        dedupe_key="bytes",
        **{
            "recipient_email": "olivia@example.com",
            "recipient_name": "Olivia Smith",
            "template_key": "booking_confirmation",
            **fields,
        },
    )
    row.id = 4242
    return row


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="confirmation"),
        pytest.param({"context": {"ics": INVITE, "ics_method": "REQUEST"}}, id="with-invite"),
        pytest.param({"recipient_name": "Zoë O’Brien-Łukasiewicz"}, id="non-ascii-name"),
        pytest.param(
            {"context": {"service_name": "Microneedling, full face and neck, with a hyaluronic serum " * 2}},
            id="subject-that-folds",
        ),
        pytest.param({"context": {"service_name": "Mésothérapie éclat du teint"}}, id="non-ascii-subject"),
        pytest.param(
            {
                "template_key": "aftercare_microneedling_day1",
                "is_essential": False,
                "context": {"unsubscribe_url": "https://clinic.example/clients/u/" + "t" * 120 + "/"},
            },
            id="aftercare-with-a-long-unsubscribe-header",
        ),
    ],
)
def test_a_rendered_message_is_the_same_bytes_as_compat32_writes(lumen, fields):
    # given a message the outbox renders
    message = render_outbox_message(_row(lumen, **fields), {}).message()
    # when it is written for SMTP
    sent = email_bytes(message)
    # then it is exactly what Django's as_bytes with CRLF gives
    assert sent == message.as_bytes(linesep="\r\n")
    assert b"\r\n\r\n" in sent and b"\n" not in sent.replace(b"\r\n", b"")


HEADER_NAMES = st.sampled_from(["Subject", "To", "From", "Reply-To", "List-Unsubscribe", "X-A"])
HEADER_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from(" \t,;é\r\n"),
    max_size=120,
)


def _folded(policy, name, value):
    """Return the folded header, or the error's type for a value no policy may write."""
    try:
        return policy.fold_binary(name, value)
    except HeaderParseError as error:
        return type(error)


@given(name=HEADER_NAMES, value=HEADER_VALUES)
def test_any_header_is_folded_as_compat32_folds_it(name, value):
    assert _folded(SMTP_WIRE_POLICY, name, value) == _folded(COMPAT32_CRLF, name, value)
