"""Patterns with their word separators taken out, for a cheap first pass.

Lexicon terms are phrases: ``pay you in pints`` is compiled to
``pay[\\s\\-]+you[\\s\\-]+in[\\s\\-]+pints``. Those variable runs of separators between
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

The first pass can also say *where* a long text may hold matches. :func:`strip_separators`
keeps, for every block of the text, where it begins in the stripped text, and
:func:`windows` turns the stripped spans the first pass found back into ranges of the
text that hold every real match (whole blocks, widened over separator runs and to
character boundaries, merged), so a long newsletter is scanned only where it matters.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable

SEPARATOR_RUN = r"[\s\-]"
SEPARATOR_CHARS = "\t\n\x0b\x0c\r -"
SEPARATOR_BYTES = SEPARATOR_CHARS.encode("ascii")
_SEPARATOR_SET = frozenset(SEPARATOR_BYTES)
_QUANTIFIERS = "?*+"
_SAFE_ESCAPED_CLASSES = "wd"  # \w and \d never match a separator (ASCII in Hyperscan)


def without_separators(expression: str) -> str | None:
    """``expression`` with its separator runs removed, or ``None`` when that cannot be
    shown to keep every match (see the module's documentation)."""
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


def strip_separators(data: bytes, block: int) -> tuple[bytes, list[int]]:
    """``data`` without its separator bytes, and where each ``block`` bytes of ``data``
    begin in the result."""
    parts = [
        data[start : start + block].translate(None, SEPARATOR_BYTES)
        for start in range(0, len(data), block)
    ]
    starts = list(itertools.accumulate((len(part) for part in parts), initial=0))
    return b"".join(parts), starts[:-1]


def windows(
    spans: Iterable[tuple[int, int]], starts: list[int], data: bytes, block: int
) -> list[tuple[int, int]]:
    """Ranges of ``data`` (UTF-8) holding every match whose stripped image starts and
    ends as one of ``spans`` does (or earlier), merged and in order.

    A match begins at or after the block holding its image's first byte, less any
    separators just before (a leading separator run is not in the image); it ends at or
    before the end of the block holding the image's last byte, plus separators after.
    """
    blocks = sorted(
        (
            bisect.bisect_right(starts, stripped_start) - 1,
            bisect.bisect_right(starts, max(stripped_start, stripped_end - 1)) - 1,
        )
        for stripped_start, stripped_end in spans
    )
    merged: list[tuple[int, int]] = []
    for first, last in _runs(blocks):
        start, end = _widened(data, first * block, min(len(data), (last + 1) * block))
        if merged and start <= merged[-1][1]:
            merged[-1] = (min(merged[-1][0], start), max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _runs(blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted block ranges joined where they overlap or touch."""
    runs: list[tuple[int, int]] = []
    for first, last in blocks:
        if runs and first <= runs[-1][1] + 1:
            if last > runs[-1][1]:
                runs[-1] = (runs[-1][0], last)
        else:
            runs.append((first, last))
    return runs


def _widened(data: bytes, start: int, end: int) -> tuple[int, int]:
    while start > 0 and 0x80 <= data[start] <= 0xBF:  # to a character's first byte
        start -= 1
    while start > 0 and data[start - 1] in _SEPARATOR_SET:
        start -= 1
    while end < len(data) and data[end] in _SEPARATOR_SET:
        end += 1
    while end < len(data) and 0x80 <= data[end] <= 0xBF:
        end += 1
    return start, end
