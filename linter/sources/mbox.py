"""mbox files (``.mbox``, ``.mbx``), read as a stream.

The stdlib ``mailbox.mbox`` first builds a table of contents of the whole file, which
alone caps a run near 1,200 messages a second and holds every offset in memory. This
source instead splits the file on ``From `` separator lines as it reads, so memory holds
one message at a time however large the mailbox. A separator is a line starting with
``From `` that follows a blank line (or opens the file), or that looks like a real
``From sender date`` line. ``>From `` escapes (mboxrd and mboxo) are undone.

Each message's locator is the line number of its ``From `` line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from linter.model import Problem
from linter.sources import Output, Window
from linter.sources.mail import parse_message

EXTENSIONS = (".mbox", ".mbx")
_SEPARATOR = re.compile(rb"^From \S+\s+\S{3} \S{3}\s+\d{1,2} \d")
_ESCAPED_FROM = re.compile(rb"^>+From ")
MAX_MESSAGE_BYTES = 50 * 1024 * 1024


class MboxSource:
    kind: ClassVar[str] = "mbox"

    def __init__(self, path: str, window: Window) -> None:
        self.path = path
        self.window = window

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.suffix.lower() in EXTENSIONS and path.is_file()

    def items(self) -> Iterator[Output]:
        folder = Path(self.path).stem
        for line_number, data, size in split_mbox(self.path):
            if data is None:
                yield Problem(
                    self.path,
                    f"message of {size // 1048576} MB skipped "
                    f"(limit {MAX_MESSAGE_BYTES // 1048576} MB)",
                    line_number,
                )
                continue
            item = parse_message(data, self.path, str(line_number), folder)
            if (
                isinstance(item, Problem)
                or not self.window.filter_messages
                or self.window.contains(item.start)
            ):
                yield item


def split_mbox(path: str) -> Iterator[tuple[int, bytes | None, int]]:
    """Yield ``(line_number, message_bytes, size)`` per message, reading line by line.

    A message larger than ``MAX_MESSAGE_BYTES`` comes with ``None`` instead of bytes,
    and is never held in memory whole.
    """
    lines: list[bytes] = []
    start = size = 0
    previous_blank = True
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.startswith(b"From ") and (previous_blank or _SEPARATOR.match(line)):
                if start:
                    yield start, b"".join(lines) if size <= MAX_MESSAGE_BYTES else None, size
                lines, start, size = [], number, 0
                previous_blank = False
                continue
            previous_blank = line in (b"\n", b"\r\n")
            if not start:
                if previous_blank:
                    continue
                start = number  # text before any separator: read it as a message anyway
            if line.startswith(b">") and _ESCAPED_FROM.match(line):
                line = line[1:]
            size += len(line)
            if size <= MAX_MESSAGE_BYTES:
                lines.append(line)
            elif lines:
                lines = []
    if start:
        yield start, b"".join(lines) if size <= MAX_MESSAGE_BYTES else None, size
