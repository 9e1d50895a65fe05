"""A real SMTP server (aiosmtpd) on a free local port that records what it receives."""

import socket
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingHandler:
    """Accept every message and keep it; `refuse_with` makes the server answer DATA with that reply."""

    def __init__(self):
        self.lock = threading.Lock()
        self.envelopes = []
        self.refuse_with: str | None = None
        self.refuse_recipient_with: str | None = None  # the reply to RCPT TO, e.g. "550 5.1.1 …"
        # Hooks for crash tests, called with the number of messages accepted so far:
        # `on_mail` when a client starts a message, `on_accepted` after a message is kept and
        # before the server's 250 goes back.
        self.on_mail = None
        self.on_accepted = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.on_mail:
            with self.lock:
                count = len(self.envelopes)
            self.on_mail(count)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_recipient_with:
            return self.refuse_recipient_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_with:
            return self.refuse_with
        with self.lock:
            self.envelopes.append(envelope)
            count = len(self.envelopes)
        if self.on_accepted:
            self.on_accepted(count)
        return "250 Message accepted for delivery"

    @property
    def messages(self):
        with self.lock:
            return [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


class SMTPServer:
    """Start and stop an aiosmtpd server; restartable on the same port to simulate an outage."""

    def __init__(self):
        self.handler = RecordingHandler()
        self.host = "127.0.0.1"
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self):
        self._controller = Controller(self.handler, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self):
        return self.handler.messages
