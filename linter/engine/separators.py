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

The exact scans, with either backend, use :func:`bounded` expressions wherever the
rewriting is safe: the words of a phrase are at most :data:`LONG_RUN` separators apart
(``pay[\\s\\-]{1,8}you...``). A longer run between two words (a ruled line of dashes,
a table's padding, a stack of blank lines) is layout, not a phrase, and ends one.
Hyperscan also scans bounded expressions about five times faster, starts of matches
included, and needs no pass of its own to find the long runs.

The bound stays well under 16: this Hyperscan misses matches of bounded repeats of 16
and over (``a[\\s\\-]{1,16}proposal`` in ``"=\\ns=20\\nof such a\\nproposal"``), and of
some unbounded ones with start offsets (``a[\\s\\-]+hike`` after a line of dashes, UTF-8
and caseless); every bound up to 15 agrees with Python ``re`` in fuzzing.
"""

from __future__ import annotations

import itertools
import re

SEPARATOR_RUN = r"[\s\-]"
SEPARATOR_CHARS = "\t\n\x0b\x0c\r -"
SEPARATOR_BYTES = SEPARATOR_CHARS.encode("ascii")
_QUANTIFIERS = "?*+"
_SAFE_ESCAPED_CLASSES = "wd"  # \w and \d never match a separator (ASCII in Hyperscan)
LONG_RUN = 8  # the most separators between two words of a phrase (< 16!)


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
