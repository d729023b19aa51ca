"""The worker's state: an SQLite database (WAL) that remembers what it has seen and said.

Tables (schema version in ``PRAGMA user_version``; each migration runs in its own
transaction and is never edited once released):

``cursors``
    per source, where the last scan stopped (the day a calendar was read, sync tokens).
``units``
    per source, each file's size, modification time and inode when it was last read.
``items``
    per source and item id, a hash of the item's content, so an unchanged item is not
    linted again, and the unit (file) it came from, to notice deletions.
``findings``
    one row per fingerprint (rule id + item id) with first and last seen, status
    (``open``, ``acknowledged``, ``resolved``, ``suppressed``), the reason for it, and
    only what a report needs: title, message, client, bounded evidence snippets. Never a
    body.
``history``
    the audit trail of status changes: who acknowledged what, when and why.
``digests``
    each digest: created, sent (or the last error), the findings it introduced
    (``findings.digest`` points at the one digest that reported a finding as new), and
    the message itself, rendered once when the digest is claimed: a retry sends the
    same bytes.
``meta``
    which configuration file the database belongs to (``owner``).

An acknowledgement belongs to the fingerprint (``ack_reason``, ``ack_at``,
``ack_verdict``): a finding resolved because its item briefly disappeared, that fires
again later, comes back acknowledged with its reason.

A database is created only where no file exists (built beside it and moved into place,
so a half-made file is never left behind). An existing file that is empty, damaged, not
a clientline database, of a newer schema, or that belongs to another configuration is
refused with a clear error (exit 2), never recreated: it holds the audit trail.
``clientline doctor`` explains how to recover.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linter.model import Finding

_FINGERPRINT_PREFIX = re.compile(r"^[0-9a-f]{1,16}$")
APPLICATION_ID = 0x436C4C6E  # "ClLn": tells our database from any other SQLite file

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE cursors (
        source TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE TABLE units (
        source TEXT NOT NULL,
        unit TEXT NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (source, unit)
    );
    CREATE TABLE items (
        source TEXT NOT NULL,
        id TEXT NOT NULL,
        unit TEXT NOT NULL,
        hash TEXT NOT NULL,
        kind TEXT NOT NULL,
        start TEXT,
        scan INTEGER NOT NULL,
        seen TEXT NOT NULL,
        PRIMARY KEY (source, id)
    );
    CREATE INDEX items_unit ON items (source, unit, scan);
    CREATE TABLE findings (
        fingerprint TEXT PRIMARY KEY,
        rule TEXT NOT NULL,
        name TEXT NOT NULL,
        title TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        source TEXT NOT NULL,
        item_id TEXT NOT NULL,
        item_kind TEXT NOT NULL,
        item_title TEXT NOT NULL,
        item_start TEXT,
        locator TEXT NOT NULL,
        client TEXT NOT NULL,
        contacts TEXT NOT NULL,
        evidence TEXT NOT NULL,
        principles TEXT NOT NULL,
        advice TEXT NOT NULL,
        private INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        changed TEXT NOT NULL,
        digest INTEGER
    );
    CREATE INDEX findings_item ON findings (source, item_id);
    CREATE INDEX findings_status ON findings (status, digest);
    CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        at TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        created TEXT NOT NULL,
        sent TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        skipped INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 2: acknowledgements kept apart from status; digests stored as sent; the owner
    """
    ALTER TABLE findings ADD COLUMN ack_reason TEXT;
    ALTER TABLE findings ADD COLUMN ack_at TEXT;
    ALTER TABLE findings ADD COLUMN ack_verdict TEXT;
    UPDATE findings SET
        ack_reason = (SELECT h.reason FROM history h WHERE h.fingerprint = findings.fingerprint
                      AND h.status = 'acknowledged' ORDER BY h.id DESC LIMIT 1),
        ack_at = (SELECT h.at FROM history h WHERE h.fingerprint = findings.fingerprint
                  AND h.status = 'acknowledged' ORDER BY h.id DESC LIMIT 1),
        ack_verdict = 'accepted'
    WHERE EXISTS (SELECT 1 FROM history h WHERE h.fingerprint = findings.fingerprint
                  AND h.status = 'acknowledged');
    ALTER TABLE digests ADD COLUMN message BLOB;
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
)
VERSION = len(MIGRATIONS)
ACK_VERDICTS = ("accepted", "not-a-problem")  # a real finding accepted; a false alarm
RECOVERY = (
    "move it aside (`mv {path} {path}.broken`) and run again to start a new one, or "
    "restore it from a backup; `sqlite3 {path}.broken .recover` may rescue what it holds"
)
MAX_SNIPPET = 240
TEXT_FIELDS = ("title", "body", "location", "quoted", "attachments")


