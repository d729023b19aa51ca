"""Turning raw RFC 5322 bytes into a :class:`~linter.model.Message`.

Shared by the mbox, Maildir and ``.eml`` sources. Parsing is chosen for speed on real
mail: :mod:`linter.sources.mime` reads the MIME structure with the ``compat32``
policy's answers (the stdlib parser with ``policy.default`` is about nine times slower,
and most messages need no parser at all beyond their header block), and only the
handful of headers rules need are decoded (RFC 2047 encoded words, address lists), with
the stdlib helpers the modern policy is built on.

Body: ``multipart/alternative`` prefers ``text/plain`` and falls back to HTML converted
to text; other text parts are joined; attached messages (``message/rfc822``) count as
forwarded text; attachments are skipped but their file names kept. Charsets are decoded
as declared, with a UTF-8 then Windows-1252 fallback for unknown or lying ones. The
author's new text is separated from quoted replies, forwards and signatures by
:func:`linter.text.split_reply`.

A message that cannot be parsed at all never raises: :func:`parse_message` returns a
:class:`~linter.model.Problem` for it.
"""

from __future__ import annotations

import datetime as dt
import email.header
import email.utils
import re
from collections.abc import Callable

from linter.model import Message, Participant, Problem, content_id
from linter.sources import mime
from linter.text import html_to_text, split_reply

MAX_TEXT_PART = 2_000_000  # characters; a larger "text" part is a data dump, not prose
FALLBACK_CHARSETS = ("utf-8", "cp1252")


def parse_message(
    data: bytes, source: str, locator: str, folder: str | None = None
) -> Message | Problem:
    try:
        return to_message(mime.parse(data), source, locator, folder, lambda: content_id(data))
    except Exception as exc:  # a broken message must not end the run
        return Problem(
            source,
            f"unreadable message ({type(exc).__name__}: {exc})",
            int(locator) if locator.isdigit() else None,
        )


def to_message(
    part: mime.Part,
    source: str,
    locator: str,
    folder: str | None,
    fallback_id: Callable[[], str],
) -> Message:
    """The message a MIME structure describes; ``fallback_id`` names one without a
    Message-ID (called only then, since hashing a large message costs time)."""
    message_id = _clean_id(part.get("message-id"))
    in_reply_to = _clean_id(part.get("in-reply-to"))
    references = (part.get("references") or "").split()
    thread = _clean_id(references[0]) if references else in_reply_to or message_id
    texts: list[str] = []
    quoted: list[str] = []
    attachments: list[str] = []
    _collect(part, texts, quoted, attachments)
    body, quoted_text = split_reply("\n\n".join(t for t in texts if t))
    if quoted:
        quoted_text = "\n\n".join([quoted_text, *quoted]).strip()
    senders = _addresses(part, "from", "from")
    labels = decode_header(part.get("x-gmail-labels"))
    return Message(
        source=source,
        locator=locator,
        id=message_id or fallback_id(),
        title=decode_header(part.get("subject")),
        body=body,
        quoted=quoted_text,
        start=parse_date(part.get("date")),
        sender=senders[0] if senders else None,
        recipients=_addresses(part, "to", "to") + _addresses(part, "cc", "cc"),
        thread=thread,
        labels=tuple(label.strip() for label in labels.split(",") if label.strip()),
        folder=folder,
        in_reply_to=in_reply_to,
        attachments=tuple(attachments),
    )


def _collect(part: mime.Part, texts: list[str], quoted: list[str], attachments: list[str]) -> None:
    children = part.children
    if children is not None:
        content_type = part.content_type
        if content_type == "multipart/alternative":
            chosen = _prefer_plain(children)
            if chosen is not None:
                _collect(chosen, texts, quoted, attachments)
            return
        if content_type == "message/rfc822":
            inner: list[str] = []
            for child in children:
                _collect(child, inner, inner, attachments)
            quoted.append("\n\n".join(inner))
            return
        for child in children:
            _collect(child, texts, quoted, attachments)
        return
    filename = part.filename()
    disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
    if filename or disposition == "attachment":
        attachments.append(decode_header(filename) if filename else "(unnamed)")
        return
    content_type = part.content_type
    if content_type == "text/plain":
        texts.append(decode_payload(part))
    elif content_type == "text/html":
        texts.append(html_to_text(decode_payload(part)))


def _prefer_plain(children: list[mime.Part]) -> mime.Part | None:
    """The plain-text alternative when it has words, else HTML, else a nested part."""
    by_type: dict[str, mime.Part] = {}
    for child in children:
        by_type.setdefault("multipart" if child.children is not None else child.content_type, child)
    plain = by_type.get("text/plain")
    if plain is not None and decode_payload(plain).strip():
        return plain
    return by_type.get("text/html") or by_type.get("multipart") or plain


def decode_payload(part: mime.Part) -> str:
    raw = part.payload()
    charset = part.charset() or "us-ascii"
    text = _decode(raw[: MAX_TEXT_PART * 4], charset)
    return text[:MAX_TEXT_PART].replace("\r\n", "\n")


def _decode(raw: bytes, charset: str) -> str:
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        pass
    for fallback in FALLBACK_CHARSETS:
        try:
            return raw.decode(fallback)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def decode_header(value: str | None) -> str:
    """A header value as readable text: encoded words decoded, folding removed."""
    if not value:
        return ""
    text = value
    if "=?" in text:
        try:
            pieces = email.header.decode_header(text)
            text = "".join(
                _decode(chunk, charset or "us-ascii") if isinstance(chunk, bytes) else chunk
                for chunk, charset in pieces
            )
        except (ValueError, LookupError, AssertionError):
            pass
    return " ".join(text.split())


_NEEDS_PARSER = re.compile(r'[<"(\\=:;]')


def _addresses(part: mime.Part, header: str, role: str) -> tuple[Participant, ...]:
    texts = part.get_all(header)
    if not texts:
        return ()
    if not any(_NEEDS_PARSER.search(text) for text in texts):
        # plain comma-separated addresses (most real headers): no parser needed
        return tuple(
            Participant(address=a.strip().lower(), role=role)
            for text in texts
            for a in text.split(",")
            if "@" in a
        )
    found = []
    for name, address in email.utils.getaddresses(texts):
        address = address.strip().strip("<>").lower()
        if "@" not in address:
            continue
        found.append(Participant(address=address, name=decode_header(name), role=role))
    return tuple(found)


def parse_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def _clean_id(value: str | None) -> str | None:
    if not value:
        return None
    text = "".join(value.split())
    return text or None
