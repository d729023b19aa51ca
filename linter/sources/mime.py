"""A message's MIME structure, read as cheaply as the answers allow.

Most mail is one text part under a block of headers, and clientline reads only a few of
those headers. So a message whose header block is plain (LF line ends, no envelope
``From `` lines) and whose body is a single part is read here with two regular
expressions over the whole header block instead of the stdlib parser's Python loop
over every line; the body is kept as bytes and decoded only when asked for. Anything
else (multipart bodies, attached messages, CR line ends, odd envelope lines) goes
through the stdlib parser and is wrapped in the same :class:`Part` interface.

The answers are the stdlib's ``compat32`` answers, by construction: header fields are
split exactly as its feed parser splits them; a header value holding bytes that are
not ASCII reads with U+FFFD in their place, as ``compat32`` renders such a value; and
the questions with many corner cases (parameters such as ``charset`` and ``filename``
with their RFC 2231 forms, base64 and uuencode bodies) are put to a stdlib
:class:`email.message.Message` holding just the headers concerned. Those answers are
memoised by header value, because a mailbox repeats the same few ``Content-Type``
values thousands of times.
"""

from __future__ import annotations

import email
import email.message
import quopri
import re
from email.message import Message as MimeMessage
from typing import Any

# One header line as the stdlib feed parser recognises it: a field name (possibly
# empty, which it then drops) and a colon, or a continuation line.
_HEADER_LINES = re.compile(r"(?:(?:[\041-\071\073-\176]*:|[\t ])[^\n]*\n)*")
# A field and its continuation lines; the value as ``compat32`` keeps it (leading blanks
# of the first line dropped, folding kept).
_FIELD = re.compile(r"^([\041-\071\073-\176]*):[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)", re.MULTILINE)
_PARSED_TYPES = ("multipart", "message")
_PLAIN_ENCODINGS = ("", "7bit", "8bit", "binary")
_MEMO_LIMIT = 4096  # distinct header values remembered per question
_NONE: list[str] = []


class Part:
    """One MIME entity: its header fields and either a body or child parts."""

    __slots__ = ("_body", "_index", "_mime", "children", "default_type", "fields")

    def __init__(
        self,
        fields: list[tuple[str, str]],
        body: bytes = b"",
        children: list[Part] | None = None,
        default_type: str = "text/plain",
        mime: MimeMessage | None = None,
    ) -> None:
        self.fields = fields  # (name, raw value): text with undecodable bytes escaped
        self.children = children  # None for a leaf
        self.default_type = default_type
        self._body = body
        self._mime = mime  # the stdlib entity behind this part, when it was parsed so
        self._index: dict[str, list[str]] | None = None

    @classmethod
    def of(cls, mime: MimeMessage) -> Part:
        """Wrap a message the stdlib parsed, children included."""
        children = None
        if mime.is_multipart():
            payload = mime.get_payload()
            children = [
                cls.of(child)
                for child in (payload if isinstance(payload, list) else ())
                if isinstance(child, MimeMessage)
            ]
        return cls(
            list(mime.raw_items()),
            children=children,
            default_type=mime.get_default_type(),
            mime=mime,
        )

    def _values(self, name: str) -> list[str]:
        """Raw values of the fields called ``name`` (lower case), in order."""
        if self._index is None:
            index: dict[str, list[str]] = {}
            for key, value in self.fields:
                lower = key.lower()
                if lower in index:
                    index[lower].append(value)
                else:
                    index[lower] = [value]
            self._index = index
        return self._index.get(name) or _NONE

    def _first(self, name: str) -> str | None:
        values = self._values(name)
        return values[0] if values else None

    def get(self, name: str) -> str | None:
        """The first field called ``name`` (any case), as text; ``None`` when absent."""
        value = self._first(name.lower())
        return None if value is None else readable(value)

    def get_all(self, name: str) -> list[str]:
        """Every field called ``name`` (any case), as text."""
        return [readable(value) for value in self._values(name.lower())]

    def items(self) -> list[tuple[str, str]]:
        return [(key, readable(value)) for key, value in self.fields]

    @property
    def content_type(self) -> str:
        value = self.get("content-type")
        if value is None:
            return self.default_type
        content_type = value.partition(";")[0].strip().lower()
        return content_type if content_type.count("/") == 1 else "text/plain"

    @property
    def maintype(self) -> str:
        return self.content_type.split("/")[0]

    def filename(self) -> str | None:
        disposition = self._first("content-disposition")
        content_type = self._first("content-type")
        if disposition is None and content_type is None:
            return None
        return _filename(disposition, content_type)

    def charset(self) -> str | None:
        content_type = self._first("content-type")
        return None if content_type is None else _charset(content_type)

    def payload(self) -> bytes:
        """The body with its transfer encoding undone (a leaf's; empty for others)."""
        if self._mime is not None:
            decoded = self._mime.get_payload(decode=True)
            return decoded if isinstance(decoded, bytes) else b""
        if self.children is not None:
            return b""
        raw_encoding = self._first("content-transfer-encoding")
        encoding = "" if raw_encoding is None else readable(raw_encoding).lower()
        if encoding in _PLAIN_ENCODINGS:
            return self._body
        if encoding == "quoted-printable":
            return quopri.decodestring(self._body)
        # base64 and uuencode have forgiving decoders with many special cases: ask the
        # stdlib, with this part's encoding and body
        assert raw_encoding is not None
        mime = email.message.Message()
        mime.set_raw("Content-Transfer-Encoding", raw_encoding)
        mime.set_payload(self._body.decode("ascii", "surrogateescape"))
        decoded = mime.get_payload(decode=True)
        return decoded if isinstance(decoded, bytes) else b""


