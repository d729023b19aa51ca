"""Rule documentation: one Markdown page per rule, as Ruff has one page per rule.

``clientline rules docs`` writes ``docs/rules/CL101.md`` and so on, and an index
``docs/rules/README.md``. Each page says:

* what the rule does, in plain words derived from its selections and condition, with
  the rule's rationale and the lexicons it listens with;
* why, citing each principle it serves with the principle's text and the seed essay's
  file and lines (``seeds/principles.yaml``);
* an example: the rule's own firing test cases, rendered as a reader would see the
  event or message, with the message clientline prints, and one quiet case labelled
  "Not flagged";
* what to do instead (the rule's advice);
* how to configure it: disable it, change its severity, adjust its lexicons, or
  accept one item with an inline marker.

The pages are generated, never edited by hand: ``clientline rules docs --check`` (and
the project's tests) fail when the committed pages differ from what the rules say.

:func:`generate` is pure: it takes a loaded :class:`~linter.packs.RuleSet` and returns
``{file name: Markdown}``; the command writes the files. It reads nothing but the rule
files' own selections (to describe them) and the packs' test contacts (to name who is
who in the examples).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linter import contacts as contacts_module
from linter import packs
from linter.contacts import Directory
from linter.engine import Engine
from linter.engine.cases import Case, build
from linter.engine.condition import Node
from linter.engine.rules import Rule
from linter.engine.scanner import DatabaseCache
from linter.model import Contact, ContactRecord, Item, Participant
from linter.packs import RuleSet
from linter.yamlfile import ConfigError, read

INDEX = "README.md"
MAX_FIRING_EXAMPLES = 3
_PAGE = re.compile(r"^[A-Z]{2,5}[0-9]{3,4}\.md$")
_WRAP = 88


def page_name(rule_id: str) -> str:
    return f"{rule_id}.md"


def is_page(name: str) -> bool:
    """Whether a file name is one this module writes (a rule page or the index)."""
    return name == INDEX or bool(_PAGE.match(name))


@dataclass(frozen=True)
class Example:
    case: Case
    fires: bool  # the case expects the rule
    message: str | None  # what clientline printed for it, when the rule fired
    directory: Directory  # the contacts it ran against, to say who is who


def load(specs: Iterable[str] = ("builtin",), base: Path | None = None) -> RuleSet:
    """The packs to document (names or folders, as in ``clientline.yaml``), as shipped:
    no configuration applied. Errors are in the result's ``errors``."""
    folders = [packs.resolve(spec, base or Path.cwd()) for spec in specs]
    return packs.load(dict.fromkeys(folders))


def load_default() -> RuleSet:
    """The built-in pack, exactly as shipped; raises its first error."""
    ruleset = load()
    if ruleset.errors:
        raise ruleset.errors[0]
    return ruleset


def generate(
    ruleset: RuleSet,
    output: Path | str = "docs/rules",
    principles: Mapping[str, Mapping[str, Any]] | None = None,
    seeds: Path | None = None,
    cache: DatabaseCache | None = None,
) -> dict[str, str]:
    """Every rule page and the index, as ``{file name: Markdown}``.

    ``output`` is the folder the pages will live in; it only makes the links to rule,
    lexicon and seed files relative to it. ``cache`` keeps the compiled patterns of the
    engine that runs the examples (see :class:`~linter.engine.scanner.DatabaseCache`).
    """
    principles = packs.principles() if principles is None else principles
    seeds = packs.principles_file().parent if seeds is None else seeds
    links = _Links(Path(output))
    examples = _examples(ruleset, cache)
    rules = sorted(ruleset.rules, key=lambda r: r.id)
    pages = {
        page_name(rule.id): _page(rule, ruleset, examples[rule.id], principles, seeds, links)
        for rule in rules
    }
    pages[INDEX] = _index(rules, principles)
    return pages


def outdated(pages: Mapping[str, str], folder: Path) -> list[str]:
    """File names in ``folder`` that differ from ``pages``: changed, missing, or a page of
    a rule that no longer exists."""
    differ = []
    for name, text in sorted(pages.items()):
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            differ.append(name)
    if folder.is_dir():
        gone = (p.name for p in folder.iterdir() if is_page(p.name) and p.name not in pages)
        differ += sorted(gone)
    return differ


# ------------------------------------------------------------------ examples ----


