"""Multi-pattern scans of an item's text, one per group of patterns, on demand.

Every form of every lexicon term, every ``contains`` phrase and every client name in
the contact directory is compiled once per run into a :class:`Scanner`, one database
per group (a lexicon, one selection's phrases, the client names). An item's text is
scanned for a group only when a selection first asks for that group, and at most once:
a rule that fails on its first lexicon never pays for its second, and a lexicon no
rule reaches on an item is never scanned for. Every selection reads its answer from
the same per-item :class:`TextScan`.

Two backends give the same answers:

* **Hyperscan** (Intel's multi-pattern regex engine; the ``hyperscan`` wheel), which
  scans for thousands of patterns at once in one pass, about 100 times faster than a
  Python alternation. Its ``\\b`` is ASCII, so hits are checked against Unicode word
  boundaries here (its own ``\\b`` only spares the callbacks of matches inside longer
  words, where the two agree); it reports one start for each end of a pattern, so a
  pattern that can match from two starts to one end has the others looked for here;
  and in UTF-8 mode it folds a few letters beyond ASCII case (the Kelvin sign as k), so
  such hits are confirmed with Python ``re``; plain ASCII patterns are scanned byte by
  byte, which is faster and folds ASCII alone.
* Python ``re``, one alternation per group of patterns, where no Hyperscan wheel
  exists.

Both give a pattern the same meaning: ASCII ``\\w`` and ``\\s`` and ASCII case folding
(a lexicon lists both cases of other letters itself: ``[éÉ]``), word boundaries in
Unicode terms, and the words of a phrase at most eight separators apart
(:func:`~linter.engine.separators.bounded`).

With Hyperscan, a cheap first pass comes before any of that (see
:mod:`linter.engine.separators`): one scan of the text with its word separators
deleted, for plain strings that every match of a group's patterns holds once written
without them, tells which groups cannot have a hit at all (a string as short as "pub",
which "public" holds too, is confirmed by its own patterns). Those are never scanned,
and the rule gate (:mod:`linter.engine.gate`) skips the rules that need them. A long
text (a newsletter) holds words of nearly every group, so it goes without: the pass
would rule out little and cost as much as the scans it spared.

What the Hyperscan backend works out from the patterns before compiling them (each
group's :class:`GroupPlan`: bounded expressions, first-pass strings) is kept between
runs beside the compiled databases, in the caller's :class:`DatabaseCache`, so that a
run whose rules did not change starts in milliseconds; it then loads each group's
database only when an item first needs scanning for that group.

Within one group (one lexicon, one set of phrases), hits are reduced to leftmost-
longest, non-overlapping matches, the same rule both backends follow: "contract review"
is one hit, not also "review".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from linter.engine.separators import (
    SEPARATOR_BYTES,
    bounded,
    necessary_literals,
    without_separators,
)

_hyperscan: Any
try:  # pragma: no cover - depends on the platform's wheels
    import hyperscan as _hyperscan
except ImportError:  # pragma: no cover
    _hyperscan = None


class Pattern(NamedTuple):  # a tuple: a rule set has thousands, made at every start
    group: str  # e.g. "lexicon:business", "phrases:CL101.ok", "contacts"
    key: int  # what matched within the group (term index, contact index, ...)
    regex: str  # one form (see linter.engine.lexicon.form_pattern); a key may have several
    ignore_case: bool = True


class Hit(NamedTuple):  # a tuple: items with long texts make thousands of them
    group: str
    key: int
    start: int
    end: int


class DatabaseCache(Protocol):
    """Somewhere to keep compiled Hyperscan databases between runs (compiling the
    default pack takes seconds; loading it, milliseconds). The engine stays pure:
    the caller decides where, if anywhere, the bytes live."""

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, data: bytes) -> None: ...


_COMPILED: dict[str, Any] = {}  # this process's compiled databases, by pattern hash
FIRST_PASS_LIMIT = 32 * 1024  # characters: a longer text goes without the first pass
WEAK_LITERAL = 4  # bytes: a first-pass string this short is confirmed (see _Prefilter)
WEAK = 1 << 16  # added to a group's number for its short strings' id in the first pass


def available_backends() -> tuple[str, ...]:
    return ("hyperscan", "re") if _hyperscan is not None else ("re",)


class Scanner:
    """Compiled patterns; :meth:`prepare` starts the scans of one text.

    ``bits`` gives each group a bit, for sets of groups written as one number (see
    :meth:`TextScan.possible_bits`). ``hints`` are plain strings the first pass looks
    for too, any case, by name (the suppression marker ``clientline:``); each name gets
    a bit after the groups' in ``hint_bits``, set in :meth:`TextScan.possible_bits`
    wherever one of its strings may be in the text (everywhere, when there is no first
    pass; in a text too long for one, wherever one is as written), so that what few
    texts hold one can be told apart at little or no extra cost.

    ``bundles`` name sets of groups that a text too long for a first pass is scanned
    for together, in one database, as soon as one of them is needed (with Hyperscan):
    those the rules look for first in any item of a kind (see
    :func:`~linter.engine.gate.first_scans`), so that a newsletter is read once rather
    than once a lexicon. :meth:`prepare` is told which bundle, if any, a text's scans
    may use.
    """

    def __init__(
        self,
        patterns: Sequence[Pattern],
        backend: str | None = None,
        cache: DatabaseCache | None = None,
        hints: Mapping[str, Sequence[str]] | None = None,
        bundles: Mapping[str, Sequence[str]] | None = None,
    ):
        self.patterns = list(patterns)
        self.backend = backend or available_backends()[0]
        if self.backend not in available_backends():
            raise ValueError(f"matching backend {self.backend!r} is not installed")
        by_group: dict[str, list[Pattern]] = {}
        for pattern in self.patterns:
            by_group.setdefault(pattern.group, []).append(pattern)
        self.groups = tuple(sorted(by_group))
        self.bits = {group: 1 << index for index, group in enumerate(self.groups)}
        self.hint_bits = {
            name: 1 << index for index, name in enumerate(sorted(hints or ()), len(self.groups))
        }
        self.all_groups = (1 << len(self.groups)) - 1
        self.every = (1 << (len(self.groups) + len(self.hint_bits))) - 1
        self._impls: dict[str, _Hyperscan | _Re] = {}
        self._breaks: dict[str, str] = {}  # see breaks()
        self._prefilter: _Prefilter | None = None
        self._bundles: dict[str, _Bundle] = {}
        self._narrowed: dict[frozenset[str], _Bundle | None] = {}  # see narrowed()
        if self.backend == "hyperscan":
            plans, new = _plans({group: by_group[group] for group in self.groups}, cache)
            # patterns planned in an earlier run were compiled and kept then too: each
            # group's database is loaded when first needed; new ones are compiled now,
            # so that a pattern Hyperscan refuses fails the run at once
            lazy = new is None
            fast = {g: _Hyperscan(by_group[g], plans[g], cache, lazy) for g in self.groups}
            if new is not None:
                _keep_plans(cache, new, plans)
            self._impls.update(fast)
            strings = {self.hint_bits[name]: found for name, found in (hints or {}).items()}
            self._prefilter = _Prefilter(plans, self.bits, cache, strings, by_group)
            for name, wanted in (bundles or {}).items():
                together = {g: fast[g] for g in wanted if g in fast}
                if len(together) > 1:
                    self._bundles[name] = _Bundle(together, cache)
        else:
            self._impls.update((group, _Re(by_group[group])) for group in self.groups)

    def narrowed(self, bundle: _Bundle, groups: Collection[str]) -> _Bundle | None:
        """The part of ``bundle`` made of ``groups``, or ``None`` when fewer than two
        of them are in it (each made once, and compiled when first scanned with)."""
        kept = frozenset(groups) & bundle.groups
        if kept == bundle.groups:
            return bundle
        if kept not in self._narrowed:
            parts = {g: impl for g, impl in bundle.parts.items() if g in kept}
            self._narrowed[kept] = _Bundle(parts, bundle.cache) if len(parts) > 1 else None
        return self._narrowed[kept]

    def breaks(self, group: str) -> str:
        """Characters no hit of ``group`` can hold, and none that is part of a word:
        no match crosses one, so the hits between two of them in a text are those of
        the text alone, found without scanning the rest (see
        :meth:`~linter.engine.context.Context.hits_near`). Empty when the group's
        patterns might match anything."""
        found = self._breaks.get(group)
        if found is None:
            found = self._breaks[group] = _breaks(
                _body(p.regex) for p in self.patterns if p.group == group
            )
        return found

    def prepare(
        self, text: str, possible: int | None = None, bundle: str | None = None
    ) -> TextScan:
        """The scans of ``text``; with ``possible``, the groups that may have hits
        there are known already (it is part of a text whose first pass was done); with
        ``bundle``, the groups a long text is scanned for together."""
        return TextScan(self, text, possible, bundle)

    def scan(self, text: str) -> list[Hit]:
        """Every hit of every group in ``text``."""
        return self.prepare(text).hits(self.groups)


class TextScan:
    """One text and the hits found in it so far, by group.

    Within a group, hits are reduced to leftmost-longest, non-overlapping matches;
    across groups they overlap freely. :meth:`hits` lists the hits of some groups in
    text order (start, then end, then group name).
    """

    __slots__ = (
        "_bundle",
        "_by_group",
        "_data",
        "_offsets",
        "_possible",
        "scanner",
        "text",
    )

    def __init__(
        self, scanner: Scanner, text: str, possible: int | None = None, bundle: str | None = None
    ):
        self.scanner = scanner
        self.text = text
        # the groups a text too long for a first pass is scanned for together, if any
        self._bundle = (
            scanner._bundles.get(bundle) if bundle and len(text) > FIRST_PASS_LIMIT else None
        )
        self._data: bytes | None = None  # the UTF-8 text, for Hyperscan
        self._offsets: bytes | None = None  # marks UTF-8 continuation bytes, when any
        self._by_group: dict[str, list[Hit]] = {}
        self._possible = possible  # the groups the first pass left possible

    def group(self, name: str) -> list[Hit]:
        found = self._by_group.get(name)
        if found is None:
            impl = self.scanner._impls.get(name)
            bundle = self._bundle
            if impl is None or not self.possible_bits() & self.scanner.bits[name]:
                found = []
            elif bundle is not None and name in bundle.groups:
                self._bundle = None  # once: every group of it is known from now on
                self._by_group.update(bundle.scan(self))
                return self._by_group[name]
            else:
                found = _leftmost_longest(impl.scan(self), name)
            self._by_group[name] = found
        return found

    def narrow(self, groups: Collection[str]) -> None:
        """Scan a long text for only ``groups`` of its bundle together, should one of
        them be needed (any other alone): the caller knows the rest will not be."""
        if self._bundle is not None:
            self._bundle = self.scanner.narrowed(self._bundle, groups)

    def known(self, name: str) -> bool:
        """Whether the text has been scanned for the group already."""
        return name in self._by_group

    def possible_bits(self) -> int:
        """The groups that may have hits (see :attr:`Scanner.bits`): all but those the
        first pass rules out."""
        found = self._possible
        if found is None:
            scanner = self.scanner
            prefilter = scanner._prefilter
            if not self.text:
                found = 0
            elif prefilter is None:
                found = scanner.every
            elif len(self.text) > FIRST_PASS_LIMIT:  # every group, and the hints found
                found = scanner.all_groups | prefilter.hinted(self.encoded())
            else:
                found = prefilter.possible(self.encoded()) | prefilter.ungated
            self._possible = found
        return found

    def possible(self) -> set[str]:
        """:meth:`possible_bits` as group names."""
        bits = self.possible_bits()
        return {group for group, bit in self.scanner.bits.items() if bits & bit}

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

    def char_offsets(self, byte_offsets: Iterable[int]) -> dict[int, int]:
        """The character offset of each byte offset (at character boundaries)."""
        marks = self._offsets
        if marks is None:
            return {offset: offset for offset in byte_offsets}
        found = {}
        previous = continuations = 0
        for offset in sorted(set(byte_offsets)):  # counted once over the text, in order
            continuations += marks.count(1, previous, offset)
            found[offset] = offset - continuations
            previous = offset
        return found


# 1 for the bytes that continue a UTF-8 sequence (0x80-0xBF), 0 for the others: a
# character offset is a byte offset less the continuation bytes before it
_CONTINUATION_BYTES = bytes(1 if 0x80 <= b <= 0xBF else 0 for b in range(256))


def _text_order(hit: Hit) -> tuple[int, int]:
    return hit.start, hit.end


Span = tuple[int, int, int]  # a match: its start, its end negated, the pattern's key


def _leftmost_longest(spans: list[Span], group: str) -> list[Hit]:
    """One group's hits, leftmost first and longest at each start, none overlapping;
    where two patterns match the very same words, the first pattern of the group
    wins."""
    spans.sort()  # by start, then longest, then key
    kept: list[Hit] = []
    reach = -1
    for start, negated_end, key in spans:
        if start >= reach:
            reach = -negated_end
            kept.append(Hit(group, key, start, reach))
    return kept


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


Source = tuple[list[bytes], list[int], list[int]]  # a database's expressions, flags, ids


def _database_key(source: Source, literal: bool = False) -> str:
    """The cache key of the database compiled from ``source``: worked out once, when a
    scanner is made, and kept with it (hashing thousands of expressions at every start
    would cost more than reading the database back)."""
    assert _hyperscan is not None
    what = (*source, _hyperscan.__version__) + (("literal",) if literal else ())
    return f"hyperscan-{hashlib.sha256(repr(what).encode()).hexdigest()[:32]}"


def _database(
    key: str,
    source: Callable[[], Source],
    cache: DatabaseCache | None,
    literal: bool = False,
) -> Any:
    """The Hyperscan database kept under ``key`` (of plain strings, with ``literal``):
    from this process, the cache, or compiled now from ``source()``."""
    assert _hyperscan is not None
    hs = _hyperscan
    database: Any = _COMPILED.get(key)
    if database is None and cache is not None:
        data = cache.get(key)
        if data:
            try:
                database = hs.loadb(data, hs.HS_MODE_BLOCK)
            except Exception:  # a stale or damaged cache entry: compile afresh
                database = None
    if database is None:
        expressions, flags, ids = source()
        database = hs.Database(mode=hs.HS_MODE_BLOCK)
        database.compile(expressions=expressions, ids=ids, flags=flags, literal=literal)
        if cache is not None:
            cache.put(key, hs.dumpb(database))
    _COMPILED[key] = database
    return database


class GroupPlan(NamedTuple):  # a tuple: a dataclass has its methods generated at every start
    """What the Hyperscan backend works out from one group's patterns before compiling
    them: a pure function of the patterns, kept between runs (see :func:`_plans`)."""

    bounds: list[tuple[bool, bool]]  # whether each pattern wants a word boundary at its ends
    # each pattern without those boundaries, its separator runs bounded where that is
    # safe (see linter.engine.separators): what it matches, with either backend
    expressions: list[str]
    # Hyperscan reports one start (the leftmost) for each end of a pattern; a pattern
    # that can match from two starts to one end has the later starts looked for here
    several: list[bool]
    compiled: list[str]  # what is compiled: the expressions, with ASCII word boundaries
    bytewise: list[bool]  # whether each compiled expression is scanned without UTF-8 mode
    literals: list[str] | None  # the first pass's strings, or None: always scanned
    # the patterns whose strings are too short to rule out much alone ("pub" is in
    # "public"), and those strings: found, they are confirmed by the patterns themselves
    weak: list[int]
    weak_literals: list[str]

    @classmethod
    def of(cls, patterns: Sequence[Pattern]) -> GroupPlan:
        bodies = [_body(p.regex) for p in patterns]
        # without separators, for the first pass; None where that cannot be done
        rewritten = [without_separators(b) for b in bodies]
        expressions = [
            bounded(b, r is not None) or b for b, r in zip(bodies, rewritten, strict=True)
        ]
        found = [necessary_literals(r) if r else None for r in rewritten]
        literals: list[str] | None = None
        weak: list[int] = []
        weak_literals: list[str] = []
        if found and all(f is not None for f in found):
            weak = [
                index
                for index, strings in enumerate(found)
                if any(len(s.encode("utf-8")) <= WEAK_LITERAL for s in strings or ())
            ]
            confirmed = set(weak)
            strong = [
                strings or [] for index, strings in enumerate(found) if index not in confirmed
            ]
            literals = _fewest_strings(strong)
            weak_literals = _fewest_strings(found[index] or [] for index in weak)
        bounds = [_bounds(p.regex) for p in patterns]
        compiled = [_ascii_bounded(e, b) for e, b in zip(expressions, bounds, strict=True)]
        return cls(
            bounds=bounds,
            expressions=expressions,
            several=[_several_starts(b) for b in bodies],
            compiled=compiled,
            bytewise=[_bytewise(e) for e in compiled],
            literals=literals,
            weak=weak,
            weak_literals=weak_literals,
        )


def _fewest_strings(found: Iterable[Sequence[str]]) -> list[str]:
    """:func:`_fewest` of the patterns' strings, as text."""
    strings = {string.encode("utf-8") for strings in found for string in strings}
    return [string.decode("utf-8") for string in _fewest(strings)]


