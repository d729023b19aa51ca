"""Contact look-up, and file:line:col errors in contacts, config, rules and lexicons."""

from __future__ import annotations

from pathlib import Path

import pytest

from linter import config, contacts, packs
from linter.engine.rules import from_data
from linter.yamlfile import ConfigError, parse

DIRECTORY = """me: [sam@studio.example]
internal_domains: [studio.example]
clients:
  - {name: Dana Ng, org: Acme Ltd, emails: [dana.ng@mail.example], domains: [acme.example]}
  - {name: Everyone else, domains: ["*"]}
"""


def test_lookup_by_address_then_domain_then_wildcard() -> None:
    directory = contacts.loads(DIRECTORY)
    assert directory.lookup("Dana.Ng@mail.example").name == "Dana Ng"  # type: ignore[union-attr]
    assert directory.lookup("ops@eu.acme.example").name == "Dana Ng"  # type: ignore[union-attr]
    assert directory.lookup("stranger@else.example").name == "Everyone else"  # type: ignore[union-attr]
    assert directory.lookup("sam@studio.example") is None  # me: never a client
    assert directory.lookup("mia@studio.example") is None  # a colleague
    assert [c.name for c in directory.named_clients] == ["Dana Ng"]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("clients:\n  - {name: A, emails: [a@x], staus: active}\n", ":2:", "did you mean `status`"),
        ("clients:\n  - {name: A, emails: [a@x], status: past}\n", ":2:", "must be one of"),
        ("clients:\n  - {name: A}\n", ":2:", "neither `emails` nor `domains`"),
        ("clients:\n  - {name: A, emails: [a@x], since: soon}\n", ":2:", "must be a date"),
        ("clients: [\n", ":2:", "invalid YAML"),
    ],
)
def test_contact_errors_name_file_line_col(text: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        contacts.loads(text, "contacts.yaml")
    assert str(error.value).startswith("contacts.yaml" + where)
    assert message in str(error.value)


def test_config_errors_name_file_line_col(tmp_path: Path) -> None:
    path = tmp_path / "clientline.yaml"
    path.write_text("timezone: Europe/London\nworking_hours: {days: mon-fry}\n")
    with pytest.raises(ConfigError, match=r"clientline.yaml:2:\d+: unknown day"):
        config.load(str(path))
    path.write_text("timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match=r"clientline.yaml:1:11: unknown timezone"):
        config.load(str(path))
    path.write_text("timezone: UTC\nwindw: {since: today}\n")
    with pytest.raises(ConfigError, match=r"2:1: unknown key `windw`.*did you mean `window`"):
        config.load(str(path))


RULESET = packs.load([packs.resolve("builtin", packs.data_dir())])
GOOD = """id: XX100
name: sample
title: Sample
severity: warning
applies_to: [message]
principles: [P1]
select:
  client: {participants|client: true}
  social: {text|lexicon: social}
condition: client and social
message: "{social} with {client}"
advice: Do something else.
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "applies_to:",
            "aplies_to:",
            r"r.yaml:5:1: unknown key `aplies_to`.*did you mean `applies_to`",
        ),
        ("lexicon: social", "lexicon: socail", r"r.yaml:9:\d+: unknown lexicon `socail`.*`social`"),
        ("text|lexicon", "text|lexicn", r"r.yaml:9:\d+: unknown modifier `lexicn`.*`lexicon`"),
        ("text|lexicon", "txt|lexicon", r"r.yaml:9:\d+: unknown field `txt`.*`text`"),
        ("client and social", "client and socail", r"r.yaml:10:23: condition: unknown selection"),
        ("{social} with", "{socal} with", r"r.yaml:11:\d+: message placeholder `\{socal\}`"),
        ("principles: [P1]", "principles: [P9]", r"r.yaml:6:\d+: unknown principle `P9`"),
        ("severity: warning", "severity: loud", r"r.yaml:4:11: unknown severity"),
        ("{text|lexicon: social}", "{text|re: '(?<=x)y'}", r"r.yaml:9:\d+: invalid regular exp"),
        ("id: XX100", "id: rule-one", r"r.yaml:1:5: rule id"),
    ],
)
def test_rule_errors(old: str, new: str, expected: str) -> None:
    text = GOOD.replace(old, new)
    with pytest.raises(ConfigError, match=expected):
        from_data(parse(text, "r.yaml"), "r.yaml", RULESET.lexicons, packs.principles())


def test_every_bad_rule_file_is_reported_in_one_load(tmp_path: Path) -> None:
    (tmp_path / "XX100-one.yaml").write_text(GOOD.replace("applies_to:", "aplies_to:"))
    (tmp_path / "XX101-two.yaml").write_text(
        GOOD.replace("XX100", "XX101").replace("{social}", "{x}")
    )
    (tmp_path / "XX102-three.yaml").write_text(GOOD.replace("XX100", "XX102"))
    (tmp_path / "notes.yaml").write_text("a: 1\n")
    ruleset = packs.load([tmp_path])
    messages = sorted(str(e) for e in ruleset.errors)
    assert len(messages) == 3
    assert [r.id for r in ruleset.rules] == ["XX102"]


def test_lexicon_changes_from_config() -> None:
    social = RULESET.lexicons["social"].adjusted(add=["padel night"], remove=["party"])
    texts = {t.text for t in social.terms}
    assert "padel night" in texts and "party" not in texts
