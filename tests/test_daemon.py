"""``clientline daemon``: the timetable under an injected clock (never by sleeping),
across changes to and from summer time; the lock shared with ``clientline run``; the
key=value log lines; SIGTERM and SIGINT on a real daemon process.

The daemon reads time in two places: its own ``clock`` (what the worker is told it is)
and the ``schedule`` package, which calls ``datetime.datetime.now()`` for naive local
time. The tests give both the same fake clock: ``schedule.datetime`` is replaced by a
module whose ``datetime.now()`` answers from that clock, and the clock is moved on a
minute at a time, calling ``Daemon.tick()`` after each step, as ``run_forever`` would.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import queue
import re
import signal
import subprocess
import threading
import time
import types
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import schedule

from linter import daemon as daemon_module
from linter import lintrun, worker
from linter.daemon import Daemon
from linter.model import Problem
from linter.store import Store
from tests.worker_helpers import (
    CLIENTLINE,
    MIXED,
    SOCIAL,
    Practice,
    file_digest,
    message,
    write_practice,
)

UTC = dt.UTC
LOG_LINE = re.compile(
    r"^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 level=(debug|info|warning|error) "
    r"event=[a-z_]+( [a-z_]+=(\"([^\"\\]|\\.)*\"|[^\s\"]+))*$"
)


def value(line: str, key: str) -> str:
    """The value of ``key`` in a key=value log line (bare values only)."""
    found = re.search(rf"(?:^| ){key}=(\S+)", line)
    assert found, f"no {key}= in {line!r}"
    return found[1]


class FakeClock:
    """Aware time that moves only when told to."""

    def __init__(self, start: dt.datetime, tz: dt.tzinfo):
        self.utc = start.astimezone(UTC)
        self.tz = tz

    def __call__(self) -> dt.datetime:
        return self.utc.astimezone(self.tz)

    def advance(self, seconds: float) -> None:
        self.utc += dt.timedelta(seconds=seconds)


def drive_schedule(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, host: dt.tzinfo) -> None:
    """Make the ``schedule`` package read ``clock``: its naive "local" time is the
    clock's time in ``host``, the timezone of the machine the daemon would run on."""

    class FakeDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            if tz is None:
                return clock.utc.astimezone(host).replace(tzinfo=None)
            return clock.utc.astimezone(tz)

    shim = types.ModuleType("datetime")
    shim.__dict__.update({k: v for k, v in vars(dt).items() if not k.startswith("__")})
    shim.datetime = FakeDatetime  # type: ignore[attr-defined]
    monkeypatch.setattr(schedule, "datetime", shim)


class Outbox:
    """A transport that keeps each digest with the (fake) time it was sent at."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.sent: list[tuple[dt.datetime, EmailMessage]] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append((self.clock.utc, message))


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The daemon's log, as ``clientline daemon`` configures it, into a buffer."""
    logger = logging.getLogger("clientline")
    saved = logger.handlers[:], logger.level, logger.propagate
    stream = io.StringIO()
    daemon_module.configure_logging(stream)
    try:
        yield stream
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


def practice_in(folder: Path, timezone: str, at: str, scan_every: str = "30m") -> Practice:
    return write_practice(
        folder,
        mail=[message("m1@acme.example", *MIXED), message("m2@acme.example", *SOCIAL)],
        digest=file_digest(at=at, send_when_empty=True),
        timezone=timezone,
        schedule={"scan_every": scan_every},
    )


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def simulate(
    practice: Practice,
    monkeypatch: pytest.MonkeyPatch,
    start: dt.datetime,
    hours: int,
    host: dt.tzinfo = UTC,
) -> tuple[list[dt.datetime], Outbox, FakeClock]:
    """Run a daemon minute by minute for ``hours`` from ``start``; return when it
    scanned (the time the worker was given) and what it sent."""
    setup = practice.prepare(now=start)
    clock = FakeClock(start, setup.config.tz)
    drive_schedule(monkeypatch, clock, host)
    scans: list[dt.datetime] = []
    real_scan = worker.scan

    def scan(
        setup_: lintrun.Setup, store: Store, now: dt.datetime | None = None
    ) -> list[worker.SourceReport]:
        assert now is not None and now == clock()  # the daemon tells the worker its time
        scans.append(now.astimezone(UTC))
        return real_scan(setup_, store, now)

    monkeypatch.setattr(worker, "scan", scan)
    outbox = Outbox(clock)
    daemon = Daemon(setup, clock=clock, transport=outbox)
    for _ in range(hours * 60):
        clock.advance(60)
        daemon.tick()
    return scans, outbox, clock


