"""Rule test cases: the ``tests:`` list of a rule file, turned into items.

Every rule ships with the cases that make it fire and keep it quiet (as in Vale and
Semgrep). A case describes one event or one message in a few keys and the rule ids it
expects::

    tests:
      - name: review over drinks
        event: {title: "Q3 contract review over drinks", attendees: [dana@acme.example],
                start: "2026-03-12T19:00:00+00:00", location: "The Crown"}
        expect: [CL101]
      - name: former client asks for a favour
        message: {from: omar@cedarco.example, to: [sam@studio.example],
                  subject: "Quick question", body: "Could I pick your brain?"}
        expect: [CL103]

Event keys: ``title``, ``description``, ``location``, ``organizer``, ``attendees``,
``start``, ``end``, ``all_day``. Message keys: ``subject``, ``body`` (new text),
``quoted``, ``from``, ``to``, ``cc``, ``date``, ``attachments``. A ``contact`` case is one
client entry written as in ``contacts.yaml`` (``name``, ``emails``, ``relationship``,
``understandings``, ...), for rules that apply to ``contact``. Times are ISO 8601
(a Thursday at 10:00 UTC when left out). ``expect`` lists the rule ids that must fire
on the item among the rules under test; any other of those rules firing fails the case.
Cases run against the pack's ``contacts.yaml``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from linter import contacts
from linter.model import ContactRecord, Event, Item, Message, Participant
from linter.yamlfile import ConfigError, LocatedDict, check_keys, expect_mapping

CASE_KEYS = ("name", "event", "message", "contact", "expect", "note")
ITEM_KEYS = ("event", "message", "contact")
EVENT_KEYS = (
    "title",
    "description",
    "location",
    "organizer",
    "attendees",
    "start",
    "end",
    "all_day",
)
MESSAGE_KEYS = ("subject", "body", "quoted", "from", "to", "cc", "date", "attachments")
DEFAULT_START = dt.datetime(2026, 3, 12, 10, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Case:
    rule_id: str
    name: str
    item: Item
    expect: frozenset[str]
    origin: str
    line: int

    @property
    def label(self) -> str:
        return f"{self.rule_id}: {self.name}"


def build(raw: Any, rule_id: str, path: str, number: int) -> Case:
    entry = expect_mapping(raw, path, "a test case")
    check_keys(entry, CASE_KEYS, path)
    name = str(entry.get("name") or f"case {number}")
    expect = entry.get("expect")
    if not isinstance(expect, list) or not all(isinstance(e, str) for e in expect):
        raise ConfigError(
            path,
            "`expect` must list rule ids ([] for none)",
            entry.value_mark("expect") if "expect" in entry else entry.mark,
        )
    locator = f"{rule_id}:{number}"
    kinds = [key for key in ITEM_KEYS if key in entry]
    if len(kinds) != 1:
        raise ConfigError(
            path, "a case has exactly one of `event`, `message` or `contact`", entry.mark
        )
    data = expect_mapping(entry[kinds[0]], path, f"`{kinds[0]}`")
    item: Item
    if kinds[0] == "event":
        item = _event(data, path, locator)
    elif kinds[0] == "message":
        item = _message(data, path, locator)
    else:
        item = _contact(data, path, locator)
    return Case(rule_id, name, item, frozenset(expect), path, entry.mark.line)


def _event(data: LocatedDict, path: str, locator: str) -> Event:
    check_keys(data, EVENT_KEYS, path)
    organizer = data.get("organizer", "sam@studio.example")
    start = _time(data, "start", path) or DEFAULT_START
    return Event(
        source=path,
        locator=locator,
        id=f"case:{locator}",
        title=str(data.get("title") or ""),
        body=str(data.get("description") or ""),
        location=str(data.get("location") or ""),
        start=start,
        end=_time(data, "end", path) or start + dt.timedelta(hours=1),
        all_day=bool(data.get("all_day", False)),
        sender=Participant(str(organizer).lower(), role="organizer") if organizer else None,
        recipients=tuple(Participant(a.lower(), role="attendee") for a in _list(data, "attendees")),
    )


def _message(data: LocatedDict, path: str, locator: str) -> Message:
    check_keys(data, MESSAGE_KEYS, path)
    sender = str(data.get("from") or "sam@studio.example").lower()
    return Message(
        source=path,
        locator=locator,
        id=f"case:{locator}",
        title=str(data.get("subject") or ""),
        body=str(data.get("body") or ""),
        quoted=str(data.get("quoted") or ""),
        start=_time(data, "date", path) or DEFAULT_START,
        sender=Participant(sender, role="from"),
        recipients=tuple(Participant(a.lower(), role="to") for a in _list(data, "to"))
        + tuple(Participant(a.lower(), role="cc") for a in _list(data, "cc")),
        attachments=tuple(_list(data, "attachments")),
    )


def _contact(data: LocatedDict, path: str, locator: str) -> ContactRecord:
    client = contacts.parse_client(data, path, data.mark)
    record = next(contacts.records(contacts.Directory(clients=(client,), source=path)), None)
    if record is None:
        raise ConfigError(path, "a `contact` case needs a named client", data.mark)
    return replace(record, locator=locator, id=f"case:{locator}")


def _list(data: LocatedDict, key: str) -> list[str]:
    value = data.get(key) or []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _time(data: LocatedDict, key: str, path: str) -> dt.datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(path, f"`{key}` must be an ISO 8601 time", data.value_mark(key)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
