"""The rule engine: items and contacts in, findings out. Pure: no I/O.

An :class:`Engine` is compiled once per run from rules, lexicons, the contact
directory and working hours: every form of every lexicon term, rule phrase and client
name goes into one :class:`~linter.engine.scanner.Scanner`. :meth:`Engine.check` then
takes an item in steps, each spending only what the one before could not settle:

* the gate (:mod:`linter.engine.gate`): a cheap first pass over the item's text tells
  which groups of patterns cannot occur in it, and so which rules cannot fire; most
  items end here;
* each remaining rule that applies to the item's kind: its condition, reading
  selections lazily and in its order (``client and business`` never looks for business
  on an item with no client), each group of patterns scanned at most once per item
  (:mod:`linter.engine.context`);
* one :class:`~linter.model.Finding` per rule whose condition holds, with the evidence
  of the selections that made it hold.

The clients met in items are remembered for :meth:`Engine.check_directory` by their
addresses, looked up only when asked for.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from operator import attrgetter
from types import SimpleNamespace

from linter.contacts import Directory, records
from linter.engine import suppress
from linter.engine.context import Context
from linter.engine.gate import MAX_REMEMBERED, Gate, first_scans, preconditions
from linter.engine.hours import WorkingHours
from linter.engine.lexicon import Lexicon, form_pattern, term_patterns
from linter.engine.predicates import MentionPredicate, labels
from linter.engine.rules import Rule
from linter.engine.scanner import DatabaseCache, Pattern, Scanner
from linter.model import ITEM_KINDS, Contact, Evidence, Finding, Item, ItemKind, ItemRef

_ADDRESS = attrgetter("address")
_NOTHING: Iterator[Finding] = iter(())  # what most items give: one empty iterator for all
LOOKUP_MEMO = 65536  # addresses remembered per engine (a bound on memory, not a cache policy)
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
        self._seen: set[str] = set()  # keys of clients met in checked items...
        self._unseen: set[str] = set()  # ...and the addresses not yet looked up for them
        self.directory = directory
        self.hours = hours or WorkingHours()
        self.by_kind = {
            kind: [r for r in self.rules if kind in r.applies_to] for kind in ITEM_KINDS
        }
        patterns: list[Pattern] = []
        self.ignored: set[tuple[str, int]] = set()  # false friends: they mask, never count
        self._ignored_keys: dict[str, frozenset[int]] = {}  # the same, by group
        self.weights: dict[tuple[str, int], float] = {}  # what a term counts towards `min`
        for name in sorted({n for rule in self.rules for n in rule.lexicons}):
            for index, term in enumerate(lexicons[name].terms):
                for regex in term_patterns(term.all_forms()):  # each form its own pattern
                    patterns.append(Pattern(f"lexicon:{name}", index, regex))
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
        # an item's scanned fields in one call, when there are two or more (see text_scan)
        self.read_fields = attrgetter(*self.scan_fields) if len(self.scan_fields) > 1 else None
        # what the rules of each kind scan a text for first: a newsletter is scanned
        # for all of it at once (see gate.first_scans); client names apart, so that the
        # bundle's database outlives edits to the contact directory
        kinds: tuple[ItemKind, ...] = ("message", "event")
        bundles: dict[str, list[str]] = {
            kind: [group for group in first_scans(self.by_kind[kind]) if group != "contacts"]
            for kind in kinds
        }
        # and of each rule, what it scans for first once what it tests before holds:
        # a newsletter is scanned together for the groups of the rules that may get there
        self._first_scans = {
            kind: [(rule, preconditions(rule), first_scans([rule])) for rule in self.by_kind[kind]]
            for kind in kinds
        }
        marker = {"marker": [suppress.MARKER_START]}
        self.scanner = Scanner(patterns, backend, cache, marker, bundles)
        # whether the scanned text holds every field a suppression marker may be in, so
        # that the first pass over it tells which items may have one
        self._marker_bit = self.scanner.hint_bits["marker"]
        self._scans_markers = set(suppress.MARKER_FIELDS) <= set(self.scan_fields)
        self.gate = Gate(self.rules, self.scanner.bits)
        # by item kind: whether a rule of the kind needs words, and by the groups an
        # item may have hits of, the rules the gate lets through
        self._gated = {
            kind: any(r.id in self.gate.needs for r in rules)
            for kind, rules in self.by_kind.items()
        }
        self._may_fire: dict[ItemKind, dict[int, list[Rule]]] = {k: {} for k in ITEM_KINDS}
        # for check_directory, which speaks of named clients only: a directory of the
        # wildcard alone (auditing all mail) has none to track
        self._tracks_clients = bool(self.by_kind["contact"] and directory.named_clients)
        self._contacts: dict[str, Contact | None] = {}  # by address, see contact_of

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
                yield Pattern("contacts", index, form_pattern(form, ignore_case=False), False)

    def ignored_keys(self, group: str) -> frozenset[int]:
        """The keys of the group's false friends (see :attr:`ignored`)."""
        found = self._ignored_keys.get(group)
        if found is None:
            found = self._ignored_keys[group] = frozenset(
                key for name, key in self.ignored if name == group
            )
        return found

    @property
    def seen_clients(self) -> set[str]:
        """The keys of the named clients among the participants of the items checked so
        far (none are kept track of when no rule is about the relationships)."""
        self._fold_seen()
        return self._seen

    def _fold_seen(self) -> None:
        is_me = self.directory.is_me
        for address in self._unseen:
            contact = self.contact_of(address)
            if contact is not None and not is_me(address):
                self._seen.add(contact.key)
        self._unseen.clear()

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
        ``suppressed``, followed by findings about the markers themselves. Markers are
        looked for only where the first pass over the item's text says one may be."""
        context = Context(self, item)
        kind = item.kind
        if self._tracks_clients and kind != "contact":
            # looked up when asked for (most addresses recur): see seen_clients
            self._unseen.update(map(_ADDRESS, item.participants))
            if len(self._unseen) >= LOOKUP_MEMO:
                self._fold_seen()  # bounds the memory they take
        if not self._scans_markers:
            return self._marked(context, self.may_fire(context))
        possible = context.text_scan().possible_bits()
        rules = self._let_through(kind, possible) if self._gated[kind] else self.by_kind[kind]
        if possible & self._marker_bit:
            return self._marked(context, rules)
        if not rules:  # most items end here
            return _NOTHING
        findings = self._evaluate(context, rules)
        return iter(findings) if findings else _NOTHING

    def _marked(self, context: Context, rules: list[Rule]) -> Iterator[Finding]:
        """:meth:`check` on an item that may hold suppression markers."""
        found = suppress.markers(context.item)
        if not found:
            return iter(self._evaluate(context, rules))
        return suppress.apply(context.item, self._evaluate(context, rules), found, self.rule_ids)

    def contact_of(self, address: str) -> Contact | None:
        """``directory.lookup(address)``, remembered for the run: a mailbox names the same
        people over and over (a long To list on every message of a thread), so each
        address is resolved once, up to ``LOOKUP_MEMO`` of them."""
        try:
            return self._contacts[address]
        except KeyError:
            if len(self._contacts) >= LOOKUP_MEMO:
                self._contacts.clear()
            found = self._contacts[address] = self.directory.lookup(address)
            return found

    def first_scans_of(self, context: Context) -> set[str]:
        """The groups the rules for the item's kind may scan its text for first: those
        of the rules whose :func:`~linter.engine.gate.preconditions` hold on it (a rule
        for former clients never reads a newsletter from a current one)."""
        found: set[str] = set()
        for rule, needs, groups in self._first_scans.get(context.item.kind, ()):
            if all(rule.selections[name].holds(context) == wanted for name, wanted in needs):
                found.update(groups)
        return found

    def may_fire(self, context: Context) -> list[Rule]:
        """The rules for the item's kind, less those that cannot fire on it for want of
        words (see :mod:`linter.engine.gate`): evaluating them would find nothing."""
        kind = context.item.kind
        if not self._gated[kind]:
            return self.by_kind[kind]
        return self._let_through(kind, context.text_scan().possible_bits())

    def _let_through(self, kind: ItemKind, possible: int) -> list[Rule]:
        """:meth:`may_fire` for an item of ``kind`` whose text may hold the groups of
        ``possible``, remembered by those bits."""
        remembered = self._may_fire[kind]
        found = remembered.get(possible)
        if found is None:
            if len(remembered) >= MAX_REMEMBERED:
                remembered.clear()
            blocked = self.gate.blocked_bits(possible)
            found = remembered[possible] = [
                rule for rule in self.by_kind[kind] if rule.id not in blocked
            ]
        return found

    def _evaluate(self, context: Context, rules: list[Rule]) -> list[Finding]:
        """The findings of ``rules`` (those :meth:`may_fire` lets through) on the item."""
        findings: list[Finding] = []
        for rule in rules:
            truths: dict[str, bool] = {}

            def truth(name: str, rule: Rule = rule, truths: dict[str, bool] = truths) -> bool:
                found = truths.get(name)
                if found is None:
                    found = truths[name] = rule.selections[name].holds(context)
                return found

            if not rule.condition.evaluate(truth):
                continue
            # evidence only now, for the few items a rule fires on
            results: dict[str, list[Evidence] | None] = {
                name: rule.selections[name].test(context)
                for name in rule.selections
                if name in rule.positive and truths.get(name)
            }
            evidence = tuple(piece for found in results.values() for piece in found or ())
            finding = Finding(
                rule=rule.id,
                name=rule.name,
                title=rule.title,
                severity=rule.severity,
                message=render(rule, context, results),
                item=ItemRef.of(context.item),
                contacts=tuple(c.label for c in context.clients),
                evidence=evidence,
                principles=rule.principles,
                advice=rule.advice,
            )
            findings.append(finding)
        return findings


def render(rule: Rule, context: Context, results: dict[str, list[Evidence] | None]) -> str:
    """The rule's message for this item; placeholders whose evidence was not gathered
    (``{social}``, when ``mixed`` decided the condition) are evaluated now."""
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
