"""The rule engine: items and contacts in, findings out. Pure: no I/O.

An :class:`Engine` is compiled once per run from rules, lexicons, the contact
directory and working hours: every lexicon term, rule phrase and client name goes into
one :class:`~linter.engine.scanner.Scanner`. :meth:`Engine.check` then evaluates each
rule that applies to an item's kind, reading selections lazily (participants before
text, so an item with no client is never scanned) and yields one
:class:`~linter.model.Finding` per rule whose condition holds, with the evidence of the
selections that made it hold.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from types import SimpleNamespace

from linter.contacts import Directory, records
from linter.engine import suppress
from linter.engine.context import Context
from linter.engine.hours import WorkingHours
from linter.engine.lexicon import Lexicon, term_pattern
from linter.engine.predicates import MentionPredicate, labels
from linter.engine.rules import Rule
from linter.engine.scanner import DatabaseCache, Pattern, Scanner
from linter.model import ITEM_KINDS, Contact, Evidence, Finding, Item, ItemRef

_LEGAL_SUFFIX = re.compile(
    r"[\s,]+(?:ltd\.?|limited|llc|llp|inc\.?|plc|gmbh|ag|s\.?a\.?|corp\.?|& co\.?|co\.?)$",
    re.IGNORECASE,
)


class Engine:
    def __init__(
        self,
        rules: Iterable[Rule],
        lexicons: Mapping[str, Lexicon],
        directory: Directory,
        hours: WorkingHours | None = None,
        backend: str | None = None,
        cache: DatabaseCache | None = None,
    ):
        self.rules = sorted(rules, key=lambda r: r.id)
        self.rule_ids = frozenset(r.id for r in self.rules)
        self.seen_clients: set[str] = set()  # keys of clients met in checked items
        self.directory = directory
        self.hours = hours or WorkingHours()
        self.by_kind = {
            kind: [r for r in self.rules if kind in r.applies_to] for kind in ITEM_KINDS
        }
        patterns: list[Pattern] = []
        self.ignored: set[tuple[str, int]] = set()  # false friends: they mask, never count
        self.weights: dict[tuple[str, int], float] = {}  # what a term counts towards `min`
        for name in sorted({n for rule in self.rules for n in rule.lexicons}):
            for index, term in enumerate(lexicons[name].terms):
                patterns.append(Pattern(f"lexicon:{name}", index, term_pattern(term.all_forms())))
                if term.ignore:
                    self.ignored.add((f"lexicon:{name}", index))
                if term.weight != 1:
                    self.weights[(f"lexicon:{name}", index)] = term.weight
        for rule in self.rules:
            patterns.extend(rule.patterns)
        self.mentionable: list[Contact] = []
        if any(_uses_mentions(rule) for rule in self.rules):
            patterns.extend(self._contact_patterns())
        self.scan_fields = tuple(
            f
            for f in ("title", "body", "location", "quoted", "attachments")
            if any(f in rule.fields for rule in self.rules)
        )
        self.scanner = Scanner(patterns, backend, cache)

    def _contact_patterns(self) -> Iterator[Pattern]:
        for contact in self.directory.named_clients:
            names = {contact.name, contact.org, *contact.aliases}
            names |= {_LEGAL_SUFFIX.sub("", n) for n in names if n}
            forms = sorted(
                {
                    form
                    for n in names
                    if len(n.strip()) >= 3
                    for form in (n.strip(), n.strip().upper())
                }
            )
            if not forms:
                continue
            index = len(self.mentionable)
            self.mentionable.append(contact)
            for form in forms:
                yield Pattern("contacts", index, term_pattern((form,), ignore_case=False), False)

    def check_directory(self, only_seen: bool = False) -> Iterator[Finding]:
        """Findings about the relationships themselves: rules that apply to ``contact``
        run once on each named client of the directory, or, with ``only_seen``, on the
        clients who took part in an item checked so far (so linting one mailbox speaks
        only of the relationships in it, and empty input stays clean)."""
        if self.by_kind["contact"]:
            for record in records(self.directory):
                if not only_seen or record.contact.key in self.seen_clients:
                    yield from self.check(record)

    def check(self, item: Item) -> Iterator[Finding]:
        """The item's findings; those an inline marker suppresses come out marked
        ``suppressed``, followed by findings about the markers themselves."""
        found = suppress.markers(item)
        if not found:
            yield from self._evaluate(item)
            return
        yield from suppress.apply(item, list(self._evaluate(item)), found, self.rule_ids)

    def _evaluate(self, item: Item) -> Iterator[Finding]:
        context = Context(self, item)
        if self.by_kind["contact"] and item.kind != "contact":
            self.seen_clients.update(context.client_keys)
        for rule in self.by_kind.get(item.kind, ()):
            if not context.may_fire(rule):
                continue  # it needs words the item does not have
            results: dict[str, list[Evidence] | None] = {}

            def truth(name: str, rule: Rule = rule, results: dict = results) -> bool:  # type: ignore[type-arg]
                if name not in results:
                    results[name] = rule.selections[name].test(context)
                return results[name] is not None

            if not rule.condition.evaluate(truth):
                continue
            evidence = tuple(
                piece
                for name in rule.selections
                if name in rule.positive and results.get(name)
                for piece in results[name] or ()
            )
            yield Finding(
                rule=rule.id,
                name=rule.name,
                title=rule.title,
                severity=rule.severity,
                message=render(rule, context, results),
                item=ItemRef.of(item),
                contacts=tuple(c.label for c in context.clients),
                evidence=evidence,
                principles=rule.principles,
                advice=rule.advice,
            )


def render(rule: Rule, context: Context, results: dict[str, list[Evidence] | None]) -> str:
    """The rule's message for this item; placeholders the condition never needed to
    evaluate (``{social}`` when ``mixed`` decided) are evaluated now."""
    item = context.item
    values: dict[str, object] = {}
    for name in rule.placeholders:
        if name not in results:
            results[name] = rule.selections[name].test(context)
        found = results[name]
        values[name] = ", ".join(labels(found)) if found else "—"
    values["item"] = SimpleNamespace(
        title=item.title or "(no title)",
        kind=item.kind,
        location=item.location,
        start=_when(item.start and context.engine.hours.local(item.start)),
        source=item.source,
        locator=item.locator,
    )
    return rule.message.format_map(values)


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def _uses_mentions(rule: Rule) -> bool:
    return any(
        isinstance(predicate, MentionPredicate)
        for selection in rule.selections.values()
        for alternative in selection.alternatives
        for predicate in alternative
    )


__all__ = ["Engine", "Rule", "render"]
