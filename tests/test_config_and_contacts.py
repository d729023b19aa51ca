"""Contact look-up, and file:line:col errors in contacts, config, rules and lexicons."""

from __future__ import annotations

import re
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
        # a list inside `aliases`: refused where it is, not turned into "['Acme']"
        (
            "clients:\n  - {name: A, emails: [a@x], aliases: [[Acme]]}\n",
            ":2:40:",
            "every entry of `aliases` must be text; entry 1 is a list",
        ),
        (
            "clients:\n  - name: A\n    emails: [a@x]\n    aliases:\n      - Acme\n"
            "      - {short: AC}\n",
            ":6:9:",
            "every entry of `aliases` must be text; entry 2 is a mapping",
        ),
        ("clients:\n  - {name: A, emails: [a@x], aliases: {a: b}}\n", ":2:", "`aliases` must"),
        ("clients:\n  - {name: A, emails: [a@x, [b@x]]}\n", ":2:29:", "entry 2 is a list"),
        # a value that is not text is named by its kind, never formatted into the message
        ("clients:\n  - {name: A, emails: [a@x], status: [[x]]}\n", ":2:", "not a list"),
        ("clients:\n  - {name: A, emails: [a@x], org: [[x]]}\n", ":2:", "`org` must be text"),
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


def test_aliases_are_text_however_yaml_reads_them() -> None:
    directory = contacts.loads(
        "clients:\n  - {name: A, emails: [a@x], aliases: [' Acme ', 3M, 1984, '']}\n"
    )
    assert directory.clients[0].aliases == ("Acme", "3M", "1984")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # once "`add` must be a list, not a list"
        (
            "lexicons: {social: {add: [[x]]}}\n",
            r":1:27: every entry of `add` must be text; entry 1 is a list$",
        ),
        ("lexicons: {social: {add: [padel, {x: 1}]}}\n", r":1:34: .*entry 2 is a mapping$"),
        (
            "lexicons: {social: {add: [padel, no]}}\n",
            r":1:34: .*entry 2 is true/false \(put it in quotes",
        ),
        ("lexicons: {social: {add: {x: 1}}}\n", r":1:\d+: `add` must be a list, not a mapping$"),
        ("disable: [CL101, [CL102]]\n", r":1:18: every entry of `disable` must be text; entry 2"),
        ("working_hours: {days: [mon, [tue]]}\n", r":1:29: every entry of `days` must be a day"),
        ("working_hours: {start: [[9]]}\n", r":1:24: `start` must be text, not a list$"),
        ("working_hours: {end: 18}\n", r":1:22: `end` must be a time like 09:00, not `18`$"),
        ("timezone: [[Europe/London]]\n", r":1:11: `timezone` must be text, not a list$"),
        (
            "severity: {CL101: [[loud]]}\n",
            r":1:19: the severity for CL101 must be text, not a list",
        ),
        ("window: {since: [[today]]}\n", r":1:17: `since` must be text, not a list$"),
        ("schedule: {scan_every: [[30m]]}\n", r":1:24: a duration must be text, not a list"),
    ],
)
def test_config_messages_say_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "clientline.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        config.load(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}:"), message
    assert re.search(expected, message), message
    assert "[" not in message.removeprefix(str(path))  # no list was formatted into it
    assert "not a list" not in message or "must be a list" not in message


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
