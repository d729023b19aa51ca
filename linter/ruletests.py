"""Running the test cases that ship inside rule files.

Each case builds one item (see :mod:`linter.engine.cases`) and runs the rules of its
pack on it, against the pack's ``contacts.yaml``. A case passes when exactly the rules
it expects fire among the rules under test. ``clientline rules test`` and the project's
own parametrised pytest both use :func:`collect` and :func:`run_case`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from linter import contacts as contacts_module
from linter.contacts import Directory
from linter.engine import Engine
from linter.engine.cases import Case, build
from linter.packs import RuleSet
from linter.yamlfile import ConfigError


@dataclass(frozen=True)
class Outcome:
    case: Case
    fired: frozenset[str]
    messages: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.fired == self.case.expect


def collect(ruleset: RuleSet) -> tuple[list[Case], list[ConfigError]]:
    cases: list[Case] = []
    errors: list[ConfigError] = []
    for rule in ruleset.rules:
        for number, raw in enumerate(rule.tests, 1):
            try:
                cases.append(build(raw, rule.id, rule.origin, number))
            except ConfigError as exc:
                errors.append(exc)
    return cases, errors


@cache
def _directory(path: str | None) -> Directory:
    return contacts_module.load(path) if path else Directory()


def run_case(ruleset: RuleSet, case: Case, engine: Engine | None = None) -> Outcome:
    directory = _directory(ruleset.test_contacts.get(case.rule_id))
    engine = engine or Engine(ruleset.rules, ruleset.lexicons, directory)
    findings = list(engine.check(case.item))
    return Outcome(case, frozenset(f.rule for f in findings), tuple(f.message for f in findings))


def run_all(ruleset: RuleSet) -> tuple[list[Outcome], list[ConfigError]]:
    cases, errors = collect(ruleset)
    engines: dict[str | None, Engine] = {}
    unusable: set[str | None] = set()
    outcomes = []
    for case in cases:
        key = ruleset.test_contacts.get(case.rule_id)
        if key in unusable:
            continue
        if key not in engines:
            try:
                directory = _directory(key)
            except ConfigError as exc:  # the pack's contacts.yaml: its cases cannot run
                errors.append(exc)
                unusable.add(key)
                continue
            engines[key] = Engine(ruleset.rules, ruleset.lexicons, directory)
        outcomes.append(run_case(ruleset, case, engines[key]))
    return outcomes, errors


def coverage(ruleset: RuleSet, cases: list[Case]) -> dict[str, list[str]]:
    """What each rule's own cases fail to show: a case that fires it, a case that keeps
    it quiet. Rules with nothing missing are left out."""
    missing: dict[str, list[str]] = {}
    for rule in ruleset.rules:
        own = [c for c in cases if c.rule_id == rule.id]
        gaps = []
        if not any(rule.id in c.expect for c in own):
            gaps.append("no case that fires it")
        if not any(rule.id not in c.expect for c in own):
            gaps.append("no case that keeps it quiet")
        if gaps:
            missing[rule.id] = gaps
    return missing
