"""Single messages in ``.eml`` files; folders of them are walked by :func:`iter_items`.

A file the user names explicitly is read as a message when its first line looks like a
header, whatever its extension. The locator is the file itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from linter.model import Problem, printable
from linter.sources import Output, Window
from linter.sources.mail import parse_message
from linter.sources.mbox import MAX_MESSAGE_BYTES

EXTENSIONS = (".eml", ".msg822")


class EmlSource:
    kind: ClassVar[str] = "eml"

    def __init__(self, path: str, window: Window) -> None:
        self.path = path
        self.window = window

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.suffix.lower() in EXTENSIONS and path.is_file()

    def items(self) -> Iterator[Output]:
        yield from read_message_file(Path(self.path), self.window, Path(self.path).parent.name)


def read_message_file(path: Path, window: Window, folder: str | None) -> Iterator[Output]:
    where = printable(str(path))
    size = path.stat().st_size
    if size > MAX_MESSAGE_BYTES:
        yield Problem(where, f"message of {size // 1048576} MB skipped")
        return
    if size == 0:
        yield Problem(where, "empty file", level="warning")
        return
    item = parse_message(path.read_bytes(), where, "1", folder and printable(folder))
    if isinstance(item, Problem) or not window.filter_messages or window.contains(item.start):
        yield item
