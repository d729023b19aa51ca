"""The Google Calendar (``gcal``) and Gmail (``gmail``) sources, end to end.

The real google-api-python-client talks HTTP to the fake Google server
(tests/fakes/google_server.py) on 127.0.0.1, and the worker stores what the sources yield,
exactly as ``clientline run`` does: the tests drive :func:`linter.worker.scan` (or the
command line, for the exit codes) against a practice folder whose ``sources:`` are
Google accounts with ``endpoint:`` and ``token_uri:`` pointing at the fake.

Backoff never really sleeps: :func:`linter.google.api.connect` is wrapped so that every
client records its waits in a list (the ``waits`` fixture) and its jitter is fixed at one
half, and each test starts with empty pacing buckets. The fake's clock is frozen at
:data:`NOW`, the same moment the worker is given.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from linter import cli, worker
from linter.google import api, auth
from linter.model import Event, Message, Participant, fingerprint
from linter.sources import Window, gcal, gmail
from linter.store import Store
from tests.fakes.google_server import FakeGoogle, GmailMessage, Mailbox, RequestRecord
from tests.worker_helpers import (
    DANA,
    LEE,
    MIXED,
    NOW,
    PLAIN,
    SAM,
    SOCIAL,
    Practice,
    readonly,
    write_practice,
)

ACCOUNT = "sam"  # the token `clientline auth google --account sam` would store
CAL = "calendar"  # the names of the two sources in the practice
MAIL = "mail"
LONDON = NOW.tzinfo
MIXED_TITLE = "Q3 contract review over drinks"  # fires CL101 with a client attending
SOCIAL_TITLE = "Dana's birthday drinks"  # fires nothing
SERIES_TITLE = "Contract review over drinks"
WITH_DANA = [{"email": DANA, "responseStatus": "accepted"}]
FIX = "clientline auth google --client-secrets FILE --account sam"


def at(days: float, hours: float = 0) -> dt.datetime:
    return NOW + dt.timedelta(days=days, hours=hours)


# -- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle(default_user=SAM, now=NOW) as server:
        server.oauth.require_auth = True  # every call must carry a token the fake issued
        yield server


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every backoff wait of every client, recorded instead of slept."""
    slept: list[float] = []
    connect = api.connect

    def quick_connect(*args: Any, **kwargs: Any) -> api.Client:
        client = connect(*args, **{**kwargs, "sleep": slept.append})
        client.random = lambda: 0.5  # full jitter, made predictable: half the cap
        return client

    monkeypatch.setattr(api, "connect", quick_connect)
    monkeypatch.setattr(api, "_pacers", {})  # each test starts with full buckets
    return slept


def token_info(fake: FakeGoogle, refresh_token: str) -> dict[str, Any]:
    return {
        "refresh_token": refresh_token,
        "token_uri": fake.token_uri,
        "client_id": "fake-client-id.apps.googleusercontent.com",
        "client_secret": "fake-client-secret",
        "scopes": auth.scopes(),
    }


