"""Gmail, read incrementally through the Gmail API.

::

    sources:
      - type: gmail
        name: mail
        account: sam@studio.example          # the token `clientline auth google` stored
        query: "newer_than:90d -in:chats -category:promotions"   # the default
        labels: [INBOX]                      # optional: only messages with all of these
        max_message_bytes: 10000000          # larger messages are reported and skipped
        quota_per_minute: 6000               # Gmail quota units per minute, this account

The first sync lists the ids that match ``query`` (``messages.list``, 500 to a page),
then fetches the messages the worker does not store yet with ``messages.get`` in batches
of 50 (``format=full`` with ``fields=``: text parts come inline, attachments stay on
the server, only their names are read). Later runs ask ``history.list`` what was added
or deleted since the stored ``historyId`` and fetch only the new messages; a deleted
message resolves its findings. Google answers 404 when that history has expired: the
source lists again, and downloads only what it does not already have; a stored message
that listing leaves out is asked for (``format=minimal``), and resolves its findings if
it was deleted meanwhile or lies in the trash or spam.

What ``query`` says about labels (``-in:chats``, ``-category:promotions``, ``-label:X``)
also filters messages that history reports as added, as does ``labels``; Gmail's spam
and trash are never read; a new message always passes ``newer_than:`` and ``after:``.
A query with any other term (``in:inbox``, ``from:``, ``subject:`` ...) is asked again
for what arrived since the last run (one ``messages.list`` with ``after:``), and only
the added messages it names are read, so that later runs keep to the same question as
the first listing.

Costs, in Gmail quota units: 5 per page of 500 ids, 5 per message, 2 per history
page, 1 for the profile and 1 for the label names; the first sync of a mailbox costs
just over 5 units per message. A later run with a query of more than label terms
lists what arrived since the last one: 5 units per page of 500 ids. Listing again
after the history expired costs 5 more
for each stored message the listing left out that is younger than the query's
``newer_than:`` or ``after:``.

A message the API returns without a payload, with an unreadable body, or larger than
``max_message_bytes`` is reported by its id and skipped; the run goes on.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import email.header
import email.message
import email.utils
import json
import shlex
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from linter.google import api
from linter.google.auth import GMAIL_READONLY
from linter.model import Message, Problem
from linter.sources import (
    ACCOUNT_OPTIONS,
    AccountBase,
    Batch,
    Known,
    Output,
    Window,
    load_cursor,
    mime,
)
from linter.sources.mail import to_message

DEFAULT_QUERY = "newer_than:90d -in:chats -category:promotions"
MAX_MESSAGE_BYTES = 10_000_000
LIST_PAGE = 500
UNIT = "mailbox"
GET_FIELDS = (
    "id,threadId,labelIds,sizeEstimate,internalDate,"
    "payload(mimeType,filename,headers,body(data,attachmentId,size),parts)"
)
LIST_FIELDS = "messages(id),nextPageToken"
HISTORY_FIELDS = (
    "history(messagesAdded(message(id,labelIds)),messagesDeleted(message(id))),"
    "historyId,nextPageToken"
)
ALWAYS_EXCLUDED = frozenset({"SPAM", "TRASH"})
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
PARAMETER_HEADERS = frozenset({"content-type", "content-disposition"})
# what `-in:` and `-category:` in a query mean as label ids
QUERY_LABELS = {
    "in:chats": "CHAT",
    "in:chat": "CHAT",
    "is:chat": "CHAT",
    "in:drafts": "DRAFT",
    "in:sent": "SENT",
    "in:inbox": "INBOX",
    "category:promotions": "CATEGORY_PROMOTIONS",
    "category:social": "CATEGORY_SOCIAL",
    "category:updates": "CATEGORY_UPDATES",
    "category:forums": "CATEGORY_FORUMS",
    "category:primary": "CATEGORY_PERSONAL",
}
OPTIONS = (*ACCOUNT_OPTIONS, "query", "labels", "max_message_bytes")


class GmailSource(AccountBase):
    kind: ClassVar[str] = "gmail"
    options_known: ClassVar[tuple[str, ...]] = OPTIONS

    def __init__(
        self,
        name: str,
        options: Mapping[str, Any],
        window: Window,
        base: Path | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        super().__init__(name, options, window, base, now)
        self.query = str(options.get("query", DEFAULT_QUERY))
        labels = options.get("labels") or []
        self.labels = [str(label) for label in ([labels] if isinstance(labels, str) else labels)]
        self.max_bytes = int(options.get("max_message_bytes", MAX_MESSAGE_BYTES))
        self.excluded = ALWAYS_EXCLUDED | excluded_labels(self.query)
        # `-label:` names a label as the user sees it (`-label:newsletters`), while
        # history gives label ids (`Label_12`): those terms are compared with names too
        self.excluded_names = frozenset(
            _label_key(label)
            for label in self.excluded - ALWAYS_EXCLUDED - set(QUERY_LABELS.values())
        )
        self.client: api.Client | None = None
        self._label_names: dict[str, str] | None = None

    @property
    def where(self) -> str:
        return f"gmail:{self.name}"

    def sync(self, cursor: str | None, known: Known) -> Iterator[Batch]:
        client = self.client or api.connect("gmail", self.options, [GMAIL_READONLY], self.base)
        self.client = client
        state = load_cursor(cursor)
        same_question = state.get("query") == self.query and state.get("labels") == self.labels
        if state.get("history") and same_question:
            try:
                synced = state.get("synced")
                since = int(synced) if isinstance(synced, int | float) else None
                yield from self._changes(client, str(state["history"]), known, since)
                return
            except api.ApiError as exc:
                if exc.status != 404:
                    raise
                # the history is gone: list again (stored messages are not downloaded)
        yield from self._full(client, known)

    def _cursor(self, history: str) -> str:
        return json.dumps(
            {
                "history": history,
                "query": self.query,
                "labels": self.labels,
                "synced": int(self.now.timestamp()),
            }
        )

    # ---- listing

    def _full(self, client: api.Client, known: Known) -> Iterator[Batch]:
        # the history id is read first, so whatever arrives while we list is in history
        profile = client.execute(
            client.service.users().getProfile(userId="me", fields="historyId"),
            api.GMAIL_UNITS["profile"],
        )
        history = str(profile["historyId"])
        for ids in self._listed(client, self.query):
            have = known(ids)
            if have:
                yield Batch(UNIT, seen=sorted(have))
            yield from self._fetch(client, [i for i in ids if i not in have])
        yield Batch(
            UNIT,
            complete=True,
            keep_before=query_cutoff(self.query, self.now),  # older ones only aged out
            confirm_gone=lambda ids: self._gone(client, ids),
            cursor=self._cursor(history),
        )

    def _gone(self, client: api.Client, ids: Sequence[str]) -> list[str]:
        """Of the stored messages a full listing left out, those that are gone: deleted
        (404), or in the trash or spam, which are never read. The others only left the
        query (aged out of ``newer_than:``, moved out of ``labels``) and keep their
        findings, as they would have had history told of it."""
        messages = client.service.users().messages()
        calls = [
            (i, messages.get(userId="me", id=i, format="minimal", fields="id,labelIds"))
            for i in ids
        ]
        gone = []
        for message_id, response, failure in client.batch(calls, api.GMAIL_UNITS["get"]):
            if failure is not None:
                if failure.status == 404:
                    gone.append(message_id)
            elif set(response.get("labelIds") or ()) & ALWAYS_EXCLUDED:
                gone.append(message_id)
        return gone

    def _changes(
        self, client: api.Client, start: str, known: Known, since: int | None = None
    ) -> Iterator[Batch]:
        added: dict[str, None] = {}  # ordered, without duplicates
        deleted: set[str] = set()
        history = start
        listing = client.service.users().history()
        pages = client.pages(
            lambda page: listing.list(
                userId="me",
                startHistoryId=start,
                historyTypes=["messageAdded", "messageDeleted"],
                maxResults=LIST_PAGE,
                pageToken=page,
                fields=HISTORY_FIELDS,
            ),
            api.GMAIL_UNITS["history"],
        )
        for response in pages:
            for record in response.get("history") or ():
                for entry in record.get("messagesAdded") or ():
                    message = entry.get("message") or {}
                    labels = message.get("labelIds") or ()
                    if message.get("id") and self._wanted(client, labels):
                        added[str(message["id"])] = None
                for entry in record.get("messagesDeleted") or ():
                    message_id = (entry.get("message") or {}).get("id")
                    if message_id:
                        deleted.add(str(message_id))
                        added.pop(str(message_id), None)
            history = str(response.get("historyId") or history)
        fresh = list(added)
        if fresh and asks_more_than_labels(self.query):
            matching = self._matching(client, since)
            fresh = [i for i in fresh if i in matching]
        have = known(fresh)
        yield from self._fetch(client, [i for i in fresh if i not in have])
        yield Batch(UNIT, deleted=sorted(deleted), cursor=self._cursor(history))

    def _matching(self, client: api.Client, since: int | None) -> set[str]:
        """The ids the query names among messages from a day before the last run on
        (all it names, when that run's time is not known)."""
        query = self.query if since is None else f"{self.query} after:{since - 86_400}"
        return {i for ids in self._listed(client, query) for i in ids}

    def _listed(self, client: api.Client, query: str) -> Iterator[list[str]]:
        """The ids ``query`` (and ``labels``) names, a page of up to 500 at a time."""
        listing = client.service.users().messages()
        pages = client.pages(
            lambda page: listing.list(
                userId="me",
                q=query or None,
                labelIds=self.labels or None,
                maxResults=LIST_PAGE,
                pageToken=page,
                fields=LIST_FIELDS,
            ),
            api.GMAIL_UNITS["list"],
        )
        for response in pages:
            yield [str(m["id"]) for m in response.get("messages") or () if m.get("id")]

    def _wanted(self, client: api.Client, label_ids: Sequence[str]) -> bool:
        labels = set(label_ids)
        if labels & self.excluded or not all(label in labels for label in self.labels):
            return False
        if not self.excluded_names:
            return True  # no need to ask for the label names
        names = self._names(client)
        return not {_label_key(names.get(label, label)) for label in labels} & self.excluded_names

    def _fetch(self, client: api.Client, ids: Sequence[str]) -> Iterator[Batch]:
        # built once: the client library builds this resource anew on every call, ~1 ms
        messages = client.service.users().messages()
        for start in range(0, len(ids), api.MAX_BATCH):
            chunk = ids[start : start + api.MAX_BATCH]
            calls = [
                (i, messages.get(userId="me", id=i, format="full", fields=GET_FIELDS))
                for i in chunk
            ]
            outputs: list[Output] = []
            for message_id, response, failure in client.batch(calls, api.GMAIL_UNITS["get"]):
                if failure is not None:
                    if failure.status == 404:
                        continue  # deleted between listing and fetching
                    outputs.append(
                        Problem(self.where, f"message {message_id}: {failure.message}; skipped")
                    )
                    continue
                outputs.append(self._message(message_id, response, client))
            yield Batch(UNIT, items=outputs)

    # ---- mapping

    def _message(self, message_id: str, resource: Any, client: api.Client) -> Output:
        try:
            payload = resource.get("payload") if isinstance(resource, Mapping) else None
            if not isinstance(payload, Mapping):
                raise ValueError("no payload")
            size = int(resource.get("sizeEstimate") or 0)
            if size > self.max_bytes:
                return Problem(
                    self.where,
                    f"message {message_id}: {size / 1_000_000:.1f} MB is over "
                    f"max_message_bytes ({self.max_bytes:,}); skipped",
                )
            part = payload_part(payload)
            message = to_message(part, self.where, message_id, None, lambda: message_id)
        except Exception as exc:  # one odd message must not end the sync
            return Problem(
                self.where,
                f"message {message_id}: unreadable ({type(exc).__name__}: {exc}); skipped",
            )
        return _with_gmail_identity(message, resource, self._names(client))

    def _names(self, client: api.Client) -> dict[str, str]:
        """Label ids to names, asked once per sync and only when a message needs them."""
        if self._label_names is None:
            try:
                response = client.execute(
                    client.service.users().labels().list(userId="me", fields="labels(id,name)"),
                    api.GMAIL_UNITS["labels"],
                )
                self._label_names = {
                    str(label["id"]): str(label.get("name") or label["id"])
                    for label in response.get("labels") or ()
                }
            except api.ApiError:
                self._label_names = {}  # label names are a nicety: ids will do
        return self._label_names


def payload_part(payload: Mapping[str, Any]) -> mime.Part:
    """A Gmail ``format=full`` payload as the MIME part our mail reader understands.

    Gmail has already undone each part's transfer encoding (``body.data`` is the
    content, base64url-encoded for JSON), so that header is dropped here.
    """
    fields = [
        (name, _ascii_value(name.lower(), str(header.get("value", ""))))
        for header in payload.get("headers") or ()
        if (name := str(header.get("name", ""))).lower() != "content-transfer-encoding"
    ]
    mime_type = str(payload.get("mimeType") or "text/plain")
    if not any(name.lower() == "content-type" for name, _ in fields):
        fields.append(("Content-Type", mime_type))
    filename = payload.get("filename")
    if filename and not any(name.lower() == "content-disposition" for name, _ in fields):
        fields.append(("Content-Disposition", _parameters("attachment", [("filename", filename)])))
    children = payload.get("parts")
    if mime_type.startswith(("multipart/", "message/")) and isinstance(children, list):
        return mime.Part(fields, children=[payload_part(child) for child in children])
    body = payload.get("body") or {}
    return mime.Part(fields, _b64url(str(body.get("data") or "")))


def _ascii_value(name: str, value: str) -> str:
    """A header value as a message carries it, from the text Gmail gives.

    Gmail gives header values as Unicode text (encoded words and raw UTF-8 decoded); the
    MIME reader takes them as they stand in a message: ASCII, with other text in RFC
    2047 encoded words (RFC 2231 for parameters such as a file name). Passing Gmail's
    text through as it is made every message with a non-ASCII header unreadable.
    ``name`` is the header's name in lower case.
    """
    if value.isascii():
        return value
    encoded = ""
    try:
        if name in ADDRESS_HEADERS:  # encode the display names, keep the addresses
            pairs = email.utils.getaddresses([value])
            encoded = ", ".join(email.utils.formataddr(pair, "utf-8") for pair in pairs)
        elif name in PARAMETER_HEADERS:  # keep the type and encode each parameter
            helper = email.message.Message()
            helper[name] = value
            found = helper.get_params(header=name) or [("", "")]
            encoded = _parameters(found[0][0], found[1:])
    except (UnicodeError, ValueError):  # an address that is not ASCII itself
        encoded = ""
    if encoded and encoded.isascii():
        return encoded
    return email.header.Header(value, "utf-8").encode(maxlinelen=0)


def _parameters(main: str, parameters: Sequence[tuple[str, Any]]) -> str:
    """``main; key=value ...``, non-ASCII values in RFC 2231 form."""
    helper = email.message.Message()
    helper["X"] = main
    for key, raw in parameters:
        value = email.utils.collapse_rfc2231_value(raw)
        helper.set_param(key, value, header="X", charset=None if value.isascii() else "utf-8")
    return str(helper["X"])


def _b64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"body data is not base64url ({exc})") from None