# (timezone, digest.at, start and hours to run, when each digest is due; times in UTC)
DST_CASES = {
    # clocks go back at 01:00 UTC on 25 October: a 25-hour day between two others
    "london-autumn-0730": (
        "Europe/London",
        "07:30",
        "2026-10-23T23:00",  # midnight, local summer time
        72,
        ["2026-10-24T06:30", "2026-10-25T07:30", "2026-10-26T07:30"],
    ),
    # 01:30 happens twice on 25 October: one digest, at the first
    "london-autumn-0130-twice": (
        "Europe/London",
        "01:30",
        "2026-10-24T23:00",
        27,
        ["2026-10-25T00:30", "2026-10-26T01:30"],
    ),
    # clocks go forward at 07:00 UTC on 14 March 2027: 02:30 never happens that day,
    # so the digest goes at the first minute after it, 03:00 local
    "new-york-spring-0230-skipped": (
        "America/New_York",
        "02:30",
        "2027-03-14T05:00",  # midnight, local standard time
        26,
        ["2027-03-14T07:00", "2027-03-15T06:30"],
    ),
}


@pytest.mark.parametrize(
    ("timezone", "at", "start", "hours", "due"), DST_CASES.values(), ids=DST_CASES
)
def test_scans_every_interval_and_one_digest_a_day_across_summer_time_changes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    timezone: str,
    at: str,
    start: str,
    hours: int,
    due: list[str],
) -> None:
    practice = practice_in(tmp_path, timezone, at)
    scans, outbox, _ = simulate(practice, monkeypatch, utc(start), hours)

    # a scan every 30 minutes of real time, the 25-hour and 23-hour days included
    assert len(scans) == 2 * hours
    assert scans[0] == utc(start) + dt.timedelta(minutes=30)
    assert {b - a for a, b in itertools.pairwise(scans)} == {dt.timedelta(minutes=30)}

    # one digest per local day, at the first minute at or after `at` in `timezone`
    assert [moment for moment, _ in outbox.sent] == [utc(d) for d in due]
    zone = ZoneInfo(timezone)
    days = [moment.astimezone(zone).date().isoformat() for moment, _ in outbox.sent]
    assert len(set(days)) == len(due)
    for (_, mail), day in zip(outbox.sent, days, strict=True):
        assert mail["Subject"].endswith(f"({day})")  # dated in the user's timezone
    ids = [mail["X-Clientline-Digest"] for _, mail in outbox.sent]
    assert ids == [str(n) for n in range(1, len(due) + 1)]
    # the first digest reports the findings as new, the later ones as still open
    first, *later = (mail["Subject"] for _, mail in outbox.sent)
    assert first.startswith("clientline: 3 new, 0 open")
    assert later and all(s.startswith("clientline: 0 new, 3 open") for s in later)
    with practice.open_store() as store:
        assert store.pending_digest() is None
        rows = store.db.execute("SELECT day, sent IS NOT NULL FROM digests ORDER BY id")
        assert [(str(r[0]), bool(r[1])) for r in rows] == [(d, True) for d in days]


def test_scans_keep_their_interval_when_the_hosts_own_clock_goes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    practice = practice_in(tmp_path, "Europe/London", "07:30")
    # 23:00 to 05:00 UTC across the change, on a machine whose own clock is London's
    scans, _, _ = simulate(
        practice, monkeypatch, utc("2026-10-24T23:00"), 6, host=ZoneInfo("Europe/London")
    )
    gaps = {b - a for a, b in itertools.pairwise(scans)}
    assert gaps == {dt.timedelta(minutes=30)}, sorted(gaps)


