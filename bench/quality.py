"""How often the default rules are right: on blind sets, on real mail, and on a labelled set.

Three measurements, none of them a timing:

**Blind sets** (``--blind``, and the default). Each folder of ``tests/data/blind/`` is
one practice's calendar and mail, written and labelled yes/no by helpers who never saw
the rules, under ``../shared/judgement/RUBRIC.md`` (see that folder's README). An item
counts only when both labellers agree. The default pack runs over every item with the
practice's contacts and working hours; an item is flagged when any rule fires on it.
Printed per set and overall: precision, recall and F1 over items; recall per reason
(M, F, C, P: an item counts for each reason either labeller gave); precision and recall
per kind (event, message). ``--misses`` lists the items the pack gets wrong, and
refuses to for a held-out set (the README's table): a set whose misses were read is a
training set from then on.

**Real mail** (the default). Lints ``../shared/corpora/enron-dev`` (818 real Enron
messages, sorted by annotators into genre folders; see its README) with a contact
directory in which every correspondent is a client (``domains: ["*"]``, nobody is
"me"), so every rule looks at every message. Company business (genre 1) and logistics
(genre 4) are mail in which a user would call almost any flag a false alarm: the
target is at most 3% of each flagged. For each genre folder it prints messages read,
messages flagged and the share flagged, then every flagged subject, with the rule ids,
for genres 1 and 4 (``--list`` picks other genres) so that each flag can be read and
judged.

**The labelled set** (``--labelled``). Runs the default pack over the events and
messages in ``tests/data/labelled/*.yaml`` (written for this purpose, each with the
rule ids a careful human expects; see that folder's README) against its
``contacts.yaml``, and prints true and false positives, misses, precision and recall
for each rule and overall (micro-averaged over (rule, item) pairs), then every
disagreement. ``tests/test_quality.py`` asserts the thresholds.

::

    .venv/bin/python bench/quality.py                 # blind sets, then the Enron table
    .venv/bin/python bench/quality.py --blind         # blind sets only
    .venv/bin/python bench/quality.py --blind --sets accountant-pune --misses
    .venv/bin/python bench/quality.py --list 1,2,3,4  # flags on more genres
    .venv/bin/python bench/quality.py --labelled      # precision and recall per rule
    .venv/bin/python bench/quality.py --check         # exit 1 when a target is missed

The contact file and configuration for the Enron run are written to a temporary folder
(Enron mail is from Houston: timezone America/Chicago, working hours 08:00-18:00
Monday to Friday). Nothing from the corpus is copied anywhere.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from linter import contacts as contacts_module
from linter import lintrun, packs
from linter.engine import Engine
from linter.engine.cases import Case, build
from linter.engine.hours import WorkingHours
from linter.model import Finding, Item, Problem
from linter.sources import Window, iter_items

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
ENRON = SHARED / "corpora" / "enron-dev"
LABELLED = ROOT / "tests" / "data" / "labelled"
BLIND = ROOT / "tests" / "data" / "blind"
REASONS = ("M", "F", "C", "P")
KINDS = ("event", "message")
TARGET_SHARE = 0.03  # at most 3% of genre 1 and genre 4 messages flagged
TARGET_GENRES = ("1", "4")
TARGET_PRECISION = 0.90  # on the labelled set, over (rule, item) pairs
TARGET_RECALL = 0.85
GENRE_NAMES = {
    "1": "company business",
    "2": "purely personal",
    "3": "personal, professional context",
    "4": "logistics / scheduling",
    "5": "employment arrangements",
    "6": "document editing",
    "7": "empty (missing attachment)",
    "8": "empty",
}
OUTSIDE_CONTACTS = """\
# Every correspondent is a client, so every rule looks at every message.
me: []
internal_domains: []
clients:
  - {name: Outside correspondents, domains: ["*"], status: active, relationship: friend}
