"""Selection predicates: what one ``field|modifier: value`` line of a rule tests.

A selection is a mapping of such lines, all of which must hold (a list of mappings is
an "or" of them). Each line becomes one predicate. A predicate returns ``None`` when it
does not hold, or the evidence that shows it does (possibly empty).

Text fields: ``text`` (title, body and location), ``title``, ``body`` (the author's new
text), ``location``, ``quoted`` (quoted replies, forwards, signatures), ``attachments``
(file names). Modifiers:

``lexicon: NAME`` or ``lexicon: {name: NAME, min: 2}``
    a term of the lexicon occurs (at least ``min`` distinct terms);
``contains: PHRASE`` or a list
    one of the phrases occurs (whole words, any case, no inflection);
``all: [PHRASE, ...]``
    every phrase occurs;
``re: PATTERN``
    the RE2 regular expression matches (linear time, so no pattern can hang a run;
    ``(?i)`` for any case);
``near: {a: LEXICON, b: LEXICON, within: 8}``
    a term of ``a`` and a term of ``b`` at most ``within`` words apart; with
    ``same_paragraph: true`` also in one paragraph (no blank line between them), so a
    heading or the next section of a newsletter does not count as "near";
``mentions: other_client | any_client``
    the text names a client from the directory (name, organisation or alias);
    ``other_client`` only counts clients who are not among the item's participants.
``mentions: {who: other_client, near: LEXICON, within: 8}``
    as above, and a term of the lexicon is at most ``within`` words from the name
    (``near`` works on names the way ``near`` works on two lexicons, and takes
    ``same_paragraph`` too)::

        slur: {body|mentions: {who: other_client, near: disparaging, within: 6}}

    fires on "Acme are clueless" but not on "Acme launched; the traffic was a
    nightmare" when the two are further apart.

Participant fields: ``participants`` (everyone), ``sender`` (From, organizer),
``recipients`` (To, Cc, attendees). All lines on the same field must hold for the same
person. Modifiers: ``client: true|false``, ``me: true``, ``internal: true|false`` (the
address is at one of the directory's ``internal_domains``: a colleague; so
``{recipients|client: false, recipients|internal: false}`` is someone outside the
firm who is not a client), ``status: former`` (or a list),
``relationship: friend``, ``understandings|missing: true``, ``ended|before: DATE``,
``ended|after: DATE``, ``since|before: DATE``, ``since|after: DATE``.

Time field ``start`` (event start, message date), in the configured timezone:
``outside_hours: true|false``, ``weekday: [sat, sun]``, ``hour: 18-23`` (the start hour
is in that inclusive range), ``all_day: true|false``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache, partial
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from linter.model import Contact, Evidence, Participant

if TYPE_CHECKING:
    from linter.engine.context import Context, FieldHit

TEXT_FIELDS = ("text", "title", "body", "location", "quoted", "attachments")
TEXT_EXPANSION = {"text": ("title", "body", "location")}
PARTICIPANT_FIELDS = ("participants", "sender", "recipients")
TIME_FIELDS = ("start",)
TEXT_MODIFIERS = ("lexicon", "contains", "all", "re", "near", "mentions")
PARTICIPANT_MODIFIERS = (
    "client",
    "me",
    "internal",
    "status",
    "relationship",
    "understandings|missing",
    "ended|before",
    "ended|after",
    "since|before",
    "since|after",
)
TIME_MODIFIERS = ("outside_hours", "weekday", "hour", "all_day")
MAX_EVIDENCE = 5
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
MAX_WORD_LENGTH = 40


class Predicate(Protocol):
    def test(self, context: Context) -> list[Evidence] | None: ...

    def holds(self, context: Context) -> bool:
        """Whether :meth:`test` would give evidence, found without gathering it: what
        a rule's condition asks of every item, when evidence is wanted only for the
        few that fire."""
        ...


def text_fields(field: str) -> tuple[str, ...]:
    return TEXT_EXPANSION.get(field, (field,))


class HitsPredicate(NamedTuple):
    """Lexicon terms or phrases found by the run's one scan (``lexicon``, ``contains``)."""

    selection: str
    fields: tuple[str, ...]
    groups: tuple[str, ...]
    minimum: int = 1
    need_every_key: int = 0  # `all`: how many distinct phrases must all be present

    def test(self, context: Context) -> list[Evidence] | None:
        hits = self._hits(context)
        return None if hits is None else context.evidence(self.selection, hits)

    def holds(self, context: Context) -> bool:
        return self._hits(context) is not None

    def _hits(self, context: Context) -> list[FieldHit] | None:
        hits = context.hits(self.fields, self.groups)
        if self.need_every_key or self.minimum > 1:
            keys = {(h.hit.group, h.hit.key) for h in hits}
            if self.need_every_key:
                return hits if len(keys) >= self.need_every_key else None
            weights = context.engine.weights  # each distinct term counts its weight, 1 by default
            return hits if sum(weights.get(key, 1.0) for key in keys) >= self.minimum else None
        return hits or None


