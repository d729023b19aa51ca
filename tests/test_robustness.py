"""Data nobody here wrote: the test calendars shipped inside icalendar and
recurring-ical-events (some deliberately broken) and the real Enron mail in
../shared. Every file is read or reported by name; nothing crashes. The counts are
pinned so that a regression shows (versions are pinned in constraints.txt)."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from linter.model import Problem
from linter.sources import Window, iter_items

from .conftest import ENRON

WIDE = Window(
    dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, tzinfo=dt.UTC), ZoneInfo("UTC")
)


def package_calendars() -> list[Path]:
    roots = []
    for module in ("icalendar", "recurring_ical_events"):
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None
        roots.append(Path(spec.origin).parent)
    return sorted(f for root in roots for f in root.rglob("*.ics"))


def test_every_calendar_shipped_in_the_parsers_is_read_or_reported() -> None:
    files = package_calendars()
    items = 0
    problems: list[Problem] = []
    for path in files:
        for output in iter_items([str(path)], WIDE):
            if isinstance(output, Problem):
                assert output.source == str(path) and output.message
                problems.append(output)
            else:
                items += 1
    levels = Counter(p.level for p in problems)
    assert len(files) == 258
    # five series repeat more than MAX_OCCURRENCES times in this 30-year window: each is
    # read up to that limit and reported as a warning (36,882 items before the limit)
    assert items == 26031
    assert len({p.source for p in problems}) == 58
    assert levels == {"error": 107, "warning": 11}


@pytest.mark.skipif(not ENRON.is_dir(), reason="../shared/corpora/enron-dev is absent")
def test_every_enron_message_is_read(run_cli, outside_contacts: Path) -> None:
    outputs = list(iter_items([str(ENRON)], WIDE))
    messages = [o for o in outputs if not isinstance(o, Problem)]
    assert len(messages) == 818 and len(outputs) == 818
    assert len({m.id for m in messages}) == 818
    assert sum(1 for m in messages if m.quoted) > 300  # forwards and replies were found
    result = run_cli(
        "lint", str(ENRON), "--contacts", str(outside_contacts), "--format", "json", "--exit-zero"
    )
    assert result.exit_code == 0
    assert '"items": 818' in result.stdout and '"problems": 0' in result.stdout
