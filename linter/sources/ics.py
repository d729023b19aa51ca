"""iCalendar files (``.ics``, ``.ical``, ``.ifb``): one item per event occurrence.

Reading is built for large exports and broken ones:

1. One streaming pass indexes the file: calendar properties (``X-WR-TIMEZONE``,
   ``X-WR-CALNAME``), ``VTIMEZONE`` blocks, and where each ``VEVENT`` starts and ends,
   by line, with its ``UID``. Nothing but the index is kept.
2. Events are then parsed in chunks of whole ``UID`` groups (a recurring series and its
   overrides always travel together), each chunk as a small calendar with the file's
   timezones, by ``icalendar``; Google's ``X-WR-TIMEZONE`` is applied with
   ``x-wr-timezone``; recurrences (``RRULE``, ``RDATE``, ``EXDATE``, moved or cancelled
   occurrences) are expanded inside the run's window by ``recurring-ical-events``.
3. When a chunk fails, its series are retried one by one, so a malformed event is
   reported by its line and the rest of the file is still read.

Times: floating times and all-day dates take the user's timezone. Cancelled events
and cancelled occurrences are skipped. Organizer and attendees come from ``mailto:``
addresses with their ``CN`` and ``PARTSTAT``. The locator is the line of the event's
``BEGIN:VEVENT``; the item id is ``UID`` plus the occurrence's recurrence id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from linter.model import Event, Participant, Problem, event_id, printable
from linter.sources import Output, Window

EXTENSIONS = (".ics", ".ical", ".ifb", ".icalendar")
CHUNK_EVENTS = 200
_CALENDAR_PROPERTIES = (b"X-WR-TIMEZONE", b"X-WR-CALNAME", b"VERSION", b"PRODID", b"CALSCALE")


@dataclass
class _Block:
    line: int
    start: int  # byte offsets of the BEGIN:VEVENT ... END:VEVENT lines
    end: int
    uid: str
    recurring: bool = False
    closing: bytes = b""  # END lines a broken file left out, added when it is parsed
    rrule: str = ""  # the RRULE's value, to bound its expansion before it is parsed
    dtstart: str = ""


@dataclass
class _Index:
    header: list[bytes] = field(default_factory=list)
    timezones: list[bytes] = field(default_factory=list)
    groups: dict[str, list[_Block]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    calendar_name: str | None = None
    saw_component: bool = False


class IcsSource:
    kind: ClassVar[str] = "ics"

    def __init__(self, path: str, window: Window) -> None:
        self.path = path
        self.where = printable(path)  # how items and problems name the file
        self.window = window

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.suffix.lower() in EXTENSIONS and path.is_file()

    def items(self) -> Iterator[Output]:
        index = _index(self.path, self.where)
        yield from index.problems
        if not index.saw_component:
            yield Problem(self.where, "not an iCalendar file (no BEGIN: line)")
            return
        since = max(self.window.since, EARLIEST)
        until = min(self.window.until, LATEST)
        plain: list[list[_Block]] = []
        with open(self.path, "rb") as handle:
            for group in index.groups.values():
                bounded = _bounded(group, since, until)
                if bounded is None:
                    plain.append(group)
                    continue
                end, problem = bounded
                where, line = self.where, group[0].line
                text = f"event {group[0].uid!r}: {problem}"
                # skipped, or cut short
                yield Problem(where, text, line, level="error" if end is None else "warning")
                if end is not None:
                    yield from self._read_chunk(handle, index, [group], since, end)
            for chunk in _chunks(plain):
                yield from self._read_chunk(handle, index, chunk, since, until)

    def _read_chunk(
        self,
        handle: Any,
        index: _Index,
        chunk: list[list[_Block]],
        since: dt.datetime,
        until: dt.datetime,
    ) -> Iterator[Output]:
        try:
            blocks = [b for group in chunk for b in group]
            events = list(self._expand(handle, index, blocks, since, until))
        except Exception:
            if len(chunk) == 1:
                block = chunk[0][0]
                try:
                    list(self._expand(handle, index, chunk[0], since, until))
                except Exception as exc:
                    yield Problem(
                        self.where, f"event {block.uid!r} skipped: {_reason(exc)}", block.line
                    )
                return
            for group in chunk:
                yield from self._read_chunk(handle, index, [group], since, until)
            return
        yield from events

    def _expand(
        self,
        handle: Any,
        index: _Index,
        blocks: list[_Block],
        since: dt.datetime,
        until: dt.datetime,
    ) -> Iterator[Event]:
        parts = [b"BEGIN:VCALENDAR\r\n", *index.header, *index.timezones]
        for block in blocks:
            handle.seek(block.start)
            text = handle.read(block.end - block.start)
            parts.append(text if text.endswith(b"\n") else text + b"\r\n")
            parts.append(block.closing)
        parts.append(b"END:VCALENDAR\r\n")
        # imported here, not above: they take a tenth of a second, which every run pays
        # when the sources are registered, even one that reads only mail
        import icalendar
        import recurring_ical_events
        import x_wr_timezone

        with warnings.catch_warnings():
            # icalendar warns about guessed vendor TZIDs; the result is right, the
            # warning would only be noise in the user's terminal
            warnings.simplefilter("ignore")
            calendar = icalendar.Calendar.from_ical(b"".join(parts))
            calendar = x_wr_timezone.to_standard(calendar)
            occurrences = list(recurring_ical_events.of(calendar).between(since, until))
        by_uid = {block.uid: block for block in reversed(blocks)}
        for component in occurrences:
            if component.name != "VEVENT":
                continue
            event = self._event(component, by_uid, index)
            if event is not None:
                yield event

    def _event(self, component: Any, by_uid: dict[str, _Block], index: _Index) -> Event | None:
        status = str(component.get("STATUS") or "").upper()
        if status == "CANCELLED":
            return None
        uid = str(component.get("UID") or "")
        block = by_uid.get(uid) or next(iter(by_uid.values()))
        start, all_day = self._moment(component.get("DTSTART"))
        end, _ = self._moment(component.get("DTEND"))
        if end is None and start is not None:
            duration = component.get("DURATION")
            if duration is not None and isinstance(duration.dt, dt.timedelta):
                end = start + duration.dt
            elif all_day:
                end = start + dt.timedelta(days=1)
        recurrence = None
        if block.recurring and start is not None:
            rid, _ = self._moment(component.get("RECURRENCE-ID"))
            recurrence = (rid or start).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
            if all_day:
                recurrence = (rid or start).strftime("%Y%m%d")
        organizer = _participant(component.get("ORGANIZER"), "organizer")
        attendees = tuple(
            p
            for p in (_participant(a, "attendee") for a in _as_list(component.get("ATTENDEE")))
            if p is not None and (organizer is None or p.address != organizer.address)
        )
        categories: list[str] = []
        for value in _as_list(component.get("CATEGORIES")):
            categories.extend(str(c) for c in getattr(value, "cats", [value]))
        return Event(
            source=self.where,
            locator=str(block.line),
            id=event_id(uid or block.uid, recurrence),
            title=_text(component.get("SUMMARY")),
            body=_text(component.get("DESCRIPTION")),
            location=_text(component.get("LOCATION")),
            start=start,
            end=end,
            all_day=all_day,
            sender=organizer,
            recipients=attendees,
            thread=uid or block.uid,
            labels=tuple(categories),
            folder=index.calendar_name,
            link=_text(component.get("URL")) or None,
            recurrence_id=recurrence,
            status=status.lower() or None,
            private=str(component.get("CLASS") or "").upper() in ("PRIVATE", "CONFIDENTIAL"),
        )

    def _moment(self, prop: Any) -> tuple[dt.datetime | None, bool]:
        value = getattr(prop, "dt", None)
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=self.window.tz)
            return value, False
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time(), self.window.tz), True
        return None, False


def _index(path: str, where: str) -> _Index:
    """One pass over the file: header, timezones, and where every VEVENT lies.

    A VEVENT or VTIMEZONE counts when it is top-level or inside VCALENDARs only, so a
    bare VEVENT file and a file of several concatenated calendars are both read.

    A VEVENT left open (its END:VEVENT lost) ends where the next VEVENT or VCALENDAR
    begins, or where its calendar ends; it is read with the END lines it lacks, and
    reported by line, so one lost line costs no event after it. An event the end of
    the file cuts short is reported and not read.
    """
    index = _Index()
    stack: list[bytes] = []
    offset = 0
    event: _Block | None = None
    folded = ""  # the _Block field a continuation line would add to
    timezone_lines: list[bytes] | None = None

    def close_event(end: int, why: str) -> None:
        nonlocal event
        assert event is not None
        depth = stack.index(b"VEVENT") if b"VEVENT" in stack else len(stack)
        event.closing = b"".join(b"END:" + name + b"\r\n" for name in reversed(stack[depth:]))
        index.problems.append(
            Problem(
                where,
                f"BEGIN:VEVENT has no END:VEVENT ({why}); read as far as that",
                event.line,
                level="warning",
            )
        )
        del stack[depth:]
        _add_event(index, event, end, path)
        event = None

    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            here, offset = offset, offset + len(line)
            stripped = line.strip()
            if number == 1 and stripped.startswith(b"\xef\xbb\xbf"):
                stripped = stripped[3:]
                line = line[3:]
                here += 3
            upper = stripped.upper()
            if upper.startswith(b"BEGIN:"):
                name = upper[6:]
                if event is not None and name in (b"VEVENT", b"VCALENDAR"):
                    close_event(
                        here, f"a BEGIN:{name.decode('ascii', 'replace')} follows at line {number}"
                    )
                if name == b"VCALENDAR" and stack:
                    stack.clear()  # calendars do not nest: the one before was cut short
                at_top = all(n == b"VCALENDAR" for n in stack)
                stack.append(name)
                index.saw_component = True
                if at_top and name == b"VEVENT":
                    event = _Block(number, here, here, "")
                elif at_top and name == b"VTIMEZONE":
                    timezone_lines = []
            if timezone_lines is not None:
                timezone_lines.append(line)
            if event is not None and stack and stack[-1] == b"VEVENT":
                if folded and line[:1] in (b" ", b"\t"):  # a property's continuation line
                    setattr(event, folded, getattr(event, folded) + _value(line[1:]))
                    continue
                folded = ""
                if upper.startswith(b"UID") and upper[3:4] in (b":", b";") and not event.uid:
                    event.uid = stripped.split(b":", 1)[1].strip().decode("utf-8", "replace")
                elif upper.startswith((b"RRULE", b"RDATE", b"RECURRENCE-ID")):
                    event.recurring = True
                    if upper.startswith(b"RRULE") and not event.rrule:
                        event.rrule, folded = _value(upper.partition(b":")[2]), "rrule"
                elif upper.startswith(b"DTSTART") and not event.dtstart:
                    event.dtstart, folded = _value(upper.partition(b":")[2]), "dtstart"
            elif stack == [b"VCALENDAR"] and upper.startswith(_CALENDAR_PROPERTIES):
                index.header.append(line if line.endswith(b"\n") else line + b"\r\n")
                if upper.startswith(b"X-WR-CALNAME"):
                    index.calendar_name = stripped.split(b":", 1)[-1].decode("utf-8", "replace")
            if not upper.startswith(b"END:"):
                continue
            name = upper[4:]
            if name not in stack:
                index.problems.append(
                    Problem(where, f"unexpected {stripped.decode('ascii', 'replace')}", number)
                )
                continue
            if event is not None and name != b"VEVENT" and b"VEVENT" in stack[stack.index(name) :]:
                close_event(
                    here, f"an END:{name.decode('ascii', 'replace')} follows at line {number}"
                )
            while stack.pop() != name:  # close what was left open inside
                pass
            if name == b"VEVENT" and event is not None and all(n == b"VCALENDAR" for n in stack):
                _add_event(index, event, offset, path)
                event = None
            elif name == b"VTIMEZONE" and timezone_lines is not None:
                index.timezones.append(b"".join(timezone_lines))
                timezone_lines = None
    if event is not None:  # cut short by the end of the file: what it lacks is unknown
        index.problems.append(
            Problem(where, "the file ends inside this event; it was not read", event.line)
        )
    if stack and index.saw_component:
        open_names = ", ".join(n.decode("ascii", "replace") for n in stack)
        index.problems.append(
            Problem(
                where, f"file ends inside {open_names}; read what was complete", level="warning"
            )
        )
    return index


def _value(data: bytes) -> str:
    return data.strip().upper().decode("ascii", "replace")


def _add_event(index: _Index, event: _Block, end: int, path: str) -> None:
    event.end = end
    event.uid = event.uid or _anonymous_uid(path, event.line)
    group = index.groups.setdefault(event.uid, [])
    group.append(event)
    if len(group) > 1:
        for member in group:
            member.recurring = True


# Recurrences are expanded inside the window only, and never past these: a series that
# would repeat more often is cut short, one that would have to be stepped through too
# many times before the window even begins is skipped; both are reported by line.
MAX_OCCURRENCES = 1_000  # of one series inside the window
MAX_STEPS = 50_000  # the expander walks a series from its first occurrence
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)  # --since 0001-01-01 means "all"
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,
    "YEARLY": 365 * 86400,
}
_EXPANDING = ("BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO")


def _bounded(
    group: list[_Block], since: dt.datetime, until: dt.datetime
) -> tuple[dt.datetime | None, str] | None:
    """``None`` for a series that expands in bounded time as it is; else the end to
    expand it to instead (``None``: skip it) and what to report."""
    block = next((b for b in group if b.rrule), None)
    if block is None:
        return None
    parts = dict(p.partition("=")[::2] for p in block.rrule.split(";") if p)
    try:
        interval = int(parts.get("INTERVAL", "1"))
        count = int(parts["COUNT"]) if "COUNT" in parts else None
    except ValueError:
        return None, f"RRULE {block.rrule!r} has an INTERVAL or COUNT that is not a number; skipped"
    if interval < 1:
        return None, f"RRULE INTERVAL={interval} would repeat without end; skipped"
    step = _SECONDS.get(parts.get("FREQ", ""))
    if step is None:
        return None  # the parser says what is wrong with it
    per_step = 1
    for key in _EXPANDING:
        if key in parts:
            per_step *= max(1, len(parts[key].split(",")))
    rate = per_step / (step * interval)  # at most this many occurrences a second
    start = _start_of(block.dtstart)
    if start is None and step >= _SECONDS["DAILY"]:
        return None  # a first occurrence unknown here: the parser bounds a daily series
    start = start or since
    if count is not None and count <= MAX_OCCURRENCES:
        return None
    until = min(until, _start_of(parts.get("UNTIL", "")) or until)
    before = max(0.0, (since - start).total_seconds()) * rate
    if before > MAX_STEPS:
        return None, (
            f"RRULE FREQ={parts.get('FREQ')} repeats about {before:,.0f} times before the "
            f"window begins (limit {MAX_STEPS:,}); skipped"
        )
    capped = max(start, since) + dt.timedelta(seconds=MAX_OCCURRENCES / rate)
    if capped >= until:
        return None
    return capped, (
        f"RRULE FREQ={parts.get('FREQ')} repeats more than {MAX_OCCURRENCES:,} times in the "
        f"window; only those until {capped:%Y-%m-%d %H:%M} are read"
    )


def _start_of(value: str) -> dt.datetime | None:
    """A DTSTART value read roughly (its timezone left out): enough to bound a series."""
    digits = value.strip()
    try:
        if len(digits) >= 15 and digits[8] == "T":
            return dt.datetime.strptime(digits[:15], "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
        return dt.datetime.strptime(digits[:8], "%Y%m%d").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _chunks(groups: Iterable[list[_Block]]) -> Iterator[list[list[_Block]]]:
    chunk: list[list[_Block]] = []
    size = 0
    for group in groups:
        chunk.append(group)
        size += len(group)
        if size >= CHUNK_EVENTS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _anonymous_uid(path: str, line: int) -> str:
    return "nouid-" + hashlib.sha256(f"{Path(path).name}:{line}".encode()).hexdigest()[:16]


def _participant(prop: Any, role: str) -> Participant | None:
    if prop is None:
        return None
    value = str(prop).strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    if "@" not in value:
        return None
    params = getattr(prop, "params", {})
    response = params.get("PARTSTAT")
    return Participant(
        address=value.strip().lower(),
        name=str(params.get("CN") or "").strip().strip('"'),
        role=role,
        response=str(response).lower() if response else None,
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return f"required property {exc.args[0]} is missing"
    if isinstance(exc, AttributeError) and "'list' object" in str(exc):
        return "a property that may appear once appears more than once"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
