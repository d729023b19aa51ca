"""Multi-pattern scans of an item's text, one per group of patterns, on demand.

Every lexicon term of every rule, every ``contains`` phrase and every client name in
the contact directory is compiled once per run into a :class:`Scanner`, one database
per group (a lexicon, one selection's phrases, the client names). An item's text is
scanned for a group only when a selection first asks for that group, and at most once:
a rule that fails on its first lexicon never pays for its second, and a lexicon no
rule reaches on an item is never scanned for. Every selection reads its answer from
the same per-item :class:`TextScan`.

Two backends give the same answers:

* **Hyperscan** (Intel's multi-pattern regex engine; the ``hyperscan`` wheel), which
  scans for thousands of patterns at once in one pass, about 100 times faster than a
  Python alternation. It folds ASCII case only and its ``\\b`` is ASCII, so hits are
  re-checked against Unicode word boundaries here.
* Python ``re``, one alternation per group of patterns, where no Hyperscan wheel
  exists.

With Hyperscan, a cheap first pass comes before any of that (see
:mod:`linter.engine.separators`): one scan of the text with its word separators
deleted, for every group's phrases written without them, tells which groups cannot have
a hit at all. Those are never scanned, and the rule gate (:mod:`linter.engine.gate`)
skips the rules that need them. In a long text the same pass also says where hits can
be, and a group is scanned only there.

Within one group (one lexicon, one set of phrases), hits are reduced to leftmost-
longest, non-overlapping matches, the same rule both backends follow: "contract review"
is one hit, not also "review".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from linter.engine.separators import (
    SEPARATOR_BYTES,
    strip_separators,
    windows,
    without_separators,
)

_hyperscan: Any
try:  # pragma: no cover - depends on the platform's wheels
    import hyperscan as _hyperscan
except ImportError:  # pragma: no cover
    _hyperscan = None


@dataclass(frozen=True, slots=True)
class Pattern:
    group: str  # e.g. "lexicon:business", "phrases:CL101.ok", "contacts"
    key: int  # what matched within the group (term index, contact index, ...)
    regex: str
    ignore_case: bool = True


@dataclass(frozen=True, slots=True)
class Hit:
    group: str
    key: int
    start: int
    end: int


class DatabaseCache(Protocol):
    """Somewhere to keep compiled Hyperscan databases between runs (compiling the
    default pack takes about a second; loading it, milliseconds). The engine stays pure:
    the caller decides where, if anywhere, the bytes live."""

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, data: bytes) -> None: ...


_COMPILED: dict[str, Any] = {}  # this process's compiled databases, by pattern hash
WINDOWED_BYTES = 32 * 1024  # a text this long is scanned only where the first pass points
WINDOW_BLOCK = 256  # bytes; the grain of those windows


def available_backends() -> tuple[str, ...]:
    return ("hyperscan", "re") if _hyperscan is not None else ("re",)


class Scanner:
    """Compiled patterns; :meth:`prepare` starts the scans of one text."""

    def __init__(
        self,
        patterns: Sequence[Pattern],
        backend: str | None = None,
        cache: DatabaseCache | None = None,
    ):
        self.patterns = list(patterns)
        self.backend = backend or available_backends()[0]
        if self.backend not in available_backends():
            raise ValueError(f"matching backend {self.backend!r} is not installed")
        by_group: dict[str, list[Pattern]] = {}
        for pattern in self.patterns:
            by_group.setdefault(pattern.group, []).append(pattern)
        self.groups = tuple(sorted(by_group))
        self._impls: dict[str, _Hyperscan | _Re] = {}
        self._prefilter: _Prefilter | None = None
        if self.backend == "hyperscan":
            fast = {
                group: _Hyperscan(members, cache) for group, members in sorted(by_group.items())
            }
            self._impls.update(fast)
            self._prefilter = _Prefilter(fast, cache) if fast else None
        else:
            self._impls.update((group, _Re(members)) for group, members in sorted(by_group.items()))

    def prepare(self, text: str) -> TextScan:
        return TextScan(self, text)

    def scan(self, text: str) -> list[Hit]:
        """Every hit of every group in ``text``."""
        return self.prepare(text).hits(self.groups)


class TextScan:
    """One text and the hits found in it so far, by group.

    Within a group, hits are reduced to leftmost-longest, non-overlapping matches;
    across groups they overlap freely. :meth:`hits` lists the hits of some groups in
    text order (start, then end, then group name).
    """

    __slots__ = ("_by_group", "_data", "_located", "_offsets", "_possible", "scanner", "text")

    def __init__(self, scanner: Scanner, text: str):
        self.scanner = scanner
        self.text = text
        self._data: bytes | None = None  # the UTF-8 text, for Hyperscan
        self._offsets: bytes | None = None  # marks UTF-8 continuation bytes, when any
        self._by_group: dict[str, list[Hit]] = {}
        self._possible: set[str] | None = None  # what the first pass left possible
        self._located: tuple[bytes, list[int]] | None = None  # without separators, blocks

    def group(self, name: str) -> list[Hit]:
        found = self._by_group.get(name)
        if found is None:
            impl = self.scanner._impls.get(name)
            if impl is None or not self.text or not self._may_hit(name):
                found = []
            else:
                found = _leftmost_longest(impl.scan(self, self._windows(name)))
            self._by_group[name] = found
        return found

    def _windows(self, name: str) -> list[tuple[int, int]] | None:
        """Where to scan a long text for ``name``, from the first pass (see
        :func:`~linter.engine.separators.windows`); ``None``: all of it."""
        prefilter = self.scanner._prefilter
        data = self.encoded()
        if prefilter is None or name not in prefilter.gated or len(data) < WINDOWED_BYTES:
            return None
        if self._located is None:
            self._located = strip_separators(data, WINDOW_BLOCK)
        stripped, starts = self._located
        spans = prefilter.located(stripped, name)
        return None if spans is None else windows(spans, starts, data, WINDOW_BLOCK)

    def possible(self) -> set[str]:
        """The groups that may have hits: all but those the first pass rules out."""
        if not self.text:
            return set()
        prefilter = self.scanner._prefilter
        if prefilter is None:
            return set(self.scanner.groups)
        if self._possible is None:
            self._possible = prefilter.possible(self.encoded())
        return self._possible | prefilter.ungated

    def _may_hit(self, name: str) -> bool:
        prefilter = self.scanner._prefilter
        if prefilter is None or name not in prefilter.gated:
            return True
        if self._possible is None:
            self._possible = prefilter.possible(self.encoded())
        return name in self._possible

    def hits(self, groups: Iterable[str]) -> list[Hit]:
        found = [hit for name in sorted(set(groups)) for hit in self.group(name)]
        found.sort(key=_text_order)  # stable: equal spans stay in group order
        return found

    def encoded(self) -> bytes:
        if self._data is None:
            self._data = self.text.encode("utf-8")
            if len(self._data) != len(self.text):
                self._offsets = self._data.translate(_CONTINUATION_BYTES)
        return self._data

    def char_offset(self, byte_offset: int) -> int:
        """The character offset of a byte offset (at a character boundary)."""
        if self._offsets is None:
            return byte_offset
        return byte_offset - self._offsets.count(1, 0, byte_offset)


# 1 for the bytes that continue a UTF-8 sequence (0x80-0xBF), 0 for the others: a
# character offset is a byte offset less the continuation bytes before it
_CONTINUATION_BYTES = bytes(1 if 0x80 <= b <= 0xBF else 0 for b in range(256))


def _text_order(hit: Hit) -> tuple[int, int]:
    return hit.start, hit.end


def _leftmost_longest(hits: list[Hit]) -> list[Hit]:
    """One group's hits, leftmost first and longest at each start, none overlapping;
    where two patterns match the very same words, the first pattern of the group
    wins."""
    hits.sort(key=lambda h: (h.start, -h.end, h.key))
    kept: list[Hit] = []
    reach = -1
    for hit in hits:
        if hit.start >= reach:
            kept.append(hit)
            reach = hit.end
    return kept


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _database(
    expressions: list[bytes], flags: list[int], ids: list[int], cache: DatabaseCache | None
) -> Any:
    """A compiled Hyperscan database: from this process, the cache, or compiled now."""
    assert _hyperscan is not None
    hs = _hyperscan
    digest = hashlib.sha256(repr((expressions, flags, ids, hs.__version__)).encode()).hexdigest()
    key = f"hyperscan-{digest[:32]}"
    database: Any = _COMPILED.get(key)
    if database is None and cache is not None:
        data = cache.get(key)
        if data:
            try:
                database = hs.loadb(data, hs.HS_MODE_BLOCK)
            except Exception:  # a stale or damaged cache entry: compile afresh
                database = None
    if database is None:
        database = hs.Database(mode=hs.HS_MODE_BLOCK)
        database.compile(expressions=expressions, ids=ids, flags=flags)
        if cache is not None:
            cache.put(key, hs.dumpb(database))
    _COMPILED[key] = database
    return database


class _Hyperscan:
    def __init__(self, patterns: Sequence[Pattern], cache: DatabaseCache | None):
        assert _hyperscan is not None
        hs = _hyperscan
        self.patterns = patterns
        base = hs.HS_FLAG_SOM_LEFTMOST | hs.HS_FLAG_UTF8
        # Word boundaries are checked here, in Unicode terms, not by Hyperscan: its \b is
        # ASCII-only (wrong beside "é"), and dropping it also makes compiling faster.
        self.bounded = [(p.regex.startswith(r"\b"), p.regex.endswith(r"\b")) for p in patterns]
        self.expressions = [
            p.regex[2 if left else None : -2 if right else None]
            for p, (left, right) in zip(patterns, self.bounded, strict=True)
        ]
        flags = [base | (hs.HS_FLAG_CASELESS if p.ignore_case else 0) for p in patterns]
        self.database = _database(
            [e.encode("utf-8") for e in self.expressions], flags, list(range(len(patterns))), cache
        )
        self.scratch = hs.Scratch(self.database)

    def scan(self, scan: TextScan, ranges: list[tuple[int, int]] | None = None) -> list[Hit]:
        """Hits in the text, or only in ``ranges`` of its UTF-8 bytes (each whole
        match inside one range is found as a scan of the whole text finds it)."""
        data = scan.encoded()
        found: list[tuple[int, int, int]] = []
        base = 0

        def on_match(pattern_id: int, start: int, end: int, flags: int, context: Any) -> None:
            found.append((pattern_id, base + start, base + end))

        if ranges is None:
            self.database.scan(data, match_event_handler=on_match, scratch=self.scratch)
        for base, end in ranges or ():
            self.database.scan(data[base:end], match_event_handler=on_match, scratch=self.scratch)
        if not found:
            return []
        text = scan.text
        hits = []
        for pattern_id, byte_start, byte_end in found:
            start, end = scan.char_offset(byte_start), scan.char_offset(byte_end)
            left, right = self.bounded[pattern_id]
            if left and start > 0 and _is_word(text[start - 1]):
                continue
            if right and end < len(text) and _is_word(text[end]):
                continue
            pattern = self.patterns[pattern_id]
            hits.append(Hit(pattern.group, pattern.key, start, end))
        return hits


class _Prefilter:
    """Which groups can have a hit in a text at all, in one cheap pass.

    Every pattern of a group, rewritten by :func:`~linter.engine.separators.
    without_separators`, goes into one database without start offsets, each reporting
    at most once; the text is scanned with its separator characters deleted. A group
    none of whose rewritten patterns matches there has no hit in the text, and its own
    (much slower) scan is skipped. A group with a pattern that cannot be rewritten is
    always scanned.
    """

    def __init__(self, impls: Mapping[str, _Hyperscan], cache: DatabaseCache | None):
        assert _hyperscan is not None
        hs = _hyperscan
        self.groups: list[str] = []
        expressions: list[bytes] = []
        flags: list[int] = []
        ids: list[int] = []
        for group, impl in impls.items():
            rewritten = [without_separators(e) for e in impl.expressions]
            if any(r is None for r in rewritten):
                continue
            for expression, pattern in zip(rewritten, impl.patterns, strict=True):
                assert expression is not None
                expressions.append(expression.encode("utf-8"))
                flags.append(
                    hs.HS_FLAG_UTF8
                    | hs.HS_FLAG_SINGLEMATCH
                    | (hs.HS_FLAG_CASELESS if pattern.ignore_case else 0)
                )
                ids.append(len(self.groups))
            self.groups.append(group)
        self.gated = frozenset(self.groups)
        self.ungated = frozenset(impls) - self.gated
        self.database: Any = None
        # for :meth:`located`, compiled when a long text first needs it
        self._expressions, self._flags, self._ids, self._cache = expressions, flags, ids, cache
        self._located: dict[str, Any] = {}  # by group: (database, scratch), or False
        if expressions:
            try:
                self.database = _database(expressions, flags, ids, cache)
            except Exception:  # pragma: no cover - a rewriting Hyperscan refuses: no first pass
                self.gated, self.ungated = frozenset(), frozenset(impls)
            else:
                self.scratch = hs.Scratch(self.database)

    def located(self, stripped: bytes, group: str) -> list[tuple[int, int]] | None:
        """Every match of ``group``'s rewritten patterns in ``stripped`` (a text without
        separators) as (start, end); ``None`` if that cannot be had."""
        database = self._located.get(group)
        if database is None:
            database = self._located[group] = self._locating(group)
        if database is False:
            return None
        found: list[tuple[int, int]] = []

        def on_match(pattern: int, start: int, end: int, flags: int, context: Any) -> None:
            found.append((start, end))

        database[0].scan(stripped, match_event_handler=on_match, scratch=database[1])
        return found

    def _locating(self, group: str) -> Any:
        """A database of one group's rewritten patterns that reports every match with its
        start, and its scratch space; ``False`` where Hyperscan cannot build one."""
        assert _hyperscan is not None
        hs = _hyperscan
        index = self.groups.index(group)
        members = [i for i, owner in enumerate(self._ids) if owner == index]
        expressions = [self._expressions[i] for i in members]
        flags = [
            (self._flags[i] & ~hs.HS_FLAG_SINGLEMATCH) | hs.HS_FLAG_SOM_LEFTMOST for i in members
        ]
        try:
            database = _database(expressions, flags, list(range(len(members))), self._cache)
        except Exception:  # pragma: no cover - Hyperscan cannot track these starts
            return False
        return database, hs.Scratch(database)

    def possible(self, data: bytes) -> set[str]:
        """The gated groups that may have hits in ``data`` (UTF-8)."""
        found: set[str] = set()
        groups = self.groups

        def on_match(group: int, start: int, end: int, flags: int, context: Any) -> None:
            found.add(groups[group])

        self.database.scan(
            data.translate(None, SEPARATOR_BYTES),
            match_event_handler=on_match,
            scratch=self.scratch,
        )
        return found


class _Re:
    """Python ``re``: one alternation per group finds where some pattern starts; then
    every pattern of the group is tried there, so overlapping matches are all seen, as
    Hyperscan sees them, before the leftmost-longest rule picks."""

    def __init__(self, patterns: Sequence[Pattern]):
        groups: dict[tuple[str, bool], list[Pattern]] = {}
        for pattern in patterns:
            groups.setdefault((pattern.group, pattern.ignore_case), []).append(pattern)
        self.groups: list[tuple[re.Pattern[str], list[tuple[re.Pattern[str], Pattern]]]] = []
        for (_, ignore_case), members in groups.items():
            flags = re.IGNORECASE if ignore_case else 0
            starts = re.compile("|".join(f"(?:{p.regex})" for p in members), flags)
            self.groups.append((starts, [(re.compile(p.regex, flags), p) for p in members]))

    def scan(self, scan: TextScan, ranges: list[tuple[int, int]] | None = None) -> list[Hit]:
        # no first pass goes with this backend, so there are never ``ranges``: all the text
        text = scan.text
        hits = []
        for starts, members in self.groups:
            match = starts.search(text)
            while match:
                position = match.start()
                for regex, pattern in members:
                    found = regex.match(text, position)
                    if found and found.end() > position:
                        hits.append(Hit(pattern.group, pattern.key, position, found.end()))
                match = starts.search(text, position + 1)
        return hits
