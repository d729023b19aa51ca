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

from linter.model import Problem, printable
from linter.sources import Output, Window
from linter.sources.mail import parse_message

EXTENSIONS = (".mbox", ".mbx")
# matched at a line start (``match`` from a position: no ``^``, which would only ever
# match at the start of the buffer)
_SEPARATOR = re.compile(rb"From \S+\s+\S{3} \S{3}\s+\d{1,2} \d")
MAX_MESSAGE_BYTES = 50 * 1024 * 1024


class MboxSource:
    kind: ClassVar[str] = "mbox"

    def __init__(self, path: str, window: Window) -> None:
        self.path = path
        self.where = printable(path)  # how items and problems name the file
        self.window = window
        self.start = 0  # where to begin reading: 0, or a message's offset (see Tail)
        self.first_line = 1
        self.last = (0, 1)  # offset and line of the last message read

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.suffix.lower() in EXTENSIONS and path.is_file()

    def items(self) -> Iterator[Output]:
        folder = printable(Path(self.path).stem)
        for line_number, data, size, offset in messages(self.path, self.start, self.first_line):
            self.last = (offset, line_number)
            if data is None:
                yield Problem(
                    self.where,
                    f"message of {size // 1048576} MB skipped "
                    f"(limit {MAX_MESSAGE_BYTES // 1048576} MB)",
                    line_number,
                )
                continue
            item = parse_message(data, self.where, str(line_number), folder)
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
    mbox that only grew can be read from its last message on.

    Every byte is looked at a bounded number of times, so the cost is linear in the
    file's size whatever its shape (a file of one endless line included), and the
    buffer holds at most a block and a little more.
    """
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
        line_start = True  # whether buffer[position] begins a line
        while True:
            cut = _next_separator(buffer, position, after_blank, line_start)
            if cut == -1 and not at_eof:
                # flush what cannot hold a separator's start, then read more
                keep = max(position, len(buffer) - SEPARATOR_LOOKBEHIND)
                newline = buffer.rfind(b"\n", position, keep)
                if newline >= position:
                    after_blank = buffer[newline - 1 : newline] == b"\n" or (
                        buffer[newline - 2 : newline] == b"\n\r"
                    )
                    size = _add(parts, buffer[position : newline + 1], size)
                    line += buffer.count(b"\n", position, newline + 1)
                    position, line_start = newline + 1, True
                elif keep > position:  # one long line: no separator can begin inside it
                    size = _add(parts, buffer[position:keep], size)
                    position, line_start, after_blank = keep, False, False
                block = handle.read(BLOCK)
                at_eof = not block
                base += position
                buffer, position = buffer[position:] + block, 0
                continue
            end = len(buffer) if cut == -1 else cut
            size = _add(parts, buffer[position:end], size)
            # text before the first From_ line is a message only when it is not blank
            if start_line or size > MAX_MESSAGE_BYTES or any(part.strip() for part in parts):
                yield (*_finish(start_line or line, parts, size), offset)
            if cut == -1:
                return
            line += buffer.count(b"\n", position, cut)
            offset = base + cut
            end_of_from = buffer.find(b"\n", cut)
            while end_of_from == -1 and not at_eof:  # the From_ line itself is not kept
                base += len(buffer)
                buffer, cut = handle.read(BLOCK), 0
                at_eof = not buffer
                end_of_from = buffer.find(b"\n")
            if end_of_from == -1:
                return
            start_line = line
            line += 1
            after_blank, line_start = False, True
            position = end_of_from + 1
            parts, size = [], 0


BLOCK = 1 << 20
SEPARATOR_LOOKBEHIND = 256


def _next_separator(buffer: bytes, position: int, after_blank: bool, line_start: bool) -> int:
    """Offset of the next From_ line: one after a blank line (or opening the file), or
    one that looks like ``From sender date``."""
    if (
        line_start
        and buffer.startswith(b"From ", position)
        and (after_blank or _SEPARATOR.match(buffer, position))
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
    """Where a read of an mbox ended, to tell an append from a rewrite.

    After a complete read, ``last`` fingerprints the last message (``offset`` to the
    file's ``size``). After a read cut short (a run killed or past its deadline, see the
    worker's batches), it fingerprints the first ``RESUME_BYTES`` of the last message
    stored (``offset`` to ``end``), and ``scan`` is the scan that stored it.
    """

    size: int
    offset: int  # of the last message's From line
    line: int
    head: str  # fingerprint of the first HEAD_BYTES
    last: str  # fingerprint of offset to end
    end: int = -1  # -1: the file's size
    scan: int = 0

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> Tail | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None


RESUME_BYTES = 64 * 1024


def tail_of(path: str, offset: int, line: int, partial: bool = False, scan: int = 0) -> Tail:
    """The tail of ``path`` as it is now, its last message (read) starting at ``offset``;
    ``partial`` for a read cut short there."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        size = handle.seek(0, 2)
        end = min(size, offset + RESUME_BYTES) if partial else size
        region = _region(handle, offset, end)
        return Tail(size, offset, line, _digest(head), region, end if partial else -1, scan)


def grown(path: str, tail: Tail) -> bool:
    """Whether ``path`` is ``tail``'s file with messages appended, nothing else changed."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        size = handle.seek(0, 2)
        if size <= tail.size or _digest(head[: tail.size]) != tail.head:
            return False
        return _region(handle, tail.offset, tail.size) == tail.last


def resumable(path: str, tail: Tail) -> bool:
    """Whether a read of ``path`` cut short at ``tail`` can go on from there: the file
    begins as it did and still holds that last message where it was."""
    if tail.end < 0:
        return False
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        size = handle.seek(0, 2)
        if size < tail.end or _digest(head[: tail.size]) != tail.head:
            return False
        return _region(handle, tail.offset, tail.end) == tail.last


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
