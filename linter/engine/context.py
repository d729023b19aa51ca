"""What the engine knows about one item while it evaluates rules on it.

Everything is computed on first use and at most once per item: the participants
resolved against the contact directory (each address once per run, see
:meth:`~linter.engine.Engine.contact_of`), and the scans of the item's text fields, one
per group of patterns (a lexicon, a selection's phrases, client names) that some
selection asks for. A rule that fails on a cheap selection (no client among the
participants) never causes a scan, and a rule that fails on its first lexicon never
scans for its second. A test of closeness (``near``) on a long text scans for its
second lexicon only in windows around the first's hits (:meth:`Context.hits_near`).

A context is made for every item, and most items end with it, so it keeps to plain
attributes filled on demand (``functools.cached_property`` costs a lock per read).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from linter.engine.predicates import MAX_EVIDENCE
from linter.engine.scanner import FIRST_PASS_LIMIT, Hit, TextScan
from linter.model import Contact, ContactRecord, Evidence, Item, Participant
from linter.text import snippet

if TYPE_CHECKING:
    from linter.engine import Engine

# Joins fields for the scans. NUL is neither a word character nor whitespace, so no
# phrase can match across two fields.
FIELD_SEPARATOR = "\n\x00\n"
APART = 4096  # characters a field must be shorter than the rest to be scanned alone
WINDOWED = 16 * 1024  # characters a text must have for hits_near to scan windows of it
BREAK_SEARCH = 2048  # characters looked through for a break beyond each end of a window


class FieldHit(NamedTuple):
    field: str
    hit: Hit  # offsets relative to the field's text


class Context:
    __slots__ = (
        "_by_group",
        "_client_keys",
        "_clients",
        "_labelled",
        "_resolved",
        "_scan",
        "_starts",
        "engine",
        "item",
    )

    def __init__(self, engine: Engine, item: Item):
        self.engine = engine
        self.item = item
        self._by_group: dict[str, list[tuple[Hit, FieldHit]]] = {}
        self._labelled: dict[str, list[tuple[Participant, Contact | None, str]]] = {}
        self._scan: TextScan | None = None
        self._starts: list[int] = []  # where each scanned field starts in the joined text
        self._resolved: list[tuple[Participant, Contact | None]] | None = None
        self._clients: list[Contact] | None = None
        self._client_keys: frozenset[str] | None = None

    def field_text(self, field: str) -> str:
        if field == "attachments":
            return "\n".join(getattr(self.item, "attachments", ()))
        return self.item.field_text(field)

    def text_scan(self) -> TextScan:
        """The scan of the item's text fields (the engine's ``scan_fields``), joined."""
        scan = self._scan
        if scan is None:
            engine, read = self.engine, self.engine.read_fields
            try:  # plain text attributes, read at once, as on nearly every item
                text = FIELD_SEPARATOR.join(read(self.item)) if read else None
            except (AttributeError, TypeError):  # attachments (a list, or none), a None
                text = None
            if text is None:
                text = FIELD_SEPARATOR.join([self.field_text(n) for n in engine.scan_fields])
            scan = self._scan = TextScan(engine.scanner, text, None, self.item.kind)
            if len(text) > FIRST_PASS_LIMIT:  # scanned together for what may be needed
                scan.narrow(engine.first_scans_of(self))
        return scan

    @property
    def starts(self) -> list[int]:
        """Where each of the engine's ``scan_fields`` starts in the joined text (worked
        out when a hit is first placed: most items have none)."""
        found = self._starts
        if not found:
            position = 0
            for name in self.engine.scan_fields:
                found.append(position)
                position += len(self.field_text(name)) + len(FIELD_SEPARATOR)
        return found

    def _group_hits(
        self, group: str, fields: Sequence[str] | None = None
    ) -> list[tuple[Hit, FieldHit]]:
        """One group's hits in ``fields`` (all text fields when not given), each as
        found in the joined text and within its field, in text order.

        Short fields of a long text (the title of a newsletter) are scanned on their own,
        each once: no phrase crosses fields, so they hold the same hits either way.
        """
        found = self._by_group.get(group)
        if found is not None:
            return found
        scan = self.text_scan()
        names, starts = self.engine.scan_fields, self.starts
        if fields is not None and self._apart(fields):
            found = []
            for index, name in enumerate(names):
                if name in fields:
                    found += self._field_hits(group, index)
            return found
        found = []
        if not names:
            return found
        ignored = self.engine.ignored_keys(group)
        index, offset, name = 0, 0, names[0]
        following = starts[1] if len(starts) > 1 else len(scan.text)  # where the next begins
        append = found.append
        for hit in scan.group(group):  # in text order: each field's hits follow the last's
            if ignored and hit.key in ignored:
                continue
            if hit.start >= following:
                index = bisect.bisect_right(starts, hit.start) - 1
                offset, name = starts[index], names[index]
                following = starts[index + 1] if index + 1 < len(starts) else len(scan.text)
            relative = Hit(group, hit.key, hit.start - offset, hit.end - offset) if offset else hit
            append((hit, FieldHit(name, relative)))
        self._by_group[group] = found
        return found

    def _apart(self, fields: Sequence[str]) -> bool:
        """Whether ``fields`` are worth scanning on their own: much shorter than the
        joined text (which other selections may never need)."""
        names, starts = self.engine.scan_fields, self.starts
        if not names:
            return False
        total = len(self.text_scan().text)  # the fields, each after the last's separator
        ends = [start - len(FIELD_SEPARATOR) for start in starts[1:]] + [total]
        wanted = sum(
            end - start
            for name, start, end in zip(names, starts, ends, strict=True)
            if name in fields
        )
        return wanted + APART < total

    def _field_hits(self, group: str, index: int) -> list[tuple[Hit, FieldHit]]:
        name = self.engine.scan_fields[index]
        key = f"{group}\x00{name}"
        found = self._by_group.get(key)
        if found is None:
            possible = self.text_scan().possible_bits()  # what rules the whole text out
            scan = self.engine.scanner.prepare(self.field_text(name), possible)
            offset = self.starts[index]
            ignored = self.engine.ignored_keys(group)
            found = self._by_group[key] = [
                (Hit(hit.group, hit.key, hit.start + offset, hit.end + offset), FieldHit(name, hit))
                for hit in scan.group(group)
                if hit.key not in ignored
            ]
        return found

    def hits(self, fields: Sequence[str], groups: Iterable[str] | None = None) -> list[FieldHit]:
        """The hits in ``fields`` of the patterns of ``groups`` (all groups when not
        given), in text order. Only the groups asked for are ever scanned."""
        names = sorted(set(self.engine.scanner.groups if groups is None else groups))
        if len(names) == 1:
            return [h for _, h in self._group_hits(names[0], fields) if h.field in fields]
        merged = [pair for name in names for pair in self._group_hits(name, fields)]
        merged.sort(key=_text_order)  # stable: equal spans stay in group order
        return [h for _, h in merged if h.field in fields]

    def scanned(self, group: str) -> bool:
        """Whether the group's hits in the joined text are known already."""
        scan = self._scan
        return group in self._by_group or (scan is not None and scan.known(group))

    def hits_near(
        self, fields: Sequence[str], group: str, anchors: Sequence[FieldHit], reach: int
    ) -> list[FieldHit]:
        """Hits of ``group`` in ``fields``, as :meth:`hits` gives them, among which are
        all of those that start or end at most ``reach`` characters from one of
        ``anchors`` (hits in ``fields`` too): what a test of closeness needs.

        On a long text (a newsletter) with few anchors, only windows of text around
        them are scanned, together in one scan. Each window is widened to a character
        the group's patterns cannot match, and that is no part of a word (see
        :meth:`Scanner.breaks`): no match crosses one, nor do the word boundaries
        beyond it differ from a text's ends, so the window holds exactly the hits the
        whole text holds there, each reduced to leftmost-longest just the same.
        Otherwise, the group's hits in all of ``fields``.
        """
        windows = self._windows(fields, group, anchors, reach)
        if windows is None:
            return self.hits(fields, (group,))
        key = f"{group}\x00near\x00{windows}"
        found = self._by_group.get(key)
        if found is None:
            scan = self.text_scan()
            names, starts = self.engine.scan_fields, self.starts
            ignored = self.engine.ignored_keys(group)
            # the windows scanned as one text, each after a NUL: no hit holds one (it
            # is among the group's breaks), and beside it, as beside the break each
            # window ends at, words begin and end as at a text's ends
            text = scan.text
            pieces = "".join(f"\x00{text[start:end]}" for start, end in windows)
            placed, position = [], 0  # where each window starts in `pieces`
            for start, end in windows:
                placed.append(position + 1)
                position += end - start + 1
            found = self._by_group[key] = []
            for hit in self.engine.scanner.prepare(pieces, scan.possible_bits()).group(group):
                if hit.key in ignored:
                    continue
                window = bisect.bisect_right(placed, hit.start) - 1
                shift = windows[window][0] - placed[window]
                joined = Hit(group, hit.key, hit.start + shift, hit.end + shift)
                index = bisect.bisect_right(starts, joined.start) - 1
                offset = starts[index]
                relative = Hit(group, hit.key, joined.start - offset, joined.end - offset)
                found.append((joined, FieldHit(names[index], relative)))
        return [h for _, h in found if h.field in fields]

    def _windows(
        self, fields: Sequence[str], group: str, anchors: Sequence[FieldHit], reach: int
    ) -> list[tuple[int, int]] | None:
        """The windows of the joined text :meth:`hits_near` scans, in order and apart,
        or ``None`` when scanning them would not pay (or cannot be done)."""
        if self.scanned(group) or not anchors:
            return None  # already scanned, or nothing is near
        scan = self.text_scan()
        text = scan.text
        if len(text) < WINDOWED or self._apart(fields):
            return None
        breaks = self.engine.scanner.breaks(group)
        if "\x00" not in breaks:
            return None  # the group might match anything, or NUL (see hits_near)
        names, starts = self.engine.scan_fields, self.starts
        windows: list[tuple[int, int]] = []
        covered = 0
        for anchor in sorted(anchors, key=lambda h: starts[names.index(h.field)] + h.hit.start):
            offset = starts[names.index(anchor.field)]
            start = _break_before(text, breaks, offset + anchor.hit.start - reach)
            end = _break_after(text, breaks, offset + anchor.hit.end + reach)
            if start is None or end is None:
                return None
            if windows and start <= windows[-1][1]:
                first, last = windows[-1]
                covered += max(end, last) - last
                windows[-1] = (first, max(end, last))
            else:
                covered += end - start
                windows.append((start, end))
            if 4 * covered > len(text):
                return None  # most of the text: one scan of it all costs less
        return windows

    def resolved(self, field: str) -> list[tuple[Participant, Contact | None]]:
        everyone = self._resolved
        if everyone is None:
            everyone = self._resolved = list(self._resolving(self.item.participants))
        if field == "participants":
            return everyone
        sender = self.item.sender
        if field == "sender":
            return everyone[:1] if sender else []
        return everyone[1:] if sender else everyone

    def each_resolved(self, field: str) -> Iterator[tuple[Participant, Contact | None]]:
        """:meth:`resolved`, one person at a time: a test that stops at its first
        person resolves no more of a newsletter's fifty."""
        if self._resolved is not None:
            yield from self.resolved(field)
            return
        item = self.item
        people: Iterable[Participant]
        if field == "sender":
            people = (item.sender,) if item.sender else ()
        elif field == "recipients":
            people = item.recipients
        else:
            people = item.participants
        yield from self._resolving(people)

    def _resolving(
        self, people: Iterable[Participant]
    ) -> Iterator[tuple[Participant, Contact | None]]:
        item = self.item
        if isinstance(item, ContactRecord):  # the record is its own contact
            for participant in people:
                yield participant, item.contact
        else:
            contact_of = self.engine.contact_of
            for participant in people:
                yield participant, contact_of(participant.address)

    def labelled(self, field: str) -> list[tuple[Participant, Contact | None, str]]:
        """:meth:`resolved` with the words evidence shows for each participant: the
        client's label, else the person's name or address."""
        found = self._labelled.get(field)
        if found is None:
            found = self._labelled[field] = [
                (p, c, c.label if c else p.name or p.address) for p, c in self.resolved(field)
            ]
        return found

    @property
    def clients(self) -> list[Contact]:
        """Distinct client contacts among the participants, in order of appearance."""
        found = self._clients
        if found is None:
            seen: dict[str, Contact] = {}
            is_me = self.engine.directory.is_me
            for participant, contact in self.resolved("participants"):
                # a contact already seen needs no second look (a long To list at one client)
                if (
                    contact is not None
                    and contact.name not in seen
                    and not is_me(participant.address)
                ):
                    seen[contact.name] = contact
            found = self._clients = list(seen.values())
        return found

    @property
    def client_keys(self) -> frozenset[str]:
        found = self._client_keys
        if found is None:
            found = self._client_keys = frozenset(c.key for c in self.clients)
        return found

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


def _break_before(text: str, breaks: str, position: int) -> int | None:
    """Where a window reaching back to ``position`` starts: just after the last break
    before it, or at the start of the text; ``None`` when none is near enough."""
    if position <= 0:
        return 0
    low = max(0, position - BREAK_SEARCH)
    found = _any_of(breaks).search(text[low:position][::-1])  # the last, read backwards
    if found is None:
        return 0 if low == 0 else None
    return position - found.start()


def _break_after(text: str, breaks: str, position: int) -> int | None:
    """Where a window reaching on to ``position`` ends: at the first break from it
    on, or at the end of the text; ``None`` when none is near enough."""
    if position >= len(text):
        return len(text)
    high = min(len(text), position + BREAK_SEARCH)
    found = _any_of(breaks).search(text, position, high)
    if found is None:
        return len(text) if high == len(text) else None
    return found.start()


@cache
def _any_of(characters: str) -> re.Pattern[str]:
    return re.compile("[" + re.escape(characters) + "]")


def _text_order(pair: tuple[Hit, FieldHit]) -> tuple[int, int]:
    return pair[0].start, pair[0].end
