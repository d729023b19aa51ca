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
    each digest: created, sent (or the last error), and the findings it introduced
    (``findings.digest`` points at the one digest that reported a finding as new).

A database with a newer schema than this version of clientline, or one that is not a
clientline database, is refused with a clear error, never recreated: it holds the
audit trail. ``clientline doctor`` explains how to recover.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
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
)
VERSION = len(MIGRATIONS)
MAX_SNIPPET = 240
TEXT_FIELDS = ("title", "body", "location", "quoted", "attachments")


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


def now_text(moment: dt.datetime | None = None) -> str:
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")


class Store:
    """One open state database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str, create: bool = True):
        self.path = path
        if path != ":memory:":
            if not Path(path).exists() and not create:
                raise StoreError(f"{path}: no state database yet (run `clientline run` first)")
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # SQLite gives -wal and -shm the database file's mode: create it owner-only
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self._check_and_migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path}: not a usable clientline state database ({exc}); it was left as it "
                "is. `clientline doctor` explains how to recover"
            ) from None
        if path != ":memory:":
            os.chmod(path, 0o600)  # it holds snippets of private mail

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _check_and_migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        app = self.db.execute("PRAGMA application_id").fetchone()[0]
        tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version == 0 and tables:
            raise StoreError(
                f"{self.path}: this SQLite file is not a clientline state database; "
                "point `state:` elsewhere"
            )
        if version and app != APPLICATION_ID:
            raise StoreError(f"{self.path}: not a clientline state database")
        if version > VERSION:
            raise StoreError(
                f"{self.path}: the state database is version {version}, newer than this "
                f"clientline understands ({VERSION}); upgrade clientline (nothing was changed)"
            )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        for number in range(version, VERSION):
            with self.transaction():
                for statement in _statements(MIGRATIONS[number]):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                self.db.execute(f"PRAGMA user_version={number + 1}")

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
                "SELECT status FROM findings WHERE fingerprint = ?", (finding.fingerprint,)
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
            # an acknowledgement outlives edits to the item; a marker's removal reopens
            if old == "acknowledged" and status == "open":
                status, keep_reason = old, True
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
                self._history(finding.fingerprint, status, reason or "fires again", stamp)
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

    def acknowledge(self, prefix: str, reason: str) -> StoredFinding:
        """Acknowledge the finding whose fingerprint starts with ``prefix``."""
        prefix = prefix.strip().lower()
        if not _FINGERPRINT_PREFIX.match(prefix):
            raise StoreError(
                f"{prefix!r} is not a finding id (hex digits, as `clientline findings` shows them)"
            )
        matches = self.db.execute(
            "SELECT * FROM findings WHERE substr(fingerprint, 1, ?) = ?", (len(prefix), prefix)
        ).fetchall()
        if not matches:
            raise StoreError(f"no finding {prefix}; `clientline findings` lists them")
        if len(matches) > 1:
            raise StoreError(f"{prefix} matches {len(matches)} findings; give more of the id")
        fingerprint = str(matches[0]["fingerprint"])
        stamp = now_text()
        with self.transaction():
            self.db.execute(
                "UPDATE findings SET status = 'acknowledged', reason = ?, changed = ? "
                "WHERE fingerprint = ?",
                (reason, stamp, fingerprint),
            )
            self._history(fingerprint, "acknowledged", reason, stamp)
        return self.finding(fingerprint)  # type: ignore[return-value]

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

    def pending_digest_after(self, digest_id: int) -> Digest | None:
        row = self.db.execute(
            "SELECT * FROM digests WHERE sent IS NULL AND skipped = 0 AND id > ? "
            "ORDER BY id LIMIT 1",
            (digest_id,),
        ).fetchone()
        return _digest(row) if row else None

    def last_digest_day(self) -> str | None:
        # claimed counts too: a digest still pending is that day's, retried, never doubled
        row = self.db.execute("SELECT max(day) FROM digests").fetchone()
        return str(row[0]) if row and row[0] else None

    def claim_digest(self, day: str) -> Digest:
        """Create a digest and make it the one that reports every open, not yet reported
        finding as new: from here on, those findings are "new" in this digest only."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO digests (day, created) VALUES (?, ?)", (day, now_text())
            )
            digest_id = int(cursor.lastrowid or 0)
            self.db.execute(
                "UPDATE findings SET digest = ? WHERE status = 'open' AND digest IS NULL",
                (digest_id,),
            )
        return self.digest(digest_id)  # type: ignore[return-value]

    def absorb_new(self, digest_id: int) -> None:
        """Give a pending digest the findings found since it was claimed, so its retry
        reports them instead of leaving them for tomorrow's."""
        with self.transaction():
            self.db.execute(
                "UPDATE findings SET digest = ? WHERE status = 'open' AND digest IS NULL",
                (digest_id,),
            )

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
