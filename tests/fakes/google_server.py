"""A fake Google (Calendar v3, Gmail v1, OAuth token endpoint) on 127.0.0.1 for tests.

The real ``google-api-python-client`` talks to it over HTTP, request for request, batch for
batch, so end-to-end tests exercise the same code paths as production.

Start it
--------

Load the fixture in a test module with ``pytest_plugins = ["tests.fakes.google_server"]``
and ask for ``fake_google``, or use the context manager::

    with FakeGoogle() as fake:          # binds 127.0.0.1 on a free port
        fake.url                        # "http://127.0.0.1:PORT/"

It always stops (``shutdown`` + ``server_close``, open keep-alive sockets are shut, every
wait is bounded). A module that also imports names from here should make its own fixture
(``with FakeGoogle() as fake: yield fake``) rather than list it in ``pytest_plugins``
(pytest warns it cannot rewrite an already imported plugin). ``fake.reset()`` forgets all
state, for a server shared by a session. ``FakeGoogle(now=datetime)`` freezes the clock.

Point the real client at it
---------------------------

``api_endpoint`` *replaces* the discovery document's ``rootUrl + servicePath``, so Calendar
needs the service path, Gmail (whose paths already start with ``gmail/v1/``) does not::

    build("calendar", "v3", http=http, static_discovery=True,
          client_options={"api_endpoint": fake.calendar_endpoint})   # url + "calendar/v3/"
    build("gmail", "v1", http=http, static_discovery=True,
          client_options={"api_endpoint": fake.gmail_endpoint})      # url
    BatchHttpRequest(batch_uri=fake.batch_uri("gmail"))             # url + "batch/gmail/v1"

``service.new_batch_http_request()`` ignores ``api_endpoint`` (it always posts to the real
Google), so batches must be made with ``BatchHttpRequest(batch_uri=...)``.
``fake.build(api, http=...)`` does all of this. Credentials: ``fake.credentials()`` gives
``google.oauth2.credentials.Credentials`` whose ``token_uri`` is ``fake.token_uri``;
``fake.http(credentials)`` wraps them in ``google_auth_httplib2.AuthorizedHttp``.
Media uploads (``media_body=``) cannot be used: the client keeps ``https`` for upload URLs;
send with ``body={"raw": ...}``.

Seed and mutate data
--------------------

* Calendar: ``fake.calendar.primary(user=None)`` (auto-created, id = the user's address),
  ``fake.calendar.add_calendar(id, summary=, time_zone=, user=)``; on a ``Calendar``:
  ``add_event(dict or **fields)`` (``start``/``end`` may be ``datetime``/``date``;
  ``raw=True`` stores it untouched, for malformed events), ``update_event(id, **changes)``
  (``None`` removes a key), ``delete_event(id)`` (status ``cancelled``),
  ``override_instance(master_id, original_start, **changes)``, ``cancel_instance(...)``,
  ``expire_sync_tokens()`` (410 next time), ``seed(count, ...)``. Recurring events
  (``recurrence=[RRULE/EXDATE/RDATE]``) are expanded with ``singleEvents=true``.
* Gmail: ``fake.gmail.mailbox(address=None)``; ``add_message(raw or subject=/sender=/to=/
  body=, label_ids=, thread_id=, internal_date=)``, ``delete_message``, ``modify_labels``,
  ``add_label(name)``, ``trim_history(before=None)`` (older ``startHistoryId`` -> 404),
  ``seed(count, ...)``; ``mailbox.sent`` holds every raw message ``messages.send`` got.
* OAuth: ``fake.oauth.issue_refresh_token(user)``, ``revoke_refresh_token``,
  ``revoke_access_token``, ``revoke_all_access_tokens``, ``deny_subject``,
  ``require_auth = True`` (then unknown or missing bearer tokens get 401).
* Clock: ``fake.set_time(datetime)`` freezes "now" (``newer_than:``, ``updated``).

Endpoints (paths relative to ``fake.url``)
------------------------------------------

``calendar/v3/users/me/calendarList[/{id}]``, ``calendar/v3/calendars/{id}``,
``calendar/v3/calendars/{id}/events[/{eventId}]``; ``gmail/v1/users/{userId}/profile``,
``.../labels``, ``.../messages``, ``.../messages/{id}``, ``.../messages/send`` (POST),
``.../history``; ``batch``, ``batch/gmail/v1``, ``batch/calendar/v3`` (POST,
multipart/mixed); ``token`` (POST); ``o/oauth2/auth`` (GET, redirects to a loopback
``redirect_uri`` with a code, for the installed-app flow).

Behaviour: paging with ``pageToken``/``maxResults`` (Calendar events max 2500, calendarList
250, Gmail 500; larger values are clamped); page tokens are reusable (retries work);
events.list ``singleEvents``, ``timeMin``/``timeMax``, ``updatedMin``, ``showDeleted``,
``orderBy``, ``q``, ``iCalUID``, ``eventTypes``, ``syncToken`` (every event changed since
the token, cancelled ones included, whatever its time; changed recurring series are expanded
within the first sync's window; ``nextSyncToken`` on the last page only; unknown or
expired -> 410 ``fullSyncRequired``); messages.list ``q``, ``labelIds``,
``includeSpamTrash``; messages.get ``format=full|metadata|minimal|raw`` and
``metadataHeaders``; history.list ``startHistoryId`` (404 below the retained range),
``historyTypes``, ``labelId``; messages.send; getProfile; ``fields`` partial responses
(``a,b/c,items(id,start/dateTime),*``) on every JSON response.

Gmail ``q``: terms are ANDed; ``-`` negates; ``"quoted phrases"``; operators
``newer_than:``/``older_than:`` (``Nd``, ``Nm`` = 30 days, ``Ny`` = 365 days), ``after:``/
``before:`` (``YYYY/MM/DD`` in UTC, or epoch seconds), ``in:`` (inbox sent spam trash drafts
chats starred important unread anywhere), ``is:`` (unread read starred important chat),
``label:`` (id or name), ``category:`` (primary social promotions updates forums),
``from: to: cc: bcc: subject: rfc822msgid:`` (substring, case-insensitive),
``larger:``/``smaller:`` (bytes, ``K``/``M``), ``has:attachment``; bare words match the
subject, sender, recipients and snippet. ``OR``, braces, parentheses and any other operator
get HTTP 400 (loudly unsupported rather than silently wrong).

Switches (``fake.switches``)
----------------------------

``fail(endpoint, status, times=1, reason=, message=, retry_after=, where=)`` and the
shorthands ``too_many_requests`` (429 + ``Retry-After``), ``rate_limit`` (403
``rateLimitExceeded``; ``per_user=True`` -> ``userRateLimitExceeded``), ``server_error``
(500/503), ``drop_connections`` (close the socket without a response), ``disable_api``
(403 ``accessNotConfigured``); ``set_latency(seconds)`` per HTTP request;
``batch_limit`` (default 100 parts; more -> 400 like Google); ``batch_concurrency``
(parts beyond it in a Gmail batch get 429, like Gmail does); ``revoke_access_token``,
``revoke_all_access_tokens``, ``revoke_refresh_token`` (401 / ``invalid_grant``),
``expire_sync_tokens(calendar_id=None)`` (410), ``expire_history(user=None)`` (404);
``clear()``.
``endpoint`` is an fnmatch pattern over names such as ``gmail.users.messages.get`` or
``calendar.events.*``; the batch envelope (``batch``) and the OAuth endpoints
(``oauth.token``, ``oauth.authorize``) match only patterns starting with ``batch`` /
``oauth``. ``where`` is ``any``, ``direct`` (a plain HTTP request) or ``part`` (inside a
batch). ``times=None`` means until cleared. Note that httplib2 silently retries a dropped
connection once: two drops in a row reach the caller as ``ConnectionError``.

Counters (``fake.counters``, ``fake.counters.snapshot()``, ``fake.counters.reset()``)
-------------------------------------------------------------------------------------

``http_requests`` (every HTTP request read, a batch is one; ``api_http_requests`` leaves
out the OAuth endpoints), ``http_by_endpoint``, ``calls`` (logical API calls by endpoint,
batch parts included), ``statuses``, ``batch_requests``, ``batch_parts``,
``gmail_quota_units`` and ``gmail_quota_by_user`` (Google's published per-method costs,
charged for calls the fake executed, not for injected faults or failed authentication),
``dropped``, ``faults_injected``. ``fake.requests`` logs the last 10,000 calls
(endpoint, params, status, in batch or not).
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import fnmatch
import functools
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from email import policy as email_policy
from email.header import Header, decode_header, make_header
from email.message import Message as MimeMessage
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from dateutil import rrule as dateutil_rrule

__all__ = [
    "GMAIL_QUOTA_UNITS",
    "ApiError",
    "Calendar",
    "CalendarStore",
    "Counters",
    "FakeGoogle",
    "Fault",
    "GmailMessage",
    "GmailStore",
    "Mailbox",
    "OAuthStore",
    "RequestRecord",
    "Switchboard",
    "apply_fields",
    "fake_google",
    "make_raw_message",
    "parse_fields",
    "parse_gmail_query",
]

Json = dict[str, Any]

HOST = "127.0.0.1"
MAX_BODY = 48 * 1024 * 1024  # Gmail's own send limit is 35 MB of message
MAX_INSTANCES = 1000  # occurrences of one recurring event per listing
MAX_EXPANSION = timedelta(days=3 * 366)  # how far an open-ended listing expands a series
HISTORY_LIMIT = 200_000  # history records kept per mailbox; older ones fall off
PAGE_TOKENS_KEPT = 4096

# Gmail's published per-method quota units.
GMAIL_QUOTA_UNITS: dict[str, int] = {
    "gmail.users.getProfile": 1,
    "gmail.users.labels.list": 1,
    "gmail.users.messages.list": 5,
    "gmail.users.messages.get": 5,
    "gmail.users.messages.send": 100,
    "gmail.users.history.list": 2,
}

# ---------------------------------------------------------------------------------------
# Errors in Google's JSON shape
# ---------------------------------------------------------------------------------------

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ABORTED",
    410: "GONE",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# status -> (reason, message, domain) used when a fault names only a status
_FAULT_DEFAULTS: dict[int, tuple[str, str, str]] = {
    400: ("badRequest", "Bad Request", "global"),
    401: ("authError", "Invalid Credentials", "global"),
    403: ("rateLimitExceeded", "Rate Limit Exceeded", "usageLimits"),
    404: ("notFound", "Requested entity was not found.", "global"),
    409: ("conflict", "Conflict", "global"),
    410: ("fullSyncRequired", "Sync token is no longer valid, a full sync is required.", ""),
    429: ("rateLimitExceeded", "Too many concurrent requests for user.", "global"),
    500: ("backendError", "Backend Error", "global"),
    502: ("backendError", "Bad Gateway", "global"),
    503: ("backendError", "The service is currently unavailable.", "global"),
    504: ("backendError", "Deadline exceeded", "global"),
}

_REASON_DEFAULTS: dict[str, tuple[str, str]] = {
    "rateLimitExceeded": ("Rate Limit Exceeded", "usageLimits"),
    "userRateLimitExceeded": ("User Rate Limit Exceeded", "usageLimits"),
    "quotaExceeded": ("Quota exceeded for quota metric 'Queries'.", "usageLimits"),
    "dailyLimitExceeded": ("Daily Limit Exceeded", "usageLimits"),
    "accessNotConfigured": (
        "The API has not been used in this project before or it is disabled.",
        "usageLimits",
    ),
    "forbidden": ("Forbidden", "global"),
}


class ApiError(Exception):
    """An error answer: ``{"error": {"code", "message", "errors": [...], "status"}}``."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str,
        *,
        domain: str = "global",
        headers: Mapping[str, str] | None = None,
        errors: list[Json] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.headers = dict(headers or {})
        if errors is None:
            errors = [{"message": message, "domain": domain, "reason": reason}]
        self.errors = errors

    def body(self) -> Json:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": self.errors,
                "status": _STATUS_NAMES.get(self.code, "UNKNOWN"),
            }
        }


