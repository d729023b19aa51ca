"""Shared fixtures: paths, a CLI runner, and small builders for test data."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from linter.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"
ENRON = SHARED / "corpora" / "enron-dev"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    # one compiled-pattern cache per test session, never the developer's own
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("CLIENTLINE_CACHE_DIR", str(cache))
    monkeypatch.setenv("TZ", os.environ.get("TZ", "UTC"))


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def outside_contacts(tmp_path: Path) -> Path:
    """A directory that treats every outside correspondent as a client."""
    path = tmp_path / "outside.yaml"
    path.write_text('me: []\nclients:\n  - {name: Outside, domains: ["*"]}\n')
    return path


@pytest.fixture
def practice(tmp_path: Path) -> Path:
    """A small practice folder with the default pack's test contacts."""
    (tmp_path / "contacts.yaml").write_text(
        (ROOT / "rules" / "default" / "contacts.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    (tmp_path / "clientline.yaml").write_text(
        "timezone: Europe/London\ncontacts: contacts.yaml\nrules: [builtin]\n"
        "window: {since: 2026-01-01, until: 2027-01-01}\n"
    )
    return tmp_path


def eml(
    subject: str,
    body: str,
    sender: str = "dana@acme.example",
    to: str = "sam@studio.example",
    message_id: str | None = "<m1@acme.example>",
    extra: str = "",
) -> str:
    headers = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        "Date: Thu, 12 Mar 2026 10:00:00 +0000",
    ]
    if message_id:
        headers.append(f"Message-ID: {message_id}")
    if extra:
        headers.append(extra.rstrip("\n"))
    return "\n".join(headers) + "\n\n" + body + "\n"