"""
# --named: the companies Enron mail talks about most, as named clients who are friends;
# every sender in the corpus is "me" and Enron colleagues are internal, so the rules
# about what I say of clients (CL105, CL108, CL112) meet real text naming them.
NAMED_CLIENTS = (
    ("Pacific Gas and Electric", "PG&E", ["pge.com"], ["PG&E", "Pacific Gas"]),
    ("Southern California Edison", "Edison", ["sce.com"], ["SCE", "SoCal Edison"]),
    ("Dynegy", "Dynegy", ["dynegy.com"], []),
    ("Reliant Energy", "Reliant", ["reliant.com", "reliantenergy.com"], []),
    ("Calpine", "Calpine", ["calpine.com"], []),
    ("Duke Energy", "Duke Energy", ["duke-energy.com", "duke.com"], []),
    ("El Paso", "El Paso", ["elpaso.com"], []),
    ("Sempra Energy", "Sempra", ["sempra.com"], []),
    ("Mirant", "Mirant", ["mirant.com"], []),
    ("Williams", "Williams Energy", ["williams.com"], []),
)
ENRON_CONFIG = """\
timezone: America/Chicago
working_hours: {days: mon-fri, start: "08:00", end: "18:00"}
contacts: contacts.yaml
rules: [builtin]
window: {since: 1970-01-01, until: 2100-01-01}
"""


# ---------------------------------------------------------------------------- Enron


@dataclass
class GenreResult:
    genre: str
    read: int = 0
    problems: int = 0
    flagged: list[tuple[Item, list[Finding]]] = field(default_factory=list)

    @property
    def share(self) -> float:
        return len(self.flagged) / self.read if self.read else 0.0


def enron_setup(folder: Path) -> lintrun.Setup:
    """Configuration and contacts in ``folder``; every correspondent a friend-client.

    ``relationship: friend`` as well, so that rules limited to friends who are clients
    (CL106, CL110) are measured too: the strictest reading of the corpus.
    """
    (folder / "contacts.yaml").write_text(OUTSIDE_CONTACTS, encoding="utf-8")
    (folder / "clientline.yaml").write_text(ENRON_CONFIG, encoding="utf-8")
    return lintrun.prepare(str(folder / "clientline.yaml"))


def named_contacts(corpus: Path) -> str:
    """Every sender in the corpus as "me", Enron internal, ten named friend-clients."""
    senders = set()
    for output in iter_items([str(corpus)], WIDE):
        if not isinstance(output, Problem) and output.sender and "@" in output.sender.address:
            senders.add(output.sender.address.lower())
    lines = ["me:"]
    lines += [f"  - {yaml.safe_dump(a).splitlines()[0]}" for a in sorted(senders)]
    lines += ["internal_domains: [enron.com]", "clients:"]
    for name, org, domains, aliases in NAMED_CLIENTS:
        entry = {
            "name": name,
            "org": org,
            "domains": domains,
            "aliases": aliases,
            "status": "active",
            "relationship": "friend",
        }
        lines.append("  - " + yaml.safe_dump(entry, default_flow_style=True, width=1000).strip())
    return "\n".join(lines) + "\n"


WIDE = Window(
    dt.datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC")),
    dt.datetime(2100, 1, 1, tzinfo=ZoneInfo("UTC")),
    ZoneInfo("UTC"),
)


def lint_genres(corpus: Path = ENRON, named: bool = False) -> list[GenreResult]:
    with tempfile.TemporaryDirectory(prefix="clientline-quality-") as tmp:
        setup = enron_setup(Path(tmp))
        if named:
            (Path(tmp) / "contacts.yaml").write_text(named_contacts(corpus), encoding="utf-8")
            setup = lintrun.prepare(str(Path(tmp) / "clientline.yaml"))
        results = []
        for folder in sorted(p for p in corpus.iterdir() if p.is_dir()):
            result = GenreResult(folder.name)
            for output in iter_items([str(folder)], setup.window):
                if isinstance(output, Problem):
                    result.problems += 1
                    continue
                result.read += 1
                findings = list(setup.engine.check(output))
                if findings:
                    result.flagged.append((output, findings))
            results.append(result)
    return results


def print_genres(results: list[GenreResult], listed: Iterable[str], out: Any) -> None:
    print(f"Enron dev corpus: {ENRON}", file=out)
    print(
        f"{'genre':<5}  {'':<31}  {'read':>5}  {'flagged':>7}  {'share':>6}  {'target':>6}",
        file=out,
    )
    total_read = total_flagged = 0
    for r in results:
        target = f"<={TARGET_SHARE:.0%}" if r.genre in TARGET_GENRES else ""
        name = GENRE_NAMES.get(r.genre, "")
        print(
            f"{r.genre:<5}  {name:<31}  {r.read:>5}  {len(r.flagged):>7}  {r.share:>6.1%}"
            f"  {target:>6}",
            file=out,
        )
        total_read += r.read
        total_flagged += len(r.flagged)
    share = total_flagged / total_read if total_read else 0.0
    print(f"{'all':<5}  {'':<31}  {total_read:>5}  {total_flagged:>7}  {share:>6.1%}", file=out)
    rules = Counter(f.rule for r in results for _, fs in r.flagged for f in fs)
    if rules:
        print(
            "findings by rule: " + ", ".join(f"{k} {v}" for k, v in sorted(rules.items())), file=out
        )
    for r in results:
        if r.genre not in listed:
            continue
        print(f"\nFlagged in genre {r.genre} ({GENRE_NAMES.get(r.genre, '')}):", file=out)
        if not r.flagged:
            print("  (none)", file=out)
        for item, findings in r.flagged:
            ids = ",".join(sorted({f.rule for f in findings}))
            print(f"  {ids:<12} {Path(item.source).name:<10} {item.title[:90]!r}", file=out)
            for finding in findings:
                words = "; ".join(
                    f"{e.selection}={e.words!r}" for e in finding.evidence if e.field != "from"
                )
                print(f"      {finding.rule}: {words[:160]}", file=out)


# ---------------------------------------------------------------------- labelled set


@dataclass(frozen=True)
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def __add__(self, other: Scores) -> Scores:
        return Scores(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


@dataclass
class Evaluation:
    cases: list[Case]
    per_rule: dict[str, Scores]
    disagreements: list[tuple[Case, frozenset[str]]]  # (case, what fired)

    @property
    def overall(self) -> Scores:
        return sum(self.per_rule.values(), Scores())

    @property
    def positives(self) -> Counter[str]:
        return Counter(rule for case in self.cases for rule in case.expect)


def labelled_cases(folder: Path = LABELLED) -> Iterator[Case]:
    """Every item of the labelled set; the practice's owner organises events and sends
    messages unless an item says otherwise."""
    owner = contacts_module.load(str(folder / "contacts.yaml"))
    me = sorted(owner.me)[0]
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "contacts.yaml":
            continue
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for number, raw in enumerate(entries, 1):
            if isinstance(raw.get("event"), dict):
                raw["event"].setdefault("organizer", me)
            if isinstance(raw.get("message"), dict):
                raw["message"].setdefault("from", me)
            yield build(_located(raw), path.stem, path.name, number)


def _located(raw: Any) -> Any:
    """Plain YAML data in the located shape the case builder reads."""
    from linter.yamlfile import parse

    return parse(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "<labelled>")


def labelled_engine(folder: Path = LABELLED) -> Engine:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    if ruleset.errors:
        raise SystemExit("\n".join(str(e) for e in ruleset.errors))
    directory = contacts_module.load(str(folder / "contacts.yaml"))
    hours = WorkingHours(tz=ZoneInfo("Europe/London"))
    return Engine(ruleset.rules, ruleset.lexicons, directory, hours)


def evaluate(folder: Path = LABELLED) -> Evaluation:
    engine = labelled_engine(folder)
    cases = list(labelled_cases(folder))
    rules = [r.id for r in engine.rules]
    counts = {rule: Counter[str]() for rule in rules}
    disagreements = []
    for case in cases:
        fired = frozenset(f.rule for f in engine.check(case.item))
        for rule in rules:
            expected, got = rule in case.expect, rule in fired
            if expected and got:
                counts[rule]["tp"] += 1
            elif got:
                counts[rule]["fp"] += 1
            elif expected:
                counts[rule]["fn"] += 1
        if fired != case.expect:
            disagreements.append((case, fired))
    per_rule = {r: Scores(c["tp"], c["fp"], c["fn"]) for r, c in counts.items()}
    return Evaluation(cases, per_rule, disagreements)


def print_evaluation(result: Evaluation, out: Any) -> None:
    events = sum(1 for c in result.cases if c.item.kind == "event")
    negatives = sum(1 for c in result.cases if not c.expect)
    print(
        f"Labelled set: {len(result.cases)} items ({events} events, "
        f"{len(result.cases) - events} messages; {negatives} expect no finding)",
        file=out,
    )
    print(
        f"{'rule':<7} {'items':>5} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}",
        file=out,
    )
    positives = result.positives
    for rule, s in result.per_rule.items():
        print(
            f"{rule:<7} {positives[rule]:>5} {s.tp:>4} {s.fp:>4} {s.fn:>4} "
            f"{s.precision:>9.2f} {s.recall:>7.2f}",
            file=out,
        )
    s = result.overall
    print(
        f"{'overall':<7} {sum(positives.values()):>5} {s.tp:>4} {s.fp:>4} {s.fn:>4} "
        f"{s.precision:>9.2f} {s.recall:>7.2f}",
        file=out,
    )
    for case, fired in result.disagreements:
        want = ",".join(sorted(case.expect)) or "-"
        got = ",".join(sorted(fired)) or "-"
        print(f"  {case.item.locator} {case.name!r}: expected {want}, got {got}", file=out)


# ------------------------------------------------------------------------ blind sets


@dataclass(frozen=True)
class Judged:
    """One item of a blind set: what the labellers agreed on and what the pack said."""

    id: str
    item: Item
    truth: bool
    reasons: frozenset[str]
    fired: frozenset[str]
    findings: tuple[Finding, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.fired)


@dataclass
class BlindResult:
    name: str
    role: str
    judged: list[Judged]
    disagreed: int  # items left out: the labellers disagreed

    def scores(self, keep: Any = None) -> Scores:
        tp = fp = fn = 0
        for j in self.judged:
            if keep is not None and not keep(j):
                continue
            tp += j.truth and j.flagged
            fp += (not j.truth) and j.flagged
            fn += j.truth and not j.flagged
        return Scores(tp, fp, fn)


def blind_roles(folder: Path = BLIND) -> dict[str, str]:
    """Each set's role (``tuning`` or ``held-out``), from the table in the README."""
    roles = {}
    readme = folder / "README.md"
    if readme.is_file():
        for line in readme.read_text(encoding="utf-8").splitlines():
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if len(cells) >= 2 and cells[1] in ("tuning", "held-out", "final"):
                roles[cells[0]] = cells[1]
    return roles


