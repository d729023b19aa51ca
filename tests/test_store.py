"""The state database (linter.store): migrations, refusing what it must not touch,
privacy of the files, the findings' lifecycle and audit trail, digests, purging.

These drive :class:`linter.store.Store` directly with hand-made findings, so each test
knows every fingerprint; test_worker.py covers the same store through real scans.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from linter import store as store_module
from linter.model import Evidence, Finding, ItemRef, Severity
from linter.store import APPLICATION_ID, MAX_SNIPPET, Store, StoreError

UTC = dt.UTC
TABLES = {"cursors", "items", "findings", "history", "digests"}


def finding(
    fingerprint: str,
    item_id: str = "<m1@acme.example>",
    rule: str = "CL102",
    snippets: tuple[str, ...] = ("Drinks Friday after work? Also the renewal contract",),
    suppressed: bool = False,
    reason: str = "",
) -> Finding:
    item = ItemRef(
        "message", "inbox.mbox", "1", item_id, "Friday?", dt.datetime(2026, 11, 12, 10, tzinfo=UTC)
    )
    return Finding(
        rule=rule,
        name="business-matter-in-social-message",
        title="Money or contract matter inside a social invitation",
        severity=Severity.WARNING,
        message="'Friday?' raises contract alongside a social occasion (Drinks) with Dana Ng",
        item=item,
        contacts=("Dana Ng (Acme Ltd)",),
        evidence=tuple(Evidence("mixed", "body", "Drinks", 0, 6, s) for s in snippets),
        principles=("P1", "P2"),
        advice="Send the business matter separately.",
        fingerprint=fingerprint,
        suppressed=suppressed,
        suppression_reason=reason,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def store(db_path: Path):
    with Store(str(db_path)) as opened:
        yield opened


def snapshot(path: Path) -> tuple[bytes, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- creating, migrating, refusing ---------------------------------------------------


def test_a_new_database_has_the_current_schema_in_wal_mode(db_path: Path) -> None:
    with Store(str(db_path)) as store:
        assert store.version == store_module.VERSION == 2
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        names = {
            r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert names >= TABLES
        assert store.integrity() == "ok"
        store.set_cursor("inbox", '{"units": {}}')
    # reopening runs no migration again and keeps what was stored
    with Store(str(db_path)) as again:
        assert again.version == 2
        assert again.cursor("inbox") == '{"units": {}}'
    # an independent reader sees the same version and the WAL journal
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_no_database_without_create_is_a_clear_error(db_path: Path) -> None:
    with pytest.raises(StoreError, match="no state database yet") as caught:
        Store(str(db_path), create=False)
    assert str(db_path) in str(caught.value)
    assert not db_path.exists()


def _newer(db_path: Path) -> None:
    with Store(str(db_path)) as store:
        store.set_cursor("inbox", "kept")
    with sqlite3.connect(db_path) as raw:
        raw.execute("PRAGMA journal_mode=DELETE")  # one file: its bytes say everything
        raw.execute(f"PRAGMA user_version={store_module.VERSION + 1}")
    raw.close()


def test_a_database_from_a_newer_clientline_is_refused_and_left_untouched(db_path: Path) -> None:
    _newer(db_path)
    os.chmod(db_path, 0o644)
    before = snapshot(db_path)
    with pytest.raises(StoreError) as caught:
        Store(str(db_path))
    message = str(caught.value)
    assert str(db_path) in message
    assert f"version {store_module.VERSION + 1}" in message and "upgrade clientline" in message
    assert snapshot(db_path) == before  # bytes, modification time and mode
    assert not Path(f"{db_path}-wal").exists()
    # what it held is still there
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as raw:
        assert raw.execute("SELECT value FROM cursors").fetchone()[0] == "kept"
    raw.close()


def test_the_command_line_refuses_a_newer_database_with_exit_2(
    db_path: Path, tmp_path: Path, run_cli
) -> None:
    _newer(db_path)
    config = tmp_path / "clientline.yaml"
    config.write_text(f"state: {db_path}\n", encoding="utf-8")
    before = snapshot(db_path)
    result = run_cli("findings", "--config", str(config))
    assert result.exit_code == 2
    assert str(db_path) in result.output and "newer" in result.output
    assert snapshot(db_path) == before


@pytest.mark.parametrize(
    "pragmas",
    [
        [],  # someone else's database, never versioned
        ["PRAGMA user_version=1"],  # versioned, but not ours (no application id)
        ["PRAGMA user_version=1", "PRAGMA application_id=42"],
    ],
    ids=["unversioned", "foreign-version", "foreign-application"],
)
def test_another_programs_sqlite_file_is_refused_and_left_untouched(
    db_path: Path, pragmas: list[str]
) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as raw:
        raw.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        raw.execute("INSERT INTO notes (text) VALUES ('my own data')")
        for pragma in pragmas:
            raw.execute(pragma)
    raw.close()
    before = snapshot(db_path)
    with pytest.raises(StoreError, match="not a clientline state database") as caught:
        Store(str(db_path))
    assert str(db_path) in str(caught.value)
    assert snapshot(db_path) == before
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as raw:
        names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    raw.close()
    assert names == {"notes"}


@pytest.mark.parametrize(
    "content",
    [b"this is not a database, it is a shopping list\n" * 200, os.urandom(8192)],
    ids=["text", "random-bytes"],
)
def test_a_garbage_file_is_refused_naming_the_path_and_left_untouched(
    db_path: Path, content: bytes
) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(content)
    before = snapshot(db_path)
    with pytest.raises(StoreError) as caught:
        Store(str(db_path))
    message = str(caught.value)
    assert str(db_path) in message and "left" in message
    assert snapshot(db_path) == before


def test_the_database_file_and_its_folder_are_private(db_path: Path) -> None:
    with Store(str(db_path)):
        pass
    assert mode(db_path) == 0o600
    assert mode(db_path.parent) == 0o700
    # a copy someone made readable is made private again on the next open
    os.chmod(db_path, 0o644)
    with Store(str(db_path)):
        pass
    assert mode(db_path) == 0o600


def test_the_write_ahead_log_of_a_new_database_is_private_too(db_path: Path) -> None:
    with Store(str(db_path)) as store:
        store.set_cursor("inbox", "x")
        for suffix in ("-wal", "-shm"):
            side = Path(f"{db_path}{suffix}")
            assert side.exists()
            assert mode(side) & 0o077 == 0, f"{side.name} is {oct(mode(side))}"


# -- findings: lifecycle and audit trail ---------------------------------------------


def test_record_new_unchanged_resolved_and_firing_again(store: Store) -> None:
    a = finding("a" * 16)
    with store.transaction():
        assert store.record("inbox", a.item.id, [a]) == (1, 0)
    first = store.finding(a.fingerprint)
    assert first is not None and first.status == "open" and first.reason == ""
    assert first.first_seen == first.last_seen
    with store.transaction():
        assert store.record("inbox", a.item.id, [a]) == (0, 0)  # the same finding again
    # the item changed and the rule no longer fires
    with store.transaction():
        assert store.record("inbox", a.item.id, []) == (0, 1)
    resolved = store.finding(a.fingerprint)
    assert resolved is not None and resolved.status == "resolved"
    assert "the item changed" in resolved.reason
    with store.transaction():
        assert store.record("inbox", a.item.id, [a]) == (0, 0)  # not new: it was known
    again = store.finding(a.fingerprint)
    assert again is not None and again.status == "open"
    assert [status for _, status, _ in store.history(a.fingerprint)] == [
        "open",
        "resolved",
        "open",
    ]
    assert [reason for _, _, reason in store.history(a.fingerprint)] == [
        "first seen",
        "the item changed; the rule no longer fires",
        "fires again",
    ]


def test_a_suppressed_finding_is_stored_as_suppressed_with_its_reason(store: Store) -> None:
    quiet = finding("b" * 16, suppressed=True, reason="agreed with Dana")
    with store.transaction():
        store.record("inbox", quiet.item.id, [quiet])
    row = store.finding(quiet.fingerprint)
    assert row is not None and (row.status, row.reason) == ("suppressed", "agreed with Dana")
    assert store.findings("open") == []


def test_only_bounded_snippets_are_kept_never_a_body(store: Store) -> None:
    long = "word " * 400
    many = tuple(f"snippet {n}" for n in range(9))
    big = finding("c" * 16, snippets=(long, "  spread \n over\tlines  ", *many))
    with store.transaction():
        store.record("inbox", big.item.id, [big])
    row = store.finding(big.fingerprint)
    assert row is not None
    assert len(row.evidence) == 5
    assert all(len(snippet) <= MAX_SNIPPET for snippet in row.evidence)
    assert row.evidence[1] == "spread over lines"
    columns = {r[1] for r in store.db.execute("PRAGMA table_info(findings)")}
    assert "body" not in columns and "text" not in columns


@pytest.fixture
def three(store: Store) -> Store:
    with store.transaction():
        for fp, item in [
            ("abc1000000000000", "<1@x>"),
            ("abc2000000000000", "<2@x>"),
            ("def3000000000000", "<3@x>"),
        ]:
            store.record("inbox", item, [finding(fp, item_id=item)])
    return store


def test_acknowledge_by_unique_prefix_keeps_reason_and_time(three: Store) -> None:
    before = dt.datetime.now(UTC).replace(microsecond=0)
    row = three.acknowledge("ABC1", "social only; agreed with Dana")
    after = dt.datetime.now(UTC)
    assert row.fingerprint == "abc1000000000000"
    assert (row.status, row.reason) == ("acknowledged", "social only; agreed with Dana")
    at, status, reason = three.history(row.fingerprint)[-1]
    assert (status, reason) == ("acknowledged", "social only; agreed with Dana")
    moment = dt.datetime.fromisoformat(at)
    assert moment.tzinfo is not None and before <= moment <= after
    assert [f.fingerprint for f in three.findings("acknowledged")] == [row.fingerprint]
    assert {f.fingerprint for f in three.findings("open")} == {
        "abc2000000000000",
        "def3000000000000",
    }


def test_an_acknowledgement_outlives_edits_to_the_item(three: Store) -> None:
    three.acknowledge("abc1", "fine")
    with three.transaction():
        three.record("inbox", "<1@x>", [finding("abc1000000000000", item_id="<1@x>")])
    row = three.finding("abc1000000000000")
    assert row is not None and (row.status, row.reason) == ("acknowledged", "fine")


def test_acknowledge_an_ambiguous_or_unknown_prefix_changes_nothing(three: Store) -> None:
    with pytest.raises(StoreError, match="abc matches 2 findings"):
        three.acknowledge("abc", "which one?")
    with pytest.raises(StoreError, match="no finding 999"):
        three.acknowledge("999", "nothing")
    assert three.findings("acknowledged") == []
    assert all(len(three.history(f.fingerprint)) == 1 for f in three.findings())


def test_acknowledge_treats_the_id_literally(three: Store) -> None:
    with pytest.raises(StoreError):
        three.acknowledge("a_c1", "a typo must not acknowledge abc1...")
    assert three.findings("acknowledged") == []


# -- digests -------------------------------------------------------------------------


def test_a_finding_is_new_in_exactly_one_digest(three: Store) -> None:
    three.acknowledge("def3", "fine")
    first = three.claim_digest("2026-11-23")
    new, still = three.digest_findings(first.id)
    assert {f.fingerprint for f in new} == {"abc1000000000000", "abc2000000000000"}
    assert still == []
    assert three.pending_digest() == first  # claimed, not yet delivered
    three.mark_digest(first.id, sent=False, error="SMTP down")
    pending = three.pending_digest()
    assert pending is not None and (pending.id, pending.attempts, pending.error) == (
        first.id,
        1,
        "SMTP down",
    )
    assert three.last_digest_day() == "2026-11-23"  # claimed: that day is taken
    three.mark_digest(first.id, sent=True)
    assert three.pending_digest() is None and three.last_digest_day() == "2026-11-23"
    with three.transaction():
        three.record("inbox", "<4@x>", [finding("fed4000000000000", item_id="<4@x>")])
    second = three.claim_digest("2026-11-24")
    new, still = three.digest_findings(second.id)
    assert [f.fingerprint for f in new] == ["fed4000000000000"]
    assert {f.fingerprint for f in still} == {"abc1000000000000", "abc2000000000000"}
    # a finding resolved since leaves both lists
    with three.transaction():
        three.record("inbox", "<1@x>", [])
    new, still = three.digest_findings(second.id)
    assert {f.fingerprint for f in still} == {"abc2000000000000"}


# -- housekeeping --------------------------------------------------------------------


def test_purge_forgets_only_resolved_findings_older_than_the_retention(store: Store) -> None:
    fingerprints = {
        "open": "1000000000000000",
        "resolved": "2000000000000000",
        "acknowledged": "3000000000000000",
        "suppressed": "4000000000000000",
    }
    with store.transaction():
        for status, fp in fingerprints.items():
            store.record(
                "inbox",
                f"<{status}@x>",
                [finding(fp, item_id=f"<{status}@x>", suppressed=status == "suppressed")],
            )
        store.record("inbox", "<resolved@x>", [])
    store.acknowledge(fingerprints["acknowledged"], "fine")
    assert store.counts() == dict.fromkeys(fingerprints, 1)
    now = dt.datetime.now(UTC)
    assert store.purge(30, now + dt.timedelta(days=29)) == 0
    assert len(store.findings()) == 4
    assert store.purge(30, now + dt.timedelta(days=31)) == 1
    left = {f.status: f.fingerprint for f in store.findings()}
    assert left == {k: v for k, v in fingerprints.items() if k != "resolved"}
    assert store.history(fingerprints["resolved"]) == []  # its audit trail went with it
    assert store.history(fingerprints["open"]) != []  # the others keep theirs
    assert store.integrity() == "ok"


def test_after_purging_old_digests_a_reported_finding_is_never_new_again(three: Store) -> None:
    old = three.claim_digest("2026-11-23")
    three.mark_digest(old.id, sent=True)
    # a year without a digest (e.g. the first run after a year runs before `at`)
    three.purge(365, dt.datetime.now(UTC) + dt.timedelta(days=400))
    assert {f.status for f in three.findings()} == {"open"}  # open findings are kept
    later = three.claim_digest("2027-12-28")
    new, still = three.digest_findings(later.id)
    assert new == []
    assert {f.fingerprint for f in still} == {f.fingerprint for f in three.findings("open")}
