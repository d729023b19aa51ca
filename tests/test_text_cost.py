"""html_to_text takes time in proportion to its input, however hostile (issue 14, defect 9).

Each shape below made the old regular expressions rescan to the end of the body from
every ``<`` that had no closer: four times the input took about sixteen times as long
(a megabyte of ``<a`` took minutes). The bound is on how time grows, not on time itself,
so a slow machine does not fail it; CPU time rather than wall-clock time, so that other
processes on a busy machine do not either.
"""

from __future__ import annotations

import time

import pytest

from linter.text import html_to_text

SMALL, LARGE = 50_000, 200_000  # characters
RUNS = 5
# Linear is 4 (LARGE is 4 * SMALL), quadratic 16: the bound sits between with room for
# noise either way.
MAX_RATIO = 8.0

SHAPES = {
    "unclosed tags": "<a",
    "unclosed scripts": "<script>x",
    "unclosed comments": "<!--x",
    "unclosed attributes": '<a href="',
    "mix": '<head><title>t</title><p>a &amp; b < c<!--c--><td>< br<a href="',
}


def _body(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _cost(markup: str) -> float:
    started = time.process_time()
    html_to_text(markup)
    return time.process_time() - started


@pytest.mark.parametrize("shape", list(SHAPES))
def test_time_grows_linearly(shape: str) -> None:
    small, large = _body(SHAPES[shape], SMALL), _body(SHAPES[shape], LARGE)
    html_to_text(small)  # warm up caches before measuring
    small_costs, large_costs = [], []
    for _ in range(RUNS):  # interleaved, so a slow spell affects both sizes alike
        small_costs.append(_cost(small))
        large_costs.append(_cost(large))
    # min(): noise only ever adds time; the floor keeps a tiny cost from dividing by ~0
    ratio = min(large_costs) / max(min(small_costs), 1e-5)
    assert ratio < MAX_RATIO, (shape, min(small_costs), min(large_costs))