def _examples(ruleset: RuleSet, store: DatabaseCache | None) -> dict[str, list[Example]]:
    """Each rule's cases, with the message the rule prints on the firing ones."""
    result: dict[str, list[Example]] = {rule.id: [] for rule in ruleset.rules}
    engines: dict[str | None, Engine] = {}
    for rule in ruleset.rules:
        contacts_file = ruleset.test_contacts.get(rule.id)
        if contacts_file not in engines:
            engines[contacts_file] = Engine(
                ruleset.rules, ruleset.lexicons, _directory(contacts_file), cache=store
            )
        engine = engines[contacts_file]
        for number, raw in enumerate(rule.tests, 1):
            try:
                case = build(raw, rule.id, rule.origin, number)
            except ConfigError:
                continue  # `clientline rules test` reports it; a page shows the good cases
            fires = rule.id in case.expect
            message = None
            if fires:
                found = [f for f in engine.check(case.item) if f.rule == rule.id]
                message = found[0].message if found else None
            result[rule.id].append(Example(case, fires, message, engine.directory))
    return result


def _directory(path: str | None) -> Directory:
    return contacts_module.load(path) if path else Directory()


def _render_item(item: Item, directory: Directory) -> str:
    def who(participant: Participant) -> str:
        address = participant.address
        if directory.is_me(address):
            return f"{address} (you)"
        contact = directory.lookup(address)
        return f"{address} ({_describe_contact(contact)})" if contact else address

    rows: list[tuple[str, str]] = []
    if isinstance(item, ContactRecord):
        contact = item.contact
        rows.append(("Client", contact.label))
        addresses = [*contact.emails, *(f"anyone @{d}" for d in contact.domains)]
        rows.append(("Addresses", ", ".join(addresses)))
        rows.append(("Status", f"{contact.status}, {contact.relationship}"))
        for label, value in (("Since", contact.since), ("Ended", contact.ended)):
            if value:
                rows.append((label, value.isoformat()))
        agreed = contact.understandings
        rows.append(("Understandings", agreed.isoformat() if agreed else "none agreed"))
        return _rows(rows)
    when = _when(item)
    if item.kind == "event":
        rows.append(("Event", item.title or "(no title)"))
        rows.append(("When", when))
        if item.location:
            rows.append(("Where", item.location))
        if item.sender:
            rows.append(("Organizer", who(item.sender)))
        if item.recipients:
            rows.append(("Attendees", ", ".join(who(p) for p in item.recipients)))
    else:
        if item.sender:
            rows.append(("From", who(item.sender)))
        for role, label in (("to", "To"), ("cc", "Cc")):
            people = [who(p) for p in item.recipients if p.role == role]
            if people:
                rows.append((label, ", ".join(people)))
        rows.append(("Subject", item.title or "(no subject)"))
        rows.append(("Date", when))
        attachments = getattr(item, "attachments", ())
        if attachments:
            rows.append(("Attachments", ", ".join(attachments)))
    text = _rows(rows)
    if item.body.strip():
        text += "\n\n" + _wrap(item.body)
    if item.quoted.strip():
        text += "\n\n" + "\n".join("> " + line for line in _wrap(item.quoted).splitlines())
    return text


def _describe_contact(contact: Contact) -> str:
    status = {"active": "client", "former": "former client", "prospect": "prospective client"}
    name = f"{contact.name}, {contact.org}" if contact.org else contact.name
    words = [status.get(contact.status, "client")]
    if contact.relationship == "friend":
        words.append("friend")
    return f"{name}: {', '.join(words)}"


def _when(item: Item) -> str:
    start = item.start
    if start is None:
        return ""
    start = start.astimezone(dt.UTC)
    if getattr(item, "all_day", False):
        return start.strftime("%a %d %b %Y") + ", all day"
    text = start.strftime("%a %d %b %Y, %H:%M")
    end = item.end.astimezone(dt.UTC) if item.end else None
    if end and end.date() == start.date() and end > start:
        text += end.strftime("–%H:%M")
    return text + " UTC"


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows) + 2
    lines = []
    for label, value in rows:
        wrapped = textwrap.wrap(value, _WRAP - width) or [""]
        lines.append(label.ljust(width) + wrapped[0])
        lines += [" " * width + more for more in wrapped[1:]]
    return "\n".join(line.rstrip() for line in lines)


def _wrap(text: str) -> str:
    paragraphs = []
    for line in text.strip().splitlines():
        paragraphs.append(textwrap.fill(line, _WRAP) if line.strip() else "")
    return "\n".join(paragraphs)


