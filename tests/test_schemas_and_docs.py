"""JSON Schemas, rule pages and the rule-language reference stay true to the loaders.

* Every shipped rule, lexicon, contacts and configuration file validates against its
  schema, and the schemas reject the usual mistakes.
* The schemas list exactly the keys and modifiers the loaders accept (a new key in a
  loader without a schema entry fails here), and document every property.
* ``clientline rules schema`` prints each schema.
* ``docs/rules/`` is what ``clientline rules docs`` generates from the default pack.
* Every example in ``docs/rules.md`` loads through the real loaders, validates against
  its schema, and the complete rules' test cases pass.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from linter import config as config_module
from linter import contacts as contacts_module
from linter import packs, ruledocs, schemas
from linter.engine import Engine, cases, predicates
from linter.engine import lexicon as lexicon_module
from linter.engine import rules as rules_module
from linter.lintrun import FileCache
from linter.model import ITEM_KINDS, Severity
from linter.yamlfile import ConfigError, parse

from .conftest import EXAMPLES, ROOT

RULES = ROOT / "rules"
DOCS = ROOT / "docs"
REFERENCE = DOCS / "rules.md"


def plain(value: Any) -> Any:
    """YAML as a language server sees it: dates and times stay text (YAML 1.2)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def load_yaml(path: Path) -> Any:
    return plain(yaml.safe_load(path.read_text(encoding="utf-8")))


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schemas.load(name))


def errors(name: str, data: Any) -> list[str]:
    """Every complaint, with those of the alternatives inside `anyOf` and `oneOf`."""
    found = []
    pending = list(validator(name).iter_errors(data))
    while pending:
        error = pending.pop(0)
        found.append(f"{'/'.join(map(str, error.absolute_path)) or '<top>'}: {error.message}")
        pending += error.context or []
    return found


def rule_files() -> list[Path]:
    return sorted(p for p in RULES.glob("*/*.y*ml") if re.match(r"[A-Z]{2,5}\d{3,4}-", p.name))


def lexicon_files() -> list[Path]:
    return sorted(RULES.glob("**/lexicons/*.y*ml"))


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


# ------------------------------------------------------------------ schemas ----


@pytest.mark.parametrize("name", schemas.names())
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = schemas.load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] and schema["description"]


def test_schema_names_and_unknown_name() -> None:
    assert schemas.names() == ("rule", "lexicon", "contacts", "config")
    with pytest.raises(KeyError):
        schemas.load("rules")


@pytest.mark.parametrize("path", rule_files(), ids=ids(rule_files()))
def test_shipped_rule_validates(path: Path) -> None:
    assert errors("rule", load_yaml(path)) == []


@pytest.mark.parametrize("path", lexicon_files(), ids=ids(lexicon_files()))
def test_shipped_lexicon_validates(path: Path) -> None:
    assert errors("lexicon", load_yaml(path)) == []


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("contacts", RULES / "default" / "contacts.yaml"),
        ("contacts", EXAMPLES / "contacts.yaml"),
        ("config", EXAMPLES / "clientline.yaml"),
    ],
    ids=["rules/default/contacts.yaml", "examples/contacts.yaml", "examples/clientline.yaml"],
)
def test_shipped_contacts_and_config_validate(name: str, path: Path) -> None:
    assert errors(name, load_yaml(path)) == []


def test_there_is_something_to_validate() -> None:
    assert len(rule_files()) >= 5 and len(lexicon_files()) >= 5


RULE = load_yaml(RULES / "default" / "CL101-business-agenda-at-social-occasion.yaml")


