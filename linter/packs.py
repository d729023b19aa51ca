"""Rule packs: finding rule and lexicon files, reading them, and reporting every error.

A pack is a folder of rule files named ``<ID>-<name>.yaml`` (one rule each), with an
optional ``lexicons/`` folder and an optional ``contacts.yaml`` that its rules' test
cases run against. Packs are named in ``clientline.yaml`` (``rules: [builtin, ./mine]``)
or on the command line (``--rules DIR``):

* ``builtin`` (or ``default``): the default pack shipped with clientline, derived from
  the essays in ``seeds/``;
* the name of a pack installed from PyPI, registered in the ``clientline.rules`` entry
  point group as a function returning its folder (the built-in pack is registered the
  same way);
* a folder path, relative to the configuration file.

Lexicons come from the shared ``rules/lexicons`` folder and every enabled pack's own
``lexicons/`` folder. Loading never stops at the first bad file: every rule file is
validated, and all errors are returned together, so one run shows every mistake.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from linter.engine import lexicon as lexicon_module
from linter.engine import rules as rules_module
from linter.engine import suppress
from linter.engine.lexicon import Lexicon
from linter.engine.rules import Rule
from linter.model import Severity
from linter.plugins import entry_points_in
from linter.yamlfile import ConfigError, read

ENTRY_POINT_GROUP = "clientline.rules"
BUILTIN_NAMES = ("builtin", "default")
# the inline-suppression checks (see linter.engine.suppress)
RESERVED_IDS = frozenset({suppress.MISSING_REASON[0], suppress.UNUSED[0]})
_RULE_FILE = re.compile(r"^([A-Z]{2,5}[0-9]{3,4})-[a-z0-9-]+\.ya?ml$")


def data_dir() -> Path:
    """Where the shipped rules and seeds are: inside the wheel, or the source tree."""
    packaged = Path(__file__).parent / "_data"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent


def default_pack() -> str:
    """Entry point target for the built-in pack."""
    return str(data_dir() / "rules" / "default")


def shared_lexicons() -> Path:
    return data_dir() / "rules" / "lexicons"


def lexicon_folders(packs: Iterable[Path]) -> list[Path]:
    """The folders :func:`load` reads lexicons from: the shared one, then each pack's."""
    return list(dict.fromkeys([shared_lexicons(), *(p / "lexicons" for p in packs)]))


def principles_file() -> Path:
    return data_dir() / "seeds" / "principles.yaml"


@cache
def principles() -> dict[str, dict[str, Any]]:
    """The seeds' principles by id (P1...), as paraphrased in ``seeds/principles.yaml``."""
    data = read(str(principles_file()))
    return {str(p["id"]): dict(p) for p in data["principles"]}


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    lexicons: dict[str, Lexicon] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)
    test_contacts: dict[str, str] = field(default_factory=dict)  # rule id -> contacts.yaml

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def resolve(spec: str, base: Path) -> Path:
    """A pack name or folder from configuration, as a folder."""
    if spec in BUILTIN_NAMES:
        return Path(default_pack())
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = base / path
    if path.is_dir():
        return path
    for entry in entry_points_in(ENTRY_POINT_GROUP):
        if entry.name == spec:
            return Path(entry.load()())
    raise ConfigError(
        spec,
        "no such rule pack: not a folder, nor an installed pack",
        hint="installed packs: " + ", ".join(sorted(installed())),
    )


def installed() -> dict[str, str]:
    return {e.name: e.value for e in entry_points_in(ENTRY_POINT_GROUP)}


def load(
    packs: Iterable[Path],
    lexicon_changes: Mapping[str, tuple[list[str], list[str]]] | None = None,
    disabled: Iterable[str] = (),
    severities: Mapping[str, str] | None = None,
) -> RuleSet:
    result = RuleSet()
    packs = list(packs)
    for folder in lexicon_folders(packs):
        for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
            try:
                lexicon = lexicon_module.from_data(read(str(path)), str(path))
            except ConfigError as exc:
                result.errors.append(exc)
                continue
            if lexicon.name in result.lexicons:
                result.errors.append(
                    ConfigError(
                        str(path),
                        f"lexicon `{lexicon.name}` is "
                        f"already defined in {result.lexicons[lexicon.name].origin}",
                    )
                )
                continue
            result.lexicons[lexicon.name] = lexicon
    for name, (add, remove) in (lexicon_changes or {}).items():
        if name in result.lexicons:
            result.lexicons[name] = result.lexicons[name].adjusted(add, remove)
        else:
            result.lexicons[name] = Lexicon(
                name,
                tuple(lexicon_module.Term(lexicon_module.normalise(t)) for t in add),
                origin="config",
            )
    known_principles = set(principles())
    seen: dict[str, str] = {}
    names: dict[str, str] = {}
    for pack in packs:
        if not pack.is_dir():
            result.errors.append(ConfigError(str(pack), "rule pack folder not found"))
            continue
        contacts_file = pack / "contacts.yaml"
        for path in sorted(pack.glob("*.y*ml")):
            if path.name == "contacts.yaml":
                continue
            match = _RULE_FILE.match(path.name)
            if not match:
                result.errors.append(
                    ConfigError(
                        str(path),
                        "a rule file is named <ID>-<name>.yaml, e.g. CL101-business-agenda.yaml",
                    )
                )
                continue
            try:
                rule = rules_module.from_data(
                    read(str(path)), str(path), result.lexicons, known_principles
                )
            except ConfigError as exc:
                result.errors.append(exc)
                continue
            if rule.id != match.group(1):
                result.errors.append(
                    ConfigError(
                        str(path), f"file name says {match.group(1)} but the rule's id is {rule.id}"
                    )
                )
                continue
            if rule.id in RESERVED_IDS:
                result.errors.append(
                    ConfigError(str(path), f"rule id {rule.id} is reserved for clientline itself")
                )
                continue
            if rule.id in seen:
                result.errors.append(
                    ConfigError(str(path), f"rule id {rule.id} is already used by {seen[rule.id]}")
                )
                continue
            if rule.name in names:
                result.errors.append(
                    ConfigError(
                        str(path), f"rule name {rule.name} is already used by {names[rule.name]}"
                    )
                )
                continue
            seen[rule.id] = str(path)
            names[rule.name] = f"{rule.id} ({path})"
            if contacts_file.is_file():
                result.test_contacts[rule.id] = str(contacts_file)
            if rule.id in disabled:
                continue
            override = (severities or {}).get(rule.id)
            if override:
                rule = rule._replace(severity=Severity.parse(override))
            result.rules.append(rule)
    return result
