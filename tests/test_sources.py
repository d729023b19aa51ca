"""Sources on small hand-made inputs: calendars, mbox, Maildir, .eml, and bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from linter.model import Event, Message, Problem
from linter.sources import Window, iter_items
from linter.sources.mail import parse_message

from .conftest import eml

LONDON = ZoneInfo("Europe/London")
WINDOW = Window(
    dt.datetime(2026, 1, 1, tzinfo=LONDON), dt.datetime(2027, 1, 1, tzinfo=LONDON), LONDON
)

CALENDAR = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
X-WR-TIMEZONE:Europe/London\r
BEGIN:VEVENT\r
UID:weekly@test\r
DTSTART:20260302T100000\r
DTEND:20260302T110000\r
RRULE:FREQ=WEEKLY;COUNT=4\r
EXDATE:20260309T100000\r
SUMMARY:Weekly with Dana\r
ORGANIZER;CN=Sam:mailto:sam@studio.example\r
ATTENDEE;CN=Dana Ng;PARTSTAT=ACCEPTED:mailto:Dana@Acme.example\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly@test\r
RECURRENCE-ID:20260316T100000\r
DTSTART:20260316T190000\r
DTEND:20260316T200000\r
SUMMARY:Weekly with Dana – at the pub\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:allday@test\r
DTSTART;VALUE=DATE:20260320\r
SUMMARY:Acme launch\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:ny@test\r
DTSTART;TZID=America/New_York:20260401T090000\r
DURATION:PT1H\r
SUMMARY:Breakfast in New York\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:broken@test\r
DTSTART:not-a-date\r
SUMMARY:Broken\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:cancelled@test\r
DTSTART:20260402T090000Z\r
STATUS:CANCELLED\r
SUMMARY:Called off\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:old@test\r
DTSTART:20200101T090000Z\r
SUMMARY:Outside the window\r
END:VEVENT\r
END:VCALENDAR\r
"""


def items(path: Path, window: Window = WINDOW) -> tuple[list, list[Problem]]:
    out = list(iter_items([str(path)], window))
    return [o for o in out if not isinstance(o, Problem)], [
        o for o in out if isinstance(o, Problem)
    ]


