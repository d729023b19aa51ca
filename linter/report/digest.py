"""The daily digest email: what it says and how it looks.

The worker decides *which* findings go into a digest; this module only turns a
:class:`Digest` into a subject, an HTML body and a plain-text body
(:class:`RenderedDigest`). It does no I/O besides reading its own templates, so the
same digest always renders the same way and ``clientline digest --preview`` shows
exactly what would be sent.

What a digest contains, in order:

* a header with counts: new findings, findings still open, and all of them by severity;
* new findings per day over the last 14 days, as a small bar chart (table cells in
  HTML, Unicode blocks in text; no images, no scripts);
* "New since last digest", then "Still open", each grouped by client (sorted by name,
  "No client" last), each finding with its rule id and title, severity, the item's
  title and time, up to three evidence snippets, the principles it serves, the advice,
  and the exact command that acknowledges it.

A digest with nothing new and nothing open renders as a short "nothing new" note.

Privacy: a digest carries no message or event bodies, only the snippets the engine
kept, each cut to :data:`SNIPPET_CHARS` characters. A private calendar event shows as
"(private event)": its title, the rule's message (which quotes the title and matched
words) and its evidence are left out.

The HTML uses tables and inline styles only, which is what Gmail, Outlook and Apple
Mail agree on; everything taken from items is escaped by Jinja2's autoescaping. The
text part is wrapped at 78 columns; commands are never wrapped so they can be copied.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

from linter.model import Severity

TREND_DAYS = 14
SNIPPET_CHARS = 200  # per evidence snippet
MAX_SNIPPETS = 3  # per finding
TEXT_WIDTH = 78
NO_CLIENT = "No client"
PRIVATE_TITLE = "(private event)"
_BAR_PX = 36  # height of the tallest trend bar in the HTML chart
_BLOCKS = "▁▂▃▄▅▆▇█"

# Field limits: a rule message or advice is written by people and can be long, but a
# digest must stay readable and bounded whatever a rule pack or an item contains.
_LIMITS = {"title": 200, "message": 500, "advice": 600, "principle": 200, "client": 120}

_COLOURS = {  # (text, background) per severity, readable on white and in dark mode
    Severity.ERROR: ("#b42318", "#fee4e2"),
    Severity.WARNING: ("#93370d", "#fef0c7"),
    Severity.INFO: ("#175cd3", "#d1e9ff"),
}


@dataclass(frozen=True)
class DigestEntry:
    """One finding as the digest shows it (the worker builds these from the store)."""

    fingerprint: str  # 16 hex chars
    rule: str  # "CL101"
    title: str  # rule title
    severity: Severity
    message: str  # the finding's rendered message
    client: str  # the label the finding is grouped under; "" -> "No client"
    item_kind: str  # "event" | "message"
    item_title: str
    item_when: dt.datetime | None
    item_source: str
    evidence: tuple[str, ...]  # snippets; cut again here to SNIPPET_CHARS
    principles: tuple[tuple[str, str], ...]  # (id, one-line summary)
    advice: str
    first_seen: dt.datetime
    status: str  # open | acknowledged ...
    private: bool = False  # a private event: show PRIVATE_TITLE, no message or evidence


@dataclass(frozen=True)
class Digest:
    generated_at: dt.datetime  # aware, in the user's timezone
    timezone: str
    new: Sequence[DigestEntry]  # new since the last delivered digest
    still_open: Sequence[DigestEntry]  # open, already reported before
    trend: Sequence[tuple[dt.date, int]]  # new findings per day (oldest first)
    ack_command: str = 'clientline ack {fingerprint} --reason "..."'
    # Entries after this many in a section are listed in one or two lines each, so a
    # first digest after a year of mail stays readable (Gmail clips HTML over ~100 KB).
    full_entries: int = 40

    @property
    def empty(self) -> bool:
        return not self.new and not self.still_open


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    text: str


# -- what the templates see ---------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    rule: str
    title: str
    severity: str
    colour: str
    background: str
    kind: str
    item_title: str
    when: str
    source: str
    message: str
    evidence: tuple[str, ...]
    principles: tuple[tuple[str, str], ...]
    advice: str
    first_seen: str
    status: str
    ack: str
    full: bool  # False: listed in brief, beyond Digest.full_entries


@dataclass(frozen=True)
class _Group:
    client: str
    entries: tuple[_Entry, ...]


@dataclass(frozen=True)
class _Section:
    title: str
    count: int
    groups: tuple[_Group, ...]
    none: str  # what to say when the section is empty
    brief: int  # how many entries are listed in brief


@dataclass(frozen=True)
class _Day:
    day: dt.date
    count: int
    height: int  # px, for the HTML bar
    label: str  # day of month
    weekday: str  # one letter


@dataclass(frozen=True)
class _Trend:
    days: tuple[_Day, ...]
    total: int
    peak: int
    sparkline: str
    span: str  # "9 Nov – 22 Nov"


def render(digest: Digest) -> RenderedDigest:
    """Render a digest as a subject, an HTML body and a plain-text body."""
    tz = _zone(digest)
    now = _local(digest.generated_at, tz)
    everything = [*digest.new, *digest.still_open]
    by_severity = [
        (_plural(n, str(sev)), n, *_COLOURS[sev])
        for sev in sorted(Severity, reverse=True)
        if (n := sum(1 for e in everything if e.severity == sev))
    ]
    title = subject(digest)
    context = {
        "subject": title,
        "generated": _format_time(now),
        "timezone": digest.timezone,
        "empty": digest.empty,
        "new_count": len(digest.new),
        "open_count": len(digest.still_open),
        "by_severity": by_severity,
        "trend": _trend(digest.trend, now.date()),
        "sections": (
            _section("New since last digest", digest.new, digest, tz, "Nothing new."),
            _section("Still open", digest.still_open, digest, tz, "Nothing else is open."),
        ),
        "ack_example": digest.ack_command.replace("{fingerprint}", "ID"),
    }
    html = _environment().get_template("digest.html.j2").render(context)
    text = _environment().get_template("digest.txt.j2").render(context)
    return RenderedDigest(title, html, _tidy_text(text))


def subject(digest: Digest) -> str:
    """``clientline: 3 new, 5 open findings (2026-11-22)``; "open" counts those
    reported before and still open, so the two numbers never overlap."""
    day = _local(digest.generated_at, _zone(digest)).date().isoformat()
    if digest.empty:
        return f"clientline: nothing new, no open findings ({day})"
    still = len(digest.still_open)
    noun = "finding" if still == 1 else "findings"
    return f"clientline: {len(digest.new)} new, {still} open {noun} ({day})"


# -- building the view --------------------------------------------------------------


def _section(
    title: str, entries: Sequence[DigestEntry], digest: Digest, tz: dt.tzinfo, none: str
) -> _Section:
    groups: dict[str, list[DigestEntry]] = {}
    for entry in entries:
        client = _line(entry.client, _LIMITS["client"]) or NO_CLIENT
        groups.setdefault(client, []).append(entry)
    ordered = sorted(groups, key=lambda c: (c == NO_CLIENT, c.casefold(), c))
    shown = 0
    built: list[_Group] = []
    for client in ordered:
        views = []
        for entry in _sorted(groups[client], tz):
            views.append(_entry(entry, digest, tz, full=shown < digest.full_entries))
            shown += 1
        built.append(_Group(client, tuple(views)))
    brief = max(0, len(entries) - digest.full_entries)
    return _Section(title, len(entries), tuple(built), none, brief)


def _sorted(entries: list[DigestEntry], tz: dt.tzinfo) -> list[DigestEntry]:
    # worst first, then in the order things happen; undated items last
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(
        entries,
        key=lambda e: (
            -e.severity,
            _local(e.item_when, tz) if e.item_when else far,
            e.rule,
            e.fingerprint,
        ),
    )


def _entry(entry: DigestEntry, digest: Digest, tz: dt.tzinfo, *, full: bool) -> _Entry:
    severity = Severity(entry.severity)
    colour, background = _COLOURS[severity]
    private = entry.private
    evidence = (
        ()
        if private
        else tuple(s for s in (_line(x, SNIPPET_CHARS) for x in entry.evidence[:MAX_SNIPPETS]) if s)
    )
    return _Entry(
        rule=_line(entry.rule, 20),
        title=_line(entry.title, _LIMITS["title"]),
        severity=str(severity),
        colour=colour,
        background=background,
        kind="Event" if entry.item_kind == "event" else "Message",
        item_title=PRIVATE_TITLE if private else _line(entry.item_title, _LIMITS["title"]),
        when=_format_time(_local(entry.item_when, tz)) if entry.item_when else "",
        source=_line(entry.item_source, _LIMITS["title"]),
        message=(
            "Details are hidden because the event is private."
            if private
            else _line(entry.message, _LIMITS["message"])
        ),
        evidence=evidence,
        principles=tuple(
            (_line(pid, 10), _line(summary, _LIMITS["principle"]))
            for pid, summary in entry.principles
        ),
        advice=_line(entry.advice, _LIMITS["advice"]),
        first_seen=_local(entry.first_seen, tz).date().isoformat(),
        status=_line(entry.status, 20),
        # the fingerprint goes into a shell command: keep only what a fingerprint is made of
        ack=digest.ack_command.replace("{fingerprint}", re.sub(r"\W", "", entry.fingerprint)),
        full=full,
    )


def _trend(points: Sequence[tuple[dt.date, int]], today: dt.date) -> _Trend:
    # Always exactly TREND_DAYS days ending today: the worker may leave out quiet days.
    counts: dict[dt.date, int] = {}
    for day, count in points:
        counts[day] = counts.get(day, 0) + max(0, int(count))
    days = [today - dt.timedelta(days=n) for n in range(TREND_DAYS - 1, -1, -1)]
    values = [counts.get(day, 0) for day in days]
    peak = max(values)
    return _Trend(
        days=tuple(
            _Day(
                day=day,
                count=n,
                height=max(2, round(_BAR_PX * n / peak)) if n else 1,
                label=str(day.day),
                weekday=day.strftime("%a")[0],
            )
            for day, n in zip(days, values, strict=True)
        ),
        total=sum(values),
        peak=peak,
        sparkline="".join(
            _BLOCKS[min(len(_BLOCKS) - 1, (n * len(_BLOCKS) - 1) // peak)] if n else "·"
            for n in values
        ),
        span=f"{_short_date(days[0])} – {_short_date(days[-1])}",
    )


# -- text helpers -------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"\s+")


def _line(value: str, limit: int) -> str:
    """One line of at most ``limit`` characters: control and bidi characters removed
    (they could disguise a snippet), whitespace collapsed, cut at a word with "…"."""
    text = _SPACE.sub(" ", _CONTROL.sub(" ", str(value))).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _wrap(text: str, indent: str = "", first: str | None = None) -> str:
    """Wrap prose at TEXT_WIDTH columns; ``first`` replaces the indent on line one."""
    return textwrap.fill(
        text,
        width=TEXT_WIDTH,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )


def _label(text: str) -> str:
    return text.ljust(16)


def _tidy_text(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _plural(n: int, noun: str) -> str:
    # "info" is a mass noun: "3 info", but "3 warnings"
    return f"{n} {noun}" if n == 1 or noun == "info" else f"{n} {noun}s"


# -- time helpers -------------------------------------------------------------------


def _zone(digest: Digest) -> dt.tzinfo:
    try:
        return ZoneInfo(digest.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return digest.generated_at.tzinfo or dt.UTC


def _local(moment: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    # a naive time is taken to be the user's own wall-clock time
    return moment.astimezone(tz) if moment.tzinfo else moment.replace(tzinfo=tz)


def _format_time(moment: dt.datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %Y %H:%M}"


def _short_date(day: dt.date) -> str:
    return f"{day.day} {day:%b}"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("linter.report", "templates"),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["wrap"] = _wrap
    environment.filters["format_label"] = _label
    return environment


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith((".html.j2", ".html"))
