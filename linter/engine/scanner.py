"""One multi-pattern scan per item.

Every lexicon term of every rule, every ``contains`` phrase and every client name in
the contact directory is compiled once per run into a single :class:`Scanner`. Each
item's text is then scanned once, and every selection of every rule reads its answer
from that one list of hits.

Two backends give the same answers:

* **Hyperscan** (Intel's multi-pattern regex engine; the ``hyperscan`` wheel), which
  scans for thousands of patterns at once in one pass, about 100 times faster than a
  Python alternation. It folds ASCII case only and its ``\\b`` is ASCII, so hits are
  re-checked against Unicode word boundaries here.
* Python ``re``, one alternation per group of patterns, where no Hyperscan wheel
  exists.

Within one group (one lexicon, one set of phrases), hits are reduced to leftmost-
longest, non-overlapping matches, the same rule both backends follow: "contract review"
is one hit, not also "review".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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


def available_backends() -> tuple[str, ...]:
    return ("hyperscan", "re") if _hyperscan is not None else ("re",)


class Scanner:
    """Compiled patterns; :meth:`scan` returns every hit in a text."""

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
        self._impl: _Hyperscan | _Re | None = None
        if self.patterns:
            self._impl = (
                _Hyperscan(self.patterns, cache)
                if self.backend == "hyperscan"
                else _Re(self.patterns)
            )

    def scan(self, text: str) -> list[Hit]:
        if self._impl is None or not text:
            return []
        return _leftmost_longest(self._impl.scan(text))


def _leftmost_longest(hits: list[Hit]) -> list[Hit]:
    hits.sort(key=lambda h: (h.group, h.start, -h.end))
    kept: list[Hit] = []
    group, reach = "", -1
    for hit in hits:
        if hit.group != group:
            group, reach = hit.group, -1
        if hit.start >= reach:
            kept.append(hit)
            reach = hit.end
    kept.sort(key=lambda h: (h.start, h.end))
    return kept


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


class _Hyperscan:
    def __init__(self, patterns: Sequence[Pattern], cache: DatabaseCache | None):
        assert _hyperscan is not None
        hs = _hyperscan
        self.patterns = patterns
        base = hs.HS_FLAG_SOM_LEFTMOST | hs.HS_FLAG_UTF8
        # Word boundaries are checked here, in Unicode terms, not by Hyperscan: its \b is
        # ASCII-only (wrong beside "é"), and dropping it also makes compiling faster.
        self.bounded = [(p.regex.startswith(r"\b"), p.regex.endswith(r"\b")) for p in patterns]
        expressions = [
            p.regex[2 if left else None : -2 if right else None].encode("utf-8")
            for p, (left, right) in zip(patterns, self.bounded, strict=True)
        ]
        flags = [base | (hs.HS_FLAG_CASELESS if p.ignore_case else 0) for p in patterns]
        digest = hashlib.sha256(repr((expressions, flags, hs.__version__)).encode()).hexdigest()
        key = f"hyperscan-{digest[:32]}"
        self.database: Any = _COMPILED.get(key)
        if self.database is None and cache is not None:
            data = cache.get(key)
            if data:
                try:
                    self.database = hs.loadb(data, hs.HS_MODE_BLOCK)
                except Exception:  # a stale or damaged cache entry: compile afresh
                    self.database = None
        if self.database is None:
            self.database = hs.Database(mode=hs.HS_MODE_BLOCK)
            self.database.compile(
                expressions=expressions, ids=list(range(len(patterns))), flags=flags
            )
            if cache is not None:
                cache.put(key, hs.dumpb(self.database))
        _COMPILED[key] = self.database
        self.scratch = hs.Scratch(self.database)

    def scan(self, text: str) -> list[Hit]:
        data = text.encode("utf-8")
        found: list[tuple[int, int, int]] = []

        def on_match(pattern_id: int, start: int, end: int, flags: int, context: Any) -> None:
            found.append((pattern_id, start, end))

        self.database.scan(data, match_event_handler=on_match, scratch=self.scratch)
        if not found:
            return []
        ascii_text = len(data) == len(text)
        hits = []
        for pattern_id, start, end in found:
            if not ascii_text:
                start = len(data[:start].decode("utf-8", "ignore"))
                end = len(data[:end].decode("utf-8", "ignore"))
            left, right = self.bounded[pattern_id]
            if left and start > 0 and _is_word(text[start - 1]):
                continue
            if right and end < len(text) and _is_word(text[end]):
                continue
            pattern = self.patterns[pattern_id]
            hits.append(Hit(pattern.group, pattern.key, start, end))
        return hits


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

    def scan(self, text: str) -> list[Hit]:
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