def parse(data: bytes) -> Part:
    """The MIME structure of one message's bytes."""
    end = data.find(b"\n\n")
    if end == -1 or b"\r\n\r\n" in data[: end + 1]:
        return Part.of(email.message_from_bytes(data))
    head = data[: end + 1]
    if b"\r" in head or head.startswith(b"From ") or b"\nFrom " in head:
        fields = list(email.message_from_bytes(head).raw_items())
    else:
        fields = header_fields(head.decode("ascii", "surrogateescape"))
    part = Part(fields, data[end + 2 :])
    if part.maintype in _PARSED_TYPES:
        return Part.of(email.message_from_bytes(data))
    return part


def header_fields(head: str) -> list[tuple[str, str]]:
    """``(name, value)`` pairs of a header block with LF line ends and no envelope lines.

    The block stops at the first line that is neither a field nor a continuation (the
    stdlib would read the rest as body); fields with an empty name are dropped with
    their continuation lines, as the stdlib drops them.
    """
    stop = _HEADER_LINES.match(head)
    block = head[: stop.end()] if stop else ""
    return [(name, value) for name, value in _FIELD.findall(block) if name]


def readable(value: str) -> str:
    """A raw header value as ``compat32`` renders it: bytes that are not ASCII (carried
    as surrogate escapes) read as U+FFFD."""
    if value.isascii():
        return value
    return value.encode("ascii", "surrogateescape").decode("ascii", "replace")


_filenames: dict[tuple[str | None, str | None], str | None] = {}
_charsets: dict[str, str | None] = {}


def _filename(disposition: str | None, content_type: str | None) -> str | None:
    key = (disposition, content_type)
    if key not in _filenames:
        mime = _headers_only(("Content-Disposition", disposition), ("Content-Type", content_type))
        _remember(_filenames, key, mime.get_filename())
    return _filenames[key]


def _charset(content_type: str) -> str | None:
    if content_type not in _charsets:
        mime = _headers_only(("Content-Type", content_type))
        _remember(_charsets, content_type, mime.get_content_charset())
    return _charsets[content_type]


def _headers_only(*fields: tuple[str, str | None]) -> MimeMessage:
    mime = email.message.Message()
    for name, value in fields:
        if value is not None:
            mime.set_raw(name, value)
    return mime


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()  # a bound, not a policy: real mail repeats a few values
    memo[key] = value
