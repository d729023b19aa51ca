"""What syncing Google Calendar and Gmail costs: requests, quota, time (``make bench``).

The real ``google-api-python-client`` talks, through our ``gcal`` and ``gmail`` sources
and the worker's :func:`linter.worker.sync_account`, to the fake Google of
``tests/fakes/google_server.py`` on 127.0.0.1. The fake holds a calendar of 10,000
events and a mailbox of 50,000 messages (``--quick``: 1,000 and 5,000), made by the
same generators as the file corpora (``corpus_ics``, ``corpus_mbox``): real people,
the four registers, MIME shapes, replies and a log-normal size of a few KB.

For each simulated latency (0 ms, then 50 ms per HTTP request) a fresh state database
gets (a) the first sync and (b) a second run after 20 changes (Calendar: 4 events
changed, 3 added, 3 deleted; Gmail: 5 messages arrive, 5 are deleted). Each source is
measured alone: HTTP requests (a batch is one; OAuth token refreshes counted apart),
logical API calls, batches, Gmail quota units and units per message, as the fake
counted them and as the client's ``Usage`` counted them; wall time, time inside HTTP
requests (the round trips), CPU time, the fake's share of it (it runs in this process)
and time in the garbage collector. After seeding, the fake's objects are frozen out of
the collector (``gc.freeze()``; ``--no-gc-freeze`` leaves them in), as a real client
would not carry them.

Pacing is off for every timed run (``quota_per_minute: 0``). What the default pacing
(6,000 Gmail units and 600 Calendar requests a minute), and Gmail's own per-user limit
(15,000 units a minute), would make of the first sync is computed by replaying its
spending, at the times it happened, through :class:`linter.google.api.Pacer` on a
virtual clock.

Targets (PASS/MISS): the second run makes at most 10 HTTP requests, both sources
together; the first sync costs at most 5.2 Gmail quota units a message; at 50 ms the
first sync's time is bound by batch round trips, not per-message ones.

Output: a table on the terminal and ``bench/out/google_api.json``. Only loopback; the
state, config folder and token live in a temporary folder removed at the end.

    python bench/google_api.py [--quick] [--events N] [--messages N] [--latency MS]...
                               [--out FILE] [--no-gc-freeze] [--check]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import random
import resource
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:  # tests.fakes lives beside the package, not in it
    sys.path.insert(0, str(ROOT))

from corpus_ics import CalendarWriter, Occasion  # noqa: E402
from corpus_mbox import MailboxWriter, render  # noqa: E402
from corpus_people import Directory, build_directory, contacts_lines  # noqa: E402
from generate import SEED  # noqa: E402

from linter import lintrun, sources, worker  # noqa: E402
from linter.google import api, auth  # noqa: E402
from linter.google.auth import CALENDAR_READONLY, GMAIL_READONLY  # noqa: E402
from linter.store import Store  # noqa: E402
from tests.fakes.google_server import Calendar, FakeGoogle, Mailbox  # noqa: E402

OUT = BENCH / "out" / "google_api.json"
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)  # the fake's frozen clock
LONDON = ZoneInfo("Europe/London")
ACCOUNT = "sam"  # the token's name in the config folder
LATENCIES_MS = (0.0, 50.0)
MAIL_DAYS = 89  # the mailbox spans this many days before NOW (the query keeps 90)
CAL_BACK, CAL_AHEAD = 30, 180  # the gcal source's default first-sync window
TARGET_SECOND_RUN_REQUESTS = 10
TARGET_UNITS_PER_MESSAGE = 5.2
LATENCY_SLACK = 1.5  # latency may cost up to this many times round trips x latency
LATENCY_ALLOWANCE = 0.5  # seconds, for timer noise on short runs
PER_ITEM_SHARE = 0.2  # wall at 50 ms against one round trip per item
DEFAULT_PACING = dict(api.DEFAULT_QUOTA)  # gmail: units a minute, calendar: requests
GMAIL_USER_LIMIT = 15_000.0  # Gmail's per-user quota units a minute (its usage limits page)
CONNECT = {"gcal": ("calendar", CALENDAR_READONLY), "gmail": ("gmail", GMAIL_READONLY)}
API_OF = {"gcal": "calendar", "gmail": "gmail"}


@dataclass(frozen=True)
class Sizes:
    events: int = 10_000
    messages: int = 50_000


FULL = Sizes()
QUICK = Sizes(events=1_000, messages=5_000)


# ---- the data ---------------------------------------------------------------------------


class RecentMailbox(MailboxWriter):
    """The mbox corpus's messages, dated over the ``MAIL_DAYS`` before ``NOW``."""

    def _date(self, index: int, register: str) -> dt.datetime:
        rng = self.rng
        span = dt.timedelta(days=MAIL_DAYS)
        moment = NOW - span + span * min((index + rng.random()) / self.count, 1.0)
        return moment.astimezone(LONDON).replace(microsecond=0)


