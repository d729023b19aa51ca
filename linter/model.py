"""The plain data that flows through clientline.

Sources turn calendar events and email messages into :class:`Item` objects
(:class:`Event` or :class:`Message`); the contact directory turns addresses into
:class:`Contact` objects; the engine turns both into :class:`Finding` objects, each
carrying the :class:`Evidence` that explains it. Sources report unreadable input as
:class:`Problem` objects instead of raising, so one bad file never stops a run.

Identity is stable across runs:

* an event occurrence is ``UID`` plus its recurrence id (the original start of that
  occurrence), so each occurrence of a weekly meeting is its own item;
* a message is its ``Message-ID``, or, when it has none, a hash of its content;
* a finding's fingerprint is a hash of the rule id and the item id, so the same problem
  in the same item is the same finding tomorrow.

Nothing here holds a whole mailbox: items are produced and consumed one at a time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum
from typing import Literal

ItemKind = Literal["event", "message", "contact"]
ITEM_KINDS: tuple[ItemKind, ...] = ("event", "message", "contact")
# what becomes of a finding the worker keeps (see linter.store)
FINDING_STATUSES = ("open", "acknowledged", "resolved", "suppressed")


class Severity(IntEnum):
    """How loudly a finding speaks; ordered so ``--min-severity`` can compare."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, name: str) -> Severity:
        return cls[name.upper()]

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Participant:
    """One address on an item, in one role.

    Roles: ``from``, ``to``, ``cc``, ``organizer``, ``attendee``.
    """

    address: str
    name: str = ""
    role: str = "to"
    response: str | None = None  # an attendee's PARTSTAT, lower-case

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


@dataclass(frozen=True, slots=True)
class Contact:
    """A client, as the contact directory describes them."""

    name: str
    org: str = ""
    emails: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    status: Literal["active", "former", "prospect"] = "active"
    relationship: Literal["professional", "friend"] = "professional"
    since: date | None = None
    ended: date | None = None
    understandings: date | None = None
    aliases: tuple[str, ...] = ()
    line: int = field(default=0, compare=False)  # where the directory defines it

    @property
    def key(self) -> str:
        """Which client this is: contacts sharing an organisation are one client."""
        return (self.org or self.name).casefold()

    @property
    def label(self) -> str:
        return f"{self.name} ({self.org})" if self.org and self.org != self.name else self.name


@dataclass(kw_only=True, slots=True)
class Item:
    """One event occurrence or one message, normalised so rules can treat both alike.

    ``body`` holds only the author's new text; quoted replies, forwarded blocks and
    signatures are kept apart in ``quoted`` so rules do not fire on what someone else
    wrote weeks ago.
    """

    kind: ItemKind
    source: str  # the file or account the item came from
    locator: str  # where in the source: a line number, a file name, an API id
    id: str
    title: str = ""
    body: str = ""
    quoted: str = ""
    location: str = ""
    start: datetime | None = None
    end: datetime | None = None
    sender: Participant | None = None  # organizer or From
    recipients: tuple[Participant, ...] = ()  # attendees or To and Cc
    thread: str | None = None
    labels: tuple[str, ...] = ()
    folder: str | None = None
    link: str | None = None

    @property
    def participants(self) -> tuple[Participant, ...]:
        return ((self.sender,) if self.sender else ()) + self.recipients

    def field_text(self, name: str) -> str:
        return str(getattr(self, name) or "")


@dataclass(kw_only=True, slots=True)
class Event(Item):
    """A calendar event occurrence."""

    kind: ItemKind = "event"
    all_day: bool = False
    recurrence_id: str | None = None
    status: str | None = None
    private: bool = False
    conference: str | None = None  # a video-call link, where the calendar has one


@dataclass(kw_only=True, slots=True)
class Message(Item):
    """An email message."""

    kind: ItemKind = "message"
    in_reply_to: str | None = None
    attachments: tuple[str, ...] = ()


@dataclass(kw_only=True, slots=True)
class ContactRecord(Item):
    """A client as the directory describes them, checked like an item.

    Some principles concern the relationship rather than any one event or message
    (P7: a friend who is a client needs agreed understandings); rules that apply to
    ``contact`` check each named client of the directory once per run.
    """

    kind: ItemKind = "contact"
    contact: Contact


def event_id(uid: str, recurrence_id: str | None) -> str:
    return f"{uid}#{recurrence_id}" if recurrence_id else uid


def content_id(data: bytes) -> str:
    """A stable id for an item that carries none of its own."""
    return "sha256:" + hashlib.sha256(data).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a selection matched: which field, which words, where.

    ``snippet`` is a bounded window of text around the words; it is all of the item's
    content a finding ever keeps.
    """

    selection: str
    field: str
    words: str
    start: int = -1
    end: int = -1
    snippet: str = ""


@dataclass(frozen=True, slots=True)
class ItemRef:
    """The part of an item a finding keeps: enough to find it again, never its body."""

    kind: ItemKind
    source: str
    locator: str
    id: str
    title: str
    start: datetime | None

    @classmethod
    def of(cls, item: Item) -> ItemRef:
        return cls(item.kind, item.source, item.locator, item.id, item.title, item.start)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    name: str
    title: str
    severity: Severity
    message: str
    item: ItemRef
    contacts: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    principles: tuple[str, ...]
    advice: str = ""
    fingerprint: str = field(default="")
    suppressed: bool = False  # by an inline marker in the item (see engine.suppress)
    suppression_reason: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint(self.rule, self.item.id))


def fingerprint(rule_id: str, item_id: str) -> str:
    return hashlib.sha256(f"{rule_id}\0{item_id}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Problem:
    """Input that could not be read. Reported, never raised: the run goes on."""

    source: str
    message: str
    line: int | None = None
    level: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.level}: {self.message}"


def printable(text: str) -> str:
    """``text`` (a path, as a rule a file name) safe to print on one line and to store:
    bytes that are not UTF-8 (which Python keeps as surrogates) become ``\\xNN``, and
    control characters such as a newline their escapes."""
    if text.isprintable():
        return text
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