OPENED: list[str] = []  # the database this process opened last, for error messages


class StoreError(Exception):
    """The state database cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class StoredFinding:
    fingerprint: str
    rule: str
    name: str
    title: str
    severity: str
    message: str
    source: str
    item_id: str
    item_kind: str
    item_title: str
    item_start: str | None
    locator: str
    client: str
    contacts: tuple[str, ...]
    evidence: tuple[str, ...]
    principles: tuple[str, ...]
    advice: str
    private: bool
    status: str
    reason: str
    first_seen: str
    last_seen: str
    changed: str
    digest: int | None
    ack_reason: str | None = None  # the acknowledgement, kept however the status moves
    ack_at: str | None = None
    ack_verdict: str | None = None  # one of ACK_VERDICTS

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredFinding:
        data = dict(row)
        for key in ("contacts", "evidence", "principles"):
            data[key] = tuple(json.loads(data[key]))
        data["private"] = bool(data["private"])
        return cls(**data)


@dataclass(frozen=True)
class Digest:
    id: int
    day: str
    created: str
    sent: str | None
    attempts: int
    error: str
    skipped: bool
    message: bytes | None = None  # the message as rendered when claimed; sent as is


def now_text(moment: dt.datetime | None = None) -> str:
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")


class Store:
    """One open state database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str, create: bool = True, owner: str | None = None):
        """Open the database at ``path``; create it only where no file exists (and only
        with ``create``). ``owner`` is the configuration file the caller runs for: a
        database made or used for another one is refused (see :meth:`adopt`)."""
        self.path = path
        OPENED[:] = [path]
        if path != ":memory:":
            if not os.path.lexists(path):
                if not create:
                    raise StoreError(f"{path}: no state database yet (run `clientline run` first)")
                _create(path)
            _check_file(path)
        try:
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self._check_and_migrate()
        except sqlite3.DatabaseError as exc:
            raise damaged(path, exc) from None
        if path != ":memory:":
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)  # it holds snippets of private mail
        if owner is not None:
            self._check_owner(owner)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _check_and_migrate(self) -> None:
        self._migrate(self.db, self.path)

    @staticmethod
    def _migrate(db: sqlite3.Connection, path: str) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        app = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version == 0 and tables:
            raise StoreError(
                f"{path}: this SQLite file is not a clientline state database; "
                "point `state:` elsewhere"
            )
        if version and app != APPLICATION_ID:
            raise StoreError(f"{path}: not a clientline state database")
        if version > VERSION:
            raise StoreError(
                f"{path}: the state database is version {version}, newer than this "
                f"clientline understands ({VERSION}); upgrade clientline (nothing was changed)"
            )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        for number in range(version, VERSION):
            db.execute("BEGIN IMMEDIATE")
            if db.execute("PRAGMA user_version").fetchone()[0] > number:
                db.execute("ROLLBACK")  # another process migrated it meanwhile
                continue
            try:
                for statement in _statements(MIGRATIONS[number]):
                    db.execute(statement)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={number + 1}")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _check_owner(self, owner: str) -> None:
        recorded = self.owner()
        if recorded is None:
            self.adopt(owner)
        elif recorded != owner:
            self.close()
            raise StoreError(
                f"{self.path}: this state database belongs to the configuration {recorded}, "
                f"not {owner}; give each practice its own `state:` (or leave `state:` out: "
                "the default is one database per configuration). If you moved that "
                "configuration here, run `clientline run --adopt-state` once"
            )

    def owner(self) -> str | None:
        """The configuration file this database belongs to, if one was recorded."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()
        return str(row[0]) if row else None

    def adopt(self, owner: str) -> None:
        """Record ``owner`` as the configuration this database belongs to."""
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES ('owner', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (owner,),
        )

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- cursors

    def cursor(self, source: str) -> str | None:
        row = self.db.execute("SELECT value FROM cursors WHERE source = ?", (source,)).fetchone()
        return str(row[0]) if row else None

    def set_cursor(self, source: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO cursors (source, value, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated = excluded.updated",
            (source, value, now_text()),
        )

    def clear_cursor(self, source: str) -> None:
        self.db.execute("DELETE FROM cursors WHERE source = ?", (source,))

    def rename_source(self, old: str, new: str) -> None:
        """Move what is stored under the source key ``old`` to ``new`` (sources were
        once keyed by their path as written), unless ``new`` has state of its own."""
        if old == new or self.cursor(new) is not None or self.unit_signatures(new):
            return
        with self.transaction():
            for table in ("cursors", "units", "items", "findings"):
                self.db.execute(f"UPDATE {table} SET source = ? WHERE source = ?", (new, old))

    # ---- units: the files of a source, and the signature they had when last read

    def unit_signatures(self, source: str) -> dict[str, str]:
        rows = self.db.execute("SELECT unit, signature FROM units WHERE source = ?", (source,))
        return {str(r[0]): str(r[1]) for r in rows}

    def set_unit(self, source: str, unit: str, signature: str) -> None:
        self.db.execute(
            "INSERT INTO units (source, unit, signature) VALUES (?, ?, ?) ON CONFLICT "
            "(source, unit) DO UPDATE SET signature = excluded.signature",
            (source, unit, signature),
        )

    def forget_unit(self, source: str, unit: str) -> None:
        self.db.execute("DELETE FROM units WHERE source = ? AND unit = ?", (source, unit))

    # ---- items

    def item_hash(self, source: str, item_id: str) -> str | None:
        row = self.db.execute(
            "SELECT hash FROM items WHERE source = ? AND id = ?", (source, item_id)
        ).fetchone()
        return str(row[0]) if row else None

    def known_items(self, source: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` this source already stores."""
        found: set[str] = set()
        for start in range(0, len(ids), 500):  # SQLite bounds the parameters of a query
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(
                str(row[0])
                for row in self.db.execute(
                    f"SELECT id FROM items WHERE source = ? AND id IN ({marks})",
                    [source, *chunk],
                )
            )
        return found

    def items_starting(self, source: str, prefixes: Iterable[str]) -> list[str]:
        """Stored ids that start with any of ``prefixes`` (a range scan on the index)."""
        found: list[str] = []
        for prefix in prefixes:
            upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\uffff"
            found += [
                str(row[0])
                for row in self.db.execute(
                    "SELECT id FROM items WHERE source = ? AND id >= ? AND id < ?",
                    (source, prefix, upper),
                )
            ]
        return found

    def touch_unit(self, source: str, unit: str, scan: int) -> None:
        """Mark every stored item of ``unit`` as seen in ``scan``."""
        self.db.execute(
            "UPDATE items SET scan = ? WHERE source = ? AND unit = ?", (scan, source, unit)
        )

    def touch_scan(self, source: str, unit: str, earlier: int, scan: int) -> None:
        """Mark the items of ``unit`` that scan ``earlier`` stored as seen in ``scan``."""
        self.db.execute(
            "UPDATE items SET scan = ? WHERE source = ? AND unit = ? AND scan = ?",
            (scan, source, unit, earlier),
        )

    def touch_items(self, source: str, ids: Iterable[str], scan: int) -> None:
        """Mark stored items as seen in ``scan`` without reading them again."""
        self.db.executemany(
            "UPDATE items SET scan = ? WHERE source = ? AND id = ?",
            [(scan, source, item_id) for item_id in ids],
        )

    def touch_item(
        self,
        source: str,
        item_id: str,
        unit: str,
        content_hash: str,
        kind: str,
        start: dt.datetime | None,
        scan: int,
    ) -> None:
        self.db.execute(
            "INSERT INTO items (source, id, unit, hash, kind, start, scan, seen) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, id) DO UPDATE SET "
            "unit = excluded.unit, hash = excluded.hash, scan = excluded.scan, "
            "start = excluded.start, seen = excluded.seen",
            (source, item_id, unit, content_hash, kind, _iso(start), scan, now_text()),
        )

    def missing_items(
        self,
        source: str,
        unit: str | None,
        scan: int,
        keep_before: dt.datetime | None,
        every_kind: bool = False,
    ) -> list[str]:
        """Items of ``unit`` (or of the whole source) not seen in ``scan``: deleted. Events
        that merely passed out of the window (start before ``keep_before``) are kept;
        with ``every_kind``, messages too (a Gmail query's ``newer_than:``)."""
        query = "SELECT id, kind, start FROM items WHERE source = ? AND scan != ?"
        args: list[Any] = [source, scan]
        if unit is not None:
            query += " AND unit = ?"
            args.append(unit)
        gone = []
        for row in self.db.execute(query, args):
            start = row["start"]
            if (
                keep_before is not None
                and (every_kind or row["kind"] == "event")
                and start
                and _aware(dt.datetime.fromisoformat(start), keep_before) < keep_before
            ):
                continue
            gone.append(str(row["id"]))
        return gone

    def forget_items(self, source: str, ids: Iterable[str]) -> None:
        self.db.executemany(
            "DELETE FROM items WHERE source = ? AND id = ?", [(source, i) for i in ids]
        )

    def next_scan(self) -> int:
        row = self.db.execute("SELECT coalesce(max(scan), 0) + 1 FROM items").fetchone()
        return int(row[0])

    # ---- findings

    def record(
        self, source: str, item_id: str, findings: Sequence[Finding], private: bool = False
    ) -> tuple[int, int]:
        """Store what the rules say about one item now; findings of the item that no
        longer fire are resolved. Returns (new, resolved)."""
        stamp = now_text()
        fired = {f.fingerprint for f in findings}
        new = 0
        for finding in findings:
            row = self.db.execute(
                "SELECT status, ack_reason FROM findings WHERE fingerprint = ?",
                (finding.fingerprint,),
            ).fetchone()
            status = "suppressed" if finding.suppressed else "open"
            reason = finding.suppression_reason if finding.suppressed else ""
            values = _finding_values(source, finding, private)
            if row is None:
                new += 1
                self.db.execute(
                    "INSERT INTO findings (fingerprint, rule, name, title, severity, message, "
                    "source, item_id, item_kind, item_title, item_start, locator, client, "
                    "contacts, evidence, principles, advice, private, status, reason, "
                    "first_seen, last_seen, changed) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (finding.fingerprint, *values, status, reason, stamp, stamp, stamp),
                )
                self._history(finding.fingerprint, status, reason or "first seen", stamp)
                continue
            old = str(row["status"])
            keep_reason = False
            # an acknowledgement belongs to the fingerprint: it outlives edits to the
            # item and the item's disappearing for a while; a marker's removal reopens
            if status == "open" and row["ack_reason"] is not None:
                status = "acknowledged"
                if old == "acknowledged":
                    keep_reason = True
                else:
                    reason = str(row["ack_reason"])
            self.db.execute(
                "UPDATE findings SET rule = ?, name = ?, title = ?, severity = ?, message = ?, "
                "source = ?, item_id = ?, item_kind = ?, item_title = ?, item_start = ?, "
                "locator = ?, client = ?, contacts = ?, evidence = ?, principles = ?, "
                "advice = ?, private = ?, last_seen = ?, status = ?, "
                "reason = coalesce(?, reason) WHERE fingerprint = ?",
                (*values, stamp, status, None if keep_reason else reason, finding.fingerprint),
            )
            if old != status:
                self.db.execute(
                    "UPDATE findings SET changed = ? WHERE fingerprint = ?",
                    (stamp, finding.fingerprint),
                )
                said = "fires again" + (f"; acknowledged earlier: {reason}" if reason else "")
                if status == "suppressed":
                    said = reason or said
                self._history(finding.fingerprint, status, said, stamp)
        resolved = 0
        for row in self.db.execute(
            "SELECT fingerprint FROM findings WHERE source = ? AND item_id = ? "
            "AND status != 'resolved'",
            (source, item_id),
        ).fetchall():
            if row[0] not in fired:
                resolved += self.resolve(str(row[0]), "the item changed; the rule no longer fires")
        return new, resolved

    def resolve_item(self, source: str, item_id: str, reason: str) -> int:
        rows = self.db.execute(
            "SELECT fingerprint FROM findings WHERE source = ? AND item_id = ? "
            "AND status != 'resolved'",
            (source, item_id),
        ).fetchall()
        return sum(self.resolve(str(r[0]), reason) for r in rows)

    def resolve(self, fingerprint: str, reason: str) -> int:
        stamp = now_text()
        changed = self.db.execute(
            "UPDATE findings SET status = 'resolved', reason = ?, changed = ? "
            "WHERE fingerprint = ? AND status != 'resolved'",
            (reason, stamp, fingerprint),
        ).rowcount
        if changed:
            self._history(fingerprint, "resolved", reason, stamp)
        return changed

    def acknowledge(self, prefix: str, reason: str, verdict: str = "accepted") -> StoredFinding:
        """Acknowledge the finding whose fingerprint starts with ``prefix``: ``accepted``
        (a real finding, dealt with or fine here) or ``not-a-problem`` (a false alarm)."""
        if verdict not in ACK_VERDICTS:
            raise StoreError(f"unknown verdict {verdict!r}")
        fingerprint = self.resolve_prefix(prefix)
        stamp = now_text()
        with self.transaction():
            self.db.execute(
                "UPDATE findings SET status = CASE WHEN status = 'resolved' THEN status "
                "ELSE 'acknowledged' END, reason = CASE WHEN status = 'resolved' THEN reason "
                "ELSE ? END, changed = ?, ack_reason = ?, ack_at = ?, ack_verdict = ? "
                "WHERE fingerprint = ?",
                (reason, stamp, reason, stamp, verdict, fingerprint),
            )
            said = reason if verdict == "accepted" else f"not a problem: {reason}"
            self._history(fingerprint, "acknowledged", said, stamp)
        return self.finding(fingerprint)  # type: ignore[return-value]

    def unacknowledge(self, prefix: str) -> StoredFinding:
        """Take back the acknowledgement of a finding: open again if it still fires."""
        fingerprint = self.resolve_prefix(prefix)
        row = self.finding(fingerprint)
        if row is None or row.ack_reason is None:
            raise StoreError(f"{fingerprint} is not acknowledged")
        stamp = now_text()
        with self.transaction():
            self.db.execute(
                "UPDATE findings SET status = CASE WHEN status = 'acknowledged' THEN 'open' "
                "ELSE status END, reason = CASE WHEN status = 'acknowledged' THEN '' "
                "ELSE reason END, ack_reason = NULL, ack_at = NULL, ack_verdict = NULL, "
                "changed = ? WHERE fingerprint = ?",
                (stamp, fingerprint),
            )
            self._history(fingerprint, "open", f"acknowledgement undone: {row.ack_reason}", stamp)
        return self.finding(fingerprint)  # type: ignore[return-value]

    def resolve_prefix(self, prefix: str) -> str:
        """The one fingerprint that starts with ``prefix``, or a :class:`StoreError`."""
        prefix = prefix.strip().lower()
        if not _FINGERPRINT_PREFIX.match(prefix):
            raise StoreError(
                f"{prefix!r} is not a finding id (hex digits, as `clientline findings` shows them)"
            )
        matches = self.db.execute(
            "SELECT fingerprint FROM findings WHERE substr(fingerprint, 1, ?) = ?",
            (len(prefix), prefix),
        ).fetchall()
        if not matches:
            raise StoreError(f"no finding {prefix}; `clientline findings` lists them")
        if len(matches) > 1:
            raise StoreError(f"{prefix} matches {len(matches)} findings; give more of the id")
        return str(matches[0][0])

    def _history(self, fingerprint: str, status: str, reason: str, stamp: str) -> None:
        self.db.execute(
            "INSERT INTO history (fingerprint, at, status, reason) VALUES (?, ?, ?, ?)",
            (fingerprint, stamp, status, reason),
        )

    def history(self, fingerprint: str) -> list[tuple[str, str, str]]:
        rows = self.db.execute(
            "SELECT at, status, reason FROM history WHERE fingerprint = ? ORDER BY id",
            (fingerprint,),
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    def finding(self, fingerprint: str) -> StoredFinding | None:
        row = self.db.execute(
            "SELECT * FROM findings WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        return StoredFinding.from_row(row) if row else None

    def findings(self, status: str | None = None, client: str | None = None) -> list[StoredFinding]:
        query = "SELECT * FROM findings WHERE 1 = 1"
        args: list[Any] = []
        if status:
            query += " AND status = ?"
            args.append(status)
        if client:
            query += " AND lower(client) LIKE '%' || lower(?) || '%'"
            args.append(client)
        return self._select(query + " ORDER BY first_seen, fingerprint", args)

    def rule_health(self, since: dt.datetime) -> dict[str, dict[str, int]]:
        """Per rule, over the findings first seen since ``since``: how many fired, how
        many were acknowledged as fine (``not-a-problem``: a false alarm) and how many
        as real (``accepted``), and how many are still open."""
        rows = self.db.execute(
            "SELECT rule, count(*), "
            "sum(ack_verdict = 'not-a-problem'), sum(ack_verdict = 'accepted'), "
            "sum(status = 'open') FROM findings WHERE first_seen >= ? GROUP BY rule",
            (now_text(since),),
        )
        return {
            str(rule): {
                "fired": int(fired),
                "not_a_problem": int(fine or 0),
                "accepted": int(real or 0),
                "open": int(still or 0),
            }
            for rule, fired, fine, real, still in rows
        }

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, count(*) FROM findings GROUP BY status")
        return {str(r[0]): int(r[1]) for r in rows}

    def new_per_day(self, days: Sequence[dt.date], tz: dt.tzinfo) -> list[tuple[dt.date, int]]:
        """How many findings were first seen on each of ``days`` (in ``tz``)."""
        wanted = dict.fromkeys(days, 0)
        since = dt.datetime.combine(min(days), dt.time(), tz) if days else None
        if since is None:
            return []
        for row in self.db.execute(
            "SELECT first_seen FROM findings WHERE first_seen >= ?", (now_text(since),)
        ):
            day = dt.datetime.fromisoformat(str(row[0])).astimezone(tz).date()
            if day in wanted:
                wanted[day] += 1
        return list(wanted.items())

    # ---- digests

    def pending_digest(self) -> Digest | None:
        """A digest that was claimed but never delivered: it is sent before any new one."""
        row = self.db.execute(
            "SELECT * FROM digests WHERE sent IS NULL AND skipped = 0 ORDER BY id LIMIT 1"
        ).fetchone()
        return _digest(row) if row else None

    def last_digest_day(self) -> str | None:
        # claimed counts too: a digest still pending is that day's, retried, never doubled
        row = self.db.execute("SELECT max(day) FROM digests").fetchone()
        return str(row[0]) if row and row[0] else None

    def claim_digest(
        self,
        day: str,
        send_when_empty: bool = True,
        render: Callable[[int], bytes] | None = None,
    ) -> Digest:
        """Create the digest for ``day`` and make it the one that reports every open, not
        yet reported finding as new: from here on, those findings are "new" in this
        digest only. In the same transaction, a digest with nothing new is marked
        skipped (unless ``send_when_empty``), and the message is rendered (``render``
        is given the digest id) and stored: a retry sends those bytes, and findings
        found later go to the next digest."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO digests (day, created) VALUES (?, ?)", (day, now_text())
            )
            digest_id = int(cursor.lastrowid or 0)
            new = self.db.execute(
                "UPDATE findings SET digest = ? WHERE status = 'open' AND digest IS NULL",
                (digest_id,),
            ).rowcount
            if not new and not send_when_empty:
                self.db.execute("UPDATE digests SET skipped = 1 WHERE id = ?", (digest_id,))
            elif render is not None:
                self.store_digest_message(digest_id, render(digest_id))
        return self.digest(digest_id)  # type: ignore[return-value]

    def store_digest_message(self, digest_id: int, message: bytes) -> None:
        self.db.execute("UPDATE digests SET message = ? WHERE id = ?", (message, digest_id))

    def digest(self, digest_id: int) -> Digest | None:
        row = self.db.execute("SELECT * FROM digests WHERE id = ?", (digest_id,)).fetchone()
        return _digest(row) if row else None

    def digest_findings(self, digest_id: int) -> tuple[list[StoredFinding], list[StoredFinding]]:
        """(new in this digest, still open from earlier ones), for rendering."""
        order = " ORDER BY client, first_seen"
        new = self._select(
            "SELECT * FROM findings WHERE digest = ? AND status = 'open'" + order, (digest_id,)
        )
        still = self._select(
            "SELECT * FROM findings WHERE status = 'open' AND digest < ?" + order, (digest_id,)
        )
        return new, still

    def next_digest_findings(self) -> tuple[list[StoredFinding], list[StoredFinding]]:
        """What the next digest would say: (never reported, reported and still open)."""
        open_findings = self.findings("open")
        return (
            [f for f in open_findings if f.digest is None],
            [f for f in open_findings if f.digest is not None],
        )

    def _select(self, query: str, args: Sequence[Any]) -> list[StoredFinding]:
        return [StoredFinding.from_row(row) for row in self.db.execute(query, args)]

    def mark_digest(
        self, digest_id: int, sent: bool, error: str = "", skipped: bool = False
    ) -> None:
        self.db.execute(
            "UPDATE digests SET sent = ?, attempts = attempts + 1, error = ?, skipped = ? "
            "WHERE id = ?",
            (now_text() if sent else None, error, int(skipped), digest_id),
        )

    # ---- housekeeping

    def purge(self, retention_days: int, now: dt.datetime | None = None) -> int:
        """Forget resolved findings, history and digests older than the retention."""
        cutoff = now_text((now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days))
        with self.transaction():
            gone = self.db.execute(
                "DELETE FROM findings WHERE status = 'resolved' AND changed < ?", (cutoff,)
            ).rowcount
            self.db.execute(
                "DELETE FROM history WHERE at < ? AND fingerprint NOT IN "
                "(SELECT fingerprint FROM findings)",
                (cutoff,),
            )
            # a digest findings point at keeps its id, or a new digest could reuse it
            self.db.execute(
                "DELETE FROM digests WHERE created < ? AND id NOT IN "
                "(SELECT digest FROM findings WHERE digest IS NOT NULL)",
                (cutoff,),
            )
        return int(gone)

    def integrity(self) -> str:
        return str(self.db.execute("PRAGMA quick_check").fetchone()[0])


def locate(path: str, legacy: str, owner: str) -> str:
    """``path``, or ``legacy`` (the one default database that older versions shared by
    every configuration) while ``path`` does not exist yet and ``legacy`` does and has
    not been claimed by another configuration: an upgrade keeps its state."""
    if not legacy or os.path.lexists(path) or not os.path.isfile(legacy):
        return path
    try:
        db = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)
        try:
            has_meta = db.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'meta'"
            ).fetchone()[0]
            row = (
                db.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()
                if has_meta
                else None
            )
        finally:
            db.close()
    except sqlite3.Error:
        return path  # not ours to judge here: the new database is made
    return legacy if row is None or row[0] == owner else path


def damaged(path: str, exc: BaseException) -> StoreError:
    """The error for a state database SQLite cannot read (a damaged page, not a
    database at all), with the steps to recover."""
    return StoreError(
        f"{path}: not a usable clientline state database ({exc}); it was left as it is. "
        + RECOVERY.format(path=path)
    )


def _check_file(path: str) -> None:
    """Refuse, before SQLite sees it, a file that would be silently treated as a new
    database (an empty one), and one that cannot be written."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot use the state database ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path}: the state database is not a regular file")
    if info.st_size == 0:
        raise StoreError(
            f"{path}: the state database is an empty file (it holds the audit trail and "
            "the digests sent, so it is never silently replaced); if you meant to start "
            f"afresh, delete it (`rm {path}`) and run again; otherwise restore it from a backup"
        )
    folder = os.path.dirname(path) or "."
    for target, what in ((path, "file"), (folder, "folder")):
        if not os.access(target, os.W_OK):
            raise StoreError(
                f"{target}: the state {what} is read-only; clientline must record what it "
                f"reads and sends (fix: `chmod u+w {target}`, or point `state:` elsewhere)"
            )


def _create(path: str) -> None:
    """Make a new, fully migrated database at ``path``: built under a temporary name in
    the same folder and linked into place, so no run ever finds a half-made file there,
    and a file that appeared meanwhile is never replaced."""
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(prefix=".state-", suffix=".db", dir=folder)
    except OSError as exc:
        raise StoreError(
            f"{path}: cannot create the state database ({exc.strerror or exc}); "
            "check that its folder is writable, or point `state:` elsewhere"
        ) from None
    os.close(handle)  # mkstemp made it 0600: SQLite's -wal and -shm take its mode
    os.unlink(temporary)  # SQLite must find no file, or it is an empty one to refuse
    try:
        os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        fresh = sqlite3.connect(temporary, isolation_level=None)
        try:
            Store._migrate(fresh, temporary)
            fresh.execute("PRAGMA journal_mode=DELETE")  # one file to move, no -wal
        finally:
            fresh.close()
        with contextlib.suppress(FileExistsError):  # another run made it first: use theirs
            os.link(temporary, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _statements(script: str) -> Iterator[str]:
    for statement in script.split(";"):
        if statement.strip():
            yield statement


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _digest(row: sqlite3.Row) -> Digest:
    return Digest(
        id=int(row["id"]),
        day=str(row["day"]),
        created=str(row["created"]),
        sent=row["sent"],
        attempts=int(row["attempts"]),
        error=str(row["error"]),
        skipped=bool(row["skipped"]),
        message=row["message"],
    )


def _finding_values(source: str, finding: Finding, private: bool) -> tuple[Any, ...]:
    item = finding.item
    snippets = [
        " ".join(e.snippet.split())[:MAX_SNIPPET]
        for e in finding.evidence
        if e.snippet and e.field in TEXT_FIELDS  # participants' addresses are not evidence text
    ]
    return (
        finding.rule,
        finding.name,
        finding.title,
        str(finding.severity),
        finding.message,
        source,
        item.id,
        item.kind,
        item.title,
        _iso(item.start),
        item.locator,
        finding.contacts[0] if finding.contacts else "",
        json.dumps(list(finding.contacts), ensure_ascii=False),
        json.dumps(list(dict.fromkeys(snippets))[:5], ensure_ascii=False),
        json.dumps(list(finding.principles)),
        finding.advice,
        int(private),
    )


def _aware(moment: dt.datetime, like: dt.datetime) -> dt.datetime:
    """``moment``, in ``like``'s timezone when it has none (a floating time)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=like.tzinfo)