def _labels(path: Path) -> dict[str, tuple[bool, frozenset[str]]]:
    import csv

    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = {}
    for row in rows:
        flag = (row.get("flag") or "").strip().lower() == "yes"
        reasons = frozenset(r.strip().upper() for r in (row.get("reasons") or "").split("+"))
        labels[row["id"].strip()] = (flag, reasons & set(REASONS))
    return labels


def evaluate_blind(folder: Path, role: str = "") -> BlindResult:
    """Run the default pack over one blind set, with its own contacts and hours."""
    setup = lintrun.prepare(str(folder / "clientline.yaml"))
    me = sorted(setup.engine.directory.me)[0]
    first = _labels(folder / "labels-writer.csv")
    second = _labels(folder / "labels-second.csv")
    entries = yaml.safe_load((folder / "items.yaml").read_text(encoding="utf-8")) or []
    judged, disagreed = [], 0
    for number, raw in enumerate(entries, 1):
        item_id = str(raw.pop("id"))
        (a_flag, a_reasons), (b_flag, b_reasons) = first[item_id], second[item_id]
        if a_flag != b_flag:
            disagreed += 1
            continue
        if isinstance(raw.get("event"), dict):
            raw["event"].setdefault("organizer", me)
        case = build(_located({"name": item_id, **raw, "expect": []}), "blind", folder.name, number)
        findings = tuple(setup.engine.check(case.item))
        judged.append(
            Judged(
                item_id,
                case.item,
                a_flag,
                (a_reasons | b_reasons) if a_flag else frozenset(),
                frozenset(f.rule for f in findings),
                findings,
            )
        )
    return BlindResult(folder.name, role, judged, disagreed)


