"""Sending a rendered digest: the email message and the transports that deliver it.

:func:`build_message` wraps a :class:`~linter.report.digest.RenderedDigest` in a
``multipart/alternative`` email (plain text first, then HTML, both UTF-8 and
quoted-printable so any relay carries them) with ``From``, ``To``, ``Subject``,
``Date``, ``Message-ID`` and ``X-Clientline-Digest: <digest id>``. The worker keys its
exactly-once bookkeeping on that digest id.

A transport has one method, ``send(message)``, and raises :class:`DeliveryError` with
a one-line reason when the message was not delivered. Built in:

``smtp``
    ``digest: {transport: smtp, smtp: {host, port, security, username, password_env}}``.
    ``security`` is ``starttls`` (default, port 587), ``tls`` (port 465) or ``none``
    (port 25, for a local relay). The password comes from the environment variable
    named by ``password_env`` or from the file named by ``password_file``, never from
    the configuration itself; a ``password_file`` its group or others may read is
    refused, as a Google token is. ``timeout`` (seconds, default 30) bounds every network
    step, so a dead server fails the send instead of hanging the worker. STARTTLS
    never falls back to plain text. When the server takes the message for some
    recipients and refuses others, the send counts as done (sending again would give
    the others a second copy) and the refusal is logged as
    ``event=digest_partly_refused``.
``file``
    ``digest: {transport: file, file: out/digest.html}`` writes the HTML part there and
    the text part beside it (``out/digest.txt``), each atomically.

:func:`transport_from_config` reads the ``digest`` section of ``clientline.yaml`` and
returns the transport; configuration mistakes raise
:class:`~linter.yamlfile.ConfigError` naming ``file:line:col``, as the rest of the
configuration does. ``gmail`` (:mod:`linter.report.gmailsend`) sends through the Gmail
API. Other transports plug in with
:func:`register_transport`, or from another distribution through the
``clientline.transports`` entry point group; a factory takes the ``digest`` mapping
and a :class:`TransportConfig` and returns a :class:`Transport`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import logging
import os
import smtplib
import ssl
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Literal, Protocol

from linter.plugins import entry_points_in
from linter.report.digest import RenderedDigest
from linter.yamlfile import ConfigError, LocatedDict, Mark, suggest

ENTRY_POINT_GROUP = "clientline.transports"
DIGEST_HEADER = "X-Clientline-Digest"
Security = Literal["starttls", "tls", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}
SMTP_KEYS = ("host", "port", "security", "username", "password_env", "password_file", "timeout")

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The digest was not delivered; ``str()`` is a one-line reason. Retry later."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


# -- the message ---------------------------------------------------------------------


def build_message(
    rendered: RenderedDigest,
    *,
    sender: str,
    to: Sequence[str],
    digest_id: str,
    date: dt.datetime | None = None,
) -> EmailMessage:
    """The digest as a ``multipart/alternative`` message, ready for any transport."""
    recipients = [address for address in to if address.strip()]
    if not recipients:
        raise ValueError("a digest needs at least one recipient")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(date or dt.datetime.now(dt.UTC).astimezone())
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    message[DIGEST_HEADER] = digest_id
    # Quoted-printable keeps every line short and 7-bit, so relays without 8BITMIME
    # and the 998-character line limit both carry the HTML unchanged.
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def parse_message(data: bytes) -> EmailMessage:
    """A message made by :func:`build_message` and stored as bytes, ready to send again:
    the same bytes give the same message, every time."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _domain(sender: str) -> str:
    # make_msgid would otherwise ask DNS for this host's name, which can stall
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    return domain or "clientline.invalid"


