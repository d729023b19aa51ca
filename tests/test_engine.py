"""The engine's parts: lexicons, the scanner's two backends, conditions, evaluation."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from linter import contacts, packs
from linter.engine import Engine, condition
from linter.engine.hours import WorkingHours, parse_days
from linter.engine.lexicon import Term, _form_body, form_pattern, inflections, term_patterns
from linter.engine.rules import from_data
from linter.engine.scanner import Pattern, Scanner, available_backends
from linter.model import Event, Message, Participant
from linter.yamlfile import ConfigError, parse

from .conftest import ENRON


def scan(words: list[str], text: str, backend: str) -> list[str]:
    patterns = [
        Pattern("g", i, regex)
        for i, w in enumerate(words)
        for regex in term_patterns(Term(w).all_forms())
    ]
    return [text[h.start : h.end] for h in Scanner(patterns, backend).scan(text)]


def test_plain_forms_take_the_short_way_to_the_same_pattern() -> None:
    forms = {
        form
        for lexicon in packs.load([packs.resolve("builtin", packs.data_dir())]).lexicons.values()
        for term in lexicon.terms
        for form in term.all_forms()
    }
    forms |= {"two  spaces", "under_score", " lead", "trail ", "x"}
    plain = 0
    for form in sorted(forms):
        left = r"\b" if re.match(r"\w", form[0]) else ""
        right = r"\b" if re.match(r"\w", form[-1]) or form.endswith("*") else ""
        assert form_pattern(form) == left + _form_body(form, True) + right, form
        plain += form.replace(" ", "").isalnum()
    assert plain > 1000


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


WORDS_RULE = """\
id: XW101
name: words
title: t
severity: info
applies_to: [message]
principles: [P1]
select:
  words: {text|lexicon: words}
condition: words
message: "{words}"
advice: x
"""


def lexicon_scanner(terms: list[Term], backend: str) -> Scanner:
    """The scanner an engine compiles for a lexicon of ``terms``."""
    from linter.engine.lexicon import Lexicon

    lexicons = {"words": Lexicon("words", tuple(terms))}
    rule = from_data(parse(WORDS_RULE, "r.yaml"), "r.yaml", lexicons, packs.principles())
    return Engine([rule], lexicons, contacts.Directory(), backend=backend).scanner


def words(terms: list[Term], text: str, backend: str) -> list[str]:
    return [text[h.start : h.end] for h in lexicon_scanner(terms, backend).scan(text)]


@pytest.mark.parametrize("backend", available_backends())
def test_each_form_has_its_own_word_boundaries(backend: str) -> None:
    # the first form ends in a full stop, yet "am" must still end a word ("amount")
    am = Term("a.m.", forms=("am",), inflect=False)
    assert words([am], "The amount is due at 9 am, or 10 a.m.", backend) == ["am", "a.m."]
    # the first form ends a word, yet "inc." needs no word boundary after its full stop
    inc = Term("inc", forms=("inc.",), inflect=False)
    assert words([inc], "Acme Inc. and Incline", backend) == ["Inc."]


@pytest.mark.parametrize("backend", available_backends())
def test_a_form_failing_its_boundary_hides_no_other_match(backend: str) -> None:
    # "a curry" ends where "curry" does, but starts inside "Wanda": only "Curry" counts
    curry = Term("curry", forms=("a curry",), inflect=False)
    assert words([curry], "Dinner with Wanda Curry, then a curry.", backend) == [
        "Curry",
        "a curry",
    ]
    # one form with two starts for one end: "ha haha" starts inside "aha", "haha" does not
    laugh = Term("ha-ha*", inflect=False)
    assert words([laugh], "aha haha", backend) == ["haha"]


CRAFTED_TERMS = [
    Term("a.m.", forms=("am",), inflect=False),
    Term("inc", forms=("inc.",), inflect=False),
    Term("curry", forms=("a curry", "curry night", "over a curry")),
    Term("ha-ha*", inflect=False),
    Term("so-so", inflect=False),
    Term("invoic*", inflect=False),
    Term("over drinks"),
    Term("kick-off"),
    Term("café"),
    Term("'s house", forms=("'s place",), inflect=False),
    Term("-ish", inflect=False),
    Term("pub"),
    Term("étude", forms=("Étude",), inflect=False),
]
CRAFTED_TEXTS = [
    "The amount is due at 9 am, or 10 a.m.; AM/PM.",
    "Acme Inc. and Incline, inc",
    "Dinner with Wanda Curry, then a curry. Wanda Curry night! Go over a Curry",
    "aha haha, a-ha-haha, ha-haha hahaha",
    "so-so so so-so soso, also-so",
    "invoices invoiced reinvoice invoicé invoic_e",
    "over\xa0drinks, over\u2028drinks, over \t- drinks, OVER DRINKS",
    "\u212aick-off, kick\u2010off, KICK OFF, kickoff",
    "CAFÉ, Café, café-bar, cafés, xcafé",
    "Dana's place, Dana’s house, Dana 's house, s house",
    "green-ish, greenish, -ish, x -ish",
    "public pub pubs pubé épub pub_ _pub \u212apub pub\u212a ſpub PUB-lic",
    "étude études xétude étudex Étude ÉTUDE é-étude",
]


@pytest.mark.skipif(len(available_backends()) < 2, reason="only one backend installed")
def test_backends_agree_on_crafted_text() -> None:
    import random

    fast = lexicon_scanner(CRAFTED_TERMS, "hyperscan")
    slow = lexicon_scanner(CRAFTED_TERMS, "re")
    texts = list(CRAFTED_TEXTS)
    # and shuffled pieces of them: forms meeting each other, separators and odd letters
    rng = random.Random(11)
    pieces = [w for t in CRAFTED_TEXTS for w in re.split(r"([\s,.;!/]+)", t)]
    pieces += [" ", "-", "\n\n", "\xa0", "é", "ſ", "K", "_", "’", "'"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    for text in texts:
        assert fast.scan(text) == slow.scan(text), text


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


NEAR_NAMES = """
id: XX901
name: near-names
title: t
severity: warning
applies_to: [message]
principles: [P6]
select:
  me: {sender|me: true}
  slur: {body|mentions: {who: other_client, near: disparaging, within: 4, same_paragraph: true}}
  outsider: {recipients|client: false, recipients|internal: false}
  colleague: {recipients|internal: true}
  split: {body|near: {a: social, b: commercial, within: 10, same_paragraph: true}}
