"""Runs of word separators in patterns: taken out for a cheap first pass, bounded for
the exact scans.

Lexicon terms are phrases: ``pay you in pints`` is compiled to
``pay[\\s\\-]+you[\\s\\-]+in[\\s\\-]+pints``. Those unbounded runs of separators between
words keep Hyperscan from searching for whole phrases, and make a scan several times
slower than one for the same words as plain strings.

:func:`without_separators` rewrites such an expression with every separator run
(``[\\s\\-]`` and its quantifier) removed: ``payyouinpints``. Scanned against the text
with every separator character (ASCII white space and ``-``, exactly what Hyperscan's
``[\\s\\-]`` matches) deleted, the rewritten expression matches wherever the original
matches the original text, and sometimes where it does not. So "no match there" is a
proof of "no match here", which is what a first pass needs; it never decides a hit.

The rewriting is only done when it is provably safe: every other part of the
expression must be unable to match a separator character. Anything this module does not
recognise makes it give up (``None``), and the caller then simply skips the first pass.

The exact scans use :func:`bounded` expressions instead: each run between two words
is at most :data:`LONG_RUN` separators (``pay[\\s\\-]{1,8}you...``), which Hyperscan
scans about five times faster, starts of matches included. They find every match whose
runs are that short. A longer run (a line of dashes between two paragraphs) is first
cut to two spaces in a copy of the text (:func:`shorten_runs`): a run between two
words of a match is all of one ``[\\s\\-]+`` (its neighbours are no separators), which
two spaces still fill and an optional ``[\\s\\-]?`` still refuses, so the copy holds the
same matches, and :meth:`Shortened.original` gives back their offsets in the text.

The bound stays well under 16: this Hyperscan misses matches of bounded repeats of 16
and over (``a[\\s\\-]{1,16}proposal`` in ``"=\\ns=20\\nof such a\\nproposal"``), and of
some unbounded ones with start offsets (``a[\\s\\-]+hike`` after a line of dashes, UTF-8
and caseless); every bound up to 15 agrees with Python ``re`` in fuzzing.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable
from typing import NamedTuple

SEPARATOR_RUN = r"[\s\-]"
SEPARATOR_CHARS = "\t\n\x0b\x0c\r -"
SEPARATOR_BYTES = SEPARATOR_CHARS.encode("ascii")
_QUANTIFIERS = "?*+"
_SAFE_ESCAPED_CLASSES = "wd"  # \w and \d never match a separator (ASCII in Hyperscan)
LONG_RUN = 8  # the most separators a bounded expression takes between two words (< 16!)
# Hyperscan, without UTF-8 mode: a run of more than LONG_RUN separators, reported once
# (at the end of the byte after it); a run that ends the text cannot be inside a match
LONG_RUN_EXPRESSION = rf"[\s\-]{{{LONG_RUN + 1}}}[^\s\-]"
SHORT_RUN = b"  "  # what a long run is cut to: two separators, as no `?` takes


# words and separator runs only, the shape of most lexicon forms: rewritten directly
_PLAIN = re.compile(r"(?:[A-Za-z0-9]+|\[\\s\\-\][+?])+")


def without_separators(expression: str) -> str | None:
    """``expression`` with its separator runs removed, or ``None`` when that cannot be
    shown to keep every match (see the module's documentation)."""
    if _PLAIN.fullmatch(expression) and not expression.startswith(SEPARATOR_RUN):
        rewritten = expression.replace(SEPARATOR_RUN + "+", "").replace(SEPARATOR_RUN + "?", "")
        return rewritten or None
    out: list[str] = []
    position, length = 0, len(expression)
    while position < length:
        char = expression[position]
        if expression.startswith(SEPARATOR_RUN, position):
            position = _skip_quantifier(expression, position + len(SEPARATOR_RUN))
            continue
        if char == "\\":
            escaped = expression[position + 1 : position + 2]
            if not escaped or escaped in SEPARATOR_CHARS:
                return None
            if escaped.isalnum() and escaped not in _SAFE_ESCAPED_CLASSES:
                return None  # \s, \b, \x41, ...: not worth proving safe
            out.append(expression[position : position + 2])
            position += 2
        elif char == "[":
            end = _class_end(expression, position)
            if end == -1:
                return None
            out.append(expression[position:end])
            position = end
        elif expression.startswith("(?:", position):
            out.append("(?:")
            position += 3
        elif char in "|)" + _QUANTIFIERS:
            out.append(char)
            position += 1
        elif char in "(.^${}" or char in SEPARATOR_CHARS:
            return None
        else:
            out.append(char)
            position += 1
    rewritten = "".join(out)
    # a separator that was all of a group or an alternative would leave it empty
    if not rewritten or "()" in rewritten or "(?:)" in rewritten or "|)" in rewritten:
        return None
    if "(?:|" in rewritten or "||" in rewritten or rewritten.startswith("|"):
        return None
    return rewritten


# one character of a rewritten expression: a class of plain characters, escaped
# punctuation, or a plain character
_PIECE = re.compile(r"\[([^\]\\\-^]+)\]|\\([^\w\s])|([^\\\[\](){}|?*+.^$])")
MAX_LITERALS = 16  # spellings of one expression's necessary string (['’] doubles them)


def necessary_literals(rewritten: str) -> list[str] | None:
    """Strings one of which every match of ``rewritten`` (a :func:`without_separators`
    expression) contains: its longest stretch of plain characters, spelt every way its
    classes allow (``['’]sparty``: ``'sparty``, ``’sparty``). ``None`` when there is none
    worth having, or the expression has groups or alternatives.

    A first pass that looks for these strings instead of the expressions themselves
    rules out no more: plain strings need a smaller, faster Hyperscan database.
    """
    if rewritten.isalnum() and rewritten.isascii():  # most: words run together
        return [rewritten] if len(rewritten) > 1 else None
    runs: list[list[str]] = []
    run: list[str] = []
    position = 0
    while position < len(rewritten):
        piece = _PIECE.match(rewritten, position)
        if piece and rewritten[piece.end() : piece.end() + 1] not in ("?", "*", "{"):
            run.append(piece.group(1) or piece.group(2) or piece.group(3))
            position = piece.end()
            continue
        if run:
            runs.append(run)
            run = []
        if piece:  # a character made optional or repeated: skip it and its quantifier
            position = piece.end() + 1
        elif rewritten.startswith(("\\w*", "\\d*", "\\w+", "\\d+"), position):
            position += 3
        else:
            return None
    if run:
        runs.append(run)
    longest = max(runs, key=len, default=[])
    spellings = 1
    for choices in longest:
        spellings *= len(choices)
    if len(longest) < 2 or spellings > MAX_LITERALS:
        return None
    return ["".join(chars) for chars in itertools.product(*longest)]


def bounded(expression: str, safe: bool | None = None) -> str | None:
    """``expression`` with each ``[\\s\\-]+`` limited to :data:`LONG_RUN` separators, or
    ``None`` when its other parts might match a separator (then cutting long runs could
    change what it matches): when :func:`without_separators` gives ``None``. ``safe``
    is whether it does not, for a caller that knows already."""
    if safe is None:
        safe = without_separators(expression) is not None
    if not safe:
        return None
    return expression.replace(SEPARATOR_RUN + "+", f"{SEPARATOR_RUN}{{1,{LONG_RUN}}}")


def _skip_quantifier(expression: str, position: int) -> int:
    if expression[position : position + 1] in tuple(_QUANTIFIERS):
        return position + 1
    return position


def _class_end(expression: str, start: int) -> int:
    """The offset after a character class of plain characters none of which is a
    separator; -1 for anything else (negation, ranges, escapes, separators)."""
    position = start + 1
    if expression[position : position + 1] in ("^", "]", ""):
        return -1
    while position < len(expression):
        char = expression[position]
        if char == "]":
            return position + 1
        if char in "\\[-" or char in SEPARATOR_CHARS:
            return -1
        position += 1
    return -1


class Shortened(NamedTuple):  # a tuple: a dataclass has its methods generated at every start
    """A text (UTF-8) with its long separator runs cut to :data:`SHORT_RUN`."""

    data: bytes
    after: tuple[int, ...] = ()  # where each cut run ends, in ``data``
    shift: tuple[int, ...] = ()  # bytes taken out up to and including each cut run

    def original(self, offset: int) -> int:
        """The offset in the text of an offset in ``data`` (not inside a cut run)."""
        if not self.after:
            return offset
        index = bisect.bisect_right(self.after, offset) - 1
        return offset if index < 0 else offset + self.shift[index]


def shorten_runs(data: bytes, ends: Iterable[int]) -> Shortened:
    """``data`` with each run of separators that ends at one of ``ends`` (offsets, in
    order, of the byte after a run) cut to :data:`SHORT_RUN`."""
    parts: list[bytes | memoryview] = []
    after: list[int] = []
    shift: list[int] = []
    copied = removed = 0
    view = memoryview(data)  # slices of it are not copied until the join
    for end in ends:
        start = _run_start(data, end)
        if start < copied or end - start <= len(SHORT_RUN):
            continue
        parts += (view[copied:start], SHORT_RUN)
        removed += end - start - len(SHORT_RUN)
        after.append(end - removed)
        shift.append(removed)
        copied = end
    if not parts:
        return Shortened(data)
    parts.append(view[copied:])
    return Shortened(b"".join(parts), tuple(after), tuple(shift))


def _run_start(data: bytes, end: int) -> int:
    """Where the run of separators ending at ``end`` starts."""
    position = end
    while position > 0:
        chunk = data[max(0, position - 256) : position]
        kept = len(chunk.rstrip(SEPARATOR_BYTES))
        if kept:
            return position - len(chunk) + kept
        position -= len(chunk)
    return 0
