"""Read and normalise a corpus without evaluating any rule: the floor under ``lint``.

    python bench/parse_only.py PATH... [--since 2026-01-01] [--until 2027-01-01]

Streams ``linter.sources.iter_items(paths, Window(since, until))`` and counts what comes
out: items (events and messages) and problems. Sources do the parsing and the text
normalisation (HTML to text, quoted replies kept apart), so the difference between this
and ``clientline lint`` on the same corpus is what contacts and rules cost.

Dates are read in the timezone named by ``TZ`` (UTC when unset), as ``clientline`` does,
and messages are filtered by date as ``lint --since/--until`` filters them. Prints one
JSON object on stdout; the first few problems go to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
SHOW_PROBLEMS = 5


def _import_sources() -> Any:
    """``linter.sources``; from the source tree when the package is not installed."""
    try:
        from linter import sources
    except ModuleNotFoundError:
        sys.path.append(str(REPO))
        from linter import sources
    return sources


def _moment(text: str, tz: dt.tzinfo) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def make_window(sources: Any, since: dt.datetime, until: dt.datetime, tz: dt.tzinfo) -> Any:
    """``Window(since, until)``, with the timezone and message filter where supported."""
    window_class = sources.Window
    names = {f.name for f in dataclasses.fields(window_class)}
    extra: dict[str, Any] = {}
    if "tz" in names:
        extra["tz"] = tz
    if "filter_messages" in names:
        extra["filter_messages"] = True
    return window_class(since, until, **extra)


def count(paths: list[str], window: Any, sources: Any) -> dict[str, Any]:
    """Drain the item stream and tally it."""
    from linter.model import Problem

    kinds: Counter[str] = Counter()
    problems = 0
    began = time.perf_counter()
    for output in sources.iter_items(paths, window):
        if isinstance(output, Problem):
            problems += 1
            if problems <= SHOW_PROBLEMS:
                print(f"problem: {output}", file=sys.stderr)
            continue
        kinds[output.kind] += 1
    seconds = time.perf_counter() - began
    items = sum(kinds.values())
    return {
        "items": items,
        "events": kinds["event"],
        "messages": kinds["message"],
        "problems": problems,
        "seconds": round(seconds, 3),
        "items_per_second": round(items / seconds, 1) if seconds else None,
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--since", default="2026-01-01", help="ISO date or time (inclusive)")
    parser.add_argument("--until", default="2027-01-01", help="ISO date or time (exclusive)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    tz = ZoneInfo(os.environ.get("TZ", "").lstrip(":") or "UTC")
    sources = _import_sources()
    window = make_window(sources, _moment(args.since, tz), _moment(args.until, tz), tz)
    result = count(args.paths, window, sources)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
