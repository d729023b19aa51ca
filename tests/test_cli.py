"""The command-line contract: formats, exit codes, errors, and the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import eml

MIXED = eml("Drinks Friday?", "Drinks on Friday? We could settle the invoice then.")
QUIET = eml("Birthday", "Happy birthday Dana! Drinks at ours on Saturday?", message_id="<q@x>")


def write_mail(folder: Path) -> Path:
    mail = folder / "mail"
    mail.mkdir()
    (mail / "mixed.eml").write_text(MIXED)
    (mail / "quiet.eml").write_text(QUIET)
    return mail


def test_text_output_and_exit_codes(run_cli, practice: Path) -> None:
    mail = write_mail(practice)
    config = str(practice / "clientline.yaml")
    result = run_cli("lint", str(mail), "--config", config)
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith(f"{mail / 'mixed.eml'}:1  CL102  warning  'Drinks Friday?' raises")
    assert "CL102  1  business-matter-in-social-message" in result.output
    assert "Found 1 finding in 2 items." in result.output
    assert "\x1b[" not in result.output  # no colour when not a terminal
    assert run_cli("lint", str(mail), "--config", config, "--exit-zero").exit_code == 0
    quiet = run_cli("lint", str(mail), "--config", config, "--min-severity", "error")
    assert quiet.exit_code == 0 and "No findings in 2 items." in quiet.output


def test_jsonl_and_json_fields(run_cli, practice: Path) -> None:
    mail = write_mail(practice)
    config = str(practice / "clientline.yaml")
    result = run_cli("lint", str(mail), "--config", config, "--format", "jsonl")
    finding = json.loads(result.stdout.splitlines()[0])
    assert {
        "id",
        "rule",
        "name",
        "severity",
        "message",
        "item",
        "contacts",
        "evidence",
        "principles",
    } <= set(finding)
    assert finding["item"]["kind"] == "message" and finding["item"]["date"].startswith("2026-03-12")
    assert finding["contacts"] == ["Dana Ng (Acme Ltd)"]
    words = {e["words"].lower() for e in finding["evidence"]}
    assert {"drinks", "settle the"} <= words, words
    assert finding["principles"] == ["P1", "P2"]
    document = json.loads(run_cli("lint", str(mail), "--config", config, "--format", "json").stdout)
    assert document["summary"] == {
        "items": 2,
        "findings": 1,
        "problems": 0,
        "by_rule": {"CL102": 1},
        "suppressed": 0,
        "baselined": 0,
        "stale_baseline": [],
    }


def test_bad_input_is_reported_and_the_run_goes_on(run_cli, practice: Path) -> None:
    mail = write_mail(practice)
    (mail / "broken.ics").write_text(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:nope\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    result = run_cli(
        "lint",
        str(mail),
        str(practice / "missing.mbox"),
        "--config",
        str(practice / "clientline.yaml"),
    )
    assert result.exit_code == 1  # from the findings, not the problems
    assert f"{mail / 'broken.ics'}:2: error: event 'x' skipped" in result.stderr
    assert "missing.mbox: error: no such file or folder" in result.stderr
    assert "(2 input problems, see above)" in result.stdout


def test_empty_input_is_clean(run_cli, practice: Path) -> None:
    empty = practice / "empty"
    empty.mkdir()
    result = run_cli("lint", str(empty), "--config", str(practice / "clientline.yaml"))
    assert result.exit_code == 0 and "No findings in 0 items." in result.output


def test_configuration_errors_exit_2_with_file_line_col(run_cli, practice: Path) -> None:
    (practice / "contacts.yaml").write_text("clients:\n  - {name: A, emails: [a@x], staus: x}\n")
    result = run_cli("lint", str(practice), "--config", str(practice / "clientline.yaml"))
    assert result.exit_code == 2
    assert "contacts.yaml:2:" in result.stderr and "did you mean `status`" in result.stderr
    rules = practice / "rules"
    rules.mkdir()
    (rules / "XX100-bad.yaml").write_text("id: XX100\nname: bad\n")
    result = run_cli(
        "lint", str(practice), "--contacts", str(practice / "none.yaml"), "--rules", str(rules)
    )
    assert result.exit_code == 2
    assert "none.yaml: no such file" in result.stderr
    assert "XX100-bad.yaml:1:1: missing required key" in result.stderr  # every error at once
    assert run_cli("lint", "--format", "xml", str(practice)).exit_code == 2


def test_rules_commands(run_cli) -> None:
    listing = run_cli("rules", "list")
    assert listing.exit_code == 0 and "CL101" in listing.output
    shown = run_cli("rules", "show", "cl103")
    assert "P4:" in shown.output and "Instead:" in shown.output
    tested = run_cli("rules", "test")
    assert tested.exit_code == 0 and " 0 failed" in tested.output
    assert run_cli("rules", "validate").exit_code == 0


def test_console_script_runs(practice: Path) -> None:
    script = Path(sys.executable).parent / "clientline"
    mail = write_mail(practice)
    done = subprocess.run(
        [
            str(script),
            "lint",
            str(mail),
            "--config",
            str(practice / "clientline.yaml"),
            "--format",
            "jsonl",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert json.loads(lines[0])["rule"] == "CL102"
    # the script leaves by os._exit: everything written must still be out, codes kept
    assert json.loads(done.stderr.splitlines()[-1])["summary"]["items"] == 2
    misused = subprocess.run(
        [str(script), "lint", str(mail), "--format", "yaml"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert misused.returncode == 2 and "yaml" in misused.stderr