@dataclass
class Seeded:
    """The fake's data and the ids the changes pick from."""

    calendar: Calendar
    mailbox: Mailbox
    event_ids: list[str]
    message_ids: list[str]
    writer: RecentMailbox
    calendar_writer: CalendarWriter
    mail_bytes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    next_event: int = 0
    next_message: int = 0


def google_event(occasion: Occasion, day: dt.date) -> dict[str, Any]:
    """A Calendar API event for a corpus occasion, moved to ``day``; one occurrence."""
    event: dict[str, Any] = {"summary": occasion.title, "iCalUID": occasion.uid}
    if isinstance(occasion.start, dt.datetime) and isinstance(occasion.end, dt.datetime):
        start = dt.datetime.combine(day, occasion.start.time(), LONDON)
        event["start"] = {"dateTime": start.isoformat(), "timeZone": "Europe/London"}
        end = start + (occasion.end - occasion.start)
        event["end"] = {"dateTime": end.isoformat(), "timeZone": "Europe/London"}
    else:
        event["start"] = {"date": day.isoformat()}
        event["end"] = {"date": (day + dt.timedelta(days=1)).isoformat()}
    if occasion.location:
        event["location"] = occasion.location
    if occasion.description:
        event["description"] = occasion.description
    if occasion.organizer is not None:
        event["organizer"] = {
            "email": occasion.organizer.address,
            "displayName": occasion.organizer.name,
        }
    if occasion.attendees:
        event["attendees"] = [
            {"email": p.address, "displayName": p.name, "responseStatus": "accepted"}
            for p in occasion.attendees
        ]
    if occasion.status == "TENTATIVE":
        event["status"] = "tentative"
    if "CLASS:PRIVATE" in occasion.extra:
        event["visibility"] = "private"
    return event


