"""The worker (``clientline run``): incremental scans, failing sources, dry runs, the lock,
exactly-once digests over a real SMTP server on 127.0.0.1, the review commands,
configuration errors, and a run killed with SIGKILL in the middle of a scan.

Each test builds its own practice folder (tests/worker_helpers.py) and drives the worker
either in this process (``worker.run_cycle(setup, now=...)``, so the digest's day is
chosen by the test) or through the command line, in this process or as a child process.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from linter import worker
from linter.model import fingerprint
from linter.store import Store
from tests.worker_helpers import (
    CLIENTLINE,
    DANA,
    LEE,
    MIXED,
    NOW,
    PLAIN,
    SAM,
    SOCIAL,
    Practice,
    Recording,
    clientline,
    config_transport,
    file_digest,
    line_of,
    mbox_text,
    message,
    parts,
    readonly,
    smtp_digest,
    write_practice,
)

if TYPE_CHECKING:
    from tests.fakes.smtp import SmtpServer, StartServer, TlsFiles

pytest_plugins = ["tests.fakes.smtp"]

HOUR = 3600
DAY = 24 * HOUR
SOURCES = ("inbox", "calendar", "archive")
FLAGGED = "1763800000.M1P2.host:2,S"  # a Maildir file name with its info (read: S)
OTHER = "1763800001.M2P3.host:2,S"

M1 = fingerprint("CL102", "<m1@acme.example>")  # MIXED in the mbox
D1 = fingerprint("CL102", "<d1@birchwood.example>")  # MIXED in the Maildir
EV = fingerprint("CL101", "drinks-review@studio.example")  # the calendar's drinks review


def later(seconds: int) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


def reports(report: worker.CycleReport) -> dict[str, worker.SourceReport]:
    return {source.name: source for source in report.sources}


@pytest.fixture
def office(tmp_path: Path) -> Practice:
    """Three sources: an mbox (one firing message of three), the calendar (one firing
    event of two) and a Maildir (one firing message of two)."""
    return write_practice(
        tmp_path / "practice",
        mail=[
            message("m1@acme.example", *MIXED),
            message("m2@acme.example", *SOCIAL),
            message("m3@acme.example", *PLAIN),
        ],
        maildir={
            FLAGGED: message("d1@birchwood.example", *MIXED, sender=LEE),
            OTHER: message("d2@acme.example", *SOCIAL),
        },
    )


def open_rules(practice: Practice) -> dict[str, str]:
    """fingerprint -> rule of each open finding about an item of the configured sources."""
    with readonly(practice.state) as db:
        rows = db.execute(
            "SELECT fingerprint, rule FROM findings WHERE status = 'open' AND source != 'contacts'"
        ).fetchall()
    return {str(fp): str(rule) for fp, rule in rows}


# -- incremental scans ---------------------------------------------------------------


def test_the_first_run_lints_everything_and_an_unchanged_run_reads_nothing(
    office: Practice,
) -> None:
    setup = office.prepare()
    first = reports(worker.run_cycle(setup, now=NOW))
    counts = {name: (r.units_read, r.items, r.linted, r.new) for name, r in first.items()}
    assert counts == {
        "inbox": (1, 3, 3, 1),
        "calendar": (1, 2, 2, 1),
        "archive": (2, 2, 2, 1),
        "contacts": (1, 6, 6, 1),  # CL120: Jonas is a friend with no understandings
    }
    assert open_rules(office) == {M1: "CL102", EV: "CL101", D1: "CL102"}
    before = office.rows()

    second = reports(worker.run_cycle(setup, now=later(HOUR)))
    for name in SOURCES:
        assert second[name].units_read == 0, name
        assert second[name].units_skipped == first[name].units_read, name
        assert (second[name].items, second[name].linted, second[name].new) == (0, 0, 0)
        assert second[name].resolved == 0 and not second[name].error
    assert second["contacts"].linted == 0  # the directory is re-checked, by hash
    assert office.rows() == before


def test_a_new_message_rereads_only_its_unit_and_lints_only_new_items(office: Practice) -> None:
    setup = office.prepare()
    worker.run_cycle(setup, now=NOW)
    office.add_mail(
        message("m4@acme.example", "Saturday", MIXED[1] + " And the fees."),
        message("m5@acme.example", *SOCIAL),  # the same text as m2, another message
    )
    again = reports(worker.run_cycle(setup, now=later(HOUR)))
    inbox = again["inbox"]
    assert (inbox.units_read, inbox.units_skipped) == (1, 0)
    # the mbox only grew: read from its last known message on (m3, m4, m5), not whole
    assert inbox.appended
    assert (inbox.items, inbox.linted, inbox.new, inbox.resolved) == (3, 2, 1, 0)
    for name in ("calendar", "archive"):
        assert again[name].units_read == 0 and again[name].linted == 0
    assert open_rules(office) == {
        M1: "CL102",
        EV: "CL101",
        D1: "CL102",
        fingerprint("CL102", "<m4@acme.example>"): "CL102",
    }


def test_an_edited_message_that_no_longer_fires_resolves_its_finding(office: Practice) -> None:
    setup = office.prepare()
    worker.run_cycle(setup, now=NOW)
    # the same Message-ID, now only social: the sender took the contract out
    office.mbox.write_text(
        mbox_text(
            [
                message("m1@acme.example", "Friday?", "Drinks Friday after work? My treat."),
                message("m2@acme.example", *SOCIAL),
                message("m3@acme.example", *PLAIN),
            ]
        ),
        encoding="utf-8",
    )
    inbox = reports(worker.run_cycle(setup, now=later(HOUR)))["inbox"]
    assert (inbox.items, inbox.linted, inbox.new, inbox.resolved) == (3, 1, 0, 1)
    status, reason = office.findings()[M1]
    assert status == "resolved" and "the item changed" in reason
    with office.open_store() as store:
        assert store.history(M1)[-1][1:] == ("resolved", reason)
    # and put back, it is open again: the same finding, not a new one
    office.mbox.write_text(mbox_text([message("m1@acme.example", *MIXED)]), encoding="utf-8")
    inbox = reports(worker.run_cycle(setup, now=later(2 * HOUR)))["inbox"]
    assert (inbox.new, inbox.resolved) == (0, 0)
    assert office.findings()[M1][0] == "open"


def test_an_mbox_changed_other_than_by_appending_is_read_whole(office: Practice) -> None:
    setup = office.prepare()
    worker.run_cycle(setup, now=NOW)
    # a mail program compacts the file (m2 deleted) and a new message arrives: the file
    # is larger than before, but it did not merely grow
    office.mbox.write_text(
        mbox_text(
            [
                message("m1@acme.example", *MIXED),
                message("m3@acme.example", *PLAIN),
                message("m4@acme.example", "Saturday", MIXED[1] + " And the fees, and more."),
                message("m6@acme.example", *PLAIN),
            ]
        ),
        encoding="utf-8",
    )
    inbox = reports(worker.run_cycle(setup, now=later(HOUR)))["inbox"]
    assert not inbox.appended
    assert (inbox.items, inbox.linted, inbox.new) == (4, 2, 1)
    assert office.findings()[M1][0] == "open"
    # the last message edited in place, then more appended: read whole as well
    text = office.mbox.read_text(encoding="utf-8")
    office.mbox.write_text(text.replace("fees, and more", "fees, and less"), encoding="utf-8")
    office.add_mail(message("m7@acme.example", *SOCIAL))
    inbox = reports(worker.run_cycle(setup, now=later(2 * HOUR)))["inbox"]
    assert not inbox.appended
    assert (inbox.items, inbox.linted) == (5, 2)
    # and a plain append after that is read from the last message on again
    office.add_mail(message("m8@acme.example", *PLAIN))
    inbox = reports(worker.run_cycle(setup, now=later(3 * HOUR)))["inbox"]
    assert inbox.appended
    assert (inbox.items, inbox.linted, inbox.resolved) == (2, 1, 0)
    assert office.findings()[M1][0] == "open"


def test_deleting_a_maildir_message_resolves_its_findings(office: Practice) -> None:
    setup = office.prepare()
    worker.run_cycle(setup, now=NOW)
    (office.maildir / "cur" / FLAGGED).unlink()
    archive = reports(worker.run_cycle(setup, now=later(HOUR)))["archive"]
    assert (archive.units_read, archive.units_skipped, archive.resolved) == (0, 1, 1)
    status, reason = office.findings()[D1]
    assert status == "resolved" and "deleted" in reason
    with readonly(office.state) as db:
        ids = {r[0] for r in db.execute("SELECT id FROM items WHERE source = 'archive'")}
    assert ids == {"<d2@acme.example>"}
    # the other sources' findings are untouched
    assert office.findings()[M1][0] == office.findings()[EV][0] == "open"


def test_deleting_a_message_from_the_mbox_resolves_its_finding(office: Practice) -> None:
    setup = office.prepare()
    worker.run_cycle(setup, now=NOW)
    office.mbox.write_text(
        mbox_text([message("m2@acme.example", *SOCIAL), message("m3@acme.example", *PLAIN)]),
        encoding="utf-8",
    )
    inbox = reports(worker.run_cycle(setup, now=later(HOUR)))["inbox"]
    assert (inbox.linted, inbox.resolved) == (0, 1)
    status, reason = office.findings()[M1]
    assert status == "resolved" and "deleted" in reason


def test_a_maildir_flag_change_or_a_move_from_new_to_cur_resolves_nothing(
    office: Practice,
) -> None:
    fresh = office.put_maildir("1763800002.M3P4.host", message("d3@acme.example", *MIXED), "new")
    setup = office.prepare()
    worker.run_cycle(setup, now=NOW)
    before = office.findings()
    assert before[fingerprint("CL102", "<d3@acme.example>")][0] == "open"
    # the user replied to one message (S -> RS) and the mail client picked up the new one
    (office.maildir / "cur" / FLAGGED).rename(office.maildir / "cur" / (FLAGGED[:-1] + "RS"))
    fresh.rename(office.maildir / "cur" / (fresh.name + ":2,S"))
    archive = reports(worker.run_cycle(setup, now=later(HOUR)))["archive"]
    assert archive.resolved == 0 and archive.new == 0 and not archive.error
    assert office.findings() == before
    with readonly(office.state) as db:
        units = {r[0] for r in db.execute("SELECT unit FROM items WHERE source = 'archive'")}
    assert {Path(unit).name for unit in units} == {
        FLAGGED[:-1] + "RS",
        OTHER,
        "1763800002.M3P4.host:2,S",
    }
    # and the run after that reads nothing again
    archive = reports(worker.run_cycle(setup, now=later(2 * HOUR)))["archive"]
    assert (archive.units_read, archive.units_skipped) == (0, 3)


def test_the_cursor_written_per_maildir_message_does_not_grow_with_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 300
    practice = write_practice(
        tmp_path,
        maildir={
            f"17638{n:05d}.M{n}P1.host:2,S": message(f"n{n}@news.example", "News", "Hello.")
            for n in range(count)
        },
    )
    written: list[int] = []
    original = Store.set_cursor

    def measure(self: Store, source: str, value: str) -> None:
        if source == "archive":
            written.append(len(value))
        original(self, source, value)

    monkeypatch.setattr(Store, "set_cursor", measure)
    archive = reports(worker.run_cycle(practice.prepare(), now=NOW))["archive"]
    assert archive.units_read == count
    # a few hundred bytes per message is linear; the whole folder's cursor per message
    # is quadratic (here about 300 x 300 x 110 bytes, ~10 MB, for 300 small files)
    assert sum(written) < 1000 * count, f"{sum(written)} bytes of cursor for {count} messages"


def test_stored_evidence_is_text_not_participants_addresses(office: Practice) -> None:
    worker.run_cycle(office.prepare(), now=NOW)
    with office.open_store() as store:
        for fp in (M1, D1, EV):
            row = store.finding(fp)
            assert row is not None and row.evidence
            addresses = [s for s in row.evidence if s in (DANA, LEE, SAM)]
            assert addresses == [], f"{row.rule} on {row.item_id} keeps {addresses}"


# -- failing sources, dry runs -------------------------------------------------------


def test_a_source_that_vanished_is_reported_and_the_others_still_run(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    office.rewrite_config(digest=file_digest(at="00:00"))
    first = run_cli("run", "--config", str(office.config))
    assert first.exit_code == 1, first.output  # new findings
    shutil.rmtree(office.maildir)  # an unmounted disk, a renamed folder
    office.add_mail(message("m4@acme.example", "Saturday", MIXED[1]))
    second = run_cli("run", "--config", str(office.config))
    assert second.exit_code == 1, second.output  # the exit status follows the findings
    lines = {line.split(":", 1)[0]: line for line in second.output.splitlines()}
    assert "FAILED" in lines["archive"] and "Maildir" in lines["archive"]
    assert "new 1" in lines["inbox"] and "FAILED" not in lines["inbox"]
    assert "FAILED" not in lines["calendar"]
    # a source that cannot be read is not a source whose messages were all deleted
    assert office.findings()[D1][0] == "open"
    third = run_cli("run", "--config", str(office.config))
    assert third.exit_code == 0 and "FAILED" in third.output
    # the same in the report the daemon and `run` share
    report = reports(worker.run_cycle(office.prepare(), now=later(DAY)))
    assert report["archive"].error and not report["inbox"].error
    assert report["inbox"].units_skipped == 1


def test_an_unknown_source_type_stops_the_run_with_file_and_line(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    office.rewrite_config(
        sources=[
            {"type": "mbox", "path": "mail/inbox.mbox", "name": "inbox"},
            {"type": "pigeon", "path": "loft", "name": "loft"},
        ]
    )
    result = run_cli("run", "--config", str(office.config))
    assert result.exit_code == 2
    line = line_of(office.config, "type: pigeon")
    assert f"{office.config}:{line}: unknown source type `pigeon`" in result.output
    assert not office.state.exists()  # nothing was scanned


def test_a_dry_run_changes_nothing_and_sends_nothing(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    setup = office.prepare()
    worker.run_cycle(setup, now=NOW)
    office.digest_html.unlink()
    office.digest_html.with_suffix(".txt").unlink()
    office.add_mail(message("m4@acme.example", "Saturday", MIXED[1]))
    (office.maildir / "cur" / FLAGGED).unlink()

    def everything() -> list[Any]:
        with readonly(office.state) as db:
            return [
                db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("findings", "items", "cursors", "history", "digests")
            ]

    before, before_bytes = everything(), office.state.read_bytes()
    result = run_cli("run", "--dry-run", "--config", str(office.config))
    assert result.exit_code == 1, result.output
    assert "inbox: 1 read" in result.output and "would add 1" in result.output
    assert "resolved 1" in result.output  # the deleted Maildir message, were it real
    # a day later a digest would be due: a dry run says so and sends nothing
    dry = worker.run_cycle(setup, now=later(DAY), dry_run=True)
    assert dry.dry_run and dry.digest.startswith("would send a digest with 1 new")
    assert everything() == before and office.state.read_bytes() == before_bytes
    assert not office.digest_html.exists()
    # the real run then does what the dry run announced
    real = reports(worker.run_cycle(setup, now=later(DAY)))
    assert (real["inbox"].new, real["archive"].resolved) == (1, 1)
    assert office.digest_html.exists()


def test_a_dry_run_on_a_new_practice_creates_no_database(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    result = run_cli("run", "--dry-run", "--config", str(office.config))
    assert result.exit_code == 1 and "would add 1" in result.output, result.output
    assert not office.state.exists()
    assert not office.digest_html.exists()


# -- the lock ------------------------------------------------------------------------


def test_a_run_while_another_holds_the_lock_scans_nothing_and_exits_0(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    worker.run_cycle(office.prepare(), now=NOW)
    office.add_mail(message("m4@acme.example", "Saturday", MIXED[1]))
    before = office.state.read_bytes(), office.rows()
    with worker.locked(str(office.state)):
        result = run_cli("run", "--config", str(office.config))
        report = worker.run_cycle(office.prepare(), now=later(DAY))
    assert result.exit_code == 0
    assert "another clientline run holds the lock" in result.output
    assert f"pid {os.getpid()}" in result.output  # who holds it
    assert report.locked and report.sources == []
    assert (office.state.read_bytes(), office.rows()) == before
    # once the lock is free, the next run does the work
    after = run_cli("run", "--config", str(office.config))
    assert after.exit_code == 1 and "new 1" in after.output


HOLD_LOCK = """
import sys
from linter import worker
with worker.locked(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_two_processes_never_scan_at_once(office: Practice) -> None:
    holder = subprocess.Popen(
        [CLIENTLINE[0], "-c", HOLD_LOCK, str(office.state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = clientline("run", "--config", str(office.config))
        assert busy.returncode == 0, busy.stderr
        assert "another clientline run holds the lock" in busy.stdout
        assert f"pid {holder.pid}" in busy.stdout
        assert not office.state.exists()
    finally:
        holder.communicate("", timeout=10)  # end of input: the holder lets go and exits
    assert holder.returncode == 0


# -- the digest: real SMTP, exactly once ----------------------------------------------


def ack_count(body: str, fp: str) -> int:
    return body.count(f"clientline ack {fp} ")


def test_the_digest_is_delivered_exactly_once_over_real_smtp(
    office: Practice,
    start_smtp_server: StartServer,
    tls_files: TlsFiles,
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start_smtp_server(starttls=True, users={"sam": "s3cret"})
    monkeypatch.setenv("CLIENTLINE_TEST_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))  # trust the test certificate
    auth = {
        "security": "starttls",
        "username": "sam",
        "password_env": "CLIENTLINE_TEST_SMTP_PASSWORD",
    }
    recipients = [SAM, "ops@studio.example"]
    office.rewrite_config(digest=smtp_digest(closed_port, smtp=auth, to=recipients))

    # 1. the SMTP server is down: the digest is claimed, not delivered, kept pending
    setup = office.prepare()
    first_try = Recording(config_transport(setup))
    report = worker.run_cycle(setup, now=NOW, transport=first_try)
    assert "digest 1 not delivered" in report.digest and "cannot connect" in report.digest
    assert server.received == [] and len(first_try.sent) == 1
    with office.open_store() as store:
        pending = store.pending_digest()
        assert pending is not None and (pending.id, pending.attempts) == (1, 1)
        assert f"127.0.0.1:{closed_port}" in pending.error
        claimed = {f.fingerprint for f in store.findings("open") if f.digest == 1}
    assert {M1, EV, D1} <= claimed and len(claimed) == 4  # and CL120 from the directory

    # 2. the server is up an hour later: exactly one delivery, the same digest
    office.rewrite_config(digest=smtp_digest(server.port, smtp=auth, to=recipients))
    setup = office.prepare()
    report = worker.run_cycle(setup, now=later(HOUR))
    assert report.digest.startswith("digest 1 sent"), report.digest
    [got] = server.received
    assert got.tls and got.login == "sam"
    assert got.mail_from == "clientline@studio.example" and got.rcpt_tos == recipients
    mail = got.message
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert mail["From"] == "clientline@studio.example"
    assert mail["To"] == ", ".join(recipients)
    assert mail["Subject"] == "clientline: 4 new, 0 open findings (2026-11-23)"
    assert mail["X-Clientline-Digest"] == "1"
    assert mail["Message-ID"] == first_try.sent[0]["Message-ID"]  # a retry keeps its id
    text, html = parts(mail)
    for fp in claimed:
        assert ack_count(text, fp) == 1 and ack_count(html, fp) == 1, fp
    assert "NEW SINCE LAST DIGEST (4)" in text and "Still open (0)" in html
    assert "Q3 contract review over drinks" in text and "Q3 contract review over drinks" in html
    with office.open_store() as store:
        sent = store.digest(1)
        assert sent is not None and sent.sent and sent.attempts == 2 and sent.error == ""

    # 3. later the same day: nothing is due, nothing is sent
    report = worker.run_cycle(setup, now=later(3 * HOUR))
    assert "not due" in report.digest and len(server.received) == 1

    # 4. the next morning, one new finding: new once, the others under "still open"
    office.add_mail(message("m4@acme.example", "Saturday", MIXED[1]))
    m4 = fingerprint("CL102", "<m4@acme.example>")
    report = worker.run_cycle(setup, now=later(DAY))
    assert report.digest.startswith("digest 2 sent"), report.digest
    assert len(server.received) == 2
    second = server.received[1].message
    assert second["X-Clientline-Digest"] == "2"
    assert second["Subject"] == "clientline: 1 new, 4 open findings (2026-11-24)"
    assert second["Message-ID"] != mail["Message-ID"]
    text, html = parts(second)
    new_at, open_at = text.index("NEW SINCE LAST DIGEST (1)"), text.index("STILL OPEN (4)")
    assert new_at < text.index(f"ack {m4} ") < open_at
    for fp in claimed:
        assert ack_count(text, fp) == 1 and text.index(f"ack {fp} ") > open_at, fp
    assert ack_count(text, m4) == 1 and ack_count(html, m4) == 1

    # 5. the day after, nothing new and send_when_empty is false: no delivery at all
    report = worker.run_cycle(setup, now=later(2 * DAY))
    assert report.digest == "nothing new: digest skipped (send_when_empty is false)"
    assert len(server.received) == 2
    with office.open_store() as store:
        skipped = store.digest(3)
        assert skipped is not None and skipped.skipped and skipped.sent is None
        assert store.pending_digest() is None
        assert {f.digest for f in store.findings("open")} == {1, 2}


class TakenThenLost:
    """Hands the message to a real transport, then fails as if the connection dropped
    before the server's reply arrived: the server has it, the worker cannot know."""

    def __init__(self, inner: Any):
        self.inner = inner

    def send(self, message: EmailMessage) -> None:
        self.inner.send(message)
        raise OSError("connection reset after DATA")


def test_a_digest_sent_again_after_a_lost_reply_keeps_its_message_id(
    office: Practice, smtp_server: SmtpServer
) -> None:
    office.rewrite_config(digest=smtp_digest(smtp_server.port))
    setup = office.prepare()
    report = worker.run_cycle(setup, now=NOW, transport=TakenThenLost(config_transport(setup)))
    assert "not delivered" in report.digest and len(smtp_server.received) == 1
    report = worker.run_cycle(setup, now=later(HOUR))
    assert report.digest.startswith("digest 1 sent")
    first, again = (r.message for r in smtp_server.received)
    assert again["Message-ID"] == first["Message-ID"]  # mail clients show it once
    assert again["X-Clientline-Digest"] == first["X-Clientline-Digest"] == "1"
    assert parts(again)[0].count("clientline ack ") == parts(first)[0].count("clientline ack ")
    worker.run_cycle(setup, now=later(2 * HOUR))
    assert len(smtp_server.received) == 2


def test_a_day_with_an_undelivered_digest_gets_no_second_one(
    office: Practice, smtp_server: SmtpServer, closed_port: int
) -> None:
    office.rewrite_config(digest=smtp_digest(closed_port))
    down = office.prepare()
    assert "not delivered" in worker.run_cycle(down, now=NOW).digest
    office.add_mail(message("m4@acme.example", "Saturday", MIXED[1]))
    assert "not delivered" in worker.run_cycle(down, now=later(HOUR)).digest
    office.rewrite_config(digest=smtp_digest(smtp_server.port))
    up = office.prepare()
    worker.run_cycle(up, now=later(2 * HOUR))
    worker.run_cycle(up, now=later(3 * HOUR))
    assert len(smtp_server.received) == 1, [r.message["Subject"] for r in smtp_server.received]
    # the digest claimed at 09:00 is sent as it was then; what was found later waits for
    # the next day's, so that one Message-ID never carries two contents
    m4 = fingerprint("CL102", "<m4@acme.example>")
    assert ack_count(parts(smtp_server.received[0].message)[0], m4) == 0
    worker.run_cycle(up, now=later(DAY))
    assert len(smtp_server.received) == 2
    assert ack_count(parts(smtp_server.received[1].message)[0], m4) == 1


def test_a_missing_password_variable_is_a_configuration_error(
    office: Practice, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLIENTLINE_TEST_UNSET_PASSWORD", raising=False)
    office.rewrite_config(
        digest=smtp_digest(
            25,
            at="00:00",
            smtp={"username": "sam", "password_env": "CLIENTLINE_TEST_UNSET_PASSWORD"},
        )
    )
    result = run_cli("run", "--config", str(office.config))
    assert result.exit_code == 2  # before anything is scanned or claimed
    assert "CLIENTLINE_TEST_UNSET_PASSWORD" in result.output
    assert f"{office.config}:{line_of(office.config, 'password_env')}:" in result.output
    assert not office.state.exists()
    monkeypatch.setenv("CLIENTLINE_TEST_UNSET_PASSWORD", "secret")
    assert run_cli("run", "--config", str(office.config)).exit_code == 1


# -- review: preview, ack, findings --------------------------------------------------


def test_preview_ack_and_findings(office: Practice, run_cli: Callable[..., Any]) -> None:
    office.rewrite_config(digest=file_digest(send_when_empty=True))
    setup = office.prepare()
    early = worker.run_cycle(setup, now=NOW.replace(hour=6))  # before 07:30: not due
    assert "not due" in early.digest
    config = str(office.config)

    preview = office.folder / "preview" / "next.html"
    result = run_cli("digest", "--config", config, "--preview", str(preview))
    assert result.exit_code == 0, result.output
    text = preview.with_suffix(".txt").read_text(encoding="utf-8")
    assert preview.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    for fp in (M1, EV, D1):
        assert ack_count(text, fp) == 1
    assert not office.digest_html.exists()  # nothing sent...
    with office.open_store() as store:  # ...and nothing claimed
        assert store.pending_digest() is None and store.last_digest_day() is None
        assert {f.digest for f in store.findings()} == {None}

    result = run_cli(
        "ack", M1[:7], "--reason", "Drinks only; the contract went by email", "--config", config
    )
    assert result.exit_code == 0, result.output
    assert f"acknowledged {M1}" in result.output
    unknown = run_cli("ack", "fffffffffffffff0", "--reason", "x", "--config", config)
    assert unknown.exit_code == 2 and "no finding" in unknown.output

    listed = run_cli("findings", "--config", config, "--status", "acknowledged")
    assert listed.exit_code == 0
    assert M1 in listed.output and "1 findings" in listed.output
    rows = json.loads(
        run_cli(
            "findings", "--config", config, "--status", "acknowledged", "--format", "json"
        ).output
    )
    assert [(r["fingerprint"], r["status"], r["reason"]) for r in rows] == [
        (M1, "acknowledged", "Drinks only; the contract went by email")
    ]
    assert set(rows[0]) >= {"rule", "client", "evidence", "first_seen", "item_title"}
    jsonl = run_cli("findings", "--config", config, "--status", "open", "--format", "jsonl")
    open_fps = {json.loads(line)["fingerprint"] for line in jsonl.output.splitlines()}
    assert M1 not in open_fps and {EV, D1} <= open_fps
    by_client = json.loads(
        run_cli("findings", "--config", config, "--client", "birchwood", "--format", "json").output
    )
    assert [r["fingerprint"] for r in by_client] == [D1]
    with office.open_store() as store:
        assert store.history(M1)[-1][1:] == (
            "acknowledged",
            "Drinks only; the contract went by email",
        )

    # the acknowledged finding leaves the preview and the digests, new or still open
    run_cli("digest", "--config", config, "--preview", str(preview))
    assert ack_count(preview.with_suffix(".txt").read_text(encoding="utf-8"), M1) == 0
    worker.run_cycle(setup, now=NOW)
    for day in (0, 1):
        if day:
            worker.run_cycle(setup, now=later(DAY))
        sent_text = office.digest_html.with_suffix(".txt").read_text(encoding="utf-8")
        sent_html = office.digest_html.read_text(encoding="utf-8")
        assert ack_count(sent_text, M1) == 0 and ack_count(sent_html, M1) == 0
        assert ack_count(sent_text, EV) == 1 and ack_count(sent_text, D1) == 1
    assert "STILL OPEN (3)" in sent_text and "NEW SINCE LAST DIGEST (0)" in sent_text


# -- configuration errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "needle", "error"),
    [
        ({"colour": "blue"}, "colour:", "colour"),
        (
            {"digest": smtp_digest(25, smtp={"username": "sam", "password": "hunter2"})},
            "password: hunter2",
            "a password does not belong in clientline.yaml",
        ),
        ({"schedule": {"scan_every": "soon"}}, "scan_every: soon", "`soon` is not a duration"),
        ({"retention_days": 0}, "retention_days: 0", "retention_days"),
    ],
    ids=["unknown-key", "inline-password", "bad-duration", "bad-retention"],
)
def test_configuration_errors_exit_2_with_file_and_line(
    office: Practice, run_cli: Callable[..., Any], change: dict[str, Any], needle: str, error: str
) -> None:
    office.rewrite_config(**change)
    result = run_cli("run", "--config", str(office.config))
    assert result.exit_code == 2
    assert f"{office.config}:{line_of(office.config, needle)}:" in result.output
    assert error in result.output
    assert "hunter2" not in result.output  # a secret is never echoed back
    assert not office.state.exists()


# -- SIGKILL in the middle of a run ---------------------------------------------------

BULK_MBOX, BULK_MAILDIR = 2800, 200  # 3,000 messages; every other one fires CL102
CLIENTS = (DANA, LEE, "jonas.mueller@elbe-logistik.example")


def bulk_message(n: int) -> str:
    if n % 2 == 0:
        body = f"{MIXED[1]} Ref {n}."
        return message(f"bulk{n}@clients.example", f"Friday? ({n})", body, sender=CLIENTS[n % 3])
    body = "The garden centre opens at nine on Saturday."
    return message(f"bulk{n}@news.example", f"Garden news {n}", body, "news@garden.example")


def bulk_practice(folder: Path, digest: dict[str, Any]) -> Practice:
    return write_practice(
        folder,
        mail=[bulk_message(n) for n in range(BULK_MBOX)],
        maildir={
            f"17638{n:05d}.M{n}P1.host:2,S": bulk_message(n)
            for n in range(BULK_MBOX, BULK_MBOX + BULK_MAILDIR)
        },
        digest=digest,
    )


def query(path: Path, sql: str) -> int:
    """One number from the state database, or -1 while it cannot be read yet."""
    if not path.exists():
        return -1
    try:
        with readonly(path) as db:
            return int(db.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return -1


def run_and_kill(practice: Practice, ready: Callable[[], bool], limit: float = 60) -> bool:
    """Start ``clientline run``; SIGKILL it as soon as ``ready()``. True when it was still
    running at that moment, False when it finished first (then nothing is killed)."""
    process = subprocess.Popen(
        [*CLIENTLINE, "run", "--config", str(practice.config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + limit
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if ready():
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                return process.returncode == -signal.SIGKILL
            time.sleep(0.005)
        assert process.poll() is not None, "clientline run did not finish in time"
        return False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:  # what the next run does first: recover the WAL
        result = str(db.execute("PRAGMA quick_check").fetchone()[0])
    db.close()
    return result


def test_a_run_killed_at_any_moment_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    killed = bulk_practice(tmp_path / "killed", smtp_digest(smtp_server.port, at="00:00"))
    clean = bulk_practice(tmp_path / "clean", file_digest(at="00:00"))
    # the reference: the same practice in one uninterrupted run, alongside
    reference = subprocess.Popen(
        [*CLIENTLINE, "run", "--config", str(clean.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wal = Path(f"{killed.state}-wal")
        started: list[float] = []

        def mid_mbox() -> bool:
            # the WAL holds the migrations once it is past its header: the scan is on
            if not started and wal.exists() and wal.stat().st_size > 32:
                started.append(time.monotonic())
            return bool(started) and time.monotonic() - started[0] > 0.25

        inbox_items = "SELECT count(*) FROM items WHERE source = 'inbox'"
        kills = [
            # 1. in the middle of the mbox, one long transaction
            run_and_kill(killed, mid_mbox),
            # 2. just after the mbox was committed: in the calendar, Maildir or digest
            run_and_kill(killed, lambda: query(killed.state, inbox_items) > 0),
            # 3. once the digest is claimed, before (or while) it is sent
            run_and_kill(killed, lambda: query(killed.state, "SELECT count(*) FROM digests") > 0),
        ]
        assert integrity(killed.state) == "ok"
        final = clientline("run", "--config", str(killed.config))
        assert final.returncode in (0, 1), final.stderr
        _, err = reference.communicate(timeout=120)
        assert reference.returncode == 1, err
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait(timeout=10)

    assert integrity(killed.state) == "ok"
    expected = BULK_MBOX // 2 + BULK_MAILDIR // 2 + 2  # + the calendar's event + CL120
    clean_rows = {(fp, status) for fp, _, status, _ in clean.rows()}
    killed_rows = {(fp, status) for fp, _, status, _ in killed.rows()}
    assert len(clean_rows) == expected
    assert killed_rows == clean_rows
    with readonly(killed.state) as db:
        items = db.execute("SELECT source, count(*) FROM items GROUP BY source").fetchall()
        digests = db.execute("SELECT id, sent, skipped FROM digests").fetchall()
        pointers = db.execute("SELECT DISTINCT digest FROM findings").fetchall()
    with readonly(clean.state) as db:
        assert items == db.execute("SELECT source, count(*) FROM items GROUP BY source").fetchall()
    [(digest_id, sent, skipped)] = digests  # one digest, delivered
    assert sent is not None and not skipped
    assert pointers == [(digest_id,)]  # every finding was new in that one digest

    # the server got that digest: once, or again with the same Message-ID if a kill
    # fell between the server's reply and the store recording it
    assert smtp_server.received, f"kills: {kills}"
    messages = [r.message for r in smtp_server.received]
    assert {m["Message-ID"] for m in messages} == {messages[0]["Message-ID"]}
    assert {m["X-Clientline-Digest"] for m in messages} == {str(digest_id)}
    text = parts(messages[-1])[0]
    assert f"{expected} new, 0 open" in messages[-1]["Subject"]
    for fp, _ in killed_rows:
        assert ack_count(text, fp) == 1, fp
