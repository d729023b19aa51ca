"""Normalising text before rules read it.

* :func:`html_to_text` turns an HTML body into plain text (blocks become lines, entities
  are decoded, scripts and styles are dropped). It is a fast regular-expression pass,
  not a browser: good enough to find words, which is all rules do.
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

_HTML_DROP = re.compile(r"(?is)<(script|style|head|title)\b.*?</\1\s*>|<!--.*?-->")
_HTML_BREAK = re.compile(
    r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote|p|div|li|tr|h[1-6])\b[^>]*>"
)
_HTML_CELL = re.compile(r"(?i)<\s*/?t[dh]\b[^>]*>")
_HTML_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


def html_to_text(markup: str) -> str:
    text = _HTML_DROP.sub(" ", markup)
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_CELL.sub(" ", text)
    text = _HTML_TAG.sub("", text)
    text = html.unescape(text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", text).strip()


_DATE = r"\d{1,2}/\d{1,2}/\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?\s*[AaPp][Mm]"
# Each marker is tried only when one of its cues (plain substrings) is in the text: a
# fast substring search spares a multi-line regular expression on most messages.
_CUT_MARKERS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (cues, re.compile(pattern, re.MULTILINE))
    for cues, pattern in (
        # Lotus Notes: "------- Forwarded by Jane Doe/HOU/ECT on 03/06/2001 08:54 AM ----"
        (("Forwarded by",), r"^[ \t]*-{3,}[ \t]*Forwarded by\b"),
        # Outlook's and most clients' banners
        (
            (
                "Original Message",
                "orwarded message",
                "orwarded Message",
                "Message d'origine",
                "Urspr\u00fcngliche Nachricht",
                "Mensaje original",
            ),
            r"^[ \t]*-{2,}[ \t]*(?:Original Message|Forwarded message|Forwarded Message|"
            r"Message d'origine|Urspr\u00fcngliche Nachricht|Mensaje original)[ \t]*-{2,}",
        ),
        (("Begin forwarded",), r"^[ \t]*Begin forwarded message:"),
        # Outlook header block: From: ... then Sent: or Date:
        (("Sent:", "Date:"), r"^[ \t]*\*?From:\*?[ \t][^\n]+\n[ \t]*\*?(?:Sent|Date):\*?[ \t]"),
        # "On Tue, 3 Mar 2026 at 10:02, Dana <dana@acme.example> wrote:" (may wrap once)
        (("wrote:",), r"^[ \t]*On\b[^\n]{0,200}(?:\n[^\n]{0,200})?\bwrote:[ \t]*$"),
        (("crit",), r"^[ \t]*Le\b[^\n]{0,200}(?:\n[^\n]{0,200})?\ba \u00e9crit[ \t]*:?[ \t]*$"),
        (("schrieb",), r"^[ \t]*Am\b[^\n]{0,200}(?:\n[^\n]{0,200})?\bschrieb[ \t]*:?[ \t]*$"),
        # signatures
        (("\n-- ", "\n--\n"), r"^-- ?$"),
        (
            ("Sent from my",),
            r"^[ \t]*Sent from my (?:iPhone|iPad|Android|BlackBerry|mobile|phone)\b",
        ),
        (("__________",), r"^[ \t]*_{10,}[ \t]*$"),
    )
)
# Lotus Notes reply headers: a "To:" line under a date line ("10/23/2000 02:32 PM"),
# itself under the author's name, or under "Name on 10/23/2000 02:32 PM".
_TO_LINE = re.compile(r"^[ \t]*To:", re.MULTILINE)
_LOTUS_DATE_LINE = re.compile(r"[ \t]*" + _DATE + r"[ \t]*$")
_LOTUS_ON_DATE_LINE = re.compile(r"[^\n]{1,100}[ \t]on[ \t]" + _DATE)
MARKER_SPAN = 500  # no marker is longer; a search past the current cut stops here


def _lotus_header(text: str, cut: int) -> int:
    for to_line in _TO_LINE.finditer(text, 0, cut):
        start = to_line.start()
        previous_start = text.rfind("\n", 0, max(0, start - 1)) + 1
        previous = text[previous_start : max(previous_start, start - 1)]
        if _LOTUS_ON_DATE_LINE.match(previous):
            return previous_start
        if previous_start > 0 and _LOTUS_DATE_LINE.match(previous):
            return text.rfind("\n", 0, previous_start - 1) + 1
    return cut


_QUOTED_LINE = re.compile(r"^[ \t]*>[^\n]*\n?", re.MULTILINE)


def split_reply(text: str) -> tuple[str, str]:
    """Return ``(new_text, quoted_text)``."""
    if not text:
        return "", ""
    quoted_parts: list[str] = []
    if ">" in text:
        quoted_lines = _QUOTED_LINE.findall(text)
        if quoted_lines:
            quoted_parts.append("".join(quoted_lines))
            text = _QUOTED_LINE.sub("", text)
    cut = len(text)
    for cues, pattern in _CUT_MARKERS:
        for cue in cues:
            if cue in text:
                marker = pattern.search(text, 0, min(len(text), cut + MARKER_SPAN))
                if marker and marker.start() < cut:
                    cut = marker.start()
                break
    if "To:" in text:
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
