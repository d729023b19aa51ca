"""Parsed YAML kept between runs, so an unchanged rule pack is not parsed again.

Reading the default rule pack (a few dozen files) with PyYAML's pure-Python parser is
most of a lint run's start-up. The parser stays the one :mod:`linter.yamlfile` uses,
with the same errors and the same ``file:line:col`` marks; what it produced for a text
is kept as JSON under a key made of the text, this module and the parser's version,
and rebuilt from there the next time the very same text is read.

Only documents of plain values are kept: mappings and lists (with their marks), text,
numbers, booleans, null, dates and times. Anything else (an anchor used twice, a set,
binary data) is simply parsed every time. The bytes live wherever the caller's cache
puts them (``lintrun.FileCache``: the user's cache folder, owner only); a damaged entry
is ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any, Protocol

from linter.yamlfile import LocatedDict, LocatedList, Mark, Place


def _version() -> str:
    """Anything that changes how a text becomes values changes every key: this module,
    :mod:`linter.yamlfile`, and PyYAML's version (read from its ``__init__.py``, which
    sets ``__version__``, so that a remembered document needs no import of PyYAML)."""
    spec = importlib.util.find_spec("yaml")
    modules = [Path(__file__), Path(__file__).with_name("yamlfile.py")]
    if spec is not None and spec.origin:
        modules.append(Path(spec.origin))
    try:
        code = b"".join(module.read_bytes() for module in modules)
    except OSError:  # pragma: no cover - no sources beside the modules
        code = __name__.encode()
    return hashlib.sha256(code).hexdigest()[:16]


_VERSION = _version()


class Store(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, data: bytes) -> None: ...


class _UnkeptError(Exception):
    """A value this module does not keep."""


class ParsedDocuments:
    """A :class:`linter.yamlfile.Memory` backed by a byte store."""

    def __init__(self, store: Store):
        self.store = store

    def recall(self, text: str) -> Any:
        data = self.store.get(_key(text))
        if data is None:
            return None
        try:
            return _thaw(json.loads(data))
        except (ValueError, TypeError, KeyError, IndexError, _UnkeptError):
            return None  # damaged or from elsewhere: parse afresh

    def keep(self, text: str, value: Any) -> None:
        if value is None:
            return
        try:
            frozen = _freeze(value, set())
        except _UnkeptError:
            return
        self.store.put(_key(text), json.dumps(frozen, ensure_ascii=False).encode("utf-8"))


def _key(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"yaml-{_VERSION}-{digest[:32]}"


def _freeze(value: Any, seen: set[int]) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if type(value) not in (LocatedDict, LocatedList) or id(value) in seen:
        raise _UnkeptError  # a plain container, or one shared through an alias
    seen.add(id(value))
    if isinstance(value, LocatedDict):
        return {
            "map": [[key, _freeze(item, seen)] for key, item in value.items()],
            "at": _place(value.mark),
            "keys": [[key, _place(mark)] for key, mark in value.key_marks.items()],
            "values": [[key, _place(mark)] for key, mark in value.value_marks.items()],
        }
    return {
        "list": [_freeze(item, seen) for item in value],
        "at": _place(value.mark),
        "items": [_place(mark) for mark in value.item_marks],
    }


def _place(mark: Place) -> list[int]:
    return [mark.line, mark.col] if isinstance(mark, Mark) else list(mark)


def _thaw(frozen: Any) -> Any:
    if not isinstance(frozen, dict):
        if isinstance(frozen, list):
            raise _UnkeptError
        return frozen
    if "map" in frozen:
        mapping = LocatedDict((key, _thaw(item)) for key, item in frozen["map"])
        mapping.mark = Mark(*frozen["at"])
        mapping.key_marks = dict(frozen["keys"])  # [line, col] each: see yamlfile.Place
        mapping.value_marks = dict(frozen["values"])
        return mapping
    if "list" in frozen:
        sequence = LocatedList(_thaw(item) for item in frozen["list"])
        sequence.mark = Mark(*frozen["at"])
        sequence.item_marks = frozen["items"]
        return sequence
    if "datetime" in frozen:
        return dt.datetime.fromisoformat(frozen["datetime"])
    if "date" in frozen:
        return dt.date.fromisoformat(frozen["date"])
    raise _UnkeptError