def with_changes(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = json.loads(json.dumps(data))
    for key, value in changes.items():
        if value is None:
            changed.pop(key, None)
        else:
            changed[key] = value
    return changed


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"aplies_to": ["event"], "applies_to": None}, "'aplies_to' was unexpected"),
        ({"severity": "critical"}, "'critical' is not one of"),
        ({"id": "cl101"}, "does not match"),
        ({"id": "CL1"}, "does not match"),
        ({"principles": ["p1"]}, "is not valid under any of the given schemas"),
        ({"applies_to": ["email"]}, "is not valid under any of the given schemas"),
        ({"name": "Business Agenda"}, "does not match"),
        ({"advice": None}, "'advice' is a required property"),
        ({"select": {"client": {"participants|clent": True}}}, "does not match"),
        ({"select": {"client": {"text|lexicon": {"name": "social", "mn": 2}}}}, "not valid"),
        ({"select": {"late": {"start|hour": "evening"}}}, "not valid"),
        ({"select": {"x": {"body|mentions": "another_client"}}}, "not one of"),
        ({"select": {"bad name": {"text|contains": "x"}}}, "does not match"),
        ({"tests": [{"name": "no item", "expect": []}]}, "is not valid"),
        ({"tests": [{"event": {"titel": "x"}, "expect": []}]}, "'titel' was unexpected"),
    ],
)
def test_rule_schema_rejects_typical_mistakes(change: dict[str, Any], expected: str) -> None:
    found = errors("rule", with_changes(RULE, **change))
    assert found, f"the schema accepted {change}"
    assert any(expected in e for e in found), found


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("lexicon", {"name": "x", "terms": []}, "should be non-empty"),
        ("lexicon", {"name": "X y", "terms": ["a"]}, "does not match"),
        ("lexicon", {"name": "x", "terms": [{"term": "a", "wieght": 2}]}, "not valid"),
        ("lexicon", {"name": "x", "terms": [{"term": "a", "weight": 0}]}, "not valid"),
        ("contacts", {"client": []}, "'client' was unexpected"),
        ("contacts", {"clients": [{"name": "A", "emails": ["a@x"], "status": "past"}]}, "past"),
        ("contacts", {"clients": [{"name": "A"}]}, "is not valid"),
        ("contacts", {"clients": [{"name": "A", "domains": ["x"], "since": "2021"}]}, "match"),
        ("config", {"timezon": "Europe/London"}, "'timezon' was unexpected"),
        ("config", {"working_hours": {"start": "9am"}}, "does not match"),
        ("config", {"severity": {"CL101": "loud"}}, "'loud' is not one of"),
        ("config", {"lexicons": {"social": {"add": ["x"], "drop": ["y"]}}}, "'drop'"),
        (
            "config",
            {
                "digest": {
                    "to": ["a@x"],
                    "from": "b@x",
                    "transport": "smtp",
                    "smtp": {"host": "h", "password": "secret"},
                }
            },
            "'password' was unexpected",
        ),
        ("config", {"digest": {"to": ["a@x"], "from": "b@x", "transport": "smtp"}}, "'smtp'"),
        ("config", {"schedule": {"scan_every": "soon"}}, "not valid"),
        ("config", {"retention_days": 0}, "less than the minimum"),
    ],
)
def test_other_schemas_reject_typical_mistakes(name: str, data: Any, expected: str) -> None:
    found = errors(name, data)
    assert found, f"the {name} schema accepted {data}"
    assert any(expected in e for e in found), found


# ---------------------------------------------- schemas match the loaders ----

DRIFT = "linter/schemas/{}.json is out of step with the loader: {}"


def props(schema: dict[str, Any], *path: str) -> dict[str, Any]:
    node = schema
    for key in path:
        node = node[key]
    properties: dict[str, Any] = node["properties"]
    return properties


def test_rule_schema_keys_match_the_loader() -> None:
    rule = schemas.load("rule")
    assert list(props(rule)) == list(rules_module.RULE_KEYS), DRIFT.format("rule", "keys")
    assert sorted(rule["required"]) == sorted(rules_module.REQUIRED)
    assert sorted(props(rule, "$defs", "case")) == sorted(cases.CASE_KEYS)
    assert list(props(rule, "$defs", "case", "properties", "event")) == list(cases.EVENT_KEYS)
    assert list(props(rule, "$defs", "case", "properties", "message")) == list(cases.MESSAGE_KEYS)
    kinds = rule["properties"]["applies_to"]["anyOf"][0]["enum"]
    assert kinds == list(ITEM_KINDS), DRIFT.format("rule", "applies_to")
    assert rule["properties"]["severity"]["enum"] == [s.name.lower() for s in Severity]


