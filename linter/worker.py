"""One worker cycle: scan every source incrementally, lint, store, send the digest when due.

``clientline run`` (from cron or a systemd timer) calls :func:`run_cycle` once;
``clientline daemon`` calls :func:`scan` and :func:`deliver` on its schedule.

Incremental, in proportion to what changed:

* each configured source is split into units (:func:`linter.sources.units`: a file, or
  one message of a Maildir); a unit whose size and modification time are those stored
  for the source is not read at all;
* a unit that changed is read, and each item's content hash is compared with the one
  stored: only new or changed items go through the rules;
* items that were in a re-read unit and are gone now are deleted: their findings
  resolve. Calendar occurrences that merely passed out of the window are kept.
* calendars are read again when the day changes, since the window moves with it.

Crash safety: every unit is one transaction (its items, findings and the signature
that says it was read), so a run killed at any instant, SIGKILL included, leaves the
state as it was before that unit, and the next run reads it again. Findings are keyed
by fingerprint, so nothing is counted twice.

Exactly-once digests: a digest is first *claimed* in the store: one transaction gives
it every open finding not yet reported, decides whether it is empty (then, unless
``send_when_empty``, it is marked skipped at once) and stores the message, rendered
once. It is then sent, then marked sent. A failed send leaves it pending and the next
cycle sends those same bytes again before anything else; findings found meanwhile wait
for the next digest. The Message-ID is derived from the digest id, so if a run dies
after the server accepted the message but before the store recorded it, the re-sent
copy is the same message with the same Message-ID, and mail clients show it once.

A lock file beside the state database keeps two cycles from overlapping: the second
says so and leaves (exit 0).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linter import contacts as contacts_module
from linter import lintrun, packs, sources
from linter import store as store_module
from linter.config import Config
from linter.google.api import ApiError
from linter.google.auth import AuthError, UnreachableError
from linter.model import Event, Item, Problem, Severity
from linter.report import digest as digest_module
from linter.report import mailer
from linter.sources import mbox
from linter.store import Digest as StoredDigest
from linter.store import Store, StoredFinding
from linter.yamlfile import ConfigError, suggest

log = logging.getLogger("clientline")
DIRECTORY_SOURCE = "contacts"
TREND_DAYS = 14


@dataclass
class SourceReport:
    name: str
    units_read: int = 0
    units_skipped: int = 0
    items: int = 0
    linted: int = 0
    new: int = 0
    resolved: int = 0
    problems: list[Problem] = field(default_factory=list)
    error: str = ""
    auth_failed: bool = False  # the account's token was refused: a configuration error
    appended: bool = False  # an mbox was read from its last known message on
    requests: int = 0  # HTTP requests an account source made
    quota_units: int = 0


@dataclass
class CycleReport:
    sources: list[SourceReport] = field(default_factory=list)
    digest: str = ""  # what happened to the digest, in words
    locked: bool = False
    dry_run: bool = False
    purged: int = 0

    @property
    def new(self) -> int:
        return sum(s.new for s in self.sources)

    @property
    def failed(self) -> list[SourceReport]:
        return [s for s in self.sources if s.error]


class BusyError(Exception):
    """Another cycle holds the lock."""


@contextmanager
def locked(state_path: str) -> Iterator[None]:
    """Hold the lock beside the state database, or raise :class:`BusyError` at once."""
    lock_path = Path(state_path + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole cycle
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            raise BusyError(holder or "another run") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock, also when the process is killed


def run_cycle(
    setup: lintrun.Setup,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    transport: mailer.Transport | None = None,
    adopt: bool = False,
) -> CycleReport:
    """One cycle, as ``clientline run`` does it; ``adopt`` makes the state database this
    configuration's even when it was recorded as another's (the configuration moved)."""
    config = setup.config
    report = CycleReport(dry_run=dry_run)
    path = state_path(config)
    try:
        with locked(path), _state(config, path, dry_run, adopt) as store:
            report.sources = scan(setup, store, now)
            report.digest = deliver(setup, store, now, transport, preview=dry_run)
            if not dry_run:
                report.purged = store.purge(config.retention_days, now)
    except BusyError as exc:
        report.locked = True
        report.digest = f"another clientline run holds the lock ({exc}); nothing done"
    except sqlite3.DatabaseError as exc:  # a page damaged under a running cycle
        raise store_module.damaged(path, exc) from None
    return report


def state_path(config: Config) -> str:
    """The state database of this configuration (see :func:`linter.store.locate`)."""
    return store_module.locate(config.state, config.legacy_state, owner(config))


def owner(config: Config) -> str:
    """How a state database records the configuration it belongs to."""
    return os.path.realpath(config.path) if config.path else ""


def open_state(config: Config, create: bool = True, adopt: bool = False) -> Store:
    """This configuration's state database, refused if it belongs to another one (unless
    ``adopt``)."""
    mine = owner(config)
    store = Store(state_path(config), create=create, owner=None if adopt or not mine else mine)
    if adopt and mine:
        store.adopt(mine)
    return store


@contextmanager
def _state(config: Config, path: str, dry_run: bool, adopt: bool) -> Iterator[Store]:
    """The store; for a dry run, a throw-away copy, so the real one is never touched."""
    if not dry_run:
        with open_state(config, adopt=adopt) as store:
            yield store
        return
    with tempfile.TemporaryDirectory(prefix="clientline-dry-") as folder:
        copy = os.path.join(folder, "state.db")
        if Path(path).exists():
            with open_state(config, create=False) as real, sqlite3.connect(copy) as target:
                real.db.backup(target)
        with Store(copy) as store:
            yield store


# ---- scanning


def scan(setup: lintrun.Setup, store: Store, now: dt.datetime | None = None) -> list[SourceReport]:
    """Scan every configured source, then the contact directory; one failing source is
    reported and the others still run. A damaged state database stops the run."""
    reports = []
    scan_number = store.next_scan()
    day = (now or dt.datetime.now(setup.config.tz)).astimezone(setup.config.tz).date()
    accounts = sources.accounts()
    for spec in setup.config.sources:
        report = SourceReport(spec.name)
        key = spec.key or spec.name
        try:
            store.rename_source(spec.name, key)
            if spec.type in accounts:
                account = accounts[spec.type](
                    spec.name, spec.options, setup.window, setup.config.base, now
                )
                sync_account(setup, store, key, account, scan_number, report)
            else:
                _scan_source(setup, store, key, spec.type, spec.path, scan_number, day, report)
        except sqlite3.DatabaseError as exc:
            raise store_module.damaged(store.path, exc) from None
        except AuthError as exc:
            report.error = _one_line(exc)
            # a refused token needs the user; an unreachable Google only needs time
            report.auth_failed = not isinstance(exc, UnreachableError)
            log.warning("source=%s error=%r", spec.name, report.error)
        except Exception as exc:  # one broken source must not stop the others
            report.error = _one_line(exc)
            log.warning("source=%s error=%r", spec.name, report.error)
        reports.append(report)
    reports.append(_scan_directory(setup, store, scan_number))
    return reports


# A long read commits every so many items or seconds, whichever comes first, so that a
# run under a deadline, or killed, keeps what it did and the next one goes on from there.
BATCH_ITEMS = 500
BATCH_SECONDS = 2.0


class _Batches:
    """The transaction of one unit's read, committed in batches.

    Inside ``with``, a transaction is open. :meth:`progress` (called after each chunk
    of items) commits and opens the next one when a batch is full, after calling
    ``before_commit`` (which stores how far the read got, with the batch). Leaving the
    block commits; an exception rolls back only the batch in progress.
    """

    def __init__(self, store: Store, before_commit: Callable[[], None] | None = None) -> None:
        self.store = store
        self.before_commit = before_commit
        self.items = 0
        self.started = time.monotonic()

    def __enter__(self) -> _Batches:
        self.store.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.store.db.execute("ROLLBACK" if kind is not None else "COMMIT")

    def progress(self, items: int) -> None:
        self.items += items
        if self.items < BATCH_ITEMS and time.monotonic() - self.started < BATCH_SECONDS:
            return
        if self.before_commit is not None:
            self.before_commit()
        self.store.db.execute("COMMIT")
        self.store.db.execute("BEGIN IMMEDIATE")
        self.items, self.started = 0, time.monotonic()


def _scan_source(
    setup: lintrun.Setup,
    store: Store,
    name: str,
    kind: str,
    path: str,
    scan_number: int,
    day: dt.date,
    report: SourceReport,
) -> None:
    cursor = sources.load_cursor(store.cursor(name))
    # the calendar window moves with the date: read calendars again on a new day
    reread_all = kind == "ics" and cursor.get("day") != day.isoformat()
    signatures = store.unit_signatures(name)
    present: set[str] = set()
    for unit_path, read in sources.units(path, kind, setup.window):
        unit = unit_key(unit_path)
        present.add(unit)
        signature = _signature(unit_path)
        stored, _, tail_text = (signatures.get(unit) or "").partition(" ")
        if not reread_all and stored == signature:
            report.units_skipped += 1
            continue
        if kind == "mbox":
            tail = mbox.Tail.loads(tail_text) if tail_text and not reread_all else None
            partial = stored == PARTIAL
            _read_mbox(store, name, unit, signature, tail, partial, scan_number, setup, report)
        else:
            # the signature commits with the last batch: a unit killed before is read again
            with _Batches(store) as batches:
                _lint_unit(store, name, unit, read(), scan_number, setup, report, batches.progress)
                store.set_unit(name, unit, signature)
        report.units_read += 1
    gone_units = set(signatures) - present  # items and signature commit together
    with store.transaction():
        for unit in gone_units:
            _forget(store, name, store.missing_items(name, unit, scan_number, None), report)
            store.forget_unit(name, unit)
        store.set_cursor(name, json.dumps({"day": day.isoformat()}))


# The signature of an mbox whose last read was cut short (killed, or past a deadline):
# never equal to a file's, so it is read again, from the tail stored beside it.
PARTIAL = "partial"


def _read_mbox(
    store: Store,
    name: str,
    unit: str,
    signature: str,
    tail: mbox.Tail | None,
    partial: bool,
    scan_number: int,
    setup: lintrun.Setup,
    report: SourceReport,
) -> None:
    """Read an mbox: from its last known message on when it merely grew, or from the
    last message a killed run committed when it is unchanged since; else whole. Every
    batch stores the tail up to which it is safe, with the file's signature once
    complete."""
    source = mbox.MboxSource(unit, setup.window)
    if tail is not None and partial and mbox.resumable(unit, tail):
        source.start, source.first_line = tail.offset, tail.line
        store.touch_scan(name, unit, tail.scan, scan_number)  # what the killed run stored
        report.appended = True
    elif tail is not None and not partial and mbox.grown(unit, tail):
        source.start, source.first_line = tail.offset, tail.line
        store.touch_unit(name, unit, scan_number)  # the messages before are unchanged
        report.appended = True

    def save_progress() -> None:
        offset, line = source.last
        if offset >= source.start and line:
            progress = mbox.tail_of(unit, offset, line, partial=True, scan=scan_number)
            store.set_unit(name, unit, f"{PARTIAL} {progress.dumps()}")

    with _Batches(store, save_progress) as batches:
        outputs = sources.guarded(source.items, unit)
        _lint_unit(store, name, unit, outputs, scan_number, setup, report, batches.progress)
        store.set_unit(name, unit, f"{signature} {mbox.tail_of(unit, *source.last).dumps()}")


def sync_account(
    setup: lintrun.Setup,
    store: Store,
    name: str,
    account: sources.AccountSource,
    scan_number: int,
    report: SourceReport,
) -> None:
    """Sync an account source; every batch (its items, deletions and the cursor that
    follows them) is one transaction, so the cursor never runs ahead of what is stored."""

    def known(ids: Sequence[str]) -> set[str]:
        return store.known_items(name, ids)

    for batch in account.sync(store.cursor(name), known):
        with store.transaction():
            if batch.seen:
                store.touch_items(name, batch.seen, scan_number)
            _lint_items(store, name, batch.unit, batch.items, scan_number, setup, report)
            _forget(store, name, batch.deleted, report)
            _forget(store, name, store.items_starting(name, batch.deleted_prefixes), report)
            if batch.complete:
                gone = store.missing_items(
                    name, batch.unit, scan_number, batch.keep_before, every_kind=True
                )
                if gone and batch.confirm_gone is not None:
                    gone = batch.confirm_gone(gone)
                _forget(store, name, gone, report)
            if batch.cursor is not None:
                store.set_cursor(name, batch.cursor)
        report.units_read += 1
    usage = getattr(getattr(account, "client", None), "usage", None)
    if usage is not None:
        report.requests = usage.requests
        report.quota_units = usage.units


def _lint_unit(
    store: Store,
    name: str,
    unit: str,
    outputs: Iterable[Item | Problem],
    scan_number: int,
    setup: lintrun.Setup,
    report: SourceReport,
    progress: Callable[[int], None] | None = None,
) -> bool:
    """Lint a unit's items; then, only when the read was complete and clean (no problem
    reported), resolve what is gone from it. Returns whether it was clean."""
    problems = len(report.problems)
    _lint_items(store, name, unit, outputs, scan_number, setup, report, progress)
    if len(report.problems) > problems:
        return False  # a read that reported problems concludes no deletion
    _forget(store, name, store.missing_items(name, unit, scan_number, setup.window.since), report)
    return True


def _forget(store: Store, name: str, item_ids: Sequence[str], report: SourceReport) -> None:
    """Items that are gone: their findings resolve and the store forgets them."""
    for item_id in item_ids:
        report.resolved += store.resolve_item(name, item_id, "the item was deleted")
    store.forget_items(name, item_ids)


def _lint_items(
    store: Store,
    name: str,
    unit: str,
    outputs: Iterable[Item | Problem],
    scan_number: int,
    setup: lintrun.Setup,
    report: SourceReport,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Store each item; lint only those whose content changed, a chunk at a time (see
    :func:`linter.sources.chunks`); after each chunk, tell ``progress`` how many."""
    for chunk in sources.chunks(outputs):
        changed: list[Item] = []
        for output in chunk:
            if isinstance(output, Problem):
                report.problems.append(output)
                continue
            report.items += 1
            content = content_hash(output)
            previous = store.item_hash(name, output.id)
            store.touch_item(name, output.id, unit, content, output.kind, output.start, scan_number)
            if previous != content:
                changed.append(output)
        checked = [(item, list(setup.engine.check(item))) for item in changed]
        for item, findings in checked:
            report.linted += 1
            private = isinstance(item, Event) and item.private
            new, resolved = store.record(name, item.id, findings, private)
            report.new += new
            report.resolved += resolved
        if progress is not None:
            progress(len(chunk))


