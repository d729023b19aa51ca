"""What the engine knows about one item while it evaluates rules on it.

Everything is computed on first use and at most once per item: the participants
resolved against the contact directory (each address once per run), and the scans of
the item's text fields, one per group of patterns (a lexicon, a selection's phrases,
client names) that some selection asks for. A rule that fails on a cheap selection (no
client among the participants) never causes a scan, and a rule that fails on its first
lexicon never scans for its second.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from linter.engine.gate import Gate
from linter.engine.predicates import MAX_EVIDENCE
from linter.engine.scanner import Hit, TextScan
from linter.model import Contact, ContactRecord, Evidence, Item, Participant
from linter.text import snippet

if TYPE_CHECKING:
    from linter.contacts import Directory
    from linter.engine import Engine
    from linter.engine.rules import Rule

# Joins fields for the scans. NUL is neither a word character nor whitespace, so no
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
        self._by_group: dict[str, list[tuple[Hit, FieldHit]]] = {}
        self._labelled: dict[str, list[tuple[Participant, Contact | None, str]]] = {}
        self._blocked: frozenset[str] | None = None  # rules that cannot fire, once known

    def field_text(self, field: str) -> str:
        if field == "attachments":
            return "\n".join(getattr(self.item, "attachments", ()))
        return self.item.field_text(field)

    @cached_property
    def _scan(self) -> tuple[TextScan, tuple[str, ...], list[int]]:
        """The scan of the item's text fields, joined, and where each field starts."""
        names = self.engine.scan_fields
        texts = [self.field_text(name) for name in names]
        starts = []
        position = 0
        for text in texts:
            starts.append(position)
            position += len(text) + len(FIELD_SEPARATOR)
        return self.engine.scanner.prepare(FIELD_SEPARATOR.join(texts)), names, starts

    def may_fire(self, rule: Rule) -> bool:
        """``False`` when ``rule`` cannot fire on this item for want of words (see
        :mod:`linter.engine.gate`); evaluating it would find nothing."""
        blocked = self._blocked
        if blocked is None:
            gate = _gate(self.engine)
            if rule.id not in gate.needs:
                return True
            blocked = self._blocked = gate.blocked(self._scan[0].possible())
        return rule.id not in blocked

    def _group_hits(self, group: str) -> list[tuple[Hit, FieldHit]]:
        """One group's hits: each as found in the joined text and within its field."""
        found = self._by_group.get(group)
        if found is not None:
            return found
        scan, names, starts = self._scan
        found = []
        ignored = self.engine.ignored
        for hit in scan.group(group):
            if (hit.group, hit.key) in ignored:
                continue
            index = bisect.bisect_right(starts, hit.start) - 1
            offset = starts[index]
            relative = Hit(hit.group, hit.key, hit.start - offset, hit.end - offset)
            found.append((hit, FieldHit(names[index], relative)))
        self._by_group[group] = found
        return found

    def hits(self, fields: Sequence[str], groups: Iterable[str] | None = None) -> list[FieldHit]:
        """The hits in ``fields`` of the patterns of ``groups`` (all groups when not
        given), in text order. Only the groups asked for are ever scanned."""
        names = sorted(set(self.engine.scanner.groups if groups is None else groups))
        if len(names) == 1:
            return [h for _, h in self._group_hits(names[0]) if h.field in fields]
        merged = [pair for name in names for pair in self._group_hits(name)]
        merged.sort(key=_text_order)  # stable: equal spans stay in group order
        return [h for _, h in merged if h.field in fields]

    @cached_property
    def _resolved(self) -> list[tuple[Participant, Contact | None]]:
        if isinstance(self.item, ContactRecord):  # the record is its own contact
            return [(p, self.item.contact) for p in self.item.participants]
        lookup = _lookups(self.engine.directory)
        return [(p, lookup(p.address)) for p in self.item.participants]

    def resolved(self, field: str) -> list[tuple[Participant, Contact | None]]:
        if field == "participants":
            return self._resolved
        sender = self.item.sender
        if field == "sender":
            return self._resolved[:1] if sender else []
        return self._resolved[1:] if sender else self._resolved

    def labelled(self, field: str) -> list[tuple[Participant, Contact | None, str]]:
        """:meth:`resolved` with the words evidence shows for each participant: the
        client's label, else the person's name or address."""
        found = self._labelled.get(field)
        if found is None:
            found = self._labelled[field] = [
                (p, c, c.label if c else p.name or p.address) for p, c in self.resolved(field)
            ]
        return found

    @cached_property
    def clients(self) -> list[Contact]:
        """Distinct client contacts among the participants, in order of appearance."""
        seen: dict[str, Contact] = {}
        for participant, contact in self._resolved:
            # a contact already seen needs no second look (a long To list at one client)
            if (
                contact is not None
                and contact.name not in seen
                and not self.is_me(participant.address)
            ):
                seen[contact.name] = contact
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


def _text_order(pair: tuple[Hit, FieldHit]) -> tuple[int, int]:
    return pair[0].start, pair[0].end


LOOKUP_MEMO = 65536  # addresses remembered per directory (a bound on memory, not a cache policy)
_memos: dict[int, tuple[Directory, dict[str, Contact | None]]] = {}


def _lookups(directory: Directory) -> Callable[[str], Contact | None]:
    """``directory.lookup``, remembering each address's answer for the run.

    A mailbox names the same people over and over (a long To list on every message of
    a thread); each address is resolved once, up to ``LOOKUP_MEMO`` of them.
    """
    entry = _memos.get(id(directory))
    if entry is None or entry[0] is not directory:
        if len(_memos) >= 8:
            _memos.clear()
        entry = _memos[id(directory)] = (directory, {})
    memo = entry[1]
    lookup = directory.lookup

    def remembered(address: str) -> Contact | None:
        try:
            return memo[address]
        except KeyError:
            if len(memo) >= LOOKUP_MEMO:
                memo.clear()
            found = memo[address] = lookup(address)
            return found

    return remembered


_gates: dict[int, tuple[Engine, Gate]] = {}


def _gate(engine: Engine) -> Gate:
    """The engine's :class:`~linter.engine.gate.Gate`, worked out once per engine."""
    entry = _gates.get(id(engine))
    if entry is None or entry[0] is not engine:
        if len(_gates) >= 8:
            _gates.clear()
        entry = _gates[id(engine)] = (engine, Gate(engine.rules))
    return entry[1]
