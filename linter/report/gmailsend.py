"""The ``gmail`` digest transport: send the digest through the Gmail API.

For users without an SMTP server::

    digest:
      transport: gmail
      to: [sam@studio.example]
      from: sam@studio.example
      gmail: {account: sam}          # the token `clientline auth google --send` stored
      # or a service account: gmail: {credentials: sa.json, subject: sam@firm.example}

It calls ``users.messages.send`` with the whole message (``raw``), so the digest keeps
its Message-ID and ``X-Clientline-Digest`` header. The account's token needs the
``gmail.send`` scope, which ``clientline auth google --send`` asks for; reading
accounts never do. A refused token, a missing scope or a Gmail error is a
:class:`~linter.report.mailer.DeliveryError` naming the fix, and the digest stays
pending for the next run.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from linter.google import api
from linter.google.auth import GMAIL_SEND, AuthError
from linter.report.mailer import DeliveryError, TransportConfig
from linter.yamlfile import suggest

OPTIONS = ("account", "credentials", "subject", "token", "token_uri", "endpoint", "timeout")


@dataclass
class GmailTransport:
    options: Mapping[str, Any] = field(default_factory=dict)
    base: Path = Path()

    def send(self, message: EmailMessage) -> None:
        raw = base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
        try:
            client = api.connect("gmail", self.options, [GMAIL_SEND], self.base)
            client.execute(
                client.service.users().messages().send(userId="me", body={"raw": raw}),
                api.GMAIL_UNITS["send"],
            )
        except (AuthError, api.ApiError) as exc:
            raise DeliveryError(f"Gmail did not send the digest: {exc}") from None


def gmail_from_config(digest: Mapping[str, Any], config: TransportConfig) -> GmailTransport:
    settings = digest.get("gmail") or {}
    if not isinstance(settings, Mapping):
        raise config.error(
            "digest.gmail must be a mapping", digest, "gmail", "gmail: {account: default}"
        )
    for key in settings:
        if key not in OPTIONS:
            raise config.error(
                f"unknown key `{key}` in digest.gmail",
                digest,
                "gmail",
                suggest(str(key), OPTIONS) or "expected: " + ", ".join(OPTIONS),
            )
    if settings.get("credentials") and not settings.get("subject"):
        raise config.error(
            "digest.gmail: a service account needs `subject:` (the user who sends)",
            digest,
            "gmail",
        )
    return GmailTransport(dict(settings), config.base)