def _scan_directory(setup: lintrun.Setup, store: Store, scan_number: int) -> SourceReport:
    """The directory checks (rules that apply to ``contact``), every named client."""
    report = SourceReport(DIRECTORY_SOURCE)
    engine = setup.engine
    if not engine.by_kind["contact"]:
        return report
    with store.transaction():
        records = list(contacts_module.records(engine.directory))
        _lint_unit(
            store,
            DIRECTORY_SOURCE,
            engine.directory.source,
            records,
            scan_number,
            setup,
            report,
        )
    report.units_read = 1
    return report


def content_hash(item: Item) -> str:
    """What a rule can see of an item; equal hashes mean equal findings."""
    contact = getattr(item, "contact", None)
    parts: list[Any] = [
        item.kind,
        item.title,
        item.body,
        item.quoted,
        item.location,
        item.start.isoformat() if item.start else "",
        item.end.isoformat() if item.end else "",
        [(p.address, p.name, p.role, p.response) for p in item.participants],
        list(item.labels),
        item.folder or "",
        list(getattr(item, "attachments", ())),
        getattr(item, "all_day", False),
        getattr(item, "status", None),
        repr(contact) if contact else "",
    ]
    conference = getattr(item, "conference", None)
    if conference:  # appended only when present, so stored hashes of other items hold
        parts.append(conference)
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


