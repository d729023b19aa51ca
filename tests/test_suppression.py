"""Inline markers, baselines, directory checks and rule-pack meta-checks."""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap
from pathlib import Path

import pytest

from linter import contacts, packs, ruletests
from linter.engine import Engine, suppress
from linter.engine.scanner import FIRST_PASS_LIMIT, available_backends
from linter.model import Message, Participant

from .conftest import ROOT, eml

DRINKS = "Fancy drinks on Friday? We could also go over the contract renewal and your fees."


def _engine() -> Engine:
    ruleset = packs.load([Path(packs.default_pack())])
    directory = contacts.load(str(ROOT / "rules" / "default" / "contacts.yaml"))
    return Engine(ruleset.rules, ruleset.lexicons, directory)


def _message(body: str, quoted: str = "") -> Message:
    return Message(
        source="t",
        locator="1",
        id="<m@x>",
        title="Drinks Friday?",
        body=body,
        quoted=quoted,
        sender=Participant("sam@studio.example", role="from"),
        recipients=(Participant("dana@acme.example", role="to"),),
    )


def test_markers_are_parsed_from_new_text_only() -> None:
    item = _message(
        "hello\nClientline: ignore cl101, CL102 -- agreed with Dana\n",
        quoted="clientline: ignore CL103 -- old",
    )
    (marker,) = suppress.markers(item)
    assert marker.rules == ("CL101", "CL102")
    assert marker.reason == "agreed with Dana"
    assert marker.field == "body"


def test_a_marker_with_a_reason_suppresses_only_the_rule_it_names() -> None:
    engine = _engine()
    plain = {f.rule for f in engine.check(_message(DRINKS))}
    assert "CL102" in plain
    marked = list(engine.check(_message(DRINKS + "\nclientline: ignore CL102 -- Dana asked")))
    (suppressed,) = [f for f in marked if f.suppressed]
    assert suppressed.rule == "CL102" and suppressed.suppression_reason == "Dana asked"
    assert {f.rule for f in marked if not f.suppressed} == plain - {"CL102"}