@pytest.fixture
def refresh_token(fake: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Sam's stored token (as `clientline auth google --account sam` leaves it)."""
    monkeypatch.setenv("CLIENTLINE_CONFIG_DIR", str(tmp_path / "config"))
    token = fake.oauth.issue_refresh_token(SAM)
    auth.save_token(auth.token_path(ACCOUNT), token_info(fake, token))
    return token


def source(kind: str, fake: FakeGoogle, name: str | None = None, **options: Any) -> dict[str, Any]:
    """A ``sources:`` entry for Sam's account on the fake."""
    return {
        "type": kind,
        "name": name or {"gcal": CAL, "gmail": MAIL}[kind],
        "account": ACCOUNT,
        "endpoint": fake.url,
        "token_uri": fake.token_uri,
        **options,
    }


def practice(tmp_path: Path, *sources: dict[str, Any], folder: str = "practice") -> Practice:
    return write_practice(tmp_path / folder, sources=list(sources))


def scan(office: Practice, now: dt.datetime = NOW) -> dict[str, worker.SourceReport]:
    setup = office.prepare(now)
    with Store(str(office.state)) as store:
        return {report.name: report for report in worker.scan(setup, store, now)}


def findings(office: Practice, name: str) -> dict[str, tuple[str, str]]:
    """fingerprint -> (item id, status) of every finding about an item of source ``name``."""
    with readonly(office.state) as db:
        rows = db.execute(
            "SELECT fingerprint, item_id, status FROM findings WHERE source = ?", (name,)
        ).fetchall()
    return {str(fp): (str(item), str(status)) for fp, item, status in rows}


def open_items(office: Practice, name: str) -> set[str]:
    return {item for item, status in findings(office, name).values() if status == "open"}


def stored_items(office: Practice, name: str) -> set[str]:
    with readonly(office.state) as db:
        rows = db.execute("SELECT id FROM items WHERE source = ?", (name,)).fetchall()
    return {str(row[0]) for row in rows}


def stored_cursor(office: Practice, name: str) -> str | None:
    with readonly(office.state) as db:
        row = db.execute("SELECT value FROM cursors WHERE source = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def history_counts(office: Practice, name: str) -> Counter[str]:
    """How many status changes each finding of source ``name`` went through."""
    with readonly(office.state) as db:
        rows = db.execute(
            "SELECT h.fingerprint FROM history h JOIN findings f USING (fingerprint) "
            "WHERE f.source = ?",
            (name,),
        ).fetchall()
    return Counter(str(row[0]) for row in rows)


def fresh(fake: FakeGoogle) -> None:
    """Forget what the fake counted and logged so far: the next phase starts at zero."""
    with fake.lock:
        fake.counters.reset()
        fake.requests.clear()


def calls(fake: FakeGoogle, endpoint: str) -> list[RequestRecord]:
    return fake.calls_to(endpoint)


def after_batches(
    monkeypatch: pytest.MonkeyPatch, count: int, action: Callable[[], object]
) -> None:
    """Call ``action`` inside the transaction of the worker's ``count``-th batch, once its
    items are linted (each account batch is linted by one ``_lint_items`` call)."""
    lint = worker._lint_items
    seen = 0

    def counting(*args: Any, **kwargs: Any) -> None:
        nonlocal seen
        lint(*args, **kwargs)
        seen += 1
        if seen == count:
            action()

    monkeypatch.setattr(worker, "_lint_items", counting)


# -- Google Calendar ----------------------------------------------------------------------


def test_gcal_first_sync_lists_the_window_then_one_request_when_nothing_changed(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    calendar = fake.calendar.primary()
    mixed = calendar.add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    calendar.add_event(summary=SOCIAL_TITLE, start=at(3, 10), end=at(3, 12), attendees=WITH_DANA)
    series = calendar.add_event(
        summary=SERIES_TITLE,
        start=at(5, 9),
        end=at(5, 10),
        attendees=WITH_DANA,
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"],
    )
    for outside in (at(-45), at(200)):  # before and after the 30 + 180 days of the window
        calendar.add_event(summary=MIXED_TITLE, start=outside, end=outside + dt.timedelta(hours=1))
    office = practice(tmp_path, source("gcal", fake))

    report = scan(office)[CAL]

    assert report.error == "" and report.problems == []
    # one item per occurrence: 1 + 1 + 3, and the three occurrences each get a finding
    assert (report.items, report.linted, report.new) == (5, 5, 4)
    occurrences = {
        f"{series['id']}_{(at(5, 9) + dt.timedelta(weeks=n)).astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
        for n in range(3)
    }
    assert open_items(office, CAL) == {mixed["id"], *occurrences}
    [listing] = calls(fake, "calendar.events.list")
    today = dt.datetime.combine(NOW.date(), dt.time(), LONDON)
    assert listing.param("singleEvents") == "true"
    assert listing.param("maxResults") == "2500"
    assert listing.param("fields") == gcal.EVENT_FIELDS
    assert listing.param("syncToken") is None
    assert listing.param("timeMin") == (today - dt.timedelta(days=30)).isoformat()
    assert listing.param("timeMax") == (today + dt.timedelta(days=180)).isoformat()
    assert report.requests == 1

    fresh(fake)
    again = scan(office)[CAL]

    [incremental] = calls(fake, "calendar.events.list")
    assert incremental.param("syncToken")
    assert incremental.param("timeMin") is None and incremental.param("singleEvents") == "true"
    assert fake.counters.api_http_requests == 1
    assert (again.items, again.linted, again.new, again.resolved) == (0, 0, 0, 0)
    assert open_items(office, CAL) == {mixed["id"], *occurrences}


def test_gcal_lists_page_after_page_and_stores_the_sync_token_after_the_last(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gcal, "PAGE_SIZE", 4)  # 10 events: pages of 4, 4 and 2
    ids = fake.calendar.primary().seed(
        10, start=at(1), summary="Contract review over drinks {i}", attendees=WITH_DANA
    )
    office = practice(tmp_path, source("gcal", fake))

    report = scan(office)[CAL]

    listings = calls(fake, "calendar.events.list")
    assert [bool(r.param("pageToken")) for r in listings] == [False, True, True]
    assert {r.param("maxResults") for r in listings} == {"4"}
    assert (report.units_read, report.items, report.new) == (3, 10, 10)
    assert open_items(office, CAL) == set(ids)
    assert json.loads(stored_cursor(office, CAL) or "{}")["calendars"]["primary"]["token"]

    fresh(fake)
    scan(office)
    assert len(calls(fake, "calendar.events.list")) == 1


def test_gcal_relints_changed_events_and_resolves_deleted_ones(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    calendar = fake.calendar.primary()
    mixed = calendar.add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    social = calendar.add_event(
        summary=SOCIAL_TITLE, start=at(3, 10), end=at(3, 12), attendees=WITH_DANA
    )
    doomed = calendar.add_event(
        summary="Fees review over drinks", start=at(4, 18), end=at(4, 19), attendees=WITH_DANA
    )
    away = calendar.add_event(
        summary="Contract review over drinks, then away",
        start=at(6, 18),
        end=at(6, 19),
        attendees=WITH_DANA,
    )
    series = calendar.add_event(
        summary=SERIES_TITLE,
        start=at(5, 9),
        end=at(5, 10),
        attendees=WITH_DANA,
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"],
    )
    office = practice(tmp_path, source("gcal", fake))
    first = scan(office)[CAL]
    assert first.new == 6
    before = findings(office, CAL)
    first_occurrence = f"{series['id']}_{at(5, 9).astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"

    calendar.update_event(mixed["id"], summary="Dana's leaving drinks")  # business gone
    calendar.update_event(social["id"], summary="Q3 renewal contract over birthday drinks")
    calendar.delete_event(doomed["id"])
    calendar.cancel_instance(series["id"], at(5, 9))
    calendar.update_event(away["id"], eventType="outOfOffice")  # no longer an event
    fresh(fake)
    second = scan(office)[CAL]

    assert len(calls(fake, "calendar.events.list")) == 1
    assert (second.items, second.linted, second.new, second.resolved) == (2, 2, 1, 4)
    after = findings(office, CAL)
    resolved = {item for fp, (item, status) in after.items() if status == "resolved"}
    assert resolved == {mixed["id"], doomed["id"], away["id"], first_occurrence}
    assert open_items(office, CAL) == {
        social["id"],
        *(i for i, _ in before.values() if i.startswith(series["id"]) and i != first_occurrence),
    }
    assert len(after) == len(before) + 1  # the one new finding; none doubled


def test_gcal_deleting_a_whole_series_resolves_every_occurrence(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    """Deleting a recurring event comes back as one cancelled item with the series' id,
    not one per stored occurrence."""
    calendar = fake.calendar.primary()
    series = calendar.add_event(
        summary=SERIES_TITLE,
        start=at(5, 9),
        end=at(5, 10),
        attendees=WITH_DANA,
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"],
    )
    keep = calendar.add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    office = practice(tmp_path, source("gcal", fake))
    assert scan(office)[CAL].new == 4

    calendar.delete_event(series["id"])
    report = scan(office)[CAL]

    assert report.error == ""
    assert report.resolved == 3
    assert open_items(office, CAL) == {keep["id"]}
    assert not any(i.startswith(series["id"]) for i in stored_items(office, CAL))
    fresh(fake)
    scan(office)  # the series' deletion was taken in: back to one request a run
    assert len(calls(fake, "calendar.events.list")) == 1


def test_gcal_expired_sync_token_lists_again_without_doubling_findings(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    calendar = fake.calendar.primary()
    kept = calendar.add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    gone = calendar.add_event(
        summary="Fees review over drinks", start=at(4, 18), end=at(4, 19), attendees=WITH_DANA
    )
    office = practice(tmp_path, source("gcal", fake))
    scan(office)
    before = history_counts(office, CAL)

    added = calendar.add_event(
        summary="Renewal contract over dinner", start=at(7, 19), end=at(7, 21), attendees=WITH_DANA
    )
    calendar.delete_event(gone["id"])
    fake.switches.expire_sync_tokens()
    fresh(fake)
    report = scan(office)[CAL]

    listings = calls(fake, "calendar.events.list")
    assert [(bool(r.param("syncToken")), r.status) for r in listings] == [(True, 410), (False, 200)]
    assert report.error == ""
    assert (report.linted, report.new, report.resolved) == (1, 1, 1)  # only the new event
    assert open_items(office, CAL) == {kept["id"], added["id"]}
    assert set(findings(office, CAL)) == {
        fingerprint("CL101", kept["id"]),
        fingerprint("CL101", gone["id"]),
        fingerprint("CL101", added["id"]),
    }
    counts = history_counts(office, CAL)
    assert counts[fingerprint("CL101", kept["id"])] == before[fingerprint("CL101", kept["id"])]

    fresh(fake)
    scan(office)
    [listing] = calls(fake, "calendar.events.list")
    assert listing.param("syncToken") and listing.status == 200


def test_gcal_moves_its_window_every_resync_days_keeping_what_fell_behind(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    calendar = fake.calendar.primary()
    behind = calendar.add_event(
        summary=MIXED_TITLE, start=at(-2, 10), end=at(-2, 12), attendees=WITH_DANA
    )
    gone = calendar.add_event(  # inside both windows
        summary="Fees review over drinks", start=at(10, 18), end=at(10, 19), attendees=WITH_DANA
    )
    office = practice(tmp_path, source("gcal", fake, days_back=3, days_ahead=20))
    scan(office)
    assert open_items(office, CAL) == {behind["id"], gone["id"]}

    later = calendar.add_event(  # beyond the first window, inside the moved one
        summary="Renewal contract over dinner",
        start=at(25, 10),
        end=at(25, 12),
        attendees=WITH_DANA,
    )
    calendar.delete_event(gone["id"])
    fresh(fake)
    report = scan(office, NOW + dt.timedelta(days=8))  # resync_days: 7 by default

    [listing] = calls(fake, "calendar.events.list")
    assert listing.param("syncToken") is None  # a full listing of the moved window
    today = dt.datetime.combine((NOW + dt.timedelta(days=8)).date(), dt.time(), LONDON)
    assert listing.param("timeMin") == (today - dt.timedelta(days=3)).isoformat()
    assert (report[CAL].new, report[CAL].resolved) == (1, 1)
    # the event that only fell behind the window keeps its finding
    assert open_items(office, CAL) == {behind["id"], later["id"]}


def test_gcal_calendars_all_reads_the_calendar_list(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    primary = fake.calendar.primary()
    team = fake.calendar.add_calendar("team@group.calendar.google.com", summary="Team")
    mine = primary.add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    theirs = team.add_event(
        summary="Fees review over drinks", start=at(3, 18), end=at(3, 19), attendees=WITH_DANA
    )
    office = practice(tmp_path, source("gcal", fake, calendars="all"))

    report = scan(office)[CAL]

    assert report.error == "" and report.new == 2
    assert len(calls(fake, "calendar.calendarList.list")) == 1
    listed = {unquote(r.path.split("/")[4]) for r in calls(fake, "calendar.events.list")}
    assert listed == {SAM, "team@group.calendar.google.com"}
    assert open_items(office, CAL) == {
        f"{SAM}/{mine['id']}",
        f"team@group.calendar.google.com/{theirs['id']}",
    }


def test_gcal_unknown_calendar_fails_that_source_and_the_others_still_run(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    event = fake.calendar.primary().add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    message = fake.gmail.mailbox().add_message(
        subject=MIXED[0], body=MIXED[1], sender=DANA, to=SAM, when=at(-1)
    )
    office = practice(
        tmp_path,
        source("gcal", fake, calendars=["primary", "nosuch@group.calendar.google.com"]),
        source("gmail", fake),
    )

    reports = scan(office)

    error = reports[CAL].error
    assert "calendar `nosuch@group.calendar.google.com` not found" in error
    assert "check `calendars:`" in error and "\n" not in error
    assert not reports[CAL].auth_failed
    assert open_items(office, CAL) == {event["id"]}  # the calendar before it was stored
    assert reports[MAIL].error == "" and reports[MAIL].new == 1
    assert open_items(office, MAIL) == {message.id}


def test_gcal_skips_out_of_office_focus_time_and_working_location(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    calendar = fake.calendar.primary()
    for day, kind in enumerate(("outOfOffice", "focusTime", "workingLocation"), 1):
        calendar.add_event(
            summary=MIXED_TITLE,
            start=at(day, 1),
            end=at(day, 2),
            attendees=WITH_DANA,
            eventType=kind,
        )
    real = calendar.add_event(
        summary=MIXED_TITLE, start=at(4, 10), end=at(4, 12), attendees=WITH_DANA
    )
    office = practice(tmp_path, source("gcal", fake))

    report = scan(office)[CAL]

    assert (report.items, report.new, report.problems) == (1, 1, [])
    assert stored_items(office, CAL) == {real["id"]}


def test_gcal_maps_people_responses_descriptions_links_and_all_day_events(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    calendar = fake.calendar.primary()
    meeting = calendar.add_event(
        summary="Kick-off",
        description="<p>Agenda: <b>fees</b> &amp; timeline</p>",
        location="Studio",
        start=at(2, 1),
        end=at(2, 2),
        organizer={"email": "Dana@Acme.example", "displayName": "Dana Ng"},
        attendees=[
            {"email": DANA, "responseStatus": "accepted", "organizer": True},
            {"email": SAM, "responseStatus": "accepted", "self": True},
            {"email": LEE, "displayName": "Lee Park", "responseStatus": "declined"},
            {"email": "jess.k@mail.example", "responseStatus": "tentative"},
            {"email": "omar@cedarco.example", "responseStatus": "needsAction"},
            {"email": "room-2@resource.calendar.google.com", "resource": True},
            {"displayName": "someone without an address"},
        ],
        conferenceData={
            "entryPoints": [
                {"entryPointType": "phone", "uri": "tel:+44-20-7946-0000"},
                {"entryPointType": "video", "uri": "https://meet.google.com/abc-defg-hij"},
            ]
        },
    )
    holiday = calendar.add_event(
        summary="Studio closed", start=dt.date(2026, 11, 28), end=dt.date(2026, 11, 29)
    )
    series = calendar.add_event(
        summary="Stand-up",
        start=at(1, 0),
        end=at(1, 1),
        recurrence=["RRULE:FREQ=DAILY;COUNT=2"],
        hangoutLink="https://meet.google.com/xyz",
    )
    window = Window.around(NOW, LONDON)
    options = source("gcal", fake)
    reader = gcal.GcalSource(CAL, options, window, tmp_path, NOW)

    outputs = [o for batch in reader.sync(None, lambda ids: set()) for o in batch.items]

    events = {o.locator: o for o in outputs if isinstance(o, Event)}
    assert len(events) == len(outputs) == 4
    kickoff = events[meeting["id"]]
    assert kickoff.sender == Participant(DANA, "Dana Ng", "organizer", None)
    assert kickoff.recipients == (
        Participant(SAM, "", "attendee", "accepted"),
        Participant(LEE, "Lee Park", "attendee", "declined"),
        Participant("jess.k@mail.example", "", "attendee", "tentative"),
        Participant("omar@cedarco.example", "", "attendee", "needs-action"),
    )
    assert kickoff.body == "Agenda: fees & timeline"
    assert (kickoff.title, kickoff.location, kickoff.folder) == ("Kick-off", "Studio", "primary")
    assert kickoff.start == at(2, 1) and kickoff.end == at(2, 2) and not kickoff.all_day
    assert kickoff.conference == "https://meet.google.com/abc-defg-hij"
    assert kickoff.link == meeting["htmlLink"]
    assert kickoff.source == f"gcal:{CAL}" and kickoff.id == meeting["id"]
    assert kickoff.recurrence_id is None and kickoff.status == "confirmed"
    closed = events[holiday["id"]]
    assert closed.all_day and closed.start == dt.datetime(2026, 11, 28, tzinfo=LONDON)
    assert closed.sender == Participant(SAM, "", "organizer", None)
    stand_ups = sorted(
        (e for e in events.values() if e.thread == series["id"]), key=lambda e: str(e.start)
    )
    assert [e.recurrence_id for e in stand_ups] == [
        f"{at(1, 0).astimezone(dt.UTC):%Y%m%dT%H%M%SZ}",
        f"{at(2, 0).astimezone(dt.UTC):%Y%m%dT%H%M%SZ}",
    ]
    assert stand_ups[0].conference == "https://meet.google.com/xyz"


def test_gcal_private_events_are_stored_private_and_the_digest_hides_them(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    calendar = fake.calendar.primary()
    hidden = [
        calendar.add_event(
            summary=f"{MIXED_TITLE} ({visibility})",
            description="Bring the renewal contract",
            start=at(day, 10),
            end=at(day, 12),
            attendees=WITH_DANA,
            visibility=visibility,
        )
        for day, visibility in ((2, "private"), (3, "confidential"))
    ]
    public = calendar.add_event(
        summary="Public fees review over drinks",
        start=at(4, 18),
        end=at(4, 19),
        attendees=WITH_DANA,
        visibility="public",
    )
    office = practice(tmp_path, source("gcal", fake))
    scan(office)

    with readonly(office.state) as db:
        private = dict(db.execute("SELECT item_id, private FROM findings WHERE source = ?", (CAL,)))
    assert private == {hidden[0]["id"]: 1, hidden[1]["id"]: 1, public["id"]: 0}
    setup = office.prepare(NOW)
    with Store(str(office.state)) as store:
        rendered = worker.preview(setup, store, NOW)
    for body in (rendered.text, rendered.html):
        assert "Public fees review over drinks" in body
        assert "Q3 contract review" not in body and "renewal contract" not in body
        assert body.count("(private event)") == 2


def test_gcal_reports_a_malformed_event_by_id_and_reads_the_others(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    calendar = fake.calendar.primary()
    calendar.add_event({"id": "nostart1", "summary": MIXED_TITLE, "attendees": WITH_DANA}, raw=True)
    calendar.add_event(
        {"id": "badstart2", "summary": MIXED_TITLE, "start": {"dateTime": "next tuesday"}},
        raw=True,
    )
    good = calendar.add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    office = practice(tmp_path, source("gcal", fake))

    report = scan(office)[CAL]

    assert report.error == ""
    messages = sorted(problem.message for problem in report.problems)
    assert len(messages) == 2
    assert messages[0].startswith("event badstart2: unreadable") and "skipped" in messages[0]
    assert messages[1].startswith("event nostart1: unreadable") and "no start" in messages[1]
    assert {p.source for p in report.problems} == {f"gcal:{CAL}"}
    assert (report.items, report.new) == (1, 1)
    assert open_items(office, CAL) == {good["id"]}


# -- Gmail --------------------------------------------------------------------------------


def mail(
    box: Mailbox,
    subject: str,
    body: str,
    *,
    sender: str = DANA,
    days_ago: float = 1,
    labels: Sequence[str] = ("INBOX", "UNREAD"),
) -> str:
    """A message to Sam, sent ``days_ago`` before :data:`NOW`; returns its Gmail id."""
    message = box.add_message(
        subject=subject, body=body, sender=sender, to=SAM, when=at(-days_ago), label_ids=labels
    )
    return message.id


def fetched(fake: FakeGoogle) -> list[str]:
    """The ids of every messages.get the fake answered, in order."""
    return [r.path.rsplit("/", 1)[1] for r in calls(fake, "gmail.users.messages.get")]


def test_gmail_first_sync_lists_the_query_then_fetches_in_batches_of_fifty(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    box = fake.gmail.mailbox()
    mixed = mail(box, *MIXED)
    mail(box, *SOCIAL)
    box.seed(130, start=at(0, -2), chats_every=9, promotions_every=10)
    old = mail(box, *MIXED, days_ago=120)  # older than newer_than:90d
    mail(box, *MIXED, labels=["SPAM"])
    left_out = {"CHAT", "CATEGORY_PROMOTIONS", "SPAM"}
    wanted = {m.id for m in box.messages.values() if not left_out & set(m.label_ids)} - {old}
    count = len(wanted)
    assert count > 100  # three batches
    fake.switches.batch_limit = 50  # a larger batch would be refused with 400
    office = practice(tmp_path, source("gmail", fake))

    report = scan(office)[MAIL]

    assert report.error == "" and report.problems == []
    assert (report.items, report.linted, report.new) == (count, count, 1)
    assert open_items(office, MAIL) == {mixed}
    assert stored_items(office, MAIL) == wanted
    [listing] = calls(fake, "gmail.users.messages.list")
    assert listing.param("q") == gmail.DEFAULT_QUERY
    assert gmail.DEFAULT_QUERY == "newer_than:90d -in:chats -category:promotions"
    assert listing.param("maxResults") == "500"
    gets = calls(fake, "gmail.users.messages.get")
    assert sorted(fetched(fake)) == sorted(wanted)  # each once
    assert all(r.in_batch and r.param("format") == "full" for r in gets)
    assert {r.param("fields") for r in gets} == {gmail.GET_FIELDS}
    assert fake.counters.batch_requests == math.ceil(count / 50) == 3
    assert fake.counters.batch_parts == count
    assert report.quota_units == fake.counters.gmail_quota_units
    assert report.quota_units / count <= 5.2
    assert report.requests == fake.counters.api_http_requests == 6  # profile, list, 3, labels


def test_gmail_next_run_reads_history_fetches_only_new_messages_and_resolves_deleted(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    box = fake.gmail.mailbox()
    doomed = mail(box, *MIXED)
    mail(box, *PLAIN)
    box.seed(20, start=at(0, -2))
    office = practice(tmp_path, source("gmail", fake))
    scan(office)
    start = json.loads(stored_cursor(office, MAIL) or "{}")["history"]

    fresh(fake)
    cookout = mail(
        box,
        "Saturday",
        "Come to our cookout on Saturday! We can settle the question of your fees over a beer.",
        sender=LEE,
        days_ago=0,
    )
    box.delete_message(doomed)
    report = scan(office)[MAIL]

    [history] = calls(fake, "gmail.users.history.list")
    assert history.param("startHistoryId") == start
    assert calls(fake, "gmail.users.messages.list") == []
    assert calls(fake, "gmail.users.getProfile") == []
    assert fetched(fake) == [cookout]
    assert (report.items, report.linted, report.new, report.resolved) == (1, 1, 1, 1)
    assert open_items(office, MAIL) == {cookout}
    assert findings(office, MAIL)[fingerprint("CL102", doomed)] == (doomed, "resolved")
    assert doomed not in stored_items(office, MAIL)

    fresh(fake)
    quiet = scan(office)[MAIL]
    assert fake.counters.api_http_requests == 1 and quiet.items == 0
    assert calls(fake, "gmail.users.history.list")[0].status == 200


def test_gmail_incremental_runs_leave_out_what_the_query_excludes(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    box = fake.gmail.mailbox()
    newsletters = box.add_label("Newsletters")
    mail(box, *PLAIN)
    mail(box, *MIXED, labels=["INBOX", newsletters])
    query = "newer_than:90d -in:chats -category:promotions -label:newsletters"
    office = practice(tmp_path, source("gmail", fake, query=query))
    first = scan(office)[MAIL]
    assert (first.items, first.new) == (1, 0)  # the listing leaves the newsletter out

    fresh(fake)
    wanted = mail(box, *MIXED, days_ago=0)
    left_out = [
        mail(box, *MIXED, days_ago=0, labels=labels)
        for labels in (
            ["INBOX", "CATEGORY_PROMOTIONS"],
            ["CHAT"],
            ["INBOX", newsletters],
            ["SPAM"],
            ["TRASH"],
        )
    ]
    report = scan(office)[MAIL]

    assert len(calls(fake, "gmail.users.history.list")) == 1
    assert fetched(fake) == [wanted]
    assert not set(left_out) & stored_items(office, MAIL)
    assert (report.items, report.new) == (1, 1)
    assert open_items(office, MAIL) == {wanted}


def test_gmail_incremental_runs_keep_to_a_query_of_more_than_labels(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    box = fake.gmail.mailbox()
    mail(box, *PLAIN)
    mail(box, *MIXED, sender=LEE)
    office = practice(tmp_path, source("gmail", fake, query=f"in:inbox from:{DANA}"))
    first = scan(office)[MAIL]
    assert (first.items, first.new) == (1, 0)  # Lee's message is not from Dana

    fresh(fake)
    wanted = mail(box, *MIXED, days_ago=0)
    left_out = [
        mail(box, *MIXED, sender=LEE, days_ago=0),
        mail(box, *MIXED, days_ago=0, labels=["SENT"]),
    ]
    report = scan(office)[MAIL]

    assert len(calls(fake, "gmail.users.history.list")) == 1
    [listing] = calls(fake, "gmail.users.messages.list")  # what arrived since the last run
    since = int(NOW.timestamp()) - 86_400
    assert listing.param("q") == f"in:inbox from:{DANA} after:{since}"
    assert fetched(fake) == [wanted]
    assert not set(left_out) & stored_items(office, MAIL)
    assert (report.items, report.new) == (1, 1)

    # a query of labels alone is answered by history itself
    assert not gmail.asks_more_than_labels("newer_than:90d -in:chats -label:x after:2026/01/01")
    assert gmail.asks_more_than_labels("in:inbox") and gmail.asks_more_than_labels("-from:x")


def test_gmail_expired_history_lists_again_without_downloading_stored_messages(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    box = fake.gmail.mailbox()
    mixed = mail(box, *MIXED)
    box.seed(60, start=at(0, -2))
    office = practice(tmp_path, source("gmail", fake))
    assert scan(office)[MAIL].items == 61

    fresh(fake)
    newer = mail(box, "Friday again?", MIXED[1], days_ago=0)
    social = mail(box, *SOCIAL, days_ago=0)
    fake.switches.expire_history()
    report = scan(office)[MAIL]

    assert [r.status for r in calls(fake, "gmail.users.history.list")] == [404]
    assert len(calls(fake, "gmail.users.messages.list")) == 1
    assert sorted(fetched(fake)) == sorted([newer, social])  # not the 61 stored ones
    assert report.error == ""
    assert (report.items, report.linted, report.new) == (2, 2, 1)
    assert open_items(office, MAIL) == {mixed, newer}
    assert len(stored_items(office, MAIL)) == 63

    fresh(fake)
    scan(office)
    assert [r.status for r in calls(fake, "gmail.users.history.list")] == [200]
    assert calls(fake, "gmail.users.messages.list") == [] and fetched(fake) == []


def test_gmail_expired_history_resolves_what_was_deleted_or_binned_meanwhile(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    box = fake.gmail.mailbox()
    deleted = mail(box, *MIXED)
    binned = mail(box, *MIXED, days_ago=2)
    archived = mail(box, *MIXED, days_ago=3)
    aged = mail(box, *MIXED, days_ago=80)
    box.seed(20, start=at(0, -2))
    office = practice(tmp_path, source("gmail", fake, labels=["INBOX"]))
    scan(office)
    assert {deleted, binned, archived, aged} <= open_items(office, MAIL)

    fresh(fake)
    box.delete_message(deleted)  # gone while the history is out of reach
    box.modify_labels(binned, add=["TRASH"], remove=["INBOX"])
    box.modify_labels(archived, remove=["INBOX"])  # out of `labels`, still in the mailbox
    fake.switches.expire_history()
    later = NOW + dt.timedelta(days=20)  # `aged` is now past newer_than:90d
    fake.set_time(later)
    report = scan(office, later)[MAIL]

    assert [r.status for r in calls(fake, "gmail.users.history.list")] == [404]
    # the stored messages the listing left out are asked about, all in one batch; the
    # one that only aged out is not
    asked = calls(fake, "gmail.users.messages.get")
    assert sorted(fetched(fake)) == sorted([deleted, binned, archived])
    assert {r.param("format") for r in asked} == {"minimal"} and all(r.in_batch for r in asked)
    assert report.error == "" and report.resolved == 2
    assert open_items(office, MAIL) >= {archived, aged}
    assert {deleted, binned} & open_items(office, MAIL) == set()
    assert findings(office, MAIL)[fingerprint("CL102", deleted)] == (deleted, "resolved")
    assert {deleted, binned} & stored_items(office, MAIL) == set()

    fresh(fake)  # and the next run reads history again
    scan(office, later)
    assert [r.status for r in calls(fake, "gmail.users.history.list")] == [200]
    assert calls(fake, "gmail.users.messages.get") == []


def test_gmail_query_cutoff_is_the_latest_date_its_terms_let_through() -> None:
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    cutoff = gmail.query_cutoff
    assert cutoff("newer_than:90d -in:chats", now) == now - dt.timedelta(days=90)
    assert cutoff("newer_than:2m", now) == now - dt.timedelta(days=60)
    assert cutoff("newer_than:1y after:2026/10/01", now) == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    assert cutoff("after:1760000000", now) == dt.datetime.fromtimestamp(1760000000, dt.UTC)
    assert cutoff("from:dana -newer_than:3d after:someday", now) is None
    assert cutoff('subject:"a b', now) is None  # unbalanced quotes: read word by word


def test_gmail_reports_oversized_and_unreadable_messages_by_id_and_reads_the_rest(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = fake.gmail.mailbox()
    large = EmailMessage()
    large["From"], large["To"], large["Subject"] = DANA, SAM, "The scans, as promised"
    large["Date"] = "Sun, 22 Nov 2026 10:00:00 +0000"
    large.set_content("Drinks Friday? And here is the renewal contract, scanned.")
    large.add_attachment(
        bytes(18_600_000), maintype="application", subtype="pdf", filename="contract.pdf"
    )
    big = box.add_message(large.as_bytes())
    assert big.size_estimate > 25_000_000
    no_payload = box.add_message(subject="x", body="y", sender=DANA, to=SAM, when=at(-1))
    bad_body = box.add_message(subject="x", body="y", sender=DANA, to=SAM, when=at(-1))
    monkeypatch.setattr(
        no_payload, "resource", lambda *args: {"id": no_payload.id, "threadId": no_payload.id}
    )
    monkeypatch.setattr(
        bad_body,
        "resource",
        lambda *args: {
            "id": bad_body.id,
            "threadId": bad_body.id,
            "payload": {"mimeType": "text/plain", "headers": [], "body": {"data": "a"}},
        },
    )
    good = mail(box, *MIXED)
    office = practice(tmp_path, source("gmail", fake))

    report = scan(office)[MAIL]

    assert report.error == ""
    problems = {p.message.split(":", 1)[0]: p.message for p in report.problems}
    assert set(problems) == {
        f"message {big.id}",
        f"message {no_payload.id}",
        f"message {bad_body.id}",
    }
    assert "MB is over max_message_bytes (10,000,000); skipped" in problems[f"message {big.id}"]
    assert "unreadable (ValueError: no payload); skipped" in problems[f"message {no_payload.id}"]
    assert "not base64url" in problems[f"message {bad_body.id}"]
    assert {p.source for p in report.problems} == {f"gmail:{MAIL}"}
    assert (report.items, report.new) == (1, 1)
    assert stored_items(office, MAIL) == {good}


LATIN_1252 = (
    b"From: Dana Ng <dana@acme.example>\r\n"
    b"To: sam@studio.example\r\n"
    b"Subject: =?iso-8859-1?q?Caf=E9_on_Friday=3F?=\r\n"
    b"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <cafe@acme.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="windows-1252"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Drinks at the caf=E9 on Friday after work? Also could we go over the renewal =\r\n"
    b"contract then =96 saves a meeting. =80 500 for the fees.\r\n"
)
JAPANESE = (
    b"From: omar@cedarco.example\r\n"
    b"To: sam@studio.example\r\n"
    b"Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\n"
    b"Date: Sun, 22 Nov 2026 11:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=ISO-2022-JP\r\n"
    b"Content-Transfer-Encoding: 7bit\r\n"
    b"\r\n" + "お元気ですか".encode("iso-2022-jp") + b"\r\n"
)
BOGUS_CHARSET = (
    b"From: jess.k@mail.example\r\n"
    b"To: sam@studio.example\r\n"
    b"Subject: Gr\xc3\xbc\xc3\x9fe\r\n"
    b"Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="x-no-such-charset"\r\n'
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9fe aus M\xc3\xbcnchen\r\n"
)


def as_gmail_gives_it(message: GmailMessage) -> dict[str, Any]:
    """The resource real Gmail returns for ``message``: header values as Unicode text,
    encoded words decoded (the fake passes them on as the message carries them)."""
    resource = message.resource("full")

    def decode(part: dict[str, Any]) -> None:
        for header in part.get("headers") or ():
            header["value"] = str(make_header(decode_header(header["value"])))
        for child in part.get("parts") or ():
            decode(child)

    decode(resource["payload"])
    return resource


def test_gmail_reads_non_ascii_headers_and_odd_charsets(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = fake.gmail.mailbox()
    clients = box.add_label("Clients/Acme")
    cafe = box.add_message(LATIN_1252, label_ids=["INBOX", clients])
    japanese = box.add_message(JAPANESE)
    bogus = box.add_message(BOGUS_CHARSET)
    letter = EmailMessage()
    letter["From"] = "Jürgen Müller <jonas.mueller@elbe-logistik.example>"
    letter["To"] = "Sam Rivera <sam@studio.example>"
    letter["Subject"] = "Grüße aus München – Rechnung"
    letter["Date"] = "Sun, 22 Nov 2026 13:00:00 +0000"
    letter.set_content("Schöne Grüße – bis Samstag!")
    letter.add_attachment(
        b"%PDF", maintype="application", subtype="pdf", filename="Angebot_Müller.pdf"
    )
    german = box.add_message(letter.as_bytes())
    resource = as_gmail_gives_it(german)
    monkeypatch.setattr(german, "resource", lambda *args: resource)
    office = practice(tmp_path, source("gmail", fake))

    report = scan(office)[MAIL]

    assert report.error == "" and report.problems == []
    assert (report.items, report.new) == (4, 1)
    with readonly(office.state) as db:
        [(item, title, evidence)] = db.execute(
            "SELECT item_id, item_title, evidence FROM findings WHERE source = ?", (MAIL,)
        ).fetchall()
    assert (item, title) == (cafe.id, "Café on Friday?")
    assert "café" in " ".join(json.loads(evidence))

    reader = gmail.GmailSource(MAIL, source("gmail", fake), Window.around(NOW, LONDON))
    outputs = [o for batch in reader.sync(None, lambda ids: set()) for o in batch.items]
    messages = {m.id: m for m in outputs if isinstance(m, Message)}
    assert len(messages) == len(outputs) == 4
    latin = messages[cafe.id]
    assert "café" in latin.body and "– saves" in latin.body and "€ 500" in latin.body
    assert latin.labels == ("INBOX", "Clients/Acme")
    assert latin.link == f"https://mail.google.com/mail/u/0/#all/{cafe.id}"
    assert latin.sender == Participant(DANA, "Dana Ng", "from")
    assert messages[japanese.id].title == "こんにちは"
    assert "お元気ですか" in messages[japanese.id].body
    assert "Schöne Grüße aus München" in messages[bogus.id].body  # UTF-8, whatever it says
    unicode_headers = messages[german.id]
    assert unicode_headers.title == "Grüße aus München – Rechnung"
    assert unicode_headers.sender == Participant(
        "jonas.mueller@elbe-logistik.example", "Jürgen Müller", "from"
    )
    assert unicode_headers.recipients == (Participant(SAM, "Sam Rivera", "to"),)
    assert unicode_headers.body == "Schöne Grüße – bis Samstag!"
    assert unicode_headers.attachments == ("Angebot_Müller.pdf",)


# -- resilience: backoff, batches, pacing ------------------------------------------------


def test_429_is_retried_after_at_least_the_retry_after_it_names(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, waits: list[float]
) -> None:
    ids = fake.gmail.mailbox().seed(60, start=at(0, -2))
    fake.switches.too_many_requests("gmail.users.getProfile", retry_after=7)
    fake.switches.too_many_requests(
        "gmail.users.messages.get", retry_after=4, where="part", times=2
    )
    office = practice(tmp_path, source("gmail", fake))

    report = scan(office)[MAIL]

    assert report.error == "" and stored_items(office, MAIL) == set(ids)
    assert fake.counters.statuses[429] == 3
    # the jitter alone would have waited 0.5 s each time: Retry-After is the least wait
    assert waits == [7.0, 4.0]


def test_rate_limits_server_errors_and_dropped_connections_are_retried(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, waits: list[float]
) -> None:
    box = fake.gmail.mailbox()
    mixed = mail(box, *MIXED)
    box.seed(30, start=at(0, -2))
    fake.switches.rate_limit("gmail.users.getProfile")  # 403 rateLimitExceeded
    fake.switches.rate_limit("gmail.users.messages.list", per_user=True)  # userRateLimit...
    fake.switches.server_error("batch")  # 503 for a whole batch
    fake.switches.server_error("gmail.users.messages.get", status=500, where="part")
    fake.switches.drop_connections("gmail.users.labels.list", times=2)  # httplib2 retries one
    office = practice(tmp_path, source("gmail", fake))

    report = scan(office)[MAIL]

    assert report.error == "" and report.problems == []
    assert (report.items, report.new) == (31, 1) and open_items(office, MAIL) == {mixed}
    assert fake.counters.faults_injected == 4 and fake.counters.dropped == 2
    assert fake.counters.statuses[403] == 2
    # profile, list, the whole batch; then the label names (asked while the parts that
    # succeeded are read) and the failed part, on the second attempt of that batch
    assert waits == [0.5, 0.5, 0.5, 0.5, 1.0]


def test_calendar_backoff_doubles_with_each_attempt(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, waits: list[float]
) -> None:
    fake.calendar.primary().add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    fake.switches.drop_connections("calendar.events.list", times=2)
    fake.switches.rate_limit("calendar.events.list", per_user=True)
    fake.switches.server_error("calendar.events.list", status=502)
    office = practice(tmp_path, source("gcal", fake))

    report = scan(office)[CAL]

    assert report.error == "" and report.new == 1
    assert waits == [0.5, 1.0, 2.0]  # half of 1 s, 2 s, 4 s
    assert [r.status for r in calls(fake, "calendar.events.list")] == [403, 502, 200]


def test_a_source_gives_up_after_six_attempts_or_a_retry_after_too_long(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, waits: list[float]
) -> None:
    fake.calendar.primary().add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    mail(fake.gmail.mailbox(), *MIXED)
    fake.switches.server_error("calendar.events.list", times=None)
    fake.switches.too_many_requests("gmail.users.getProfile", retry_after=600)
    office = practice(tmp_path, source("gcal", fake), source("gmail", fake))

    reports = scan(office)

    assert "503" in reports[CAL].error and "gave up after 6 attempts" in reports[CAL].error
    assert len(calls(fake, "calendar.events.list")) == 6
    assert "asks to wait 600 s; the next run will try again" in reports[MAIL].error
    assert len(calls(fake, "gmail.users.getProfile")) == 1
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0]  # the calendar's; Gmail did not wait
    for name in (CAL, MAIL):
        assert not reports[name].auth_failed and stored_cursor(office, name) is None


def test_a_message_google_keeps_failing_to_give_is_not_skipped_for_good(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, waits: list[float]
) -> None:
    """Giving up on a server error fails the run, whether the call was alone or in a
    batch: the cursor stays, and the next run asks again. (Only a message Gmail refuses
    outright, such as a 400, is reported and skipped.)"""
    box = fake.gmail.mailbox()
    box.seed(10, start=at(0, -2))
    office = practice(tmp_path, source("gmail", fake))
    scan(office)
    before = stored_cursor(office, MAIL)

    alone = mail(box, *MIXED, days_ago=0)  # one new message: fetched without a batch
    fake.switches.server_error("gmail.users.messages.get", times=None)
    failed = scan(office)[MAIL]

    assert "gave up after 6 attempts" in failed.error and failed.problems == []
    assert stored_cursor(office, MAIL) == before
    assert len(waits) == 5

    fake.switches.clear()
    report = scan(office)[MAIL]
    assert report.error == "" and open_items(office, MAIL) == {alone}


def test_a_failed_part_of_a_batch_is_retried_alone(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, waits: list[float]
) -> None:
    ids = fake.gmail.mailbox().seed(60, start=at(0, -2))
    fake.switches.server_error("gmail.users.messages.get", where="part", times=3)
    office = practice(tmp_path, source("gmail", fake))

    report = scan(office)[MAIL]

    assert report.error == "" and stored_items(office, MAIL) == set(ids)
    per_message = Counter(fetched(fake))
    assert set(per_message) == set(ids)
    retried = {message for message, count in per_message.items() if count == 2}
    assert len(retried) == 3 and sum(per_message.values()) == 63  # only those asked again
    # 50 parts, the 3 failed ones again in a batch of their own, then the last 10
    assert (fake.counters.batch_requests, fake.counters.batch_parts) == (3, 63)
    assert waits == [0.5]


def test_an_expired_access_token_is_refreshed_and_the_run_goes_on(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    calendar = fake.calendar.primary()
    office = practice(tmp_path, source("gcal", fake))
    scan(office)
    assert json.loads(auth.token_path(ACCOUNT).read_text())["token"]  # stored, refreshed
    refreshes = len(fake.oauth.grants)

    fake.switches.revoke_all_access_tokens()
    event = calendar.add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    report = scan(office)[CAL]

    assert report.error == "" and open_items(office, CAL) == {event["id"]}
    assert fake.counters.statuses[401] == 1 and len(fake.oauth.grants) == refreshes + 1


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_is_a_token_bucket_refilled_continuously() -> None:
    clock = FakeClock()
    pacer = api.Pacer(60, clock=clock, sleep=clock.sleep)  # 60 units a minute

    pacer.spend(60)  # a full bucket pays at once
    assert clock.slept == []
    pacer.spend(30)  # 30 units short: half a minute
    assert clock.slept == [30.0]
    clock.now += 10
    pacer.spend(10)  # ten seconds refilled ten units
    assert clock.slept == [30.0]
    clock.now += 3600
    pacer.spend(60)  # an idle hour refills the bucket, not more
    pacer.spend(1)
    assert clock.slept == [30.0, 1.0] and pacer.waited == 31.0

    unpaced = api.Pacer(0, clock=clock, sleep=clock.sleep)
    unpaced.spend(10_000)
    assert clock.slept == [30.0, 1.0]


def test_gmail_is_paced_in_quota_units_per_account(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    fake.gmail.mailbox().seed(20, start=at(0, -2))
    clock = FakeClock()
    pacer = api._pacers[(ACCOUNT, "gmail")] = api.Pacer(60, clock=clock, sleep=clock.sleep)
    office = practice(tmp_path, source("gmail", fake, quota_per_minute=60))

    report = scan(office)[MAIL]

    assert report.error == "" and report.items == 20
    # profile 1 + list 5 + 20 messages x 5 + label names 1 = 107 units, 60 of them at once
    assert report.quota_units == fake.counters.gmail_quota_units == 107
    assert pacer.waited == pytest.approx(107 - 60)
    assert sum(clock.slept) == pytest.approx(47.0)


def test_calendar_is_paced_in_requests(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gcal, "PAGE_SIZE", 4)
    fake.calendar.primary().seed(10, start=at(1))  # three pages, three requests
    clock = FakeClock()
    api._pacers[(ACCOUNT, "calendar")] = api.Pacer(2, clock=clock, sleep=clock.sleep)
    office = practice(tmp_path, source("gcal", fake, quota_per_minute=2))

    report = scan(office)[CAL]

    assert report.error == "" and report.items == 10
    assert clock.slept == [pytest.approx(30.0)]  # the third request waits for its token


# -- crash safety -----------------------------------------------------------------------


def test_gmail_first_sync_failing_midway_resumes_to_the_same_findings(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = fake.gmail.mailbox()
    box.seed(120, start=at(0, -2))
    # newest first: one firing message in each of the three batches of 50
    firing = [mail(box, *MIXED, days_ago=days) for days in (0.01, 0.5, 1.5, 3)]
    clean = practice(tmp_path, source("gmail", fake), folder="clean")
    uninterrupted = scan(clean)[MAIL]
    assert uninterrupted.new == 4
    office = practice(tmp_path, source("gmail", fake), folder="crashed")
    # after the first batch is stored, Gmail refuses every batch for good
    after_batches(monkeypatch, 1, lambda: fake.switches.fail("batch", 400, times=None))

    fresh(fake)
    broken = scan(office)[MAIL]

    assert "400" in broken.error
    assert stored_cursor(office, MAIL) is None  # not advanced past what is not stored
    assert len(stored_items(office, MAIL)) == 50 and broken.new == 1
    stored = stored_items(office, MAIL)

    fake.switches.clear()
    fresh(fake)
    resumed = scan(office)[MAIL]

    assert resumed.error == ""
    assert sorted(fetched(fake)) == sorted(stored_items(clean, MAIL) - stored)
    assert broken.new + resumed.new == 4 and resumed.linted == 74
    assert stored_items(office, MAIL) == stored_items(clean, MAIL)
    assert findings(office, MAIL) == findings(clean, MAIL)
    assert open_items(office, MAIL) == set(firing)
    assert history_counts(office, MAIL) == history_counts(clean, MAIL)
    assert json.loads(stored_cursor(office, MAIL) or "{}")["history"]


def test_gcal_run_killed_inside_a_batch_resumes_to_the_same_findings(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gcal, "PAGE_SIZE", 4)
    calendar = fake.calendar.primary()
    firing = calendar.seed(
        10, start=at(1), summary="Contract review over drinks {i}", attendees=WITH_DANA
    )
    calendar.seed(3, start=at(1, 1), summary="Birthday drinks {i}", attendees=WITH_DANA)
    clean = practice(tmp_path, source("gcal", fake), folder="clean")
    scan(clean)
    office = practice(tmp_path, source("gcal", fake), folder="crashed")

    def kill() -> None:
        raise KeyboardInterrupt  # as a SIGINT would, in the middle of the transaction

    after_batches(monkeypatch, 2, kill)
    with pytest.raises(KeyboardInterrupt):
        scan(office)

    assert stored_cursor(office, CAL) is None
    assert len(stored_items(office, CAL)) == 4  # the first page; the second rolled back
    resumed = scan(office)[CAL]

    assert resumed.error == "" and resumed.linted == 9  # the first page was not linted again
    assert findings(office, CAL) == findings(clean, CAL)
    assert open_items(office, CAL) == set(firing)
    assert history_counts(office, CAL) == history_counts(clean, CAL)
    assert stored_cursor(office, CAL) is not None


def test_gmail_incremental_sync_killed_midway_keeps_the_old_history_cursor(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = fake.gmail.mailbox()
    box.seed(10, start=at(0, -2))
    office = practice(tmp_path, source("gmail", fake))
    scan(office)
    before = stored_cursor(office, MAIL)
    new = [mail(box, *(MIXED if n % 20 == 0 else PLAIN), days_ago=0) for n in range(60)]
    firing = set(new[::20])

    def kill() -> None:
        raise KeyboardInterrupt

    after_batches(monkeypatch, 2, kill)  # the second batch of messages: 10 of them
    with pytest.raises(KeyboardInterrupt):
        scan(office)

    assert stored_cursor(office, MAIL) == before
    assert len(stored_items(office, MAIL) & set(new)) == 50
    fresh(fake)
    resumed = scan(office)[MAIL]

    [history] = calls(fake, "gmail.users.history.list")
    assert history.param("startHistoryId") == json.loads(before or "{}")["history"]
    assert len(fetched(fake)) == 10 and resumed.linted == 10
    assert stored_items(office, MAIL) >= set(new)
    assert open_items(office, MAIL) == firing
    assert set(history_counts(office, MAIL).values()) == {1}  # each opened once
    assert stored_cursor(office, MAIL) != before


# -- authorisation ------------------------------------------------------------------------


def run_command(office: Practice) -> Any:
    """``clientline run`` on the practice, in this process (the fake and the waits apply)."""
    return CliRunner().invoke(cli.main, ["run", "--config", str(office.config)])


def test_a_revoked_token_fails_with_one_line_naming_the_fix_and_run_exits_2(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    fake.oauth.revoke_refresh_token(refresh_token)
    office = practice(tmp_path, source("gcal", fake), source("gmail", fake))

    reports = scan(office)

    for name in (CAL, MAIL):
        error = reports[name].error
        assert reports[name].auth_failed, error
        assert "\n" not in error
        assert "Google refused the token for account `sam`" in error
        # google-auth's message, not its whole response
        assert "(invalid_grant: Token has been expired or revoked.); run" in error
        assert error.endswith(f"run `{FIX}`")
    result = run_command(office)
    assert result.exit_code == 2, result.output
    assert f"{CAL}: " in result.output and FIX in result.output


def test_a_token_revoked_while_its_access_token_was_still_valid_is_an_auth_failure(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    office = practice(tmp_path, source("gcal", fake))
    assert scan(office)[CAL].error == ""  # stores a valid access token beside the refresh one

    fake.oauth.revoke_refresh_token(refresh_token)
    fake.switches.revoke_all_access_tokens()
    report = scan(office)[CAL]

    assert report.auth_failed and "\n" not in report.error
    assert "Google refused the token for account `sam`" in report.error
    assert report.error.endswith(f"run `{FIX}`")


def test_a_missing_token_names_the_command_that_stores_one_and_run_exits_2(
    tmp_path: Path, fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTLINE_CONFIG_DIR", str(tmp_path / "empty"))
    office = practice(tmp_path, source("gcal", fake))

    report = scan(office)[CAL]

    path = tmp_path / "empty" / "google" / "sam.json"
    assert report.auth_failed
    assert report.error.endswith(f"no Google token for account `sam` ({path}); run `{FIX}`")
    assert fake.counters.http_requests == 0
    result = run_command(office)
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660], ids=["group", "world", "group-write"])
def test_a_token_others_can_read_is_refused(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str, mode: int
) -> None:
    path = auth.token_path(ACCOUNT)
    path.chmod(mode)
    office = practice(tmp_path, source("gcal", fake))

    report = scan(office)[CAL]

    assert report.auth_failed
    assert report.error.endswith(
        f"{path}: a token must be readable by its owner only; run `chmod 600 {path}`"
    )
    assert fake.counters.http_requests == 0  # not even refreshed


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def service_account_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A service account key file, with a fresh RSA key and a token_uri nobody serves."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    path = tmp_path_factory.mktemp("service-account") / "sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "clientline-tests",
                "private_key_id": "0123456789abcdef",
                "private_key": pem,
                "client_email": "clientline@clientline-tests.iam.gserviceaccount.com",
                "client_id": "100000000000000000001",
                # a closed loopback port: only `token_uri:` in the source can make this work
                "token_uri": "http://127.0.0.1:9/token",
            }
        ),
        encoding="utf-8",
    )
    path.chmod(0o600)  # a key others can read is refused, as a token is
    return path


def test_a_service_account_acts_as_its_subject_and_a_denied_subject_fails_alone(
    tmp_path: Path, fake: FakeGoogle, service_account_key: Path
) -> None:
    firm = "dana@firm.example"
    denied = "lee@firm.example"
    event = fake.calendar.primary(firm).add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    fake.oauth.deny_subject(denied)

    def delegated(kind: str, name: str, subject: str) -> dict[str, Any]:
        entry = source(kind, fake, name, credentials=str(service_account_key), subject=subject)
        del entry["account"]
        return entry

    office = practice(
        tmp_path, delegated("gcal", "firm", firm), delegated("gmail", "denied", denied)
    )

    reports = scan(office)

    assert reports["firm"].error == "" and reports["firm"].new == 1
    assert open_items(office, "firm") == {event["id"]}
    # both signed their own JWT, one subject each, and asked the fake's token_uri
    assert {g["grant_type"] for g in fake.oauth.grants} == {
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    }
    claims = [json.loads(_b64url(g["assertion"].split(".")[1])) for g in fake.oauth.grants]
    assert sorted(c["sub"] for c in claims) == [firm, denied]
    assert {c["iss"] for c in claims} == {"clientline@clientline-tests.iam.gserviceaccount.com"}
    error = reports["denied"].error
    assert reports["denied"].auth_failed and "\n" not in error
    assert f"service account {service_account_key} acting as {denied}" in error
    assert "(unauthorized_client: Client is unauthorized" in error
    assert error.endswith("check the service account's domain-wide delegation")


def test_a_disabled_api_fails_that_source_with_a_clear_message_and_the_others_run(
    tmp_path: Path, fake: FakeGoogle, refresh_token: str
) -> None:
    event = fake.calendar.primary().add_event(
        summary=MIXED_TITLE, start=at(2, 10), end=at(2, 12), attendees=WITH_DANA
    )
    mail(fake.gmail.mailbox(), *MIXED)
    fake.switches.disable_api("gmail")
    office = practice(tmp_path, source("gcal", fake), source("gmail", fake))

    reports = scan(office)

    error = reports[MAIL].error
    assert "the Gmail API is not enabled for this Google Cloud project" in error
    assert "enable it in the console" in error and "\n" not in error
    assert not reports[MAIL].auth_failed
    assert reports[CAL].error == "" and open_items(office, CAL) == {event["id"]}
    result = run_command(office)
    assert result.exit_code == 0, result.output  # not a configuration error; nothing new
    assert "FAILED: " in result.output