def unit_key(path: Path) -> str:
    """How the store names a unit: its path as text, with any byte of the file name that
    is not UTF-8 written as ``\\xNN`` (the database stores only valid text)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _signature(path: Path) -> str:
    info = path.stat()
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return (
        text
        if isinstance(exc, OSError | KeyError | ValueError | AuthError | ApiError)
        else f"{type(exc).__name__}: {text}"
    )


# ---- the digest


def digest_due(config: Config, store: Store, now: dt.datetime) -> str | None:
    """The day a digest is due for, or ``None``: due once a day, from ``digest.at`` in
    the configured timezone (so a change to or from summer time moves nothing)."""
    if config.digest is None:
        return None
    local = now.astimezone(config.tz)
    if local.time() < config.digest.at:
        return None
    day = local.date().isoformat()
    last = store.last_digest_day()
    return None if last is not None and last >= day else day


def deliver(
    setup: lintrun.Setup,
    store: Store,
    now: dt.datetime | None = None,
    transport: mailer.Transport | None = None,
    preview: bool = False,
    force: bool = False,
) -> str:
    """Send the pending digest, then today's when due. Returns what happened, in words."""
    config = setup.config
    if config.digest is None:
        return "no digest configured"
    now = now or dt.datetime.now(config.tz)
    pending = store.pending_digest()
    day = digest_due(config, store, now)
    if pending is None and day is None and not force:
        return f"digest not due (daily at {config.digest.at:%H:%M} {config.timezone})"
    if preview:
        new, still = store.next_digest_findings()
        return f"would send a digest with {len(new)} new and {len(still)} open findings"
    outcome = []
    while pending is not None:  # oldest first; stop at the first that still fails
        delivered, result = _send(setup, store, pending, now, transport)
        outcome.append(result)
        if not delivered:
            return "; ".join(outcome)
        pending = store.pending_digest()
    day = digest_due(config, store, now)
    if day is not None or (force and pending is None):

        def message_of(digest_id: int) -> bytes:
            return _message(setup, store, digest_id, now)

        claimed = store.claim_digest(
            day or now.astimezone(config.tz).date().isoformat(),
            send_when_empty=config.digest.send_when_empty,
            render=message_of,
        )
        if claimed.skipped:
            outcome.append("nothing new: digest skipped (send_when_empty is false)")
        else:
            outcome.append(_send(setup, store, claimed, now, transport)[1])
    return "; ".join(outcome)


