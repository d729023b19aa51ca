"""The default pack is right often enough to trust: precision and recall on the labelled
set in tests/data/labelled/, and a low share of flags on real business mail.

Thresholds, and why:

* Overall precision >= 0.90 and recall >= 0.85 over (rule, item) pairs. Users switch a
  linter off when it cries wolf (P8), so precision comes first; 0.90 means at most one
  finding in ten is one a careful reader would dismiss. Recall may be a little lower:
  the digest is read daily, and a mixed occasion usually shows up in more than one
  item (the invitation, the event, the reply). The set was written by the people who
  wrote the lexicons, so these numbers are optimistic; the batches in ``unseen*.yaml``
  were scored before any change made for them (see the README beside them) and scored
  lower (precision 0.76-0.92, recall 0.59-0.72), which is why the Enron check below
  matters as much.
* Every rule has at least 3 labelled positives, precision >= 0.75 and recall >= 0.75,
  so no rule hides behind the others' numbers.
* Genre 1 (company business) and genre 4 (logistics) of the Enron dev corpus, every
  correspondent a client who is a friend: at most 3% of messages flagged.

``python bench/quality.py --labelled`` prints the same table; ``python -m pytest
tests/test_quality.py -s`` prints it here too.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

import pytest

from .conftest import ENRON, ROOT

MIN_PRECISION = 0.90
MIN_RECALL = 0.85
MIN_RULE_SCORE = 0.75
MIN_POSITIVES = 3
MIN_ITEMS = 80


def _quality() -> ModuleType:
    path = ROOT / "bench" / "quality.py"
    spec = importlib.util.spec_from_file_location("clientline_bench_quality", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


quality = _quality()


@pytest.fixture(scope="module")
def evaluation() -> Any:
    result = quality.evaluate()
    quality.print_evaluation(result, sys.stdout)
    return result


def test_the_labelled_set_is_big_enough_and_mixed(evaluation: Any) -> None:
    cases = evaluation.cases
    assert len(cases) >= MIN_ITEMS
    assert any(c.item.kind == "event" for c in cases)
    assert any(c.item.kind == "message" for c in cases)
    negatives = [c for c in cases if not c.expect]
    assert len(negatives) >= len(cases) // 3, "hard negatives keep precision honest"


def test_overall_precision_and_recall(evaluation: Any) -> None:
    scores = evaluation.overall
    assert scores.precision >= MIN_PRECISION, f"precision {scores.precision:.2f}"
    assert scores.recall >= MIN_RECALL, f"recall {scores.recall:.2f}"


def test_every_item_rule_is_measured(evaluation: Any) -> None:
    item_rules = [
        rule
        for rule in quality.labelled_engine().rules
        if {"event", "message"} & set(rule.applies_to)
    ]
    positives = evaluation.positives
    for rule in item_rules:
        scores = evaluation.per_rule[rule.id]
        assert positives[rule.id] >= MIN_POSITIVES, f"{rule.id}: too few positives"
        assert scores.precision >= MIN_RULE_SCORE, f"{rule.id}: precision {scores.precision:.2f}"
        assert scores.recall >= MIN_RULE_SCORE, f"{rule.id}: recall {scores.recall:.2f}"


def test_labels_name_only_real_rules(evaluation: Any) -> None:
    known = {rule.id for rule in quality.labelled_engine().rules}
    for case in evaluation.cases:
        assert case.expect <= known, f"{case.origin}: unknown rule in {sorted(case.expect)}"


@pytest.mark.slow
@pytest.mark.skipif(not ENRON.is_dir(), reason="../shared/corpora/enron-dev is absent")
def test_few_flags_on_real_business_and_logistics_mail() -> None:
    results = {r.genre: r for r in quality.lint_genres(ENRON)}
    quality.print_genres(list(results.values()), set(), sys.stdout)
    for genre in quality.TARGET_GENRES:
        result = results[genre]
        assert result.read > 100
        subjects = [item.title for item, _ in result.flagged]
        assert result.share <= quality.TARGET_SHARE, f"genre {genre}: {subjects}"