def _plans(
    by_group: Mapping[str, Sequence[Pattern]], cache: DatabaseCache | None
) -> tuple[dict[str, GroupPlan], str | None]:
    """Every group's :class:`GroupPlan`: from the cache when the very same patterns were
    planned by the very same code before (working them out takes longer than loading
    the compiled databases), else worked out now. With them, ``None`` when they came
    from the cache, else the key to keep them under (see :func:`_keep_plans`)."""
    what = [(group, [(p.regex, p.ignore_case) for p in by_group[group]]) for group in by_group]
    digest = hashlib.sha256(repr((what, _CODE_VERSION)).encode()).hexdigest()
    key = f"plans-{digest[:32]}"
    if cache is not None and (data := cache.get(key)):
        try:
            kept = {
                group: GroupPlan(**{**plan, "bounds": [tuple(b) for b in plan["bounds"]]})
                for group, plan in json.loads(data).items()
            }
            if list(kept) == list(by_group) and all(
                len(plan.bounds)
                == len(plan.expressions)
                == len(plan.compiled)
                == len(plan.bytewise)
                == len(patterns)
                > max(plan.weak, default=-1)
                for plan, patterns in zip(kept.values(), by_group.values(), strict=True)
            ):
                return kept, None
        except (ValueError, TypeError, KeyError, AttributeError):
            pass  # damaged or from elsewhere: work them out again
    return {group: GroupPlan.of(patterns) for group, patterns in by_group.items()}, key