def sync_token_gone() -> ApiError:
    """Calendar's 410 for an unknown or expired sync token, exactly as Google words it."""
    return ApiError(
        410,
        "Sync token is no longer valid, a full sync is required.",
        "fullSyncRequired",
        errors=[{"domain": "global", "reason": "fullSyncRequired"}],
    )


def not_found(message: str = "Not Found") -> ApiError:
    return ApiError(404, message, "notFound")


def bad_request(message: str, reason: str = "invalid") -> ApiError:
    return ApiError(400, message, reason)


def unauthenticated(*, missing: bool = False) -> ApiError:
    tail = (
        "Expected OAuth 2 access token, login cookie or other valid authentication "
        "credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
    )
    if missing:
        message = "Request is missing required authentication credential. " + tail
        reason, short = "required", "Login Required."
    else:
        message = "Request had invalid authentication credentials. " + tail
        reason, short = "authError", "Invalid Credentials"
    return ApiError(
        401,
        message,
        reason,
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        errors=[
            {
                "message": short,
                "domain": "global",
                "reason": reason,
                "location": "Authorization",
                "locationType": "header",
            }
        ],
    )


# ---------------------------------------------------------------------------------------
# Partial responses: the `fields` parameter
# ---------------------------------------------------------------------------------------

FieldMask = dict[str, "FieldMask | None"]  # None: keep the whole value
_FIELD_NAME = re.compile(r"[A-Za-z0-9_*@.$-]+")


def parse_fields(spec: str) -> FieldMask:
    """Parse a ``fields`` value such as ``items(id,start/dateTime),nextPageToken``.

    Raises ValueError for a malformed selection.
    """
    spec = spec.replace(" ", "")
    if not spec:
        raise ValueError("empty field selection")
    mask, pos = _parse_field_list(spec, 0, 0)
    if pos != len(spec):
        raise ValueError(f"unexpected {spec[pos]!r} at position {pos}")
    return mask


def _parse_field_list(spec: str, pos: int, depth: int) -> tuple[FieldMask, int]:
    mask: FieldMask = {}
    while True:
        path: list[str] = []
        while True:
            match = _FIELD_NAME.match(spec, pos)
            if match is None:
                raise ValueError(f"expected a field name at position {pos}")
            path.append(match.group())
            pos = match.end()
            if pos < len(spec) and spec[pos] == "/":
                pos += 1
                continue
            break
        sub: FieldMask | None = None
        if pos < len(spec) and spec[pos] == "(":
            if depth >= 16:
                raise ValueError("field selection nested too deeply")
            sub, pos = _parse_field_list(spec, pos + 1, depth + 1)
            if pos >= len(spec) or spec[pos] != ")":
                raise ValueError("unbalanced parenthesis in field selection")
            pos += 1
        _merge_path(mask, path, sub)
        if pos < len(spec) and spec[pos] == ",":
            pos += 1
            continue
        return mask, pos


def _merge_path(mask: FieldMask, path: list[str], sub: FieldMask | None) -> None:
    node = mask
    for name in path[:-1]:
        if name in node:
            child = node[name]
            if child is None:
                return  # the whole value is already selected
            node = child
        else:
            new: FieldMask = {}
            node[name] = new
            node = new
    last = path[-1]
    if sub is None:
        node[last] = None
        return
    current = node.get(last, {})
    if last in node and current is None:
        return
    if last not in node:
        node[last] = sub
        return
    assert current is not None
    for key, value in sub.items():
        _merge_path(current, [key], value)


def apply_fields(value: Any, mask: FieldMask | None) -> Any:
    """Keep only what ``mask`` selects; lists apply the mask to each element."""
    if mask is None:
        return value
    if isinstance(value, list):
        return [apply_fields(item, mask) for item in value]
    if not isinstance(value, dict):
        return value
    out: Json = {}
    for key, item in value.items():
        if key in mask:
            out[key] = apply_fields(item, mask[key])
        elif "*" in mask:
            out[key] = apply_fields(item, mask["*"])
    return out


# ---------------------------------------------------------------------------------------
# Time helpers
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _zone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def rfc3339(moment: datetime) -> str:
    """``2026-05-01T10:00:00.000Z``, the form Google uses for ``updated``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_time_param(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"Bad Request: invalid {name} {text!r}", "badRequest") from None
    if value.tzinfo is None:
        raise bad_request(f"Bad Request: {name} needs a time zone offset", "badRequest")
    return value


def _event_time(value: Any, default_zone: tzinfo) -> tuple[datetime | None, bool]:
    """(aware start of the value, all-day?) or (None, False) if it cannot be read."""
    if not isinstance(value, dict):
        return None, False
    try:
        if value.get("dateTime"):
            moment = datetime.fromisoformat(str(value["dateTime"]))
            if moment.tzinfo is None:
                zone_name = value.get("timeZone")
                moment = moment.replace(tzinfo=_zone(zone_name) if zone_name else default_zone)
            return moment, False
        if value.get("date"):
            day = date.fromisoformat(str(value["date"]))
            return datetime(day.year, day.month, day.day, tzinfo=default_zone), True
    except (TypeError, ValueError):
        return None, False
    return None, False


def _time_field(value: Any, zone: tzinfo) -> Any:
    """Let seeds give ``datetime``/``date`` for start, end and originalStartTime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        zone_name = getattr(value.tzinfo, "key", None) or getattr(zone, "key", None) or "UTC"
        return {"dateTime": value.isoformat(), "timeZone": zone_name}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return value


def _ical_moment(text: str, zone: tzinfo) -> datetime:
    text = text.strip()
    if len(text) == 8:
        day = datetime.strptime(text, "%Y%m%d")
        return day.replace(tzinfo=zone)
    if text.endswith("Z"):
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=zone)


_UNTIL = re.compile(r"UNTIL=([0-9TZ]+)", re.IGNORECASE)


def _rruleset(lines: Iterable[str], dtstart: datetime, zone: tzinfo) -> dateutil_rrule.rruleset:
    """Build the occurrence set of RRULE/EXRULE/RDATE/EXDATE lines (aware throughout)."""

    def until_in_utc(match: re.Match[str]) -> str:
        value = match.group(1)
        if value.upper().endswith("Z"):
            return match.group(0)
        moment = _ical_moment(value, zone)
        if len(value) == 8:
            moment += timedelta(days=1, seconds=-1)
        return "UNTIL=" + moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    rules = dateutil_rrule.rruleset()
    for line in lines:
        name, _, value = str(line).partition(":")
        key, *params = name.upper().split(";")
        if key in ("RRULE", "EXRULE"):
            rule = dateutil_rrule.rrulestr(_UNTIL.sub(until_in_utc, value), dtstart=dtstart)
            if key == "RRULE":
                rules.rrule(rule)
            else:
                rules.exrule(rule)
        elif key in ("RDATE", "EXDATE"):
            where = zone
            for param in params:
                if param.startswith("TZID="):
                    where = _zone(param[5:])
            for item in value.split(","):
                moment = _ical_moment(item, where)
                if key == "RDATE":
                    rules.rdate(moment)
                else:
                    rules.exdate(moment)
        else:
            raise ValueError(f"unsupported recurrence line {line!r}")
    return rules


# ---------------------------------------------------------------------------------------
# Paging
# ---------------------------------------------------------------------------------------


@dataclass
class _PageState:
    key: str
    items: list[Json]
    offset: int
    tail: Json


@dataclass
class _Page:
    items: list[Json]
    next_token: str | None
    tail: Json  # extras the last page carries (nextSyncToken)
    total: int

    def into(self, out: Json) -> Json:
        if self.next_token:
            out["nextPageToken"] = self.next_token
        out.update(self.tail)
        return out


class _Pager:
    """Opaque, reusable page tokens over a snapshot taken when the first page was asked."""

    def __init__(self, capacity: int = PAGE_TOKENS_KEPT) -> None:
        self._states: OrderedDict[str, _PageState] = OrderedDict()
        self._capacity = capacity

    def page(
        self,
        key: str,
        token: str | None,
        size: int,
        make: Callable[[], tuple[list[Json], Json]],
    ) -> _Page:
        """This page of the snapshot (taken by ``make`` on the first page)."""
        if token:
            state = self._states.get(token)
            if state is None or state.key != key:
                raise bad_request("Invalid page token value.", "invalid")
            items, offset, tail = state.items, state.offset, state.tail
        else:
            items, tail = make()
            offset = 0
        chunk = items[offset : offset + size]
        if offset + size < len(items):
            next_token = "pt_" + secrets.token_urlsafe(18)
            self._states[next_token] = _PageState(key, items, offset + size, tail)
            while len(self._states) > self._capacity:
                self._states.popitem(last=False)
            return _Page(chunk, next_token, {}, len(items))
        return _Page(chunk, None, tail, len(items))


# ---------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------

_EVENT_ID_ALPHABET = "abcdefghijklmnopqrstuv0123456789"  # base32hex, what Google allows


def _new_event_id() -> str:
    return "".join(secrets.choice(_EVENT_ID_ALPHABET) for _ in range(26))


@dataclass
class _SyncState:
    calendar_id: str
    seq: int
    generation: int
    time_min: datetime | None
    time_max: datetime | None