condition: me and (slur or split) and 1 of outsider or colleague and not me
message: "{slur} {outsider} {colleague}"
advice: x
"""


def _near_names_engine() -> Engine:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    text = NEAR_NAMES.replace(
        "condition: me and (slur or split) and 1 of outsider or colleague and not me",
        "condition: me and (slur or split)",
    )
    rule = from_data(parse(text, "r.yaml"), "r.yaml", ruleset.lexicons, packs.principles())
    directory = contacts.loads(
        "me: [sam@studio.example]\ninternal_domains: [studio.example]\nclients:\n"
        "  - {name: Dana Ng, org: Acme Ltd, emails: [dana@acme.example]}\n"
    )
    return Engine([rule], ruleset.lexicons, directory)


def _mail(body: str, to: str = "jess@mail.example") -> Message:
    return Message(
        source="t",
        locator="1",
        id=body[:20],
        title="x",
        body=body,
        sender=Participant("sam@studio.example", role="from"),
        recipients=(Participant(to, role="to"),),
    )


def test_mentions_near_a_lexicon() -> None:
    engine = _near_names_engine()
    fired = list(engine.check(_mail("Acme are clueless about their own data.")))
    assert len(fired) == 1
    assert {e.words for e in fired[0].evidence} >= {"Acme", "clueless"}
    # the name and the word further apart than `within`
    assert not list(engine.check(_mail("Acme launched today. The drive home was a nightmare.")))
    # a blank line between them: another paragraph
    assert not list(engine.check(_mail("Acme were lovely.\n\nClueless.")))


def test_near_within_one_paragraph() -> None:
    engine = _near_names_engine()
    assert list(engine.check(_mail("Drinks on Friday? Bring the invoice.")))
    assert not list(engine.check(_mail("Drinks on Friday?\n\nInvoice attached.")))


def test_internal_recipients_are_colleagues() -> None:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    rule = from_data(parse(NEAR_NAMES, "r.yaml"), "r.yaml", ruleset.lexicons, packs.principles())
    directory = contacts.loads(
        "me: [sam@studio.example]\ninternal_domains: [studio.example]\nclients:\n"
        "  - {name: Dana Ng, org: Acme Ltd, emails: [dana@acme.example]}\n"
    )
    engine = Engine([rule], ruleset.lexicons, directory)
    context_rule = rule.selections
    from linter.engine.context import Context

    outside = Context(engine, _mail("hi", to="jess@mail.example"))
    colleague = Context(engine, _mail("hi", to="mia@london.studio.example"))
    client = Context(engine, _mail("hi", to="dana@acme.example"))
    assert context_rule["outsider"].test(outside)
    assert not context_rule["colleague"].test(outside)
    assert context_rule["colleague"].test(colleague)  # a subdomain of an internal domain
    assert not context_rule["outsider"].test(colleague)
    assert not context_rule["outsider"].test(client)


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ("{body|mentions: {who: other_client}}", "needs `near: LEXICON`"),
        ("{body|mentions: {who: a_client, near: social}}", "takes other_client or any_client"),
        ("{body|mentions: {near: socal}}", "unknown lexicon `socal`"),
        ("{body|mentions: {near: social, within: -1}}", "`within` must be a number"),
        ("{body|near: {a: social, b: business, same_paragraph: 1}}", "expected true or false"),
        ("{recipients|internal: yes please}", "expected true or false"),
    ],
)
def test_new_modifiers_reject_bad_values(selection: str, message: str) -> None:
    text = (
        "id: XX999\nname: x\ntitle: x\nseverity: info\napplies_to: [message]\n"
        f"principles: [P1]\nselect:\n  s: {selection}\ncondition: s\nmessage: x\nadvice: x\n"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_data(parse(text, "t.yaml"), "t.yaml", {"social", "business"})


WEIGHTED = """\
id: XY101
name: weighted
title: t
severity: info
applies_to: [message]
principles: [P1]
select:
  money: {body|lexicon: {name: money, min: 2}}
