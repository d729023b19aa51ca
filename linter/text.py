"""Normalising text before rules read it.

* :func:`html_to_text` turns an HTML body into plain text: block tags (``br``, ``p``,
  ``div``, ``li``, ``tr``, ``h1``-``h6``, ``blockquote``) become line breaks, table cells
  spaces, other tags vanish; scripts, styles, ``head``, ``title`` and comments are dropped
  (an unclosed comment, script, style or title drops the rest of the body, as browsers
  do); entities are decoded and spaces and blank lines collapsed. A ``<`` that starts
  no tag ("a < b", "<3") is text, and so is every ``<`` after the last ``>``. It is one
  left-to-right pass, linear in the input however hostile (a search for a closer that
  fails is never tried again), not a browser: good enough to find words, which is all
  rules do.
* :func:`split_reply` separates the author's new text from what they quoted: ``>``
  quoted lines, "On ... wrote:" attributions, Outlook ``-----Original Message-----`` and
  ``From:``/``Sent:`` header blocks, Lotus Notes ``Forwarded by ... on ...`` banners and
  reply headers (name, date line, ``To:``), "Forwarded message" banners, and signatures
  (``-- `` and "Sent from my ..."). Rules read the new text; the rest stays available as
  the ``quoted`` field.
* :func:`snippet` cuts a bounded window around evidence, which is all of an item's
  content a finding keeps.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_RAW_ELEMENTS = ("script", "style", "head", "title")
# ASCII case only: under Unicode rules "\u017fcript" would match, and name no closer
_RAW_OPEN = re.compile(r"<((?ai:script|style|head|title))\b")
_RAW_CLOSE = {name: re.compile(rf"(?i)</{name}\s*>") for name in _RAW_ELEMENTS}
_BLOCK_TAG = re.compile(r"(?i)<\s*/?(?:br|p|div|li|tr|h[1-6]|blockquote)\b")
_CELL_TAG = re.compile(r"(?i)<\s*/?t[dh]\b")
# as in browsers, "<" then anything else ("a < b", "<3") is text, not a tag
_TAG_START = re.compile(r"<[A-Za-z/!?]")
# html.unescape reads a numeric reference with int(), which refuses more than 4300
# decimal digits: such references are shortened first (8 significant digits or more
# is past U+10FFFF, which html.unescape turns into U+FFFD anyway).
_LONG_CHARREF = re.compile(r"&#(?:([xX])([0-9a-fA-F]{8,})|([0-9]{8,}));?")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


def _short_charref(match: re.Match[str]) -> str:
    hexadecimal = match.group(1) or ""
    digits = (match.group(2) or match.group(3)).lstrip("0")
    if len(digits) > 7:
        return "\ufffd"
    return f"&#{hexadecimal}{digits or '0'};"


def _strip_tags(markup: str) -> str:
    """``markup`` with comments, script-like elements and tags replaced, not yet decoded.

    Every search for a closer that fails is not tried again: an unclosed comment,
    script, style or title ends the text; an unclosed ``head`` makes every later
    ``<head>`` a plain tag; no ``>`` left makes every later ``<`` text. So each
    character is read a bounded number of times.
    """
    out: list[str] = []
    copied = 0  # markup[:copied] is dealt with
    head_unclosed = False  # no </head> after some <head>, so after none later either
    found = markup.find("<")
    while found != -1:
        if markup.startswith("<!--", found):
            out.append(markup[copied:found])
            out.append(" ")
            close = markup.find("-->", found + 4)
            if close == -1:
                return "".join(out)
            copied = close + 3
            found = markup.find("<", copied)
            continue
        raw = _RAW_OPEN.match(markup, found)
        name = raw.group(1).lower() if raw else ""
        if raw and not (name == "head" and head_unclosed):
            closer = _RAW_CLOSE[name].search(markup, raw.end())
            if closer or name != "head":
                out.append(markup[copied:found])
                out.append(" ")
                if not closer:
                    return "".join(out)  # raw text runs to the end, as in browsers
                copied = closer.end()
                found = markup.find("<", copied)
                continue
            head_unclosed = True  # the end tag of head is optional: keep its content
        block = _BLOCK_TAG.match(markup, found)
        cell = None if block else _CELL_TAG.match(markup, found)
        if block or cell or _TAG_START.match(markup, found):
            close = markup.find(">", found + 1)
            if close == -1:
                break  # no tag can end any more: the rest is text
            out.append(markup[copied:found])
            out.append("\n" if block else " " if cell else "")
            copied = close + 1
            found = markup.find("<", copied)
        else:
            found = markup.find("<", found + 1)
    out.append(markup[copied:])
    return "".join(out)


def html_to_text(markup: str) -> str:
    text = _strip_tags(markup)
    if "&#" in text:
        text = _LONG_CHARREF.sub(_short_charref, text)
    text = html.unescape(text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", text).strip()


_DATE = r"\d{1,2}/\d{1,2}/\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?\s*[AaPp][Mm]"


@dataclass(frozen=True)
class _Marker:
    """Where quoted or signature text begins.

    A marker is looked for only when one of its ``cues`` (plain substrings) is in the
    text. It is then found without running its multi-line expression over the whole
    text: every match contains one of the ``anchors`` and starts at the beginning of
    the anchor's line or of one of the ``lines_before`` lines above it, so the
    expression is only tried at those few line starts.
    """

    cues: tuple[str, ...]
    anchors: tuple[str, ...]
    lines_before: int
    pattern: re.Pattern[str]


def _marker(
    cues: tuple[str, ...], pattern: str, anchors: tuple[str, ...] = (), lines_before: int = 0
) -> _Marker:
    return _Marker(cues, anchors or cues, lines_before, re.compile(pattern, re.MULTILINE))


_BANNERS = (
    "Original Message",
    "orwarded message",
    "orwarded Message",
    "Message d'origine",
    "Urspr\u00fcngliche Nachricht",
    "Mensaje original",
)
_CUT_MARKERS = (
    # Lotus Notes: "------- Forwarded by Jane Doe/HOU/ECT on 03/06/2001 08:54 AM ----"
    _marker(("Forwarded by",), r"^[ \t]*-{3,}[ \t]*Forwarded by\b"),
    # Outlook's and most clients' banners
    _marker(
        _BANNERS,
        r"^[ \t]*-{2,}[ \t]*(?:Original Message|Forwarded message|Forwarded Message|"
        r"Message d'origine|Urspr\u00fcngliche Nachricht|Mensaje original)[ \t]*-{2,}",
    ),
    _marker(("Begin forwarded",), r"^[ \t]*Begin forwarded message:"),
    # Outlook header block: From: ... then Sent: or Date:
    _marker(
        ("Sent:", "Date:"),
        r"^[ \t]*\*?From:\*?[ \t][^\n]+\n[ \t]*\*?(?:Sent|Date):\*?[ \t]",
        anchors=("From:",),
    ),
    # "On Tue, 3 Mar 2026 at 10:02, Dana <dana@acme.example> wrote:" (may wrap once)
    _marker(
        ("wrote:",), r"^[ \t]*On\b[^\n]{0,200}(?:\n[^\n]{0,200})?\bwrote:[ \t]*$", lines_before=1
    ),
    _marker(
        ("crit",),
        r"^[ \t]*Le\b[^\n]{0,200}(?:\n[^\n]{0,200})?\ba \u00e9crit[ \t]*:?[ \t]*$",
        anchors=("a \u00e9crit",),
        lines_before=1,
    ),
    _marker(
        ("schrieb",),
        r"^[ \t]*Am\b[^\n]{0,200}(?:\n[^\n]{0,200})?\bschrieb[ \t]*:?[ \t]*$",
        lines_before=1,
    ),
    # signatures
    _marker(("\n-- ", "\n--\n"), r"^-- ?$", anchors=("\n--",)),
    _marker(
        ("Sent from my",), r"^[ \t]*Sent from my (?:iPhone|iPad|Android|BlackBerry|mobile|phone)\b"
    ),
    _marker(("__________",), r"^[ \t]*_{10,}[ \t]*$"),
)
# Lotus Notes reply headers: a "To:" line under a date line ("10/23/2000 02:32 PM"),
# itself under the author's name, or under "Name on 10/23/2000 02:32 PM".
_TO_LINE = re.compile(r"^[ \t]*To:", re.MULTILINE)
_LOTUS_DATE_LINE = re.compile(r"[ \t]*" + _DATE + r"[ \t]*$")
_LOTUS_ON_DATE_LINE = re.compile(r"[^\n]{1,100}[ \t]on[ \t]" + _DATE)
MARKER_SPAN = 500  # no marker is longer; a search past the current cut stops here


def _line_start(text: str, position: int) -> int:
    return text.rfind("\n", 0, position) + 1


class _CueFinder:
    """Which of a fixed set of substrings occur in a text.

    Testing twenty substrings one by one reads a long message twenty times; with the
    ``hyperscan`` wheel (a dependency where it exists) one pass answers for all of them.
    """

    def __init__(self, cues: Iterable[str]) -> None:
        self.cues = tuple(dict.fromkeys(cues))
        self._database: Any = None
        self._scratch: Any = None
        self._compiled = False

    def _compile(self) -> None:
        self._compiled = True
        try:
            import hyperscan
        except ImportError:  # pragma: no cover - depends on the platform's wheels
            return
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(
            expressions=[cue.encode("utf-8") for cue in self.cues],
            ids=list(range(len(self.cues))),
            flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(self.cues),
            literal=True,
        )
        self._database, self._scratch = database, hyperscan.Scratch(database)

    def present(self, text: str) -> set[str]:
        if not self._compiled:
            self._compile()
        if self._database is None:
            return {cue for cue in self.cues if cue in text}
        found: set[str] = set()
        cues = self.cues

        def on_match(cue: int, start: int, end: int, flags: int, context: Any) -> None:
            found.add(cues[cue])

        self._database.scan(
            text.encode("utf-8", "surrogatepass"),
            match_event_handler=on_match,
            scratch=self._scratch,
        )
        return found


_CUES = _CueFinder([cue for marker in _CUT_MARKERS for cue in marker.cues] + ["To:"])


def _first_match(marker: _Marker, text: str, below: int, endpos: int) -> int:
    """Where the leftmost match of ``marker`` in ``text[:endpos]`` starts, if that is
    before ``below``; else -1. The same answer as ``pattern.search(text, 0, endpos)``."""
    best = -1
    for anchor in marker.anchors:
        first_line = anchor.startswith("\n") and text.startswith(anchor[1:], 0, endpos)
        if first_line and below > 0 and marker.pattern.match(text, 0, endpos):
            return 0  # the first line has no line end before it: the earliest start
        found = text.find(anchor, 0, endpos)
        while found != -1:
            bound = best if best != -1 else below
            line = _line_start(text, found + len(anchor) - 1)
            starts = [line]
            for _ in range(marker.lines_before):
                if line == 0:
                    break
                line = _line_start(text, line - 1)
                starts.append(line)
            if starts[-1] >= bound:
                break  # later anchors only give later line starts
            for start in reversed(starts):  # the earliest line first
                if start < bound and marker.pattern.match(text, start, endpos):
                    best = bound = start
                    break
            found = text.find(anchor, found + 1, endpos)
    return best


def _lotus_header(text: str, cut: int) -> int:
    found, last = text.find("To:", 0, cut), -1
    while found != -1:
        start = _line_start(text, found)
        if start != last and _TO_LINE.match(text, start, cut):
            last = start
            previous_start = text.rfind("\n", 0, max(0, start - 1)) + 1
            previous = text[previous_start : max(previous_start, start - 1)]
            if _LOTUS_ON_DATE_LINE.match(previous):
                return previous_start
            if previous_start > 0 and _LOTUS_DATE_LINE.match(previous):
                return text.rfind("\n", 0, previous_start - 1) + 1
        found = text.find("To:", found + 1, cut)
    return cut


def _without_quoted_lines(text: str) -> tuple[str, str]:
    """``text`` without its ``>`` quoted lines, and those lines (each with its line end).

    Lines are found from the ``>`` characters, not by trying every line: most text has
    none, or only a few inside other words.
    """
    kept: list[str] = []
    quoted: list[str] = []
    copied = 0  # text[:copied] is dealt with
    found = text.find(">")
    while found != -1:
        start = _line_start(text, found)
        end = text.find("\n", found)
        end = len(text) if end == -1 else end + 1
        if not text[start:found].strip(" \t"):
            kept.append(text[copied:start])
            quoted.append(text[start:end])
            copied = end
        found = text.find(">", end)
    if not quoted:
        return text, ""
    kept.append(text[copied:])
    return "".join(kept), "".join(quoted)


def split_reply(text: str) -> tuple[str, str]:
    """Return ``(new_text, quoted_text)``."""
    if not text:
        return "", ""
    quoted_parts: list[str] = []
    text, quoted_lines = _without_quoted_lines(text)
    if quoted_lines:
        quoted_parts.append(quoted_lines)
    cut = len(text)
    present = _CUES.present(text)
    for marker in _CUT_MARKERS:
        if any(cue in present for cue in marker.cues):
            start = _first_match(marker, text, cut, min(len(text), cut + MARKER_SPAN))
            if start != -1:
                cut = start
    if "To:" in present:
        cut = _lotus_header(text, cut)
    if cut < len(text):
        quoted_parts.insert(0, text[cut:])
        text = text[:cut]
    return text.strip(), "\n".join(part.strip() for part in quoted_parts).strip()


def snippet(text: str, start: int, end: int, width: int = 40) -> str:
    """A window of at most about ``2 * width`` characters around ``text[start:end]``."""
    left = max(0, start - width)
    right = min(len(text), end + width)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space != -1 else left
    if right < len(text):
        space = text.rfind(" ", end, right)
        right = space if space != -1 else right
    body = " ".join(text[left:right].split())
    return ("…" if left > 0 else "") + body + ("…" if right < len(text) else "")
