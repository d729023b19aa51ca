"""The demo practice in examples/ produces exactly the findings its labels intend:
every VEVENT and every message is labelled in tests/data/demo_labels.yaml."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import yaml

from linter import lintrun
from linter.model import Finding
from linter.report import Summary

from .conftest import EXAMPLES, ROOT

LONDON = ZoneInfo("Europe/London")


class Collect:
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.problems: list[object] = []

    def finding(self, finding: Finding) -> None:
        self.findings.append(finding)

    def problem(self, problem: object) -> None:
        self.problems.append(problem)

    def finish(self, summary: Summary) -> None:
        self.summary = summary


def test_demo_findings_match_the_labels() -> None:
    setup = lintrun.prepare(str(EXAMPLES / "clientline.yaml"))
    collected = Collect()
    paths = [str(EXAMPLES / "calendar.ics"), str(EXAMPLES / "mailbox.mbox")]
    summary = lintrun.run(setup, paths, collected)  # type: ignore[arg-type]
    assert not collected.problems
    assert summary.items == 224
    labels = yaml.safe_load((ROOT / "tests" / "data" / "demo_labels.yaml").read_text("utf-8"))
    expected = set()
    for label in labels:
        for rule in label["expect"]:
            if label["kind"] == "message":
                expected.add((rule, label["message_id"]))
            elif label["kind"] == "contact":
                expected.add((rule, f"contact:{label['client'].casefold()}"))
            else:
                occurrence = label.get("occurrence")
                expected.add((rule, label["uid"], str(occurrence) if occurrence else None))
    produced = set()
    for finding in collected.findings:
        item = finding.item
        if item.kind in ("message", "contact"):
            produced.add((finding.rule, item.id))
        else:
            uid, _, recurrence = item.id.partition("#")
            assert item.start is not None
            day = item.start.astimezone(LONDON).date() if recurrence else None
            produced.add((finding.rule, uid, str(day) if day else None))
    assert produced == expected
    assert len(collected.findings) == len(produced)


def test_demo_window_is_fixed_whatever_today_is() -> None:
    later = dt.datetime(2031, 5, 1, tzinfo=LONDON)
    setup = lintrun.prepare(str(EXAMPLES / "clientline.yaml"), now=later)
    assert setup.window.since == dt.datetime(2026, 9, 1, tzinfo=LONDON)