def test_a_missed_digest_is_sent_as_soon_as_the_daemon_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    practice = practice_in(tmp_path, "Europe/London", "07:30")
    # started at 23:00 local, long after 07:30: today's digest goes at the first check,
    # tomorrow's at 07:30
    scans, outbox, _ = simulate(practice, monkeypatch, utc("2026-11-23T23:00"), 9)
    assert [moment for moment, _ in outbox.sent] == [
        utc("2026-11-23T23:01"),
        utc("2026-11-24T07:30"),
    ]
    assert [mail["Subject"][-12:] for _, mail in outbox.sent] == ["(2026-11-23)", "(2026-11-24)"]
    assert len(scans) == 18


def test_a_step_waits_for_the_lock_a_run_holds_and_logs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_lines: io.StringIO
) -> None:
    practice = practice_in(tmp_path, "Europe/London", "07:30")
    start = utc("2026-11-23T09:00")
    setup = practice.prepare(now=start)
    clock = FakeClock(start, setup.config.tz)
    drive_schedule(monkeypatch, clock, UTC)
    outbox = Outbox(clock)
    daemon = Daemon(setup, clock=clock, transport=outbox)
    with worker.locked(str(practice.state)):
        daemon.scan_step()
        daemon.digest_step()
    assert not practice.state.exists() and outbox.sent == []
    daemon.scan_step()
    daemon.digest_step()
    assert len(outbox.sent) == 1
    lines = log_lines.getvalue().splitlines()
    assert all(LOG_LINE.match(line) for line in lines), lines
    assert sum("event=scan skipped=locked" in line for line in lines) == 1
    assert sum("event=digest skipped=locked" in line for line in lines) == 1
    scanned = [line for line in lines if "event=scan source=" in line]
    assert [value(line, "source") for line in scanned] == [
        "inbox",
        "calendar",
        "archive",
        "contacts",
    ]
    assert "read=1" in scanned[0] and "new=1" in scanned[0]
    assert any('event=digest outcome="digest 1 sent: ' in line for line in lines)


def test_a_failing_step_is_logged_and_the_daemon_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_lines: io.StringIO
) -> None:
    practice = practice_in(tmp_path, "Europe/London", "07:30")
    start = utc("2026-11-23T09:00")
    setup = practice.prepare(now=start)
    clock = FakeClock(start, setup.config.tz)
    drive_schedule(monkeypatch, clock, UTC)
    daemon = Daemon(setup, clock=clock, transport=Outbox(clock))
    practice.state.parent.mkdir(parents=True)
    practice.state.write_bytes(b"not a database " * 500)  # e.g. a disk error
    daemon.scan_step()
    practice.state.unlink()
    practice.add_mail(message("m3@acme.example", "Saturday", MIXED[1]))
    daemon.scan_step()
    lines = log_lines.getvalue().splitlines()
    assert all(LOG_LINE.match(line) for line in lines), lines
    [error] = [line for line in lines if "level=error" in line]
    assert "event=scan error=" in error and str(practice.state) in error
    assert any("event=scan source=inbox" in line and "new=2" in line for line in lines)