# -------------------------------------------------------------- plain words ----


def _kinds(rule: Rule) -> str:
    names = {"event": "an event", "message": "a message", "contact": "a client"}
    found = [names[k] for k in ("event", "message", "contact") if k in rule.applies_to]
    return " or ".join(found)


class _Describer:
    """Selections in plain words, worded for the kinds of item the rule checks."""

    def __init__(self, rule: Rule, raw_select: Mapping[str, Any]):
        self.rule = rule
        self.raw = raw_select
        kinds = rule.applies_to
        self.only = next(iter(kinds)) if len(kinds) == 1 else ""

    def selection(self, name: str) -> str:
        raw = self.raw.get(name)
        alternatives = raw if isinstance(raw, list) else [raw]
        parts = [self.alternative(a) for a in alternatives if isinstance(a, Mapping)]
        return "; or ".join(parts) if parts else name

    def alternative(self, entry: Mapping[str, Any]) -> str:
        people: dict[str, dict[str, Any]] = {}
        clauses: list[str] = []
        for key, value in entry.items():
            field, _, modifier = str(key).partition("|")
            if field in ("participants", "sender", "recipients"):
                people.setdefault(field, {})[modifier] = value
            elif field == "start":
                clauses.append(self.time(modifier, value))
            else:
                clauses.append(self.text(field, modifier, value))
        people_clauses = [self.person(field, facts) for field, facts in people.items()]
        return " and ".join(people_clauses + clauses)

    # people

    def person(self, field: str, facts: Mapping[str, Any]) -> str:
        if self.only == "contact":
            subject = "the client"
        elif field == "sender":
            subject = {"event": "the organizer", "message": "the sender"}.get(
                self.only, "the sender or organizer"
            )
        elif field == "recipients":
            subject = {"event": "an attendee", "message": "a recipient"}.get(
                self.only, "a recipient or attendee"
            )
        else:
            subject = {"message": "the sender or a recipient"}.get(self.only, "someone taking part")
        if self.only == "contact":
            return f"{subject} {self.client_phrase(facts)}"
        return f"{subject} {self.noun_phrase(facts)}"

    def client_phrase(self, facts: Mapping[str, Any]) -> str:
        """What a rule on the directory asks of the one client it checks."""
        adjective = {"active": "current", "former": "former", "prospect": "prospective"}
        parts = []
        statuses = _listed(facts.get("status"))
        if statuses:
            kinds = " or ".join(adjective.get(s, s) for s in statuses)
            parts.append(f"is {_article(kinds)} {kinds} client")
        relationships = _listed(facts.get("relationship"))
        if relationships == ["friend"]:
            parts.append("is also a friend")
        elif relationships == ["professional"]:
            parts.append("has a purely professional relationship with you")
        missing = facts.get("understandings|missing")
        if missing is not None:
            parts.append(f"has {'no' if missing else ''} agreed understandings on record")
        for key, words in (
            ("ended|before", "ended before"),
            ("ended|after", "ended after"),
            ("since|before", "has been a client since before"),
            ("since|after", "became a client after"),
        ):
            if key in facts:
                parts.append(f"{words} {_date_text(facts[key])}")
        return " and ".join(" ".join(p.split()) for p in parts) or "is a client"

    def noun_phrase(self, facts: Mapping[str, Any]) -> str:
        if facts.get("me") is True:
            return "is you"
        if facts.get("internal") is True:
            return "is a colleague (at one of your internal domains)"
        if facts.get("client") is False:
            others = [
                words
                for key, words in (("internal", "not a colleague"), ("me", "not you"))
                if facts.get(key) is False
            ]
            return "is not a client" + "".join(f", {w}" for w in others)
        if facts.get("me") is False and len(facts) == 1:
            return "is not you"
        statuses = _listed(facts.get("status"))
        adjective = {"active": "current", "former": "former", "prospect": "prospective"}
        noun = "client"
        if statuses:
            noun = " or ".join(adjective.get(s, s) for s in statuses) + " client"
        relationships = _listed(facts.get("relationship"))
        extras = []
        if relationships == ["friend"]:
            extras.append("who is also a friend")
        elif relationships == ["professional"]:
            extras.append("with a purely professional relationship")
        missing = facts.get("understandings|missing")
        if missing is True:
            extras.append("with no agreed understandings on record")
        elif missing is False:
            extras.append("with agreed understandings on record")
        for key, words in (
            ("ended|before", "whose account ended before"),
            ("ended|after", "whose account ended after"),
            ("since|before", "who has been a client since before"),
            ("since|after", "who became a client after"),
        ):
            if key in facts:
                extras.append(f"{words} {_date_text(facts[key])}")
        phrase = f"is {_article(noun)} {noun}"
        if extras:
            phrase += " " + ", ".join(extras)
        if facts.get("me") is False:
            phrase += " (not you)"
        return phrase

    # text

    def field(self, name: str) -> str:
        by_kind = {
            "text": {
                "event": "the title, description or location",
                "message": "the subject or new text",
            },
            "title": {"event": "the title", "message": "the subject"},
            "body": {"event": "the description", "message": "the new text (not quoted replies)"},
        }
        generic = {
            "text": "the title (or subject), body or location",
            "title": "the title or subject",
            "body": "the description or the new text of a message",
            "location": "the location",
            "quoted": "the quoted replies, forwards and signatures",
            "attachments": "the attachment names",
        }
        return by_kind.get(name, {}).get(self.only, generic.get(name, name))

    def text(self, field: str, modifier: str, value: Any) -> str:
        where = self.field(field)
        if modifier == "lexicon":
            minimum = 1
            if isinstance(value, Mapping):
                minimum = int(value.get("min", 1))
                value = value.get("name")
            names = _listed(value)
            source = _or_list([f"`{n}`" for n in names]) + (
                " lexicons" if len(names) > 1 else " lexicon"
            )
            if minimum > 1:
                return f"{where} has at least {minimum} different terms of the {source}"
            return f"{where} has a term of the {source}"
        if modifier == "contains":
            return f"{where} contains {_or_list([_quote(p) for p in _listed(value)])}"
        if modifier == "all":
            return f"{where} contains all of {_and_list([_quote(p) for p in _listed(value)])}"
        if modifier == "re":
            return f"{where} matches the regular expression `{value}`"
        if modifier == "near" and isinstance(value, Mapping):
            return (
                f"{where} has a term of the `{value.get('a')}` lexicon "
                f"{_within(value)} a term of the `{value.get('b')}` lexicon"
            )
        if modifier == "mentions":
            options = value if isinstance(value, Mapping) else {"who": value}
            who = options.get("who", "any_client")
            named = (
                "another client (one who is not taking part)"
                if who == "other_client"
                else "a client"
            )
            text = f"{where} names {named}"
            if options.get("near"):
                text += f", {_within(options)} a term of the `{options['near']}` lexicon"
            return text
        return f"{where} {modifier} {value}"

    # time

    def time(self, modifier: str, value: Any) -> str:
        subject = {"event": "it starts", "message": "it was sent"}.get(self.only, "it is")
        if modifier == "outside_hours":
            inside = "outside" if value else "inside"
            return f"{subject} {inside} your working hours"
        if modifier == "all_day":
            return "it is an all-day event" if value else "it is not an all-day event"
        if modifier == "weekday":
            days = value if isinstance(value, str) else ", ".join(_listed(value))
            return f"{subject} on {days}"
        if modifier == "hour":
            if isinstance(value, int):
                return f"{subject} between {value:02d}:00 and {value:02d}:59"
            low, high = (
                value if isinstance(value, list) else [int(v) for v in str(value).split("-")]
            )
            return f"{subject} between {int(low):02d}:00 and {int(high):02d}:59"
        return f"{subject} {modifier} {value}"


