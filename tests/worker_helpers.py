"""Builders for the worker, store and daemon tests.

A *practice* is a folder the way a user would set one up for ``clientline run``: a
``clientline.yaml`` with ``sources`` (an mbox, an ``.ics`` calendar and a Maildir), the
default pack's test contacts, three of the default pack's rules (:data:`RULES`) as a
pack of its own, the state database under ``state/`` and the digest written to
``out/`` (transport ``file``) unless a test asks for SMTP.

Every message is small and written by hand here, so each test knows which rule fires:

* :data:`MIXED` (drinks and a renewal contract with Dana, a client and a friend) fires
  CL102;
* :data:`SOCIAL` (supper with Dana, nothing else) and :data:`PLAIN` (an invoice, nothing
  social) fire nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from linter import lintrun
from linter.report import mailer
from linter.store import Store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACK = ROOT / "rules" / "default"
CONTACTS = DEFAULT_PACK / "contacts.yaml"
# The rules these tests count on, copied from the default pack into each practice: new
# rules added to the default pack do not change what the tests expect, and three rules
# compile in a fraction of the time the whole pack takes.
RULES = ("CL101", "CL102", "CL120")
CLIENTLINE = [sys.executable, "-m", "linter.cli"]
LONDON = ZoneInfo("Europe/London")
# A Monday morning after the digest's 07:30, inside the practice's fixed window.
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=LONDON)

DANA = "dana@acme.example"
LEE = "lee.park@birchwood.example"
SAM = "sam@studio.example"

MIXED = (
    "Friday?",
    "Drinks Friday after work? Also could we go over the renewal contract then, saves a meeting.",
)
SOCIAL = (
    "Supper at ours?",
    "Would you and Alex like to come for supper at ours on Saturday? Bring the kids.",
)
PLAIN = ("October invoice", "Please find the October invoice attached; payment terms are 30 days.")

CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//clientline tests//EN
BEGIN:VEVENT
UID:drinks-review@studio.example
DTSTAMP:20260301T000000Z
DTSTART:20261112T190000Z
DTEND:20261112T210000Z
SUMMARY:Q3 contract review over drinks
ORGANIZER:mailto:sam@studio.example
ATTENDEE;CN=Dana Ng:mailto:dana@acme.example
END:VEVENT
BEGIN:VEVENT
UID:plain-review@studio.example
DTSTAMP:20260301T000000Z
DTSTART:20261113T100000Z
DTEND:20261113T110000Z
SUMMARY:Q3 contract review
ORGANIZER:mailto:sam@studio.example
ATTENDEE;CN=Dana Ng:mailto:dana@acme.example
END:VEVENT
END:VCALENDAR
"""


def message(
    message_id: str,
    subject: str,
    body: str,
    sender: str = DANA,
    to: str = SAM,
    date: str = "Thu, 12 Nov 2026 10:00:00 +0000",
) -> str:
    """One RFC 5322 message; ``message_id`` without the angle brackets."""
    return (
        f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: {date}\n"
        f"Message-ID: <{message_id}>\n\n{body}\n"
    )


def mbox_text(messages: Iterable[str], sender: str = DANA) -> str:
    """Messages as an mbox: a ``From`` separator line before each, a blank line after."""
    return "".join(f"From {sender} Thu Nov 12 10:00:00 2026\n{text}\n" for text in messages)


