"""Trust under faults and hostile input (issue 14): nothing lost, nothing merged,
nothing concluded from a bad read, and a state database never silently replaced.

Each test names the defect it guards; each failed on the code before the fix. The
kill tests (digests under SIGKILL, a long mbox under a deadline) are in
test_faults_kills.py; the seeded fuzz driver is tests/fuzz.py.
"""

from __future__ import annotations

import mailbox
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from linter import worker
from linter.model import Problem, fingerprint
from linter.sources import Window, iter_items
from linter.sources.mbox import messages
from linter.store import Store, StoreError
from tests.worker_helpers import (
    CALENDAR,
    MIXED,
    NOW,
    Practice,
    clientline,
    message,
    readonly,
    write_practice,
)

HOUR = 3600
EV = fingerprint("CL101", "drinks-review@studio.example")
WIDE = Window(
    NOW.replace(year=2026, month=1, day=1), NOW.replace(year=2027, month=1, day=1), NOW.tzinfo
)


def later(seconds: int) -> Any:
    import datetime as dt

    return NOW + dt.timedelta(seconds=seconds)


@pytest.fixture
def office(tmp_path: Path) -> Practice:
    return write_practice(tmp_path / "practice", mail=[message("m1@acme.example", *MIXED)])


# -- 1. an acknowledgement belongs to the fingerprint ---------------------------------


def test_1_an_acknowledgement_outlives_its_item_disappearing_for_a_while(
    office: Practice,
) -> None:
    setup = office.prepare()
    worker.run_cycle(setup, now=NOW)
    with office.open_store() as store:
        store.acknowledge(EV, "Dana asked for it; billed as usual")
    # an export in progress: the event is gone from a complete, clean calendar...
    office.ics.write_text(CALENDAR.replace("Q3 contract review over drinks", "Quiet drinks"))
    worker.run_cycle(setup, now=later(HOUR))
    office.ics.write_text(CALENDAR.replace("BEGIN:VEVENT\nUID:drinks", "BEGIN:VEVENT\nUID:gone", 1))
    worker.run_cycle(setup, now=later(2 * HOUR))
    assert office.findings()[EV][0] == "resolved"
    # ...and back: acknowledged again, with its reason, and the history says so
    office.ics.write_text(CALENDAR)
    worker.run_cycle(setup, now=later(3 * HOUR))
    assert office.findings()[EV] == ("acknowledged", "Dana asked for it; billed as usual")
    with office.open_store() as store:
        statuses = [status for _, status, _ in store.history(EV)]
        assert statuses[-3:] == ["acknowledged", "resolved", "acknowledged"]
        assert "acknowledged earlier" in store.history(EV)[-1][2]


def test_1_an_acknowledgement_made_before_the_upgrade_is_recovered_from_history(
    tmp_path: Path,
) -> None:
    # a version-1 database whose acknowledged finding was resolved by a vanished item
    version_one = tmp_path / "v1.db"
    from linter import store as store_module

    raw = sqlite3.connect(version_one)
    for statement in store_module.MIGRATIONS[0].split(";"):
        if statement.strip():
            raw.execute(statement)
    raw.execute(f"PRAGMA application_id={store_module.APPLICATION_ID}")
    raw.execute("PRAGMA user_version=1")
    raw.execute(
        "INSERT INTO findings VALUES ('abcd', 'CL101', 'n', 't', 'warning', 'm', 'cal', 'e1',"
        " 'event', 'T', NULL, '1', 'Dana', '[]', '[]', '[]', 'a', 0, 'resolved', 'deleted',"
        " 'x', 'x', 'x', NULL)"
    )
    raw.execute(
        "INSERT INTO history (fingerprint, at, status, reason) VALUES "
        "('abcd', '2026-01-01', 'acknowledged', 'fine by me')"
    )
    raw.commit()
    raw.close()
    with Store(str(version_one)) as store:
        row = store.finding("abcd")
        assert row is not None and (row.ack_reason, row.ack_verdict) == ("fine by me", "accepted")


