"""The Enron development messages, repeated into one mbox of any size.

The 818 ``.eml`` files of ``../shared/corpora/enron-dev/*/`` are read in a fixed order
(genre folder, then file name) and written again and again until ``count`` messages are
out. Each file is read when it is written, so memory stays flat. Line ends become LF
(as the stdlib ``mailbox`` writes them), body lines starting ``From `` become ``>From ``,
and every copy after the first gets its own ``Message-ID`` (``.rN`` before the ``@``)
and an ``X-Bench-Copy: N`` header, so no two messages share an id or a content hash.

This is test data: it is written only under ``bench/out`` and never shipped.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

FROM_HEADER = re.compile(rb"^From:[ \t]*(?:.*<)?([^\s<>,]+@[^\s<>,]+)", re.MULTILINE | re.I)
DATE_HEADER = re.compile(rb"^Date:[ \t]*(.+)$", re.MULTILINE | re.IGNORECASE)
MESSAGE_ID = re.compile(rb"^(Message-ID:[ \t]*<[^@>\n]*)", re.MULTILINE | re.IGNORECASE)
FALLBACK_DATE = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)


def source_files(folder: Path) -> list[Path]:
    """The ``.eml`` files in a stable order: genre folder, then file name."""
    files = sorted(folder.glob("*/*.eml"), key=lambda p: (p.parent.name, p.name))
    if not files:
        raise FileNotFoundError(f"no .eml files under {folder}/*/")
    return files


def messages(folder: Path, count: int) -> Iterator[bytes]:
    """``count`` mbox entries (From_ line, escaped message, blank line)."""
    files = source_files(folder)
    for index in range(count):
        copy, position = divmod(index, len(files))
        data = files[position].read_bytes().replace(b"\r\n", b"\n")
        if not data.endswith(b"\n"):
            data += b"\n"
        if copy:
            data = relabel(data, copy)
        yield from_line(data) + data.replace(b"\nFrom ", b"\n>From ") + b"\n"


def relabel(data: bytes, copy: int) -> bytes:
    """Make copy ``copy`` of a message distinct from the original."""
    head, _, body = data.partition(b"\n\n")
    head = MESSAGE_ID.sub(rb"\1.r%d" % copy, head, count=1)
    return b"X-Bench-Copy: %d\n" % copy + head + b"\n\n" + body


def from_line(data: bytes) -> bytes:
    """``From sender asctime`` from the message's own From and Date headers."""
    head = data.partition(b"\n\n")[0]
    sender = FROM_HEADER.search(head)
    address = sender.group(1).decode("ascii", "replace") if sender else "MAILER-DAEMON"
    moment = FALLBACK_DATE
    date = DATE_HEADER.search(head)
    if date:
        try:
            moment = parsedate_to_datetime(date.group(1).decode("ascii", "replace").strip())
        except (TypeError, ValueError, IndexError):
            moment = FALLBACK_DATE
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    stamp = time.asctime(moment.astimezone(dt.UTC).timetuple())
    return f"From {address} {stamp}\n".encode()
