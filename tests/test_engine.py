"""The engine's parts: lexicons, the scanner's two backends, conditions, evaluation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from linter import contacts, packs
from linter.engine import Engine, condition
from linter.engine.hours import WorkingHours, parse_days
from linter.engine.lexicon import Term, inflections, term_pattern
from linter.engine.rules import from_data
from linter.engine.scanner import Pattern, Scanner, available_backends
from linter.model import Event, Message, Participant
from linter.yamlfile import parse

from .conftest import ENRON


def scan(words: list[str], text: str, backend: str) -> list[str]:
    patterns = [Pattern("g", i, term_pattern(Term(w).all_forms())) for i, w in enumerate(words)]
    return [text[h.start : h.end] for h in Scanner(patterns, backend).scan(text)]


@pytest.mark.parametrize("backend", available_backends())
def test_terms_match_whole_words_any_case_with_inflections(backend: str) -> None:
    text = "Fees and INVOICES over coffee; invoiced late, a feeble excuse."
    assert scan(["fee", "invoice"], text, backend) == ["Fees", "INVOICES", "invoiced"]


@pytest.mark.parametrize("backend", available_backends())
def test_phrases_span_spaces_line_breaks_and_hyphens(backend: str) -> None:
    text = "Let's review it over\n  drinks, then a follow up and a catch-up."
    found = scan(["over drinks", "follow-up", "catch up"], text, backend)
    assert found == ["over\n  drinks", "follow up", "catch-up"]


@pytest.mark.parametrize("backend", available_backends())
def test_apostrophes_and_non_ascii_words(backend: str) -> None:
    text = "Mates’ rates for the Café? MÜLLER said the café and the Müllerei."
    assert scan(["mates' rates", "café", "müller"], text, backend) == [
        "Mates’ rates",
        "Café",
        "MÜLLER",
        "café",
    ]


@pytest.mark.parametrize("backend", available_backends())
def test_leftmost_longest_within_a_group(backend: str) -> None:
    assert scan(["contract", "contract review"], "the contract review", backend) == [
        "contract review"
    ]


def test_inflections() -> None:
    assert {"invoices", "invoiced", "invoicing"} <= set(inflections("invoice"))
    assert {"parties", "partied"} <= set(inflections("party"))
    assert {"chatting", "chats"} <= set(inflections("chat"))
    assert "glass of wines" in inflections("glass of wine")  # last word only
    assert inflections("at") == []


@pytest.mark.skipif(len(available_backends()) < 2, reason="only one backend installed")
def test_backends_agree_on_real_mail() -> None:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    engine = Engine(ruleset.rules, ruleset.lexicons, contacts.Directory(), backend="re")
    fast = Scanner(engine.scanner.patterns, "hyperscan")
    files = sorted(ENRON.glob("*/*.eml"))[:200] if ENRON.is_dir() else []
    texts = [f.read_text("latin-1") for f in files] or ["drinks and the invoice, fees"]
    for text in texts:
        assert fast.scan(text) == engine.scanner.scan(text)


def test_condition_precedence_and_quantifiers() -> None:
    names = ["a", "b", "sel_x", "sel_y"]
    node = condition.parse("a or b and not sel_x", names)
    truth = {"a": False, "b": True, "sel_x": False, "sel_y": False}
    assert node.evaluate(truth.__getitem__)
    node = condition.parse("all of sel_* or (1 of them and not a)", names)
    assert node.evaluate({"a": False, "b": True, "sel_x": False, "sel_y": False}.__getitem__)
    assert not node.evaluate({"a": True, "b": True, "sel_x": True, "sel_y": False}.__getitem__)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("a and", "ends too early", 5),
        ("a and bee", "unknown selection `bee`", 6),
        ("(a or b", "missing `)`", 7),
        ("1 of zz*", "matches no selection", 5),
        ("a ! b", "unexpected character", 2),
    ],
)
def test_condition_errors_say_where(text: str, message: str, column: int) -> None:
    with pytest.raises(condition.ConditionError) as error:
        condition.parse(text, ["a", "b"])
    assert message in str(error.value)
    assert error.value.column == column


def test_working_hours_in_the_users_timezone() -> None:
    from zoneinfo import ZoneInfo

    hours = WorkingHours(parse_days("mon-fri"), dt.time(9), dt.time(18), ZoneInfo("Europe/London"))
    evening = dt.datetime(2026, 7, 1, 17, 30, tzinfo=dt.UTC)  # 18:30 in London (BST)
    assert hours.outside(evening)
    assert not hours.outside(dt.datetime(2026, 1, 7, 17, 30, tzinfo=dt.UTC))  # 17:30 GMT
    assert hours.outside(dt.datetime(2026, 7, 4, 12, tzinfo=dt.UTC))  # a Saturday
    assert parse_days("fri-mon") == frozenset({4, 5, 6, 0})


RULE = """
id: XX101
name: evening-drinks-with-friend-clients
title: Drinks after hours with a friend-client, with a deck
severity: info
applies_to: [event]
principles: [P1]
select:
  friend: {participants|client: true, participants|relationship: friend}
  late: {start|outside_hours: true}
  drinks: {title|contains: [drinks, a pint]}
  deck: {text|all: [deck, review]}
  nearby: {body|near: {a: social, b: commercial, within: 3}}
  odd: {text|re: '(?i)\\bq[1-4]\\b'}