def _keep_plans(cache: DatabaseCache | None, key: str, plans: Mapping[str, GroupPlan]) -> None:
    """Keep plans between runs, once every one of their databases compiled: a run that
    finds them kept takes it that the databases are kept too."""
    if cache is not None:
        cache.put(key, json.dumps({g: p._asdict() for g, p in plans.items()}).encode("utf-8"))


def _code_version() -> str:
    """This module's and :mod:`~linter.engine.separators`' source, which the plans come from."""
    from linter.engine import separators

    try:
        code = b"".join(Path(m).read_bytes() for m in (__file__, separators.__file__))
    except (OSError, TypeError):  # pragma: no cover - no sources beside the modules
        code = __name__.encode()
    return hashlib.sha256(code).hexdigest()[:16]


_CODE_VERSION = _code_version()


class _Hyperscan:
    """One group's patterns in one database.

    Word boundaries are checked here, in Unicode terms: Hyperscan's ``\\b`` is
    ASCII-only (wrong beside "é"), so it gets one only where that is a weaker test (see
    :func:`_ascii_bounded`), to drop most matches inside longer words early.
    """

    def __init__(
        self,
        patterns: Sequence[Pattern],
        plan: GroupPlan,
        cache: DatabaseCache | None,
        lazy: bool = False,
        key: str | None = None,
    ):
        self.patterns = patterns
        self.plan = plan
        self.cache = cache
        self.keys = [p.key for p in patterns]
        self.bounds = plan.bounds
        self.expressions = plan.expressions
        self.several = plan.several
        self._python: dict[int, re.Pattern[str]] = {}  # each pattern as `re`, when needed
        self.database: Any = None  # see load()
        self.scratch: Any = None
        self.database_key = key or _database_key(self.source())
        if not lazy:
            self.load()

    def source(self) -> Source:
        """What the database is compiled from."""
        assert _hyperscan is not None
        hs = _hyperscan
        flags = [
            hs.HS_FLAG_SOM_LEFTMOST
            | (0 if bytewise else hs.HS_FLAG_UTF8)
            | (hs.HS_FLAG_CASELESS if p.ignore_case else 0)
            for p, bytewise in zip(self.patterns, self.plan.bytewise, strict=True)
        ]
        expressions = [e.encode("utf-8") for e in self.plan.compiled]
        return expressions, flags, list(range(len(self.patterns)))

    def load(self) -> Any:
        """The compiled database: made (or read back from the cache) on first use when
        the scanner was made ``lazy``, so that a run never pays for loading the groups
        its items never need scanning for."""
        if self.database is None:
            assert _hyperscan is not None
            self.database = _database(self.database_key, self.source, self.cache)
            self.scratch = _hyperscan.Scratch(self.database)
        return self.database

    def __getstate__(self) -> dict[str, Any]:
        return _without_databases(self.__dict__)  # each loaded again when first needed

    def scan(self, scan: TextScan) -> list[Span]:
        found: list[tuple[int, int, int]] = []
        database = self.database or self.load()
        database.scan(scan.encoded(), _collect, context=found, scratch=self.scratch)
        if not found:
            return []
        text = scan.text
        if scan._offsets is not None:
            chars = scan.char_offsets(offset for _, start, end in found for offset in (start, end))
            found = [(i, chars[start], chars[end]) for i, start, end in found]
        length = len(text)
        ascii_text = text.isascii()
        keys, bounds, several = self.keys, self.bounds, self.several
        spans = []
        for pattern_id, start, end in found:
            left, right = bounds[pattern_id]
            if right and end < length:
                after_end = text[end]
                if after_end.isalnum() or after_end == "_":
                    continue
            if several[pattern_id]:
                starts: Sequence[int] = _starts(self.python(pattern_id), text, start, end, left)
            elif ascii_text or text[start:end].isascii():
                starts = (start,)
            else:  # Hyperscan folds some letters beyond ASCII (K, the Kelvin sign, as k)
                starts = (start,) if self.python(pattern_id).fullmatch(text, start, end) else ()
            for start in starts:
                if left and start > 0:
                    before = text[start - 1]
                    if before.isalnum() or before == "_":
                        continue
                spans.append((start, -end, keys[pattern_id]))
        return spans

    def python(self, pattern_id: int) -> re.Pattern[str]:
        found = self._python.get(pattern_id)
        if found is None:
            pattern = self.patterns[pattern_id]
            found = _python_regex(self.expressions[pattern_id], pattern.ignore_case)
            self._python[pattern_id] = found
        return found