@dataclass
class Practice:
    folder: Path
    config: Path
    mbox: Path
    ics: Path
    maildir: Path
    state: Path
    digest_html: Path

    def prepare(self, now: dt.datetime = NOW) -> lintrun.Setup:
        return lintrun.prepare(str(self.config), now=now)

    def open_store(self) -> Store:
        return Store(str(self.state), create=False)

    def findings(self) -> dict[str, tuple[str, str]]:
        """Every stored finding: fingerprint -> (status, reason), read without writing."""
        return {fp: (status, reason) for fp, _, status, reason in self.rows()}

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(fingerprint, item id, status, reason) of every finding, read-only."""
        with readonly(self.state) as db:
            return [
                (str(r[0]), str(r[1]), str(r[2]), str(r[3]))
                for r in db.execute(
                    "SELECT fingerprint, item_id, status, reason FROM findings ORDER BY 1"
                )
            ]

    def add_mail(self, *messages: str) -> None:
        with self.mbox.open("a", encoding="utf-8") as handle:
            handle.write(mbox_text(messages))

    def put_maildir(self, name: str, text: str, box: str = "cur") -> Path:
        path = self.maildir / box / name
        path.write_text(text, encoding="utf-8")
        return path

    def rewrite_config(self, **changes: Any) -> None:
        data = yaml.safe_load(self.config.read_text(encoding="utf-8"))
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        self.config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def file_digest(**changes: Any) -> dict[str, Any]:
    digest: dict[str, Any] = {
        "to": [SAM],
        "from": "clientline@studio.example",
        "at": "07:30",
        "transport": "file",
        "file": "out/digest.html",
        "send_when_empty": False,
    }
    digest.update(changes)
    return digest


def smtp_digest(port: int, **changes: Any) -> dict[str, Any]:
    """Transport smtp to 127.0.0.1:``port``, no TLS; ``smtp=`` entries are merged in."""
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5}
    smtp.update(changes.pop("smtp", {}))
    digest = file_digest(transport="smtp", smtp=smtp, **changes)
    digest.pop("file")
    return digest


def write_practice(
    folder: Path,
    mail: Iterable[str] = (),
    maildir: Mapping[str, str] | None = None,
    digest: dict[str, Any] | None = None,
    **extra: Any,
) -> Practice:
    """A practice in ``folder``; ``mail`` goes into the mbox, ``maildir`` maps file names
    in ``cur/`` to messages; ``extra`` adds or replaces top-level config keys."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "contacts.yaml").write_text(CONTACTS.read_text(encoding="utf-8"), encoding="utf-8")
    pack = folder / "pack"
    pack.mkdir(exist_ok=True)
    for rule in RULES:
        [path] = DEFAULT_PACK.glob(f"{rule}-*.yaml")
        shutil.copyfile(path, pack / path.name)
    mbox = folder / "mail" / "inbox.mbox"
    mbox.parent.mkdir(exist_ok=True)
    mbox.write_text(mbox_text(mail), encoding="utf-8")
    ics = folder / "calendar.ics"
    ics.write_text(CALENDAR, encoding="utf-8")
    box = folder / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True, exist_ok=True)
    for name, text in (maildir or {}).items():
        (box / "cur" / name).write_text(text, encoding="utf-8")
    data: dict[str, Any] = {
        "timezone": "Europe/London",
        "working_hours": {"days": "mon-fri", "start": "09:00", "end": "18:00"},
        "contacts": "contacts.yaml",
        "rules": ["./pack"],
        # a fixed window: what the calendar yields does not depend on today's date
        "window": {"since": "2026-01-01", "until": "2027-01-01"},
        "state": "state/state.db",
        "sources": [
            {"type": "mbox", "path": "mail/inbox.mbox", "name": "inbox"},
            {"type": "ics", "path": "calendar.ics", "name": "calendar"},
            {"type": "maildir", "path": "Maildir", "name": "archive"},
        ],
        "digest": file_digest() if digest is None else digest,
        "schedule": {"scan_every": "30m"},
        "retention_days": 365,
    }
    data.update(extra)
    config = folder / "clientline.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return Practice(
        folder=folder,
        config=config,
        mbox=mbox,
        ics=ics,
        maildir=box,
        state=folder / "state" / "state.db",
        digest_html=folder / "out" / "digest.html",
    )


class readonly:  # noqa: N801 - used like a function: ``with readonly(path) as db``
    """A read-only connection to a state database (``mode=ro``: never creates, never
    migrates, never writes), closed on leaving the block."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


class Recording:
    """A digest transport that remembers every message it is given, then hands it on
    to ``inner`` (a real transport) when there is one."""

    def __init__(self, inner: Any = None):
        self.inner = inner
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
        if self.inner is not None:
            self.inner.send(message)


def config_transport(setup: lintrun.Setup) -> Any:
    """The transport ``digest:`` in the practice's configuration asks for."""
    config = setup.config
    return mailer.transport_from_config(
        config.raw["digest"], path=config.path or "clientline.yaml", base=config.base
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text, html) of a digest message."""
    return mailer.digest_parts(message)


def line_of(path: Path, needle: str) -> int:
    """The 1-based number of the first line of ``path`` containing ``needle``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in {path}")


def clientline(
    *args: str, timeout: float = 60, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``clientline ARGS`` in a child process (this interpreter), bounded in time."""
    return subprocess.run(
        [*CLIENTLINE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