def test_a_marker_without_a_reason_is_a_finding() -> None:
    marked = list(_engine().check(_message(DRINKS + "\nclientline: ignore CL102")))
    assert [f.rule for f in marked if not f.suppressed] == ["CL001"]
    (finding,) = [f for f in marked if f.rule == "CL001"]
    assert "without a reason" in finding.message
    assert finding.evidence[0].field == "body"


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize(
    ("where", "padding"), [("title", 0), ("body", 0), ("body", FIRST_PASS_LIMIT), ("location", 0)]
)
def test_a_marker_is_found_in_any_case_and_field(backend: str, where: str, padding: int) -> None:
    """Markers are looked for only where the engine's first pass says one may be (or
    everywhere, in a text too long for that pass): none may slip through it."""
    ruleset = packs.load([Path(packs.default_pack())])
    directory = contacts.load(str(ROOT / "rules" / "default" / "contacts.yaml"))
    engine = Engine(ruleset.rules, ruleset.lexicons, directory, backend=backend)
    fields = {"title": "Drinks Friday?", "body": DRINKS + "\n" + "Weather. " * (padding // 9)}
    fields[where] = fields.get(where, "") + "\nClientLine:IGNORE cl102 -- Dana asked"
    item = dataclasses.replace(_message(""), **fields)
    found = list(engine.check(item))
    assert [(f.rule, f.suppression_reason) for f in found if f.suppressed] == [
        ("CL102", "Dana asked")
    ]


@pytest.mark.parametrize(
    ("marker", "problem"),
    [
        ("clientline: ignore CL104 -- fine", "does not fire here"),
        ("clientline: ignore CL999 -- fine", "not an enabled rule"),
        ("clientline: ignore -- fine", "names no rule id"),
    ],
)
def test_a_marker_that_suppresses_nothing_is_reported(marker: str, problem: str) -> None:
    found = list(_engine().check(_message("See you at the match on Saturday!\n" + marker)))
    (finding,) = found
    assert finding.rule == "CL002" and problem in finding.message


def test_meta_findings_have_distinct_stable_fingerprints() -> None:
    item = _message("hi\nclientline: ignore CL104 -- a\nclientline: ignore CL103 -- b")
    first = [f.fingerprint for f in _engine().check(item)]
    assert len(set(first)) == 2
    assert first == [f.fingerprint for f in _engine().check(item)]


def test_baseline_hides_accepted_findings_and_reports_stale_ones(run_cli, practice: Path) -> None:
    mail = practice / "mail"
    mail.mkdir()
    (mail / "a.eml").write_text(
        eml("Drinks Friday?", DRINKS, "sam@studio.example", "dana@acme.example", "<a@x>")
    )
    config = str(practice / "clientline.yaml")
    baseline = practice / "baseline.json"
    result = run_cli("lint", str(mail), "--config", config, "--write-baseline", str(baseline))
    assert result.exit_code == 0
    entries = json.loads(baseline.read_text())["findings"]
    assert [e["rule"] for e in entries] == ["CL102"] and entries[0]["item"] == "<a@x>"
    assert "evidence" not in entries[0]  # a baseline keeps no content

    result = run_cli("lint", str(mail), "--config", config, "--baseline", str(baseline))
    assert result.exit_code == 0
    assert "1 in the baseline" in result.stdout

    (mail / "b.eml").write_text(
        eml(
            "Supper at ours?",
            "Supper at ours on Friday? Bring the invoice for the retainer and we can settle it.",
            "sam@studio.example",
            "dana@acme.example",
            "<b@x>",
        )
    )
    (mail / "a.eml").write_text(
        eml(
            "Drinks Friday?",
            "Fancy drinks on Friday?",
            "sam@studio.example",
            "dana@acme.example",
            "<a@x>",
        )
    )
    result = run_cli(
        "lint", str(mail), "--config", config, "--baseline", str(baseline), "--format", "json"
    )
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert [f["item"]["id"] for f in document["findings"]] == ["<b@x>"]
    assert [e["item"] for e in document["summary"]["stale_baseline"]] == ["<a@x>"]
    text = run_cli("lint", str(mail), "--config", config, "--baseline", str(baseline))
    assert "no longer matches anything" in text.stderr


def test_a_broken_baseline_is_a_usage_error(run_cli, practice: Path) -> None:
    (practice / "b.json").write_text("{")
    result = run_cli(
        "lint",
        str(practice),
        "--config",
        str(practice / "clientline.yaml"),
        "--baseline",
        str(practice / "b.json"),
    )
    assert result.exit_code == 2
    assert "b.json: not a baseline file" in result.stderr


def test_directory_check_speaks_only_of_clients_in_the_data(run_cli, practice: Path) -> None:
    config = str(practice / "clientline.yaml")
    empty = practice / "empty"
    empty.mkdir()
    assert run_cli("lint", str(empty), "--config", config).exit_code == 0
    (empty / "j.eml").write_text(
        eml("Hallo", "Bis bald!", "jonas@elbe-logistik.example", "sam@studio.example", "<j@x>")
    )
    result = run_cli("lint", str(empty), "--config", config)
    assert result.exit_code == 1
    assert "CL120" in result.stdout and "contacts.yaml:" in result.stdout
    # the directory check over every client, as the worker runs it
    engine = _engine()
    assert [f.item.title for f in engine.check_directory()] == ["Jonas Müller (Elbe Logistik GmbH)"]


def _pack(tmp_path: Path, name: str, rules: dict[str, str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file_name, text in rules.items():
        (folder / file_name).write_text(textwrap.dedent(text))
    return folder


RULE = """\
    id: {id}
    name: {name}
    title: Drinks with a client
    severity: info
    applies_to: [event]
    principles: [P1]
    select:
      drinks: {{title|contains: drinks}}
      {extra}
    condition: drinks
    message: "'{{item.title}}' is drinks"
    advice: Enjoy them.
    tests:
      - name: fires
        event: {{title: "Drinks"}}
        expect: [{id}]
"""


def test_meta_checks_on_rule_packs(tmp_path: Path) -> None:
    pack = _pack(
        tmp_path,
        "mine",
        {
            "XY101-drinks.yaml": RULE.format(id="XY101", name="drinks", extra=""),
            "XY102-drinks-again.yaml": RULE.format(id="XY102", name="drinks", extra=""),
            "XY103-unused.yaml": RULE.format(
                id="XY103", name="unused", extra="lunch: {title|contains: lunch}"
            ),
            "CL001-reserved.yaml": RULE.format(id="CL001", name="reserved", extra=""),
        },
    )
    errors = [str(e) for e in packs.load([pack]).errors]
    assert any(
        "XY102-drinks-again.yaml" in e and "name drinks is already used" in e for e in errors
    ), errors
    assert any(
        "XY103-unused.yaml:9:3:" in e and "selection `lunch` is never used" in e for e in errors
    ), errors
    assert any("CL001-reserved.yaml" in e and "reserved" in e for e in errors), errors


def test_coverage_fails_a_rule_without_a_quiet_case(tmp_path: Path, run_cli) -> None:
    pack = _pack(
        tmp_path, "mine", {"XY101-drinks.yaml": RULE.format(id="XY101", name="drinks", extra="")}
    )
    ruleset = packs.load([pack])
    cases, _ = ruletests.collect(ruleset)
    assert ruletests.coverage(ruleset, cases) == {"XY101": ["no case that keeps it quiet"]}
    result = run_cli("rules", "test", str(pack), "--coverage")
    assert result.exit_code == 1
    assert "UNCOVERED" in result.stdout and "XY101: no case that keeps it quiet" in result.stdout
    assert run_cli("rules", "test", "--coverage").exit_code == 0  # the default pack is covered


def test_a_pack_installed_through_the_entry_point_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    # what `pip install clientline-pack-drinks` leaves on sys.path
    site = tmp_path / "site"
    module = site / "drinks_pack"
    module.mkdir(parents=True)
    (module / "__init__.py").write_text(
        "from pathlib import Path\n\n"
        "def folder() -> str:\n    return str(Path(__file__).parent / 'rules')\n"
    )
    _pack(module, "rules", {"XY101-drinks.yaml": RULE.format(id="XY101", name="drinks", extra="")})
    info = site / "drinks_pack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: drinks-pack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[clientline.rules]\ndrinks = drinks_pack:folder\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "drinks_pack", raising=False)
    assert "drinks" in packs.installed()
    result = run_cli("rules", "list", "--rules", "drinks")
    assert result.exit_code == 0 and "XY101" in result.stdout and "CL101" in result.stdout
