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
    """Yield ``(line_number, message_bytes, size)`` per message, reading in blocks.

    Separators are found with ``bytes.find`` on blocks of the file rather than line by
    line in Python, which keeps splitting far cheaper than parsing. A message larger than
    ``MAX_MESSAGE_BYTES`` comes with ``None`` instead of bytes and is never held whole.
    """
    with open(path, "rb") as handle:
        buffer, position = b"", 0
        line = 1  # line number at buffer[position]
        start_line = 0  # line of the current message's From_ line; 0 before the first
        parts: list[bytes] = []
        size = 0
        at_eof = False
        after_blank = True  # whether buffer[position] follows a blank line or opens the file
        while True:
            cut = _next_separator(buffer, position, after_blank)
            if cut == -1 and not at_eof:
                # flush whole lines that cannot hold a separator's start, then read more
                keep = max(position, len(buffer) - SEPARATOR_LOOKBEHIND)
                newline = buffer.rfind(b"\n", position, keep)
                if newline >= position:
                    after_blank = buffer[newline - 1 : newline] == b"\n" or (
                        buffer[newline - 2 : newline] == b"\n\r"
                    )
                    size = _add(parts, buffer[position : newline + 1], size)
                    line += buffer.count(b"\n", position, newline + 1)
                    position = newline + 1
                block = handle.read(BLOCK)
                at_eof = not block
                buffer, position = buffer[position:] + block, 0
                continue
            end = len(buffer) if cut == -1 else cut
            size = _add(parts, buffer[position:end], size)
            if start_line or buffer[position:end].strip():
                yield _finish(start_line or line, parts, size)
            if cut == -1:
                return
            line += buffer.count(b"\n", position, cut)
            end_of_from = buffer.find(b"\n", cut)
            while end_of_from == -1 and not at_eof:
                block = handle.read(BLOCK)
                at_eof = not block
                buffer, cut = buffer[cut:] + block, 0
                end_of_from = buffer.find(b"\n")
            if end_of_from == -1:
                return
            start_line = line
            line += 1
            after_blank = False
            position = end_of_from + 1
            parts, size = [], 0


BLOCK = 1 << 20
SEPARATOR_LOOKBEHIND = 256


def _next_separator(buffer: bytes, position: int, after_blank: bool) -> int:
    """Offset of the next From_ line: one after a blank line (or opening the file), or
    one that looks like ``From sender date``."""
    if buffer.startswith(b"From ", position) and (
        after_blank or _SEPARATOR.match(buffer, position)
    ):
        return position
    found = buffer.find(b"\nFrom ", position)
    while found != -1:
        before = buffer[max(position, found - 2) : found]
        if before.endswith(b"\n") or before == b"\n\r" or _SEPARATOR.match(buffer, found + 1):
            return found + 1
        if (
            found - 1 >= position
            and buffer[found - 1 : found] == b"\r"
            and (buffer[found - 2 : found - 1] == b"\n")
        ):
            return found + 1
        found = buffer.find(b"\nFrom ", found + 1)
    return -1


def _add(parts: list[bytes], data: bytes, size: int) -> int:
    size += len(data)
    if size <= MAX_MESSAGE_BYTES:
        parts.append(data)
    elif parts:
        parts.clear()
    return size


def _finish(line: int, parts: list[bytes], size: int) -> tuple[int, bytes | None, int]:
    if size > MAX_MESSAGE_BYTES:
        return line, None, size
    data = b"".join(parts)
    if b">From " in data:
        data = _unescape_from(data)
    return line, data, size


def _unescape_from(data: bytes) -> bytes:
    """``data`` with one ``>`` taken off each line that is ``>``s then ``From ``.

    Found from the few ``>From `` occurrences rather than by a multi-line expression
    tried at every position of the message.
    """
    pieces = []
    copied = 0
    found = data.find(b">From ")
    while found != -1:
        first = found  # the first ">" of the run that ends here
        while first > 0 and data[first - 1] == 0x3E:  # ">"
            first -= 1
        if first == 0 or data[first - 1] == 0x0A:  # at a line start
            pieces.append(data[copied:first])
            copied = first + 1
        found = data.find(b">From ", found + 1)
    pieces.append(data[copied:])
    return b"".join(pieces)
