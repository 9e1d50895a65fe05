"""The bytes sent over SMTP are the ones Python's compat32 policy writes, only written faster."""

import re
from email import policy as email_policy
from email.errors import HeaderParseError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.email_bytes import SMTP_WIRE_POLICY, email_bytes, plain_text_email_bytes
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


DATE_LINE = re.compile(rb"\r\nDate: [^\r]*\r\n")


def _without_date(data: bytes) -> bytes:
    assert len(DATE_LINE.findall(data)) == 1
    return DATE_LINE.sub(b"\r\nDate: -\r\n", data)


def _through_message(email) -> bytes:
    return email_bytes(email.message())


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="confirmation"),
        pytest.param({"template_key": "booking_reminder"}, id="reminder"),
        pytest.param(
            {"context": {"service_name": "Microneedling, full face and neck, with a hyaluronic serum " * 2}},
            id="subject-that-folds",
        ),
        pytest.param(
            {"context": {"client_first_name": "Zoë", "practitioner_name": "Dr Łukasiewicz"}}, id="8bit"
        ),
        # formataddr writes a non-ASCII name as an RFC 2047 word: the To header is ASCII
        pytest.param({"recipient_name": "Zoë O’Brien-Łukasiewicz"}, id="non-ascii-name"),
        pytest.param(
            {
                "template_key": "aftercare_microneedling_day1",
                "is_essential": False,
                "context": {"unsubscribe_url": "https://clinic.example/clients/u/" + "t" * 120 + "/"},
            },
            id="text-aftercare-with-a-long-unsubscribe-header",
        ),
    ],
)
def test_a_text_only_message_is_written_as_message_would_write_it(lumen, fields):
    email = render_outbox_message(_row(lumen, **fields), {})
    written = plain_text_email_bytes(email)
    assert written is not None  # the fast way was taken
    assert _without_date(written) == _without_date(_through_message(email))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"context": {"ics": INVITE, "ics_method": "REQUEST"}}, id="with-invite"),
        pytest.param({"context": {"service_name": "Mésothérapie éclat du teint"}}, id="non-ascii-subject"),
        pytest.param({"template_key": "aftercare_microneedling_day0", "is_essential": False}, id="with-html"),
        pytest.param({"context": {"client_first_name": "x" * 1200}}, id="a-line-over-998-bytes"),
    ],
)
def test_any_other_message_is_left_to_message(lumen, fields):
    email = render_outbox_message(_row(lumen, **fields), {})
    assert plain_text_email_bytes(email) is None


BODY_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF) | st.sampled_from("\r\n\t"), max_size=300
)


@given(subject=HEADER_VALUES, body=BODY_TEXT, name=HEADER_VALUES)
def test_any_text_email_is_the_same_bytes_either_way(subject, body, name):
    from django.core.mail import EmailMessage
    from django.core.mail.message import BadHeaderError

    email = EmailMessage(
        subject=subject,
        body=body,
        from_email="Lumen <desk@lumen.example>",
        to=[f"{name} <olivia@example.com>"],
        reply_to=["desk@lumen.example"],
        headers={"Message-ID": "<outbox.1.2@lumen.example>", "X-A": name},
    )
    try:
        expected = _through_message(email)
    except (BadHeaderError, HeaderParseError, ValueError) as refused:
        # what message() refuses, the fast way leaves to it, or refuses the same way
        try:
            assert plain_text_email_bytes(email) is None
        except type(refused):
            pass
        return
    written = plain_text_email_bytes(email)
    if written is not None:
        assert _without_date(written) == _without_date(expected)


@pytest.mark.parametrize(
    "name", ["Lumen Skin Clinic", "Clinique Étoile", "Smith, Jones & Co", 'The "Glow" Room']
)
def test_the_sender_is_the_clinic_by_name_either_way(lumen, name):
    from email.header import decode_header, make_header
    from email.utils import parseaddr

    lumen.name = name
    email = render_outbox_message(_row(lumen), {})
    from_header = email.message()["From"]
    display, address = parseaddr(str(make_header(decode_header(from_header))))
    assert (display, address) == (name, "no-reply@clinic.localhost")
    written = plain_text_email_bytes(email)
    if written is not None:
        assert _without_date(written) == _without_date(_through_message(email))