def _condition(node: Node, describe: Callable[[str], str], depth: int = 0) -> list[str]:
    """Bullet lines for a condition tree (``and`` as a list, ``or`` as "any of")."""
    indent = "  " * depth
    if node.op in ("and", "all"):
        lines = []
        for child in node.children:
            lines += _condition_item(child, describe, depth)
        return lines
    if node.op in ("or", "any"):
        return [f"{indent}- any of these:", *_nested(node.children, describe, depth + 1)]
    return _condition_item(node, describe, depth)


def _nested(children: Iterable[Node], describe: Callable[[str], str], depth: int) -> list[str]:
    lines: list[str] = []
    for child in children:
        lines += _condition_item(child, describe, depth)
    return lines


def _condition_item(node: Node, describe: Callable[[str], str], depth: int) -> list[str]:
    indent = "  " * depth
    if node.op == "name":
        return [f"{indent}- **{node.name}**: {describe(node.name)}"]
    if node.op == "not":
        inner = node.children[0]
        if inner.op == "name":
            return [f"{indent}- unless **{inner.name}**: {describe(inner.name)}"]
        what = "all of these" if inner.op in ("and", "all") else "any of these"
        return [f"{indent}- unless {what}:", *_nested(inner.children, describe, depth + 1)]
    if node.op in ("and", "all"):
        return [f"{indent}- all of these:", *_nested(node.children, describe, depth + 1)]
    return [f"{indent}- any of these:", *_nested(node.children, describe, depth + 1)]