def render(
    setup: lintrun.Setup,
    store: Store,
    new: list[StoredFinding],
    still_open: list[StoredFinding],
    now: dt.datetime,
) -> digest_module.RenderedDigest:
    """The digest of these findings, as it would be sent now."""
    config = setup.config
    principles = packs.principles()
    today = now.astimezone(config.tz).date()
    days = [today - dt.timedelta(days=n) for n in range(TREND_DAYS - 1, -1, -1)]
    config_option = f" --config {config.path}" if config.path else ""
    digest = digest_module.Digest(
        generated_at=now.astimezone(config.tz),
        timezone=config.timezone,
        new=[_entry(f, principles) for f in new],
        still_open=[_entry(f, principles) for f in still_open],
        trend=store.new_per_day(days, config.tz),
        ack_command=f'clientline ack {{fingerprint}}{config_option} --reason "..."',
    )
    return digest_module.render(digest)


def preview(
    setup: lintrun.Setup, store: Store, now: dt.datetime | None = None
) -> digest_module.RenderedDigest:
    """The next digest, without claiming or sending anything."""
    now = now or dt.datetime.now(setup.config.tz)
    return render(setup, store, *store.next_digest_findings(), now)


def _message(setup: lintrun.Setup, store: Store, digest_id: int, now: dt.datetime) -> bytes:
    """The digest's email, rendered from the findings it holds, as bytes to store."""
    config = setup.config
    assert config.digest is not None
    rendered = render(setup, store, *store.digest_findings(digest_id), now)
    message = mailer.build_message(
        rendered,
        sender=config.digest.sender,
        to=config.digest.to,
        digest_id=str(digest_id),
        date=now,
    )
    # derived from the database and the digest id: a re-sent digest keeps its identity
    identity = hashlib.sha256(f"{config.state}\0{digest_id}".encode()).hexdigest()[:20]
    domain = config.digest.sender.rpartition("@")[2] or "clientline.invalid"
    message.replace_header("Message-ID", f"<clientline-digest-{digest_id}-{identity}@{domain}>")
    return message.as_bytes()