def test_rule_schema_selection_keys_match_the_loader() -> None:
    rule = schemas.load("rule")
    entry = rule["$defs"]["entry"]
    expected = {
        f"{field}|{modifier}"
        for fields, modifiers in (
            (predicates.TEXT_FIELDS, predicates.TEXT_MODIFIERS),
            (predicates.PARTICIPANT_FIELDS, predicates.PARTICIPANT_MODIFIERS),
            (predicates.TIME_FIELDS, predicates.TIME_MODIFIERS),
        )
        for field, modifier in product(fields, modifiers)
    }
    assert set(entry["properties"]) == expected, DRIFT.format("rule", "field|modifier keys")
    assert entry["additionalProperties"] is False
    names = re.compile(entry["propertyNames"]["pattern"])
    assert all(names.match(key) for key in expected)
    assert not any(names.match(k) for k in ("text|lexicn", "title", "start|hours", "me|client"))


def test_other_schema_keys_match_the_loaders() -> None:
    lexicon = schemas.load("lexicon")
    assert list(props(lexicon)) == list(lexicon_module.LEXICON_KEYS)
    assert list(props(lexicon, "$defs", "term")) == list(lexicon_module.TERM_KEYS)
    contacts = schemas.load("contacts")
    assert list(props(contacts)) == list(contacts_module.TOP_KEYS)
    client = contacts["$defs"]["client"]
    assert list(client["properties"]) == list(contacts_module.CLIENT_KEYS)
    assert client["properties"]["status"]["enum"] == list(contacts_module.STATUSES)
    assert client["properties"]["relationship"]["enum"] == list(contacts_module.RELATIONSHIPS)
    assert schemas.load("rule")["$defs"]["client"] == client, "rule.json copies the client"
    config = schemas.load("config")
    assert list(props(config)) == list(config_module.KEYS), DRIFT.format("config", "keys")
    digest = props(config, "properties", "digest")
    assert sorted(digest) == sorted(config_module.DIGEST_KEYS)
    assert sorted(props(config, "properties", "digest", "properties", "smtp")) == sorted(
        config_module.SMTP_KEYS
    )
    assert digest["transport"]["enum"] == list(config_module.TRANSPORTS)


BOGUS = "zzzzzzzz"  # far from every real key, so the loader's hint lists them all


def loader_keys(load: Callable[[], object]) -> set[str]:
    """The keys a loader accepts, read from its error about an unknown key."""
    with pytest.raises(ConfigError) as caught:
        load()
    hint = caught.value.hint
    assert hint.startswith("expected one of: "), str(caught.value)
    return set(hint.removeprefix("expected one of: ").split(", "))


def rule_loader(selection: str) -> Callable[[], object]:
    text = (
        "id: XX999\nname: x\ntitle: x\nseverity: info\napplies_to: [message]\n"
        f"principles: [P1]\nselect:\n  s: {selection}\ncondition: s\nmessage: x\nadvice: x\n"
    )
    return lambda: rules_module.from_data(parse(text, "t.yaml"), "t.yaml", {"social", "business"})


def config_loader(tmp_path: Path, text: str) -> Callable[[], object]:
    path = tmp_path / "clientline.yaml"
    path.write_text(text, encoding="utf-8")
    return lambda: config_module.load(str(path))