def _within(options: Mapping[str, Any]) -> str:
    words = f"within {options.get('within', 8)} words of"
    return f"{words} (and in the same paragraph as)" if options.get("same_paragraph") else words


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _or_list(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _and_list(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _quote(phrase: str) -> str:
    return f"“{phrase}”"


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def _date_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


# -------------------------------------------------------------------- pages ----


class _Links:
    def __init__(self, output: Path):
        self.output = output.resolve()
        self.root = packs.data_dir().resolve()

    def href(self, path: str | Path) -> str:
        return Path(os.path.relpath(Path(path).resolve(), self.output)).as_posix()

    def shown(self, path: str | Path) -> str:
        target = Path(path).resolve()
        try:
            return target.relative_to(self.root).as_posix()
        except ValueError:
            return target.name

    def link(self, path: str | Path, anchor: str = "") -> str:
        return f"[{self.shown(path)}]({self.href(path)}{anchor})"


def _page(
    rule: Rule,
    ruleset: RuleSet,
    examples: Sequence[Example],
    principles: Mapping[str, Mapping[str, Any]],
    seeds: Path,
    links: _Links,
) -> str:
    kinds = ", ".join(k for k in ("event", "message", "contact") if k in rule.applies_to)
    out = [f"# {rule.id}: {rule.title}", ""]
    out += [
        "| | |",
        "| --- | --- |",
        f"| Code | `{rule.id}` |",
        f"| Name | `{rule.name}` |",
        f"| Severity | {rule.severity} |",
        f"| Applies to | {kinds} |",
        f"| Principles | {', '.join(rule.principles)} |",
    ]
    if rule.tags:
        out.append(f"| Tags | {', '.join(rule.tags)} |")
    out += [f"| Rule file | {links.link(rule.origin)} |", ""]

    out += ["## What it does", ""]
    describer = _Describer(rule, _raw_select(rule))
    out += [f"It flags {_kinds(rule)} when:", ""]
    out += _condition(rule.condition, describer.selection)
    out.append("")
    if rule.rationale:
        out += [rule.rationale, ""]
    if rule.lexicons:
        out += ["The lexicons it listens with (matched on whole words, in any case):", ""]
        for name in sorted(rule.lexicons):
            lexicon = ruleset.lexicons.get(name)
            description = " ".join((lexicon.description if lexicon else "").split())
            where = (
                links.link(lexicon.origin, "")
                if lexicon and lexicon.origin and lexicon.origin != "config"
                else ""
            )
            line = f"- `{name}`"
            if description:
                line += f": {description}"
            if where:
                line += f" ({where})"
            out.append(line)
        out.append("")

    out += ["## Why", ""]
    for principle_id in rule.principles:
        out += _principle(principle_id, principles, seeds, links)
    out += _examples_section(rule, ruleset, examples, links)

    out += ["## What to do instead", "", rule.advice, ""]
    out += _configuration(rule)
    return "\n".join(out).rstrip("\n") + "\n"


def _raw_select(rule: Rule) -> Mapping[str, Any]:
    try:
        data = read(rule.origin)
    except ConfigError:
        return {}
    select = data.get("select") if isinstance(data, Mapping) else None
    return select if isinstance(select, Mapping) else {}


def _principle(
    principle_id: str,
    principles: Mapping[str, Mapping[str, Any]],
    seeds: Path,
    links: _Links,
) -> list[str]:
    principle = principles.get(principle_id)
    if principle is None:
        return [f"- **{principle_id}**", ""]
    lines = [f"**{principle_id}.** {' '.join(str(principle.get('summary', '')).split())}", ""]
    detail = " ".join(str(principle.get("detail") or "").split())
    if detail:
        lines += [detail, ""]
    source = principle.get("source")
    if isinstance(source, Mapping) and source.get("file"):
        path = seeds / str(source["file"])
        cited = []
        for span in str(source.get("lines", "")).split(","):
            span = span.strip()
            if not span:
                continue
            first, _, last = span.partition("-")
            anchor = f"#L{first}-L{last}" if last else f"#L{first}"
            label = f"lines {first}–{last}" if last else f"line {first}"
            cited.append(f"[{label}]({links.href(path)}{anchor})")
        where = f"`{links.shown(path)}`"
        lines += [f"Source: {where}, {', '.join(cited)}." if cited else f"Source: {where}.", ""]
    return lines


def _examples_section(
    rule: Rule, ruleset: RuleSet, examples: Sequence[Example], links: _Links
) -> list[str]:
    firing = [e for e in examples if e.fires]
    quiet = [e for e in examples if not e.fires]
    if not firing and not quiet:
        return []
    directory = examples[0].directory
    out = ["## Example", ""]
    contacts_file = ruleset.test_contacts.get(rule.id)
    if contacts_file:
        out += [
            "From the rule's own test cases, run against the pack's "
            f"{links.link(contacts_file)}; times in UTC, working hours Monday to Friday "
            "09:00–18:00.",
            "",
        ]
    for example in firing[:MAX_FIRING_EXAMPLES]:
        out += [f"**Flagged:** {example.case.name}", ""]
        out += ["```text", _render_item(example.case.item, directory), "```", ""]
        if example.message is not None:
            out += ["clientline reports:", "", "```text"]
            out += [f"{rule.id}  {rule.severity}  {example.message}", "```", ""]
        else:
            out += ["(It does not fire at the moment; `clientline rules test` shows why.)", ""]
    if len(firing) > MAX_FIRING_EXAMPLES:
        more = len(firing) - MAX_FIRING_EXAMPLES
        out += [f"The rule file has {more} more case{'s' if more > 1 else ''} that fire it.", ""]
    if quiet:
        example = quiet[0]
        out += [f"**Not flagged:** {example.case.name}", ""]
        out += ["```text", _render_item(example.case.item, directory), "```", ""]
    return out


def _configuration(rule: Rule) -> list[str]:
    out = [
        "## Configuration",
        "",
        "Turn the rule off, or change how loudly it speaks, in `clientline.yaml`:",
        "",
        "```yaml",
        f"disable: [{rule.id}]",
        "# or",
        f"severity: {{{rule.id}: {_other_severity(str(rule.severity))}}}"
        f"   # info | warning | error; default {rule.severity}",
        "```",
        "",
    ]
    if rule.lexicons:
        name = sorted(rule.lexicons)[0]
        out += [
            "Teach its lexicons the words of your practice, or drop a word that misleads "
            "(as Vale vocabularies do):",
            "",
            "```yaml",
            "lexicons:",
            f"  {name}: {{add: [a term you use], remove: [a term that misfires]}}",
            "```",
            "",
        ]
    if rule.applies_to & {"event", "message"}:
        out += [
            "To accept one event or message, write a marker with your reason in its "
            "description or in the text of your message:",
            "",
            "```text",
            f"clientline: ignore {rule.id} -- agreed with the client",
            "```",
            "",
        ]
    return out


def _other_severity(current: str) -> str:
    return "error" if current != "error" else "warning"


def _index(rules: Sequence[Rule], principles: Mapping[str, Mapping[str, Any]]) -> str:
    out = [
        "# Rules",
        "",
        "Every rule of clientline's default pack, derived from the essays in `seeds/`. "
        "Each page says what the rule finds, why (the principle it serves), an example, "
        "what to do instead and how to configure it. The rule language itself is "
        "described in [../rules.md](../rules.md).",
        "",
        "These pages are generated from the rule files by `clientline rules docs`; "
        "do not edit them by hand.",
        "",
        "| Code | Name | Severity | Applies to | Principles | What it finds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rule in rules:
        kinds = ", ".join(k for k in ("event", "message", "contact") if k in rule.applies_to)
        out.append(
            f"| [{rule.id}]({page_name(rule.id)}) | `{rule.name}` | {rule.severity} | "
            f"{kinds} | {', '.join(rule.principles)} | {rule.title} |"
        )
    out += ["", "## Principles", ""]
    for principle_id, principle in principles.items():
        summary = " ".join(str(principle.get("summary", "")).split())
        served = [r.id for r in rules if principle_id in r.principles]
        by = ", ".join(f"[{r}]({page_name(r)})" for r in served) if served else "no rule cites it"
        out.append(f"- **{principle_id}** {summary} ({by})")
    return "\n".join(out) + "\n"
