"""What the engine knows about one item while it evaluates rules on it.

Everything is computed on first use and at most once per item: the participants
resolved against the contact directory, and the one multi-pattern scan of the item's
text fields. A rule that fails on a cheap selection (no client among the
participants) never causes a scan.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from linter.engine.predicates import MAX_EVIDENCE
from linter.engine.scanner import Hit
from linter.model import Contact, ContactRecord, Evidence, Item, Participant
from linter.text import snippet

if TYPE_CHECKING:
    from linter.engine import Engine

# Joins fields for the one scan. NUL is neither a word character nor whitespace, so no
# phrase can match across two fields.
FIELD_SEPARATOR = "\n\x00\n"


@dataclass(frozen=True, slots=True)
class FieldHit:
    field: str
    hit: Hit  # offsets relative to the field's text


class Context:
    def __init__(self, engine: Engine, item: Item):
        self.engine = engine
        self.item = item

    def field_text(self, field: str) -> str:
        if field == "attachments":
            return "\n".join(getattr(self.item, "attachments", ()))
        return self.item.field_text(field)

    @cached_property
    def _all_hits(self) -> list[FieldHit]:
        names = self.engine.scan_fields
        texts = [self.field_text(name) for name in names]
        starts = []
        position = 0
        for text in texts:
            starts.append(position)
            position += len(text) + len(FIELD_SEPARATOR)
        joined = FIELD_SEPARATOR.join(texts)
        found = []
        ignored = self.engine.ignored
        for hit in self.engine.scanner.scan(joined):
            if (hit.group, hit.key) in ignored:
                continue
            index = bisect.bisect_right(starts, hit.start) - 1
            offset = starts[index]
            found.append(
                FieldHit(
                    names[index], Hit(hit.group, hit.key, hit.start - offset, hit.end - offset)
                )
            )
        return found

    def hits(self, fields: Sequence[str]) -> list[FieldHit]:
        return [h for h in self._all_hits if h.field in fields]

    @cached_property
    def _resolved(self) -> list[tuple[Participant, Contact | None]]:
        if isinstance(self.item, ContactRecord):  # the record is its own contact
            return [(p, self.item.contact) for p in self.item.participants]
        lookup = self.engine.directory.lookup
        return [(p, lookup(p.address)) for p in self.item.participants]

    def resolved(self, field: str) -> list[tuple[Participant, Contact | None]]:
        if field == "participants":
            return self._resolved
        sender = self.item.sender
        if field == "sender":
            return self._resolved[:1] if sender else []
        return self._resolved[1:] if sender else self._resolved

    @cached_property
    def clients(self) -> list[Contact]:
        """Distinct client contacts among the participants, in order of appearance."""
        seen: dict[str, Contact] = {}
        for participant, contact in self._resolved:
            if contact is not None and not self.is_me(participant.address):
                seen.setdefault(contact.name, contact)
        return list(seen.values())

    @cached_property
    def client_keys(self) -> frozenset[str]:
        return frozenset(c.key for c in self.clients)

    def is_me(self, address: str) -> bool:
        return self.engine.directory.is_me(address)

    def evidence(self, selection: str, hits: Sequence[FieldHit]) -> list[Evidence]:
        return [
            self.make_evidence(selection, h.field, h.hit.start, h.hit.end)
            for h in hits[:MAX_EVIDENCE]
        ]

    def make_evidence(self, selection: str, field: str, start: int, end: int) -> Evidence:
        text = self.field_text(field)
        return Evidence(selection, field, text[start:end], start, end, snippet(text, start, end))