def _with_gmail_identity(
    message: Message, resource: Mapping[str, Any], names: Mapping[str, str]
) -> Message:
    """Gmail's ids, labels and link; the Date header, else the time Gmail received it."""
    start = message.start
    if start is None and resource.get("internalDate"):
        start = dt.datetime.fromtimestamp(int(resource["internalDate"]) / 1000, dt.UTC)
    message_id = str(resource.get("id") or message.locator)
    return dataclasses.replace(
        message,
        id=message_id,
        thread=str(resource.get("threadId") or message.thread or "") or None,
        labels=tuple(names.get(label, label) for label in resource.get("labelIds") or ()),
        start=start,
        link=f"https://mail.google.com/mail/u/0/#all/{message_id}",
    )


def excluded_labels(query: str) -> frozenset[str]:
    """Label ids a query's negated ``in:``/``category:``/``label:`` terms leave out."""
    found = set()
    for term in _terms(query):
        if not term.startswith("-"):
            continue
        term = term[1:]
        if term.lower() in QUERY_LABELS:
            found.add(QUERY_LABELS[term.lower()])
        elif term.lower().startswith("label:"):
            found.add(term[6:])  # a label id; system ids are upper case, as Gmail gives them
    return frozenset(found)


def asks_more_than_labels(query: str) -> bool:
    """Whether a query has terms that history's labels cannot answer for a new message:
    anything but ``newer_than:``/``after:`` (a new message passes them) and the negated
    label terms :func:`excluded_labels` reads."""
    for term in _terms(query):
        name = term.lower().partition(":")[0]
        if name in ("newer_than", "after"):
            continue
        if term.startswith("-") and (
            term[1:].lower() in QUERY_LABELS or term[1:].lower().startswith("label:")
        ):
            continue
        return True
    return False