# -- 2. two practices never share a state database -------------------------------------


def _practice_without_state(folder: Path, calendar: str) -> Path:
    practice = write_practice(folder)
    practice.ics.write_text(calendar, encoding="utf-8")
    data = yaml.safe_load(practice.config.read_text(encoding="utf-8"))
    data.pop("state")
    # as `clientline init` writes it: sources named by their path, no `name:`
    data["sources"] = [{"type": "ics", "path": "calendar.ics"}]
    practice.config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return practice.config


EMPTY_CALENDAR = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//x//EN\nEND:VCALENDAR\n"


def test_2_two_practices_keep_their_own_state_and_never_resolve_each_other(
    tmp_path: Path,
) -> None:
    env = {"CLIENTLINE_STATE_DIR": str(tmp_path / "state-home")}
    first = _practice_without_state(tmp_path / "a", CALENDAR)
    second = _practice_without_state(tmp_path / "b", EMPTY_CALENDAR)
    assert clientline("run", "--config", str(first), env=env).returncode == 1
    assert clientline("run", "--config", str(second), env=env).returncode in (0, 1)
    again = clientline("run", "--config", str(first), env=env)
    assert again.returncode == 0 and "resolved 0" in again.stdout
    databases = sorted((tmp_path / "state-home").glob("*.db"))
    assert len(databases) == 2  # one per configuration
    owners = set()
    for path in databases:
        with readonly(path) as db:
            owners.add(db.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()[0])
            sources = {r[0] for r in db.execute("SELECT DISTINCT source FROM items")}
        # keyed by absolute path (and the contact directory, checked as a source of its own)
        assert all(os.path.isabs(s) for s in sources - {"contacts"}), sources
    assert owners == {os.path.realpath(first), os.path.realpath(second)}
    with readonly(next(p for p in databases if p.name.startswith("a-"))) as db:
        assert db.execute("SELECT status FROM findings WHERE rule = 'CL101'").fetchone() == (
            "open",
        )