class Calendar:
    """One calendar's events, with a change sequence for sync tokens.

    Stored events are never mutated in place (updates store a new dict), so page snapshots
    stay consistent.
    """

    def __init__(
        self,
        lock: threading.RLock,
        now: Callable[[], datetime],
        calendar_id: str,
        *,
        summary: str,
        time_zone: str,
        description: str = "",
        access_role: str = "owner",
    ) -> None:
        self._lock = lock
        self._now = now
        self.id = calendar_id
        self.summary = summary
        self.time_zone = time_zone
        self.description = description
        self.access_role = access_role
        self.events: dict[str, Json] = {}
        self._seq: dict[str, int] = {}
        self.change_seq = 0
        self.token_generation = 0

    @property
    def zone(self) -> tzinfo:
        return _zone(self.time_zone)

    # -- seeding and mutation ---------------------------------------------------------

    def add_event(
        self, event: Mapping[str, Any] | None = None, /, *, raw: bool = False, **fields: Any
    ) -> Json:
        """Store an event; returns a copy of what was stored.

        Missing ``id``, ``status``, ``kind``, ``htmlLink``, ``iCalUID``, ``created``,
        ``updated``, ``organizer``, ``eventType`` are filled in, unless ``raw=True`` (for
        malformed events: stored exactly as given, only an ``id`` is invented if absent).
        """
        merged = {**(event or {}), **fields}
        with self._lock:
            if raw:
                stored = dict(merged)
                stored.setdefault("id", _new_event_id())
            else:
                stored = self._complete(merged)
            if stored["id"] in self.events:
                raise ValueError(f"event {stored['id']!r} exists; use update_event")
            self._store(stored)
            return dict(stored)

    def update_event(
        self, event_id: str, changes: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> Json:
        """Change an event (a ``None`` value removes the key); it becomes 'changed'."""
        with self._lock:
            try:
                old = self.events[event_id]
            except KeyError:
                raise KeyError(f"no event {event_id!r} in calendar {self.id!r}") from None
            new = dict(old)
            for key, value in {**(changes or {}), **fields}.items():
                if value is None:
                    new.pop(key, None)
                elif key in ("start", "end", "originalStartTime"):
                    new[key] = _time_field(value, self.zone)
                else:
                    new[key] = value
            new["updated"] = rfc3339(self._now())
            new["sequence"] = int(old.get("sequence") or 0) + 1
            self._store(new)
            return dict(new)

    def delete_event(self, event_id: str) -> Json:
        """Delete as Google does: the event stays, with ``status: cancelled``."""
        return self.update_event(event_id, status="cancelled")

    def override_instance(
        self,
        master_id: str,
        original_start: datetime | date,
        changes: Mapping[str, Any] | None = None,
        /,
        **fields: Any,
    ) -> Json:
        """Store a modified occurrence of a recurring event (an exception)."""
        with self._lock:
            master = self.events[master_id]
            instance = self._find_instance(master, original_start)
            if instance is None:
                raise KeyError(f"{master_id!r} has no occurrence at {original_start!r}")
            if instance["id"] in self.events:
                return self.update_event(instance["id"], changes, **fields)
            for key, value in {**(changes or {}), **fields}.items():
                if key in ("start", "end"):
                    instance[key] = _time_field(value, self.zone)
                else:
                    instance[key] = value
            instance["updated"] = rfc3339(self._now())
            self._store(instance)
            return dict(instance)

    def cancel_instance(self, master_id: str, original_start: datetime | date) -> Json:
        """Delete one occurrence of a recurring event."""
        return self.override_instance(master_id, original_start, status="cancelled")

    def expire_sync_tokens(self) -> None:
        """Every sync token issued so far for this calendar now gets 410."""
        with self._lock:
            self.token_generation += 1

    def get(self, event_id: str) -> Json:
        with self._lock:
            found = self.find(event_id)
            if found is None:
                raise KeyError(event_id)
            return dict(found)

    def seed(
        self,
        count: int,
        *,
        start: datetime | None = None,
        step: timedelta = timedelta(hours=3),
        duration: timedelta = timedelta(hours=1),
        summary: str = "Event {i}",
        attendees: list[Json] | None = None,
        **extra: Any,
    ) -> list[str]:
        """Add ``count`` timed events quickly (for benchmarks); returns their ids."""
        first = start or self._now().replace(minute=0, second=0, microsecond=0)
        if first.tzinfo is None:
            first = first.replace(tzinfo=self.zone)
        ids: list[str] = []
        with self._lock:
            for i in range(count):
                begin = first + i * step
                event = {
                    "summary": summary.format(i=i),
                    "start": begin,
                    "end": begin + duration,
                    **extra,
                }
                if attendees is not None:
                    event["attendees"] = [dict(a) for a in attendees]
                ids.append(self.add_event(event)["id"])
        return ids

    def _complete(self, event: Mapping[str, Any]) -> Json:
        stamp = rfc3339(self._now())
        event_id = str(event.get("id") or _new_event_id())
        out: Json = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": stamp,
            "updated": stamp,
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "eventType": "default",
            "creator": {"email": self.id, "self": True},
            "organizer": {"email": self.id, "self": True},
            "reminders": {"useDefault": True},
        }
        for key, value in event.items():
            if key in ("start", "end", "originalStartTime"):
                out[key] = _time_field(value, self.zone)
            else:
                out[key] = value
        out["id"] = event_id
        return out

    def _store(self, event: Json) -> None:
        self.change_seq += 1
        event["etag"] = f'"{3_000_000_000_000_000 + self.change_seq}"'
        self.events[str(event["id"])] = event
        self._seq[str(event["id"])] = self.change_seq

    # -- reading ------------------------------------------------------------------------

    def find(self, event_id: str) -> Json | None:
        """A stored event, or a generated occurrence by its instance id."""
        if event_id in self.events:
            return self.events[event_id]
        master_id, sep, stamp = event_id.rpartition("_")
        master = self.events.get(master_id)
        if not sep or master is None or not master.get("recurrence"):
            return None
        try:
            if "T" in stamp:
                moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            else:
                moment = datetime.strptime(stamp, "%Y%m%d").replace(tzinfo=self.zone)
        except ValueError:
            return None
        return self._find_instance(master, moment)

    def _find_instance(self, master: Json, original: datetime | date) -> Json | None:
        if not isinstance(original, datetime):
            original = datetime(original.year, original.month, original.day, tzinfo=self.zone)
        elif original.tzinfo is None:
            original = original.replace(tzinfo=self.zone)
        window = timedelta(seconds=1)
        for instance in self._expand(master, original - window, original + window):
            start, _ = _event_time(instance.get("originalStartTime"), self.zone)
            if start == original:
                return instance
        return None

    def _expand(
        self,
        master: Json,
        time_min: datetime | None,
        time_max: datetime | None,
        limit: int = MAX_INSTANCES,
    ) -> list[Json]:
        start_value = master.get("start")
        start, all_day = _event_time(start_value, self.zone)
        if start is None or not isinstance(start_value, dict):
            return []
        end, _ = _event_time(master.get("end"), self.zone)
        duration = end - start if end is not None and end > start else timedelta(0)
        if all_day and duration <= timedelta(0):
            duration = timedelta(days=1)
        zone_name = start_value.get("timeZone")
        zone = self.zone if all_day else (_zone(zone_name) if zone_name else start.tzinfo)
        assert zone is not None
        local_start = start if all_day else start.astimezone(zone)
        try:
            rules = _rruleset(master.get("recurrence") or [], local_start, zone)
        except (ValueError, TypeError):
            return []
        lower = (time_min - duration) if time_min is not None else local_start
        upper = time_max if time_max is not None else lower + MAX_EXPANSION
        out: list[Json] = []
        for occurrence in rules.xafter(lower, count=limit, inc=time_min is None):
            if occurrence >= upper:
                break
            out.append(self._make_instance(master, occurrence, all_day, duration, zone_name))
        return out

    def _make_instance(
        self,
        master: Json,
        occurrence: datetime,
        all_day: bool,
        duration: timedelta,
        zone_name: str | None,
    ) -> Json:
        master_id = str(master["id"])
        instance = {k: v for k, v in master.items() if k not in ("recurrence", "etag")}
        if all_day:
            day = occurrence.date()
            instance_id = f"{master_id}_{day:%Y%m%d}"
            start: Json = {"date": day.isoformat()}
            end: Json = {"date": (day + timedelta(days=max(duration.days, 1))).isoformat()}
        else:
            instance_id = f"{master_id}_{occurrence.astimezone(UTC):%Y%m%dT%H%M%SZ}"
            start = {"dateTime": occurrence.isoformat()}
            end = {"dateTime": (occurrence + duration).isoformat()}
            if zone_name:
                start["timeZone"] = end["timeZone"] = zone_name
        instance.update(
            id=instance_id,
            recurringEventId=master_id,
            originalStartTime=dict(start),
            start=start,
            end=end,
            htmlLink=f"https://www.google.com/calendar/event?eid={instance_id}",
            etag=master.get("etag"),
        )
        return instance

    def _in_window(self, event: Json, time_min: datetime | None, time_max: datetime | None) -> bool:
        start, all_day = _event_time(event.get("start"), self.zone)
        if start is None:
            return True  # malformed events are listed, so clients see (and report) them
        end, _ = _event_time(event.get("end"), self.zone)
        if end is None or end < start:
            end = start
        if all_day and end == start:
            end = start + timedelta(days=1)
        if time_min is not None and end <= time_min:
            return False
        return not (time_max is not None and start >= time_max)

    def list_items(
        self,
        *,
        single_events: bool,
        show_deleted: bool,
        time_min: datetime | None,
        time_max: datetime | None,
        since_seq: int | None = None,
    ) -> list[Json]:
        """Events as events.list would show them; ``since_seq`` selects sync mode."""
        out: list[Json] = []
        syncing = since_seq is not None
        for event_id, event in self.events.items():
            if syncing and self._seq[event_id] <= (since_seq or 0):
                continue
            cancelled = event.get("status") == "cancelled"
            if event.get("recurrence"):
                if cancelled:
                    if syncing or show_deleted:
                        out.append(event)
                    continue
                if single_events:
                    out.extend(
                        instance
                        for instance in self._expand(event, time_min, time_max)
                        if instance["id"] not in self.events
                    )
                elif self._expand(event, time_min, time_max, limit=1):
                    out.append(event)
                continue
            if cancelled:
                if syncing or show_deleted:
                    out.append(event)
                continue
            # changes are reported whatever their time: a client must notice an event
            # that moved out of its window (only series expansion uses the window)
            if syncing or self._in_window(event, time_min, time_max):
                out.append(event)
        return out

    def sort_key(self, event: Json) -> tuple[datetime, str]:
        start, _ = _event_time(event.get("start"), self.zone)
        return (start or datetime.min.replace(tzinfo=UTC), str(event.get("id", "")))

    def seq_of(self, event: Json) -> int:
        return self._seq.get(
            str(event.get("id")), self._seq.get(str(event.get("recurringEventId")), 0)
        )


class CalendarStore:
    """All calendars, and each user's calendarList."""

    def __init__(self, fake: FakeGoogle) -> None:
        self._fake = fake
        self.calendars: dict[str, Calendar] = {}
        self.lists: dict[str, list[str]] = {}
        self._primary: dict[str, str] = {}
        self._sync_tokens: OrderedDict[str, _SyncState] = OrderedDict()

    def add_calendar(
        self,
        calendar_id: str,
        *,
        summary: str | None = None,
        time_zone: str = "UTC",
        user: str | None = None,
        primary: bool = False,
        description: str = "",
        access_role: str = "owner",
    ) -> Calendar:
        """Create a calendar and put it on ``user``'s calendarList (default user if None)."""
        owner = user or self._fake.default_user
        with self._fake.lock:
            if calendar_id in self.calendars:
                raise ValueError(f"calendar {calendar_id!r} exists")
            calendar = Calendar(
                self._fake.lock,
                self._fake.now,
                calendar_id,
                summary=summary or calendar_id,
                time_zone=time_zone,
                description=description,
                access_role=access_role,
            )
            self.calendars[calendar_id] = calendar
            self.lists.setdefault(owner, []).append(calendar_id)
            if primary:
                self._primary[owner] = calendar_id
            return calendar

    def primary(self, user: str | None = None) -> Calendar:
        """The user's primary calendar (id = the user's address), created on first use."""
        owner = user or self._fake.default_user
        with self._fake.lock:
            calendar_id = self._primary.get(owner)
            if calendar_id is None:
                return self.add_calendar(owner, summary=owner, user=owner, primary=True)
            return self.calendars[calendar_id]

    def get(self, calendar_id: str, user: str | None = None) -> Calendar:
        if calendar_id == "primary":
            return self.primary(user)
        if calendar_id == (user or self._fake.default_user) and calendar_id not in self.calendars:
            return self.primary(user)
        try:
            return self.calendars[calendar_id]
        except KeyError:
            raise not_found() from None

    def entries(self, user: str) -> list[Json]:
        self.primary(user)
        out = []
        for calendar_id in self.lists.get(user, []):
            calendar = self.calendars[calendar_id]
            entry: Json = {
                "kind": "calendar#calendarListEntry",
                "etag": f'"{1_600_000_000_000_000 + len(calendar_id)}"',
                "id": calendar.id,
                "summary": calendar.summary,
                "description": calendar.description,
                "timeZone": calendar.time_zone,
                "accessRole": calendar.access_role,
                "selected": True,
                "colorId": "14",
                "backgroundColor": "#9fe1e7",
                "foregroundColor": "#000000",
                "defaultReminders": [],
                "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
            }
            if self._primary.get(user) == calendar_id:
                entry["primary"] = True
            out.append(entry)
        return out

    def new_sync_token(self, state: _SyncState) -> str:
        token = "CP" + base64.b64encode(secrets.token_bytes(15)).decode("ascii") + "GAU="
        self._sync_tokens[token] = state
        while len(self._sync_tokens) > PAGE_TOKENS_KEPT * 4:
            self._sync_tokens.popitem(last=False)
        return token

    def sync_state(self, token: str, calendar: Calendar) -> _SyncState:
        state = self._sync_tokens.get(token)
        if (
            state is None
            or state.calendar_id != calendar.id
            or state.generation != calendar.token_generation
        ):
            raise sync_token_gone()
        return state

    def expire_sync_tokens(self) -> None:
        """Every sync token of every calendar now gets 410."""
        with self._fake.lock:
            for calendar in self.calendars.values():
                calendar.expire_sync_tokens()


