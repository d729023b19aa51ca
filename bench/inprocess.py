"""What the rules add over reading, measured in one process, start-up left out.

    python bench/inprocess.py [PATH] [--contacts FILE] [--rounds 4]

Prepares a lint run once, then times in turn, ``--rounds`` times each: draining the
item stream alone (reading, parsing, normalising, chunking, as ``lint`` does) and
draining it through the engine. Prints one JSON object with the best time of each and
the rules' share (``lint / parse - 1``). Both loops run in the same process a second
apart, so the machine's drift (tens of per cent within minutes here) moves both alike,
and interpreter start-up, imports and reading the rule set back are left out: this is
the per-item cost of the rules, which ``run.py`` measures together with start-up.
Defaults: the Enron 10k corpus and contacts made by ``generate.py``, ``TZ`` as set.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default=str(OUT / "enron10k.mbox"))
    parser.add_argument("--contacts", default=str(OUT / "enron-contacts.yaml"))
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    from linter import lintrun
    from linter.model import Problem
    from linter.sources import chunks, iter_items

    setup = lintrun.prepare(contacts_path=args.contacts, since="1970-01-01", until="2100-01-01")
    gc.freeze()  # as `clientline lint` does

    # the same loop twice, the engine called in one of them, as `lintrun.run` calls it
    def parse() -> int:
        items = 0
        for chunk in chunks(iter_items([args.path], setup.window)):
            for output in chunk:
                if isinstance(output, Problem):
                    continue
                items += 1
        return items

    def lint() -> int:
        findings = 0
        check = setup.engine.check
        for chunk in chunks(iter_items([args.path], setup.window)):
            for output in chunk:
                if isinstance(output, Problem):
                    continue
                for _ in check(output):
                    findings += 1
        return findings

    best: dict[str, float] = {}
    counts: dict[str, int] = {}
    loops: dict[str, Callable[[], int]] = {"parse": parse, "lint": lint}
    for _ in range(args.rounds):
        for name, loop in loops.items():
            began = time.perf_counter()
            counts[name] = loop()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - began)
    result = {
        "path": args.path,
        "items": counts["parse"],
        "findings": counts["lint"],
        "parse_seconds": round(best["parse"], 3),
        "lint_seconds": round(best["lint"], 3),
        "rules_overhead_percent": round(100 * (best["lint"] / best["parse"] - 1), 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
