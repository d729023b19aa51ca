"""A synthetic RFC 5545 calendar, written as a stream of content lines.

One VCALENDAR with a VTIMEZONE for Europe/London and M VEVENTs spread over 2026:

* mostly single timed events (Europe/London, some UTC, a few floating), ~8% all-day;
* ~5% recurring, weekly or monthly with ``RRULE ... COUNT``; some of those carry an
  ``EXDATE`` and a moved occurrence (a second VEVENT with ``RECURRENCE-ID``);
* ORGANIZER and ATTENDEE as ``mailto:`` with ``CN``, LOCATION, DESCRIPTION, STATUS;
* the registers of :mod:`corpus_text`: business, social, neutral and ~2.5% mixed.

Lines end in CRLF and are folded at 75 octets without splitting a UTF-8 character.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import corpus_text as words
from corpus_people import Directory, Person

YEAR_START = dt.date(2026, 1, 1)
DTSTAMP = "20251215T090000Z"
VTIMEZONE = (
    "BEGIN:VTIMEZONE", "TZID:Europe/London", "X-LIC-LOCATION:Europe/London",
    "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0000", "TZOFFSETTO:+0100", "TZNAME:BST",
    "DTSTART:19810329T010000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
    "BEGIN:STANDARD", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0000", "TZNAME:GMT",
    "DTSTART:19961027T020000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
    "END:VTIMEZONE",
)
TITLES = {
    "business": (
        "{Project} review", "Kickoff: {project}", "Steering committee", "Budget planning",
        "Workshop: {deliverable}", "Status call - {project}", "Invoice review",
        "Contract negotiation", "Quarterly business review", "Sign-off: {deliverable}",
    ),
    "social": (
        "Drinks with {first}", "Dinner at {restaurant}", "Football: {team} v {team2}",
        "{first}'s birthday", "Golf", "Barbecue at ours", "Theatre", "Quiz night at the {pub}",
    ),
    "neutral": ("Dentist", "Focus time", "Travel to {place}", "Gym", "School run", "Haircut"),
    "mixed": (
        "{Project} review over drinks", "Contract chat at the match",
        "Birthday lunch + quick budget check", "Dinner with {first} - go through the proposal",
        "Golf and the {deliverable}", "Drinks: sign the {deliverable}",
    ),
}
ALL_DAY = {
    "business": ("Conference: {project}", "Offsite", "Deadline: {deliverable}"),
    "social": ("{first}'s birthday", "Wedding", "Holiday in {place}"),
    "neutral": ("Bank holiday", "Working from home", "Travel to {place}"),
    "mixed": ("Client golf day and {project} planning",),
}
LOCATIONS = {
    "business": ("Meeting room 2", "Zoom", "Microsoft Teams", "{org} offices",
                 "Studio, 4 Canal Street, London", "Boardroom"),
    "social": ("The {pub}", "Café Rouge", "Dishoom, Shoreditch", "Emirates Stadium", "Home",
               "Brasserie Zédel"),
    "neutral": ("", "Dentist, 12 High Street", "Gym", "Home"),
    "mixed": ("The {pub}", "Restaurant Gärtner", "Golf club", "Emirates Stadium"),
}
RESTAURANTS = ("Dishoom", "Padella", "Brasserie Zédel", "Barrafina", "Honest Burgers")


@dataclass(slots=True)
class Occasion:
    """One VEVENT before it is written."""

    uid: str
    register: str
    title: str
    organizer: Person | None
    attendees: list[Person]
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    zone: str  # london | utc | floating | date
    location: str = ""
    description: str = ""
    status: str = "CONFIRMED"
    rrule: str = ""
    extra: list[str] = field(default_factory=list)


class CalendarWriter:
    """Plans events from a seeded ``random.Random`` and yields content lines."""

    def __init__(self, rng: random.Random, directory: Directory, count: int) -> None:
        self.rng = rng
        self.people = directory
        self.count = count

    def lines(self) -> Iterator[str]:
        """The whole calendar as folded, CRLF-terminated content lines."""
        head = ("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//clientline//bench generator//EN",
                "CALSCALE:GREGORIAN", "METHOD:PUBLISH", "X-WR-CALNAME:Sam (work)")
        yield from (fold(line) for line in head + VTIMEZONE)
        for index in range(self.count):
            occasion = self._plan(index)
            yield from (fold(line) for line in vevent(occasion))
            if occasion.rrule and self.rng.random() < 0.2:
                yield from (fold(line) for line in vevent(moved(occasion)))
        yield fold("END:VCALENDAR")

    def _plan(self, index: int) -> Occasion:
        rng = self.rng
        register = rng.choices(("business", "social", "neutral", "mixed"),
                               (0.63, 0.22, 0.125, 0.025))[0]
        organizer, attendees = self._participants(register)
        uid = f"{index:06d}-{rng.getrandbits(48):012x}@bench.clientline.example"
        day = YEAR_START + dt.timedelta(days=rng.randrange(365))
        all_day = register != "mixed" and rng.random() < 0.08
        titles = ALL_DAY if all_day else TITLES
        occasion = Occasion(uid, register, self._fill(titles[register]), organizer, attendees,
                            day, day + dt.timedelta(days=1), "date")
        if not all_day:
            self._timing(occasion, day)
        self._details(occasion)
        return occasion

    def _fill(self, templates: tuple[str, ...]) -> str:
        rng = self.rng
        template = rng.choice(templates)
        extra = {"first": rng.choice(self.people.client_people).name.split()[0],
                 "restaurant": rng.choice(RESTAURANTS), "team2": rng.choice(words.TEAMS),
                 "org": rng.choice(self.people.clients).org}
        return words.fill(rng, template.format_map(_Keep(extra)))

    def _participants(self, register: str) -> tuple[Person | None, list[Person]]:
        rng, people = self.rng, self.people
        if register == "neutral" or rng.random() < 0.1:
            return None, []
        if register == "social":
            guests = rng.sample(people.friends, rng.randint(1, 3))
        elif register == "mixed":
            guests = [rng.choice(people.client_people)]
        else:
            clients = rng.sample(people.client_people, rng.randint(0, 2))
            guests = clients + rng.sample(people.colleagues, rng.randint(0, 3))
        organizer = people.me if rng.random() < 0.7 or not guests else guests[0]
        attendees = [people.me, *guests] if organizer is not people.me else guests
        return organizer, attendees

    def _timing(self, occasion: Occasion, day: dt.date) -> None:
        rng = self.rng
        if occasion.register in ("social", "mixed"):
            hour = rng.choice((12, 13, 18, 19, 19, 20))
        else:
            hour = rng.randrange(8, 18)
        start = dt.datetime.combine(day, dt.time(hour, rng.choice((0, 15, 30, 45))))
        occasion.start = start
        occasion.end = start + dt.timedelta(minutes=rng.choice((30, 45, 60, 60, 90, 120, 180)))
        occasion.zone = rng.choices(("london", "utc", "floating"), (0.87, 0.1, 0.03))[0]
        if rng.random() < 0.05:
            occasion.rrule = self._rrule(occasion)

    def _rrule(self, occasion: Occasion) -> str:
        rng = self.rng
        if rng.random() < 0.6 or occasion.start.day > 28:  # monthly only where every month has it
            rule = f"FREQ=WEEKLY;COUNT={rng.randint(4, 26)}"
        else:
            rule = f"FREQ=MONTHLY;COUNT={rng.randint(3, 12)}"
        if rng.random() < 0.2:  # skip the third occurrence (the second may be moved)
            if "WEEKLY" in rule:
                skipped = occasion.start + dt.timedelta(days=14)
            else:
                skipped = _add_month(_add_month(occasion.start))
            occasion.extra.append(_prop("EXDATE", skipped, occasion.zone))
        return rule

    def _details(self, occasion: Occasion) -> None:
        rng = self.rng
        if rng.random() < 0.7:
            occasion.location = self._fill(LOCATIONS[occasion.register])
        if rng.random() < 0.5:
            register = occasion.register
            count = rng.randint(1, 4)
            text = words.sentences(rng, register if register != "mixed" else "business", count)
            if register == "mixed":
                text = words.sentences(rng, "mixed", 1) + text[:1]
            if rng.random() < 0.04:
                text.append(words.foreign(rng, "utf-8"))
            occasion.description = "\n".join(text)
        occasion.status = rng.choices(("CONFIRMED", "TENTATIVE", "CANCELLED"), (0.9, 0.07, 0.03))[0]
        if rng.random() < 0.02:
            occasion.extra.append("CLASS:PRIVATE")


class _Keep(dict[str, str]):
    """Leaves unknown ``{slots}`` in place for :func:`corpus_text.fill`."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _add_month(moment: dt.datetime | dt.date) -> dt.datetime | dt.date:
    month = moment.month % 12 + 1
    year = moment.year + (moment.month == 12)
    return moment.replace(year=year, month=month)


