"""Reading YAML so that every error can say ``file:line:col``.

Rules, lexicons, contacts and configuration are all YAML written by people. When one
is wrong, the message must point at the spot: :func:`parse` returns plain dicts and
lists (subclasses that remember where each key and value began), and
:class:`ConfigError` formats as ``path:line:col: message`` with an optional hint.

A document whose aliases stand for more than :data:`ALIAS_LIMIT` values in all (an
"alias bomb") is refused while it is composed, at the alias that goes too far.

:func:`check_keys` rejects unknown keys with a near-miss suggestion
("unknown key `aplies_to`; did you mean `applies_to`?").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    import yaml


class Mark(NamedTuple):  # a tuple: every node of a kept rule file has one
    line: int  # 1-based
    col: int  # 1-based


class ConfigError(Exception):
    """A configuration, contact, rule or lexicon file that cannot be used (exit 2)."""

    def __init__(self, path: str, message: str, mark: Mark | None = None, hint: str = ""):
        self.path = path
        self.message = message
        self.mark = mark
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.mark.line}:{self.mark.col}" if self.mark else self.path
        text = f"{where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


# where a key, value or item began: a Mark, or its line and column as a parsed
# document kept between runs holds them (made a Mark only when asked for, which is
# seldom: for an error message)
Place = Mark | Sequence[int]


class LocatedDict(dict[str, Any]):
    """A mapping that remembers where it and each of its keys and values began (one
    made in code, not parsed, knows no places: every mark is its own)."""

    mark: Mark = Mark(1, 1)
    key_marks: Mapping[str, Place] = MappingProxyType({})
    value_marks: Mapping[str, Place] = MappingProxyType({})

    def key_mark(self, key: str) -> Mark:
        return _as_mark(self.key_marks.get(key, self.mark))

    def value_mark(self, key: str) -> Mark:
        return _as_mark(self.value_marks.get(key, self.key_mark(key)))


class LocatedList(list[Any]):
    mark: Mark = Mark(1, 1)
    item_marks: Sequence[Place] = ()

    def item_mark(self, index: int) -> Mark:
        return _as_mark(self.item_marks[index] if index < len(self.item_marks) else self.mark)


def _as_mark(place: Place) -> Mark:
    return place if isinstance(place, Mark) else Mark(*place)


def _mark(node: yaml.Node) -> Mark:
    return _mark_at(node.start_mark)


def _mark_at(mark: Any) -> Mark:  # a yaml.Mark (the stubs allow several kinds)
    return Mark(mark.line + 1, mark.column + 1)


# How many values aliases may add to one document, all told. An alias stands for the
# whole of what its anchor holds, and anchors may hold aliases: nine lines of nine
# aliases each ("billion laughs") stand for 9**9 values, which would take minutes and
# gigabytes to build and to format. Reusing a few anchors adds a few dozen values.
ALIAS_LIMIT = 10_000


class _AliasesTooLargeError(Exception):
    def __init__(self, mark: Mark):
        self.mark = mark


@cache
def _loader() -> type[yaml.SafeLoader]:
    """PyYAML's safe loader, building :class:`LocatedDict` and :class:`LocatedList`.
    Made on first use: a run whose every document is remembered (see :func:`parse`)
    never imports PyYAML."""
    import yaml

    class Loader(yaml.SafeLoader):
        """Counts, while composing, the values each node stands for once its aliases
        are expanded, and refuses a document whose aliases add more than
        :data:`ALIAS_LIMIT` (before anything is built from it)."""

        def __init__(self, stream: str):
            super().__init__(stream)
            self._sizes: dict[int, int] = {}  # id of a composed node -> values expanded
            self._added = 0  # values added by aliases so far

        def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
            alias: yaml.Event | None = None
            if self.check_event(yaml.AliasEvent):
                alias = self.peek_event()  # type: ignore[no-untyped-call]
            node = super().compose_node(parent, index)
            if node is None:  # pragma: no cover - PyYAML composes a node or raises
                return node
            if alias is not None:
                # an alias to a node still being composed (itself, recursively) counts
                # one: the constructor refuses such a document anyway
                self._added += self._sizes.get(id(node), 1)
                if self._added > ALIAS_LIMIT:
                    raise _AliasesTooLargeError(_mark_at(alias.start_mark))
            elif id(node) not in self._sizes:
                sizes = self._sizes
                if isinstance(node, yaml.MappingNode):
                    inside = sum(sizes.get(id(k), 1) + sizes.get(id(v), 1) for k, v in node.value)
                elif isinstance(node, yaml.SequenceNode):
                    inside = sum(sizes.get(id(child), 1) for child in node.value)
                else:  # a scalar
                    inside = 0
                sizes[id(node)] = 1 + inside
            return node

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
    return Loader


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LocatedDict:
    import yaml

    loader.flatten_mapping(node)
    result = LocatedDict()
    result.mark = _mark(node)
    key_marks: dict[str, Place] = {}
    value_marks: dict[str, Place] = {}
    result.key_marks, result.value_marks = key_marks, value_marks
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) or key is None:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be plain text", key_node.start_mark
            )
        key = str(key)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key `{key}`", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        key_marks[key] = _mark(key_node)
        value_marks[key] = _mark(value_node)
    return result


def _construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    result.mark = _mark(node)
    result.item_marks = [_mark(child) for child in node.value]
    return result


class Memory(Protocol):
    """Somewhere to keep parsed documents between runs (see :mod:`linter.yamlcache`)."""

    def recall(self, text: str) -> Any: ...  # the document parsed from ``text``, or None
    def keep(self, text: str, value: Any) -> None: ...


_memory: list[Memory] = []  # at most one


def remember_with(memory: Memory | None) -> None:
    """Have :func:`parse` look in ``memory`` first and keep what it parses there."""
    _memory[:] = [memory] if memory is not None else []


def parse(text: str, path: str) -> Any:
    """Parse one YAML document; raise :class:`ConfigError` naming ``path:line:col``."""
    memory = _memory[0] if _memory else None
    if memory is not None:
        found = memory.recall(text)
        if found is not None:
            return found
    import yaml

    try:
        value = yaml.load(text, Loader=_loader())
    except _AliasesTooLargeError as exc:
        raise ConfigError(
            path,
            f"YAML aliases that expand this far are not accepted (more than {ALIAS_LIMIT:,} "
            "values in all)",
            exc.mark,
            "write the values out, or reuse an anchor a few times only",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(path, f"invalid YAML: {problem}", where) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, f"invalid YAML: {exc}") from None
    if memory is not None:
        memory.keep(text, value)
    return value


def read(path: str) -> Any:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`ConfigError`."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    return parse(text, path)


def suggest(word: str, choices: Iterable[str]) -> str:
    import difflib  # only ever needed to explain a mistake

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else ""


def check_keys(mapping: LocatedDict, allowed: Iterable[str], path: str, what: str = "key") -> None:
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                path,
                f"unknown {what} `{key}`",
                mapping.key_mark(key),
                suggest(key, allowed) or "expected one of: " + ", ".join(allowed),
            )


def expect_mapping(value: Any, path: str, what: str, mark: Mark | None = None) -> LocatedDict:
    if not isinstance(value, LocatedDict):
        raise ConfigError(
            path, f"{what} must be a mapping, not {type_name(value)}", getattr(value, "mark", mark)
        )
    return value


def shown(value: Any, limit: int = 60) -> str:
    """``value`` as an error message may quote it: text, a number, true/false or a date
    in backticks (cut short past ``limit`` characters); anything else, however large,
    by what it is ("a list", "a mapping"), never formatted."""
    if isinstance(value, str | int | float | bool | dt.date | dt.time):
        text = str(value)
        return f"`{text[:limit]}…`" if len(text) > limit else f"`{text}`"
    return type_name(value)


def type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        LocatedDict: "a mapping",
        LocatedList: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)