def _send(
    setup: lintrun.Setup,
    store: Store,
    digest: StoredDigest,
    now: dt.datetime,
    transport: mailer.Transport | None,
) -> tuple[bool, str]:
    """Send one claimed digest, exactly as it was stored when claimed; (delivered, what
    happened)."""
    config = setup.config
    data = digest.message
    if data is None:  # claimed by an earlier version, which stored no message
        data = _message(setup, store, digest.id, now)
        store.store_digest_message(digest.id, data)
    message = mailer.parse_message(data)
    try:
        chosen = transport or mailer.transport_from_config(
            config.raw["digest"], path=config.path or "clientline.yaml", base=config.base
        )
        chosen.send(message)
    except (mailer.DeliveryError, ConfigError, OSError) as exc:
        store.mark_digest(digest.id, sent=False, error=_one_line(exc))
        log.warning("digest=%s error=%r", digest.id, _one_line(exc))
        return False, (
            f"digest {digest.id} not delivered, will retry on the next run: {_one_line(exc)}"
        )
    store.mark_digest(digest.id, sent=True)
    return True, f"digest {digest.id} sent: {message['Subject']}"


def _entry(
    finding: StoredFinding, principles: dict[str, dict[str, Any]]
) -> digest_module.DigestEntry:
    return digest_module.DigestEntry(
        fingerprint=finding.fingerprint,
        rule=finding.rule,
        title=finding.title,
        severity=Severity.parse(finding.severity),
        message=finding.message,
        client=finding.client,
        item_kind=finding.item_kind,
        item_title=finding.item_title,
        item_when=dt.datetime.fromisoformat(finding.item_start) if finding.item_start else None,
        item_source=finding.source,
        evidence=finding.evidence,
        principles=tuple(
            (p, str(principles.get(p, {}).get("summary", ""))) for p in finding.principles
        ),
        advice=finding.advice,
        first_seen=dt.datetime.fromisoformat(finding.first_seen),
        status=finding.status,
        private=finding.private,
    )


def check_sources(config: Config) -> list[str]:
    """Configuration errors in ``sources:`` that only the source registry can see."""
    files = sources.registry()
    accounts = sources.accounts()
    where = config.path or "clientline.yaml"
    errors = []
    for spec in config.sources:
        if spec.type in accounts:
            allowed: tuple[str, ...] = getattr(accounts[spec.type], "options_known", ())
            for key in spec.options if allowed else ():
                if key not in allowed:
                    hint = suggest(key, allowed)
                    errors.append(
                        f"{where}:{spec.line}: unknown option `{key}` for a {spec.type} source"
                        + (f"; {hint}" if hint else "")
                    )
            if spec.path:
                errors.append(
                    f"{where}:{spec.line}: a {spec.type} source reads an account, not a `path`"
                )
        elif spec.type not in files:
            installed = ", ".join(sorted([*files, *accounts]))
            errors.append(
                f"{where}:{spec.line}: unknown source type `{spec.type}` (installed: {installed})"
            )
        elif not spec.path:
            errors.append(f"{where}:{spec.line}: source `{spec.name}` needs a `path`")
    return errors
