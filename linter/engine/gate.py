"""Rules that cannot fire on an item, told apart before they are evaluated.

Most rules need words: CL102 cannot fire on a message without a social term, however
its participants look. The scanner's first pass (see :mod:`linter.engine.scanner`)
already knows, for one item, which pattern groups cannot have a hit. A :class:`Gate`
turns each rule's condition into what it needs of those groups, once per run, and then
answers per item with a few set operations instead of evaluating the rule.

What a rule needs is worked out soundly and conservatively:

* ``lexicon`` and ``contains``/``all`` selections need a hit of one of their groups;
  ``near`` needs a hit of both lexicons; ``mentions`` needs a client name (and the
  ``near`` lexicon, when given). Every other kind of line needs nothing known here.
* A selection needs what every one of its alternatives needs; an alternative, all its
  lines' needs.
* In the condition, ``and`` (``all of``) needs all its parts; ``or`` (``1 of``) one of
  them; ``not`` nothing at all (a selection that cannot hold makes ``not`` true).

So a rule is only skipped when its condition is false whatever its other selections
say: the findings are the same as without the gate.

A text too long for the first pass is scanned at once for what the rules look for
first (:func:`first_scans`), but only for the rules whose :func:`preconditions` (the
participant tests a condition makes before it reads the text) hold on the item.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from linter.engine.predicates import (
    HitsPredicate,
    MentionPredicate,
    NearPredicate,
    RegexPredicate,
)

if TYPE_CHECKING:
    from linter.engine.rules import Rule

Clause = frozenset[str]  # at least one of these groups has a hit
Needs = tuple[tuple[Clause, ...], ...]  # any of these lists of clauses, all of each list
NOTHING: Needs = ((),)  # needs nothing: may always fire
MAX_ALTERNATIVES = 64  # past this, a condition is taken to need nothing
MAX_REMEMBERED = 4096  # sets of possible groups remembered, with the rules they block


class Gate:
    """What each rule needs, and which rules cannot fire given the groups that may have
    hits in an item.

    Sets of groups are numbers here, a bit a group (``bits``: the scanner's
    :attr:`~linter.engine.scanner.Scanner.bits`), so an item costs a few integer
    operations; a group no bit is given for can have no hits.
    """

    def __init__(self, rules: Iterable[Rule], bits: Mapping[str, int] | None = None):
        self.needs: dict[str, Needs] = {}
        for rule in rules:
            needs = rule_needs(rule)
            if needs != NOTHING:
                self.needs[rule.id] = needs
        named = {
            group
            for needs in self.needs.values()
            for clauses in needs
            for clause in clauses
            for group in clause
        }
        self.bits = dict(bits) if bits is not None else _bits(named)
        self._masks = {
            rule_id: tuple(tuple(self.mask(clause) for clause in clauses) for clauses in needs)
            for rule_id, needs in self.needs.items()
        }
        # items come with few distinct sets of possible groups: each is worked out once
        self._blocked: dict[int, frozenset[str]] = {}

    def mask(self, groups: Iterable[str]) -> int:
        """``groups`` as a number (see :class:`Gate`)."""
        found = 0
        for group in groups:
            found |= self.bits.get(group, 0)
        return found

    def blocked_bits(self, possible: int) -> frozenset[str]:
        """The ids of the rules that cannot fire when only the groups in ``possible``
        (a number, see :class:`Gate`) can have hits."""
        found = self._blocked.get(possible)
        if found is None:
            if len(self._blocked) >= MAX_REMEMBERED:
                self._blocked.clear()
            found = self._blocked[possible] = frozenset(
                rule_id for rule_id, masks in self._masks.items() if not _met(masks, possible)
            )
        return found

    def blocked(self, possible: Collection[str]) -> frozenset[str]:
        """The ids of the rules that cannot fire when only the groups in ``possible``
        can have hits."""
        return self.blocked_bits(self.mask(possible))

    def may_fire(self, rule: Rule, possible: Collection[str]) -> bool:
        """Whether ``rule`` can fire when only the groups in ``possible`` can have hits."""
        return rule.id not in self.blocked(possible)


def _bits(groups: Iterable[str]) -> dict[str, int]:
    return {group: 1 << index for index, group in enumerate(sorted(groups))}


def _met(masks: tuple[tuple[int, ...], ...], possible: int) -> bool:
    return any(all(clause & possible for clause in clauses) for clauses in masks)


def rule_needs(rule: Rule) -> Needs:
    return _node_needs(rule.condition, {n: selection_needs(s) for n, s in rule.selections.items()})


def selection_needs(selection: Any) -> Needs:
    alternatives: list[tuple[Clause, ...]] = []
    for predicates in getattr(selection, "alternatives", ()):
        clauses = tuple(c for predicate in predicates for c in _predicate_needs(predicate))
        if not clauses:
            return NOTHING
        alternatives.append(clauses)
    return tuple(alternatives) or NOTHING


def _predicate_needs(predicate: Any) -> list[Clause]:
    if isinstance(predicate, HitsPredicate):
        return [frozenset(predicate.groups)]
    if isinstance(predicate, NearPredicate):
        return [frozenset((predicate.first,)), frozenset((predicate.second,))]
    if isinstance(predicate, MentionPredicate):
        near = getattr(predicate, "near", None)
        return [frozenset(("contacts",))] + ([frozenset((near,))] if near else [])
    return []


def _node_needs(node: Any, selections: dict[str, Needs]) -> Needs:
    op = getattr(node, "op", None)
    children: Sequence[Any] = getattr(node, "children", ())
    if op == "name":
        return selections.get(node.name, NOTHING)
    if op in ("and", "all"):
        needs: Needs = NOTHING
        for child in children:
            needs = _both(needs, _node_needs(child, selections))
        return needs
    if op in ("or", "any"):
        either: list[tuple[Clause, ...]] = []
        for child in children:
            child_needs = _node_needs(child, selections)
            if child_needs == NOTHING:
                return NOTHING
            either.extend(child_needs)
        return _bounded(tuple(either))
    return NOTHING  # "not", and anything this module does not know


def _both(left: Needs, right: Needs) -> Needs:
    if left == NOTHING:
        return right
    if right == NOTHING:
        return left
    return _bounded(tuple(a + b for a, b in itertools.product(left, right)))


def _bounded(needs: Needs) -> Needs:
    return needs if len(needs) <= MAX_ALTERNATIVES else NOTHING


def first_scans(rules: Iterable[Rule]) -> list[str]:
    """The groups the ``rules`` (in the order they are evaluated) scan a text for first,
    when their other selections hold: for each rule, of the first selection in its
    condition's order that needs a scan, its first alternative's first groups; for a
    ``near`` test, its first lexicon, unless its second is among these already (then the
    first is looked for only near the second's hits); for ``mentions``, client names.

    A text too long for a first pass is scanned for all of them at once, when one is
    first needed (see :class:`~linter.engine.scanner.Scanner`): on a newsletter from a
    client, rule after rule would otherwise scan it for a lexicon of its own.
    """
    found: dict[str, None] = {}
    for rule in rules:
        for name, _ in rule.condition.names():
            groups = _first_scan(rule.selections[name], found)
            if groups is not None:
                found.update(dict.fromkeys(groups))
                break
    return list(found)


def _first_scan(selection: Any, known: Collection[str]) -> tuple[str, ...] | None:
    """What a selection scans a text for first, or ``None`` when it scans nothing."""
    alternatives = getattr(selection, "alternatives", ())
    for predicate in alternatives[0] if alternatives else ():
        if isinstance(predicate, HitsPredicate):
            return tuple(predicate.groups)
        if isinstance(predicate, NearPredicate):
            return () if predicate.second in known else (predicate.first,)
        if isinstance(predicate, MentionPredicate):
            return ("contacts",)
    return None


def preconditions(rule: Rule) -> tuple[tuple[str, bool], ...]:
    """The selections the rule's condition tests before any that scans text, each with
    what it must be for the rule to fire: the leading terms (``client``, ``not mine``)
    of a condition that is a chain of ``and``, up to the first that reads the text.
    Where one of them is otherwise, the rule never scans the text of the item."""
    condition = rule.condition
    terms = condition.children if condition.op == "and" else (condition,)
    found: list[tuple[str, bool]] = []
    for term in terms:
        wanted = term.op != "not"
        name = term if wanted else term.children[0]
        if name.op != "name" or _reads_text(rule.selections[name.name]):
            break
        found.append((name.name, wanted))
    return tuple(found)


def _reads_text(selection: Any) -> bool:
    """Whether a selection may read the text (one of a kind unknown here: yes)."""
    alternatives = getattr(selection, "alternatives", None)
    if alternatives is None:
        return True
    return any(isinstance(p, _TEXT_PREDICATES) for predicates in alternatives for p in predicates)


_TEXT_PREDICATES = (HitsPredicate, NearPredicate, MentionPredicate, RegexPredicate)
