"""Calling Google's APIs politely: backoff, pacing, batches, and clear errors.

:class:`Client` wraps one account's connection to one API (``calendar`` or ``gmail``)
built with ``google-api-python-client``. Every call goes through it:

* **Backoff.** HTTP 429, 403 ``rateLimitExceeded`` / ``userRateLimitExceeded``, 5xx
  and dropped connections are retried with exponential backoff and full jitter
  (1 s, 2 s, 4 s ... capped at 64 s, six attempts); a ``Retry-After`` header is
  honoured as the least wait.
* **Pacing.** A token bucket per account and API keeps each account under its quota
  before Google has to say no: by default 6,000 Gmail quota units per minute (a
  ``messages.get`` costs 5) and 600 Calendar requests per minute. ``0`` turns pacing off.
* **Batches.** :meth:`Client.batch` sends up to 50 calls in one ``multipart/mixed``
  request; parts that fail with a retryable error are retried by themselves after a
  backoff, the parts that succeeded are not sent again.
* **Errors.** A refused or revoked token becomes :class:`~linter.google.auth.AuthError`
  (the CLI exits 2 and names the command that fixes it); a disabled API, an unknown
  calendar or a wrong subject become :class:`ApiError` with one readable line, and
  only that source fails.

``endpoint`` (a source option) points the client somewhere other than Google, for the
fake Google server the tests run on loopback; ``batch_uri`` follows it.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from linter.google.auth import AuthError, refused

MAX_BATCH = 50  # Gmail's advice: larger batches trigger its concurrency limit
RETRIES = 6
BASE_DELAY = 1.0
MAX_DELAY = 64.0
MAX_RETRY_AFTER = 300.0  # a server asking for longer than this fails the source instead
DEFAULT_TIMEOUT = 60.0
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# the published cost of each Gmail method in quota units; Calendar counts requests
GMAIL_UNITS = {"list": 5, "get": 5, "history": 2, "profile": 1, "labels": 1, "send": 100}
DEFAULT_QUOTA = {"gmail": 6000.0, "calendar": 600.0}
API_VERSIONS = {"gmail": "v1", "calendar": "v3"}
BATCH_PATHS = {"gmail": "batch/gmail/v1", "calendar": "batch/calendar/v3"}


class ApiError(Exception):
    """A call failed for good; ``status`` and ``reason`` say how."""

    def __init__(self, message: str, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class Pacer:
    """A token bucket: ``per_minute`` units, refilled continuously."""

    def __init__(
        self,
        per_minute: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_second = per_minute / 60.0
        self.capacity = per_minute
        self.tokens = per_minute
        self.clock = clock
        self.sleep = sleep
        self.stamp = clock()
        self.waited = 0.0
        self.lock = threading.Lock()

    def spend(self, units: float) -> None:
        if self.per_second <= 0:
            return
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
            self.stamp = now
            self.tokens -= units
            wait = -self.tokens / self.per_second if self.tokens < 0 else 0.0
        if wait > 0:
            self.waited += wait
            self.sleep(wait)


_pacers: dict[tuple[str, str], Pacer] = {}


def pacer_for(account: str, api: str, per_minute: float) -> Pacer:
    """One bucket per account and API in this process, shared by its sources."""
    key = (account, api)
    pacer = _pacers.get(key)
    if pacer is None or pacer.capacity != per_minute:
        pacer = _pacers[key] = Pacer(per_minute)
    return pacer


@dataclass
class Usage:
    """What a sync cost: HTTP requests (a batch is one), logical calls, quota units."""

    requests: int = 0
    calls: int = 0
    units: int = 0
    retries: int = 0
    waited: float = 0.0


@dataclass
class Failure:
    """Why one call failed: ``retryable`` says whether waiting could help."""

    status: int
    reason: str
    message: str
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return (
            self.status in (429, 500, 502, 503, 504)
            or (self.status == 403 and self.reason in RATE_REASONS)
            or self.status == 0  # the connection broke
        )


@dataclass
class Client:
    """One account's connection to one API."""

    api: str
    service: Any
    http: Any
    account: str
    endpoint: str | None = None
    pacer: Pacer | None = None
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random
    usage: Usage = field(default_factory=Usage)
    fix: str = ""  # the command that fixes a refused token

    def execute(self, request: Any, units: int = 1) -> Any:
        """One call, with backoff; raises :class:`ApiError` or ``AuthError``."""
        attempt = 0
        while True:
            self._spend(units, 1)
            try:
                self.usage.requests += 1
                return request.execute(num_retries=0)
            except Exception as exc:
                failure = self._classify(exc)
            attempt = self._backoff(failure, attempt)

    def pages(self, request: Callable[[str | None], Any], units: int = 1) -> Iterator[Any]:
        """Every page of a listing, each one call (see :meth:`execute`): ``request``
        makes the call for a page token, ``None`` for the first page."""
        page: str | None = None
        while True:
            response = self.execute(request(page), units)
            yield response
            page = response.get("nextPageToken")
            if not page:
                return

    def batch(
        self, calls: Sequence[tuple[str, Any]], units: int = 1
    ) -> Iterable[tuple[str, Any, Failure | None]]:
        """``(key, response, None)`` or ``(key, None, failure)`` for every call, sent
        ``MAX_BATCH`` at a time; retryable failures of single parts are retried alone.
        A call still failing when the retries run out raises :class:`ApiError`."""
        for start in range(0, len(calls), MAX_BATCH):
            yield from self._one_batch(list(calls[start : start + MAX_BATCH]), units)

    def _one_batch(
        self, calls: list[tuple[str, Any]], units: int
    ) -> Iterable[tuple[str, Any, Failure | None]]:
        attempt = 0
        while calls:
            if len(calls) == 1:  # no envelope for one call
                key, request = calls[0]
                try:
                    yield key, self.execute(request, units), None
                except ApiError as exc:
                    final = Failure(exc.status, exc.reason, str(exc))
                    if final.retryable:
                        # gave up waiting: fail the sync, as a batch does, so the cursor
                        # stays and the next run asks again; reporting this call as a
                        # failed item would skip it for good
                        raise
                    yield key, None, final
                return
            answers: dict[str, tuple[Any, Failure | None]] = {}
            envelope = self._new_batch(self._collector(answers))
            for key, request in calls:
                envelope.add(request, request_id=key)
            self._spend(units * len(calls), len(calls))
            try:
                self.usage.requests += 1
                envelope.execute(http=self.http)
            except Exception as exc:
                attempt = self._backoff(self._classify(exc), attempt)
                continue
            retry: list[tuple[str, Any]] = []
            worst: Failure | None = None
            for key, request in calls:
                response, failure = answers.get(key, (None, Failure(0, "", "no answer in batch")))
                if failure is not None and failure.retryable:
                    retry.append((key, request))
                    worst = failure if worst is None or _later(failure, worst) else worst
                else:
                    yield key, response, failure
            if retry and worst is not None:
                attempt = self._backoff(worst, attempt)
            calls = retry

    def _collector(
        self, answers: dict[str, tuple[Any, Failure | None]]
    ) -> Callable[[str, Any, Any], None]:
        def collect(request_id: str, response: Any, exception: Any) -> None:
            failure = None if exception is None else self._classify(exception)
            answers[request_id] = (response, failure)

        return collect

    def _new_batch(self, callback: Callable[[str, Any, Any], None]) -> Any:
        from googleapiclient.http import BatchHttpRequest

        if self.endpoint is None:
            return self.service.new_batch_http_request(callback=callback)
        # new_batch_http_request ignores api_endpoint: it always posts to Google
        return BatchHttpRequest(callback=callback, batch_uri=self.endpoint + BATCH_PATHS[self.api])

    def _spend(self, units: int, calls: int) -> None:
        # Gmail's quota counts units per method; Calendar's counts requests
        cost = units if self.api == "gmail" else calls
        self.usage.calls += calls
        if self.api == "gmail":
            self.usage.units += units
        if self.pacer is not None:
            self.pacer.spend(cost)

    def _backoff(self, failure: Failure, attempt: int) -> int:
        """Sleep before the next attempt, or raise when waiting cannot help."""
        if not failure.retryable:
            raise ApiError(self._explain(failure), failure.status, failure.reason)
        if attempt + 1 >= RETRIES:
            raise ApiError(
                f"{self._explain(failure)} (gave up after {RETRIES} attempts)",
                failure.status,
                failure.reason,
            )
        if failure.retry_after is not None and failure.retry_after > MAX_RETRY_AFTER:
            raise ApiError(
                f"{self._explain(failure)} (Google asks to wait {failure.retry_after:.0f} s; "
                "the next run will try again)",
                failure.status,
                failure.reason,
            )
        delay = self.random() * min(MAX_DELAY, BASE_DELAY * 2**attempt)  # full jitter
        if failure.retry_after is not None:
            delay = max(delay, failure.retry_after)
        self.usage.retries += 1
        self.usage.waited += delay
        self.sleep(delay)
        return attempt + 1

    def _classify(self, exc: BaseException) -> Failure:
        from googleapiclient.errors import HttpError

        from google.auth.exceptions import RefreshError

        if isinstance(exc, RefreshError):
            raise AuthError(refused(f"account `{self.account}`", exc, self.fix)) from None
        if isinstance(exc, HttpError):
            status = int(exc.resp.status)
            reason, message = _error_details(exc.content)
            if status == 401:
                raise AuthError(
                    refused(f"account `{self.account}`", Exception(message or "401"), self.fix)
                ) from None
            return Failure(status, reason, message or str(status), _retry_after(exc.resp))
        # imported here, as httplib2 is below: every lint run loads this module with the
        # source plugins, and http.client (with ssl) would be a twentieth of its start-up
        import http.client

        if isinstance(exc, OSError | http.client.HTTPException):  # ConnectionError is an OSError
            return Failure(0, "connection", _one_line(exc))
        import httplib2

        if isinstance(exc, httplib2.HttpLib2Error):
            return Failure(0, "connection", _one_line(exc))
        raise exc

    def _explain(self, failure: Failure) -> str:
        name = {"gmail": "Gmail", "calendar": "Google Calendar"}[self.api]
        if failure.reason in ("accessNotConfigured", "SERVICE_DISABLED"):
            return (
                f"the {name} API is not enabled for this Google Cloud project; enable it in "
                f"the console ({failure.message})"
            )
        if failure.status == 0:
            return f"cannot reach {name}: {failure.message}"
        return f"{name} said {failure.status} {failure.reason or ''}: {failure.message}".replace(
            "  ", " "
        )