def _scratch(database: Any) -> Any:
    assert _hyperscan is not None
    return _hyperscan.Scratch(database) if database is not None else None


def _without_databases(state: dict[str, Any]) -> dict[str, Any]:
    """An object's attributes for pickling, with its Hyperscan databases and scratch
    space (which do not pickle) left as ``None``: what a kept scanner loads again."""
    return {
        name: None if _hyperscan is not None and isinstance(value, _HYPERSCAN_TYPES) else value
        for name, value in state.items()
    }


_HYPERSCAN_TYPES = (_hyperscan.Database, _hyperscan.Scratch) if _hyperscan is not None else ()


def _collect(pattern_id: int, start: int, end: int, flags: int, found: Any) -> None:
    """Hyperscan's match handler: each match into the list given as the scan's context
    (one function for every scan, rather than a closure made for each)."""
    found.append((pattern_id, start, end))


_ASCII_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _ascii_bounded(expression: str, bounds: tuple[bool, bool]) -> str:
    """``expression`` with Hyperscan's ASCII ``\\b`` at each end that wants a word
    boundary and must be an ASCII word character there.

    Such a boundary in Unicode terms is one in ASCII terms too (a character that is no
    Unicode word character is no ASCII one), so Hyperscan then drops the matches inside
    longer words ("pub" in "public", "nda" in "agenda") that would only be found and
    thrown away here, and no match that counts. An end that may be another character
    (``[éÉ]``, an optional letter) keeps its boundary for this module alone to check.
    """
    left, right = bounds
    if not expression or _top_level_alternation(expression):
        return expression
    if left and expression[0] in _ASCII_WORD and expression[1:2] not in ("?", "*", "{"):
        expression = r"\b" + expression
    if right and expression[-1] in _ASCII_WORD and expression[-2:-1] != "\\":
        expression += r"\b"
    return expression


