"""Inline suppression: a marker a person types into an event or an email.

Mail and calendar events have no code comments, so the marker lives in the text itself,
in the event's title, description or location, or in the new text of a message (never
in quoted replies: a marker there was written for an earlier message)::

    clientline: ignore CL101 -- agreed with Dana, the review is a formality
    clientline: ignore CL101, CL102 -- reason

The marker is read in any case (``ClientLine: IGNORE cl101``). A marker suppresses the
findings of the rules it names on that one item. Two built-in
checks keep markers honest, as Ruff's ``RUF100`` does for ``noqa``:

* ``CL001`` (warning): a marker with no reason after ``--``. The marker still
  suppresses, but its finding takes the suppressed one's place until a reason is given.
* ``CL002`` (info): a marker that suppresses nothing, because the rule it names does
  not fire on the item (any more), or is no rule at all.

Suppressed findings are not dropped: they come out with ``suppressed=True`` and the
reason, so the worker can keep them with status ``suppressed`` and reporters can count
them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from typing import NamedTuple

from linter.model import Evidence, Finding, Item, ItemRef, Severity, fingerprint
from linter.text import snippet

MARKER_FIELDS = ("title", "body", "location")
MARKER_START = "clientline:"  # in any (ASCII) case: every marker holds it
_MARKER = re.compile(r"clientline:[ \t]*ignore\b(?P<rest>[^\n]*)", re.IGNORECASE | re.ASCII)
_RULE_ID = re.compile(r"^[A-Za-z]{2,5}[0-9]{3,4}$")

MISSING_REASON = ("CL001", "suppression-without-reason", "Suppression marker without a reason")
UNUSED = ("CL002", "unused-suppression", "Suppression marker that suppresses nothing")


class Marker(NamedTuple):  # a tuple: a dataclass has its methods generated at every start
    rules: tuple[str, ...]
    reason: str
    field: str
    start: int
    end: int
    snippet: str


def has_marker(text: str) -> bool:
    """Whether ``text`` may hold a marker: a plain substring test, ten times cheaper than
    the regular expression over every body (the engine mostly knows without even this,
    from its first pass over the text)."""
    return MARKER_START in text.lower()


def markers(item: Item) -> list[Marker]:
    found: list[Marker] = []
    for field in MARKER_FIELDS:
        text = getattr(item, field) or ""  # field_text, without its cost on every item
        if not has_marker(text):
            continue
        for match in _MARKER.finditer(text):
            ids_part, _, reason = match.group("rest").partition("--")
            ids = tuple(
                dict.fromkeys(
                    token.upper() for token in re.split(r"[\s,]+", ids_part) if token.strip()
                )
            )
            found.append(
                Marker(
                    rules=ids,
                    reason=" ".join(reason.split()),
                    field=field,
                    start=match.start(),
                    end=match.end(),
                    snippet=snippet(text, match.start(), match.end()),
                )
            )
    return found


def apply(
    item: Item, findings: Sequence[Finding], found: Sequence[Marker], known: Collection[str]
) -> Iterator[Finding]:
    """The item's findings with the markers applied, then the markers' own findings."""
    used: set[tuple[int, str]] = set()
    for finding in findings:
        index = next((i for i, m in enumerate(found) if finding.rule in m.rules), None)
        if index is None:
            yield finding
            continue
        used.add((index, finding.rule))
        yield replace(finding, suppressed=True, suppression_reason=found[index].reason)
    for index, marker in enumerate(found):
        named = ", ".join(marker.rules) or "no rule"
        if not marker.reason:
            yield _meta(
                MISSING_REASON,
                Severity.WARNING,
                item,
                marker,
                f"'{item.title or '(no title)'}' ignores {named} without a reason",
                "Say why after two hyphens: `clientline: ignore "
                f"{marker.rules[0] if marker.rules else 'CL101'} -- why it is fine here`.",
                key=",".join(marker.rules),
            )
        for rule in marker.rules or ("",):
            if (index, rule) in used:
                continue
            if not rule or not _RULE_ID.match(rule):
                problem = "names no rule id (write e.g. `clientline: ignore CL101 -- why`)"
            elif rule not in known:
                problem = f"ignores {rule}, which is not an enabled rule"
            else:
                problem = f"ignores {rule}, but {rule} does not fire here"
            yield _meta(
                UNUSED,
                Severity.INFO,
                item,
                marker,
                f"'{item.title or '(no title)'}' has a marker that {problem}",
                "Remove the marker, or correct the rule id it names.",
                key=rule,
            )


def _meta(
    rule: tuple[str, str, str],
    severity: Severity,
    item: Item,
    marker: Marker,
    message: str,
    advice: str,
    key: str,
) -> Finding:
    code, name, title = rule
    words = marker.snippet.strip()
    return Finding(
        rule=code,
        name=name,
        title=title,
        severity=severity,
        message=message,
        item=ItemRef.of(item),
        contacts=(),
        evidence=(
            Evidence("marker", marker.field, words, marker.start, marker.end, marker.snippet),
        ),
        principles=(),
        advice=advice,
        fingerprint=fingerprint(code, f"{item.id}#{marker.field}#{key}"),
    )
