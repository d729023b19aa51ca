"""mbox files (``.mbox``, ``.mbx``), read as a stream.

The stdlib ``mailbox.mbox`` first builds a table of contents of the whole file, which
alone caps a run near 1,200 messages a second and holds every offset in memory. This
source instead splits the file on ``From `` separator lines as it reads, so memory holds
one message at a time however large the mailbox. A separator is a line starting with
``From `` that follows a blank line (or opens the file), or that looks like a real
``From sender date`` line. ``>From `` escapes (mboxrd and mboxo) are undone.

Each message's locator is the line number of its ``From `` line.

Mail programs append to an mbox. The worker keeps a :class:`Tail` for each mbox it
read: where the last message began, with fingerprints of the file's first bytes and of
that last message. When the file has only grown since (same beginning, same last
message, larger), it is read from that last message on, so a daily run over a large
mailbox costs what arrived that day. Anything else (a message deleted, a file
rewritten) reads the whole file again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

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
        self.start = 0  # where to begin reading: 0, or a message's offset (see Tail)
        self.first_line = 1
        self.last = (0, 1)  # offset and line of the last message read

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.suffix.lower() in EXTENSIONS and path.is_file()

    def items(self) -> Iterator[Output]:
        folder = Path(self.path).stem
        for line_number, data, size, offset in messages(self.path, self.start, self.first_line):
            self.last = (offset, line_number)
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
    for line, data, size, _ in messages(path):
        yield line, data, size


def messages(
    path: str, start: int = 0, first_line: int = 1
) -> Iterator[tuple[int, bytes | None, int, int]]:
    """:func:`split_mbox` with each message's byte offset as a fourth value, reading from
    ``start`` (the offset of a ``From`` line whose line number is ``first_line``), so an
    mbox that only grew can be read from its last message on."""
    with open(path, "rb") as handle:
        handle.seek(start)
        buffer, position = b"", 0
        base = start  # the file offset of buffer[0]
        line = first_line  # line number at buffer[position]
        start_line = 0  # line of the current message's From_ line; 0 before the first
        offset = start  # file offset of the current message
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
                base += position
                buffer, position = buffer[position:] + block, 0
                continue
            end = len(buffer) if cut == -1 else cut
            size = _add(parts, buffer[position:end], size)
            if start_line or buffer[position:end].strip():
                yield (*_finish(start_line or line, parts, size), offset)
            if cut == -1:
                return
            line += buffer.count(b"\n", position, cut)
            offset = base + cut
            end_of_from = buffer.find(b"\n", cut)
            while end_of_from == -1 and not at_eof:
                block = handle.read(BLOCK)
                at_eof = not block
                base += cut
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


HEAD_BYTES = 4096


@dataclass(frozen=True)
class Tail:
    """Where the last read of an mbox ended, to tell an append from a rewrite."""

    size: int
    offset: int  # of the last message's From line
    line: int
    head: str  # fingerprint of the first HEAD_BYTES
    last: str  # fingerprint of the last message, offset to size

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> Tail | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None


def tail_of(path: str, offset: int, line: int) -> Tail:
    """The tail of ``path`` as it is now, its last message starting at ``offset``."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        size = handle.seek(0, 2)
        return Tail(size, offset, line, _digest(head), _region(handle, offset, size))


def grown(path: str, tail: Tail) -> bool:
    """Whether ``path`` is ``tail``'s file with messages appended, nothing else changed."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        size = handle.seek(0, 2)
        if size <= tail.size or _digest(head[: tail.size]) != tail.head:
            return False
        return _region(handle, tail.offset, tail.size) == tail.last


def _region(handle: BinaryIO, start: int, end: int) -> str:
    handle.seek(start)
    digest = hashlib.sha256()
    remaining = end - start
    while remaining > 0:
        block = handle.read(min(BLOCK, remaining))
        if not block:
            break
        digest.update(block)
        remaining -= len(block)
    return digest.hexdigest()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
