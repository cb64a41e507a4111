"""Sending e-mail over SMTP with the standard library, as the `--smtp-url` asks.

| URL | connection |
|---|---|
| `smtp://host:25` | plain SMTP (a local relay, the demo's catcher, the tests' server) |
| `smtp+starttls://host:587` | plain, then upgraded with STARTTLS before anything is sent |
| `smtps://host:465` | TLS from the first byte |

`user:password@` in any of them (percent-encoded) logs in after TLS is up (`smtp+starttls`,
`smtps`) or at once on `smtp` (only sensible on a trusted local relay). Certificates are checked
against the system's store. `smtplib` blocks: callers run `send` in a worker thread.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

from slotlinks.errors import Unavailable

__all__ = ["Mailer", "SmtpMailer", "SmtpTarget"]

_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand `message` to the mail system; raises `Unavailable` when it cannot."""


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """Where and how to send, read from an SMTP URL (never logged: it may carry a password)."""

    host: str
    port: int
    tls: str  # none | starttls | implicit
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in _PORTS or not parts.hostname:
            raise ValueError("an SMTP URL is smtp://, smtp+starttls:// or smtps:// and names a host")
        tls = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "implicit"}[parts.scheme]
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        return cls(parts.hostname, parts.port or _PORTS[parts.scheme], tls, user, password)


class SmtpMailer:
    """Sends each message on a connection of its own (alerts are few; no pool to keep healthy)."""

    def __init__(self, url: str, *, timeout: float = 20.0) -> None:
        self.target = SmtpTarget.from_url(url)
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        target = self.target
        try:
            client: smtplib.SMTP
            if target.tls == "implicit":
                client = smtplib.SMTP_SSL(
                    target.host, target.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(target.host, target.port, timeout=self.timeout)
            with client:
                if target.tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if target.username is not None:
                    client.login(target.username, target.password or "")
                client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            # The reason without the URL: it may hold the password.
            where = f"{target.host}:{target.port}"
            raise Unavailable(f"the mail server at {where} did not take the message: {exc}") from exc