condition: friend and late and drinks and (deck or nearby or odd)
message: "{item.title} at {item.start}: {friend} / {drinks} / {late}"
advice: Split it.
"""


def test_a_rule_using_many_modifiers(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    rule = from_data(parse(RULE, "r.yaml"), "r.yaml", ruleset.lexicons, packs.principles())
    directory = contacts.loads(
        "me: [sam@studio.example]\nclients:\n"
        "  - {name: Dana Ng, emails: [dana@acme.example], relationship: friend}\n"
        "  - {name: Lee Park, emails: [lee@birch.example]}\n"
    )
    engine = Engine([rule], ruleset.lexicons, directory, WorkingHours(tz=ZoneInfo("Europe/London")))

    def event(title: str, body: str = "", who: str = "dana@acme.example", hour: int = 19) -> Event:
        return Event(
            source="t",
            locator="1",
            id=title,
            title=title,
            body=body,
            start=dt.datetime(2026, 3, 12, hour, tzinfo=dt.UTC),
            recipients=(Participant(who, role="attendee"),),
        )

    fired = list(engine.check(event("Drinks: review the deck")))
    assert len(fired) == 1
    assert fired[0].message == (
        "Drinks: review the deck at 2026-03-12 19:00: Dana Ng / Drinks / Thu 12 Mar 19:00"
    )
    assert {e.selection for e in fired[0].evidence} == {"friend", "late", "drinks", "deck"}
    assert list(engine.check(event("Drinks", "dinner then the invoice")))  # near, 2 words
    assert not list(engine.check(event("Drinks", "dinner and then later on the invoice")))
    assert list(engine.check(event("Q3 drinks")))  # re
    assert not list(engine.check(event("Drinks: review the deck", hour=12)))  # in hours
    assert not list(engine.check(event("Drinks: review the deck", who="lee@birch.example")))
    assert not list(engine.check(event("Drinks: the deck")))  # `all` needs both words


def test_messages_never_see_event_rules() -> None:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    directory = contacts.loads("clients:\n  - {name: D, emails: [d@x.example]}\n")
    engine = Engine(ruleset.rules, ruleset.lexicons, directory)
    message = Message(
        source="t",
        locator="1",
        id="m",
        title="Contract review over drinks",
        sender=Participant("d@x.example", role="from"),
    )
    assert all(f.rule != "CL101" for f in engine.check(message))
