"""The bytes of an email as it goes over SMTP, written without folding headers that need none.

Python's compat32 policy (what Django's messages use) runs every header through `email.header.Header`
and its folding algorithm, even a short ASCII header that fits on one line as it is. That was about a
fifth of a delivery worker's CPU per message. Such a header is written as it stands here; any other
(too long, non-ASCII, a line break inside) is folded by compat32 exactly as before, and
`tests/test_email_bytes.py` checks that both give the same bytes.
"""

import re
from email import policy as email_policy
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.utils import formatdate
from io import BytesIO

from django.conf import settings
from django.core.mail import EmailMessage


class _UnfoldedShortHeaders(email_policy.Compat32):
    """compat32, except that a header which needs no folding is written without the folding code."""

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and len(name) + 2 + len(value) <= (self.max_line_length or 78)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


SMTP_WIRE_POLICY = _UnfoldedShortHeaders(linesep="\r\n")


def email_bytes(message: Message) -> bytes:
    """Return a MIME message as the bytes to hand to SMTP: its `as_bytes()` with CRLF line ends."""
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=SMTP_WIRE_POLICY).flatten(message)
    return out.getvalue()


# Headers Django's `message()` sets itself; an email that sets one of them in `extra_headers` is built
# the slow way.
_SET_BY_MESSAGE = {"from", "to", "cc", "reply-to", "date", "subject", "mime-version", "content-type"}
_LINE_ENDS = re.compile(r"\r\n|\r|\n")  # what the generator turns into CRLF (email.generator.NLCRE)
# A longer body line makes Django send the body quoted-printable (RFC 5322's limit; Django #22561).
_LONGEST_LINE = 998


def plain_text_email_bytes(email: EmailMessage) -> bytes | None:
    """Return `email_bytes(email.message())` for a text-only email, written without building it.

    Django's `message()` builds a MIME object only for the generator to write it out again, which
    was a quarter of a delivery worker's CPU a message. Most booking mail is one text part with
    ASCII headers: this writes its bytes from the email's fields, headers in `message()`'s order and
    folded by the same policy (`tests/test_email_bytes.py` checks the bytes are equal). Anything else
    (an HTML part, an attachment, a non-ASCII header, a line break in one, a line over 998 bytes, a
    charset other than UTF-8) gives None: build it through `message()`.
    """
    if (
        getattr(email, "alternatives", None)
        or email.attachments
        or email.cc
        or email.content_subtype != "plain"
    ):
        return None
    if (email.encoding or settings.DEFAULT_CHARSET).lower() != "utf-8":
        return None
    extra = {name.lower() for name in email.extra_headers}
    if extra & _SET_BY_MESSAGE or "message-id" not in extra:
        return None
    headers = [("Subject", str(email.subject)), ("From", str(email.from_email))]
    if email.to:
        headers.append(("To", ", ".join(str(v) for v in email.to)))
    if email.reply_to:
        headers.append(("Reply-To", ", ".join(str(v) for v in email.reply_to)))
    headers.append(("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)))
    headers += [(name, str(value)) for name, value in email.extra_headers.items()]
    if any(not value.isascii() or "\n" in value or "\r" in value for _, value in headers):
        return None
    body = email.body
    if any(len(line.encode(errors="surrogateescape")) > _LONGEST_LINE for line in body.splitlines()):
        return None
    headers[0] = ("Subject", Header(headers[0][1]).encode())  # as Django sets an ASCII subject
    cte = "7bit" if body.isascii() else "8bit"
    mime = [
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("MIME-Version", "1.0"),
        ("Content-Transfer-Encoding", cte),
    ]
    written = b"".join(SMTP_WIRE_POLICY.fold_binary(name, value) for name, value in mime + headers)
    return written + b"\r\n" + _LINE_ENDS.sub("\r\n", body).encode("utf-8", "surrogateescape")
