"""One lint run: configuration, contacts and rules in; findings out to a reporter.

:func:`prepare` does everything that can fail on the user's configuration — config,
contact directory, every rule pack — before any item is read, collecting every error
(exit 2); a rule set compiled by an earlier run from the very same files and options is
read back instead of compiled again (see :mod:`linter.enginecache`). :func:`run` then
streams items from the sources through the engine to the reporter, a chunk of items at
a time (see :func:`linter.sources.chunks`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import platformdirs

from linter import config as config_module
from linter import contacts as contacts_module
from linter import enginecache, packs, yamlfile
from linter.engine import Engine
from linter.model import Finding, Problem, Severity
from linter.report import Reporter, Summary
from linter.sources import Window, chunks, iter_items
from linter.yamlcache import ParsedDocuments
from linter.yamlfile import ConfigError

if TYPE_CHECKING:  # imported by the runs that use a baseline (see linter.cli)
    from linter.baseline import Baseline


DAY = 86400  # seconds


class FileCache:
    """Compiled pattern databases, parsed YAML and kept rule sets under the user's cache
    folder (owner-only).

    Every edit of a rule, lexicon or contact file makes new entries and leaves the old
    ones unread, so :meth:`prune` removes, once a day, whatever no run has read for
    :data:`KEPT_DAYS`; an entry read is marked as in use (its modification time, at
    most once a day) however long ago it was written.
    """

    KEPT_DAYS = 30
    MARK = ".pruned"  # when the folder was last pruned

    def __init__(self, folder: Path | None = None):
        self.folder = folder or Path(
            os.environ.get("CLIENTLINE_CACHE_DIR") or platformdirs.user_cache_dir("clientline")
        )

    def get(self, key: str) -> bytes | None:
        path = self.folder / key
        try:
            with open(path, "rb") as handle:
                data = handle.read()
                stale = time.time() - os.fstat(handle.fileno()).st_mtime > DAY
        except OSError:
            return None
        if stale:
            with contextlib.suppress(OSError):  # a read-only cache is still read
                os.utime(path)  # in use: see prune()
        return data

    def put(self, key: str, data: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            # write then rename, so a concurrent run never reads half a file
            with tempfile.NamedTemporaryFile(dir=self.folder, delete=False) as handle:
                handle.write(data)
            os.replace(handle.name, self.folder / key)
        except OSError:
            pass  # a cache is an optimisation; a read-only home must not fail a run

    def prune(self, now: float | None = None) -> None:
        """Remove the entries no run has read for :data:`KEPT_DAYS`, unless the folder
        was pruned less than a day ago (one ``stat`` for most runs)."""
        now = time.time() if now is None else now
        mark = self.folder / self.MARK
        try:
            if now - mark.stat().st_mtime < DAY:
                return
        except FileNotFoundError:
            pass
        except OSError:
            return
        try:
            for entry in os.scandir(self.folder):
                if entry.name == self.MARK or not entry.is_file(follow_symlinks=False):
                    continue
                with contextlib.suppress(FileNotFoundError):  # another run's prune
                    if entry.stat().st_mtime < now - self.KEPT_DAYS * DAY:
                        os.unlink(entry.path)
            mark.touch()
            os.utime(mark, (now, now))
        except OSError:
            pass  # another run pruned it first, or the folder is read-only or missing

    def forget_older(self, prefix: str, keep: int) -> None:
        """Remove the entries whose keys start with ``prefix``, all but the ``keep``
        written (or, a day or more after, read: see :meth:`get`) last."""
        try:
            entries = [e for e in os.scandir(self.folder) if e.name.startswith(prefix)]
            entries.sort(key=lambda e: e.stat().st_mtime_ns, reverse=True)
            for entry in entries[keep:]:
                os.unlink(entry.path)
        except OSError:
            pass  # another run removed it first, or the folder is read-only


class SetupError(Exception):
    """Configuration that cannot be used; carries every error found."""

    def __init__(self, errors: Sequence[ConfigError | str]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class Setup(NamedTuple):  # a tuple: a dataclass has its methods generated at every start
    config: config_module.Config
    engine: Engine
    window: Window
    ruleset: packs.RuleSet


def prepare(
    config_path: str | None = None,
    contacts_path: str | None = None,
    extra_packs: Iterable[str] = (),
    since: str | None = None,
    until: str | None = None,
    now: dt.datetime | None = None,
    backend: str | None = None,
) -> Setup:
    # the rule packs, parsed once and then read back while they stay unchanged
    yamlfile.remember_with(ParsedDocuments(FileCache()))
    try:
        config_path = config_path or config_module.discover()
        config = config_module.load(config_path) if config_path else config_module.defaults()
    except ConfigError as exc:
        raise SetupError([exc]) from None
    errors: list[ConfigError | str] = []
    directory = None
    contacts_file = contacts_path or config.contacts
    if not contacts_file:
        errors.append(
            "no contact directory: pass --contacts FILE or set `contacts:` in "
            "clientline.yaml (`clientline init` writes a starter)"
        )
    else:
        try:
            directory = contacts_module.load(contacts_file)
        except ConfigError as exc:
            errors.append(exc)
    pack_dirs: list[Path] = []
    for spec in [*config.packs, *extra_packs]:
        try:
            pack_dirs.append(
                packs.resolve(spec, config.base if spec in config.packs else Path.cwd())
            )
        except ConfigError as exc:
            errors.append(exc)
    # the rule set and its engine, as a run with the very same ones compiled them
    cache = FileCache()
    kept_as = None
    engine: Engine | None = None
    if directory is not None and not errors and contacts_file:
        options = (pack_dirs, config.lexicons, config.disable, config.severity, config.hours)
        kept_as = enginecache.key(pack_dirs, contacts_file, (*options, backend))
        kept = enginecache.recall(cache, kept_as)
        if kept is not None:
            ruleset, engine = kept
    if engine is None:
        ruleset = packs.load(
            dict.fromkeys(pack_dirs), config.lexicons, config.disable, config.severity
        )
    errors.extend(ruleset.errors)
    tz = config.tz
    now = now or dt.datetime.now(tz)
    try:
        start = config_module.parse_moment(since, tz, now, "--since") or config.since
        end = config_module.parse_moment(until, tz, now, "--until") or config.until
    except ConfigError as exc:
        errors.append(exc)
        start = end = None
    if errors or directory is None:
        raise SetupError(errors)
    default = Window.around(now, tz)
    window = Window(
        start or default.since, end or default.until, tz, filter_messages=bool(since or until)
    )
    if window.until <= window.since:
        raise SetupError(["--until must be later than --since"])
    if engine is None:
        engine = Engine(ruleset.rules, ruleset.lexicons, directory, config.hours, backend, cache)
        if kept_as is not None:
            enginecache.keep(cache, kept_as, ruleset, engine)
    cache.prune()
    return Setup(config, engine, window, ruleset)


def run(
    setup: Setup,
    paths: Iterable[str],
    reporter: Reporter,
    minimum: Severity = Severity.INFO,
    accepted: Baseline | None = None,
    to_baseline: list[Finding] | None = None,
) -> Summary:
    """Lint ``paths`` into ``reporter``. Findings an inline marker suppresses, and those
    the ``accepted`` baseline lists, are counted but not reported; ``to_baseline``, when
    given, collects every finding that would be reported without a baseline."""
    summary = Summary()
    began = time.perf_counter()

    def emit(finding: Finding) -> None:
        if finding.severity < minimum:
            return
        if finding.suppressed:
            summary.suppressed += 1
            return
        if to_baseline is not None:
            to_baseline.append(finding)
        if accepted is not None and accepted.accepts(finding):
            summary.baselined += 1
            return
        summary.count(finding)
        reporter.finding(finding)

    check = setup.engine.check
    items = 0
    for chunk in chunks(iter_items(paths, setup.window)):
        for output in chunk:
            if isinstance(output, Problem):
                summary.problems += 1
                reporter.problem(output)
                continue
            items += 1
            for finding in check(output):
                emit(finding)
    summary.items = items
    for finding in setup.engine.check_directory(only_seen=True):
        emit(finding)
    if accepted is not None:
        summary.stale_baseline = accepted.stale()
    summary.seconds = time.perf_counter() - began
    reporter.finish(summary)
    return summary