def moved(occasion: Occasion) -> Occasion:
    """An override of the second occurrence, one hour later (same UID); timed events only."""
    start, end = occasion.start, occasion.end
    assert isinstance(start, dt.datetime) and isinstance(end, dt.datetime)
    second = start + dt.timedelta(days=7) if "WEEKLY" in occasion.rrule else _add_month(start)
    later = dt.timedelta(hours=1)
    copy = Occasion(occasion.uid, occasion.register, occasion.title + " (moved)",
                    occasion.organizer, occasion.attendees, second + later,
                    second + later + (end - start), occasion.zone,
                    occasion.location, occasion.description, occasion.status)
    copy.extra = [_prop("RECURRENCE-ID", second, occasion.zone), "SEQUENCE:1"]
    return copy


def _prop(name: str, value: dt.datetime | dt.date, zone: str) -> str:
    if zone == "date" or not isinstance(value, dt.datetime):
        return f"{name};VALUE=DATE:{value:%Y%m%d}"
    if zone == "london":
        return f"{name};TZID=Europe/London:{value:%Y%m%dT%H%M%S}"
    if zone == "utc":
        return f"{name}:{value:%Y%m%dT%H%M%S}Z"
    return f"{name}:{value:%Y%m%dT%H%M%S}"


def escape(text: str) -> str:
    """RFC 5545 TEXT escaping."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def _person(name: str, person: Person, params: str = "") -> str:
    return f'{name};CN="{person.name}"{params}:mailto:{person.address}'


def vevent(occasion: Occasion) -> Iterator[str]:
    """The content lines of one VEVENT, unfolded."""
    yield "BEGIN:VEVENT"
    yield f"UID:{occasion.uid}"
    yield f"DTSTAMP:{DTSTAMP}"
    yield _prop("DTSTART", occasion.start, occasion.zone)
    yield _prop("DTEND", occasion.end, occasion.zone)
    if occasion.rrule:
        yield f"RRULE:{occasion.rrule}"
    yield from occasion.extra
    yield f"SUMMARY:{escape(occasion.title)}"
    if occasion.location:
        yield f"LOCATION:{escape(occasion.location)}"
    if occasion.description:
        yield f"DESCRIPTION:{escape(occasion.description)}"
    if occasion.organizer is not None:
        yield _person("ORGANIZER", occasion.organizer)
    for person in occasion.attendees:
        params = ";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE"
        yield _person("ATTENDEE", person, params)
    yield f"STATUS:{occasion.status}"
    yield "TRANSP:" + ("TRANSPARENT" if occasion.zone == "date" else "OPAQUE")
    yield "END:VEVENT"


def fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1) and end it with CRLF."""
    if len(line) <= 75 and line.isascii():
        return line + "\r\n"
    pieces: list[str] = []
    current: list[str] = []
    size, limit = 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, 74
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n ".join(pieces) + "\r\n"
