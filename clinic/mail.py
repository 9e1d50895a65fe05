"""An email backend that writes one readable .eml file per message under var/mail/."""

import threading
import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class MailDirBackend(BaseEmailBackend):
    """Write each message to MAIL_DIR as <timestamp>-<uuid>.eml, so staff can read it in the app."""

    _lock = threading.Lock()

    def send_messages(self, email_messages):
        folder = Path(settings.MAIL_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
            path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            with self._lock:
                path.write_bytes(message.message().as_bytes(linesep="\n"))
            sent += 1
        return sent


def read_mailbox(limit: int = 100) -> list[dict]:
    """Return the newest messages written by MailDirBackend, newest first."""
    folder = Path(settings.MAIL_DIR)
    if not folder.exists():
        return []
    paths = sorted(folder.glob("*.eml"), reverse=True)[:limit]
    parser = BytesParser(policy=policy.default)
    messages = []
    for path in paths:
        parsed = parser.parsebytes(path.read_bytes())
        body = parsed.get_body(preferencelist=("plain", "html"))
        messages.append(
            {
                "name": path.name,
                "subject": parsed["subject"],
                "to": parsed["to"],
                "from": parsed["from"],
                "date": parsed["date"],
                "body": body.get_content() if body else "",
            }
        )
    return messages