def event_day(index: int, count: int) -> dt.date:
    """Occasion ``index`` of ``count``, spread evenly over the source's window."""
    first = NOW.astimezone(LONDON).date() - dt.timedelta(days=CAL_BACK - 1)
    return first + dt.timedelta(days=index * (CAL_BACK + CAL_AHEAD - 3) // max(count, 1))


def add_events(seeded: Seeded, count: int, days: Callable[[int], dt.date]) -> list[str]:
    ids = []
    for _ in range(count):
        index = seeded.next_event
        seeded.next_event += 1
        occasion = seeded.calendar_writer._plan(index)
        ids.append(seeded.calendar.add_event(google_event(occasion, days(index)))["id"])
    return ids


def add_messages(seeded: Seeded, count: int, *, history: bool, now: bool = False) -> list[str]:
    """Render and store ``count`` corpus messages (``now``: dated just before NOW)."""
    ids = []
    me = seeded.writer.people.me
    for _ in range(count):
        index = seeded.next_message
        seeded.next_message += 1
        plan = seeded.writer._plan(index)
        if now:
            plan.date = (NOW - dt.timedelta(minutes=count - len(ids))).astimezone(LONDON)
        raw = render(seeded.writer, plan)
        seeded.mail_bytes += len(raw)
        message = seeded.mailbox.add_message(
            raw,
            label_ids=["SENT"] if plan.sender == me else ["INBOX", "UNREAD"],
            internal_date=plan.date,
            snippet="",  # not asked for; saves the fake a parse of every message
            record_history=history,
        )
        ids.append(message.id)
    return ids


def seed(fake: FakeGoogle, directory: Directory, sizes: Sizes, user: str) -> Seeded:
    started = time.perf_counter()
    calendar = fake.calendar.add_calendar(
        user, summary=user, time_zone="Europe/London", user=user, primary=True
    )
    mailbox = fake.gmail.mailbox(user)
    seeded = Seeded(
        calendar,
        mailbox,
        [],
        [],
        RecentMailbox(random.Random(SEED + 1), directory, sizes.messages),
        CalendarWriter(random.Random(SEED + 2), directory, sizes.events),
    )
    seeded.event_ids = add_events(seeded, sizes.events, lambda i: event_day(i, sizes.events))
    seeded.seconds["calendar"] = time.perf_counter() - started
    started = time.perf_counter()
    seeded.message_ids = add_messages(seeded, sizes.messages, history=False)
    mailbox.trim_history()  # as after seeding: history starts now
    seeded.seconds["mailbox"] = time.perf_counter() - started
    started = time.perf_counter()
    for message in list(mailbox.messages.values()):
        message.mime()  # the fake caches each parse: both latencies see a warm fake
    seeded.seconds["fake_parse_cache"] = time.perf_counter() - started
    return seeded


def change(seeded: Seeded, rng: random.Random) -> dict[str, int]:
    """The 20 changes between the two runs: 10 to the calendar, 10 to the mailbox."""
    calendar = seeded.calendar
    picked = rng.sample(seeded.event_ids, 7)
    for event_id in picked[:4]:
        event = calendar.get(event_id)
        calendar.update_event(event_id, summary=str(event.get("summary", "")) + " (changed)")
    for event_id in picked[4:]:
        calendar.delete_event(event_id)
        seeded.event_ids.remove(event_id)
    today = NOW.astimezone(LONDON).date()
    seeded.event_ids += add_events(seeded, 3, lambda i: today + dt.timedelta(days=i % 60 + 1))
    gone = rng.sample(seeded.message_ids, 5)
    for message_id in gone:
        seeded.mailbox.delete_message(message_id)
        seeded.message_ids.remove(message_id)
    seeded.message_ids += add_messages(seeded, 5, history=True, now=True)
    return {"events_changed": 4, "events_deleted": 3, "events_added": 3,
            "messages_added": 5, "messages_deleted": 5}  # fmt: skip


# ---- measuring ---------------------------------------------------------------------------


class SpendLog:
    """Stands in for a Pacer: records what the client would spend and when, never waits."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.spends: list[tuple[float, float]] = []

    def spend(self, units: float) -> None:
        self.spends.append((time.perf_counter() - self.started, units))


class HttpClock:
    """Time the client spends inside HTTP requests (sent, waited for, read back)."""

    def __init__(self, http: Any) -> None:
        self.seconds = 0.0
        original = http.request

        def request(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        http.request = request  # the service and its batches share this object


class GcClock:
    """Time the garbage collector takes, in whichever thread it runs, and full collections."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: Mapping[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.full += info.get("generation") == 2

    def read(self) -> tuple[float, int]:
        return self.seconds, self.full


def machine_busy() -> float | None:
    """CPU seconds the whole machine has been busy (Linux ``/proc/stat``), else None."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()[1:]
        ticks = sum(int(fields[i]) for i in (0, 1, 2, 5, 6))  # user nice system irq softirq
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class ServerClock:
    """Time the fake spends answering, on its own threads (latency waits included in
    ``busy``, not in ``cpu``)."""

    def __init__(self, fake: FakeGoogle) -> None:
        self.busy = 0.0
        self.cpu = 0.0
        self._lock = threading.Lock()
        original = fake.serve

        def serve(handler: Any) -> None:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                original(handler)
            finally:
                with self._lock:
                    self.busy += time.perf_counter() - wall
                    self.cpu += time.thread_time() - cpu

        fake.serve = serve  # type: ignore[method-assign]

    def read(self) -> tuple[float, float]:
        with self._lock:
            return self.busy, self.cpu


def counters_delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in after.items():
        if isinstance(value, dict):
            old = before.get(key) or {}
            diff = {str(k): v - old.get(k, 0) for k, v in value.items() if v != old.get(k, 0)}
            out[key] = dict(sorted(diff.items()))
        else:
            out[key] = value - before.get(key, 0)
    return out


def sync_one(
    fake: FakeGoogle,
    clock: ServerClock,
    gc_clock: GcClock,
    setup: lintrun.Setup,
    store: Store,
    spec: Any,
    scan_number: int,
) -> dict[str, Any]:
    """One account source through the worker, measured alone."""
    report = worker.SourceReport(spec.name)
    spend_log = SpendLog()
    before = fake.counters.snapshot()
    busy0, cpu0 = clock.read()
    gc0, full0 = gc_clock.read()
    busy_started = machine_busy()
    started, cpu_started = time.perf_counter(), time.process_time()
    account = sources.accounts()[spec.type](
        spec.name, spec.options, setup.window, setup.config.base, NOW
    )
    # connected here, as the source would, so the pacing replay can watch its spending
    api_name, scope = CONNECT[spec.type]
    client = api.connect(api_name, spec.options, [scope], setup.config.base)
    client.pacer = spend_log  # type: ignore[assignment]
    http_clock = HttpClock(client.http)
    account.client = client  # type: ignore[attr-defined]
    worker.sync_account(setup, store, spec.name, account, scan_number, report)
    wall, process_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    busy_ended = machine_busy()
    others = None
    if busy_started is not None and busy_ended is not None:
        others = round(max(0.0, busy_ended - busy_started - process_cpu), 1)
    busy, cpu = clock.read()
    gc1, full1 = gc_clock.read()
    server = counters_delta(before, fake.counters.snapshot())
    oauth = sum(n for k, n in server["http_by_endpoint"].items() if k.startswith("oauth."))
    usage = client.usage
    return {
        "source": API_OF[spec.type],
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(process_cpu, 3),  # this process: client and fake
        "http_seconds": round(http_clock.seconds, 3),  # inside requests, round trips
        "others_cpu_seconds": others,  # other processes on the machine meanwhile
        "server_seconds": round(busy - busy0, 3),
        "server_cpu_seconds": round(cpu - cpu0, 3),
        "gc_seconds": round(gc1 - gc0, 3),
        "gc_full_collections": full1 - full0,
        "http_requests": server["http_requests"],
        "oauth_requests": oauth,
        "api_http_requests": server["api_http_requests"],
        "calls": sum(server["calls"].values()),
        "batches": server["batch_requests"],
        "batch_parts": server["batch_parts"],
        "gmail_quota_units": server["gmail_quota_units"],
        "client_usage": {
            "requests": usage.requests,
            "calls": usage.calls,
            "units": usage.units,
            "retries": usage.retries,
            "waited": round(usage.waited, 3),
        },
        "items": report.items,
        "linted": report.linted,
        "new_findings": report.new,
        "resolved": report.resolved,
        "problems": [f"{p.source}: {p.message}" for p in report.problems[:5]],
        "problem_count": len(report.problems),
        "server": server,
        "spends": spend_log.spends,
    }


def config_text(fake: FakeGoogle, state: Path) -> str:
    common = (
        f"    account: {ACCOUNT}\n    endpoint: {fake.url}\n    token_uri: {fake.token_uri}\n"
        "    quota_per_minute: 0\n"
    )
    return (
        "timezone: Europe/London\ncontacts: contacts.yaml\nrules: [builtin]\n"
        f"state: {state}\nsources:\n"
        f"  - type: gcal\n    name: calendar\n{common}"
        f"  - type: gmail\n    name: mail\n{common}"
    )


@contextmanager
def latency(fake: FakeGoogle, seconds: float) -> Iterator[None]:
    fake.switches.set_latency(seconds)
    try:
        yield
    finally:
        fake.switches.set_latency(0)


def scenario(
    fake: FakeGoogle,
    clock: ServerClock,
    gc_clock: GcClock,
    seeded: Seeded,
    folder: Path,
    seconds: float,
    user: str,
    rng: random.Random,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """First sync, 20 changes, second run: on a fresh state, at one latency."""
    ms = round(seconds * 1000)
    here = Path(tempfile.mkdtemp(prefix=f"latency-{ms}ms-", dir=folder))
    (here / "contacts.yaml").write_text((folder / "contacts.yaml").read_text())
    config = here / "clientline.yaml"
    config.write_text(config_text(fake, here / "state.db"))
    token = {
        "refresh_token": fake.oauth.issue_refresh_token(user),
        "token_uri": fake.token_uri,
        "client_id": "bench.apps.googleusercontent.com",
        "client_secret": "bench",
        "scopes": auth.scopes(),
    }
    auth.save_token(auth.token_path(ACCOUNT), token)  # refreshed on the first sync
    setup = lintrun.prepare(str(config), now=NOW)
    errors = worker.check_sources(setup.config)
    if errors:
        raise RuntimeError("; ".join(errors))
    out: dict[str, Any] = {"latency_ms": ms, "runs": {}}
    for run in ("first", "second"):
        if run == "second":
            out["changes"] = change(seeded, rng)
        results = []
        with Store(setup.config.state) as store, latency(fake, seconds):
            scan_number = store.next_scan()
            for spec in setup.config.sources:
                log(f"  {ms} ms, {run} run, {spec.type}...")
                results.append(sync_one(fake, clock, gc_clock, setup, store, spec, scan_number))
        out["runs"][run] = results
    return out


# ---- pacing, targets --------------------------------------------------------------------


def paced(spends: list[tuple[float, float]], wall: float, per_minute: float) -> dict[str, Any]:
    """The first sync paced at ``per_minute``: its spending replayed, at the times it
    happened, through a real Pacer on a virtual clock (a full bucket to start)."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    pacer = api.Pacer(per_minute, clock=lambda: now[0], sleep=sleep)
    done = 0.0
    for at, cost in spends:
        now[0] += at - done
        done = at
        pacer.spend(cost)
    spent = sum(cost for _, cost in spends)
    return {
        "per_minute": per_minute,
        "spent": spent,
        "waited_seconds": round(pacer.waited, 1),
        "wall_seconds": round(wall + pacer.waited, 1),
        "lower_bound_seconds": round(max(0.0, spent - per_minute) / (per_minute / 60), 1),
    }


def by_source(runs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in runs if r["source"] == name)


def targets(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for sc in scenarios:
        second = sc["runs"]["second"]
        total = sum(r["http_requests"] for r in second)
        found.append({
            "name": f"second run HTTP requests, both sources, {sc['latency_ms']} ms",
            "target": f"<= {TARGET_SECOND_RUN_REQUESTS}",
            "measured": total,
            "detail": ", ".join(f"{r['source']} {r['http_requests']}" for r in second),
            "met": total <= TARGET_SECOND_RUN_REQUESTS,
        })  # fmt: skip
    for sc in scenarios:
        gmail = by_source(sc["runs"]["first"], "gmail")
        per = gmail["gmail_quota_units"] / max(gmail["items"], 1)
        found.append({
            "name": f"first sync Gmail quota units a message, {sc['latency_ms']} ms",
            "target": f"<= {TARGET_UNITS_PER_MESSAGE}",
            "measured": round(per, 3),
            "detail": f"{gmail['gmail_quota_units']:,} units / {gmail['items']:,} messages",
            "met": per <= TARGET_UNITS_PER_MESSAGE,
        })  # fmt: skip
    base = next((sc for sc in scenarios if sc["latency_ms"] == 0), None)
    for sc in scenarios:
        if base is None or sc is base:
            continue
        lat = sc["latency_ms"] / 1000
        for name in ("gmail", "calendar"):
            slow = by_source(sc["runs"]["first"], name)
            fast = by_source(base["runs"]["first"], name)
            trips = slow["http_requests"]
            waits = trips * lat
            extra = slow["http_seconds"] - fast["http_seconds"]
            per_item = slow["items"] * lat
            met = (
                extra <= LATENCY_SLACK * waits + LATENCY_ALLOWANCE
                and slow["wall_seconds"] <= PER_ITEM_SHARE * per_item
            )
            others = slow.get("others_cpu_seconds")
            found.append({
                "name": f"first sync bound by batch round trips, {name}, {sc['latency_ms']} ms",
                "target": (
                    f"time in HTTP requests grows by <= {LATENCY_SLACK} x round trips x "
                    f"latency (+{LATENCY_ALLOWANCE} s), and wall <= {PER_ITEM_SHARE:.0%} of "
                    "items x latency"
                ),
                "measured": round(extra, 1),
                "detail": (
                    f"{trips:,} round trips x {sc['latency_ms']} ms = {waits:.1f} s; wall "
                    f"{slow['wall_seconds']:.1f} s, of which {slow['http_seconds']:.1f} s in "
                    f"HTTP requests (0 ms: wall {fast['wall_seconds']:.1f} s, "
                    f"{fast['http_seconds']:.1f} s in HTTP), so latency cost {extra:.1f} s; "
                    "one round trip per "
                    f"{'message' if name == 'gmail' else 'event'} would cost "
                    f"{slow['items']:,} x {sc['latency_ms']} ms = {per_item:,.0f} s"
                    + (f"; other processes used {others:.0f} CPU s meanwhile" if others else "")
                ),
                "met": met,
            })  # fmt: skip
    return found


# ---- output ---------------------------------------------------------------------------


def table(scenarios: list[dict[str, Any]], pacing: dict[str, Any]) -> str:
    head = (
        f"{'latency':>7}  {'run':<6} {'source':<8} {'HTTP':>6} {'oauth':>5} {'calls':>7} "
        f"{'batches':>7} {'units':>8} {'u/msg':>6} {'items':>7} {'wall s':>8} {'http s':>7} "
        f"{'cpu s':>7} {'fake s':>7} {'gc s':>6} {'rate/s':>7}"
    )
    lines = [head, "-" * len(head)]
    for sc in scenarios:
        for run, results in sc["runs"].items():
            for r in results:
                units = r["gmail_quota_units"] if r["source"] == "gmail" else None
                per = f"{units / r['items']:.2f}" if units and r["items"] else "-"
                rate = r["items"] / r["wall_seconds"] if r["wall_seconds"] else 0
                lines.append(
                    f"{sc['latency_ms']:>4} ms  {run:<6} {r['source']:<8} "
                    f"{r['http_requests']:>6,} {r['oauth_requests']:>5} {r['calls']:>7,} "
                    f"{r['batches']:>7,} {units if units is not None else '-':>8} {per:>6} "
                    f"{r['items']:>7,} {r['wall_seconds']:>8.2f} {r['http_seconds']:>7.2f} "
                    f"{r['cpu_seconds']:>7.2f} {r['server_cpu_seconds']:>7.2f} "
                    f"{r['gc_seconds']:>6.2f} {rate:>7,.0f}"
                )
            total = sum(r["http_requests"] for r in results)
            wall = sum(r["wall_seconds"] for r in results)
            lines.append(f"{'':>7}  {run:<6} {'both':<8} {total:>6,} {'':>58} {wall:>8.2f}")
    lines.append("")
    lines.append(
        "HTTP: requests the fake read (a batch is one), OAuth refreshes included; oauth: "
        "of which token refreshes; calls: logical API calls, batch parts included; units: "
        "Gmail quota units; items: events or messages stored; http s: time inside HTTP "
        "requests (round trips: the fake's work and the latency); cpu s: CPU time of this "
        "process (client and fake); fake s: the fake's share of it; gc s: time in the "
        "garbage collector; rate: items / wall s."
    )
    others = [
        r["others_cpu_seconds"]
        for sc in scenarios
        for results in sc["runs"].values()
        for r in results
        if r.get("others_cpu_seconds") is not None
    ]
    if others:
        lines.append(
            f"Other processes used {sum(others):,.0f} CPU seconds of the machine's "
            f"{os.cpu_count()} CPUs during the timed runs (contention: wall above cpu + latency)."
        )
    lines.append("Pacing was off for every timed run (quota_per_minute: 0).")
    for name, model in pacing.items():
        lines.append(
            f"{'Pacing' if 'limit' in name else 'Default pacing'}, first sync, {name}: "
            f"{model['spent']:,.0f} {'request(s)' if name == 'calendar' else 'units'} at "
            f"{model['per_minute']:,.0f}/min "
            f"(a full bucket to start) adds {model['waited_seconds']:,.1f} s: about "
            f"{model['wall_seconds']:,.1f} s instead of {model['unpaced_seconds']:,.1f} s "
            f"(at least {model['lower_bound_seconds']:,.1f} s whatever the speed)."
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 events, 5,000 messages")
    parser.add_argument("--events", type=int, metavar="N")
    parser.add_argument("--messages", type=int, metavar="N")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--latency",
        type=float,
        action="append",
        metavar="MS",
        help="simulated latency per HTTP request, repeatable (default: 0 and 50)",
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="leave the fake's data to the garbage collector (shows what it costs)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """0, or 1 with ``--check`` when a target is missed; 2 when the run fails."""
    args = _parse_args(argv)
    try:
        return _run(args)
    except Exception:
        traceback.print_exc()
        print("google_api.py: the benchmark failed", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    base = QUICK if args.quick else FULL
    sizes = Sizes(args.events or base.events, args.messages or base.messages)
    started = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {text}", file=sys.stderr, flush=True)

    directory = build_directory(SEED)
    user = directory.me.address
    rng = random.Random(SEED + 3)
    with tempfile.TemporaryDirectory(prefix="clientline-bench-google-") as temp:
        folder = Path(temp)
        os.environ["CLIENTLINE_CONFIG_DIR"] = str(folder / "config")
        (folder / "contacts.yaml").write_text("".join(contacts_lines(directory)))
        with FakeGoogle(default_user=user, now=NOW) as fake:
            fake.oauth.require_auth = True
            clock, gc_clock = ServerClock(fake), GcClock()
            log(f"seeding {sizes.events:,} events and {sizes.messages:,} messages...")
            seeded = seed(fake, directory, sizes, user)
            log(f"seeded in {sum(seeded.seconds.values()):.1f} s")
            if not args.no_gc_freeze:
                # the fake's millions of objects are not the client's: keep the
                # collector from walking them, as it would not in a real client
                gc.collect()
                gc.freeze()
            scenarios = [
                scenario(fake, clock, gc_clock, seeded, folder, ms / 1000, user, rng, log)
                for ms in args.latency or LATENCIES_MS
            ]
            gc.unfreeze()
    first = min(scenarios, key=lambda sc: sc["latency_ms"])["runs"]["first"]
    pacing = {}
    for r in first:
        model = paced(r["spends"], r["wall_seconds"], DEFAULT_PACING[r["source"]])
        model["unpaced_seconds"] = r["wall_seconds"]
        pacing[r["source"]] = model
        if r["source"] == "gmail":  # for comparison: Google's own per-user limit
            model = paced(r["spends"], r["wall_seconds"], GMAIL_USER_LIMIT)
            model["unpaced_seconds"] = r["wall_seconds"]
            pacing["gmail at Google's per-user limit"] = model
    for sc in scenarios:
        for results in sc["runs"].values():
            for r in results:
                del r["spends"]
    found = targets(scenarios)
    result = {
        "sizes": {
            "events": sizes.events,
            "messages": sizes.messages,
            "mail_megabytes": round(seeded.mail_bytes / 1e6, 1),
        },
        "seed_seconds": {k: round(v, 1) for k, v in seeded.seconds.items()},
        "pacing": "off for every timed run (quota_per_minute: 0)",
        "gc_freeze": not args.no_gc_freeze,
        "default_pacing_first_sync": pacing,
        "scenarios": scenarios,
        "targets": found,
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"Google API sync: {sizes.events:,} events, {sizes.messages:,} messages "
        f"({seeded.mail_bytes / 1e6:,.0f} MB), fake Google on 127.0.0.1"
    )
    print(table(scenarios, pacing))
    print()
    for target in found:
        verdict = "PASS" if target["met"] else "MISS"
        print(f"{verdict}  {target['name']}: {target['measured']} (target {target['target']})")
        print(f"      {target['detail']}")
    print(f"\nwrote {args.out}")
    missed = [t for t in found if not t["met"]]
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