# ---------------------------------------------------------------------------------------
# Gmail
# ---------------------------------------------------------------------------------------

SYSTEM_LABELS = (
    "INBOX",
    "SENT",
    "DRAFT",
    "SPAM",
    "TRASH",
    "UNREAD",
    "STARRED",
    "IMPORTANT",
    "CHAT",
    "CATEGORY_PERSONAL",
    "CATEGORY_SOCIAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
)

_HISTORY_TYPES = {
    "messageAdded": "messagesAdded",
    "messageDeleted": "messagesDeleted",
    "labelAdded": "labelsAdded",
    "labelRemoved": "labelsRemoved",
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _b64url_decode(text: str) -> bytes:
    text = text.strip().replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _header_text(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def make_raw_message(
    *,
    subject: str = "Hello",
    sender: str = "alice@example.com",
    to: str | Iterable[str] = "me@example.com",
    body: str = "Hello there.",
    when: datetime | None = None,
    message_id: str | None = None,
    cc: str | Iterable[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """A small RFC 822 text/plain message (UTF-8, 8bit), built without the email package."""

    def addresses(value: str | Iterable[str]) -> str:
        return value if isinstance(value, str) else ", ".join(value)

    when = when or datetime.now(UTC)
    try:
        subject.encode("ascii")
        subject_line = subject
    except UnicodeEncodeError:
        subject_line = Header(subject, "utf-8").encode()
    lines = [
        f"From: {sender}",
        f"To: {addresses(to)}",
        *([f"Cc: {addresses(cc)}"] if cc else []),
        f"Subject: {subject_line}",
        f"Date: {email.utils.format_datetime(when)}",
        f"Message-ID: {message_id or '<' + secrets.token_hex(8) + '@fake.example>'}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode("utf-8")


@dataclass(eq=False)
class GmailMessage:
    """One stored message; ``raw`` is the RFC 822 bytes."""

    id: str
    thread_id: str
    label_ids: list[str]
    raw: bytes
    internal_date: int  # milliseconds since the epoch
    history_id: int
    snippet: str
    _headers: dict[str, list[str]] | None = field(default=None, repr=False)
    _mime: MimeMessage | None = field(default=None, repr=False)

    @property
    def size_estimate(self) -> int:
        return len(self.raw)

    def headers(self) -> dict[str, list[str]]:
        """Decoded header values by lower-case name."""
        if self._headers is None:
            parsed = BytesParser(policy=email_policy.compat32).parsebytes(
                self.raw, headersonly=True
            )
            found: dict[str, list[str]] = {}
            for name, value in parsed.items():
                found.setdefault(name.lower(), []).append(_header_text(str(value)))
            self._headers = found
        return self._headers

    def mime(self) -> MimeMessage:
        if self._mime is None:
            self._mime = BytesParser(policy=email_policy.compat32).parsebytes(self.raw)
        return self._mime

    def ref(self) -> Json:
        return {"id": self.id, "threadId": self.thread_id}

    def has_attachment(self) -> bool:
        return any(part.get_filename() for part in self.mime().walk())

    def resource(self, fmt: str, metadata_headers: list[str] | None = None) -> Json:
        out: Json = {
            "id": self.id,
            "threadId": self.thread_id,
            "labelIds": list(self.label_ids),
            "snippet": self.snippet,
            "sizeEstimate": self.size_estimate,
            "historyId": str(self.history_id),
            "internalDate": str(self.internal_date),
        }
        if fmt == "raw":
            out["raw"] = _b64url(self.raw)
        elif fmt == "metadata":
            wanted = {h.lower() for h in metadata_headers or []}
            out["payload"] = _payload(self.mime(), "", full=False, wanted=wanted or None)
        elif fmt == "full":
            out["payload"] = _payload(self.mime(), "", full=True, wanted=None)
        return out


def _payload(part: MimeMessage, part_id: str, *, full: bool, wanted: set[str] | None) -> Json:
    headers = [
        {"name": name, "value": str(value)}
        for name, value in part.items()
        if wanted is None or name.lower() in wanted
    ]
    out: Json = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": headers,
    }
    if part.is_multipart():
        out["body"] = {"size": 0}
        if full:
            children = part.get_payload()
            assert isinstance(children, list)
            out["parts"] = [
                _payload(child, f"{part_id}.{i}" if part_id else str(i), full=True, wanted=None)
                for i, child in enumerate(children)
            ]
        return out
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError):
        data = b""
    if not isinstance(data, bytes):
        data = b""
    body: Json = {"size": len(data)}
    if full:
        if out["filename"]:
            digest = secrets.token_urlsafe(24)
            body["attachmentId"] = "ANGjdJ" + digest
        else:
            body["data"] = _b64url(data)
    out["body"] = body
    return out


def _snippet_of(raw: bytes) -> str:
    try:
        message = BytesParser(policy=email_policy.compat32).parsebytes(raw)
        for part in message.walk():
            if part.get_content_type() == "text/plain" and not part.get_filename():
                data = part.get_payload(decode=True)
                if isinstance(data, bytes):
                    charset = part.get_content_charset() or "utf-8"
                    text = data.decode(charset, errors="replace")
                    return " ".join(text.split())[:200]
    except (ValueError, LookupError, TypeError):
        return ""
    return ""


class Mailbox:
    """One user's Gmail: messages, labels, a history log and what was sent."""

    def __init__(
        self,
        lock: threading.RLock,
        now: Callable[[], datetime],
        address: str,
        ids: Iterator[int],
        *,
        history_limit: int = HISTORY_LIMIT,
    ) -> None:
        self._lock = lock
        self._now = now
        self._ids = ids
        self.address = address
        self.messages: dict[str, GmailMessage] = {}
        self.history: deque[Json] = deque()
        self.history_id = 1000 + secrets.randbelow(1000)
        self.history_floor = self.history_id
        self.history_limit = history_limit
        self.labels: dict[str, Json] = {
            name: {"id": name, "name": name, "type": "system"} for name in SYSTEM_LABELS
        }
        self.sent: list[bytes] = []

    # -- seeding and mutation ---------------------------------------------------------

    def _new_id(self) -> str:
        return f"{next(self._ids):016x}"

    def add_message(
        self,
        raw: bytes | str | MimeMessage | None = None,
        *,
        label_ids: Iterable[str] = ("INBOX", "UNREAD"),
        thread_id: str | None = None,
        internal_date: datetime | int | None = None,
        snippet: str | None = None,
        record_history: bool = True,
        **compose: Any,
    ) -> GmailMessage:
        """Store a message. Give ``raw`` (bytes/str/email Message) or ``make_raw_message``
        keywords (``subject``, ``sender``, ``to``, ``body``, ``when``...)."""
        if raw is None:
            if "when" not in compose and isinstance(internal_date, datetime):
                compose["when"] = internal_date
            data = make_raw_message(**compose)
        elif isinstance(raw, MimeMessage):
            data = raw.as_bytes()
        elif isinstance(raw, str):
            data = raw.encode("utf-8")
        else:
            data = bytes(raw)
        if internal_date is None:
            internal_date = self._date_of(data)
        if isinstance(internal_date, datetime):
            if internal_date.tzinfo is None:
                internal_date = internal_date.replace(tzinfo=UTC)
            millis = int(internal_date.timestamp() * 1000)
        else:
            millis = int(internal_date)
        with self._lock:
            message_id = self._new_id()
            message = GmailMessage(
                id=message_id,
                thread_id=thread_id or message_id,
                label_ids=list(dict.fromkeys(label_ids)),
                raw=data,
                internal_date=millis,
                history_id=self.history_id,
                snippet=_snippet_of(data) if snippet is None else snippet,
            )
            self.messages[message_id] = message
            if record_history:
                self._record("messagesAdded", message)
            return message

    def _date_of(self, data: bytes) -> datetime:
        match = re.search(rb"^Date:[ \t]*(.+?)\r?$", data[:16384], re.MULTILINE | re.IGNORECASE)
        if match:
            try:
                moment = email.utils.parsedate_to_datetime(match.group(1).decode("latin-1"))
                return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            except (TypeError, ValueError, IndexError):
                pass
        return self._now()

    def delete_message(self, message_id: str) -> None:
        """Delete permanently (history: messagesDeleted)."""
        with self._lock:
            message = self.messages.pop(message_id)
            self._record("messagesDeleted", message)

    def modify_labels(
        self, message_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> GmailMessage:
        """Add/remove labels (history: labelsAdded / labelsRemoved)."""
        with self._lock:
            message = self.messages[message_id]
            added = [label for label in add if label not in message.label_ids]
            removed = [label for label in remove if label in message.label_ids]
            if added:
                message.label_ids.extend(added)
                self._record("labelsAdded", message, added)
            if removed:
                message.label_ids = [x for x in message.label_ids if x not in removed]
                self._record("labelsRemoved", message, removed)
            return message

    def add_label(self, name: str) -> str:
        """A user label; returns its id (``Label_N``)."""
        with self._lock:
            label_id = f"Label_{len(self.labels) - len(SYSTEM_LABELS) + 1}"
            self.labels[label_id] = {
                "id": label_id,
                "name": name,
                "type": "user",
                "messageListVisibility": "show",
                "labelListVisibility": "labelShow",
            }
            return label_id

    def trim_history(self, before: int | None = None) -> None:
        """Forget history up to ``before`` (default: all of it, keeping the current id).

        A later history.list with ``startHistoryId`` below the new floor gets 404.
        """
        with self._lock:
            floor = self.history_id if before is None else int(before)
            self.history_floor = max(self.history_floor, floor)
            while self.history and int(self.history[0]["id"]) <= self.history_floor:
                self.history.popleft()

    def seed(
        self,
        count: int,
        *,
        start: datetime | None = None,
        step: timedelta = timedelta(minutes=-7),
        chats_every: int = 0,
        promotions_every: int = 0,
        body: str = "Message number {i}. Let's catch up about the Q3 proposal soon.",
        sender: str = "friend{i}@example.org",
        subject: str = "Note {i}",
    ) -> list[str]:
        """Add ``count`` small messages fast (newest first by default); returns ids.

        Every ``chats_every``-th message is a chat (label CHAT, not INBOX), every
        ``promotions_every``-th a promotion. Seeding does not write history.
        """
        first = start or self._now()
        ids: list[str] = []
        with self._lock:
            self.history_id += 1
            for i in range(count):
                when = first + i * step
                labels = ["INBOX", "UNREAD"]
                if chats_every and i % chats_every == chats_every - 1:
                    labels = ["CHAT"]
                elif promotions_every and i % promotions_every == promotions_every - 1:
                    labels = ["INBOX", "CATEGORY_PROMOTIONS"]
                text = body.format(i=i)
                raw = make_raw_message(
                    subject=subject.format(i=i),
                    sender=sender.format(i=i),
                    to=self.address,
                    body=text,
                    when=when,
                    message_id=f"<seed-{i}-{secrets.token_hex(4)}@fake.example>",
                )
                message = self.add_message(
                    raw,
                    label_ids=labels,
                    internal_date=when,
                    snippet=text[:200],
                    record_history=False,
                )
                ids.append(message.id)
            self.history_floor = self.history_id
        return ids

    def _record(self, kind: str, message: GmailMessage, labels: list[str] | None = None) -> None:
        self.history_id += 1
        message.history_id = self.history_id
        entry: Json = {"message": {**message.ref(), "labelIds": list(message.label_ids)}}
        if labels is not None:
            entry["labelIds"] = list(labels)
        self.history.append({"id": self.history_id, "messages": [message.ref()], kind: [entry]})
        while len(self.history) > self.history_limit:
            dropped = self.history.popleft()
            self.history_floor = max(self.history_floor, int(dropped["id"]))

    # -- reading ------------------------------------------------------------------------

    def profile(self) -> Json:
        return {
            "emailAddress": self.address,
            "messagesTotal": len(self.messages),
            "threadsTotal": len({m.thread_id for m in self.messages.values()}),
            "historyId": str(self.history_id),
        }

    def label_id(self, name_or_id: str) -> str | None:
        if name_or_id in self.labels:
            return name_or_id
        wanted = name_or_id.casefold().replace("-", " ")
        for label_id, label in self.labels.items():
            name = str(label["name"]).casefold()
            if wanted in (name, name.replace("-", " "), label_id.casefold()):
                return label_id
        return None


class GmailStore:
    """Mailboxes by address; ``mailbox()`` is the default user's."""

    def __init__(self, fake: FakeGoogle) -> None:
        self._fake = fake
        self.mailboxes: dict[str, Mailbox] = {}
        self._ids = itertools.count(0x18F0_0000_0000_0000 + secrets.randbelow(1 << 40))

    def mailbox(self, address: str | None = None) -> Mailbox:
        owner = address or self._fake.default_user
        with self._fake.lock:
            box = self.mailboxes.get(owner)
            if box is None:
                box = Mailbox(self._fake.lock, self._fake.now, owner, self._ids)
                self.mailboxes[owner] = box
            return box


# -- the q parameter --------------------------------------------------------------------

_DURATION_UNITS = {"d": 1, "m": 30, "y": 365}
_IN_LABELS = {
    "inbox": "INBOX",
    "sent": "SENT",
    "spam": "SPAM",
    "trash": "TRASH",
    "drafts": "DRAFT",
    "draft": "DRAFT",
    "chats": "CHAT",
    "chat": "CHAT",
    "starred": "STARRED",
    "important": "IMPORTANT",
    "unread": "UNREAD",
}
_IS_LABELS = {"unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT", "chat": "CHAT"}
_CATEGORIES = {
    "primary": "CATEGORY_PERSONAL",
    "personal": "CATEGORY_PERSONAL",
    "social": "CATEGORY_SOCIAL",
    "promotions": "CATEGORY_PROMOTIONS",
    "updates": "CATEGORY_UPDATES",
    "forums": "CATEGORY_FORUMS",
}
_HEADER_OPERATORS = {
    "from": ("from",),
    "to": ("to", "cc", "bcc"),
    "cc": ("cc",),
    "bcc": ("bcc",),
    "subject": ("subject",),
    "rfc822msgid": ("message-id",),
    "deliveredto": ("delivered-to",),
}
_QUERY_TOKEN = re.compile(r'-?[A-Za-z_]+:"[^"]*"|-?"[^"]*"|\S+')

Predicate = Callable[[GmailMessage], bool]


@dataclass
class GmailQuery:
    predicates: list[Predicate]
    includes_spam_trash: bool

    def matches(self, message: GmailMessage) -> bool:
        return all(predicate(message) for predicate in self.predicates)


def _unsupported(term: str) -> ApiError:
    return bad_request(f"Invalid query: the fake Google server does not support {term!r}")


def parse_gmail_query(q: str, now: datetime, mailbox: Mailbox) -> GmailQuery:
    """Compile a Gmail search string (see the module docstring for what is supported)."""
    predicates: list[Predicate] = []
    includes_spam_trash = False
    for token in _QUERY_TOKEN.findall(q or ""):
        negate = token.startswith("-") and len(token) > 1
        term = token[1:] if negate else token
        if term in ("OR", "AROUND", "|") or term[0] in "({)}" or term[-1] in ")}":
            raise _unsupported(term)
        if term == "AND":
            continue
        operator, colon, value = term.partition(":")
        if colon and re.fullmatch(r"[A-Za-z_]+", operator) and not term.startswith('"'):
            operator = operator.lower()
            value = value.strip('"')
            predicate = _operator_predicate(operator, value, now, mailbox)
            if (
                operator in ("in", "label")
                and not negate
                and value.lower()
                in (
                    "spam",
                    "trash",
                    "anywhere",
                )
            ):
                includes_spam_trash = True
        else:
            words = term.strip('"').casefold()
            predicate = _text_predicate(words)
        predicates.append(_negated(predicate) if negate else predicate)
    return GmailQuery(predicates, includes_spam_trash)


def _negated(predicate: Predicate) -> Predicate:
    return lambda message: not predicate(message)


def _has_label(label: str | None) -> Predicate:
    return lambda message: label is not None and label in message.label_ids


def _text_predicate(words: str) -> Predicate:
    def match(message: GmailMessage) -> bool:
        headers = message.headers()
        haystack = " ".join(
            [
                message.snippet,
                *headers.get("subject", []),
                *headers.get("from", []),
                *headers.get("to", []),
            ]
        ).casefold()
        return words in haystack

    return match


def _operator_predicate(operator: str, value: str, now: datetime, mailbox: Mailbox) -> Predicate:
    lowered = value.lower()
    if operator in ("newer_than", "older_than"):
        match = re.fullmatch(r"(\d+)([dmy])", lowered)
        if not match:
            raise _unsupported(f"{operator}:{value}")
        cutoff = now - timedelta(days=int(match.group(1)) * _DURATION_UNITS[match.group(2)])
        millis = int(cutoff.timestamp() * 1000)
        if operator == "newer_than":
            return lambda message: message.internal_date > millis
        return lambda message: message.internal_date < millis
    if operator in ("after", "before"):
        if lowered.isdigit():
            millis = int(lowered) * 1000
        else:
            match = re.fullmatch(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", lowered)
            if not match:
                raise _unsupported(f"{operator}:{value}")
            year, month, day_of_month = (int(x) for x in match.groups())
            try:
                day = datetime(year, month, day_of_month, tzinfo=UTC)
            except ValueError:
                raise _unsupported(f"{operator}:{value}") from None
            millis = int(day.timestamp() * 1000)
        if operator == "after":
            return lambda message: message.internal_date >= millis
        return lambda message: message.internal_date < millis
    if operator == "in":
        if lowered == "anywhere":
            return lambda message: True
        if lowered in _IN_LABELS:
            return _has_label(_IN_LABELS[lowered])
        return _has_label(mailbox.label_id(value))
    if operator == "is":
        if lowered == "read":
            return _negated(_has_label("UNREAD"))
        if lowered in _IS_LABELS:
            return _has_label(_IS_LABELS[lowered])
        raise _unsupported(f"is:{value}")
    if operator == "label":
        return _has_label(mailbox.label_id(value))
    if operator == "category":
        if lowered in _CATEGORIES:
            return _has_label(_CATEGORIES[lowered])
        raise _unsupported(f"category:{value}")
    if operator in _HEADER_OPERATORS:
        names = _HEADER_OPERATORS[operator]
        needle = value.casefold()

        def header_match(message: GmailMessage) -> bool:
            headers = message.headers()
            return any(
                needle in text.casefold() for name in names for text in headers.get(name, [])
            )

        return header_match
    if operator in ("larger", "smaller"):
        match = re.fullmatch(r"(\d+)([km]?)", lowered)
        if not match:
            raise _unsupported(f"{operator}:{value}")
        size = int(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2)]
        if operator == "larger":
            return lambda message: message.size_estimate > size
        return lambda message: message.size_estimate < size
    if operator == "has" and lowered == "attachment":
        return lambda message: message.has_attachment()
    raise _unsupported(f"{operator}:")


# ---------------------------------------------------------------------------------------
# OAuth
# ---------------------------------------------------------------------------------------


@dataclass
class AccessToken:
    token: str
    user: str
    expires_at: float  # time.monotonic()
    scope: str


class OAuthStore:
    """Access and refresh tokens the token endpoint issued, and the revoked ones."""

    def __init__(self, fake: FakeGoogle) -> None:
        self._fake = fake
        self.require_auth = False
        self.expires_in = 3599
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.revoked_access: set[str] = set()
        self.revoked_refresh: set[str] = set()
        self.denied_subjects: set[str] = set()
        self.codes: dict[str, str] = {}
        self.code_scopes: dict[str, str] = {}
        self.grants: deque[Json] = deque(maxlen=1000)  # what the token endpoint received

    def issue_refresh_token(self, user: str | None = None) -> str:
        token = "1//fake-" + secrets.token_urlsafe(18)
        with self._fake.lock:
            self.refresh_tokens[token] = user or self._fake.default_user
        return token

    def issue_access_token(
        self, user: str | None = None, *, expires_in: int | None = None, scope: str = ""
    ) -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        lifetime = self.expires_in if expires_in is None else expires_in
        with self._fake.lock:
            self.access_tokens[token] = AccessToken(
                token, user or self._fake.default_user, time.monotonic() + lifetime, scope
            )
        return token

    def revoke_access_token(self, token: str) -> None:
        with self._fake.lock:
            self.revoked_access.add(token)

    def revoke_all_access_tokens(self) -> None:
        """Every access token issued so far now gets 401 (as if all had expired)."""
        with self._fake.lock:
            self.revoked_access.update(self.access_tokens)

    def revoke_refresh_token(self, token: str) -> None:
        with self._fake.lock:
            self.revoked_refresh.add(token)

    def deny_subject(self, subject: str) -> None:
        """Service-account grants for this subject fail with ``unauthorized_client``."""
        with self._fake.lock:
            self.denied_subjects.add(subject)

    def authenticate(self, authorization: str | None) -> str | None:
        """The user a bearer token stands for (None: not known, use the default user)."""
        if not authorization:
            if self.require_auth:
                raise unauthenticated(missing=True)
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated()
        token = token.strip()
        if token in self.revoked_access:
            raise unauthenticated()
        info = self.access_tokens.get(token)
        if info is None:
            if self.require_auth:
                raise unauthenticated()
            return None
        if info.expires_at < time.monotonic():
            raise unauthenticated()
        return info.user

    def token_endpoint(self, form: Mapping[str, list[str]]) -> tuple[int, Json]:
        def first(name: str) -> str:
            values = form.get(name) or [""]
            return values[-1]

        grant_type = first("grant_type")
        self.grants.append({key: values[-1] for key, values in form.items()})
        if grant_type == "refresh_token":
            refresh = first("refresh_token")
            if not refresh:
                return 400, {
                    "error": "invalid_request",
                    "error_description": "Missing required parameter: refresh_token",
                }
            known = refresh in self.refresh_tokens
            if refresh in self.revoked_refresh or (self.require_auth and not known):
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            user = self.refresh_tokens.get(refresh, self._fake.default_user)
            return 200, self._grant(user, first("scope"))
        if grant_type == "authorization_code":
            code = first("code")
            user_or_none = self.codes.pop(code, None)
            consented = self.code_scopes.pop(code, "")
            if user_or_none is None:
                return 400, {"error": "invalid_grant", "error_description": "Malformed auth code."}
            # Google grants what the user consented to on the consent page
            payload = self._grant(user_or_none, first("scope") or consented)
            payload["refresh_token"] = self.issue_refresh_token(user_or_none)
            return 200, payload
        if grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                segment = first("assertion").split(".")[1]
                claims = json.loads(_b64url_decode(segment))
            except (IndexError, ValueError):
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT."}
            subject = str(claims.get("sub") or claims.get("iss") or self._fake.default_user)
            if subject in self.denied_subjects:
                return 401, {
                    "error": "unauthorized_client",
                    "error_description": "Client is unauthorized to retrieve access tokens "
                    "using this method, or client not authorized for any of the scopes "
                    "requested.",
                }
            return 200, self._grant(subject, str(claims.get("scope") or ""))
        return 400, {
            "error": "unsupported_grant_type",
            "error_description": f"Invalid grant_type: {grant_type}",
        }

    def _grant(self, user: str, scope: str) -> Json:
        token = self.issue_access_token(user, scope=scope)
        return {
            "access_token": token,
            "expires_in": self.expires_in,
            "scope": scope or "https://www.googleapis.com/auth/gmail.readonly",
            "token_type": "Bearer",
        }

    def authorize(self, params: Mapping[str, list[str]]) -> str:
        """Location to redirect an installed-app consent to (loopback redirect_uri only)."""
        redirect = (params.get("redirect_uri") or [""])[-1]
        split = urlsplit(redirect)
        if split.scheme != "http" or split.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise bad_request("redirect_uri must be a loopback http address")
        user = (params.get("login_hint") or [self._fake.default_user])[-1]
        code = "4/fake-" + secrets.token_urlsafe(18)
        self.codes[code] = user
        self.code_scopes[code] = (params.get("scope") or [""])[-1]
        query = {"code": code, "scope": self.code_scopes[code]}
        if params.get("state"):
            query["state"] = params["state"][-1]
        return redirect + ("&" if "?" in redirect else "?") + urlencode(query)


# ---------------------------------------------------------------------------------------
# Switches and counters
# ---------------------------------------------------------------------------------------


@dataclass
class Fault:
    """One injected failure; ``times=None`` repeats until ``Switchboard.clear()``."""

    endpoint: str
    status: int
    reason: str
    message: str
    domain: str
    times: int | None
    where: str
    retry_after: float | None = None
    drop: bool = False
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, endpoint: str, where: str) -> bool:
        if self.exhausted or self.where not in ("any", where):
            return False
        for special in ("batch", "oauth"):
            if endpoint.startswith(special) and not self.endpoint.startswith(special):
                return False
        return fnmatch.fnmatchcase(endpoint, self.endpoint)

    def error(self) -> ApiError:
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(0, round(self.retry_after)))
        if self.status == 410 and self.reason == "fullSyncRequired":
            err = sync_token_gone()
            err.headers.update(headers)
            return err
        if self.status == 401:
            err = unauthenticated()
            err.headers.update(headers)
            return err
        return ApiError(self.status, self.message, self.reason, domain=self.domain, headers=headers)


class Switchboard:
    """Fault injection: what to break, where, how often; and how slow to be."""

    _WHERE = ("any", "direct", "part")

    def __init__(self, fake: FakeGoogle) -> None:
        self._fake = fake
        self._lock = fake.lock
        self.faults: list[Fault] = []
        self.latency = 0.0
        self.batch_limit = 100
        self.batch_concurrency: int | None = None

    def fail(
        self,
        endpoint: str,
        status: int,
        *,
        times: int | None = 1,
        reason: str | None = None,
        message: str | None = None,
        domain: str | None = None,
        retry_after: float | None = None,
        where: str = "any",
    ) -> Fault:
        """Answer the next ``times`` matching calls with ``status`` in Google's error shape."""
        if where not in self._WHERE:
            raise ValueError(f"where must be one of {self._WHERE}")
        default_reason, default_message, default_domain = _FAULT_DEFAULTS.get(
            status, ("backendError", HTTPStatus(status).phrase, "global")
        )
        reason = reason or default_reason
        reason_message, reason_domain = _REASON_DEFAULTS.get(reason, (None, None))
        fault = Fault(
            endpoint=endpoint,
            status=status,
            reason=reason,
            message=message or reason_message or default_message,
            domain=domain or reason_domain or default_domain,
            times=times,
            where=where,
            retry_after=retry_after,
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def too_many_requests(
        self,
        endpoint: str = "*",
        *,
        times: int | None = 1,
        retry_after: float = 1,
        where: str = "any",
    ) -> Fault:
        """429 ``rateLimitExceeded`` with a ``Retry-After`` header."""
        return self.fail(endpoint, 429, times=times, retry_after=retry_after, where=where)

    def rate_limit(
        self,
        endpoint: str = "*",
        *,
        times: int | None = 1,
        per_user: bool = False,
        where: str = "any",
    ) -> Fault:
        """403 ``rateLimitExceeded`` (or ``userRateLimitExceeded`` with ``per_user``)."""
        reason = "userRateLimitExceeded" if per_user else "rateLimitExceeded"
        return self.fail(endpoint, 403, times=times, reason=reason, where=where)

    def server_error(
        self, endpoint: str = "*", *, times: int | None = 1, status: int = 503, where: str = "any"
    ) -> Fault:
        """500/502/503/504 ``backendError``."""
        return self.fail(endpoint, status, times=times, where=where)

    def disable_api(self, api: str) -> Fault:
        """Every call to ``api`` (``gmail`` or ``calendar``) gets 403 accessNotConfigured."""
        name = {"gmail": "Gmail API", "calendar": "Google Calendar API"}.get(api, api)
        return self.fail(
            f"{api}.*",
            403,
            times=None,
            reason="accessNotConfigured",
            message=f"{name} has not been used in project 000000000000 before or it is "
            "disabled. Enable it by visiting the API console, then retry.",
        )

    def drop_connections(self, endpoint: str = "*", *, times: int | None = 1) -> Fault:
        """Close the socket without answering the next ``times`` matching HTTP requests."""
        fault = Fault(endpoint, 0, "dropped", "", "", times, "direct", drop=True)
        with self._lock:
            self.faults.append(fault)
        return fault

    def set_latency(self, seconds: float) -> None:
        """Wait this long before answering each HTTP request (a batch waits once)."""
        if not 0 <= seconds <= 30:
            raise ValueError("latency must be between 0 and 30 seconds")
        with self._lock:
            self.latency = float(seconds)

    def revoke_access_token(self, token: str) -> None:
        """Requests bearing this access token get 401 (the client then refreshes)."""
        self._fake.oauth.revoke_access_token(token)

    def revoke_all_access_tokens(self) -> None:
        """Every access token issued so far gets 401, as if all had expired."""
        self._fake.oauth.revoke_all_access_tokens()

    def revoke_refresh_token(self, token: str) -> None:
        """Refreshing with this token gets 400 ``invalid_grant``."""
        self._fake.oauth.revoke_refresh_token(token)

    def expire_sync_tokens(self, calendar_id: str | None = None) -> None:
        """Sync tokens issued so far (for one calendar, or all) get 410 fullSyncRequired."""
        if calendar_id is None:
            self._fake.calendar.expire_sync_tokens()
        else:
            self._fake.calendar.get(calendar_id).expire_sync_tokens()

    def expire_history(self, user: str | None = None) -> None:
        """history.list from any earlier startHistoryId gets 404 (the current id still works)."""
        self._fake.gmail.mailbox(user).trim_history()

    def clear(self) -> None:
        """No faults, no latency, default batch limits."""
        with self._lock:
            self.faults.clear()
            self.latency = 0.0
            self.batch_limit = 100
            self.batch_concurrency = None

    def take(self, endpoint: str, where: str, *, drop: bool = False) -> Fault | None:
        """The first live fault for this call, used up by one (caller holds the lock)."""
        for fault in self.faults:
            if fault.drop == drop and fault.matches(endpoint, where):
                fault.hits += 1
                return fault
        return None


@dataclass
class Counters:
    """What the fake served; read after a run, ``reset()`` between phases."""

    http_requests: int = 0
    http_by_endpoint: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    batch_requests: int = 0
    batch_parts: int = 0
    gmail_quota_units: int = 0
    gmail_quota_by_user: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    faults_injected: int = 0

    @property
    def api_http_requests(self) -> int:
        """HTTP requests to the APIs and batch endpoints (the OAuth endpoints left out)."""
        oauth = sum(n for name, n in self.http_by_endpoint.items() if name.startswith("oauth."))
        return self.http_requests - oauth

    def snapshot(self) -> Json:
        return {
            "http_requests": self.http_requests,
            "api_http_requests": self.api_http_requests,
            "http_by_endpoint": dict(self.http_by_endpoint),
            "calls": dict(self.calls),
            "statuses": dict(self.statuses),
            "batch_requests": self.batch_requests,
            "batch_parts": self.batch_parts,
            "gmail_quota_units": self.gmail_quota_units,
            "gmail_quota_by_user": dict(self.gmail_quota_by_user),
            "dropped": self.dropped,
            "faults_injected": self.faults_injected,
        }

    def reset(self) -> None:
        self.http_requests = self.batch_requests = self.batch_parts = 0
        self.gmail_quota_units = self.dropped = self.faults_injected = 0
        for counter in (
            self.http_by_endpoint,
            self.calls,
            self.statuses,
            self.gmail_quota_by_user,
        ):
            counter.clear()


@dataclass(frozen=True)
class RequestRecord:
    endpoint: str
    method: str
    path: str
    params: dict[str, list[str]]
    status: int
    in_batch: bool
    user: str | None

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else None


# ---------------------------------------------------------------------------------------
# Routing and calls
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str
    handler: str


def _route(method: str, pattern: str, endpoint: str, handler: str) -> _Route:
    return _Route(method, re.compile(pattern), endpoint, handler)


_USER = r"gmail/v1/users/(?P<userId>[^/]+)"
_CAL = r"calendar/v3/calendars/(?P<calendarId>[^/]+)"
_ROUTES = (
    _route(
        "GET", r"calendar/v3/users/me/calendarList", "calendar.calendarList.list", "_calendar_list"
    ),
    _route(
        "GET",
        r"calendar/v3/users/me/calendarList/(?P<calendarId>[^/]+)",
        "calendar.calendarList.get",
        "_calendar_list_get",
    ),
    _route("GET", _CAL, "calendar.calendars.get", "_calendars_get"),
    _route("GET", _CAL + "/events", "calendar.events.list", "_events_list"),
    _route("GET", _CAL + r"/events/(?P<eventId>[^/]+)", "calendar.events.get", "_events_get"),
    _route("GET", _USER + "/profile", "gmail.users.getProfile", "_gmail_profile"),
    _route("GET", _USER + "/labels", "gmail.users.labels.list", "_gmail_labels"),
    _route("GET", _USER + "/messages", "gmail.users.messages.list", "_gmail_list"),
    _route("POST", _USER + "/messages/send", "gmail.users.messages.send", "_gmail_send"),
    _route("GET", _USER + r"/messages/(?P<id>[^/]+)", "gmail.users.messages.get", "_gmail_get"),
    _route("GET", _USER + "/history", "gmail.users.history.list", "_gmail_history"),
    _route("POST", r"batch(?:/[A-Za-z0-9_.-]+)*", "batch", ""),
    _route("POST", r"token", "oauth.token", ""),
    _route("GET", r"o/oauth2/(?:v2/)?auth", "oauth.authorize", ""),
)


def _match(method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
    for route in _ROUTES:
        if route.method != method:
            continue
        found = route.pattern.fullmatch(path)
        if found:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


@dataclass
class _Call:
    endpoint: str
    args: dict[str, str]
    params: dict[str, list[str]]
    body: bytes
    user: str | None

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else None

    def values(self, name: str) -> list[str]:
        return [v for item in self.params.get(name, []) for v in item.split(",") if v]

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.param(name)
        if value is None or value == "":
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise bad_request(f"Invalid boolean value for {name}: {value!r}")

    def int_param(self, name: str, default: int, maximum: int) -> int:
        value = self.param(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise bad_request(f"Invalid value for {name}: {value!r}") from None
        if number < 1:
            raise bad_request(f"Invalid value for {name}: {value!r}")
        return min(number, maximum)

    def time(self, name: str) -> datetime | None:
        value = self.param(name)
        return _parse_time_param(name, value) if value else None


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes


def _json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> _Response:
    body = json.dumps(payload).encode("utf-8")
    merged = {"Content-Type": "application/json; charset=UTF-8", "Vary": "Origin, X-Origin"}
    merged.update(headers or {})
    return _Response(status, merged, body)


def _error_response(error: ApiError) -> _Response:
    return _json_response(error.code, error.body(), error.headers)


@dataclass
class _Inner:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    found = _BLANK_LINE.search(data)
    if found is None:
        return data, b""
    return data[: found.start()], data[found.end() :]


def _header_lines(head: bytes) -> list[str]:
    """Header lines with folded continuations joined (RFC 5322 unfolding)."""
    lines: list[str] = []
    for line in head.decode("latin-1").splitlines():
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line
        elif line:
            lines.append(line)
    return lines


def _headers_of(lines: Iterable[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers


def _parse_batch(content_type: str, body: bytes) -> list[tuple[str, _Inner | None]]:
    """Split a multipart/mixed batch body into (Content-ID, inner request) pairs."""
    if not content_type.lower().startswith("multipart/"):
        raise ValueError("a batch request must be multipart/mixed")
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise ValueError("the batch Content-Type has no boundary")
    delimiter = b"--" + found.group(1).strip().encode("latin-1")
    out: list[tuple[str, _Inner | None]] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        chunk = chunk.removeprefix(b"\r\n") if chunk.startswith(b"\r\n") else chunk[1:]
        # the line break before the next delimiter belongs to that delimiter
        chunk = (
            chunk.removesuffix(b"\r\n") if chunk.endswith(b"\r\n") else chunk.removesuffix(b"\n")
        )
        head, payload = _split_head(chunk)
        headers = _headers_of(_header_lines(head))
        out.append((headers.get("content-id", ""), _parse_inner(payload)))
    return out


def _parse_inner(data: bytes) -> _Inner | None:
    """An application/http part: request line, headers, body."""
    head, body = _split_head(data.lstrip(b"\r\n"))
    lines = _header_lines(head)
    if not lines:
        return None
    request_line = lines[0].split()
    if len(request_line) < 2:
        return None
    target = urlsplit(request_line[1])
    return _Inner(
        request_line[0].upper(),
        target.path.lstrip("/"),
        target.query,
        _headers_of(lines[1:]),
        body,
    )


def _render_batch(boundary: str, answers: list[tuple[str, _Response]]) -> bytes:
    chunks: list[str] = []
    for content_id, answer in answers:
        inner_id = (
            content_id[1:-1]
            if content_id.startswith("<") and content_id.endswith(">")
            else content_id
        )
        head = [f"HTTP/1.1 {answer.status} {HTTPStatus(answer.status).phrase}"]
        head += [f"{name}: {value}" for name, value in answer.headers.items()]
        head.append(f"Content-Length: {len(answer.body)}")
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/http\r\n"
            f"Content-ID: <response-{inner_id}>\r\n\r\n"
            + "\r\n".join(head)
            + "\r\n\r\n"
            + answer.body.decode("utf-8")
            + "\r\n"
        )
    chunks.append(f"--{boundary}--\r\n")
    return "".join(chunks).encode("utf-8")


# ---------------------------------------------------------------------------------------
# The HTTP server
# ---------------------------------------------------------------------------------------


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        data = bytearray()
        while True:
            size_line = handler.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise _BodyError(400, "bad chunk size") from None
            if size == 0:
                handler.rfile.readline(1024)
                return bytes(data)
            if len(data) + size > MAX_BODY:
                raise _BodyError(413, "request body too large")
            data += handler.rfile.read(size)
            handler.rfile.readline(1024)
    try:
        length = int(handler.headers.get("Content-Length") or 0)
    except ValueError:
        raise _BodyError(400, "bad Content-Length") from None
    if length < 0 or length > MAX_BODY:
        raise _BodyError(413, "request body too large")
    return handler.rfile.read(length) if length else b""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() shuts connections itself and waits a bounded time

    def __init__(self, fake: FakeGoogle) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.active = 0
        self._track = threading.Lock()
        super().__init__((HOST, 0), _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._track:
            self.connections.add(request)
            self.active += 1
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._track:
                self.connections.discard(request)
                self.active -= 1

    def close_connections(self) -> None:
        with self._track:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeGoogle/1.0"
    timeout = 60  # an idle keep-alive connection is closed after this many seconds

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        server.fake.serve(self)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()


def _write(handler: BaseHTTPRequestHandler, response: _Response) -> None:
    """Send the whole response in one write (no Nagle/delayed-ACK stalls on keep-alive)."""
    lines = [
        f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}",
        f"Server: {handler.version_string()}",
        f"Date: {handler.date_time_string()}",
        *(f"{name}: {value}" for name, value in response.headers.items()),
        f"Content-Length: {len(response.body)}",
    ]
    if handler.close_connection:
        lines.append("Connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body
    try:
        handler.wfile.write(data)
        handler.wfile.flush()
    except OSError:
        handler.close_connection = True


# ---------------------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------------------


class FakeGoogle:
    """Calendar v3 + Gmail v1 + an OAuth token endpoint, served on 127.0.0.1."""

    def __init__(
        self, *, default_user: str = "me@example.com", now: datetime | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.default_user = default_user
        self._frozen_now = now
        self.switches = Switchboard(self)
        self.counters = Counters()
        self.oauth = OAuthStore(self)
        self.calendar = CalendarStore(self)
        self.gmail = GmailStore(self)
        self.requests: deque[RequestRecord] = deque(maxlen=10_000)
        self._pager = _Pager()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeGoogle:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-google-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        self._stopping.set()
        if thread is not None and thread.is_alive():
            server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout)
        deadline = time.monotonic() + timeout
        while server.active and time.monotonic() < deadline:
            server.close_connections()
            time.sleep(0.01)

    def reset(self) -> None:
        """Forget all data, tokens, faults, counters and the request log (server keeps running).

        For a server shared by a whole session: call it between tests.
        """
        with self.lock:
            self.switches.clear()
            self.counters.reset()
            self.oauth = OAuthStore(self)
            self.calendar = CalendarStore(self)
            self.gmail = GmailStore(self)
            self.requests.clear()
            self._pager = _Pager()
            self._frozen_now = None

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake Google server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    @property
    def auth_uri(self) -> str:
        return self.url + "o/oauth2/auth"

    @property
    def calendar_endpoint(self) -> str:
        """``api_endpoint`` for ``build("calendar", "v3")``: the root plus ``calendar/v3/``."""
        return self.url + "calendar/v3/"

    @property
    def gmail_endpoint(self) -> str:
        """``api_endpoint`` for ``build("gmail", "v1")``: the root (paths carry gmail/v1/)."""
        return self.url

    def batch_uri(self, api: str = "gmail") -> str:
        """``batch_uri`` for ``BatchHttpRequest``: ``batch/gmail/v1``, ``batch/calendar/v3``."""
        paths = {"gmail": "batch/gmail/v1", "calendar": "batch/calendar/v3"}
        return self.url + paths.get(api, "batch")

    # -- client helpers (the real client libraries, imported when used) --------------

    def credentials(
        self,
        *,
        refresh_token: str | None = None,
        token: str | None = None,
        user: str | None = None,
        scopes: list[str] | None = None,
    ) -> Any:
        """``google.oauth2.credentials.Credentials`` that refresh against this fake."""
        from google.oauth2.credentials import Credentials

        return Credentials(
            token=token,
            refresh_token=refresh_token or self.oauth.issue_refresh_token(user),
            token_uri=self.token_uri,
            client_id="fake-client-id.apps.googleusercontent.com",
            client_secret="fake-client-secret",
            scopes=scopes,
        )

    def http(self, credentials: Any = None, *, timeout: float = 10.0) -> Any:
        """A bounded ``httplib2.Http``, wrapped in ``AuthorizedHttp`` if credentials given."""
        import httplib2

        plain = httplib2.Http(timeout=timeout)
        if credentials is None:
            return plain
        from google_auth_httplib2 import AuthorizedHttp

        return AuthorizedHttp(credentials, http=plain)

    def build(self, api: str, *, http: Any = None, credentials: Any = None) -> Any:
        """``googleapiclient.discovery.build`` pointed at this fake."""
        from googleapiclient.discovery import build

        versions = {"calendar": "v3", "gmail": "v1"}
        endpoint = self.calendar_endpoint if api == "calendar" else self.gmail_endpoint
        return build(
            api,
            versions[api],
            http=http if http is not None else self.http(credentials),
            static_discovery=True,
            client_options={"api_endpoint": endpoint},
        )

    # -- clock ------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._frozen_now or datetime.now(UTC)

    def set_time(self, moment: datetime | None) -> None:
        """Freeze "now" (``None`` returns to the real clock)."""
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        self._frozen_now = moment

    def calls_to(self, endpoint: str) -> list[RequestRecord]:
        with self.lock:
            return [r for r in self.requests if fnmatch.fnmatchcase(r.endpoint, endpoint)]

    # -- serving --------------------------------------------------------------------------

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one HTTP request (called on the connection's thread)."""
        split = urlsplit(handler.path)
        path = split.path.lstrip("/")
        method = handler.command.upper()
        headers = {name.lower(): value for name, value in handler.headers.items()}
        try:
            body = _read_body(handler)
        except _BodyError as error:
            handler.close_connection = True
            _write(handler, _error_response(ApiError(error.status, str(error), "badRequest")))
            return
        matched = _match(method, path)
        endpoint = matched[0].endpoint if matched else "unknown"
        with self.lock:
            self.counters.http_requests += 1
            self.counters.http_by_endpoint[endpoint] += 1
            drop = self.switches.take(endpoint, "direct", drop=True)
            if drop is not None:
                self.counters.dropped += 1
            latency = self.switches.latency
        if drop is not None:
            handler.close_connection = True
            return
        if latency > 0 and self._stopping.wait(latency):
            handler.close_connection = True
            return
        if endpoint.startswith("oauth."):
            response = self._serve_oauth(endpoint, split.query, body)
        elif endpoint == "batch":
            response = self._serve_batch(headers, body)
        else:
            response = self._execute(method, path, split.query, headers, body, in_batch=False)
        _write(handler, response)

    def _serve_oauth(self, endpoint: str, query: str, body: bytes) -> _Response:
        with self.lock:
            fault = self.switches.take(endpoint, "direct")
            if fault is not None:
                self.counters.faults_injected += 1
                error = "temporarily_unavailable" if fault.status >= 500 else "invalid_request"
                return _json_response(
                    fault.status, {"error": error, "error_description": fault.message}
                )
            if endpoint == "oauth.authorize":
                try:
                    location = self.oauth.authorize(parse_qs(query))
                except ApiError as err:
                    return _error_response(err)
                return _Response(302, {"Location": location, "Content-Type": "text/html"}, b"")
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            status, payload = self.oauth.token_endpoint(form)
        return _json_response(status, payload, {"Cache-Control": "no-store"})

    def _serve_batch(self, headers: Mapping[str, str], body: bytes) -> _Response:
        with self.lock:
            fault = self.switches.take("batch", "direct")
            if fault is not None:
                self.counters.faults_injected += 1
                return _error_response(fault.error())
            try:
                user = self.oauth.authenticate(headers.get("authorization"))
            except ApiError as err:
                return _error_response(err)
        try:
            parts = _parse_batch(headers.get("content-type", ""), body)
        except ValueError as err:
            return _error_response(bad_request(str(err), "badRequest"))
        limit = self.switches.batch_limit
        if not parts:
            return _error_response(bad_request("A batch request needs at least one part."))
        if len(parts) > limit:
            return _error_response(
                bad_request(
                    f"Inner request count exceeds the limit. Received: {len(parts)}, "
                    f"Limit: {limit}",
                    "badRequest",
                )
            )
        with self.lock:
            self.counters.batch_requests += 1
            self.counters.batch_parts += len(parts)
        answers: list[tuple[str, _Response]] = []
        concurrency = self.switches.batch_concurrency
        for index, (content_id, inner) in enumerate(parts):
            if inner is None:
                answers.append((content_id, _error_response(bad_request("Unparseable part."))))
                continue
            over = concurrency is not None and index >= concurrency
            answers.append(
                (
                    content_id,
                    self._execute(
                        inner.method,
                        inner.path,
                        inner.query,
                        inner.headers,
                        inner.body,
                        in_batch=True,
                        inherited_user=user,
                        over_concurrency=over,
                    ),
                )
            )
        boundary = "batch_" + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
        return _Response(
            200,
            {"Content-Type": f"multipart/mixed; boundary={boundary}"},
            _render_batch(boundary, answers),
        )

    def _execute(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        in_batch: bool,
        inherited_user: str | None = None,
        over_concurrency: bool = False,
    ) -> _Response:
        """One logical API call, direct or as a batch part."""
        params = parse_qs(query, keep_blank_values=True)
        matched = _match(method, path)
        route = matched[0] if matched else None
        user: str | None = inherited_user
        if route is None or not route.handler:
            endpoint = "unknown"
            response = _error_response(not_found())
        else:
            endpoint = route.endpoint
            try:
                with self.lock:
                    self.counters.calls[endpoint] += 1
                    authorization = headers.get("authorization")
                    if authorization is not None or not in_batch:
                        user = self.oauth.authenticate(authorization)
                    if over_concurrency and endpoint.startswith("gmail."):
                        raise ApiError(
                            429, "Too many concurrent requests for user.", "rateLimitExceeded"
                        )
                    fault = self.switches.take(endpoint, "part" if in_batch else "direct")
                    if fault is not None:
                        self.counters.faults_injected += 1
                        raise fault.error()
                    fields = params.get("fields")
                    try:
                        mask = parse_fields(fields[-1]) if fields and fields[-1] else None
                    except ValueError as err:
                        raise bad_request(f"Invalid field selection: {err}") from None
                    units = GMAIL_QUOTA_UNITS.get(endpoint, 0)
                    if units:
                        self.counters.gmail_quota_units += units
                        self.counters.gmail_quota_by_user[user or self.default_user] += units
                    call = _Call(endpoint, matched[1] if matched else {}, params, body, user)
                    result = getattr(self, route.handler)(call)
                    payload = apply_fields(result, mask)
                response = _json_response(200, payload)
            except ApiError as err:
                response = _error_response(err)
        with self.lock:
            self.counters.statuses[response.status] += 1
            self.requests.append(
                RequestRecord(endpoint, method, "/" + path, params, response.status, in_batch, user)
            )
        return response

    # -- Calendar handlers (called with the lock held) ------------------------------

    def _calendar_list(self, call: _Call) -> Json:
        user = call.user or self.default_user
        size = call.int_param("maxResults", 100, 250)
        page = self._pager.page(
            f"calendarList:{user}",
            call.param("pageToken"),
            size,
            lambda: (self.calendar.entries(user), {}),
        )
        return page.into(
            {"kind": "calendar#calendarList", "etag": '"p32g9fake"', "items": page.items}
        )

    def _calendar_list_get(self, call: _Call) -> Json:
        user = call.user or self.default_user
        wanted = call.args["calendarId"]
        for entry in self.calendar.entries(user):
            if entry["id"] == wanted or (wanted == "primary" and entry.get("primary")):
                return entry
        raise not_found()

    def _calendars_get(self, call: _Call) -> Json:
        calendar = self.calendar.get(call.args["calendarId"], call.user)
        return {
            "kind": "calendar#calendar",
            "etag": '"fake"',
            "id": calendar.id,
            "summary": calendar.summary,
            "description": calendar.description,
            "timeZone": calendar.time_zone,
        }

    def _events_list(self, call: _Call) -> Json:
        calendar = self.calendar.get(call.args["calendarId"], call.user)
        size = call.int_param("maxResults", 250, 2500)
        sync_token = call.param("syncToken")
        single = call.flag("singleEvents")
        show_deleted = call.flag("showDeleted")

        def make() -> tuple[list[Json], Json]:
            if sync_token:
                for name in (
                    "timeMin",
                    "timeMax",
                    "orderBy",
                    "q",
                    "iCalUID",
                    "updatedMin",
                    "privateExtendedProperty",
                    "sharedExtendedProperty",
                ):
                    if call.param(name):
                        raise bad_request(f"The parameter {name} cannot be used with syncToken.")
                state = self.calendar.sync_state(sync_token, calendar)
                items = calendar.list_items(
                    single_events=single,
                    show_deleted=True,
                    time_min=state.time_min,
                    time_max=state.time_max,
                    since_seq=state.seq,
                )
                items = _of_types(items, call.values("eventTypes"))
                items.sort(key=lambda e: (calendar.seq_of(e), calendar.sort_key(e)))
                window = (state.time_min, state.time_max)
            else:
                time_min, time_max = call.time("timeMin"), call.time("timeMax")
                order_by = call.param("orderBy")
                if order_by not in (None, "", "startTime", "updated"):
                    raise bad_request(f"Invalid value for orderBy: {order_by!r}")
                if order_by == "startTime" and not single:
                    raise bad_request(
                        "The requested ordering is not available for the particular query."
                    )
                items = calendar.list_items(
                    single_events=single,
                    show_deleted=show_deleted,
                    time_min=time_min,
                    time_max=time_max,
                )
                updated_min = call.time("updatedMin")
                if updated_min is not None:
                    items = [e for e in items if _updated(e) >= updated_min]
                text = (call.param("q") or "").casefold()
                if text:
                    items = [e for e in items if text in _event_text(e)]
                uid = call.param("iCalUID")
                if uid:
                    items = [e for e in items if e.get("iCalUID") == uid]
                items = _of_types(items, call.values("eventTypes"))
                if order_by == "updated":
                    items.sort(key=lambda e: str(e.get("updated", "")))
                else:
                    items.sort(key=calendar.sort_key)
                window = (time_min, time_max)
            state = _SyncState(
                calendar.id, calendar.change_seq, calendar.token_generation, window[0], window[1]
            )
            return items, {"nextSyncToken": self.calendar.new_sync_token(state)}

        page = self._pager.page(f"events:{calendar.id}", call.param("pageToken"), size, make)
        return page.into(
            {
                "kind": "calendar#events",
                "etag": f'"{3_000_000_000_000_000 + calendar.change_seq}"',
                "summary": calendar.summary,
                "description": calendar.description,
                "updated": rfc3339(self.now()),
                "timeZone": calendar.time_zone,
                "accessRole": calendar.access_role,
                "defaultReminders": [],
                "items": page.items,
            }
        )

    def _events_get(self, call: _Call) -> Json:
        calendar = self.calendar.get(call.args["calendarId"], call.user)
        event = calendar.find(call.args["eventId"])
        if event is None:
            raise not_found()
        return event

    # -- Gmail handlers (called with the lock held) ---------------------------------

    def _mailbox(self, call: _Call) -> Mailbox:
        wanted = call.args["userId"]
        if wanted == "me":
            return self.gmail.mailbox(call.user)
        if call.user is not None and wanted.casefold() != call.user.casefold():
            raise ApiError(403, f"Delegation denied for {call.user}", "forbidden")
        return self.gmail.mailbox(wanted)

    def _gmail_profile(self, call: _Call) -> Json:
        return self._mailbox(call).profile()

    def _gmail_labels(self, call: _Call) -> Json:
        return {"labels": [dict(label) for label in self._mailbox(call).labels.values()]}

    def _gmail_list(self, call: _Call) -> Json:
        box = self._mailbox(call)
        size = call.int_param("maxResults", 100, 500)

        def make() -> tuple[list[Json], Json]:
            query = parse_gmail_query(call.param("q") or "", self.now(), box)
            label_ids = call.values("labelIds")
            include_spam_trash = call.flag("includeSpamTrash") or query.includes_spam_trash
            found = [
                m
                for m in box.messages.values()
                if all(label in m.label_ids for label in label_ids)
                and (include_spam_trash or not ("SPAM" in m.label_ids or "TRASH" in m.label_ids))
                and query.matches(m)
            ]
            found.sort(key=lambda m: (m.internal_date, m.id), reverse=True)
            return [m.ref() for m in found], {}

        page = self._pager.page(f"messages:{box.address}", call.param("pageToken"), size, make)
        out: Json = {"messages": page.items} if page.items else {}
        page.into(out)
        out["resultSizeEstimate"] = page.total
        return out

    def _gmail_get(self, call: _Call) -> Json:
        box = self._mailbox(call)
        message = box.messages.get(call.args["id"])
        if message is None:
            raise not_found("Requested entity was not found.")
        fmt = (call.param("format") or "full").lower()
        if fmt not in ("full", "metadata", "minimal", "raw"):
            raise bad_request(f"Invalid value for format: {fmt!r}")
        return message.resource(fmt, call.values("metadataHeaders"))

    def _gmail_history(self, call: _Call) -> Json:
        box = self._mailbox(call)
        start_text = call.param("startHistoryId")
        if not start_text:
            raise bad_request("Missing startHistoryId", "invalidArgument")
        try:
            start = int(start_text)
        except ValueError:
            raise bad_request(f"Invalid startHistoryId: {start_text!r}") from None
        if start < box.history_floor:
            raise not_found("Requested entity was not found.")
        kinds = call.values("historyTypes")
        unknown = [k for k in kinds if k not in _HISTORY_TYPES]
        if unknown:
            raise bad_request(f"Invalid value for historyTypes: {unknown[0]!r}")
        wanted = {_HISTORY_TYPES[k] for k in kinds} or set(_HISTORY_TYPES.values())
        label = call.param("labelId")
        size = call.int_param("maxResults", 100, 500)

        def make() -> tuple[list[Json], Json]:
            out: list[Json] = []
            for record in box.history:
                if int(record["id"]) <= start:
                    continue
                shown: Json = {"id": str(record["id"]), "messages": record["messages"]}
                for kind in wanted:
                    entries = record.get(kind)
                    if entries and (
                        label is None
                        or any(label in e["message"].get("labelIds", []) for e in entries)
                    ):
                        shown[kind] = entries
                if len(shown) > 2:
                    out.append(shown)
            return out, {}

        page = self._pager.page(f"history:{box.address}", call.param("pageToken"), size, make)
        result: Json = {"history": page.items} if page.items else {}
        page.into(result)
        result["historyId"] = str(box.history_id)
        return result

    def _gmail_send(self, call: _Call) -> Json:
        box = self._mailbox(call)
        try:
            request = json.loads(call.body or b"{}")
            raw = _b64url_decode(str(request["raw"]))
        except (ValueError, KeyError, TypeError):
            raise bad_request("Invalid value for ByteString: raw", "invalidArgument") from None
        head = BytesParser(policy=email_policy.compat32).parsebytes(raw, headersonly=True)
        if not any(head.get(name) for name in ("To", "Cc", "Bcc")):
            raise bad_request("Recipient address required", "invalidArgument")
        box.sent.append(raw)
        message = box.add_message(
            raw,
            label_ids=["SENT"],
            thread_id=request.get("threadId") or None,
            internal_date=self.now(),
        )
        return {"id": message.id, "threadId": message.thread_id, "labelIds": ["SENT"]}


def _updated(event: Json) -> datetime:
    try:
        return datetime.fromisoformat(str(event.get("updated", "")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _of_types(items: list[Json], types: list[str]) -> list[Json]:
    """The eventTypes filter (events without eventType count as "default")."""
    if not types:
        return items
    return [e for e in items if e.get("eventType", "default") in types]


def _event_text(event: Json) -> str:
    parts = [str(event.get(key, "")) for key in ("summary", "description", "location")]
    for attendee in event.get("attendees") or []:
        if isinstance(attendee, dict):
            parts += [str(attendee.get("email", "")), str(attendee.get("displayName", ""))]
    return " ".join(parts).casefold()


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    """A running fake Google for one test; stopped (and its sockets closed) afterwards."""
    with FakeGoogle() as fake:
        yield fake
