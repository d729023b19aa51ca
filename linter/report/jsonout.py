"""Machine-readable output.

* ``json``: one document, ``{"findings": [...], "problems": [...], "summary": {...}}``,
  written when the run ends.
* ``jsonl``: one finding per line as it is found (for pipes and log shippers); input
  problems go to stderr as JSON lines with a ``"problem"`` key, the summary to stderr.

Each finding has ``id`` (a stable fingerprint), ``rule``, ``name``, ``title``,
``severity``, ``message``, ``item`` (``kind``, ``source``, ``locator``, ``id``,
``title``, and ``start`` for events or ``date`` for messages), ``contacts``,
``evidence`` (``selection``, ``field``, ``words``, ``start``, ``end``, ``snippet``),
``principles`` and ``advice``.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from linter.model import Finding, Problem
from linter.report import Summary, finding_dict, problem_dict


def summary_dict(summary: Summary) -> dict[str, Any]:
    return {
        "items": summary.items,
        "findings": summary.total,
        "problems": summary.problems,
        "by_rule": dict(sorted(summary.findings.items())),
        "suppressed": summary.suppressed,
        "baselined": summary.baselined,
        "stale_baseline": summary.stale_baseline,
    }


class JsonReporter:
    def __init__(self, out: TextIO, err: TextIO, color: bool) -> None:
        self.out, self.err = out, err
        self.findings: list[dict[str, Any]] = []
        self.problems: list[dict[str, Any]] = []

    def finding(self, finding: Finding) -> None:
        self.findings.append(finding_dict(finding))

    def problem(self, problem: Problem) -> None:
        self.problems.append(problem_dict(problem))

    def finish(self, summary: Summary) -> None:
        document = {
            "findings": self.findings,
            "problems": self.problems,
            "summary": summary_dict(summary),
        }
        json.dump(document, self.out, ensure_ascii=False, indent=2)
        self.out.write("\n")


class JsonLinesReporter:
    def __init__(self, out: TextIO, err: TextIO, color: bool) -> None:
        self.out, self.err = out, err

    def finding(self, finding: Finding) -> None:
        self.out.write(json.dumps(finding_dict(finding), ensure_ascii=False) + "\n")

    def problem(self, problem: Problem) -> None:
        self.err.write(json.dumps({"problem": problem_dict(problem)}, ensure_ascii=False) + "\n")

    def finish(self, summary: Summary) -> None:
        self.err.write(json.dumps({"summary": summary_dict(summary)}) + "\n")
