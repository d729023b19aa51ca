"""Terminal output, like a linter: one line per finding, then counts per rule.

::

    examples/calendar.ics:412  CL101  warning  'Q1 contract review over drinks' mixes ...

    CL101  3  business-agenda-at-social-occasion
    Found 3 findings in 142 items (1 input problem).

Colour is used only when the output is a terminal. Input problems go to stderr as
``path:line: error: reason``.
"""

from __future__ import annotations

from typing import TextIO

import click

from linter.model import Finding, Problem, Severity
from linter.report import Summary

_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


class TextReporter:
    def __init__(self, out: TextIO, err: TextIO, color: bool) -> None:
        self.out, self.err, self.color = out, err, color

    def _style(self, text: str, **styles: object) -> str:
        return click.style(text, **styles) if self.color else text  # type: ignore[arg-type]

    def finding(self, finding: Finding) -> None:
        where = f"{finding.item.source}:{finding.item.locator}"
        line = "  ".join(
            (
                self._style(where, bold=True),
                self._style(finding.rule, fg=_COLOURS[finding.severity], bold=True),
                self._style(str(finding.severity), fg=_COLOURS[finding.severity]),
                finding.message,
            )
        )
        self.out.write(line + "\n")

    def problem(self, problem: Problem) -> None:
        self.err.write(self._style(str(problem), fg="magenta") + "\n")

    def finish(self, summary: Summary) -> None:
        if summary.findings:
            self.out.write("\n")
            width = max(len(str(n)) for n in summary.findings.values())
            for rule, count in sorted(summary.findings.items()):
                self.out.write(f"{rule}  {count:>{width}}  {summary.names[rule]}\n")
        noun = "finding" if summary.total == 1 else "findings"
        hidden = [
            f"{count} {what}"
            for count, what in (
                (summary.suppressed, "suppressed by markers"),
                (summary.baselined, "in the baseline"),
            )
            if count
        ]
        for entry in summary.stale_baseline:
            self.err.write(
                f"baseline: {entry.get('rule')} on '{entry.get('title')}' ({entry.get('source')}) "
                "no longer matches anything; rewrite the baseline with --write-baseline\n"
            )
        trouble = f" ({', '.join(hidden)})" if hidden else ""
        if summary.problems:
            plural = "" if summary.problems == 1 else "s"
            trouble += f" ({summary.problems} input problem{plural}, see above)"
        self.out.write(
            f"Found {summary.total} {noun} in {summary.items} items{trouble}.\n"
            if summary.total
            else f"No findings in {summary.items} items{trouble}.\n"
        )