def test_calendar_occurrences_overrides_timezones_and_bad_events(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_text(CALENDAR, encoding="utf-8")
    events, problems = items(path)
    assert all(isinstance(e, Event) for e in events)
    titles = [e.title for e in events]
    assert titles.count("Weekly with Dana") == 2  # 4 occurrences, one excluded, one moved
    moved = next(e for e in events if e.title.endswith("at the pub"))
    assert moved.start == dt.datetime(2026, 3, 16, 19, tzinfo=LONDON)
    assert moved.id == "weekly@test#20260316T100000Z"  # identity is the original slot
    assert len({e.id for e in events}) == len(events)
    weekly = next(e for e in events if e.title == "Weekly with Dana")
    assert weekly.sender and weekly.sender.address == "sam@studio.example"
    assert [(p.address, p.name, p.response) for p in weekly.recipients] == [
        ("dana@acme.example", "Dana Ng", "accepted")
    ]
    assert weekly.locator == "5"
    launch = next(e for e in events if e.title == "Acme launch")
    assert launch.all_day and launch.start == dt.datetime(2026, 3, 20, tzinfo=LONDON)
    new_york = next(e for e in events if e.title.startswith("Breakfast"))
    assert new_york.start.utcoffset() == dt.timedelta(hours=-4)
    assert new_york.end == new_york.start + dt.timedelta(hours=1)
    assert "Called off" not in titles and "Outside the window" not in titles
    broken_line = CALENDAR.split("\n").index("UID:broken@test\r")  # BEGIN:VEVENT, 1-based
    assert len(problems) == 1 and problems[0].line == broken_line
    assert "broken@test" in problems[0].message


def test_a_file_that_is_not_a_calendar_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "notes.ics"
    path.write_text("just some notes\n")
    events, problems = items(path)
    assert events == [] and "not an iCalendar file" in problems[0].message


MBOX = (
    "From dana@acme.example Thu Mar 12 10:00:00 2026\n"
    + eml("One", "first body\n>From the top, we said\nFrom here it goes on", message_id="<a@x>")
    + "\nFrom lee@birch.example Thu Mar 12 11:00:00 2026\n"
    + eml("Two", "second", sender="lee@birch.example", message_id=None)
)


def test_mbox_is_split_as_a_stream_and_unescaped(tmp_path: Path) -> None:
    path = tmp_path / "box.mbox"
    path.write_text(MBOX)
    messages, problems = items(path)
    assert not problems
    assert [m.title for m in messages] == ["One", "Two"]
    second = MBOX.split("\n").index("From lee@birch.example Thu Mar 12 11:00:00 2026") + 1
    assert messages[0].locator == "1" and messages[1].locator == str(second)
    assert "From the top" in messages[0].body and "From here it goes on" in messages[0].body
    assert messages[0].id == "<a@x>"
    assert messages[1].id.startswith("sha256:")  # no Message-ID: a content hash


def test_maildir_and_folders_of_eml(tmp_path: Path) -> None:
    maildir = tmp_path / "mail" / "Inbox"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.host").write_text(eml("In maildir", "x", message_id="<md@x>"))
    (maildir / "tmp" / "2.host").write_text(eml("Half delivered", "x"))
    (tmp_path / "mail" / "a.eml").write_text(eml("Loose eml", "x", message_id="<e@x>"))
    (tmp_path / "mail" / "a.cats").write_text("1,1,1\n")
    messages, problems = items(tmp_path / "mail")
    assert sorted(m.title for m in messages) == ["In maildir", "Loose eml"]
    assert not problems


def test_multipart_alternative_prefers_plain_and_html_only_is_converted() -> None:
    alternative = eml(
        "Alt",
        "--b\nContent-Type: text/plain\n\nplain words\n--b\nContent-Type: text/html\n\n"
        "<p>html words</p>\n--b--",
        extra='MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b"',
    ).encode()
    message = parse_message(alternative, "s", "1")
    assert isinstance(message, Message) and message.body == "plain words"
    html_only = eml(
        "H",
        "<html><style>p{}</style><p>Drinks&nbsp;Friday?</p><br>Dana</html>",
        extra="Content-Type: text/html; charset=utf-8",
    ).encode()
    message = parse_message(html_only, "s", "1")
    assert isinstance(message, Message) and message.body == "Drinks Friday?\nDana"


def test_charsets_encoded_headers_attachments_and_quoted_text() -> None:
    raw = (
        b"From: =?utf-8?q?Jonas_M=C3=BCller?= <jonas@elbe.example>\nTo: sam@studio.example\n"
        b"Subject: =?iso-8859-1?q?Gr=FC=DFe?=\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain; charset=x-unknown-charset\n"
        b"Content-Transfer-Encoding: quoted-printable\n\nSch=C3=B6n, danke!\n\n"
        b"On Tue, 10 Mar 2026, Sam <sam@studio.example> wrote:\n> the invoice\n"
        b'--b\nContent-Type: application/pdf; name="deck.pdf"\n'
        b'Content-Disposition: attachment; filename="deck.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\nJVBERi0=\n--b--\n"
    )
    message = parse_message(raw, "s", "1")
    assert isinstance(message, Message)
    assert message.title == "Grüße"
    assert message.sender is not None and message.sender.name == "Jonas Müller"
    assert message.body == "Schön, danke!"
    assert "invoice" in message.quoted and "invoice" not in message.body
    assert message.attachments == ("deck.pdf",)


def test_broken_mime_never_raises() -> None:
    raw = b'From: x@y\nContent-Type: multipart/mixed; boundary="zz"\n\n--zz\n\xff\xfe garbage'
    assert isinstance(parse_message(raw, "s", "1"), Message)
    assert isinstance(parse_message(b"\x00\x01\x02", "s", "1"), Message | Problem)


def test_message_window_applies_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "one.eml"
    path.write_text(eml("Old", "x").replace("2026", "2019"))
    assert len(items(path)[0]) == 1
    narrow = Window(WINDOW.since, WINDOW.until, LONDON, filter_messages=True)
    assert items(path, narrow)[0] == []


def test_missing_and_unknown_paths_are_problems(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"\x89PNG")
    assert "no such file" in items(tmp_path / "nope.ics")[1][0].message
    assert "not a calendar or mailbox" in items(tmp_path / "x.bin")[1][0].message


def test_mbox_split_is_the_same_whatever_the_block_size(monkeypatch) -> None:
    from linter.sources import mbox
    from tests.conftest import EXAMPLES

    path = str(EXAMPLES / "mailbox.mbox")
    whole = list(mbox.split_mbox(path))
    monkeypatch.setattr(mbox, "BLOCK", 97)  # separators and From_ lines straddle blocks
    assert list(mbox.split_mbox(path)) == whole
    assert len(whole) == 94 and whole[0][0] == 1