class NearPredicate(NamedTuple):
    """A term of ``first`` and one of ``second`` close together. On a long text, the
    lexicon whose hits are not known yet is scanned for only near those of the other
    (:meth:`~linter.engine.context.Context.hits_near`): a newsletter costs a scan of
    one lexicon and of a few windows, not of two lexicons."""

    selection: str
    fields: tuple[str, ...]
    first: str
    second: str
    within: int
    same_paragraph: bool = False

    def test(self, context: Context) -> list[Evidence] | None:
        pair = self._pair(context)
        return context.evidence(self.selection, list(pair)) if pair else None

    def holds(self, context: Context) -> bool:
        return self._pair(context) is not None

    def _pair(self, context: Context) -> tuple[FieldHit, FieldHit] | None:
        reach = _reach(self.within)
        if context.scanned(self.second) and not context.scanned(self.first):
            # the second's hits are known: look for the first's only near them
            seconds = context.hits(self.fields, (self.second,))
            if not seconds:
                return None
            firsts = context.hits_near(self.fields, self.first, seconds, reach)
        else:
            firsts = context.hits(self.fields, (self.first,))
            if not firsts:
                return None  # and the second lexicon is never scanned for
            seconds = context.hits_near(self.fields, self.second, firsts, reach)
        return _close_pair(context, firsts, seconds, self.within, self.same_paragraph)


def _close_pair(
    context: Context,
    firsts: Sequence[FieldHit],
    seconds: Sequence[FieldHit],
    within: int,
    same_paragraph: bool = False,
) -> tuple[FieldHit, FieldHit] | None:
    """The first pair of hits, one of each list, in one field and at most ``within``
    words apart (in text order; with ``same_paragraph``, no blank line between), or
    ``None``: the first of ``firsts`` that has such a partner, with the first of its
    partners in ``seconds``.

    Each of ``firsts`` is compared only with those of ``seconds`` in its field that
    start within reach of it (found by bisection), so a newsletter with thousands of
    hits of each costs thousands of comparisons, not millions."""
    reach = _reach(within)
    by_field: dict[str, list[FieldHit]] = {}
    for b in seconds:
        by_field.setdefault(b.field, []).append(b)
    starts: dict[str, list[int]] = {}
    longest: dict[str, int] = {}
    for field, hits in by_field.items():
        starts[field] = [b.hit.start for b in hits]
        if starts[field] != sorted(starts[field]):  # not in text order: compare every pair
            longest[field] = -1
        else:
            longest[field] = max(b.hit.end - b.hit.start for b in hits)
    for a in firsts:
        partners = by_field.get(a.field)
        if not partners:
            continue
        if longest[a.field] < 0:
            low, high = 0, len(partners)
        else:  # a partner before `a` ends, and so starts, at most this far before it
            low = bisect.bisect_left(starts[a.field], a.hit.start - reach - longest[a.field])
            high = bisect.bisect_right(starts[a.field], a.hit.end + reach)
        for b in partners[low:high]:
            left, right = (a, b) if a.hit.start <= b.hit.start else (b, a)
            if right.hit.start < left.hit.end or right.hit.start - left.hit.end > reach:
                continue
            gap = context.field_text(a.field)[left.hit.end : right.hit.start]
            if len(gap.split()) <= within and not (same_paragraph and _BLANK_LINE.search(gap)):
                return left, right
    return None


