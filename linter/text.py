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
_CUT_MARKERS = re.compile(
    "|".join(
        (
            # Lotus Notes: "------- Forwarded by Jane Doe/HOU/ECT on 03/06/2001 08:54 AM ----"
            r"^[ \t]*-{3,}[ \t]*Forwarded by\b",
            # Outlook and most clients' banners
            r"^[ \t]*-{2,}[ \t]*(?:Original Message|Forwarded message|Forwarded Message|"
            r"Message d'origine|Urspr\u00fcngliche Nachricht|Mensaje original)[ \t]*-{2,}",
            r"^[ \t]*Begin forwarded message:",
            # Outlook header block: From: ... then Sent: or Date:
            r"^[ \t]*\*?From:\*?[ \t][^\n]+\n[ \t]*\*?(?:Sent|Date):\*?[ \t]",
            # Lotus Notes reply header: name line, date line, To: line
            r"^[^\n]{1,100}\n[ \t]*" + _DATE + r"[ \t]*\n[ \t]*To:",
            r"^[ \t]*(?:From:[ \t]*)?[^\n]{1,100}[ \t]on[ \t]" + _DATE + r"[^\n]*\n[ \t]*To:",
            # "On Tue, 3 Mar 2026 at 10:02, Dana <dana@acme.example> wrote:" (may wrap once)
            r"^[ \t]*On\b[^\n]{0,200}(?:\n[^\n]{0,200})?\bwrote:[ \t]*$",
            r"^[ \t]*(?:Le|Am)\b[^\n]{0,200}(?:\n[^\n]{0,200})?"
            r"\b(?:a \u00e9crit|schrieb)[ \t]*:?[ \t]*$",
            # signatures
            r"^-- ?$",
            r"^[ \t]*Sent from my (?:iPhone|iPad|Android|BlackBerry|mobile|phone)\b",
            r"^[ \t]*_{10,}[ \t]*$",
        )
    ),
    re.MULTILINE,
)
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
    marker = _CUT_MARKERS.search(text)
    if marker:
        quoted_parts.insert(0, text[marker.start() :])
        text = text[: marker.start()]
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


def one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