# escapes of ASCII letters, digits, white space, control characters and boundaries
_PLAIN_ESCAPES = frozenset("swdbBntrfv")


def _spelt_out(expression: str) -> bool:
    """Whether every character ``expression`` can match is written in it, as itself,
    escaped or in a class, or is an ASCII letter, digit or space (:data:`_PLAIN_ESCAPES`):
    no ``.``, ``[^...]``, range, ``\\W`` or escape that names a character by number."""
    position, in_class = 0, False
    while position < len(expression):
        char = expression[position]
        if char == "\\":
            escaped = expression[position + 1 : position + 2]
            if not escaped or (escaped.isalnum() and escaped not in _PLAIN_ESCAPES):
                return False
            position += 2
            continue
        if in_class:
            if char == "-" and expression[position + 1 : position + 2] != "]":
                return False  # a range, [!-/]: what it holds is not written out
            in_class = char != "]"
        elif char == "[":
            if expression[position + 1 : position + 2] in ("^", "-"):
                return False
            in_class = True
        elif char == ".":
            return False
        position += 1
    return True


def _bytewise(expression: str) -> bool:
    """Whether ``expression`` can be scanned byte by byte rather than in UTF-8 mode
    with the same matches: ASCII only, every character it matches spelt out
    (:func:`_spelt_out`: none that could be part of a longer one, ``\\xE9`` no byte).

    Such an expression only ever matches ASCII bytes, which in UTF-8 are whole
    characters, and Hyperscan then folds case in ASCII alone, as this module means it
    to (in UTF-8 mode it also folds the Kelvin sign as k). Scans of such patterns are
    up to twice as fast.
    """
    return expression.isascii() and _spelt_out(expression)


# punctuation that ends most phrases in prose, and the NUL that joins an item's fields
BREAK_CANDIDATES = '\x00.,;:!?()"<>[]{}|'


