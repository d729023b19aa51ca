"""Reporters: where findings go.

A reporter receives findings and problems as the run produces them and a summary at
the end. Built-in reporters (``text``, ``json``, ``jsonl``) are registered in the
``clientline.reporters`` entry point group, as a third-party reporter would be.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol, TextIO

from linter.model import Finding, Problem
from linter.plugins import entry_points_in

ENTRY_POINT_GROUP = "clientline.reporters"


@dataclass
class Summary:
    items: int = 0
    problems: int = 0
    findings: Counter[str] = field(default_factory=Counter)
    names: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    suppressed: int = 0  # by inline markers
    baselined: int = 0  # hidden because the baseline accepts them
    stale_baseline: list[dict[str, Any]] = field(default_factory=list)

    def count(self, finding: Finding) -> None:
        self.findings[finding.rule] += 1
        self.names[finding.rule] = finding.name

    @property
    def total(self) -> int:
        return sum(self.findings.values())


class Reporter(Protocol):
    def __init__(self, out: TextIO, err: TextIO, color: bool) -> None: ...
    def finding(self, finding: Finding) -> None: ...
    def problem(self, problem: Problem) -> None: ...
    def finish(self, summary: Summary) -> None: ...


@cache
def registry() -> dict[str, Callable[..., Reporter]]:
    found: dict[str, Callable[..., Reporter]] = {
        e.name: e.load() for e in entry_points_in(ENTRY_POINT_GROUP)
    }
    if not found:  # a source tree that was never installed
        from linter.report.jsonout import JsonLinesReporter, JsonReporter
        from linter.report.text import TextReporter

        found = {"text": TextReporter, "json": JsonReporter, "jsonl": JsonLinesReporter}
    return found


def finding_dict(finding: Finding) -> dict[str, Any]:
    """The JSON shape of a finding (stable: scripts rely on it)."""
    item = finding.item
    when_key = "start" if item.kind == "event" else "date"
    return {
        "id": finding.fingerprint,
        "rule": finding.rule,
        "name": finding.name,
        "title": finding.title,
        "severity": str(finding.severity),
        "message": finding.message,
        "item": {
            "kind": item.kind,
            "source": item.source,
            "locator": item.locator,
            "id": item.id,
            "title": item.title,
            when_key: _iso(item.start),
        },
        "contacts": list(finding.contacts),
        "evidence": [
            {
                "selection": e.selection,
                "field": e.field,
                "words": e.words,
                "start": e.start,
                "end": e.end,
                "snippet": e.snippet,
            }
            for e in finding.evidence
        ],
        "principles": list(finding.principles),
        "advice": finding.advice,
    }


def problem_dict(problem: Problem) -> dict[str, Any]:
    return {
        "source": problem.source,
        "line": problem.line,
        "level": problem.level,
        "message": problem.message,
    }


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None