def test_2_a_database_of_another_configuration_is_refused_unless_adopted(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared.db"
    first = _practice_without_state(tmp_path / "a", CALENDAR)
    second = _practice_without_state(tmp_path / "b", EMPTY_CALENDAR)
    for config in (first, second):
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        data["state"] = str(shared)
        config.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert clientline("run", "--config", str(first)).returncode == 1
    refused = clientline("run", "--config", str(second))
    assert refused.returncode == 2
    assert os.path.realpath(first) in refused.stderr and "--adopt-state" in refused.stderr
    findings = clientline("findings", "--config", str(second))
    assert findings.returncode == 2
    moved = clientline("run", "--config", str(second), "--adopt-state")
    assert moved.returncode in (0, 1), moved.stderr
    with readonly(shared) as db:
        owner = db.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()[0]
    assert owner == os.path.realpath(second)


def test_2_the_shared_database_of_older_versions_is_kept_by_the_first_configuration(
    tmp_path: Path,
) -> None:
    home = tmp_path / "state-home"
    env = {"CLIENTLINE_STATE_DIR": str(home)}
    first = _practice_without_state(tmp_path / "a", CALENDAR)
    with Store(str(home / "state.db")) as store:  # what an older version made
        store.set_cursor("kept", "{}")
    assert clientline("run", "--config", str(first), env=env).returncode == 1
    with readonly(home / "state.db") as db:
        assert db.execute("SELECT count(*) FROM findings WHERE rule = 'CL101'").fetchone()[0] == 1
        owner = db.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()[0]
    assert owner == os.path.realpath(first)
    second = _practice_without_state(tmp_path / "b", EMPTY_CALENDAR)
    assert clientline("run", "--config", str(second), env=env).returncode in (0, 1)
    assert len(list(home.glob("b-*.db"))) == 1  # the second gets one of its own


def test_2_sources_stored_under_their_path_as_written_move_to_their_absolute_path(
    office: Practice,
) -> None:
    with Store(str(office.state)) as store:
        with store.transaction():
            store.set_cursor("calendar.ics", '{"day": "2026-11-22"}')
            store.touch_item("calendar.ics", "e1", "calendar.ics", "h", "event", None, 1)
        store.rename_source("calendar.ics", "/abs/calendar.ics")
        assert store.cursor("/abs/calendar.ics") is not None
        assert store.known_items("/abs/calendar.ics", ["e1"]) == {"e1"}
        assert store.cursor("calendar.ics") is None


# -- 3. a VEVENT left open costs no event after it --------------------------------------


def _calendar(count: int) -> str:
    events = "".join(
        f"BEGIN:VEVENT\nUID:e{n}@x\nDTSTAMP:20260101T000000Z\n"
        f"DTSTART:202611{1 + n % 28:02d}T10{n % 60:02d}00Z\nSUMMARY:Event {n}\nEND:VEVENT\n"
        for n in range(count)
    )
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//x//EN\n{events}END:VCALENDAR\n"


@pytest.mark.parametrize("missing", [0, 5, 64, 129])
def test_3_a_missing_end_vevent_is_recovered_and_reported_by_line(
    tmp_path: Path, missing: int
) -> None:
    lines = _calendar(130).splitlines(keepends=True)
    ends = [n for n, line in enumerate(lines) if line.startswith("END:VEVENT")]
    del lines[ends[missing]]
    path = tmp_path / "broken.ics"
    path.write_text("".join(lines), encoding="utf-8")
    outputs = list(iter_items([str(path)], WIDE))
    items = [o for o in outputs if not isinstance(o, Problem)]
    problems = [o for o in outputs if isinstance(o, Problem)]
    assert len(items) == 130
    assert {i.title for i in items} == {f"Event {n}" for n in range(130)}
    begin = next(n for n, line in enumerate(lines, 1) if line.strip() == f"UID:e{missing}@x") - 1
    assert [(p.line, "no END:VEVENT" in p.message) for p in problems] == [(begin, True)]


def test_3_a_read_that_reported_problems_resolves_nothing(office: Practice) -> None:
    setup = office.prepare()
    worker.run_cycle(setup, now=NOW)
    assert office.findings()[EV][0] == "open"
    for broken in (
        "",  # truncated to nothing: an export in progress
        CALENDAR[: CALENDAR.index("SUMMARY:Q3 contract review over drinks")],  # cut mid-event
        CALENDAR.replace("BEGIN:VEVENT\nUID:drinks", "BEGIN:VEVENT\nBEGIN:VEVENT\nUID:x", 1),
    ):
        office.ics.write_text(broken, encoding="utf-8")
        report = {r.name: r for r in worker.run_cycle(setup, now=later(HOUR)).sources}
        assert report["calendar"].problems, broken
        assert report["calendar"].resolved == 0
        assert office.findings()[EV][0] == "open"


# -- 4. mbox messages never merge -------------------------------------------------------


def test_4_a_from_line_without_a_blank_line_before_it_still_separates(tmp_path: Path) -> None:
    one = "".join(
        f"From a{n}@x.example Thu Nov 12 10:00:00 2026\nFrom: a{n}@x.example\n"
        f"Subject: {n}\n\nbody {n}\n"
        for n in range(300)
    )
    path = tmp_path / "cat.mbox"
    path.write_text(one + one.replace("a", "b"), encoding="utf-8")  # `cat a.mbox b.mbox`
    oracle = len(mailbox.mbox(str(path)))
    assert oracle == 600
    assert sum(1 for _ in messages(str(path))) == oracle
    # a body line that only starts with "From " (no date after it) stays in its message
    path.write_text(
        "From a@x Thu Nov 12 10:00:00 2026\nSubject: s\n\nhello\nFrom here on, no.\n",
        encoding="utf-8",
    )
    assert sum(1 for _ in messages(str(path))) == 1


# -- 5. a state database is created only where no file exists --------------------------


def test_5_an_empty_state_file_is_refused_with_exit_2_and_left_alone(office: Practice) -> None:
    office.state.parent.mkdir(parents=True)
    office.state.write_bytes(b"")
    for command in (["run"], ["findings"], ["ack", "abcd", "--reason", "x"]):
        result = clientline(*command, "--config", str(office.config))
        assert result.returncode == 2, (command, result.stderr)
        assert "empty file" in result.stderr and str(office.state) in result.stderr
    assert office.state.read_bytes() == b""


def test_5_a_damaged_page_is_a_clear_error_with_exit_2(office: Practice) -> None:
    office.rewrite_config(
        sources=[{"type": "mbox", "path": "mail/inbox.mbox", "name": "inbox"}],
        state="state/state.db",
    )
    office.add_mail(*(message(f"x{n}@acme.example", *MIXED) for n in range(300)))
    assert clientline("run", "--config", str(office.config)).returncode == 1
    with sqlite3.connect(office.state) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    data = bytearray(office.state.read_bytes())
    for page in range(2, pages):  # every page but the header's: the tables' contents
        data[page * size - 200 : page * size - 100] = b"\xff" * 100
    office.state.write_bytes(bytes(data))
    office.add_mail(message("late@acme.example", *MIXED))
    for command in (["run"], ["findings"]):
        result = clientline(*command, "--config", str(office.config))
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert str(office.state) in result.stderr and ".broken" in result.stderr


def test_5_a_new_database_never_leaves_a_half_made_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.db"
    with Store(str(path)):
        pass
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.startswith("state.db")) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- 6. file names that are not UTF-8, or hold a newline --------------------------------


