"""Delivery of issued rewards to recipients.

Fulfilment never talks to the outside world inside its transaction. It writes an
outbox message beside the reward it issues; a dispatcher sends due messages
through the transport configured for their channel afterwards. A channel with
no transport (the sandbox default for every channel; PHONE and WHATSAPP always,
until an SMS provider is plugged in) keeps its messages as RECORDED, which is
what tests and sandbox users inspect.
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

# Which channel each delivery method uses; NONE and EMBEDDED deliver nothing.
CHANNELS = {"EMAIL": "EMAIL", "PHONE": "SMS", "WHATSAPP": "WHATSAPP"}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message, with the credentials filled in at the moment of sending."""

    channel: str
    recipient: str = field(repr=False)
    subject: str
    body: str = field(repr=False)  # holds the credentials: never in a repr or log
    message_id: str


class Transport(Protocol):
    async def send(self, message: Outgoing) -> None:
        """Hand the message over; raise to have it retried later."""


@dataclass(frozen=True)
class SmtpTransport:
    """Email through an SMTP server (`smtp://user:password@host:port`)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpTransport:
        parts = urlsplit(url)
        if parts.scheme != "smtp" or not parts.hostname:
            raise ValueError("smtp_url must look like smtp://host:port")
        return cls(
            host=parts.hostname,
            port=parts.port or 25,
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    async def send(self, message: Outgoing) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Message-ID"] = message.message_id
        email.set_content(message.body)
        await asyncio.to_thread(self._send, email)

    def _send(self, email: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
            if self.username and self.password:
                client.starttls()
                client.login(self.username, self.password)
            client.send_message(email)


def transports(smtp_url: str | None, sender: str) -> dict[str, Transport]:
    """The transports configured, by channel."""
    if smtp_url:
        return {"EMAIL": SmtpTransport.from_url(smtp_url, sender)}
    return {}