def digest_parts(message: EmailMessage) -> tuple[str, str]:
    """The (text, html) bodies of a message made by :func:`build_message`."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    if not isinstance(text, EmailMessage) or not isinstance(html, EmailMessage):
        raise DeliveryError("the message has no text and HTML parts to write")
    return str(text.get_content()), str(html.get_content())


# -- SMTP ----------------------------------------------------------------------------


@dataclass
class SmtpTransport:
    """Delivery through an SMTP server: STARTTLS, implicit TLS or plain, with AUTH."""

    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.security not in DEFAULT_PORTS:
            raise ValueError(f"security must be starttls, tls or none, not {self.security!r}")

    def send(self, message: EmailMessage) -> None:
        where = f"{self.host}:{self.port}"
        try:
            self._send(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP {where}: authentication failed for {self.username!r}: {_reply(exc)}"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(
                f"{rcpt} ({_reply_of(*reply)})" for rcpt, reply in exc.recipients.items()
            )
            raise DeliveryError(f"SMTP {where}: every recipient was refused: {refused}") from exc
        except smtplib.SMTPSenderRefused as exc:
            raise DeliveryError(
                f"SMTP {where}: sender {exc.sender} refused: {_reply(exc)}"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"SMTP {where}: {_one_line(exc)}") from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {where}: server said {_reply(exc)}") from exc
        except smtplib.SMTPServerDisconnected as exc:
            if "timed out" in str(exc):  # smtplib's wording for a silent server
                raise DeliveryError(f"SMTP {where}: no answer within {self.timeout:g}s") from exc
            raise DeliveryError(f"SMTP {where}: server disconnected: {_one_line(exc)}") from exc
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP {where}: {_one_line(exc)}") from exc
        except ssl.SSLError as exc:
            raise DeliveryError(f"SMTP {where}: TLS failed: {_one_line(exc)}") from exc
        except TimeoutError as exc:
            raise DeliveryError(f"SMTP {where}: no answer within {self.timeout:g}s") from exc
        except OSError as exc:
            reason = exc.strerror or _one_line(exc)
            raise DeliveryError(f"SMTP {where}: cannot connect: {reason}") from exc

    def _send(self, message: EmailMessage) -> None:
        context = self.ssl_context or ssl.create_default_context()
        client: smtplib.SMTP
        if self.security == "tls":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if self.security == "starttls":
                if not client.has_extn("starttls"):
                    # never fall back to plain text: the password would travel in clear
                    raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
                client.starttls(context=context)
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
            refused = client.send_message(message)
        except BaseException:
            # no QUIT on a broken session: its error would hide the real one
            client.close()
            raise
        # The server has accepted the message: a failing QUIT must not make it a
        # failed delivery, or the worker would send the digest twice.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
        client.close()
        if refused:
            # Some recipients took it. Raising would make the worker send it again to
            # those who already have it, every run; say so in the log instead.
            log.warning(
                "event=digest_partly_refused refused=%s",
                ",".join(sorted(refused)),
            )


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _reply_of(exc.smtp_code, exc.smtp_error)


def _reply_of(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return _one_line(f"{code} {text}")


def _one_line(value: object) -> str:
    return " ".join(str(value).split()) or type(value).__name__


# -- file ----------------------------------------------------------------------------


@dataclass
class FileTransport:
    """Writes the HTML part to ``path`` (with ``.html``) and the text part beside it
    (with ``.txt``). Each file is replaced atomically: a reader never sees half."""

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def html_path(self) -> Path:
        return self.path.with_suffix(".html")

    @property
    def text_path(self) -> Path:
        return self.path.with_suffix(".txt")

    def send(self, message: EmailMessage) -> None:
        text, html = digest_parts(message)
        try:
            self.html_path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.text_path, text)
            _write_atomically(self.html_path, html)
        except OSError as exc:
            raise DeliveryError(f"cannot write {self.path}: {_one_line(exc)}") from exc


def _write_atomically(path: Path, content: str) -> None:
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed before the rename
        "w",
        encoding="utf-8",
        newline="",
        dir=path.parent,
        prefix=f".{path.name}.",
        suffix=".tmp",
        delete=False,
    )
    try:
        with handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            # mkstemp makes it 0600, right for a page about clients; a mode the user
            # gave the file before is kept
            os.chmod(handle.name, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


# -- configuration -------------------------------------------------------------------


@dataclass(frozen=True)
class TransportConfig:
    """What a transport factory needs besides its own settings."""

    path: str = "clientline.yaml"  # the configuration file, for error messages
    base: Path = Path()  # relative paths in the configuration start here
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def error(
        self, message: str, mapping: Any = None, key: str = "", hint: str = ""
    ) -> ConfigError:
        return ConfigError(self.path, message, _mark(mapping, key), hint)


TransportFactory = Callable[[Mapping[str, Any], TransportConfig], Transport]
_FACTORIES: dict[str, TransportFactory] = {}


def register_transport(name: str, factory: TransportFactory) -> None:
    """Make ``transport: <name>`` available (built-ins register the same way)."""
    _FACTORIES[name] = factory


def transport_names() -> list[str]:
    return sorted({*_FACTORIES, *(e.name for e in entry_points_in(ENTRY_POINT_GROUP))})


def transport_from_config(
    digest: Mapping[str, Any],
    *,
    path: str = "clientline.yaml",
    base: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Transport:
    """The transport the ``digest`` section of the configuration asks for."""
    config = TransportConfig(
        path=path,
        base=Path(base) if base is not None else Path(path).parent,
        environ=dict(os.environ) if environ is None else environ,
    )
    name = digest.get("transport")
    if name is None:
        # one transport's settings and no `transport:` can only mean that transport
        present = [key for key in ("smtp", "file") if key in digest]
        if len(present) != 1:
            raise config.error(
                "digest: `transport` is missing", digest, hint="set transport: smtp or file"
            )
        name = present[0]
    if not isinstance(name, str):
        raise config.error("digest.transport must be text", digest, "transport")
    factory = _FACTORIES.get(name) or _entry_point(name)
    if factory is None:
        known = transport_names()
        raise config.error(
            f"digest: unknown transport `{name}`",
            digest,
            "transport",
            suggest(name, known) or "expected one of: " + ", ".join(known),
        )
    return factory(digest, config)


def _entry_point(name: str) -> TransportFactory | None:
    for entry in entry_points_in(ENTRY_POINT_GROUP, name):
        factory: TransportFactory = entry.load()
        return factory
    return None


def smtp_from_config(digest: Mapping[str, Any], config: TransportConfig) -> SmtpTransport:
    settings = digest.get("smtp")
    if not isinstance(settings, Mapping):
        raise config.error(
            "digest.smtp must be a mapping",
            digest,
            "smtp" if "smtp" in digest else "",
            "smtp: {host: smtp.example, port: 587, security: starttls, "
            "username: me, password_env: CLIENTLINE_SMTP_PASSWORD}",
        )
    for key in settings:
        if key not in SMTP_KEYS:
            raise config.error(
                f"digest.smtp: unknown key `{key}`",
                settings,
                key,
                suggest(str(key), SMTP_KEYS) or "expected one of: " + ", ".join(SMTP_KEYS),
            )
    host = settings.get("host")
    if not isinstance(host, str) or not host.strip():
        raise config.error("digest.smtp.host must name the SMTP server", settings, "host")
    security = settings.get("security", "starttls")
    if security not in DEFAULT_PORTS:
        raise config.error(
            f"digest.smtp.security must be starttls, tls or none, not `{security}`",
            settings,
            "security",
        )
    port = settings.get("port", DEFAULT_PORTS[security])
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise config.error("digest.smtp.port must be a port number", settings, "port")
    timeout = settings.get("timeout", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise config.error("digest.smtp.timeout must be seconds above 0", settings, "timeout")
    username = settings.get("username")
    if username is not None and (not isinstance(username, str) or not username):
        raise config.error("digest.smtp.username must be text", settings, "username")
    password = _secret(settings, config)
    if password is not None and not username:
        raise config.error(
            "digest.smtp: a password is given but no username",
            settings,
            "password_env" if "password_env" in settings else "password_file",
            "add username: or remove the password",
        )
    if username and password is None:
        raise config.error(
            "digest.smtp: username is given but no password source",
            settings,
            "username",
            "add password_env: NAME_OF_AN_ENVIRONMENT_VARIABLE or password_file: PATH",
        )
    return SmtpTransport(
        host=host.strip(),
        port=port,
        security=security,
        username=username,
        password=password,
        timeout=float(timeout),
    )


def _secret(settings: Mapping[str, Any], config: TransportConfig) -> str | None:
    variable, filename = settings.get("password_env"), settings.get("password_file")
    if variable is not None and filename is not None:
        raise config.error(
            "digest.smtp: give password_env or password_file, not both",
            settings,
            "password_file",
        )
    if variable is not None:
        if not isinstance(variable, str) or not variable:
            raise config.error(
                "digest.smtp.password_env must name a variable", settings, "password_env"
            )
        value = config.environ.get(variable)
        if not value:
            raise config.error(
                f"digest.smtp: environment variable {variable} is not set",
                settings,
                "password_env",
                f"set {variable} to the SMTP password where clientline runs, or use password_file",
            )
        return value
    if filename is not None:
        if not isinstance(filename, str) or not filename:
            raise config.error(
                "digest.smtp.password_file must be a path", settings, "password_file"
            )
        expanded = os.path.expandvars(filename)
        if "$" in expanded:
            raise config.error(
                f"digest.smtp: password_file {filename} names an environment variable "
                "that is not set",
                settings,
                "password_file",
            )
        secret_path = config.base / Path(expanded).expanduser()
        from linter.google.auth import ExposedSecretError, owner_only

        try:
            with secret_path.open(encoding="utf-8") as handle:
                # refused as a token is when its group or others may read it
                owner_only(secret_path, "an SMTP password file", os.fstat(handle.fileno()))
                value = handle.read().rstrip("\r\n")
        except ExposedSecretError as exc:
            raise config.error(f"digest.smtp: {exc}", settings, "password_file") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise config.error(
                f"digest.smtp: cannot read password_file {secret_path}: {_one_line(exc)}",
                settings,
                "password_file",
            ) from None
        if not value:
            raise config.error(
                f"digest.smtp: password_file {secret_path} is empty", settings, "password_file"
            )
        return value
    return None


def file_from_config(digest: Mapping[str, Any], config: TransportConfig) -> FileTransport:
    target = digest.get("file")
    if not isinstance(target, str) or not target.strip():
        raise config.error(
            "digest.file must be the path of the HTML file to write",
            digest,
            "file" if "file" in digest else "",
            "file: out/digest.html",
        )
    return FileTransport(config.base / Path(target.strip()).expanduser())


def _mark(mapping: Any, key: str) -> Mark | None:
    if isinstance(mapping, LocatedDict):
        return mapping.value_mark(key) if key else mapping.mark
    return None


def gmail_from_config(digest: Mapping[str, Any], config: TransportConfig) -> Transport:
    # imported when chosen: the Google client libraries take a while to load
    from linter.report import gmailsend

    return gmailsend.gmail_from_config(digest, config)


register_transport("smtp", smtp_from_config)
register_transport("file", file_from_config)
register_transport("gmail", gmail_from_config)