def blind_sets(names: Iterable[str] = (), folder: Path = BLIND) -> list[BlindResult]:
    roles = blind_roles(folder)
    wanted = set(names)
    return [
        evaluate_blind(path, roles.get(path.name, "?"))
        for path in sorted(p for p in folder.iterdir() if (p / "items.yaml").is_file())
        if not wanted or path.name in wanted or roles.get(path.name) in wanted
    ]


def _f1(s: Scores) -> float:
    p, r = s.precision, s.recall
    return 2 * p * r / (p + r) if p + r else 0.0


def _row(label: str, s: Scores, positives: int, out: Any) -> None:
    print(
        f"  {label:<26} {positives:>5} {s.tp:>4} {s.fp:>4} {s.fn:>4} "
        f"{s.precision:>6.2f} {s.recall:>6.2f} {_f1(s):>6.2f}",
        file=out,
    )


def print_blind(results: list[BlindResult], out: Any, misses: bool = False) -> None:
    header = (
        f"  {'':<26} {'pos':>5} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>6} {'recall':>6} {'F1':>6}"
    )
    groups: list[tuple[str, list[BlindResult]]] = [(r.name, [r]) for r in results]
    for role in ("tuning", "held-out", "final"):
        members = [r for r in results if r.role == role]
        if members and len(members) < len(results):
            groups.append((f"all {role}", members))
    if len(results) > 1:
        groups.append(("all sets", results))
    for label, members in groups:
        judged = [j for r in members for j in r.judged]
        merged = BlindResult(label, "", judged, sum(r.disagreed for r in members))
        role = f" ({members[0].role})" if len(members) == 1 else ""
        print(
            f"{label}{role}: {len(judged)} items agreed ({merged.disagreed} left out), "
            f"{sum(j.truth for j in judged)} yes",
            file=out,
        )
        print(header, file=out)
        _row("all items", merged.scores(), sum(j.truth for j in judged), out)
        for kind in KINDS:
            scores = merged.scores(lambda j, kind=kind: j.item.kind == kind)
            _row(kind, scores, sum(j.truth for j in judged if j.item.kind == kind), out)
        for reason in REASONS:
            # recall only: a false alarm has no reason
            scores = merged.scores(lambda j, reason=reason: reason in j.reasons)
            _row(f"reason {reason} (recall)", scores, scores.tp + scores.fn, out)
        rules = Counter(rule for j in judged for rule in j.fired)
        wrong = Counter(rule for j in judged if not j.truth for rule in j.fired)
        print(
            "  rules fired (of them on a no): "
            + ", ".join(f"{k} {v} ({wrong[k]})" for k, v in sorted(rules.items())),
            file=out,
        )
        print(file=out)
    if not misses:
        return
    for result in results:
        if result.role in ("held-out", "final"):
            print(f"{result.name}: {result.role}; its misses are not shown", file=out)
            continue
        print(f"Disagreements in {result.name}:", file=out)
        for j in result.judged:
            if j.truth == j.flagged:
                continue
            what = "missed" if j.truth else "false alarm " + ",".join(sorted(j.fired))
            reasons = "+".join(sorted(j.reasons))
            print(f"  {j.id:<5} {what} {reasons} {j.item.title[:70]!r}", file=out)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labelled", action="store_true", help="score the labelled set")
    parser.add_argument("--blind", action="store_true", help="score the blind sets only")
    parser.add_argument(
        "--sets", default="", help="blind sets (names, or tuning / held-out), comma-separated"
    )
    parser.add_argument("--misses", action="store_true", help="list a tuning set's wrong items")
    parser.add_argument("--list", default=",".join(TARGET_GENRES), help="genres to list flags for")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--named",
        action="store_true",
        help="senders are 'me', ten energy companies are named friend-clients",
    )
    args = parser.parse_args(argv)
    out = sys.stdout
    missed = []
    if args.labelled:
        result = evaluate()
        print_evaluation(result, out)
        s = result.overall
        if s.precision < TARGET_PRECISION or s.recall < TARGET_RECALL:
            missed.append("labelled precision/recall")
    else:
        names = [n.strip() for n in args.sets.split(",") if n.strip()]
        print_blind(blind_sets(names), out, args.misses)
        if args.blind:
            return 0
        if not ENRON.is_dir():
            print(f"no corpus at {ENRON}", file=sys.stderr)
            return 2
        began = dt.datetime.now()
        results = lint_genres(named=args.named)
        print_genres(results, {g.strip() for g in args.list.split(",")}, out)
        seconds = (dt.datetime.now() - began).total_seconds()
        print(f"\n({seconds:.1f} s)", file=out)
        missed += [
            f"genre {r.genre}"
            for r in results
            if r.genre in TARGET_GENRES and r.share > TARGET_SHARE
        ]
    if missed:
        print("target missed: " + ", ".join(missed), file=out)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
