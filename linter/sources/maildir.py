"""Maildir folders (``cur/``, ``new/``, ``tmp/``), including Maildir++ subfolders.

Messages are read one file at a time from ``new/`` and ``cur/`` (``tmp/`` holds
deliveries in progress and is skipped). Subfolders such as ``.Sent`` are read too, each
item remembering its folder. The locator is the message's file name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from linter.sources import Output, Window
from linter.sources.eml import read_message_file


class MaildirSource:
    kind: ClassVar[str] = "maildir"

    def __init__(self, path: str, window: Window) -> None:
        self.path = path
        self.window = window

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()

    def items(self) -> Iterator[Output]:
        for entry, folder in message_files(Path(self.path)):
            yield from read_message_file(entry, self.window, folder)


def message_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Every message file of a Maildir and its subfolders, with the folder's name."""
    folders = [(root, root.name)] + [
        (sub, sub.name.lstrip("."))
        for sub in sorted(root.iterdir())
        if sub.name.startswith(".") and MaildirSource.claims(sub)
    ]
    for folder, name in folders:
        for box in ("new", "cur"):
            for entry in sorted((folder / box).iterdir()):
                if entry.is_file() and not entry.name.startswith("."):
                    yield entry, name
