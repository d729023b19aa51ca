"""Google Calendar, read incrementally through the Calendar API.

::

    sources:
      - type: gcal
        name: work-calendar
        account: sam@studio.example   # the token `clientline auth google` stored
        calendars: [primary]          # default; `all` reads every calendar in calendarList
        days_back: 30                 # the first sync's window
        days_ahead: 180
        resync_days: 7                # move the window forward this often
        quota_per_minute: 600         # Calendar requests per minute for this account

The first sync lists each calendar's events in the window with ``singleEvents=true``
(one item per occurrence of a recurring event), 2,500 to a page, asking only for the
fields rules read (``fields=``, keeping ``nextPageToken`` and ``nextSyncToken``). Later
runs send the stored ``nextSyncToken`` and get only what changed; a cancelled or
deleted event resolves its findings. A deleted recurring event comes back as one
cancelled item with the series' id, not one per occurrence: it resolves every stored
occurrence of that series. Google answers 410 when a sync token has expired: the
cursor is cleared and that calendar is listed again (items already stored and unchanged
are not linted again).
Every ``resync_days`` the window is moved forward with a full listing; events that
merely fell behind the window keep their findings.

Mapping: summary, description (HTML converted to text), location, start and end (all-day
events at midnight in the configured timezone), the organizer, attendees with their
response (rooms and other resources left out), the conference link, ``htmlLink`` as
the link back. Out-of-office, focus-time and working-location entries are not events
with people and are skipped. Events marked private or confidential are stored as
private, so reports show that a finding exists but not what the event says.

An event the API returns without an id or a start is reported by id and skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from linter.google import api
from linter.google.auth import CALENDAR_READONLY
from linter.model import Event, Participant, Problem
from linter.sources import ACCOUNT_OPTIONS, AccountBase, Batch, Known, Output, load_cursor
from linter.text import html_to_text

EVENT_FIELDS = (
    "nextPageToken,nextSyncToken,items(id,status,summary,description,location,start,end,"
    "organizer(email,displayName),attendees(email,displayName,responseStatus,resource),"
    "recurringEventId,originalStartTime,visibility,eventType,htmlLink,hangoutLink,"
    "conferenceData(entryPoints(entryPointType,uri)))"
)
LIST_FIELDS = "nextPageToken,items(id,summary,primary,deleted,hidden)"
PAGE_SIZE = 2500
SKIPPED_TYPES = frozenset({"outOfOffice", "focusTime", "workingLocation"})
PRIVATE = frozenset({"private", "confidential"})
RESPONSES = {"needsAction": "needs-action"}
DAYS_BACK = 30
DAYS_AHEAD = 180
RESYNC_DAYS = 7
OPTIONS = (*ACCOUNT_OPTIONS, "calendars", "days_back", "days_ahead", "resync_days")


class GcalSource(AccountBase):
    kind: ClassVar[str] = "gcal"
    options_known: ClassVar[tuple[str, ...]] = OPTIONS

    client: api.Client | None = None

    def sync(self, cursor: str | None, known: Known) -> Iterator[Batch]:
        client = self.client or api.connect(
            "calendar", self.options, [CALENDAR_READONLY], self.base
        )
        self.client = client
        state = load_cursor(cursor)
        tokens: dict[str, Any] = dict(state.get("calendars") or {})
        for calendar in self._calendars(client):
            entry = tokens.get(calendar) or {}
            if entry.get("token") and _fresh(entry, self.now, self._resync_days()):
                try:
                    yield from self._changes(client, calendar, entry, tokens)
                    continue
                except api.ApiError as exc:
                    if exc.status != 410:
                        raise
                    tokens.pop(calendar, None)  # the sync token expired: list it all again
            yield from self._full(client, calendar, tokens)

    # ---- listing

    def _calendars(self, client: api.Client) -> list[str]:
        wanted = self.options.get("calendars", ["primary"])
        if isinstance(wanted, str):
            wanted = [wanted]
        if list(wanted) != ["all"]:
            return [str(c) for c in wanted]
        listing = client.service.calendarList()
        pages = client.pages(
            lambda page: listing.list(
                maxResults=250, pageToken=page, fields=LIST_FIELDS, showHidden=False
            )
        )
        return [
            str(entry["id"])
            for response in pages
            for entry in response.get("items", [])
            if entry.get("id") and not entry.get("deleted")
        ]

    def _full(self, client: api.Client, calendar: str, tokens: dict[str, Any]) -> Iterator[Batch]:
        now = self.now.astimezone(self.window.tz)
        today = dt.datetime.combine(now.date(), dt.time(), self.window.tz)
        since = today - dt.timedelta(days=int(self.options.get("days_back", DAYS_BACK)))
        until = today + dt.timedelta(days=int(self.options.get("days_ahead", DAYS_AHEAD)))
        page: str | None = None
        while True:
            response = self._list(
                client,
                calendar,
                pageToken=page,
                timeMin=since.isoformat(),
                timeMax=until.isoformat(),
            )
            items = [o for e in response.get("items", []) if (o := self._event(e, calendar))]
            page = response.get("nextPageToken")
            if page:
                yield Batch(calendar, items=items)
                continue
            tokens[calendar] = {"token": response.get("nextSyncToken"), "window": now.isoformat()}
            yield Batch(
                calendar,
                items=items,
                complete=True,
                keep_before=since,
                cursor=json.dumps({"calendars": tokens}),
            )
            return

    def _changes(
        self,
        client: api.Client,
        calendar: str,
        entry: dict[str, Any],
        tokens: dict[str, Any],
    ) -> Iterator[Batch]:
        """The changes since the sync token."""
        page: str | None = None
        while True:
            if page:
                response = self._list(client, calendar, pageToken=page)
            else:
                response = self._list(client, calendar, syncToken=entry["token"])
            items: list[Output] = []
            deleted: list[str] = []
            # Stored occurrences have ids `<series id>_<start>`; a deleted series arrives
            # as one cancelled item with its own id, which resolves its occurrences
            series: list[str] = []
            for event in response.get("items", []):
                if event.get("status") == "cancelled" or event.get("eventType") in SKIPPED_TYPES:
                    if event.get("id"):
                        deleted.append(_item_id(calendar, str(event["id"])))
                        if event.get("status") == "cancelled" and not event.get("recurringEventId"):
                            series.append(deleted[-1] + "_")
                    continue
                output = self._event(event, calendar)
                if output is not None:
                    items.append(output)
            page = response.get("nextPageToken")
            if page:
                yield Batch(calendar, items=items, deleted=deleted, deleted_prefixes=series)
                continue
            tokens[calendar] = {**entry, "token": response.get("nextSyncToken") or entry["token"]}
            yield Batch(
                calendar,
                items=items,
                deleted=deleted,
                deleted_prefixes=series,
                cursor=json.dumps({"calendars": tokens}),
            )
            return

    def _list(self, client: api.Client, calendar: str, **params: Any) -> Any:
        try:
            return client.execute(
                client.service.events().list(
                    calendarId=calendar,
                    singleEvents=True,
                    maxResults=PAGE_SIZE,
                    fields=EVENT_FIELDS,
                    **{k: v for k, v in params.items() if v is not None},
                )
            )
        except api.ApiError as exc:
            if exc.status == 404:
                raise api.ApiError(
                    f"calendar `{calendar}` not found for account `{client.account}` "
                    "(check `calendars:`, or use `all`)",
                    404,
                ) from None
            raise

    def _resync_days(self) -> int:
        return int(self.options.get("resync_days", RESYNC_DAYS))

    # ---- mapping

    def _event(self, event: Mapping[str, Any], calendar: str) -> Output | None:
        event_id = event.get("id")
        if event.get("status") == "cancelled" or event.get("eventType") in SKIPPED_TYPES:
            return None
        where = f"gcal:{self.name}"
        if not event_id:
            return Problem(where, f"calendar {calendar}: an event without an id; skipped")
        try:
            return self._to_event(event, calendar, str(event_id))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return Problem(
                where, f"event {event_id}: unreadable ({type(exc).__name__}: {exc}); skipped"
            )

    def _to_event(self, event: Mapping[str, Any], calendar: str, event_id: str) -> Event:
        start, all_day = self._moment(event.get("start"))
        if start is None:
            raise ValueError("no start")
        end, _ = self._moment(event.get("end"))
        organizer = _participant(event.get("organizer"), "organizer")
        attendees = tuple(
            p
            for p in (_participant(a, "attendee") for a in event.get("attendees") or ())
            if p is not None and (organizer is None or p.address != organizer.address)
        )
        recurrence = None
        if event.get("recurringEventId"):
            original, original_all_day = self._moment(event.get("originalStartTime"))
            original = original or start
            recurrence = (
                original.strftime("%Y%m%d")
                if original_all_day
                else original.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
            )
        description = str(event.get("description") or "")
        if "<" in description and ">" in description:  # Google stores rich text as HTML
            description = html_to_text(description)
        return Event(
            source=f"gcal:{self.name}",
            locator=event_id,
            id=_item_id(calendar, event_id),
            title=str(event.get("summary") or ""),
            body=description,
            location=str(event.get("location") or ""),
            start=start,
            end=end,
            all_day=all_day,
            sender=organizer,
            recipients=attendees,
            thread=str(event.get("recurringEventId") or event_id),
            folder=calendar,
            link=event.get("htmlLink") or None,
            recurrence_id=recurrence,
            status=str(event.get("status") or "") or None,
            private=str(event.get("visibility") or "") in PRIVATE,
            conference=_conference(event),
        )

    def _moment(self, value: Any) -> tuple[dt.datetime | None, bool]:
        if not isinstance(value, Mapping):
            return None, False
        if value.get("dateTime"):
            moment = dt.datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.window.tz)
            return moment, False
        if value.get("date"):
            day = dt.date.fromisoformat(str(value["date"]))
            return dt.datetime.combine(day, dt.time(), self.window.tz), True
        return None, False


def _item_id(calendar: str, event_id: str) -> str:
    # the same meeting can sit in two calendars of one source, with the same id
    return event_id if calendar == "primary" else f"{calendar}/{event_id}"


def _participant(value: Any, role: str) -> Participant | None:
    if not isinstance(value, Mapping) or value.get("resource"):
        return None
    address = str(value.get("email") or "").strip().lower()
    if "@" not in address:
        return None
    response = value.get("responseStatus")
    return Participant(
        address=address,
        name=str(value.get("displayName") or ""),
        role=role,
        response=RESPONSES.get(response, response.lower()) if isinstance(response, str) else None,
    )


def _conference(event: Mapping[str, Any]) -> str | None:
    data = event.get("conferenceData")
    if isinstance(data, Mapping):
        for point in data.get("entryPoints") or ():
            if isinstance(point, Mapping) and point.get("entryPointType") == "video":
                return str(point.get("uri") or "") or None
    return str(event.get("hangoutLink") or "") or None


def _fresh(entry: Mapping[str, Any], now: dt.datetime, resync_days: int) -> bool:
    """Whether the window of the last full listing is recent enough to keep syncing."""
    try:
        listed = dt.datetime.fromisoformat(str(entry.get("window")))
        age = now - listed
    except (ValueError, TypeError):
        return False
    return dt.timedelta(0) <= age < dt.timedelta(days=resync_days)
