"""Rule files: one rule per YAML file, validated and compiled when loaded.

The format (see ``docs/rules.md`` for every key and modifier, with examples)::

    id: CL101                          # stable code, never reused
    name: business-agenda-at-social-occasion
    title: Business agenda inside a social occasion with a client
    severity: warning                  # info | warning | error
    applies_to: [event, message]
    principles: [P1]                   # ids in seeds/principles.yaml
    tags: [mixing]
    rationale: Why this matters, in a sentence or two.
    select:                            # named selections
      client:   {participants|client: true}
      business: {text|lexicon: business}
      social:   {text|lexicon: social}
      ok:       {text|re: '(?i)\\bworking lunch\\b'}
    condition: client and business and social and not ok
    message: "'{item.title}' mixes business ({business}) with {social} with {client}"
    advice: Hold the business part as its own meeting in working hours.
    tests:
      - name: review over drinks
        event: {title: "Q3 contract review over drinks", attendees: [dana@acme.example]}
        expect: [CL101]

Everything that can be checked is checked here, before any item is read: unknown keys
and modifiers (with a near-miss suggestion), unknown lexicons, invalid regular
expressions, condition syntax and unknown selections, and message placeholders that no
selection can fill. Each error names ``file:line:col``.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from linter.engine import condition as conditions
from linter.engine.hours import parse_days
from linter.engine.lexicon import form_pattern, normalise
from linter.engine.predicates import (
    PARTICIPANT_FIELDS,
    PARTICIPANT_MODIFIERS,
    TEXT_FIELDS,
    TEXT_MODIFIERS,
    TIME_FIELDS,
    TIME_MODIFIERS,
    HitsPredicate,
    MentionPredicate,
    NearPredicate,
    ParticipantPredicate,
    Predicate,
    RegexPredicate,
    Selection,
    TimePredicate,
    participant_check,
    text_fields,
    time_check,
    user_regex,
)
from linter.engine.scanner import Pattern
from linter.model import ITEM_KINDS, Severity
from linter.yamlfile import (
    ConfigError,
    LocatedDict,
    LocatedList,
    Mark,
    check_keys,
    expect_mapping,
    suggest,
)

RULE_KEYS = (
    "id",
    "name",
    "title",
    "severity",
    "applies_to",
    "principles",
    "tags",
    "rationale",
    "select",
    "condition",
    "message",
    "advice",
    "tests",
    "references",
)
OPTIONAL = ("tags", "rationale", "tests", "references")
REQUIRED = tuple(key for key in RULE_KEYS if key not in OPTIONAL)
ITEM_PLACEHOLDERS = ("title", "kind", "location", "start", "source", "locator")
_ID = re.compile(r"^[A-Z]{2,5}[0-9]{3,4}$")
_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SELECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Rule(NamedTuple):  # a tuple: a dataclass has its methods generated at every start
    id: str
    name: str
    title: str
    severity: Severity
    applies_to: frozenset[str]
    principles: tuple[str, ...]
    tags: tuple[str, ...]
    rationale: str
    message: str
    advice: str
    selections: Mapping[str, Selection]
    condition: conditions.Node
    positive: frozenset[str]  # selections whose evidence explains a finding
    lexicons: frozenset[str]
    patterns: tuple[Pattern, ...]  # the rule's own phrases, for the engine's one scan
    fields: frozenset[str]  # text fields the rule reads
    placeholders: tuple[str, ...] = ()  # selections named in the message
    origin: str = ""
    line: int = 1
    tests: tuple[Any, ...] = ()
    references: tuple[str, ...] = ()


def from_data(
    data: Any,
    path: str,
    lexicons: Collection[str],
    principles: Collection[str] | None = None,
) -> Rule:
    top = expect_mapping(data, path, "a rule file")
    check_keys(top, RULE_KEYS, path)
    for key in REQUIRED:
        if key not in top:
            raise ConfigError(path, f"missing required key `{key}`", top.mark)
    rule_id = _text(top, "id", path)
    if not _ID.match(rule_id):
        raise ConfigError(path, f"rule id `{rule_id}` must look like CL101", top.value_mark("id"))
    name = _text(top, "name", path)
    if not _NAME.match(name):
        raise ConfigError(
            path, "`name` must be lower-case words joined by hyphens", top.value_mark("name")
        )
    severity_name = _text(top, "severity", path)
    try:
        severity = Severity.parse(severity_name)
    except KeyError:
        raise ConfigError(
            path,
            f"unknown severity `{severity_name}`",
            top.value_mark("severity"),
            "expected info, warning or error",
        ) from None
    applies_to = _text_list(top, "applies_to", path)
    for kind in applies_to:
        if kind not in ITEM_KINDS:
            raise ConfigError(
                path,
                f"`applies_to` takes {', '.join(ITEM_KINDS)}, not `{kind}`",
                top.value_mark("applies_to"),
            )
    rule_principles = _text_list(top, "principles", path)
    if principles is not None:
        for principle in rule_principles:
            if principle not in principles:
                raise ConfigError(
                    path,
                    f"unknown principle `{principle}`",
                    top.value_mark("principles"),
                    suggest(principle, principles),
                )
    raw_select = expect_mapping(top["select"], path, "`select`")
    if not raw_select:
        raise ConfigError(path, "`select` needs at least one selection", raw_select.mark)
    compiler = _SelectionCompiler(rule_id, path, lexicons)
    selections = {}
    for sel_name, raw in raw_select.items():
        if not _SELECTION_NAME.match(sel_name):
            raise ConfigError(
                path,
                f"selection name `{sel_name}` must be a plain identifier",
                raw_select.key_mark(sel_name),
            )
        selections[sel_name] = compiler.selection(sel_name, raw, raw_select.value_mark(sel_name))
    condition_text = _text(top, "condition", path)
    try:
        node = conditions.parse(condition_text, list(selections))
    except conditions.ConditionError as exc:
        mark = top.value_mark("condition")
        raise ConfigError(
            path, f"condition: {exc}", Mark(mark.line, mark.col + exc.column)
        ) from None
    positive = frozenset(n for n, is_positive in node.names() if is_positive)
    message = _text(top, "message", path)
    placeholders = _check_placeholders(message, selections, path, top.value_mark("message"))
    used = {n for n, _ in node.names()} | set(placeholders)
    for sel_name in selections:
        if sel_name not in used:
            raise ConfigError(
                path,
                f"selection `{sel_name}` is never used",
                raw_select.key_mark(sel_name),
                "name it in the condition or the message, or remove it",
            )
    tests = top.get("tests") or LocatedList()
    if not isinstance(tests, list):
        raise ConfigError(path, "`tests` must be a list of cases", top.value_mark("tests"))
    return Rule(
        id=rule_id,
        name=name,
        title=_text(top, "title", path),
        severity=severity,
        applies_to=frozenset(applies_to),
        principles=tuple(rule_principles),
        tags=tuple(_text_list(top, "tags", path)) if "tags" in top else (),
        rationale=" ".join(str(top.get("rationale") or "").split()),
        message=message,
        advice=" ".join(_text(top, "advice", path).split()),
        selections=selections,
        condition=node,
        positive=positive,
        lexicons=frozenset(compiler.lexicons),
        patterns=tuple(compiler.patterns),
        fields=frozenset(compiler.fields),
        placeholders=placeholders,
        origin=path,
        line=top.mark.line,
        tests=tuple(tests),
        references=tuple(_text_list(top, "references", path)) if "references" in top else (),
    )


class _SelectionCompiler:
    def __init__(self, rule_id: str, path: str, lexicons: Collection[str]):
        self.rule_id = rule_id
        self.path = path
        self.known_lexicons = lexicons
        self.lexicons: set[str] = set()
        self.patterns: list[Pattern] = []
        self.fields: set[str] = set()

    def selection(self, name: str, raw: Any, mark: Mark) -> Selection:
        alternatives = raw if isinstance(raw, LocatedList) else [raw]
        if not alternatives:
            raise ConfigError(self.path, f"selection `{name}` is empty", mark)
        compiled = []
        for index, alternative in enumerate(alternatives):
            where = raw.item_mark(index) if isinstance(raw, LocatedList) else mark
            entry = expect_mapping(alternative, self.path, f"selection `{name}`", where)
            if not entry:
                raise ConfigError(self.path, f"selection `{name}` is empty", entry.mark)
            compiled.append(self.alternative(name, entry, index))
        return Selection(name, tuple(compiled))

    def alternative(self, name: str, entry: LocatedDict, index: int) -> tuple[Predicate, ...]:
        predicates: list[Predicate] = []
        people: dict[str, list[Any]] = {}
        for key, value in entry.items():
            field_name, _, modifier = key.partition("|")
            mark = entry.value_mark(key)
            if field_name in TEXT_FIELDS:
                self._known(modifier, TEXT_MODIFIERS, entry, key)
                predicates.append(self.text(name, field_name, modifier, value, mark, index))
            elif field_name in PARTICIPANT_FIELDS:
                self._known(modifier, PARTICIPANT_MODIFIERS, entry, key)
                people.setdefault(field_name, []).append(
                    participant_check(modifier, self.participant_value(modifier, value, mark))
                )
            elif field_name in TIME_FIELDS:
                self._known(modifier, TIME_MODIFIERS, entry, key)
                predicates.append(
                    TimePredicate(
                        name, time_check(modifier, self.time_value(modifier, value, mark))
                    )
                )
            else:
                fields = TEXT_FIELDS + PARTICIPANT_FIELDS + TIME_FIELDS
                raise ConfigError(
                    self.path,
                    f"unknown field `{field_name}` in `{key}`",
                    entry.key_mark(key),
                    suggest(field_name, fields) or "fields: " + ", ".join(fields),
                )
        # people first: they are cheap, and a failed one spares the text scan
        people_predicates: list[Predicate] = [
            ParticipantPredicate(name, field_name, tuple(checks))
            for field_name, checks in people.items()
        ]
        return tuple(people_predicates + predicates)

    def _known(self, modifier: str, allowed: tuple[str, ...], entry: LocatedDict, key: str) -> None:
        if modifier not in allowed:
            what = f"modifier `{modifier}`" if modifier else "a bare field (a modifier is needed)"
            raise ConfigError(
                self.path,
                f"unknown {what} in `{key}`",
                entry.key_mark(key),
                suggest(modifier, allowed) or "expected one of: " + ", ".join(allowed),
            )

    def text(
        self, name: str, field_name: str, modifier: str, value: Any, mark: Mark, index: int
    ) -> Predicate:
        fields = text_fields(field_name)
        self.fields.update(fields)
        if modifier == "lexicon":
            minimum = 1
            names = value
            if isinstance(value, LocatedDict):
                check_keys(value, ("name", "min"), self.path)
                names, minimum = value.get("name"), value.get("min", 1)
                if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
                    raise ConfigError(
                        self.path,
                        "`min` must be a whole number of at least 1",
                        value.value_mark("min"),
                    )
            lexicon_names = self._strings(names, mark, "a lexicon name or a list of them")
            for lexicon in lexicon_names:
                self._lexicon(lexicon, mark)
            return HitsPredicate(
                name, fields, tuple(f"lexicon:{n}" for n in lexicon_names), minimum
            )
        if modifier in ("contains", "all"):
            phrases = [normalise(p) for p in self._strings(value, mark, "a phrase or a list")]
            if any(not p for p in phrases):
                raise ConfigError(self.path, "empty phrase", mark)
            group = f"phrases:{self.rule_id}.{name}.{index}.{field_name}.{modifier}"
            for key, phrase in enumerate(dict.fromkeys(phrases)):
                self.patterns.append(Pattern(group, key, form_pattern(phrase)))
            need = len(set(phrases)) if modifier == "all" else 0
            return HitsPredicate(name, fields, (group,), 1, need)
        if modifier == "re":
            if not isinstance(value, str) or not value:
                raise ConfigError(self.path, "`re` takes one regular expression", mark)
            return RegexPredicate(name, fields, valid_regex(value, self.path, mark))
        if modifier == "near":
            entry = expect_mapping(value, self.path, "`near`", mark)
            check_keys(entry, ("a", "b", "within", "same_paragraph"), self.path)
            first, second = entry.get("a"), entry.get("b")
            within = entry.get("within", 8)
            if not isinstance(first, str) or not isinstance(second, str):
                raise ConfigError(self.path, "`near` needs lexicon names `a` and `b`", entry.mark)
            if not isinstance(within, int) or isinstance(within, bool) or within < 0:
                raise ConfigError(
                    self.path, "`within` must be a number of words", entry.value_mark("within")
                )
            self._lexicon(first, entry.value_mark("a"))
            self._lexicon(second, entry.value_mark("b"))
            paragraph = self._bool(entry.get("same_paragraph", False), entry.mark)
            return NearPredicate(
                name, fields, f"lexicon:{first}", f"lexicon:{second}", within, paragraph
            )
        return self.mentions(name, fields, value, mark)

    def mentions(self, name: str, fields: tuple[str, ...], value: Any, mark: Mark) -> Predicate:
        """``mentions: other_client`` or ``{who: other_client, near: LEXICON, within: N}``."""
        near: str | None = None
        within = 8
        paragraph = False
        who = value
        if isinstance(value, LocatedDict):
            check_keys(value, ("who", "near", "within", "same_paragraph"), self.path)
            paragraph = self._bool(value.get("same_paragraph", False), value.mark)
            who = value.get("who", "any_client")
            lexicon, within = value.get("near"), value.get("within", 8)
            if not isinstance(lexicon, str):
                raise ConfigError(
                    self.path, "`mentions` with options needs `near: LEXICON`", value.mark
                )
            if not isinstance(within, int) or isinstance(within, bool) or within < 0:
                raise ConfigError(
                    self.path, "`within` must be a number of words", value.value_mark("within")
                )
            self._lexicon(lexicon, value.value_mark("near"))
            near = f"lexicon:{lexicon}"
        if who not in ("other_client", "any_client"):
            raise ConfigError(self.path, "`mentions` takes other_client or any_client", mark)
        return MentionPredicate(name, fields, who == "other_client", near, within, paragraph)

    def _lexicon(self, lexicon: str, mark: Mark) -> None:
        if lexicon not in self.known_lexicons:
            raise ConfigError(
                self.path,
                f"unknown lexicon `{lexicon}`",
                mark,
                suggest(lexicon, self.known_lexicons),
            )
        self.lexicons.add(lexicon)

    def _strings(self, value: Any, mark: Mark, what: str) -> list[str]:
        if isinstance(value, str) and value:
            return [value]
        if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            return list(value)
        raise ConfigError(self.path, f"expected {what}", mark)

    def participant_value(self, modifier: str, value: Any, mark: Mark) -> Any:
        if modifier in ("client", "me", "internal", "understandings|missing"):
            return self._bool(value, mark)
        if modifier in ("status", "relationship"):
            allowed = (
                ("active", "former", "prospect")
                if modifier == "status"
                else ("professional", "friend")
            )
            values = self._strings(value, mark, f"one of {', '.join(allowed)}")
            for item in values:
                if item not in allowed:
                    raise ConfigError(
                        self.path,
                        f"`{modifier}` takes {', '.join(allowed)}",
                        mark,
                        suggest(item, allowed),
                    )
            return values
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(self.path, "expected a date like 2025-06-30", mark) from None

    def time_value(self, modifier: str, value: Any, mark: Mark) -> Any:
        if modifier in ("outside_hours", "all_day"):
            return self._bool(value, mark)
        if modifier == "weekday":
            text = (
                value
                if isinstance(value, str)
                else ",".join(self._strings(value, mark, "day names"))
            )
            try:
                return parse_days(text)
            except ValueError as exc:
                raise ConfigError(self.path, str(exc), mark) from None
        if isinstance(value, int) and not isinstance(value, bool):
            low = high = value
        elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,2}\s*-\s*\d{1,2}\s*", value):
            low, high = (int(v) for v in value.split("-"))
        elif isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
            low, high = value
        else:
            raise ConfigError(self.path, "`hour` takes an hour or a range like 18-23", mark)
        if not (0 <= low <= high <= 23):
            raise ConfigError(self.path, "hours run from 0 to 23, low to high", mark)
        return (low, high)

    def _bool(self, value: Any, mark: Mark) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(self.path, "expected true or false", mark)
        return value


def valid_regex(pattern: str, path: str, mark: Mark) -> str:
    """``pattern``, once it is known to compile as the rule will compile it when first
    used (:func:`~linter.engine.predicates.user_regex`: RE2, linear time)."""
    try:
        import re2
    except ImportError:  # pragma: no cover - google-re2 is a dependency
        try:
            user_regex(pattern)
        except re.error as exc:
            raise ConfigError(path, f"invalid regular expression: {exc}", mark) from None
        return pattern
    try:
        user_regex(pattern)
        return pattern
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ConfigError(
            path,
            f"invalid regular expression: {detail}",
            mark,
            "RE2 syntax: no look-around or back-references",
        ) from None


def _check_placeholders(
    template: str, selections: Mapping[str, Any], path: str, mark: Mark
) -> tuple[str, ...]:
    """Reject placeholders nothing can fill; return the selection names used."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConfigError(path, f"message template: {exc}", mark) from None
    allowed = [*selections, *(f"item.{a}" for a in ITEM_PLACEHOLDERS)]
    for placeholder in fields:
        if placeholder not in allowed:
            raise ConfigError(
                path,
                f"message placeholder `{{{placeholder}}}` cannot be filled",
                mark,
                suggest(placeholder, allowed)
                or "use a selection name or item.title, item.start, ...",
            )
    return tuple(dict.fromkeys(f for f in fields if f in selections))


def _text(top: LocatedDict, key: str, path: str) -> str:
    value = top.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, f"`{key}` must be text", top.value_mark(key))
    return value.strip()


def _text_list(top: LocatedDict, key: str, path: str) -> list[str]:
    value = top.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(path, f"`{key}` must be a list of words", top.value_mark(key))
    return [v.strip() for v in value]