def _terms(query: str) -> list[str]:
    try:
        return shlex.split(query)
    except ValueError:  # unbalanced quotes: word by word
        return query.split()


def query_cutoff(query: str, now: dt.datetime) -> dt.datetime | None:
    """The earliest date a query's ``newer_than:`` and ``after:`` terms let through
    (``newer_than:90d``: 90 days before ``now``), or ``None``: messages before it are
    left out of a listing for their age alone."""
    cutoffs = []
    for term in _terms(query):
        name, _, value = term.lower().partition(":")
        if name == "newer_than" and value[:-1].isdigit() and value[-1:] in _AGE_UNITS:
            cutoffs.append(now - dt.timedelta(days=int(value[:-1]) * _AGE_UNITS[value[-1]]))
        elif name == "after" and value.isdigit():
            cutoffs.append(dt.datetime.fromtimestamp(int(value), dt.UTC))
        elif name == "after":
            try:
                day = dt.datetime.strptime(value, "%Y/%m/%d")
            except ValueError:
                continue
            cutoffs.append(day.replace(tzinfo=dt.UTC))
    return max(cutoffs, default=None)


_AGE_UNITS = {"d": 1, "m": 30, "y": 365}  # as Gmail counts a month and a year


def _label_key(name: str) -> str:
    """A label name as a query writes it: any case, dashes for spaces and slashes."""
    return name.casefold().replace(" ", "-").replace("/", "-")