def _reach(within: int) -> int:
    """The most characters ``within`` words can take: no real word is this long, and
    the bound spares counting words across long gaps."""
    return (within + 1) * MAX_WORD_LENGTH


@cache
def user_regex(pattern: str) -> Any:
    """A user's regular expression (``re:``), compiled with RE2, which matches in linear
    time (Python ``re`` where it is missing), once per process: a rule set read back
    from the cache imports RE2 and compiles its expressions only if an item needs one."""
    try:
        import re2
    except ImportError:  # pragma: no cover - google-re2 is a dependency
        return re.compile(pattern)
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


class RegexPredicate(NamedTuple):
    selection: str
    fields: tuple[str, ...]
    pattern: str  # compiled when first used (see user_regex)

    def test(self, context: Context) -> list[Evidence] | None:
        regex = user_regex(self.pattern)
        for field in self.fields:
            text = context.field_text(field)
            match = regex.search(text) if text else None
            if match:
                return [context.make_evidence(self.selection, field, match.start(), match.end())]
        return None

    def holds(self, context: Context) -> bool:
        return self.test(context) is not None  # the evidence is one match, found anyway


class MentionPredicate(NamedTuple):
    selection: str
    fields: tuple[str, ...]
    others_only: bool
    near: str | None = None  # a lexicon group whose term must sit close to the name
    within: int = 8
    same_paragraph: bool = False

    def test(self, context: Context) -> list[Evidence] | None:
        found = self._hits(context)
        return context.evidence(self.selection, found) if found else None

    def holds(self, context: Context) -> bool:
        return bool(self._hits(context))

    def _hits(self, context: Context) -> Sequence[FieldHit]:
        kept = []
        for hit in context.hits(self.fields, ("contacts",)):
            contact = context.engine.mentionable[hit.hit.key]
            if self.others_only and contact.key in context.client_keys:
                continue
            kept.append(hit)
        if not kept or self.near is None:
            return kept
        terms = context.hits_near(self.fields, self.near, kept, _reach(self.within))
        pair = _close_pair(context, kept, terms, self.within, self.same_paragraph)
        return pair or ()


ParticipantCheck = Callable[[Participant, Contact | None, "Context"], bool]
TimeCheck = Callable[[dt.datetime, bool, "Context"], bool]


class ParticipantPredicate(NamedTuple):
    """Some participant in ``field`` passes every check."""

    selection: str
    field: str
    checks: tuple[ParticipantCheck, ...]

    def test(self, context: Context) -> list[Evidence] | None:
        found: list[Evidence] = []
        labels: set[str] = set()
        for participant, contact, label in context.labelled(self.field):
            if label in labels:
                continue  # a hundred people at one client are one piece of evidence
            if all(check(participant, contact, context) for check in self.checks):
                labels.add(label)
                found.append(
                    Evidence(self.selection, participant.role, label, snippet=participant.address)
                )
                if len(found) >= MAX_EVIDENCE:
                    break
        return found or None

    def holds(self, context: Context) -> bool:
        # resolves people one at a time, and stops at the first who passes
        checks = self.checks
        for participant, contact in context.each_resolved(self.field):
            if all(check(participant, contact, context) for check in checks):
                return True
        return False


def participant_check(modifier: str, value: Any) -> ParticipantCheck:
    """Build one check; ``value`` has already been validated by the rule loader. Checks
    are module functions with their settings bound (``partial``), not closures, so that
    a compiled rule set can be kept between runs (see :mod:`linter.enginecache`)."""
    if modifier in ("client", "me", "internal", "understandings|missing"):
        return partial(_PARTICIPANT_CHECKS[modifier], bool(value))
    if modifier in ("status", "relationship"):
        return partial(_has_attribute_in, modifier, frozenset(_as_strings(value)))
    attribute, _, op = modifier.partition("|")
    return partial(_date_compares, attribute, op == "before", value)


def _is_client(want: bool, p: Participant, c: Contact | None, ctx: Context) -> bool:
    return (c is not None) == want and not ctx.is_me(p.address)


def _is_me(want: bool, p: Participant, c: Contact | None, ctx: Context) -> bool:
    return ctx.is_me(p.address) == want