NESTED = [
    (
        "rule",
        ("$defs", "text.near"),
        lambda _: rule_loader(f"{{body|near: {{a: social, b: business, {BOGUS}: 1}}}}"),
    ),
    (
        "rule",
        ("$defs", "text.mentions", "anyOf", 1),
        lambda _: rule_loader(f"{{body|mentions: {{near: social, {BOGUS}: 1}}}}"),
    ),
    (
        "rule",
        ("$defs", "text.lexicon", "anyOf", 2),
        lambda _: rule_loader(f"{{body|lexicon: {{name: social, {BOGUS}: 1}}}}"),
    ),
    (
        "lexicon",
        ("$defs", "term"),
        lambda _: (
            lambda: lexicon_module.from_data(
                parse(f"name: x\nterms:\n  - {{term: a, {BOGUS}: 1}}\n", "l.yaml"), "l.yaml"
            )
        ),
    ),
    (
        "contacts",
        ("$defs", "client"),
        lambda _: (
            lambda: contacts_module.loads(
                f"clients:\n  - {{name: A, emails: [a@x.example], {BOGUS}: 1}}\n"
            )
        ),
    ),
    ("contacts", (), lambda _: lambda: contacts_module.loads(f"{BOGUS}: 1\n")),
    ("config", (), lambda tmp: config_loader(tmp, f"{BOGUS}: 1\n")),
    (
        "config",
        ("properties", "working_hours"),
        lambda tmp: config_loader(tmp, f"working_hours: {{{BOGUS}: 1}}\n"),
    ),
    (
        "config",
        ("properties", "window"),
        lambda tmp: config_loader(tmp, f"window: {{{BOGUS}: 1}}\n"),
    ),
    (
        "config",
        ("properties", "schedule"),
        lambda tmp: config_loader(tmp, f"schedule: {{{BOGUS}: 1}}\n"),
    ),
    (
        "config",
        ("properties", "lexicons", "additionalProperties"),
        lambda tmp: config_loader(tmp, f"lexicons: {{social: {{{BOGUS}: [x]}}}}\n"),
    ),
    (
        "config",
        ("properties", "digest"),
        lambda tmp: config_loader(
            tmp, f"digest: {{to: [a@x.example], from: b@x.example, {BOGUS}: 1}}\n"
        ),
    ),
    (
        "config",
        ("properties", "digest", "properties", "smtp"),
        lambda tmp: config_loader(
            tmp,
            f"digest: {{to: [a@x.example], from: b@x.example, smtp: {{host: h, {BOGUS}: 1}}}}\n",
        ),
    ),
]


@pytest.mark.parametrize(
    ("name", "path", "make"), NESTED, ids=[f"{n}:{'/'.join(map(str, p))}" for n, p, _ in NESTED]
)
def test_schema_options_match_what_the_loader_accepts(
    name: str, path: tuple[Any, ...], make: Any, tmp_path: Path
) -> None:
    node: Any = schemas.load(name)
    for key in path:
        node = node[key]
    accepted = loader_keys(make(tmp_path))
    assert set(node["properties"]) == accepted, DRIFT.format(name, "/".join(map(str, path)))
    assert node.get("additionalProperties") is False