def connect(
    api: str,
    options: Mapping[str, Any],
    needed: Sequence[str],
    base: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Client:
    """A :class:`Client` for the account an entry of ``clientline.yaml`` describes."""
    import httplib2
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build

    from linter.google import auth

    account = str(options.get("subject") or options.get("account") or auth.DEFAULT_ACCOUNT)
    credentials = auth.credentials(options, needed, base)
    timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
    http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))
    endpoint = options.get("endpoint")
    endpoint = None if not endpoint else str(endpoint).rstrip("/") + "/"
    client_options = None
    if endpoint is not None:
        client_options = {"api_endpoint": endpoint + ("calendar/v3/" if api == "calendar" else "")}
    service = build(
        api,
        API_VERSIONS[api],
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options=client_options,
    )
    quota = float(options.get("quota_per_minute", DEFAULT_QUOTA[api]))
    return Client(
        api,
        service,
        http,
        account,
        endpoint,
        pacer_for(account, api, quota) if quota > 0 else None,
        sleep=sleep,
        fix=auth.fix_command(str(options.get("account") or auth.DEFAULT_ACCOUNT)),
    )


def _error_details(content: bytes | str | None) -> tuple[str, str]:
    """(reason, message) of a Google JSON error body."""
    try:
        body = json.loads(content or b"{}")
        error = body.get("error", {})
        if isinstance(error, str):  # the OAuth endpoints answer {"error": "invalid_grant"}
            return error, str(body.get("error_description", error))
        details = error.get("errors") or [{}]
        reason = str(details[0].get("reason") or error.get("status") or "")
        return reason, " ".join(str(error.get("message", "")).split())
    except (ValueError, AttributeError, TypeError):
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        return "", " ".join(text.split())[:200]


def _retry_after(response: Mapping[str, Any]) -> float | None:
    value = response.get("retry-after") if hasattr(response, "get") else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _later(one: Failure, other: Failure) -> bool:
    return (one.retry_after or 0.0) > (other.retry_after or 0.0)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
