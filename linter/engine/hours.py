"""Working hours and the user's timezone, for the time predicates of rules.

Configured in ``clientline.yaml``::

    timezone: Europe/London
    working_hours: {days: mon-fri, start: "09:00", end: "18:00"}

``days`` takes a range (``mon-fri``), a list (``[mon, tue, thu]``) or both
(``mon-wed, fri``). A moment is inside working hours when, in the user's timezone, its
weekday is a working day and its time is in ``[start, end)``. An all-day event is
outside working hours when its day is not a working day.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WorkingHours(NamedTuple):  # a tuple: a dataclass has its methods generated at every start
    days: frozenset[int] = frozenset(range(5))
    start: dt.time = dt.time(9)
    end: dt.time = dt.time(18)
    tz: dt.tzinfo = ZoneInfo("UTC")

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.tz) if moment.tzinfo else moment.replace(tzinfo=self.tz)

    def outside(self, moment: dt.datetime, all_day: bool = False) -> bool:
        local = self.local(moment)
        if local.weekday() not in self.days:
            return True
        if all_day:
            return False
        return not (self.start <= local.time() < self.end)


def parse_days(text: str) -> frozenset[int]:
    """``mon-fri`` / ``mon, wed, fri`` / ``mon-wed, sat`` to weekday numbers (Monday 0)."""
    days: set[int] = set()
    for part in text.replace(" ", "").lower().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        if first[:3] not in WEEKDAYS or (last and last[:3] not in WEEKDAYS):
            raise ValueError(f"unknown day in `{part}`; use mon, tue, wed, thu, fri, sat, sun")
        a = WEEKDAYS.index(first[:3])
        b = WEEKDAYS.index(last[:3]) if last else a
        span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        days.update(span)
    return frozenset(days)


def parse_time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(str(text).strip().zfill(5))
    except ValueError:
        raise ValueError(f"`{text}` is not a time like 09:00") from None