def walk_properties(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            yield f"{where}/{name}", sub
        for key, sub in node.items():
            if key not in ("if", "then", "else", "not"):  # conditions, not documentation
                yield from walk_properties(sub, f"{where}/{key}")
    elif isinstance(node, list):
        for index, sub in enumerate(node):
            yield from walk_properties(sub, f"{where}/{index}")


@pytest.mark.parametrize("name", schemas.names())
def test_every_property_is_documented_and_its_examples_are_valid(name: str) -> None:
    schema = schemas.load(name)
    seen = 0
    for where, prop in walk_properties(schema):
        seen += 1
        missing = [k for k in ("title", "description", "examples") if not prop.get(k)]
        assert not missing, f"{name}.json {where} lacks {missing}"
        check = Draft202012Validator({**prop, "$defs": schema.get("$defs", {})})
        for example in prop["examples"]:
            problems = [e.message for e in check.iter_errors(example)]
            assert not problems, f"{name}.json {where}: example {example!r}: {problems}"
    assert seen >= 5


# ------------------------------------------------------------------ command ----


def test_rules_schema_prints_each_schema(run_cli) -> None:
    default = run_cli("rules", "schema")
    assert default.exit_code == 0
    assert json.loads(default.output) == schemas.load("rule")
    for name in schemas.names():
        result = run_cli("rules", "schema", name)
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == schemas.load(name)
    wrong = run_cli("rules", "schema", "rules")
    assert wrong.exit_code == 2 and "rules" in wrong.output


# --------------------------------------------------------------- rule pages ----


@pytest.fixture(scope="module")
def default_pack() -> packs.RuleSet:
    return ruledocs.load_default()


def test_rule_pages_are_current(default_pack: packs.RuleSet) -> None:
    pages = ruledocs.generate(default_pack, DOCS / "rules", cache=FileCache())
    stale = ruledocs.outdated(pages, DOCS / "rules")
    assert not stale, (
        f"docs/rules/ is out of date ({', '.join(stale)}): "
        "run `clientline rules docs` and commit the pages"
    )


def test_rule_pages_say_what_why_example_instead_and_configuration(
    default_pack: packs.RuleSet,
) -> None:
    pages = ruledocs.generate(default_pack, DOCS / "rules", cache=FileCache())
    principles = packs.principles()
    assert set(pages) == {f"{r.id}.md" for r in default_pack.rules} | {"README.md"}
    for rule in default_pack.rules:
        page = pages[f"{rule.id}.md"]
        assert page.startswith(f"# {rule.id}: {rule.title}\n")
        for part in (
            f"| Name | `{rule.name}` |",
            f"| Severity | {rule.severity} |",
            "## What it does",
            "## Why",
            "## What to do instead",
            "## Configuration",
            f"disable: [{rule.id}]",
            f"severity: {{{rule.id}: ",
            " ".join(rule.advice.split()),
        ):
            assert part in page, f"{rule.id}: {part!r} missing"
        for principle in rule.principles:
            summary = " ".join(principles[principle]["summary"].split())
            assert f"**{principle}.** {summary}" in page
            assert principles[principle]["source"]["file"] in page
        if any(rule.id in (case.get("expect") or []) for case in rule.tests):
            assert "## Example" in page and "**Flagged:**" in page
            assert f"{rule.id}  {rule.severity}  " in page, f"{rule.id}: no reported message"
        if any(rule.id not in (case.get("expect") or []) for case in rule.tests):
            assert "**Not flagged:**" in page
        assert f"[{rule.id}]({rule.id}.md)" in pages["README.md"]


def test_rule_page_example_reads_like_the_item(default_pack: packs.RuleSet) -> None:
    page = ruledocs.generate(default_pack, DOCS / "rules", cache=FileCache())["CL101.md"]
    assert "Event      Q3 contract review over drinks" in page
    assert "dana@acme.example (Dana Ng, Acme Ltd: client, friend)" in page
    assert "- **client**: someone taking part is a client" in page
    assert "- unless **working_meal**: " in page


def test_rules_docs_writes_checks_and_prunes(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "pages"
    out.mkdir()
    (out / "CL999.md").write_text("a rule that is gone\n")
    (out / "notes.md").write_text("not ours\n")
    assert run_cli("rules", "docs", "--output", str(out), "--check").exit_code == 1
    written = run_cli("rules", "docs", "--output", str(out))
    assert written.exit_code == 0, written.output
    expected = ruledocs.generate(ruledocs.load_default(), out, cache=FileCache())
    assert {p.name for p in out.iterdir()} == set(expected) | {"notes.md"}
    assert all((out / n).read_text(encoding="utf-8") == t for n, t in expected.items())
    assert run_cli("rules", "docs", "--output", str(out), "--check").exit_code == 0
    (out / "CL101.md").write_text("edited by hand\n")
    check = run_cli("rules", "docs", "--output", str(out), "--check")
    assert check.exit_code == 1
    assert "CL101.md" in check.output and "clientline rules docs" in check.output


# ---------------------------------------------------- the language reference ----

# what a `yaml select` fragment leaves out of a rule
TEMPLATE = {
    "id": "XX999",
    "name": "docs-example",
    "title": "An example from docs/rules.md",
    "severity": "info",
    "applies_to": "[event, message]",
    "principles": "[P1]",
    "message": "example",
    "advice": "example",
}


def complete(fragment: str, where: str) -> str:
    """A `select` fragment made a whole rule file (keeping its own lines and numbers)."""
    given = parse(fragment, where)
    extra = "".join(f"{k}: {v}\n" for k, v in TEMPLATE.items() if k not in given)
    return fragment + extra


def doc_examples() -> list[tuple[str, int, str]]:
    """(kind, line, YAML) for every ```yaml KIND block of docs/rules.md."""
    found = []
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = re.match(r"^```yaml (\w+)\s*$", lines[index])
        index += 1
        if not match:
            continue
        start = index
        while not lines[index].startswith("```"):
            index += 1
        found.append((match.group(1), start + 1, "\n".join(lines[start:index]) + "\n"))
    return found


EXAMPLES_IN_DOCS = doc_examples()


def test_the_reference_has_examples_of_every_kind() -> None:
    kinds = [kind for kind, _, _ in EXAMPLES_IN_DOCS]
    assert set(kinds) == {"rule", "select", "lexicon", "contacts", "config"}
    assert kinds.count("select") >= 10 and kinds.count("rule") >= 2


def test_the_reference_shows_every_key_and_modifier() -> None:
    shown = "\n".join(text for kind, _, text in EXAMPLES_IN_DOCS if kind in ("rule", "select"))
    modifiers = (
        *predicates.TEXT_MODIFIERS,
        *predicates.PARTICIPANT_MODIFIERS,
        *predicates.TIME_MODIFIERS,
    )
    missing = [m for m in modifiers if f"|{m}:" not in shown]
    assert not missing, f"docs/rules.md has no example of {missing}"
    assert "min:" in shown and " of sel_*" in shown and "not " in shown and "(" in shown
    reference = REFERENCE.read_text(encoding="utf-8")
    for key in (*rules_module.RULE_KEYS, *lexicon_module.TERM_KEYS, *cases.CASE_KEYS):
        assert f"`{key}`" in reference, f"docs/rules.md does not describe `{key}`"
    for placeholder in rules_module.ITEM_PLACEHOLDERS:
        assert f"{{item.{placeholder}}}" in reference


@pytest.fixture(scope="module")
def lexicons(default_pack: packs.RuleSet) -> Any:
    return default_pack.lexicons


@pytest.mark.parametrize(
    ("kind", "line", "text"),
    EXAMPLES_IN_DOCS,
    ids=[f"rules.md:{line}-{kind}" for kind, line, _ in EXAMPLES_IN_DOCS],
)
def test_reference_example_loads(
    kind: str, line: int, text: str, lexicons: Any, tmp_path: Path
) -> None:
    where = f"docs/rules.md:{line}"
    if kind == "select":
        text, kind = complete(text, where), "rule"
    data = parse(text, where)
    schema = "contacts" if kind == "contacts" else kind
    assert errors(schema, plain(data)) == [], f"{where}: the {schema} schema rejects it"
    if kind == "rule":
        rule = rules_module.from_data(data, where, lexicons, set(packs.principles()))
        run_cases(rule, lexicons, where)
    elif kind == "lexicon":
        lexicon_module.from_data(data, where)
    elif kind == "contacts":
        contacts_module.from_data(data, where)
    else:
        path = tmp_path / "clientline.yaml"
        path.write_text(text, encoding="utf-8")
        config_module.load(str(path))


def run_cases(rule: rules_module.Rule, lexicons: Any, where: str) -> None:
    if not rule.tests:
        return
    directory = contacts_module.load(str(RULES / "default" / "contacts.yaml"))
    engine = Engine([rule], lexicons, directory, cache=FileCache())
    for number, raw in enumerate(rule.tests, 1):
        case = cases.build(raw, rule.id, where, number)
        fired = {f.rule for f in engine.check(case.item) if not getattr(f, "suppressed", False)}
        assert fired == set(case.expect), f"{where}: case `{case.name}` fired {fired}"