def _breaks(expressions: Iterable[str]) -> str:
    """Which of :data:`BREAK_CANDIDATES` no match of ``expressions`` can hold: those
    that appear nowhere in their text (as themselves, escaped or in a class), when
    every character they match is spelt out (:func:`_spelt_out`)."""
    kept = set(BREAK_CANDIDATES)
    for expression in expressions:
        if not _spelt_out(expression):
            return ""
        kept.difference_update(expression)
    return "".join(sorted(kept))


def _top_level_alternation(expression: str) -> bool:
    depth, escaped, in_class = 0, False, False
    for char in expression:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


def _bounds(regex: str) -> tuple[bool, bool]:
    """Whether a pattern wants a word boundary at its start, and at its end."""
    return regex.startswith(r"\b"), regex.endswith(r"\b")


def _body(regex: str) -> str:
    """A pattern without the word boundaries at its ends (see :func:`_bounds`)."""
    left, right = _bounds(regex)
    return regex[2 if left else None : -2 if right else None]


def _python_regex(body: str, ignore_case: bool) -> re.Pattern[str]:
    """``body`` as Python ``re`` with the meaning both backends give patterns: ASCII
    ``\\w`` and ``\\s`` (as Hyperscan has them), and ASCII case folding (Hyperscan also
    folds a few other letters, so its hits beyond ASCII are confirmed with this)."""
    return re.compile(body, re.ASCII | (re.IGNORECASE if ignore_case else 0))


_GAP = r"[\s\-]+"
_WORDS = re.compile(r"(?:[A-Za-z0-9]+|\[\\s\\-\]\+)+")  # words, separator runs between
# one character that is not a separator: a plain one, escaped punctuation, or a class of
# plain characters (['’], [éÉ])
_ONE_CHARACTER = re.compile(r"\[[^\]\\\-\s^]+\]|\\[^\w\s\-]|[^\\\[\](){}|?*+.^$\s\-]")


def _several_starts(body: str) -> bool:
    """Whether a pattern may match from two starts to one end.

    A lexicon form is characters (or one-character classes) with runs of separators
    between its words. Every match of it holds the same number of non-separator
    characters, so a match ending where another ends but starting later, holding fewer,
    cannot be. An optional separator (``follow-up``) or a word ending (``\\w*``) breaks
    that count; so does anything this function does not know.
    """
    if _WORDS.fullmatch(body):  # most forms: plain words
        return False
    position = 0
    while position < len(body):
        if body.startswith(_GAP, position):
            position += len(_GAP)
            continue
        one = _ONE_CHARACTER.match(body, position)
        if one is None:
            return True
        position = one.end()
    return False


def _starts(python: re.Pattern[str], text: str, first: int, end: int, left: bool) -> list[int]:
    """Every start of a match of ``python`` that ends at ``end``, from ``first`` (the
    leftmost, which Hyperscan reported) on; with ``left``, the later ones only where a
    word boundary is: the others could never make a hit."""
    starts = []
    for start in range(first, end):
        if start > first and left and _is_word(text[start - 1]):
            continue
        if python.fullmatch(text, start, end):
            starts.append(start)
    return starts


class _Bundle:
    """Several groups' patterns in one database: a long text is scanned for them all in
    one pass (see :class:`Scanner`), and each group's hits are then reduced to
    leftmost-longest as its own scan would reduce them."""

    def __init__(self, groups: Mapping[str, _Hyperscan], cache: DatabaseCache | None):
        self.groups = frozenset(groups)
        self.parts = dict(groups)  # the groups' own scans, which the bundle is made of
        self.cache = cache
        self._impl: _Hyperscan | None = None  # made when first scanned with (see impl)
        self.owners: list[tuple[str, int]] = []  # by pattern: its group and key

    def impl(self) -> _Hyperscan:
        """The groups' patterns as one group's, each keyed by its place among them."""
        if self._impl is None:
            patterns: list[Pattern] = []
            for group, part in self.parts.items():
                for pattern in part.patterns:
                    self.owners.append((group, pattern.key))
                    patterns.append(pattern._replace(key=len(patterns)))
            plans = [part.plan for part in self.parts.values()]
            plan = GroupPlan(
                bounds=[b for p in plans for b in p.bounds],
                expressions=[e for p in plans for e in p.expressions],
                several=[s for p in plans for s in p.several],
                compiled=[c for p in plans for c in p.compiled],
                bytewise=[b for p in plans for b in p.bytewise],
                literals=None,
                weak=[],
                weak_literals=[],
            )
            # the bundle is compiled from its parts' sources, in order: their keys name it
            parts = "|".join(part.database_key for part in self.parts.values())
            key = f"hyperscan-bundle-{hashlib.sha256(parts.encode()).hexdigest()[:32]}"
            self._impl = _Hyperscan(patterns, plan, self.cache, lazy=True, key=key)
        return self._impl

    def scan(self, scan: TextScan) -> dict[str, list[Hit]]:
        spans: dict[str, list[Span]] = {group: [] for group in self.groups}
        impl = self.impl()
        owners = self.owners
        for start, negated_end, index in impl.scan(scan):
            group, key = owners[index]
            spans[group].append((start, negated_end, key))
        return {group: _leftmost_longest(found, group) for group, found in spans.items()}


