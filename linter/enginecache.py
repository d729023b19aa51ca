"""A compiled rule set kept between runs, so that an unchanged one starts at once.

Before its first item, a lint run reads the rule packs and compiles them into an
engine: lexicon terms into patterns, the scanner's plans, the rule gate. Even with the
parsed YAML and the Hyperscan databases read back from the cache (see
:mod:`linter.yamlcache` and :class:`linter.engine.scanner.DatabaseCache`), that is about
35 ms, a fifth of a run over a day's mail. So the rule set and its engine are pickled
into the caller's byte store as soon as they are made, and read back (about 7 ms) by
the next run whose key is the same. The key is made of everything they are made of:

* this package's code (the size and modification time of every module in it) and the
  Python version;
* every file in the folders the rule packs are read from (rule and lexicon files: their
  names, sizes and modification times), and the seeds' principles;
* the contact directory's file: the engine compiles client names into patterns;
* the options that change them: the packs, lexicon changes, disabled rules, severity
  overrides, working hours and the matching backend.

A change to any of them makes a new key, and that run reads and compiles as before and
keeps its result; only the last few kept (:data:`KEPT`) stay in the store. A rule set
with errors is never kept. An entry that does not load (damaged, or written by other
code) is ignored. The Hyperscan databases are left out of the pickle and loaded again
from their own cache entries.

A pickle can hold code, so one is only ever read from the user's own cache folder
(owner-only, see :class:`linter.lintrun.FileCache`), where this tool wrote it, as the
compiled databases are.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Protocol

from linter import packs
from linter.engine import Engine

_PREFIX = "engine-"
KEPT = 4  # rule sets kept at once: a few setups in turn (a daemon's, a manual run's)


class Store(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, data: bytes) -> None: ...
    def forget_older(self, prefix: str, keep: int) -> None: ...


def key(pack_dirs: Iterable[Path], contacts_file: str, options: object) -> str:
    """The key a rule set made from these packs, contacts and options is kept under.
    ``options`` is anything else it depends on, with a ``repr`` that says all of it."""
    pack_dirs = list(pack_dirs)
    folders = [*packs.lexicon_folders(pack_dirs), *pack_dirs]
    parts = [
        _code(),
        repr(options),
        *(_listing(folder) for folder in dict.fromkeys(folders)),
        _stat(packs.principles_file()),
        _stat(Path(contacts_file)),
    ]
    return _PREFIX + hashlib.sha256("\n".join(parts).encode("utf-8", "replace")).hexdigest()[:32]


def recall(store: Store, name: str) -> tuple[packs.RuleSet, Engine] | None:
    """The rule set and engine kept under ``name``, or ``None``."""
    data = store.get(name)
    if not data:
        return None
    try:
        ruleset, engine = pickle.loads(data)
    except Exception:  # damaged, or from other code: compile afresh
        return None
    if not isinstance(ruleset, packs.RuleSet) or not isinstance(engine, Engine):
        return None
    return ruleset, engine


def keep(store: Store, name: str, ruleset: packs.RuleSet, engine: Engine) -> None:
    """Keep a rule set and its engine, made just now and used on no item yet."""
    if ruleset.errors:
        return
    try:
        data = pickle.dumps((ruleset, engine), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return  # something in it does not pickle (a plugin's rule?): not kept
    store.put(name, data)
    # every edit of a rule or the contacts makes a new one (half a megabyte)
    store.forget_older(_PREFIX, KEPT)


@cache
def _code() -> str:
    """This package's modules, by size and modification time, and the Python version."""
    found = [sys.version]
    folders = [os.path.dirname(__file__)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.endswith(".py"):
                    status = entry.stat()
                    found.append(f"{entry.path} {status.st_size} {status.st_mtime_ns}")
                elif entry.is_dir() and entry.name != "__pycache__":
                    folders.append(entry.path)
    return "\n".join(found)


def _listing(folder: Path) -> str:
    """A folder's entries, each with its size and modification time."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError:
        return f"{folder} -"
    return "\n".join([str(folder), *(f"{name} {_stat(folder / name)}" for name in names)])


def _stat(path: Path) -> str:
    try:
        status = path.stat()
    except OSError:
        return f"{path} -"
    return f"{path} {status.st_size} {status.st_mtime_ns}"
