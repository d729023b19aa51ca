"""Plugins: what installed packages add to clientline through entry points.

Each kind of plugin is a group of entry points: ``clientline.sources``,
``clientline.reporters``, ``clientline.rules`` (rule packs) and
``clientline.transports`` (digest transports); the built-ins are registered the same
way, in this project's own ``pyproject.toml``. Asking :mod:`importlib.metadata` for one
group reads the metadata of every installed distribution, a few milliseconds each
time, so every group is read in that one pass and kept for the process: again only
when ``sys.path`` changes (a test that installs a pack, a daemon started afresh).
"""

from __future__ import annotations

import sys
from functools import cache
from importlib.metadata import EntryPoint, entry_points


def entry_points_in(group: str, name: str | None = None) -> list[EntryPoint]:
    """The installed entry points of ``group`` (only those called ``name``, if given)."""
    found = _every_entry_point(tuple(sys.path)).get(group, ())
    return [entry for entry in found if name is None or entry.name == name]


@cache
def _every_entry_point(path: tuple[str, ...]) -> dict[str, tuple[EntryPoint, ...]]:
    """Every group's entry points, for one ``sys.path`` (the key: what is installed)."""
    found = entry_points()
    if isinstance(found, dict):  # Python 3.11 groups them already (and warns on .items())
        return {group: tuple(points) for group, points in dict.items(found)}
    grouped: dict[str, list[EntryPoint]] = {}
    for entry in found:
        grouped.setdefault(entry.group, []).append(entry)
    return {group: tuple(points) for group, points in grouped.items()}
