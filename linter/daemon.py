"""``clientline daemon``: scans on an interval and sends the digest daily, until stopped.

The timetable is kept by the `schedule <https://schedule.readthedocs.io>`_ package:

* a scan every ``schedule.scan_every`` (and one at start-up);
* a digest check every minute. The digest is due once a day from ``digest.at`` in the
  configured timezone (see :func:`linter.worker.digest_due`); checking each minute
  against the stored day, rather than asking for a wall-clock time once, keeps the digest
  to once a day across changes to and from summer time, and sends a missed digest as
  soon as the daemon is back after a restart.

Each step takes the same lock as ``clientline run``, so a cron job and the daemon never
overlap. SIGTERM or SIGINT stops the daemon after the step in progress. Logs go to
stderr, one event per line, as ``key=value`` pairs::

    ts=2026-11-22T07:30:00+00:00 level=info event=scan source=inbox read=1 new=2

and after a scan that met input it could not read, one line for each such place::

    ts=... level=warning event=problem source=calendar file=cal.ics line=12 severity=error

The configuration is read once at start-up: restart the daemon after editing it.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

import schedule

from linter import lintrun, worker
from linter.report import mailer
from linter.store import Store, StoreError

log = logging.getLogger("clientline")
Clock = Callable[[], dt.datetime]
DIGEST_CHECK_SECONDS = 60
MAX_NAP_SECONDS = 60.0
HOST_CLOCK_JUMP = dt.timedelta(minutes=10)  # smaller differences are just time passing
MAX_LOGGED_PROBLEMS = 20  # a source's problems logged after a scan; then how many more


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=... `` then the message, which is already ``key=value`` pairs."""

    def format(self, record: logging.LogRecord) -> str:
        moment = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="seconds")
        return f"ts={moment} level={record.levelname.lower()} {record.getMessage()}"


def configure_logging(stream: object = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(KeyValueFormatter())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def quote(value: object) -> str:
    """A value safe to grep: bare when it is one word, else double-quoted."""
    text = str(value)
    if text and all(c.isalnum() or c in "-_.:/@+" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def event(name: str, **fields: object) -> str:
    return " ".join([f"event={name}", *(f"{k}={quote(v)}" for k, v in fields.items())])


def log_problems(report: worker.SourceReport) -> None:
    """One line for each input a scan could not read, naming its file and line, at most
    :data:`MAX_LOGGED_PROBLEMS` a source: where to look, never what is there (a
    problem's message may quote the input, a line of a calendar or a mail)."""
    for problem in report.problems[:MAX_LOGGED_PROBLEMS]:
        fields: dict[str, object] = {"source": report.name, "file": problem.source}
        if problem.line:
            fields["line"] = problem.line
        fields["severity"] = problem.level
        log.warning(event("problem", **fields))
    if len(report.problems) > MAX_LOGGED_PROBLEMS:
        more = len(report.problems) - MAX_LOGGED_PROBLEMS
        log.warning(event("problem", source=report.name, more=more))


class Daemon:
    def __init__(
        self,
        setup: lintrun.Setup,
        clock: Clock | None = None,
        transport: mailer.Transport | None = None,
    ):
        self.setup = setup
        self.clock = clock or (lambda: dt.datetime.now(setup.config.tz))
        self.transport = transport
        self.stop_requested = threading.Event()
        self._last_seen: tuple[dt.datetime, dt.datetime] | None = None
        self.scheduler = schedule.Scheduler()
        every = max(1, int(setup.config.scan_every.total_seconds()))
        self.scheduler.every(every).seconds.do(self.scan_step)
        if setup.config.digest is not None:
            self.scheduler.every(DIGEST_CHECK_SECONDS).seconds.do(self.digest_step)

    def install_signal_handlers(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            log.info(event("stopping", signal=signal.Signals(signum).name))
            self.stop_requested.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run_forever(self) -> None:
        log.info(
            event(
                "start",
                scan_every=f"{int(self.setup.config.scan_every.total_seconds())}s",
                sources=len(self.setup.config.sources),
                state=worker.state_path(self.setup.config),
            )
        )
        self.scan_step()
        while not self.stop_requested.is_set():
            self.tick()
            idle = self.scheduler.idle_seconds
            nap = MAX_NAP_SECONDS if idle is None else min(max(idle, 0.1), MAX_NAP_SECONDS)
            # waiting on an Event, not sleeping: a signal ends the wait at once
            self.stop_requested.wait(nap)
        log.info(event("stopped"))

    def tick(self) -> None:
        """Run whatever is due now; each step completes before a stop takes effect."""
        self._follow_host_clock()
        self.scheduler.run_pending()

    def _follow_host_clock(self) -> None:
        """``schedule`` times jobs in the host's naive local time, which jumps an hour when
        the host's own zone changes to or from summer time. Measure the jump against the
        real (aware) clock and move every job by it, so intervals stay intervals."""
        naive = schedule.datetime.datetime.now()  # type: ignore[attr-defined]
        aware = self.clock().astimezone(dt.UTC)  # same-zone subtraction ignores DST
        if self._last_seen is not None:
            last_naive, last_aware = self._last_seen
            jump = (naive - last_naive) - (aware - last_aware)
            if abs(jump) >= HOST_CLOCK_JUMP:
                for job in self.scheduler.jobs:
                    if job.next_run is not None:
                        job.next_run += jump
                log.info(event("host_clock_jump", seconds=int(jump.total_seconds())))
        self._last_seen = (naive, aware)

    def _step(self, name: str, action: Callable[[Store], None]) -> None:
        if self.stop_requested.is_set():
            return
        try:
            path = worker.state_path(self.setup.config)
            with worker.locked(path), worker.open_state(self.setup.config) as store:
                action(store)
        except worker.BusyError as exc:
            log.info(event(name, skipped="locked", holder=exc))
        except StoreError as exc:
            log.error(event(name, error=exc))
        except Exception as exc:  # a daemon logs and carries on; the next step may succeed
            log.exception(event(name, error=f"{type(exc).__name__}: {exc}"))

    def scan_step(self) -> None:
        def action(store: Store) -> None:
            for report in worker.scan(self.setup, store, self.clock()):
                fields: dict[str, object] = {
                    "source": report.name,
                    "read": report.units_read,
                    "skipped": report.units_skipped,
                    "items": report.items,
                    "linted": report.linted,
                    "new": report.new,
                    "resolved": report.resolved,
                    "problems": len(report.problems),
                }
                if report.error:
                    fields["error"] = report.error
                log.log(logging.WARNING if report.error else logging.INFO, event("scan", **fields))
                log_problems(report)

        self._step("scan", action)

    def digest_step(self) -> None:
        def action(store: Store) -> None:
            outcome = worker.deliver(self.setup, store, self.clock(), self.transport)
            if "not due" not in outcome:
                log.info(event("digest", outcome=outcome))

        self._step("digest", action)
