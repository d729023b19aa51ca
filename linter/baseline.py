"""Baseline files: findings you have accepted, so a run shows only new ones.

Adopting a linter on years of mail means hundreds of old findings. Write them once::

    clientline lint ~/Mail --write-baseline .clientline-baseline.json

and from then on::

    clientline lint ~/Mail --baseline .clientline-baseline.json

shows only findings that are not in the file. Entries are matched by fingerprint (rule
id and item id), so an entry keeps matching however the rule's message changes, and
stops matching when the item is gone or the rule no longer fires on it. Such stale
entries are reported at the end of the run (and in the JSON summary) so the file can be
rewritten; a stale entry never hides anything.

The file is JSON, one entry per finding, with the item's title and source so a person
reviewing it in version control can tell what was accepted. It keeps no evidence.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linter.model import Finding
from linter.yamlfile import ConfigError

VERSION = 1


@dataclass
class Baseline:
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # fingerprint -> entry
    matched: set[str] = field(default_factory=set)

    def accepts(self, finding: Finding) -> bool:
        if finding.fingerprint in self.entries:
            self.matched.add(finding.fingerprint)
            return True
        return False

    def stale(self) -> list[dict[str, Any]]:
        """Entries no finding of this run matched."""
        return [e for fp, e in self.entries.items() if fp not in self.matched]


def entry(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.fingerprint,
        "rule": finding.rule,
        "item": finding.item.id,
        "title": finding.item.title,
        "source": finding.item.source,
    }


def load(path: str) -> Baseline:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            path, "baseline file not found", hint="create it with --write-baseline"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read the baseline: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(path, f"not a baseline file: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise ConfigError(path, "not a baseline file: expected an object with `findings`")
    if data.get("version") != VERSION:
        raise ConfigError(path, f"baseline version {data.get('version')!r} is not {VERSION}")
    entries = {
        str(e["id"]): dict(e) for e in data["findings"] if isinstance(e, dict) and e.get("id")
    }
    return Baseline(entries)


def write(path: str, findings: Iterable[Finding]) -> int:
    """Write the baseline atomically; returns how many entries it holds."""
    entries = sorted(
        {f.fingerprint: entry(f) for f in findings}.values(), key=lambda e: (e["rule"], e["id"])
    )
    text = json.dumps({"version": VERSION, "findings": entries}, indent=2, ensure_ascii=False)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=target.parent, delete=False, suffix=".tmp"
    ) as handle:
        handle.write(text + "\n")
    os.replace(handle.name, target)
    return len(entries)