condition: money
message: "{money}"
advice: x
"""


def test_term_weights_count_towards_min() -> None:
    from linter.engine.lexicon import Lexicon

    lexicon = Lexicon("money", (Term("invoice", 2.0), Term("fee"), Term("budget")))
    rule = from_data(parse(WEIGHTED, "r.yaml"), "r.yaml", {"money": lexicon}, packs.principles())
    directory = contacts.loads("me: [sam@studio.example]\n")
    engine = Engine([rule], {"money": lexicon}, directory)
    assert list(engine.check(_mail("Here is the invoice.")))  # one term of weight 2
    assert not list(engine.check(_mail("What is the fee?")))  # weight 1 < min 2
    assert list(engine.check(_mail("The fee fits the budget.")))  # two distinct terms
    assert not list(engine.check(_mail("Fee, fee and fee again.")))  # distinct terms count


def test_short_fields_of_a_long_text_are_scanned_alone() -> None:
    from linter.engine.context import APART, Context

    engine = _engine_with_default_pack()
    body = ("Over drinks we went through the invoice. " * (APART // 20)) + "A pint?"
    mail = Message(
        source="t",
        locator="1",
        id="long",
        title="Drinks and the contract, then a pint",
        body=body,
        location="the pub",
        sender=Participant("dana@acme.example", role="from"),
    )
    groups = ["lexicon:social", "lexicon:commercial", "lexicon:venue"]
    apart = Context(engine, mail)
    joined = Context(engine, mail)
    joined.hits(("title", "body", "location"), groups)  # the whole text, scanned first
    for fields in (("title",), ("location",), ("title", "location")):
        assert apart.hits(fields, groups) == joined.hits(fields, groups), fields
    assert "lexicon:venue" not in apart._by_group  # only its short fields were scanned
    assert apart.hits(("body",), groups) == joined.hits(("body",), groups)


def test_clients_met_are_looked_up_when_asked_for() -> None:
    engine = _engine_with_default_pack(
        "me: [sam@studio.example]\nclients:\n"
        "  - {name: Dana Ng, org: Acme Ltd, emails: [dana@acme.example], relationship: friend}\n"
        "  - {name: Lee Ho, emails: [lee@ho.example], relationship: friend}\n"
    )
    assert not list(engine.check_directory(only_seen=True))  # nobody met yet
    list(engine.check(_mail("Hello", to="dana@acme.example")))
    list(engine.check(_mail("Hello", to="sam@studio.example")))
    assert engine.seen_clients == {"acme ltd"}
    found = [f.item.title for f in engine.check_directory(only_seen=True)]
    assert found == ["Dana Ng (Acme Ltd)"]
    assert len(list(engine.check_directory())) == 2
    auditing = _engine_with_default_pack(  # every correspondent a client, none by name
        "me: [sam@studio.example]\nclients:\n"
        "  - {name: Everyone, domains: ['*'], relationship: friend}\n"
    )
    list(auditing.check(_mail("Hello", to="dana@acme.example")))
    assert not auditing._unseen and not list(auditing.check_directory(only_seen=True))


def _engine_with_default_pack(directory: str = "me: [sam@studio.example]\n") -> Engine:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    return Engine(ruleset.rules, ruleset.lexicons, contacts.loads(directory))


def test_a_selection_holds_exactly_where_it_gives_evidence() -> None:
    """Conditions ask ``holds`` (which stops at the first person who passes, and
    gathers no evidence); findings show ``test``'s evidence: the two must agree on
    every selection of every default rule, for every demo item."""
    from linter import lintrun
    from linter.engine.context import Context
    from linter.sources import iter_items

    from .conftest import EXAMPLES

    setup = lintrun.prepare(str(EXAMPLES / "clientline.yaml"))
    engine = setup.engine
    paths = [str(EXAMPLES / "calendar.ics"), str(EXAMPLES / "mailbox.mbox")]
    checked = held = 0
    for item in iter_items(paths, setup.window):
        if isinstance(item, Event | Message):
            for rule in engine.by_kind[item.kind]:
                for selection in rule.selections.values():
                    holds = selection.holds(Context(engine, item))
                    assert holds == (selection.test(Context(engine, item)) is not None)
                    checked, held = checked + 1, held + holds
    assert checked > 1000 and 0 < held < checked