def _is_internal(want: bool, p: Participant, c: Contact | None, ctx: Context) -> bool:
    return _internal(p.domain, ctx) == want


def _lacks_understandings(want: bool, p: Participant, c: Contact | None, ctx: Context) -> bool:
    return c is not None and (c.understandings is None) == want


_PARTICIPANT_CHECKS = {
    "client": _is_client,
    "me": _is_me,
    "internal": _is_internal,
    "understandings|missing": _lacks_understandings,
}


def _has_attribute_in(
    attribute: str, allowed: frozenset[str], p: Participant, c: Contact | None, ctx: Context
) -> bool:
    return c is not None and getattr(c, attribute) in allowed


def _date_compares(
    attribute: str, before: bool, limit: dt.date, p: Participant, c: Contact | None, ctx: Context
) -> bool:
    when = getattr(c, attribute, None) if c is not None else None
    if when is None:
        return False
    return bool(when < limit) if before else bool(when > limit)


class TimePredicate(NamedTuple):
    selection: str
    check: TimeCheck

    def test(self, context: Context) -> list[Evidence] | None:
        item = context.item
        if item.start is None or not self.holds(context):
            return None
        local = context.engine.hours.local(item.start)
        all_day = getattr(item, "all_day", False)
        words = local.strftime("%a %d %b") if all_day else local.strftime("%a %d %b %H:%M")
        return [Evidence(self.selection, "start", words)]

    def holds(self, context: Context) -> bool:
        start = context.item.start
        return start is not None and self.check(
            start, bool(getattr(context.item, "all_day", False)), context
        )


def time_check(modifier: str, value: Any) -> TimeCheck:
    """Build one check (a bound module function, as :func:`participant_check`)."""
    if modifier == "outside_hours":
        return partial(_outside_hours, bool(value))
    if modifier == "all_day":
        return partial(_all_day, bool(value))
    if modifier == "weekday":
        return partial(_on_weekday, value)
    low, high = value
    return partial(_in_hours, low, high)


def _outside_hours(want: bool, moment: dt.datetime, all_day: bool, ctx: Context) -> bool:
    return ctx.engine.hours.outside(moment, all_day) == want


def _all_day(want: bool, moment: dt.datetime, all_day: bool, ctx: Context) -> bool:
    return all_day == want


def _on_weekday(days: frozenset[int], moment: dt.datetime, all_day: bool, ctx: Context) -> bool:
    return ctx.engine.hours.local(moment).weekday() in days


def _in_hours(low: int, high: int, moment: dt.datetime, all_day: bool, ctx: Context) -> bool:
    return (not all_day) and low <= ctx.engine.hours.local(moment).hour <= high


def _internal(domain: str, context: Context) -> bool:
    """Whether a domain (or a parent of it) is one of the directory's own."""
    internal = context.engine.directory.internal_domains
    domain = domain.lower()
    while domain:
        if domain in internal:
            return True
        domain = domain.partition(".")[2]
    return False


def _as_strings(value: Any) -> Iterable[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


class Selection(NamedTuple):
    """Alternatives (``or``) of predicate lists (``and``)."""

    name: str
    alternatives: tuple[tuple[Predicate, ...], ...]

    def test(self, context: Context) -> list[Evidence] | None:
        for predicates in self.alternatives:
            evidence: list[Evidence] = []
            for predicate in predicates:
                found = predicate.test(context)
                if found is None:
                    break
                evidence.extend(found)
            else:
                return evidence
        return None

    def holds(self, context: Context) -> bool:
        """Whether :meth:`test` would give evidence (see :meth:`Predicate.holds`)."""
        return any(
            all(predicate.holds(context) for predicate in predicates)
            for predicates in self.alternatives
        )


def labels(evidence: Sequence[Evidence]) -> list[str]:
    """The distinct words of some evidence, in order, for message placeholders; a phrase
    matched across a line break reads as one line ("not happy with", not "not\nhappy")."""
    seen: dict[str, str] = {}
    for piece in evidence:
        words = " ".join(piece.words.split())
        key = words.casefold()
        if key not in seen:
            seen[key] = words
    return list(seen.values())
