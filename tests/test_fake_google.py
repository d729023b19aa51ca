"""The fake Google server, driven over HTTP by the real google-api-python-client.

These tests pin down the protocol the Calendar and Gmail sources rely on (paging, sync
tokens, history, batches, partial responses, errors, OAuth refresh) so that the sources'
own end-to-end tests can trust the fake.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httplib2
import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from .fakes.google_server import (
    FakeGoogle,
    GmailMessage,
    apply_fields,
    make_raw_message,
    parse_fields,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
MAX_PAGES = 200  # every paging loop in these tests is bounded


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    # modules that do not import the fake can use its own fixture instead:
    # pytest_plugins = ["tests.fakes.google_server"], then ask for `fake_google`
    with FakeGoogle(now=NOW) as server:
        yield server


def plain_http() -> httplib2.Http:
    return httplib2.Http(timeout=10)


def calendar(fake: FakeGoogle, http: Any = None) -> Any:
    return build(
        "calendar",
        "v3",
        http=http or plain_http(),
        static_discovery=True,
        client_options={"api_endpoint": fake.url + "calendar/v3/"},
    )


def gmail(fake: FakeGoogle, http: Any = None) -> Any:
    return build(
        "gmail",
        "v1",
        http=http or plain_http(),
        static_discovery=True,
        client_options={"api_endpoint": fake.url},
    )


def all_pages(collection: Any, request: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    while request is not None:
        assert len(pages) < MAX_PAGES
        page = request.execute()
        pages.append(page)
        request = collection.list_next(request, page)
    return pages


def no_backoff(request: Any) -> Any:
    request._sleep = lambda seconds: None
    return request


def details(error: HttpError) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(error.content)["error"]
    return data


class Collect:
    """A batch callback that remembers (response, exception) by request id."""

    def __init__(self) -> None:
        self.got: dict[str, tuple[Any, HttpError | None]] = {}

    def __call__(self, request_id: str, response: Any, exception: HttpError | None) -> None:
        self.got[request_id] = (response, exception)

    def errors(self) -> dict[str, HttpError]:
        return {k: e for k, (_, e) in self.got.items() if e is not None}


# ---------------------------------------------------------------------------------------
# Pointing the client at the fake
# ---------------------------------------------------------------------------------------


def test_build_with_api_endpoint_reaches_the_fake(fake: FakeGoogle) -> None:
    service = calendar(fake)
    listing = service.calendarList().list().execute()
    assert [entry["id"] for entry in listing["items"]] == ["me@example.com"]
    assert listing["items"][0]["primary"] is True
    profile = gmail(fake).users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == "me@example.com"
    paths = [record.path for record in fake.requests]
    assert paths == ["/calendar/v3/users/me/calendarList", "/gmail/v1/users/me/profile"]
    # the helper does the same
    assert fake.build("calendar").calendars().get(calendarId="primary").execute()["id"] == (
        "me@example.com"
    )


def test_calendar_endpoint_needs_its_service_path(fake: FakeGoogle) -> None:
    wrong = build(
        "calendar",
        "v3",
        http=plain_http(),
        static_discovery=True,
        client_options={"api_endpoint": fake.url},
    )
    with pytest.raises(HttpError) as caught:
        wrong.calendarList().list().execute()
    assert caught.value.status_code == 404


def test_new_batch_http_request_ignores_api_endpoint(fake: FakeGoogle) -> None:
    # which is why batches are built with BatchHttpRequest(batch_uri=...)
    assert calendar(fake).new_batch_http_request()._batch_uri.startswith("https://www.")
    assert fake.batch_uri("calendar") == fake.url + "batch/calendar/v3"
    assert fake.batch_uri("gmail") == fake.url + "batch/gmail/v1"


# ---------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------


def seeded_calendar(fake: FakeGoogle, count: int = 25) -> list[str]:
    return fake.calendar.primary().seed(count, start=datetime(2026, 5, 1, 9, tzinfo=UTC))


def test_events_list_pages_and_gives_sync_token_on_last_page_only(fake: FakeGoogle) -> None:
    ids = seeded_calendar(fake)
    events = calendar(fake).events()
    pages = all_pages(events, events.list(calendarId="primary", maxResults=10, singleEvents=True))
    assert [len(page["items"]) for page in pages] == [10, 10, 5]
    assert ["nextPageToken" in page for page in pages] == [True, True, False]
    assert ["nextSyncToken" in page for page in pages] == [False, False, True]
    assert sorted(item["id"] for page in pages for item in page["items"]) == sorted(ids)
    assert fake.counters.http_by_endpoint["calendar.events.list"] == 3


def test_max_results_is_clamped_to_2500(fake: FakeGoogle) -> None:
    fake.calendar.primary().seed(2600, step=timedelta(minutes=30))
    page = calendar(fake).events().list(calendarId="primary", maxResults=9999).execute()
    assert len(page["items"]) == 2500
    assert "nextPageToken" in page


def test_page_tokens_can_be_retried(fake: FakeGoogle) -> None:
    seeded_calendar(fake)
    events = calendar(fake).events()
    first = events.list(calendarId="primary", maxResults=10).execute()
    token = first["nextPageToken"]
    again = [events.list(calendarId="primary", maxResults=10, pageToken=token).execute()]
    again.append(events.list(calendarId="primary", maxResults=10, pageToken=token).execute())
    assert again[0]["items"] == again[1]["items"]
    with pytest.raises(HttpError) as caught:
        events.list(calendarId="primary", pageToken="nonsense").execute()
    assert caught.value.status_code == 400


def full_sync(fake: FakeGoogle, **params: Any) -> tuple[list[dict[str, Any]], str]:
    events = calendar(fake).events()
    pages = all_pages(events, events.list(calendarId="primary", singleEvents=True, **params))
    return [item for page in pages for item in page["items"]], pages[-1]["nextSyncToken"]


def test_sync_token_returns_only_changes_including_cancelled(fake: FakeGoogle) -> None:
    ids = seeded_calendar(fake, 12)
    items, token = full_sync(fake, maxResults=5, timeMin="2026-05-01T00:00:00Z")
    assert len(items) == 12
    primary = fake.calendar.primary()
    primary.update_event(ids[0], summary="Renamed")
    primary.delete_event(ids[1])
    moved_away = primary.update_event(
        ids[2], start=datetime(2030, 1, 1, tzinfo=UTC), end=datetime(2030, 1, 1, 1, tzinfo=UTC)
    )
    added = primary.add_event(
        summary="New",
        start=datetime(2026, 5, 9, tzinfo=UTC),
        end=datetime(2026, 5, 9, 1, tzinfo=UTC),
    )
    events = calendar(fake).events()
    pages = all_pages(events, events.list(calendarId="primary", syncToken=token, maxResults=2))
    changed = {item["id"]: item for page in pages for item in page["items"]}
    assert set(changed) == {ids[0], ids[1], ids[2], added["id"]}
    assert changed[ids[2]]["start"] == moved_away["start"]  # reported although out of window
    assert changed[ids[0]]["summary"] == "Renamed"
    assert changed[ids[1]]["status"] == "cancelled"
    assert ["nextSyncToken" in page for page in pages] == [False, True]
    # nothing changed since the new token
    quiet = events.list(calendarId="primary", syncToken=pages[-1]["nextSyncToken"]).execute()
    assert quiet["items"] == []
    assert quiet["nextSyncToken"]
    # a full listing hides the cancelled event unless showDeleted
    visible, _ = full_sync(fake)
    assert ids[1] not in {item["id"] for item in visible}
    everything, _ = full_sync(fake, showDeleted=True)
    assert ids[1] in {item["id"] for item in everything}


def test_expired_or_unknown_sync_token_gives_google_410(fake: FakeGoogle) -> None:
    seeded_calendar(fake, 3)
    _, token = full_sync(fake)
    fake.switches.expire_sync_tokens()
    events = calendar(fake).events()
    for bad in (token, "CPDAlvWDx70CEPDAlvWDx70CGAU="):
        with pytest.raises(HttpError) as caught:
            events.list(calendarId="primary", syncToken=bad).execute()
        assert caught.value.status_code == 410
        assert json.loads(caught.value.content) == {
            "error": {
                "code": 410,
                "message": "Sync token is no longer valid, a full sync is required.",
                "errors": [{"domain": "global", "reason": "fullSyncRequired"}],
                "status": "GONE",
            }
        }
    # a new full sync gives a working token again
    _, fresh = full_sync(fake)
    assert events.list(calendarId="primary", syncToken=fresh).execute()["items"] == []


def test_sync_token_cannot_be_combined_with_a_window(fake: FakeGoogle) -> None:
    _, token = full_sync(fake)
    with pytest.raises(HttpError) as caught:
        calendar(fake).events().list(
            calendarId="primary", syncToken=token, timeMin="2026-01-01T00:00:00Z"
        ).execute()
    assert caught.value.status_code == 400


def test_time_window_filters_by_overlap(fake: FakeGoogle) -> None:
    primary = fake.calendar.primary()
    inside = primary.add_event(
        summary="inside",
        start=datetime(2026, 5, 10, 9, tzinfo=UTC),
        end=datetime(2026, 5, 10, 10, tzinfo=UTC),
    )
    straddling = primary.add_event(
        summary="straddling",
        start=datetime(2026, 5, 1, 23, tzinfo=UTC),
        end=datetime(2026, 5, 2, 1, tzinfo=UTC),
    )
    all_day = primary.add_event(summary="all day", start=date(2026, 5, 20), end=date(2026, 5, 21))
    primary.add_event(
        summary="before",
        start=datetime(2026, 4, 1, 9, tzinfo=UTC),
        end=datetime(2026, 4, 1, 10, tzinfo=UTC),
    )
    items, _ = full_sync(fake, timeMin="2026-05-02T00:00:00Z", timeMax="2026-06-01T00:00:00+00:00")
    assert {item["id"] for item in items} == {inside["id"], straddling["id"], all_day["id"]}
    with pytest.raises(HttpError) as caught:
        calendar(fake).events().list(calendarId="primary", timeMin="2026-05-02").execute()
    assert caught.value.status_code == 400


def test_recurring_events_expand_with_single_events(fake: FakeGoogle) -> None:
    primary = fake.calendar.add_calendar(
        "team@example.com", summary="Team", time_zone="Europe/London"
    )
    master = primary.add_event(
        summary="Weekly with Dana",
        start=datetime(2026, 3, 2, 10),
        end=datetime(2026, 3, 2, 11),
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;TZID=Europe/London:20260316T100000"],
    )
    moved = primary.override_instance(
        master["id"],
        datetime(2026, 3, 9, 10),
        start=datetime(2026, 3, 10, 15),
        end=datetime(2026, 3, 10, 16),
    )
    cancelled = primary.cancel_instance(master["id"], datetime(2026, 3, 23, 10))
    events = calendar(fake).events()
    listing = events.list(
        calendarId="team@example.com", singleEvents=True, orderBy="startTime"
    ).execute()
    starts = [item["start"]["dateTime"] for item in listing["items"]]
    assert starts == [
        "2026-03-02T10:00:00+00:00",
        "2026-03-10T15:00:00+00:00",
        "2026-03-30T10:00:00+01:00",  # after the clocks change: still 10:00 in London
    ]
    assert all(item["recurringEventId"] == master["id"] for item in listing["items"])
    assert listing["items"][1]["id"] == moved["id"] == f"{master['id']}_20260309T100000Z"
    assert listing["items"][1]["originalStartTime"]["dateTime"].startswith("2026-03-09T10:00")
    with_deleted = events.list(
        calendarId="team@example.com", singleEvents=True, showDeleted=True
    ).execute()
    assert cancelled["id"] in {item["id"] for item in with_deleted["items"]}
    masters = events.list(calendarId="team@example.com").execute()["items"]
    assert {item["id"] for item in masters} == {master["id"], moved["id"]}
    one = events.get(calendarId="team@example.com", eventId=f"{master['id']}_20260302T100000Z")
    assert one.execute()["summary"] == "Weekly with Dana"
    with pytest.raises(HttpError) as caught:
        events.get(calendarId="team@example.com", eventId="missing").execute()
    assert caught.value.status_code == 404


def test_event_fields_and_malformed_events_are_served(fake: FakeGoogle) -> None:
    primary = fake.calendar.primary()
    rich = primary.add_event(
        summary="Dinner",
        start=datetime(2026, 5, 5, 19, tzinfo=UTC),
        end=datetime(2026, 5, 5, 21, tzinfo=UTC),
        location="Luigi's",
        description="bring the contract",
        visibility="private",
        eventType="default",
        hangoutLink="https://meet.google.com/abc-defg-hij",
        organizer={"email": "dana@client.example", "displayName": "Dana"},
        attendees=[
            {"email": "me@example.com", "self": True, "responseStatus": "accepted"},
            {"email": "dana@client.example", "organizer": True, "responseStatus": "tentative"},
        ],
    )
    primary.add_event({"id": "broken1", "summary": 42}, raw=True)
    items, _ = full_sync(fake)
    by_id = {item["id"]: item for item in items}
    assert by_id[rich["id"]]["attendees"][1]["responseStatus"] == "tentative"
    assert by_id[rich["id"]]["htmlLink"].endswith(rich["id"])
    assert by_id["broken1"] == {"id": "broken1", "summary": 42, "etag": by_id["broken1"]["etag"]}


def test_event_types_filter(fake: FakeGoogle) -> None:
    primary = fake.calendar.primary()
    when = {
        "start": datetime(2026, 5, 5, 9, tzinfo=UTC),
        "end": datetime(2026, 5, 5, 17, tzinfo=UTC),
    }
    meeting = primary.add_event(summary="Meeting", **when)
    primary.add_event(summary="Away", eventType="outOfOffice", **when)
    primary.add_event(summary="Heads down", eventType="focusTime", **when)
    primary.add_event({"summary": "Home", "eventType": "workingLocation", **when})
    everything, token = full_sync(fake)
    assert {e.get("eventType") for e in everything} == {
        "default",
        "outOfOffice",
        "focusTime",
        "workingLocation",
    }
    defaults, _ = full_sync(fake, eventTypes=["default"])
    assert [e["id"] for e in defaults] == [meeting["id"]]
    primary.update_event(meeting["id"], summary="Moved")
    changed = calendar(fake).events().list(calendarId="primary", syncToken=token).execute()
    assert [e["summary"] for e in changed["items"]] == ["Moved"]


def test_unknown_calendar_is_404(fake: FakeGoogle) -> None:
    with pytest.raises(HttpError) as caught:
        calendar(fake).events().list(calendarId="nobody@example.com").execute()
    assert caught.value.status_code == 404
    assert caught.value.error_details[0]["reason"] == "notFound"


# ---------------------------------------------------------------------------------------
# Partial responses
# ---------------------------------------------------------------------------------------


def test_fields_parser_and_mask() -> None:
    mask = parse_fields("items(id,start/dateTime,attendees(email)),nextPageToken")
    assert mask == {
        "items": {"id": None, "start": {"dateTime": None}, "attendees": {"email": None}},
        "nextPageToken": None,
    }
    value = {
        "kind": "x",
        "nextPageToken": "t",
        "items": [
            {
                "id": "1",
                "summary": "s",
                "start": {"dateTime": "d", "timeZone": "z"},
                "attendees": [{"email": "a", "self": True}],
            }
        ],
    }
    assert apply_fields(value, mask) == {
        "nextPageToken": "t",
        "items": [{"id": "1", "start": {"dateTime": "d"}, "attendees": [{"email": "a"}]}],
    }
    assert apply_fields({"a": {"b": 1, "c": 2}}, parse_fields("a/*")) == {"a": {"b": 1, "c": 2}}
    assert parse_fields("a,a/b") == {"a": None}
    for bad in ("", "items(id", "a,,b", "a)"):
        with pytest.raises(ValueError):
            parse_fields(bad)


def test_fields_keep_tokens_only_when_asked(fake: FakeGoogle) -> None:
    seeded_calendar(fake, 15)
    events = calendar(fake).events()
    forgetful = all_pages(
        events,
        events.list(
            calendarId="primary",
            maxResults=10,
            fields="items(id,summary,start/dateTime),nextPageToken",
        ),
    )
    assert len(forgetful) == 2
    assert "nextSyncToken" not in forgetful[-1]
    assert set(forgetful[0]) == {"items", "nextPageToken"}
    assert set(forgetful[0]["items"][0]) == {"id", "summary", "start"}
    assert set(forgetful[0]["items"][0]["start"]) == {"dateTime"}
    careful = all_pages(
        events,
        events.list(
            calendarId="primary", maxResults=10, fields="nextPageToken,nextSyncToken,items(id)"
        ),
    )
    assert "nextSyncToken" in careful[-1]
    assert set(careful[0]["items"][0]) == {"id"}
    with pytest.raises(HttpError) as caught:
        events.list(calendarId="primary", fields="items(id").execute()
    assert caught.value.status_code == 400


def test_gmail_fields_mask_on_list(fake: FakeGoogle) -> None:
    fake.gmail.mailbox().seed(3)
    page = (
        gmail(fake)
        .users()
        .messages()
        .list(userId="me", fields="messages(id),nextPageToken")
        .execute()
    )
    assert set(page) == {"messages"}
    assert all(set(m) == {"id"} for m in page["messages"])


# ---------------------------------------------------------------------------------------
# Gmail
# ---------------------------------------------------------------------------------------

DEFAULT_QUERY = "newer_than:90d -in:chats -category:promotions"


def test_messages_list_pages_query_and_batch_get_of_50(fake: FakeGoogle) -> None:
    box = fake.gmail.mailbox()
    box.seed(
        160,
        start=NOW - timedelta(days=1),
        step=timedelta(hours=-14),
        chats_every=10,
        promotions_every=7,
    )
    expected = [
        m.id
        for m in sorted(box.messages.values(), key=lambda m: m.internal_date, reverse=True)
        if "CHAT" not in m.label_ids
        and "CATEGORY_PROMOTIONS" not in m.label_ids
        and m.internal_date > (NOW - timedelta(days=90)).timestamp() * 1000
    ]
    assert 50 < len(expected) < 160
    messages = gmail(fake).users().messages()
    pages = all_pages(messages, messages.list(userId="me", q=DEFAULT_QUERY, maxResults=40))
    listed = [ref["id"] for page in pages for ref in page["messages"]]
    assert listed == expected
    assert all(page["resultSizeEstimate"] == len(expected) for page in pages)

    fake.counters.reset()
    collect = Collect()
    batch = BatchHttpRequest(callback=collect, batch_uri=fake.batch_uri("gmail"))
    for message_id in listed[:50]:
        batch.add(messages.get(userId="me", id=message_id, format="raw"), request_id=message_id)
    batch.execute(http=plain_http())
    assert len(collect.got) == 50
    assert not collect.errors()
    for message_id, (resource, _) in collect.got.items():
        assert base64.urlsafe_b64decode(resource["raw"]) == box.messages[message_id].raw
        assert resource["threadId"] == box.messages[message_id].thread_id
    assert fake.counters.http_requests == 1
    assert fake.counters.batch_requests == 1
    assert fake.counters.batch_parts == 50
    assert fake.counters.calls["gmail.users.messages.get"] == 50
    assert fake.counters.gmail_quota_units == 250


def test_messages_list_max_results_is_clamped_to_500(fake: FakeGoogle) -> None:
    fake.gmail.mailbox().seed(520)
    page = gmail(fake).users().messages().list(userId="me", maxResults=2000).execute()
    assert len(page["messages"]) == 500
    assert page["resultSizeEstimate"] == 520
    assert "nextPageToken" in page


def test_messages_list_label_ids_and_spam(fake: FakeGoogle) -> None:
    box = fake.gmail.mailbox()
    starred = box.add_message(subject="star", label_ids=["INBOX", "STARRED"])
    box.add_message(subject="plain", label_ids=["INBOX"])
    spam = box.add_message(subject="spam", label_ids=["SPAM"])
    messages = gmail(fake).users().messages()

    def ids(**params: Any) -> set[str]:
        page = messages.list(userId="me", **params).execute()
        return {m["id"] for m in page.get("messages", [])}

    assert ids(labelIds=["INBOX", "STARRED"]) == {starred.id}
    assert spam.id not in ids()
    assert ids(q="in:spam") == {spam.id}
    assert spam.id in ids(includeSpamTrash=True)
    assert messages.list(userId="me", q="subject:nothing-like-this").execute() == {
        "resultSizeEstimate": 0
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("from:dana@client", {"dana"}),
        ("-from:dana@client", {"old", "big", "chat", "promo"}),
        ('subject:"quarterly review"', {"dana"}),
        ("is:unread", {"dana", "chat"}),
        ("-is:unread in:inbox", {"old", "big", "promo"}),
        ("older_than:1y", {"old"}),
        ("newer_than:30d", {"dana", "big", "chat", "promo"}),
        ("after:2026/05/01 before:2026/05/20", {"dana", "promo"}),
        ("larger:100K", {"big"}),
        ("smaller:100K -in:chats", {"dana", "old", "promo"}),
        ("in:chats", {"chat"}),
        ("category:promotions", {"promo"}),
        ("label:Clients", {"dana"}),
        ("contract", {"dana"}),
        ('"the contract"', {"dana"}),
        ("has:attachment", {"big"}),
    ],
)
def test_query_operators(fake: FakeGoogle, query: str, expected: set[str]) -> None:
    box = fake.gmail.mailbox()
    clients = box.add_label("Clients")
    named: dict[str, GmailMessage] = {}
    named["dana"] = box.add_message(
        subject="Quarterly review",
        sender="Dana <dana@client.example>",
        body="Please sign the contract.",
        internal_date=datetime(2026, 5, 10, tzinfo=UTC),
        label_ids=["INBOX", "UNREAD", clients],
    )
    named["old"] = box.add_message(
        subject="Ancient", internal_date=datetime(2024, 1, 1, tzinfo=UTC), label_ids=["INBOX"]
    )
    attachment = EmailMessage()
    attachment["From"] = "eve@example.org"
    attachment["To"] = "me@example.com"
    attachment["Subject"] = "Big file"
    attachment.set_content("see attached")
    attachment.add_attachment(
        b"x" * 200_000, maintype="application", subtype="pdf", filename="a.pdf"
    )
    named["big"] = box.add_message(
        attachment, internal_date=datetime(2026, 5, 25, tzinfo=UTC), label_ids=["INBOX"]
    )
    named["chat"] = box.add_message(
        subject="hi", internal_date=datetime(2026, 5, 28, tzinfo=UTC), label_ids=["CHAT", "UNREAD"]
    )
    named["promo"] = box.add_message(
        subject="Sale",
        internal_date=datetime(2026, 5, 15, tzinfo=UTC),
        label_ids=["INBOX", "CATEGORY_PROMOTIONS"],
    )
    page = gmail(fake).users().messages().list(userId="me", q=query).execute()
    names = {
        name for name, m in named.items() if m.id in {r["id"] for r in page.get("messages", [])}
    }
    assert names == expected


@pytest.mark.parametrize("query", ["a OR b", "{a b}", "(a b)", "filename:pdf", "is:snoozed"])
def test_unsupported_query_is_a_loud_400(fake: FakeGoogle, query: str) -> None:
    with pytest.raises(HttpError) as caught:
        gmail(fake).users().messages().list(userId="me", q=query).execute()
    assert caught.value.status_code == 400
    assert "does not support" in details(caught.value)["message"]


def test_messages_get_formats(fake: FakeGoogle) -> None:
    box = fake.gmail.mailbox()
    mixed = EmailMessage()
    mixed["From"] = "Dana <dana@client.example>"
    mixed["To"] = "me@example.com"
    mixed["Subject"] = "Résumé"
    mixed.set_content("Hello\nthere")
    mixed.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="cv.pdf")
    stored = box.add_message(mixed, label_ids=["INBOX"])
    messages = gmail(fake).users().messages()
    full = messages.get(userId="me", id=stored.id).execute()
    assert full["payload"]["mimeType"] == "multipart/mixed"
    text, pdf = full["payload"]["parts"]
    assert text["partId"] == "0"
    assert base64.urlsafe_b64decode(text["body"]["data"]).decode() == "Hello\nthere\n"
    assert pdf["filename"] == "cv.pdf"
    assert "attachmentId" in pdf["body"]
    assert full["snippet"] == "Hello there"
    assert full["sizeEstimate"] == len(stored.raw)
    metadata = messages.get(
        userId="me", id=stored.id, format="metadata", metadataHeaders=["Subject", "From"]
    ).execute()
    assert {h["name"] for h in metadata["payload"]["headers"]} == {"Subject", "From"}
    assert "parts" not in metadata["payload"]
    minimal = messages.get(userId="me", id=stored.id, format="minimal").execute()
    assert "payload" not in minimal
    assert "raw" not in minimal
    assert minimal["labelIds"] == ["INBOX"]
    raw = messages.get(userId="me", id=stored.id, format="raw").execute()
    assert base64.urlsafe_b64decode(raw["raw"]) == stored.raw
    with pytest.raises(HttpError) as caught:
        messages.get(userId="me", id="0000000000000000").execute()
    assert caught.value.status_code == 404


def test_history_since_a_start_id_and_404_when_too_old(fake: FakeGoogle) -> None:
    box = fake.gmail.mailbox()
    box.seed(5)
    users = gmail(fake).users()
    start = users.getProfile(userId="me").execute()["historyId"]
    new = [box.add_message(subject=f"new {i}") for i in range(3)]
    box.delete_message(new[0].id)
    box.modify_labels(new[1].id, add=["STARRED"])
    history = users.history()
    added = history.list(userId="me", startHistoryId=start, historyTypes="messageAdded").execute()
    assert [r["messagesAdded"][0]["message"]["id"] for r in added["history"]] == [m.id for m in new]
    assert all(set(r) == {"id", "messages", "messagesAdded"} for r in added["history"])
    assert added["historyId"] == str(box.history_id)
    pages = all_pages(history, history.list(userId="me", startHistoryId=start, maxResults=2))
    records = [r for page in pages for r in page["history"]]
    assert len(pages) == 3
    assert [next(k for k in r if k not in ("id", "messages")) for r in records] == [
        "messagesAdded",
        "messagesAdded",
        "messagesAdded",
        "messagesDeleted",
        "labelsAdded",
    ]
    assert records[-1]["labelsAdded"][0]["labelIds"] == ["STARRED"]
    ids = [int(r["id"]) for r in records]
    assert ids == sorted(ids)
    assert all(i > int(start) for i in ids)
    # up to date: no "history" key, the current id
    current = history.list(userId="me", startHistoryId=str(box.history_id)).execute()
    assert current == {"historyId": str(box.history_id)}
    fake.switches.expire_history()
    with pytest.raises(HttpError) as caught:
        history.list(userId="me", startHistoryId=start).execute()
    assert caught.value.status_code == 404
    assert caught.value.error_details[0]["reason"] == "notFound"
    assert history.list(userId="me", startHistoryId=str(box.history_id)).execute()


def test_messages_send_records_the_raw_message(fake: FakeGoogle) -> None:
    raw = make_raw_message(subject="Digest", sender="me@example.com", to="me@example.com")
    users = gmail(fake).users()
    sent = (
        users.messages()
        .send(userId="me", body={"raw": base64.urlsafe_b64encode(raw).decode()})
        .execute()
    )
    box = fake.gmail.mailbox()
    assert box.sent == [raw]
    assert sent["labelIds"] == ["SENT"]
    assert box.messages[sent["id"]].raw == raw
    assert fake.counters.gmail_quota_units == 100
    no_recipient = base64.urlsafe_b64encode(b"Subject: x\r\n\r\nbody").decode()
    with pytest.raises(HttpError) as caught:
        users.messages().send(userId="me", body={"raw": no_recipient}).execute()
    assert caught.value.status_code == 400


def test_quota_units_follow_googles_costs(fake: FakeGoogle) -> None:
    box = fake.gmail.mailbox()
    message = box.add_message(subject="one")
    users = gmail(fake).users()
    users.getProfile(userId="me").execute()  # 1
    users.messages().list(userId="me").execute()  # 5
    users.messages().get(userId="me", id=message.id).execute()  # 5
    users.history().list(userId="me", startHistoryId=str(box.history_id)).execute()  # 2
    fake.switches.too_many_requests("gmail.users.messages.list")
    with pytest.raises(HttpError):
        users.messages().list(userId="me").execute()  # injected: free
    assert fake.counters.gmail_quota_units == 13
    assert fake.counters.gmail_quota_by_user == {"me@example.com": 13}
    assert fake.counters.calls["gmail.users.messages.list"] == 2
    calendar(fake).calendarList().list().execute()
    assert fake.counters.gmail_quota_units == 13
    snapshot = fake.counters.snapshot()
    assert snapshot["faults_injected"] == 1
    assert snapshot["statuses"] == {200: 5, 429: 1}


def test_delegation_to_another_user_is_denied(fake: FakeGoogle) -> None:
    credentials = fake.credentials(user="alice@example.com")
    users = gmail(fake, fake.http(credentials)).users()
    assert users.getProfile(userId="me").execute()["emailAddress"] == "alice@example.com"
    with pytest.raises(HttpError) as caught:
        users.getProfile(userId="bob@example.com").execute()
    assert caught.value.status_code == 403


# ---------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------


def gmail_batch(fake: FakeGoogle, count: int, callback: Collect, http: Any = None) -> None:
    box = fake.gmail.mailbox()
    ids = [m.id for m in list(box.messages.values())[:count]]
    assert len(ids) == count
    messages = gmail(fake, http).users().messages()
    batch = BatchHttpRequest(callback=callback, batch_uri=fake.batch_uri("gmail"))
    for message_id in ids:
        batch.add(messages.get(userId="me", id=message_id, format="minimal"), request_id=message_id)
    batch.execute(http=http or plain_http())


def test_batch_over_100_parts_is_rejected_like_google(fake: FakeGoogle) -> None:
    fake.gmail.mailbox().seed(101)
    with pytest.raises(HttpError) as caught:
        gmail_batch(fake, 101, Collect())
    assert caught.value.status_code == 400
    assert "Inner request count exceeds the limit. Received: 101, Limit: 100" in str(caught.value)
    assert fake.counters.batch_parts == 0
    collect = Collect()
    gmail_batch(fake, 100, collect)
    assert len(collect.got) == 100
    assert not collect.errors()


def test_batch_part_errors_are_per_part(fake: FakeGoogle) -> None:
    fake.gmail.mailbox().seed(10)
    fake.switches.too_many_requests(
        "gmail.users.messages.get", times=2, retry_after=7, where="part"
    )
    fake.switches.server_error("gmail.users.messages.get", status=503, where="part")
    collect = Collect()
    gmail_batch(fake, 10, collect)
    errors = list(collect.errors().values())
    assert sorted(e.status_code for e in errors) == [429, 429, 503]
    assert {e.resp["retry-after"] for e in errors if e.status_code == 429} == {"7"}
    assert {e.error_details[0]["reason"] for e in errors} == {"rateLimitExceeded", "backendError"}
    assert len(collect.got) - len(errors) == 7
    assert fake.counters.faults_injected == 3


def test_batch_concurrency_limit_gives_429_to_extra_parts(fake: FakeGoogle) -> None:
    fake.gmail.mailbox().seed(60)
    fake.switches.batch_concurrency = 50
    collect = Collect()
    gmail_batch(fake, 60, collect)
    assert len(collect.errors()) == 10
    assert {e.status_code for e in collect.errors().values()} == {429}


def test_calendar_batch_and_the_plain_batch_path(fake: FakeGoogle) -> None:
    ids = seeded_calendar(fake, 3)
    events = calendar(fake).events()
    collect = Collect()
    batch = BatchHttpRequest(callback=collect, batch_uri=fake.batch_uri("calendar"))
    for event_id in ids:
        batch.add(events.get(calendarId="primary", eventId=event_id), request_id=event_id)
    batch.add(events.get(calendarId="primary", eventId="nope"), request_id="missing")
    batch.execute(http=plain_http())
    assert {k: v[0]["id"] for k, v in collect.got.items() if v[1] is None} == {i: i for i in ids}
    assert collect.errors()["missing"].status_code == 404
    plain = Collect()
    batch = BatchHttpRequest(callback=plain, batch_uri=fake.url + "batch")
    batch.add(events.list(calendarId="primary", fields="items(id)"), request_id="list")
    batch.execute(http=plain_http())
    assert {item["id"] for item in plain.got["list"][0]["items"]} == set(ids)


def test_fault_scopes(fake: FakeGoogle) -> None:
    fake.gmail.mailbox().seed(2)
    messages = gmail(fake).users().messages()
    # a direct-only fault leaves batch parts alone, and "*" never hits the envelope
    fake.switches.server_error("gmail.*", times=None, where="direct")
    collect = Collect()
    gmail_batch(fake, 2, collect)
    assert not collect.errors()
    with pytest.raises(HttpError):
        messages.list(userId="me").execute()
    fake.switches.clear()
    # a fault on the envelope fails the whole batch
    fake.switches.server_error("batch")
    with pytest.raises(HttpError) as caught:
        gmail_batch(fake, 2, Collect())
    assert caught.value.status_code == 503
    gmail_batch(fake, 2, Collect())


# ---------------------------------------------------------------------------------------
# Faults the client sees
# ---------------------------------------------------------------------------------------


def test_429_carries_retry_after_and_the_client_can_retry(fake: FakeGoogle) -> None:
    messages = gmail(fake).users().messages()
    fake.switches.too_many_requests("gmail.users.messages.list", retry_after=7)
    with pytest.raises(HttpError) as caught:
        messages.list(userId="me").execute()
    assert caught.value.status_code == 429
    assert caught.value.resp["retry-after"] == "7"
    assert details(caught.value)["status"] == "RESOURCE_EXHAUSTED"
    fake.switches.too_many_requests("gmail.users.messages.list", times=2)
    assert no_backoff(messages.list(userId="me")).execute(num_retries=2) == {
        "resultSizeEstimate": 0
    }
    assert fake.counters.statuses[429] == 3


@pytest.mark.parametrize(
    ("per_user", "reason", "message"),
    [
        (False, "rateLimitExceeded", "Rate Limit Exceeded"),
        (True, "userRateLimitExceeded", "User Rate Limit Exceeded"),
    ],
)
def test_403_rate_limits(fake: FakeGoogle, per_user: bool, reason: str, message: str) -> None:
    events = calendar(fake).events()
    fake.switches.rate_limit("calendar.events.list", per_user=per_user)
    with pytest.raises(HttpError) as caught:
        events.list(calendarId="primary").execute()
    assert caught.value.status_code == 403
    assert caught.value.error_details == [
        {"message": message, "domain": "usageLimits", "reason": reason}
    ]
    # google-api-python-client treats these 403s as retryable
    fake.switches.rate_limit("calendar.events.list", per_user=per_user)
    assert no_backoff(events.list(calendarId="primary")).execute(num_retries=1)["items"] == []


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors(fake: FakeGoogle, status: int) -> None:
    events = calendar(fake).events()
    fake.switches.server_error("calendar.*", status=status)
    with pytest.raises(HttpError) as caught:
        events.list(calendarId="primary").execute()
    assert caught.value.status_code == status
    assert caught.value.error_details[0]["reason"] == "backendError"
    fake.switches.server_error("calendar.*", status=status)
    assert no_backoff(events.list(calendarId="primary")).execute(num_retries=1)["items"] == []


def test_injected_410_and_404(fake: FakeGoogle) -> None:
    _, token = full_sync(fake)
    fake.switches.fail("calendar.events.list", 410)
    with pytest.raises(HttpError) as caught:
        calendar(fake).events().list(calendarId="primary", syncToken=token).execute()
    assert caught.value.error_details == [{"domain": "global", "reason": "fullSyncRequired"}]
    fake.switches.fail("gmail.users.history.list", 404)
    with pytest.raises(HttpError) as caught:
        gmail(fake).users().history().list(userId="me", startHistoryId="1").execute()
    assert caught.value.status_code == 404


def test_disabled_api(fake: FakeGoogle) -> None:
    fake.switches.disable_api("gmail")
    with pytest.raises(HttpError) as caught:
        gmail(fake).users().getProfile(userId="me").execute()
    assert caught.value.status_code == 403
    assert caught.value.error_details[0]["reason"] == "accessNotConfigured"
    assert calendar(fake).calendarList().list().execute()["items"]


def test_dropped_connections(fake: FakeGoogle) -> None:
    users = gmail(fake).users()
    # httplib2 quietly retries one dropped connection
    fake.switches.drop_connections("gmail.users.getProfile")
    assert users.getProfile(userId="me").execute()["emailAddress"] == "me@example.com"
    assert fake.counters.dropped == 1
    assert fake.counters.http_requests == 2
    # two in a row reach the caller
    fake.switches.drop_connections("gmail.users.getProfile", times=2)
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        users.getProfile(userId="me").execute()
    assert fake.counters.dropped == 3
    assert users.getProfile(userId="me").execute()["emailAddress"] == "me@example.com"


def test_latency_is_per_http_request(fake: FakeGoogle) -> None:
    fake.gmail.mailbox().seed(20)
    users = gmail(fake).users()
    users.getProfile(userId="me").execute()  # open the connection first
    fake.switches.set_latency(0.05)
    started = time.monotonic()
    users.getProfile(userId="me").execute()
    assert time.monotonic() - started >= 0.05
    started = time.monotonic()
    gmail_batch(fake, 20, Collect())
    elapsed = time.monotonic() - started
    assert 0.05 <= elapsed < 20 * 0.05


# ---------------------------------------------------------------------------------------
# OAuth
# ---------------------------------------------------------------------------------------


def test_credentials_refresh_against_the_token_endpoint(fake: FakeGoogle) -> None:
    credentials = fake.credentials()
    users = gmail(fake, fake.http(credentials)).users()
    users.getProfile(userId="me").execute()
    first = credentials.token
    assert first.startswith("ya29.")
    assert fake.counters.http_by_endpoint["oauth.token"] == 1
    assert fake.oauth.grants[0]["grant_type"] == "refresh_token"
    # the server forgets the access token: 401, the client refreshes and retries
    fake.switches.revoke_access_token(first)
    users.getProfile(userId="me").execute()
    assert credentials.token != first
    assert fake.counters.http_by_endpoint["oauth.token"] == 2
    assert fake.counters.statuses[401] == 1
    assert fake.counters.api_http_requests == 3


def test_revoked_refresh_token_fails_with_invalid_grant(fake: FakeGoogle) -> None:
    credentials = fake.credentials()
    users = gmail(fake, fake.http(credentials)).users()
    users.getProfile(userId="me").execute()
    fake.switches.revoke_refresh_token(credentials.refresh_token)
    fake.switches.revoke_all_access_tokens()
    with pytest.raises(RefreshError, match="invalid_grant"):
        users.getProfile(userId="me").execute()


def test_batch_parts_with_a_stale_token_are_refreshed(fake: FakeGoogle) -> None:
    fake.gmail.mailbox().seed(3)
    credentials = fake.credentials()
    authorized = fake.http(credentials)
    gmail(fake, authorized).users().getProfile(userId="me").execute()
    fake.oauth.revoke_access_token(credentials.token)
    collect = Collect()
    gmail_batch(fake, 3, collect, authorized)
    assert len(collect.got) == 3
    assert not collect.errors()
    assert fake.counters.http_by_endpoint["oauth.token"] >= 2


def test_require_auth(fake: FakeGoogle) -> None:
    fake.oauth.require_auth = True
    users = gmail(fake).users()
    with pytest.raises(HttpError) as caught:
        users.getProfile(userId="me").execute()
    assert caught.value.status_code == 401
    assert caught.value.error_details[0]["reason"] == "required"
    assert caught.value.resp["www-authenticate"].startswith("Bearer")
    bogus = httplib2.Http(timeout=10)
    response, content = bogus.request(
        fake.url + "gmail/v1/users/me/profile", headers={"Authorization": "Bearer nope"}
    )
    assert response.status == 401
    assert json.loads(content)["error"]["errors"][0]["reason"] == "authError"
    token = fake.oauth.issue_access_token()
    response, _ = bogus.request(
        fake.url + "gmail/v1/users/me/profile", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 200


def service_account_info(fake: FakeGoogle) -> dict[str, str]:
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "fake",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "robot@fake.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": fake.token_uri,
    }


def test_service_account_with_domain_wide_delegation(fake: FakeGoogle) -> None:
    from google.oauth2 import service_account

    base = service_account.Credentials.from_service_account_info(
        service_account_info(fake), scopes=["https://www.googleapis.com/auth/gmail.readonly"]
    )
    alice = base.with_subject("alice@example.com")
    profile = gmail(fake, fake.http(alice)).users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == "alice@example.com"
    fake.oauth.deny_subject("mallory@example.com")
    with pytest.raises(RefreshError, match="unauthorized_client"):
        gmail(fake, fake.http(base.with_subject("mallory@example.com"))).users().getProfile(
            userId="me"
        ).execute()


def test_installed_app_authorization_code_flow(fake: FakeGoogle) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    try:
        query = "redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F&state=xyz&scope=s&login_hint=bo%40x.org"
        connection.request("GET", "/o/oauth2/auth?" + query)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 302
    location = parse_qs(urlsplit(response.getheader("Location", "")).query)
    assert location["state"] == ["xyz"]
    status, grant = fake.oauth.token_endpoint(
        {"grant_type": ["authorization_code"], "code": location["code"]}
    )
    assert status == 200
    assert fake.oauth.refresh_tokens[grant["refresh_token"]] == "bo@x.org"
    status, _ = fake.oauth.token_endpoint(
        {"grant_type": ["authorization_code"], "code": location["code"]}
    )
    assert status == 400


# ---------------------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------------------


def test_reset_forgets_everything(fake: FakeGoogle) -> None:
    fake.gmail.mailbox().seed(3)
    fake.switches.server_error("gmail.*", times=None)
    with pytest.raises(HttpError):
        gmail(fake).users().getProfile(userId="me").execute()
    fake.reset()
    assert gmail(fake).users().getProfile(userId="me").execute()["messagesTotal"] == 0
    assert fake.counters.http_requests == 1
    assert len(fake.requests) == 1


def test_server_stops_promptly_even_with_open_connections() -> None:
    fake = FakeGoogle().start()
    url = fake.url
    outcome: list[object] = []

    def slow_request() -> None:
        try:
            outcome.append(plain_http().request(url + "gmail/v1/users/me/profile")[0].status)
        except (OSError, http.client.HTTPException) as error:
            outcome.append(error)

    try:
        plain_http().request(url + "gmail/v1/users/me/profile")  # an idle keep-alive socket
        fake.switches.set_latency(5)
        waiting = threading.Thread(target=slow_request, daemon=True)
        waiting.start()
        deadline = time.monotonic() + 5
        while fake.counters.http_requests < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        started = time.monotonic()
        fake.stop()
    assert time.monotonic() - started < 3
    waiting.join(5)
    assert len(outcome) == 1
    assert not isinstance(outcome[0], int)  # cut off, not answered
    assert not fake.running
    with pytest.raises(OSError):
        httplib2.Http(timeout=2).request(url + "gmail/v1/users/me/profile")