def test_each_problem_a_scan_meets_is_logged_with_its_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_lines: io.StringIO
) -> None:
    practice = practice_in(tmp_path, "Europe/London", "07:30")
    # a stray line in the calendar (its text is someone's, and stays out of the log),
    # and an event cut short by the end of the file
    lines = practice.ics.read_text(encoding="utf-8").splitlines()
    stray = lines.index("END:VCALENDAR")
    lines[stray:] = [
        "END:VDANA-IS-LEAVING-HER-HUSBAND",
        "BEGIN:VEVENT",
        "UID:cut-short@studio.example",
        "SUMMARY:Lunch",
    ]
    practice.ics.write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = utc("2026-11-23T09:00")
    setup = practice.prepare(now=start)
    clock = FakeClock(start, setup.config.tz)
    drive_schedule(monkeypatch, clock, UTC)
    Daemon(setup, clock=clock, transport=Outbox(clock)).scan_step()
    logged = log_lines.getvalue().splitlines()
    assert all(LOG_LINE.match(line) for line in logged), logged
    [scanned] = [line for line in logged if "event=scan source=calendar" in line]
    problems = [line for line in logged if "event=problem" in line]
    assert value(scanned, "problems") == str(len(problems))
    assert all("level=warning" in line and "source=calendar" in line for line in problems)
    assert {value(line, "file") for line in problems} == {str(practice.ics)}
    where = [(re.findall(r" line=(\d+)", line), value(line, "severity")) for line in problems]
    assert where == [
        ([str(stray + 1)], "error"),  # the stray END line
        ([str(stray + 2)], "error"),  # the event the file ends inside
        ([], "warning"),  # the calendar the file ends inside: no one line to name
    ]
    assert "HUSBAND" not in log_lines.getvalue() and "Lunch" not in log_lines.getvalue()


def test_problems_past_the_first_twenty_are_counted_not_listed(log_lines: io.StringIO) -> None:
    report = worker.SourceReport(
        "inbox", problems=[Problem("inbox.mbox", "bad", n) for n in range(1, 26)]
    )
    daemon_module.log_problems(report)
    logged = log_lines.getvalue().splitlines()
    assert len(logged) == 21 and "line=20 " in logged[19]
    assert logged[20].endswith("event=problem source=inbox more=5")


# -- a real daemon process -----------------------------------------------------------


def read_lines(stream: io.TextIOBase, into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


def wait_for(lines: queue.Queue[str | None], seen: list[str], needle: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            return False
        seen.append(line)
        if needle in line:
            return True
    return False


@pytest.mark.parametrize(
    ("signum", "after"),
    [
        (signal.SIGTERM, "event=scan source=contacts"),  # between steps
        (signal.SIGINT, "event=scan source=contacts"),
        (signal.SIGTERM, "event=start"),  # just as the first scan begins
    ],
    ids=["sigterm-idle", "sigint-idle", "sigterm-at-start"],
)
def test_a_signal_stops_the_daemon_cleanly_after_the_step_in_progress(
    tmp_path: Path, signum: signal.Signals, after: str
) -> None:
    practice = write_practice(
        tmp_path,
        mail=[message(f"m{n}@acme.example", *(MIXED if n % 2 else SOCIAL)) for n in range(300)],
        digest=file_digest(at="00:00"),
        schedule={"scan_every": "1s"},
    )
    process = subprocess.Popen(
        [*CLIENTLINE, "daemon", "--config", str(practice.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stderr is not None
    reader = threading.Thread(target=read_lines, args=(process.stderr, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        assert wait_for(lines, seen, after, 30), seen
        process.send_signal(signum)
        assert wait_for(lines, seen, "event=stopped", 10), seen
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=10)
    while (line := lines.get(timeout=5)) is not None:
        seen.append(line)
    assert process.stdout is not None and process.stdout.read() == ""  # logs go to stderr
    process.stdout.close()
    process.stderr.close()
    assert seen and all(LOG_LINE.match(line) for line in seen), seen
    events = [value(line, "event") for line in seen]
    assert events[0] == "start" and events[-1] == "stopped"
    assert events.count("stopping") == 1
    stop_at = events.index("stopping")
    assert f"signal={signum.name}" in seen[stop_at]
    # the step under way when the signal came was finished, not cut short (a scan logs
    # its four sources once all are done), and no other step began after it
    sources = [value(line, "source") for line in seen if "event=scan " in line]
    assert sources == ["inbox", "calendar", "archive", "contacts"] * (len(sources) // 4)
    assert events[stop_at:].count("scan") in (0, 4)
    if after != "event=start":
        assert sources
    if sources:
        with practice.open_store() as store:
            assert store.integrity() == "ok"
            assert len(store.findings("open")) == 150 + 2
    else:
        assert not practice.state.exists()
