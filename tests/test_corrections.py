"""Corrections become tests (issue 15): ``ack --not-a-problem``, ``ack --undo``,
``rules health`` and ``cases add``, with ``rules test`` running the kept cases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from linter import worker
from linter.model import fingerprint
from tests.worker_helpers import MIXED, NOW, Practice, message, write_practice

EV = fingerprint("CL101", "drinks-review@studio.example")
M1 = fingerprint("CL102", "<m1@acme.example>")
QUOTED = "Earlier: the whole confidential thread about Lee's divorce"


@pytest.fixture
def office(tmp_path: Path) -> Practice:
    practice = write_practice(
        tmp_path / "practice",
        mail=[message("m1@acme.example", *MIXED) + f"\nOn Tue, Dana wrote:\n> {QUOTED}\n"],
    )
    (practice.folder / "my-rules").mkdir()
    practice.rewrite_config(rules=["./my-rules", "./pack"])
    worker.run_cycle(practice.prepare(), now=NOW)
    return practice


def test_a_false_alarm_is_counted_against_its_rule(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    config = str(office.config)
    result = run_cli(
        "ack", M1[:8], "--not-a-problem", "--reason", "drinks only", "--config", config
    )
    assert result.exit_code == 0, result.output
    assert "as not a problem" in result.output and f"cases add {M1}" in result.output
    again = run_cli("ack", M1[:8], "--reason", "on reflection, fine", "--config", config)
    assert "replaces the earlier reason: drinks only" in again.output
    run_cli("ack", EV, "--not-a-problem", "--reason", "a birthday", "--config", config)
    health = run_cli("rules", "health", "--config", config)
    assert health.exit_code == 0, health.output
    lines = {line.split()[0]: line.split() for line in health.output.splitlines()[1:]}
    assert lines["CL101"][1:5] == ["1", "1", "0", "0"]  # fired, not a problem, accepted, open
    assert lines["CL102"][1:5] == ["1", "0", "1", "0"]
    assert "100% of 1 judged" in health.output


def test_an_acknowledgement_can_be_taken_back(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    config = str(office.config)
    run_cli("ack", M1[:8], "--reason", "fine", "--config", config)
    undone = run_cli("ack", M1[:8], "--undo", "--config", config)
    assert undone.exit_code == 0 and "open again" in undone.output
    assert office.findings()[M1][0] == "open"
    with office.open_store() as store:
        assert store.finding(M1).ack_reason is None  # type: ignore[union-attr]
        assert store.history(M1)[-1][1:] == ("open", "acknowledgement undone: fine")
    twice = run_cli("ack", M1[:8], "--undo", "--config", config)
    assert twice.exit_code == 2 and "not acknowledged" in twice.output


def test_a_finding_kept_as_a_case_holds_no_quoted_mail_and_runs_in_rules_test(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    config = str(office.config)
    result = run_cli("cases", "add", M1[:8], "--expect", "none", "--config", config, "--yes")
    assert result.exit_code == 0, result.output
    written = office.folder / "my-rules" / "cases" / "corrections.yaml"
    text = written.read_text(encoding="utf-8")
    assert QUOTED not in text and "divorce" not in text  # the quoted reply stays out
    [case] = yaml.safe_load(text)
    assert case["expect"] == [] and case["message"]["from"] == "dana@acme.example"
    assert "renewal contract" in case["message"]["body"]
    # the correction now fails: the rules still fire on it
    tested = run_cli("rules", "test", "--config", config)
    assert tested.exit_code == 1
    kept = [line for line in tested.output.splitlines() if "corrections.yaml" in line]
    assert len(kept) == 1 and kept[0].startswith("FAILED"), tested.output
    assert "expected nothing, fired ['CL102']" in kept[0]


def test_an_event_kept_by_file_and_line_expects_its_rule(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    config = str(office.config)
    line = next(
        n for n, text in enumerate(office.ics.read_text().splitlines(), 1) if text == "BEGIN:VEVENT"
    )
    result = run_cli(
        "cases", "add", f"{office.ics}:{line}", "--expect", "CL101", "--config", config, "--yes"
    )
    assert result.exit_code == 0, result.output
    [case] = yaml.safe_load((office.folder / "my-rules" / "cases" / "corrections.yaml").read_text())
    assert case["event"]["title"] == "Q3 contract review over drinks"
    assert case["event"]["attendees"] == ["dana@acme.example"]
    tested = run_cli("rules", "test", "--config", config)
    kept = [line for line in tested.output.splitlines() if "corrections.yaml" in line]
    assert len(kept) == 1 and kept[0].startswith("PASSED"), tested.output


def test_cases_add_asks_first_and_refuses_an_unknown_rule(
    office: Practice, run_cli: Callable[..., Any]
) -> None:
    config = str(office.config)
    unknown = run_cli("cases", "add", M1[:8], "--expect", "CL999", "--config", config)
    assert unknown.exit_code == 2 and "no rule CL999" in unknown.output
    from click.testing import CliRunner

    from linter.cli import main

    declined = CliRunner().invoke(
        main, ["cases", "add", M1[:8], "--expect", "none", "--config", config], input="n\n"
    )
    assert "nothing written" in declined.output
    assert not (office.folder / "my-rules" / "cases").exists()


def test_cases_add_without_a_local_pack_says_how_to_make_one(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    practice = write_practice(tmp_path / "p", mail=[message("m1@acme.example", *MIXED)])
    practice.rewrite_config(rules=["builtin"])
    result = run_cli(
        "cases", "add", f"{practice.mbox}:1", "--expect", "none", "--config", str(practice.config)
    )
    assert result.exit_code == 2 and "--pack" in result.output