def test_6_a_maildir_file_name_that_is_not_utf8_is_read_and_stored(office: Practice) -> None:
    name = os.fsdecode(b"1763800002.M3P4.caf\xe9:2,S")
    (office.maildir / "cur" / name).write_text(
        message("odd@acme.example", *MIXED), encoding="utf-8"
    )
    report = {r.name: r for r in worker.run_cycle(office.prepare(), now=NOW).sources}
    assert not report["archive"].error and report["archive"].new == 1
    again = {r.name: r for r in worker.run_cycle(office.prepare(), now=later(HOUR)).sources}
    assert again["archive"].units_skipped == 1 and not again["archive"].error
    lint = clientline("lint", str(office.maildir), "--config", str(office.config))
    assert lint.returncode == 1 and "caf\\xe9" in lint.stdout


def test_6_a_newline_in_a_file_name_does_not_split_a_line_of_output(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    folder = office.folder / "mail-in"
    folder.mkdir()
    (folder / "two\nlines.eml").write_text(message("nl@acme.example", *MIXED), encoding="utf-8")
    result = run_cli("lint", str(folder), "--config", str(office.config))
    assert result.exit_code == 1
    finding_lines = [line for line in result.output.splitlines() if "  CL102  " in line]
    assert len(finding_lines) == 1 and "mail-in/two\\nlines.eml:1" in finding_lines[0]


# -- 16. a read-only state is a clear error ---------------------------------------------


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the mode says")
def test_16_a_read_only_state_is_exit_2_as_a_normal_user(office: Practice) -> None:
    worker.run_cycle(office.prepare(), now=NOW)
    os.chmod(office.state, 0o400)
    result = clientline("run", "--config", str(office.config))
    assert result.returncode == 2 and "read-only" in result.stderr


def test_16_a_read_only_state_is_refused_with_the_fix(
    office: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker.run_cycle(office.prepare(), now=NOW)
    real_access = os.access

    def access(path: Any, mode: int, **kwargs: Any) -> bool:  # as a normal user sees 0400
        if mode == os.W_OK and Path(path) in (office.state, office.state.parent):
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(StoreError, match=r"read-only.*chmod u\+w"):
        Store(str(office.state))


def test_16_doctor_says_when_the_state_cannot_be_written(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    office.state.parent.mkdir(parents=True)
    office.state.write_bytes(b"")
    result = run_cli("doctor", "--config", str(office.config))
    assert result.exit_code == 2
    assert any(
        line.startswith("FIX state") and "empty" in line for line in result.output.splitlines()
    )
