"""Every test case embedded in every rule file, run by one parametrised test
(as sqlfluff does), on each matching backend this machine has."""

from __future__ import annotations

import pytest

from linter import packs
from linter.engine import Engine
from linter.engine.scanner import available_backends
from linter.ruletests import _directory, collect, run_case

RULESET = packs.load([packs.resolve("builtin", packs.data_dir())])
CASES, ERRORS = collect(RULESET)


def test_default_pack_loads_cleanly() -> None:
    assert not RULESET.errors
    assert not ERRORS
    assert len(RULESET.rules) >= 5


def test_every_rule_has_a_firing_and_a_quiet_case() -> None:
    for rule in RULESET.rules:
        mine = [c for c in CASES if c.rule_id == rule.id]
        assert any(rule.id in c.expect for c in mine), f"{rule.id} has no firing case"
        assert any(rule.id not in c.expect for c in mine), f"{rule.id} has no quiet case"


def test_every_rule_cites_known_principles() -> None:
    known = packs.principles()
    for rule in RULESET.rules:
        assert rule.principles and set(rule.principles) <= set(known)


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_rule_case(case, backend: str) -> None:
    directory = _directory(RULESET.test_contacts.get(case.rule_id))
    engine = Engine(RULESET.rules, RULESET.lexicons, directory, backend=backend)
    outcome = run_case(RULESET, case, engine)
    assert outcome.fired == case.expect, outcome.messages
