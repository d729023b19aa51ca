"""Throughput and memory of ``clientline lint`` on large corpora (``make bench``).

For each corpus (a synthetic mailbox, a synthetic calendar, Enron mail repeated) this
generates the data if needed (:mod:`generate`), then runs two child processes and
measures each with ``os.wait4``: wall time, CPU time and peak RSS of that child.

* parse only: ``python bench/parse_only.py PATH --since .. --until ..`` reads and
  normalises every item through ``linter.sources.iter_items``, with no rules;
* end to end: ``clientline lint PATH --contacts .. --since .. --until .. --format jsonl
  --exit-zero > /dev/null``: sources, contacts, every rule, the JSON reporter.

The item count comes from the parse-only run; lint's own counts (items, findings by
rule) are recorded too when it reports them on stderr, but nothing depends on them.
"rules +%" is how much longer end to end takes than parsing alone
(``parse_rate / e2e_rate - 1``); both include interpreter start-up. Results go to the
terminal and to ``bench/out/results.json``; each child's output to ``bench/out/logs/``.

    python bench/run.py [--quick] [--only mailbox|calendar|enron] [--repeat K]
                        [--keep-output] [--check]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import generate

BENCH = Path(__file__).resolve().parent
TARGET_E2E_RATE = 3_000  # Enron messages a second on one core, end to end
TARGET_RULES_OVERHEAD = 25.0  # per cent over parsing alone
TARGET_RSS_MB = 200.0
CHILD_TZ = "Europe/London"  # the synthetic corpora's timezone, for both children
ITEMS_ON_STDERR = re.compile(r"(\d[\d,]*)\s+items?\b")


@dataclass(frozen=True)
class Corpus:
    """One benchmark input and the arguments it is linted with."""

    name: str
    path: Path
    contacts: Path
    since: str
    until: str

    @property
    def slug(self) -> str:
        return self.name.replace(" ", "-")


@dataclass
class Measurement:
    """One child process: how long, how much CPU, how much memory, how it ended."""

    seconds: float
    cpu_seconds: float
    rss_mb: float
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Result:
    """Both measurements of one corpus, and the rates derived from them."""

    corpus: str
    path: str
    bytes: int
    items: int | None = None
    problems: int | None = None
    lint_items: int | None = None
    findings: int | None = None
    by_rule: dict[str, int] | None = None
    parse: Measurement | None = None
    e2e: Measurement | None = None
    startup: dict[str, float] = field(default_factory=dict)  # seconds on an empty mbox
    errors: list[str] = field(default_factory=list)

    def rate(self, which: Measurement | None) -> float | None:
        if which is None or not self.items or which.returncode != 0:
            return None
        return self.items / which.seconds

    def steady_rate(self, which: Measurement | None, kind: str) -> float | None:
        """Items a second once started: the start-up time on an empty mbox taken off."""
        if self.rate(which) is None or which is None or kind not in self.startup:
            return None
        working = which.seconds - self.startup[kind]
        return self.items / working if self.items and working > 0 else None

    def cpu_rate(self, which: Measurement | None) -> float | None:
        if which is None or not self.items or which.returncode != 0:
            return None
        return self.items / which.cpu_seconds

    @property
    def rules_overhead(self) -> float | None:
        """Per cent longer end to end than parsing alone."""
        parse, e2e = self.rate(self.parse), self.rate(self.e2e)
        return None if parse is None or e2e is None else (parse / e2e - 1) * 100

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["parse_items_per_second"] = _round(self.rate(self.parse))
        data["e2e_items_per_second"] = _round(self.rate(self.e2e))
        data["parse_items_per_cpu_second"] = _round(self.cpu_rate(self.parse))
        data["e2e_items_per_cpu_second"] = _round(self.cpu_rate(self.e2e))
        data["parse_steady_items_per_second"] = _round(self.steady_rate(self.parse, "parse"))
        data["e2e_steady_items_per_second"] = _round(self.steady_rate(self.e2e, "e2e"))
        data["rules_overhead_percent"] = _round(self.rules_overhead)
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# running children -----------------------------------------------------------------------


def run_child(command: list[str], stdout: Path, stderr: Path, cwd: Path) -> Measurement:
    """Run ``command`` and measure that one child with ``os.wait4``."""
    env = {**os.environ, "TZ": CHILD_TZ}
    stderr.parent.mkdir(parents=True, exist_ok=True)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        began = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        seconds=round(seconds, 3),
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3),
        rss_mb=round(usage.ru_maxrss / 1024, 1),  # Linux reports kilobytes
        returncode=child.returncode,
        stdout=str(stdout),
        stderr=str(stderr),
    )


def best_of(repeat: int, command: list[str], stdout: Path, stderr: Path, cwd: Path) -> Measurement:
    """The fastest of ``repeat`` runs, with the largest peak RSS seen in any of them."""
    runs = [run_child(command, stdout, stderr, cwd) for _ in range(repeat)]
    failed = [m for m in runs if m.returncode != 0]
    best = failed[0] if failed else min(runs, key=lambda m: m.seconds)
    best.rss_mb = max(m.rss_mb for m in runs)
    return best


def clientline_command() -> list[str]:
    """The ``clientline`` next to this interpreter (the project venv), else on PATH."""
    beside = Path(sys.executable).with_name("clientline")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("clientline")
    if found:
        return [found]
    return [sys.executable, "-m", "linter.cli"]


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# one corpus -----------------------------------------------------------------------------


def measure_parse(corpus: Corpus, result: Result, repeat: int, logs: Path) -> None:
    command = [sys.executable, str(BENCH / "parse_only.py"), str(corpus.path),
               "--since", corpus.since, "--until", corpus.until]
    out, err = logs / f"{corpus.slug}.parse.json", logs / f"{corpus.slug}.parse.err"
    result.parse = best_of(repeat, command, out, err, logs)
    if result.parse.returncode != 0:
        result.errors.append(f"parse_only exited {result.parse.returncode}: {_tail(err)}")
        return
    counts = json.loads(out.read_text().strip().splitlines()[-1])
    result.items, result.problems = counts["items"], counts["problems"]


def measure_e2e(corpus: Corpus, result: Result, repeat: int, logs: Path, keep: bool) -> None:
    command = [*clientline_command(), "lint", str(corpus.path), "--contacts",
               str(corpus.contacts), "--since", corpus.since, "--until", corpus.until,
               "--format", "jsonl", "--exit-zero"]
    out = logs / f"{corpus.slug}.findings.jsonl" if keep else Path(os.devnull)
    err = logs / f"{corpus.slug}.lint.err"
    result.e2e = best_of(repeat, command, out, err, logs)
    if result.e2e.returncode != 0:
        result.errors.append(f"clientline lint exited {result.e2e.returncode}: {_tail(err)}")
        return
    _read_stderr(err.read_text(errors="replace"), result)
    if keep and result.findings is None:
        with out.open(encoding="utf-8", errors="replace") as handle:
            result.findings = sum(1 for line in handle if line.startswith('{"id"'))


def _faster(best: Measurement | None, new: Measurement | None) -> Measurement | None:
    """The faster of two runs of one command (a failed one wins: it must show), with the
    larger peak RSS of the two."""
    if best is None or new is None:
        return new or best
    if best.returncode != 0:
        return best
    faster = new if new.returncode != 0 or new.seconds < best.seconds else best
    faster.rss_mb = max(best.rss_mb, new.rss_mb)
    return faster


def _read_stderr(text: str, result: Result) -> None:
    """Lint's own counts, if it reports them: a JSON ``summary`` line, or "N items"."""
    for line in reversed(text.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        summary = record.get("summary") if isinstance(record, dict) else None
        if isinstance(summary, dict):
            result.lint_items = summary.get("items")
            result.findings = summary.get("findings")
            result.by_rule = summary.get("by_rule")
            return
    found = ITEMS_ON_STDERR.search(text)
    if found:
        result.lint_items = int(found.group(1).replace(",", ""))


def bench_corpus(corpus: Corpus, args: argparse.Namespace, logs: Path) -> Result:
    """Both measurements, ``--repeat`` times in turn (parse, end to end, parse, ...): on
    a shared machine whose speed drifts, alternating makes the drift hit both alike,
    so their ratio (the rules' share) holds still better than either rate."""
    result = Result(corpus.name, str(corpus.path), corpus.path.stat().st_size)
    best_parse = best_e2e = None
    for round_number in range(1, args.repeat + 1):
        print(f"[{corpus.name}] parse only, then end to end ({round_number}/{args.repeat}) ...",
              flush=True)
        measure_parse(corpus, result, 1, logs)
        best_parse = _faster(best_parse, result.parse)
        measure_e2e(corpus, result, 1, logs, args.keep_output)
        best_e2e = _faster(best_e2e, result.e2e)
        if result.errors:
            break
    result.parse, result.e2e = best_parse, best_e2e
    for error in result.errors:
        print(f"[{corpus.name}] {error}", file=sys.stderr)
    return result


# the report -----------------------------------------------------------------------------

COLUMNS = ("corpus", "items", "parse items/s", "e2e items/s", "rules +%",
           "RSS parse MB", "RSS e2e MB", "e2e steady/s")


def _fmt(value: float | int | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def table(results: list[Result]) -> str:
    rows = [COLUMNS]
    for r in results:
        rows.append((
            r.corpus, _fmt(r.items), _fmt(r.rate(r.parse)), _fmt(r.rate(r.e2e)),
            _fmt(r.rules_overhead, ".1f"), _fmt(r.parse.rss_mb if r.parse else None, ".1f"),
            _fmt(r.e2e.rss_mb if r.e2e else None, ".1f"), _fmt(r.steady_rate(r.e2e, "e2e")),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def targets(results: list[Result]) -> list[dict[str, Any]]:
    """Each target of bench/README.md with the measured value and whether it is met."""
    checks: list[dict[str, Any]] = []
    for r in results:
        if r.corpus.startswith("enron"):
            rate = r.cpu_rate(r.e2e)
            checks.append(_check(f"{r.corpus}: end to end items per CPU second",
                                 rate, f">= {TARGET_E2E_RATE:,}",
                                 rate is not None and rate >= TARGET_E2E_RATE))
        overhead = r.rules_overhead
        checks.append(_check(f"{r.corpus}: rules over parsing alone (%)", overhead,
                             f"<= {TARGET_RULES_OVERHEAD:.0f}",
                             overhead is not None and overhead <= TARGET_RULES_OVERHEAD))
        for label, which in (("parse only", r.parse), ("end to end", r.e2e)):
            rss = which.rss_mb if which and which.returncode == 0 else None
            checks.append(_check(f"{r.corpus}: peak RSS {label} (MB)", rss,
                                 f"< {TARGET_RSS_MB:.0f}",
                                 rss is not None and rss < TARGET_RSS_MB))
    return checks


def _check(name: str, value: float | None, target: str, met: bool) -> dict[str, Any]:
    return {"target": name, "value": _round(value), "wanted": target, "met": met}


def write_results(path: Path, results: list[Result], corpora: generate.Corpora,
                  args: argparse.Namespace, checks: list[dict[str, Any]]) -> None:
    document = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if args.quick else "full",
        "repeat": args.repeat,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "generation_seconds": {k: round(v, 2) for k, v in corpora.seconds.items()},
        "corpora": [r.as_json() for r in results],
        "targets": checks,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


# main -----------------------------------------------------------------------------------


def compile_package() -> None:
    """Byte-compile ``linter`` as an installer would. The project's venv installs it
    editable, so nothing compiles it, and with ``PYTHONDONTWRITEBYTECODE`` set (as on
    this machine) every child would compile every module again, a cost no installed
    copy pays: about 0.03 s for parsing alone and 0.07 s end to end."""
    package = BENCH.parent / "linter"
    if package.is_dir():
        compileall.compile_dir(package, quiet=1)


def measure_startup(corpora: generate.Corpora, only: list[str], logs: Path) -> dict[str, float]:
    """Seconds each child takes on an empty mbox: interpreter, imports, rules, contacts."""
    empty = corpora.out / "empty.mbox"
    empty.write_bytes(b"")
    contacts = corpora.enron_contacts if only == ["enron"] else corpora.contacts
    probe = Result("start-up", str(empty), 0)
    corpus = Corpus("start-up", empty, contacts, "2026-01-01", "2027-01-01")
    measure_parse(corpus, probe, 1, logs)
    measure_e2e(corpus, probe, 1, logs, keep=False)
    for error in probe.errors:
        print(f"[start-up] {error}", file=sys.stderr)
    found = {}
    if probe.parse is not None and probe.parse.returncode == 0:
        found["parse"] = probe.parse.seconds
    if probe.e2e is not None and probe.e2e.returncode == 0:
        found["e2e"] = probe.e2e.seconds
    return found


def corpora_to_run(corpora: generate.Corpora, only: list[str]) -> list[Corpus]:
    sizes = corpora.sizes
    window = ("2026-01-01", "2027-01-01")
    everything = {
        "mailbox": Corpus(f"mailbox {sizes.messages // 1000}k", corpora.mailbox,
                          corpora.contacts, *window),
        "calendar": Corpus(f"calendar {sizes.events // 1000}k", corpora.calendar,
                           corpora.contacts, *window),
        # Enron mail is from 1997-2002 (a few say 1979): a window that takes all of it.
        "enron": Corpus(f"enron {sizes.enron // 1000}k", corpora.enron,
                        corpora.enron_contacts, "1970-01-01", "2100-01-01"),
    }
    return [everything[name] for name in generate.KINDS if name in only]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="10,000 messages, 2,000 events, 2,000 Enron (in bench/out/quick)")
    parser.add_argument("--only", choices=generate.KINDS, action="append",
                        help="run only this corpus (repeatable)")
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="run each measurement K times and keep the fastest")
    parser.add_argument("--keep-output", action="store_true",
                        help="keep lint's jsonl findings in bench/out/logs (else /dev/null)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed (not only when a run fails)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    only = args.only or list(generate.KINDS)
    sizes, out = ((generate.QUICK, generate.DEFAULT_OUT / "quick") if args.quick
                  else (generate.FULL, generate.DEFAULT_OUT))
    corpora = generate.generate(out, sizes, only=only)
    logs = out / "logs"
    compile_package()
    startup = measure_startup(corpora, only, logs)
    results = [bench_corpus(c, args, logs) for c in corpora_to_run(corpora, only)]
    for result in results:
        result.startup = startup
    checks = targets(results)
    print()
    print(table(results))
    print(f"start-up on an empty mbox (taken off for e2e steady/s): "
          f"parse only {_fmt(startup.get('parse'), '.2f')} s, "
          f"end to end {_fmt(startup.get('e2e'), '.2f')} s\n")
    for check in checks:
        mark, value = ("ok  " if check["met"] else "MISS"), _fmt(check["value"], ",.1f")
        print(f"{mark} {check['target']}: {value} (wanted {check['wanted']})")
    write_results(generate.DEFAULT_OUT / "results.json", results, corpora, args, checks)
    print(f"\nwrote {generate.DEFAULT_OUT / 'results.json'}")
    if any(r.errors for r in results):
        return 2
    return 1 if args.check and not all(c["met"] for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