class _Prefilter:
    """Which groups can have a hit in a text at all, in one cheap pass.

    Every pattern of a group, rewritten by :func:`~linter.engine.separators.
    without_separators`, must match the text with its separator characters deleted
    for the group to have a hit; so must a string it cannot match without
    (:func:`~linter.engine.separators.necessary_literals`). The group's strings, less
    those holding another of them ("contracts" holds "contract"), go into one
    database of plain strings, under their group's number: Hyperscan then reports each
    group at most once, however many of its strings the text holds. A group none of
    whose strings is in the text has no hit in it, and its own (much slower) scan is
    skipped. A group with a pattern that gives no such string is always scanned.

    A short string rules out little: "pub" is in every "public", "inn" in "dinner".
    The patterns whose strings are that short (:data:`WEAK_LITERAL`) are compiled
    into a second database, as they are, with Hyperscan's ASCII word boundaries where
    a Unicode one implies them (:func:`_ascii_bounded`) and no start offsets; their
    strings report under a number of their own. Only a text that holds one of those
    strings and none of the group's others is scanned with it, as written: the group
    is possible there only where one of its short patterns matches.
    """

    def __init__(
        self,
        plans: Mapping[str, GroupPlan],
        bits: Mapping[str, int],
        cache: DatabaseCache | None,
        hints: Mapping[int, Sequence[str]],
        patterns: Mapping[str, Sequence[Pattern]],
    ):
        assert _hyperscan is not None
        hs = _hyperscan
        # by string: the number of its group's bit (or its hint's), the string's id; a
        # short string's is WEAK more
        self.bits: list[int] = []
        literals: list[bytes] = []
        self.ungated = 0  # groups always scanned
        confirming: list[tuple[str, bool, int]] = []  # the short strings' patterns
        for group, plan in plans.items():
            if plan.literals is None:
                self.ungated |= bits[group]
                continue
            number = _bit_number(bits[group])
            literals += [string.encode("utf-8") for string in plan.literals]
            self.bits += [number] * len(plan.literals)
            literals += [string.encode("utf-8") for string in plan.weak_literals]
            self.bits += [WEAK + number] * len(plan.weak_literals)
            for index in plan.weak:
                expression = _ascii_bounded(plan.expressions[index], plan.bounds[index])
                confirming.append((expression, patterns[group][index].ignore_case, number))
        as_written: list[bytes] = []  # the hints, for a long text (see hinted)
        self.hint_bits: list[int] = []
        self.unhinted = 0  # hints a long text is not searched for: always possible there
        for bit, hinted in hints.items():
            # looked for in the text with its separators deleted, as the groups' strings
            plain = {h.encode("utf-8").translate(None, SEPARATOR_BYTES) for h in hinted}
            if any(len(string) < 2 for string in plain):
                self.ungated |= bit
                self.unhinted |= bit
                continue
            literals += sorted(plain)
            self.bits += [_bit_number(bit)] * len(plain)
            if any(string.encode("utf-8") not in plain for string in hinted):
                self.unhinted |= bit  # a separator in it: not found as written
                continue
            as_written += sorted(plain)
            self.hint_bits += [_bit_number(bit)] * len(plain)
        single = hs.HS_FLAG_CASELESS | hs.HS_FLAG_SINGLEMATCH
        # what each database is compiled from: kept, to load them again (__setstate__)
        self._sources: dict[str, tuple[list[bytes], list[int], list[int], bool]] = {}
        if as_written:
            self._sources["hint"] = (as_written, [single] * len(as_written), self.hint_bits, True)
        if literals:
            self._sources["strings"] = (literals, [single] * len(literals), self.bits, True)
        if confirming and literals:
            self._sources["confirming"] = (
                [expression.encode("utf-8") for expression, _, _ in confirming],
                [
                    hs.HS_FLAG_SINGLEMATCH
                    | (0 if _bytewise(expression) else hs.HS_FLAG_UTF8)
                    | (hs.HS_FLAG_CASELESS if ignore_case else 0)
                    for expression, ignore_case, _ in confirming
                ],
                [number for _, _, number in confirming],
                False,
            )
        self._keys = {
            name: _database_key((expressions, flags, ids), literal)
            for name, (expressions, flags, ids, literal) in self._sources.items()
        }
        self._cache = cache
        self._every = sum(bits.values()) | sum(hints)
        self._load()

    def _load(self) -> None:
        """The databases, compiled or read back from the cache."""
        assert _hyperscan is not None
        loaded: dict[str, Any] = {}
        for name, (expressions, flags, ids, literal) in self._sources.items():

            def source(given: Source = (expressions, flags, ids)) -> Source:
                return given

            try:
                loaded[name] = _database(self._keys[name], source, self._cache, literal)
            except Exception:  # pragma: no cover - a Hyperscan refuses
                if name == "hint":
                    raise
                if name == "strings":  # no first pass: every group is scanned
                    self.ungated = self._every
                # no confirming: a short string found makes its group possible
        self.hint_database: Any = loaded.get("hint")
        self.database: Any = loaded.get("strings")
        self.confirming: Any = loaded.get("confirming") if self.database is not None else None
        self.hint_scratch: Any = _scratch(self.hint_database)
        self.scratch: Any = _scratch(self.database)
        self.confirming_scratch: Any = _scratch(self.confirming)

    def __getstate__(self) -> dict[str, Any]:
        return _without_databases(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._load()

    def possible(self, data: bytes) -> int:
        """The bits of the gated groups that may have hits in ``data`` (UTF-8)."""
        if self.database is None:
            return 0
        found: list[tuple[int, int, int]] = []  # each number once (HS_FLAG_SINGLEMATCH)
        self.database.scan(
            data.translate(None, SEPARATOR_BYTES), _collect, context=found, scratch=self.scratch
        )
        possible = weak = 0
        for number, _, _ in found:
            if number < WEAK:
                possible |= 1 << number
            else:
                weak |= 1 << (number - WEAK)
        weak &= ~possible  # a group possible anyway needs no confirming
        if weak and self.confirming is None:
            possible |= weak
        elif weak:
            found = []
            scratch = self.confirming_scratch
            self.confirming.scan(data, _collect, context=found, scratch=scratch)
            for number, _, _ in found:
                possible |= (1 << number) & weak
        return possible

    def hinted(self, data: bytes) -> int:
        """The bits of the hints that may be in ``data``, found as written (no first
        pass is made over a long text, but a hint costs a fraction of one)."""
        if self.hint_database is None:
            return self.unhinted
        found: list[tuple[int, int, int]] = []
        self.hint_database.scan(data, _collect, context=found, scratch=self.hint_scratch)
        possible = self.unhinted
        for number, _, _ in found:
            possible |= 1 << number
        return possible


def _bit_number(bit: int) -> int:
    """Which bit ``bit`` is (``1 << n`` gives ``n``): a string's id in the first pass."""
    return bit.bit_length() - 1


def _fewest(strings: Iterable[bytes]) -> list[bytes]:
    """``strings`` (of two bytes or more) less those that hold another of them (in any
    ASCII case, as they are matched): wherever one of those is, the one it holds is."""
    kept: list[bytes] = []
    by_start: dict[bytes, list[bytes]] = {}  # the kept strings, folded, by first two bytes
    for string in sorted(strings, key=lambda s: (len(s), s)):
        folded = string.lower()
        if not any(
            folded.startswith(shorter, start)
            for start in range(len(folded) - 1)
            for shorter in by_start.get(folded[start : start + 2], ())
        ):
            kept.append(string)
            by_start.setdefault(folded[:2], []).append(folded)
    return kept


class _Re:
    """Python ``re``: one alternation per group finds where some pattern may start (in
    Unicode terms, so it finds every such place); then the patterns of the group that
    can begin with the character there are tried, with the meaning both backends give
    them (:func:`_python_regex`), and the Unicode word boundaries checked as for
    Hyperscan. So overlapping matches are all seen, as Hyperscan sees them, before the
    leftmost-longest rule picks."""

    def __init__(self, patterns: Sequence[Pattern]):
        groups: dict[tuple[str, bool], list[Pattern]] = {}
        for pattern in patterns:
            groups.setdefault((pattern.group, pattern.ignore_case), []).append(pattern)
        self.groups: list[tuple[re.Pattern[str], dict[str, list[_Member]], list[_Member]]] = []
        for (_, ignore_case), members in groups.items():
            starts = _start_finder(members, ignore_case)
            by_first: dict[str, list[_Member]] = {}
            anywhere: list[_Member] = []
            for p in members:
                body = _body(p.regex)
                body = bounded(body) or body  # as Hyperscan's, see GroupPlan.expressions
                member = (_python_regex(body, ignore_case), p, *_bounds(p.regex))
                first = _first_characters(body, ignore_case)
                for char in first if first is not None else ():
                    by_first.setdefault(char, []).append(member)
                if first is None:
                    anywhere.append(member)
            for listed in by_first.values():  # in the group's order, wherever they start
                listed.extend(anywhere)
                listed.sort(key=lambda member: members.index(member[1]))
            self.groups.append((starts, by_first, anywhere))

    def scan(self, scan: TextScan) -> list[Span]:
        text = scan.text
        spans = []
        for starts, by_first, anywhere in self.groups:
            match = starts.search(text)
            while match:
                position = match.start()
                word_before = position > 0 and _is_word(text[position - 1])
                for regex, pattern, left, right in by_first.get(text[position], anywhere):
                    found = regex.match(text, position)
                    if not found or found.end() == position or (left and word_before):
                        continue
                    end = found.end()
                    if right and end < len(text) and _is_word(text[end]):
                        continue
                    spans.append((position, -end, pattern.key))
                match = starts.search(text, position + 1)
        return spans


_Member = tuple[re.Pattern[str], Pattern, bool, bool]  # as `re`, the pattern, its bounds


def _start_finder(patterns: Sequence[Pattern], ignore_case: bool) -> re.Pattern[str]:
    """One expression matching wherever one of ``patterns`` may start: in Unicode terms
    (wider than the patterns' own ``\\w``, ``\\s`` and case folding), with the word
    boundary at the start of those that want one, none at the end. One leading ``\\b``
    before a single alternation is several times faster than one per pattern."""
    bounded = sorted({_body(p.regex) for p in patterns if _bounds(p.regex)[0]})
    unbounded = sorted({_body(p.regex) for p in patterns if not _bounds(p.regex)[0]})
    either = ([r"\b(?:" + "|".join(bounded) + ")"] if bounded else []) + (
        ["(?:" + "|".join(unbounded) + ")"] if unbounded else []
    )
    return re.compile("|".join(either), re.IGNORECASE if ignore_case else 0)


def _first_characters(body: str, ignore_case: bool) -> frozenset[str] | None:
    """The characters a match of ``body`` can begin with, or ``None`` when that is not
    plain (an optional first character, a group)."""
    one = _ONE_CHARACTER.match(body)
    if one is None or body[one.end() : one.end() + 1] in ("?", "*", "{"):
        return None
    piece = one.group()
    chars = piece[1:-1] if piece.startswith("[") else piece[-1]
    if ignore_case:
        chars += "".join(c.swapcase() for c in chars if c.isascii())
    return frozenset(chars)
