"""A user's corrections, kept as test cases: ``clientline cases add``.

When the rules get an item wrong — a false alarm the user acknowledged as not a problem,
or a finding they missed — ``clientline cases add ITEM --expect CL101`` (or
``--expect none``) writes the item as a test case into the user's own rule pack, in
``<pack>/cases/corrections.yaml``. ``clientline rules test`` then runs it with every
other case, so a later change of rules or lexicons that would repeat the mistake fails.

ITEM is a finding id from ``clientline findings`` (its item is read again from its
source), or ``FILE:LOCATOR`` as ``clientline lint`` prints it (``calendar.ics:1768``,
``inbox.mbox:420``, or a Maildir or ``.eml`` file with ``:1``).

Privacy: the case keeps what the rules need and nothing more — the title or subject,
the location, the times, the people's addresses and the author's own new text. Quoted
replies, forwarded mail, signatures and attachments' names are left out. The command
shows the case and asks before writing it.

A user case runs against every enabled rule (not only one rule's), with the practice's
own contact directory and working hours, since its people are real clients; ``expect``
lists every rule that must fire, and any other that fires fails it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from linter.config import Config
from linter.engine.cases import Case, build
from linter.model import Event, Item, Message, Problem
from linter.sources import Window, iter_items
from linter.store import Store
from linter.yamlfile import ConfigError, read

CASES_FOLDER = "cases"
CASES_FILE = "corrections.yaml"
HEADER = (
    "# Corrections kept as test cases (`clientline cases add`): each item is run\n"
    "# through every enabled rule with this practice's contacts; `expect` lists the\n"
    "# rules that must fire ([] for none). Only titles, places, times, addresses and\n"
    "# the author's own words are kept: never quoted mail.\n"
)


class CaseError(Exception):
    """The item cannot be made into a case; the message says why."""


def case_of(item: Item, expect: Iterable[str], name: str = "") -> dict[str, Any]:
    """The test case for ``item``: what its rules read, and nothing quoted."""
    if isinstance(item, Event):
        body: dict[str, Any] = {"title": item.title}
        if item.location:
            body["location"] = item.location
        if item.body:
            body["description"] = item.body
        if item.sender is not None:
            body["organizer"] = item.sender.address
        body["attendees"] = [p.address for p in item.recipients]
        body["start"] = _time(item.start)
        if item.end is not None:
            body["end"] = _time(item.end)
        if item.all_day:
            body["all_day"] = True
        kind = "event"
    elif isinstance(item, Message):
        body = {"subject": item.title}
        if item.sender is not None:
            body["from"] = item.sender.address
        body["to"] = [p.address for p in item.recipients if p.role != "cc"]
        cc = [p.address for p in item.recipients if p.role == "cc"]
        if cc:
            body["cc"] = cc
        body["date"] = _time(item.start)
        body["body"] = item.body
        kind = "message"
    else:
        raise CaseError(f"a {item.kind} cannot be kept as a case; only events and messages")
    return {
        "name": name or (item.title or f"{item.kind} at {item.locator}")[:80],
        kind: {k: v for k, v in body.items() if v is not None},
        "expect": sorted(dict.fromkeys(expect)),
        "note": f"added on {dt.date.today().isoformat()} from {item.source}:{item.locator}",
    }


def _time(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def render(case: dict[str, Any]) -> str:
    """The case as YAML, as it will be written (one list entry)."""
    text = yaml.safe_dump([case], allow_unicode=True, sort_keys=False, width=88)
    return text


def append(pack: Path, case: dict[str, Any]) -> Path:
    """Add ``case`` to the pack's corrections file; returns the file."""
    folder = pack / CASES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CASES_FILE
    existing = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if not existing.endswith("\n"):
        existing += "\n"
    path.write_text(existing + render(case), encoding="utf-8")
    return path


def find_item(outputs: Iterable[Item | Problem], item_id: str = "", locator: str = "") -> Item:
    """The item with this id (or at this locator) among a source's outputs."""
    for output in outputs:
        if isinstance(output, Problem):
            continue
        if (item_id and output.id == item_id) or (locator and output.locator == locator):
            return output
    wanted = f"id {item_id}" if item_id else f"locator {locator}"
    raise CaseError(f"no item with {wanted} there any more (was it edited or deleted?)")


def split_reference(text: str) -> tuple[str, str]:
    """``FILE:LOCATOR`` as ``(FILE, LOCATOR)``; a locator is the part after the last
    colon (a line number, or 1 for a one-message file)."""
    path, colon, locator = text.rpartition(":")
    if not colon or not path or not locator:
        raise CaseError(f"{text!r} is neither a finding id nor FILE:LOCATOR (calendar.ics:12)")
    return path, locator


def collect(pack: Path) -> tuple[list[Case], list[ConfigError]]:
    """The cases kept in ``<pack>/cases/*.yaml``."""
    cases: list[Case] = []
    errors: list[ConfigError] = []
    folder = pack / CASES_FOLDER
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        try:
            entries = read(str(path)) or []
        except ConfigError as exc:
            errors.append(exc)
            continue
        if not isinstance(entries, list):
            errors.append(ConfigError(str(path), "a cases file is a list of cases"))
            continue
        for number, raw in enumerate(entries, 1):
            try:
                cases.append(build(raw, CASES_FOLDER, str(path), number))
            except ConfigError as exc:
                errors.append(exc)
    return cases, errors


def item_for(reference: str, config: Config, store: Store | None) -> Item:
    """The item a finding id (through the store) or ``FILE:LOCATOR`` points at, read
    again from its source."""
    if _FINDING.match(reference.strip().lower()) and store is not None:
        row = store.finding(store.resolve_prefix(reference))
        assert row is not None
        path = _source_path(config, row.source)
        around = dt.datetime.fromisoformat(row.item_start) if row.item_start else None
        window = (
            Window(around - dt.timedelta(days=1), around + dt.timedelta(days=1), config.tz)
            if around is not None
            else _WIDE
        )
        return find_item(iter_items([path], window), item_id=row.item_id)
    path, locator = split_reference(reference)
    if not Path(path).exists():
        raise CaseError(f"{path}: no such file")
    return find_item(iter_items([path], _WIDE), locator=locator)


_FINDING = re.compile(r"^[0-9a-f]{4,16}$")
_WIDE = Window(
    dt.datetime(1900, 1, 1, tzinfo=dt.UTC), dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
)


def _source_path(config: Config, key: str) -> str:
    for spec in config.sources:
        if key in (spec.key, spec.name) and spec.path:
            return spec.path
    if Path(key).exists():
        return key
    raise CaseError(
        f"the finding's source {key!r} is not a file source of this configuration; "
        "give the item as FILE:LOCATOR instead"
    )
