"""The fast paths give the answers of the slow ones they replace.

Each shortcut here (the header reader, the quoted-text markers found from their
anchors, the scanner's first pass and bounded scans, the rule gate, parsed YAML kept
between runs) is checked against the straightforward way of getting the same answer.
"""

from __future__ import annotations

import email
import json
import os
import random
import re
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from linter import packs, yamlfile
from linter.contacts import Directory
from linter.contacts import load as load_contacts
from linter.engine import Engine
from linter.engine import context as context_module
from linter.engine import scanner as scanner_module
from linter.engine.context import WINDOWED, Context, FieldHit
from linter.engine.gate import Gate, first_scans, preconditions, rule_needs
from linter.engine.predicates import (
    MAX_WORD_LENGTH,
    MentionPredicate,
    NearPredicate,
    _close_pair,
)
from linter.engine.scanner import (
    FIRST_PASS_LIMIT,
    Hit,
    Pattern,
    Scanner,
    Source,
    TextScan,
    _fewest,
    available_backends,
)
from linter.engine.separators import (
    LONG_RUN,
    bounded,
    necessary_literals,
    without_separators,
)
from linter.model import Message, Participant, Problem
from linter.sources import chunks, mime
from linter.sources.mbox import _unescape_from
from linter.text import split_reply
from linter.yamlcache import ParsedDocuments

from .conftest import ENRON, EXAMPLES

needs_hyperscan = pytest.mark.skipif(
    "hyperscan" not in available_backends(), reason="the first pass needs Hyperscan"
)


def _engine() -> Engine:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    return Engine(ruleset.rules, ruleset.lexicons, Directory())


# -- headers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"Subject: plain\nTo: a@x.example, b@x.example\n",
        b"Subject:   folded\n  over two lines\nX-Empty:\nTo: a@x.example\n",
        b" leading continuation\nSubject: s\n:no name\n continued\nTo: t@x.example\n",
        b"Subject: caf\xe9 bytes\nFrom: \xc3\xa9@x.example\n",
        b"Subject: s\nnot a header line\nTo: lost@x.example\n",
    ],
)
def test_header_fields_split_as_the_stdlib_splits_them(head: bytes) -> None:
    data = head + b"\nbody\n"
    stdlib = email.message_from_bytes(head)
    part = mime.parse(data)
    assert part.fields == list(stdlib.raw_items())
    for name in ("subject", "to", "from", "x-empty"):
        assert part.get(name) == (None if stdlib.get(name) is None else str(stdlib.get(name)))


def test_bodies_are_decoded_as_the_stdlib_decodes_them() -> None:
    for encoding, body in (
        ("base64", b"aGVsbG8gd29y\nbGQ=\n"),
        ("quoted-printable", b"caf=E9=\nx\n"),
    ):
        data = b"Content-Transfer-Encoding: " + encoding.encode() + b"\n\n" + body
        assert mime.parse(data).payload() == email.message_from_bytes(data).get_payload(decode=True)


def test_odd_messages_go_through_the_stdlib_parser() -> None:
    multipart = (
        b'Content-Type: multipart/alternative; boundary="b"\n\n--b\n'
        b"Content-Type: text/plain\n\nplain\n--b--\n"
    )
    part = mime.parse(multipart)
    assert part.children is not None and part.children[0].payload() == b"plain"
    crlf = mime.parse(b"Subject: s\r\n\r\nbody\r\n")
    assert crlf.get("subject") == "s" and crlf.payload() == b"body\r\n"


def test_from_escapes_are_undone_only_at_line_starts() -> None:
    escaped = re.compile(rb"(?m)^>(>*)From ")
    rng = random.Random(5)
    pieces = [b">From ", b">>From ", b"From ", b"\n", b"x", b">"]
    for _ in range(2000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        assert _unescape_from(data) == escaped.sub(rb"\1From ", data)


# -- quoted text -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("-- \nsig\n\nhello\n-- \nmore", ""),  # a signature line opening the text
        ("hi\n-- \nsig", "hi"),
        ("Thanks!\n\nOn Tue, 3 Mar 2026 at 10:02, Dana\n<d@x.example> wrote:\n> old", "Thanks!"),
        ("Fine.\nJane Doe\n10/23/2000 02:32 PM\nTo: Sam\nold text", "Fine."),
        ("a > b is fine\n  > but this is quoted\nend", "a > b is fine\nend"),
        ("See below\n-----Original Message-----\nFrom: x", "See below"),
    ],
)
def test_markers_found_from_their_anchors(text: str, new: str) -> None:
    assert split_reply(text)[0] == new


# -- scanning ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "rewritten"),
    [
        (r"pay[\s\-]+you[\s\-]+in[\s\-]+pints", "payyouinpints"),
        (r"(?:follow[\s\-]?up|catch[\s\-]?up)", "(?:followup|catchup)"),
        (r"mates['’][\s\-]+rates", "mates['’]rates"),
        (r"invoic\w*", r"invoic\w*"),
        (r"a\sb", None),  # a separator the rewriting does not own
        (r"x[\s\-]*|y", "x|y"),
        (r"(?:[\s\-]+|a)", None),  # an alternative that would match nothing
        (r"a.b", None),
    ],
)
def test_separators_are_taken_out_only_when_that_is_safe(
    expression: str, rewritten: str | None
) -> None:
    assert without_separators(expression) == rewritten


@pytest.mark.parametrize(
    ("expression", "limited"),
    [
        (r"pay[\s\-]+you", r"pay[\s\-]{1,8}you"),
        (r"follow[\s\-]?up[\s\-]+call", r"follow[\s\-]?up[\s\-]{1,8}call"),
        (r"a\sb", None),  # a separator the rewriting does not own: runs must stay as they are
    ],
)
def test_separator_runs_are_bounded_only_when_that_is_safe(
    expression: str, limited: str | None
) -> None:
    assert LONG_RUN == 8
    assert bounded(expression) == limited


@pytest.mark.parametrize(
    ("expression", "bounds", "compiled"),
    [
        ("pub", (True, True), r"\bpub\b"),
        (r"pay[\s\-]{1,8}you", (True, False), r"\bpay[\s\-]{1,8}you"),
        ("caf[éÉ]", (True, True), r"\bcaf[éÉ]"),  # an end that may be no ASCII letter
        (r"invoic\w*", (True, True), r"\binvoic\w*"),
        ("s?pub", (True, True), r"s?pub\b"),  # an optional first letter
        (r"inc\.", (True, False), r"\binc\."),
        ("a|bc", (True, True), "a|bc"),  # a \b would bind to one alternative alone
        ("pub", (False, False), "pub"),
    ],
)
def test_hyperscan_gets_ascii_boundaries_only_where_unicode_ones_imply_them(
    expression: str, bounds: tuple[bool, bool], compiled: str
) -> None:
    assert scanner_module._ascii_bounded(expression, bounds) == compiled


@pytest.mark.parametrize(
    ("expression", "bytewise"),
    [
        (r"pay[\s\-]{1,8}you", True),
        (r"q\.t\.|t\&cs|[a.]x", True),
        ("what['’]s", False),  # a character beyond ASCII
        ("x.y", False),  # could match one byte of a character
        ("[^a]b", False),
        (r"\Wx", False),
        (r"\xe9", False),  # a byte here, a character in UTF-8 mode
    ],
)
def test_only_plain_ascii_patterns_are_scanned_bytewise(expression: str, bytewise: bool) -> None:
    assert scanner_module._bytewise(expression) is bytewise


@pytest.mark.parametrize(
    ("expressions", "breaks"),
    [
        ([r"pay[\s\-]+you", "fees"], '\x00!"(),.:;<>?{|}'),  # none in its class's text
        ([r"q\.t\.", r"t\&cs", "what['’]s"], '\x00!"(),:;<>?{|}'),
        ([r"sign[\s\-]?off", r"\w+ly"], '\x00!"(),.:;<>{|}'),
        (["a.b"], ""),  # any character
        (["[a-z]x"], ""),  # a range: what it holds is not spelt out
        (["[^x]y"], ""),
        ([r"\x2e"], ""),  # a full stop by number
        ([r"\Wx"], ""),
    ],
)
def test_breaks_are_characters_no_match_can_hold(expressions: list[str], breaks: str) -> None:
    assert scanner_module._breaks(expressions) == breaks


@pytest.mark.parametrize("backend", available_backends())
def test_the_words_of_a_phrase_are_at_most_eight_separators_apart(backend: str) -> None:
    scanner = Scanner([Pattern("g", 0, r"\bpay[\s\-]+you[\s\-]+in[\s\-]+pints\b")], backend)
    for gap, found in [
        (" ", True),
        ("\n\n", True),
        (" -- ", True),
        ("\n \t\n" * 2, True),  # eight
        (" " * 9, False),  # layout, not a phrase: a table's padding
        ("\n" + "-" * 40 + "\n", False),  # a ruled line
        ("\n\n" * 5, False),
    ]:
        text = f"so we {'pay' + gap + 'you in pints'} then"
        hits = scanner.scan(text)
        assert bool(hits) is found, (backend, gap)
        if found:  # offsets in the text as given
            assert text[hits[0].start : hits[0].end] == "pay" + gap + "you in pints"


@pytest.mark.parametrize(
    ("rewritten", "strings"),
    [
        ("payyouinpints", ["payyouinpints"]),
        ("['’]sparty", ["'sparty", "’sparty"]),
        (r"invoic\w*", ["invoic"]),
        (r"a\.m\.", ["a.m."]),
        (r"ab\w*cdef", ["cdef"]),  # the longest stretch of plain characters
        ("(?:a|b)", None),
        ("x", None),  # one letter rules out nothing worth a pattern
    ],
)
def test_first_pass_strings_are_ones_no_match_goes_without(
    rewritten: str, strings: list[str] | None
) -> None:
    assert necessary_literals(rewritten) == strings


def test_first_pass_keeps_no_string_that_holds_another() -> None:
    found = _fewest([b"contracts", b"Contract", b"subcontract", b"fee", b"fees", b"feel"])
    assert found == [b"fee", b"Contract"]


@needs_hyperscan
@pytest.mark.parametrize(
    ("text", "possible"),
    [
        ("The public embargo on innovation stays.", []),  # "pub", "bar", "inn" inside words
        ("Barbara and the innkeeper", []),
        ("Meet at the inn", ["lexicon:venue"]),
        ("A pub lunch?", ["lexicon:social", "lexicon:venue"]),
        ("Drinks at the BAR", ["lexicon:social", "lexicon:venue"]),
        ("a pub-quiz", ["lexicon:social", "lexicon:venue"]),
    ],
)
def test_first_pass_confirms_short_strings_by_their_patterns(
    text: str, possible: list[str]
) -> None:
    scanner = _engine().scanner
    plans = {g: scanner_module.GroupPlan.of(scanner._impls[g].patterns) for g in scanner.groups}
    assert "pub" in plans["lexicon:social"].weak_literals
    assert "pub" not in (plans["lexicon:social"].literals or [])
    found = scanner.prepare(text).possible()
    assert sorted(found & {"lexicon:social", "lexicon:venue"}) == possible


@needs_hyperscan
def test_first_pass_and_bounded_scans_change_no_hit() -> None:
    engine = _engine()
    fast = engine.scanner
    plain = Scanner(fast.patterns, "re")  # no first pass: every match as it is
    terms = [
        t.text
        for lexicon in packs.load([packs.resolve("builtin", packs.data_dir())]).lexicons.values()
        for t in lexicon.terms
    ]
    rng = random.Random(7)
    separators = [" ", "  ", "\n", "\n\n", " - ", "-", "\t", "é ", " ’ ", "\xa0"]
    separators += [" " * 17, "\n" + "-" * 60 + "\n", "\n \t\n" * 12]  # long runs
    files = sorted(ENRON.glob("*/*.eml"))[:30] if ENRON.is_dir() else []
    texts = [f.read_text("latin-1")[:4000] for f in files]
    for size in (300, 3000, 3000, FIRST_PASS_LIMIT + 2000):
        pieces: list[str] = []
        while sum(map(len, pieces)) < size:
            term = rng.choice(terms)
            pieces.append("".join(w + rng.choice(separators) for w in term.split(" ")))
            pieces.append(rng.choice(texts)[: rng.randint(0, 200)] if texts else "and so on ")
        texts.append("".join(pieces))
    for text in texts:
        scan, expected = fast.prepare(text), plain.prepare(text)
        for group in fast.groups:
            assert scan.group(group) == expected.group(group), group


def _long_texts(rng: random.Random, count: int, names: Sequence[str] = ()) -> list[str]:
    """Newsletter-sized texts of lexicon terms (and ``names``) among Enron mail, with
    every kind of separator, punctuation or none between them, and odd letters."""
    terms = [
        t.text
        for lexicon in packs.load([packs.resolve("builtin", packs.data_dir())]).lexicons.values()
        for t in lexicon.terms
    ]
    terms += list(names) * 20
    glue = [" ", "  ", "\n", "\n\n", " - ", "-", "\t", "é ", " ’ ", "\xa0", ", ", ". ", "; "]
    glue += ["(", ") ", '"', "! ", "? ", ":", "\x00", " " * 17, "\n" + "-" * 60 + "\n", "Ké"]
    files = sorted(ENRON.glob("*/*.eml"))[:40] if ENRON.is_dir() else []
    prose = [f.read_text("latin-1")[:3000] for f in files] or ["and so on, as agreed. "]
    texts = []
    for _ in range(count):
        pieces: list[str] = []
        size = rng.choice((WINDOWED, 3 * WINDOWED))
        while sum(map(len, pieces)) < size:
            term = rng.choice(terms)
            pieces.append("".join(w + rng.choice(glue) for w in term.split(" ")))
            chosen = rng.choice(prose)
            start = rng.randint(0, len(chosen))
            pieces.append(chosen[start : start + rng.choice((0, 20, 400, 3000))])
        texts.append("".join(pieces))
    return texts


def test_the_groups_rules_scan_for_first_are_found_in_rule_order() -> None:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    messages = sorted((r for r in ruleset.rules if "message" in r.applies_to), key=lambda r: r.id)
    found = first_scans(messages)
    # CL102 looks for social words first; CL107 and CL113 then look for problems and
    # business only near them; CL105, CL108 and CL112 for client names
    assert found[:3] == ["lexicon:social", "lexicon:advice-request", "lexicon:favour"]
    assert {"contacts", "lexicon:connection-request", "lexicon:scope-creep"} <= set(found)
    assert not {"lexicon:problem", "lexicon:business"} & set(found)


def test_what_a_rule_tests_before_it_reads_the_text_is_known() -> None:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    by_id = {r.id: r for r in ruleset.rules}
    assert preconditions(by_id["CL103"]) == (("former", True),)
    assert preconditions(by_id["CL110"]) == (("friend", True),)
    assert preconditions(by_id["CL112"]) == (
        ("me", True),
        ("outsider", True),
        ("client_recipient", False),
    )
    assert preconditions(by_id["CL109"]) == ()  # `from_client` may read the title


@needs_hyperscan
@pytest.mark.parametrize(
    ("status", "relationship", "left_out"),
    [
        ("active", "professional", {"lexicon:advice-request", "lexicon:scope-creep"}),
        ("former", "friend", set()),
    ],
)
def test_a_newsletter_is_scanned_together_only_for_what_its_rules_may_look_for(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: str,
    relationship: str,
    left_out: set[str],
) -> None:
    contacts = tmp_path / "contacts.yaml"
    contacts.write_text(
        "me: [sam@studio.example]\nclients:\n"
        f"  - {{name: Dana, emails: [dana@acme.example], status: {status},"
        f" relationship: {relationship}}}\n"
    )
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    engine = Engine(ruleset.rules, ruleset.lexicons, load_contacts(str(contacts)))
    bundle = engine.scanner._bundles["message"]
    texts = [t for t in _long_texts(random.Random(5), 6) if len(t) > FIRST_PASS_LIMIT]
    found = 0
    for index, text in enumerate(texts):
        message = Message(
            source="s",
            locator=str(index),
            id=str(index),
            title="News",
            body=text,
            sender=Participant("dana@acme.example", role="from"),
            recipients=(Participant("sam@studio.example"),),
        )
        scan = Context(engine, message).text_scan()
        together = scan._bundle.groups if scan._bundle else frozenset()
        assert together == bundle.groups - left_out
        narrowed = list(engine.check(message))
        with monkeypatch.context() as patch:  # every group of the bundle at once
            patch.setattr(TextScan, "narrow", lambda self, groups: None)
            assert list(engine.check(message)) == narrowed
        found += len(narrowed)
    assert found  # the texts hold what the rules look for: the comparison means something


@needs_hyperscan
def test_a_long_text_scanned_for_a_bundle_of_groups_holds_each_groups_own_hits() -> None:
    engine = _engine()
    scanner = engine.scanner
    bundle = scanner._bundles["message"]
    assert len(bundle.groups) > 2
    rng = random.Random(17)
    long_texts = [t for t in _long_texts(rng, 10) if len(t) > FIRST_PASS_LIMIT]
    assert len(long_texts) >= 3
    for text in [*long_texts, "Drinks on Friday? " * 40]:
        together, alone = scanner.prepare(text, bundle="message"), scanner.prepare(text)
        first = sorted(bundle.groups)[-1]
        together.group(first)  # one scan: every group of the bundle is known after it
        assert all(together.known(g) for g in bundle.groups) == (len(text) > FIRST_PASS_LIMIT)
        for group in scanner.groups:
            assert together.group(group) == alone.group(group), group


@pytest.mark.parametrize("backend", available_backends())
def test_windows_near_anchors_hold_every_hit_the_whole_text_has_there(backend: str) -> None:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    engine = Engine(ruleset.rules, ruleset.lexicons, Directory(), backend=backend)
    groups = [g for g in engine.scanner.groups if g.startswith("lexicon:")]
    rng = random.Random(13)
    windowed = 0
    for number, text in enumerate(_long_texts(rng, 12)):
        title, _, body = text.partition("\n")
        item = Message(source="t", locator=str(number), id=str(number), title=title, body=body)
        for _ in range(8):
            first, second = rng.sample(groups, 2)
            fields = rng.choice((("body",), ("title", "body", "location")))
            reach = rng.choice((0, 40, 640, 840))
            near = Context(engine, item)
            anchors = near.hits(fields, (first,))
            windows = near._windows(fields, second, anchors, reach)
            found = near.hits_near(fields, second, anchors, reach)
            every = Context(engine, item).hits(fields, (second,))
            assert all(hit in every for hit in found)
            assert found == sorted(found, key=every.index)
            starts = {name: near.starts[engine.scan_fields.index(name)] for name in fields}
            if windows is not None:  # each window holds exactly the hits of the text there
                windowed += 1
                joined, breaks = near.text_scan().text, engine.scanner.breaks(second)
                for left, right in windows:  # between characters no hit holds
                    assert left == 0 or joined[left - 1] in breaks
                    assert right == len(joined) or joined[right] in breaks
                for hit in every:
                    start, end = (starts[hit.field] + at for at in (hit.hit.start, hit.hit.end))
                    inside = any(left <= start and end <= right for left, right in windows)
                    assert (hit in found) == inside, (second, windows, hit)
            for hit in every:
                if any(
                    hit.field == a.field
                    and (
                        0 <= hit.hit.start - a.hit.end <= reach
                        or 0 <= a.hit.start - hit.hit.end <= reach
                    )
                    for a in anchors
                ):
                    assert hit in found, (second, starts, hit)
    assert windowed >= 30  # the windows were tried, not merely refused


def test_near_tests_give_the_same_answers_with_windows_as_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ruleset = packs.load([packs.resolve("builtin", packs.data_dir())])
    directory = load_contacts(str(EXAMPLES / "contacts.yaml"))
    engine = Engine(ruleset.rules, ruleset.lexicons, directory)
    tests = [
        predicate
        for rule in engine.rules
        for selection in rule.selections.values()
        for alternative in selection.alternatives
        for predicate in alternative
        if isinstance(predicate, NearPredicate)
        or (isinstance(predicate, MentionPredicate) and predicate.near)
    ]
    assert len(tests) > 10
    names = ["Dana Ng", "Acme", "Birchwood Partners", "Omar Haddad", "Chloé Martin"]
    items = [
        Message(source="t", locator=str(n), id=str(n), title=t[:60], body=t, sender=None)
        for n, t in enumerate(_long_texts(random.Random(17), 10, names))
    ]
    paired = 0
    for item in items:
        for test in tests:
            with monkeypatch.context() as patch:
                patch.setattr(context_module, "WINDOWED", 10**9)
                expected = test.test(Context(engine, item))
            assert test.test(Context(engine, item)) == expected, test
            paired += expected is not None
    assert paired >= 10  # texts where the terms were close: the answers were compared


def _every_pair(
    context: Context, firsts: list[FieldHit], seconds: list[FieldHit], within: int, para: bool
) -> tuple[FieldHit, FieldHit] | None:
    """What _close_pair finds, the slow way: every pair in turn."""
    for a in firsts:
        for b in seconds:
            left, right = (a, b) if a.hit.start <= b.hit.start else (b, a)
            gap = context.field_text(a.field)[left.hit.end : right.hit.start]
            if (
                a.field == b.field
                and left.hit.end <= right.hit.start
                and right.hit.start - left.hit.end <= (within + 1) * MAX_WORD_LENGTH
                and len(gap.split()) <= within
                and not (para and re.search(r"\n[^\S\n]*\n", gap))
            ):
                return left, right
    return None


def test_close_pairs_are_found_by_bisection_as_by_comparing_every_pair() -> None:
    rng = random.Random(23)
    engine = _engine()
    words = ["word", "a", "longer-word", "\n\n", "\n", "x" * 45, "é"]
    for _ in range(300):
        fields = {
            name: " ".join(rng.choice(words) for _ in range(rng.randint(5, 400)))
            for name in ("title", "body")
        }
        item = Message(source="t", locator="1", id="1", **fields)  # type: ignore[arg-type]
        context = Context(engine, item)

        def hits(count: int, fields: dict[str, str] = fields) -> list[FieldHit]:
            found = []
            for _ in range(count):
                field = rng.choice(("title", "body"))
                start = rng.randint(0, max(0, len(fields[field]) - 1))
                end = min(len(fields[field]), start + rng.choice((1, 4, 11, 300)))
                found.append(FieldHit(field, Hit("g", 0, start, end)))
            return found

        firsts, seconds = hits(rng.randint(0, 30)), hits(rng.randint(0, 60))
        if rng.random() < 0.8:  # as the scans give them: in text order
            seconds.sort(key=lambda h: (h.field != "title", h.hit.start, h.hit.end))
        within, para = rng.choice((0, 1, 3, 15)), rng.random() < 0.5
        expected = _every_pair(context, firsts, seconds, within, para)
        assert _close_pair(context, firsts, seconds, within, para) == expected


@needs_hyperscan
def test_the_gate_skips_only_rules_that_cannot_fire() -> None:
    engine = _engine()
    gate = Gate(engine.rules)
    by_id = {rule.id: rule for rule in engine.rules}
    assert gate.needs, "the default rules need words"
    for rule_id, needs in gate.needs.items():
        assert needs == rule_needs(by_id[rule_id])
        groups = {group for clauses in needs for clause in clauses for group in clause}
        assert not gate.may_fire(by_id[rule_id], set())
        assert gate.may_fire(by_id[rule_id], groups)


def test_equal_scanners_agree_with_and_without_first_pass() -> None:
    engine = _engine()
    plain = Scanner(engine.scanner.patterns, "re")
    text = "Drinks on Friday? Also the invoice for the retainer, as a favour."
    assert [h for h in plain.scan(text)] == engine.scanner.scan(text)


@needs_hyperscan
def test_scanner_plans_kept_between_runs_give_the_same_scanner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patterns = _engine().scanner.patterns
    store = _Store()
    made = Scanner(patterns, "hyperscan", store)
    (key,) = [k for k in store if k.startswith("plans-")]

    def no_planning(*args: object) -> None:
        raise AssertionError("planned again")

    with monkeypatch.context() as patch:
        patch.setattr(scanner_module.GroupPlan, "of", no_planning)
        kept = Scanner(patterns, "hyperscan", store)
    # new plans: every database compiled at once; kept ones: each loaded when first needed
    assert all(impl.database is not None for impl in made._impls.values())
    assert all(impl.database is None for impl in kept._impls.values())
    kept.prepare("Drinks on Friday?").group("lexicon:social")
    assert [g for g, impl in kept._impls.items() if impl.database] == ["lexicon:social"]
    store[key] = b'{"lexicon:social": {"bounds": 3}}'  # damaged: planned afresh
    again = Scanner(patterns, "hyperscan", store)
    plans = json.loads(store[key])
    store[key] = json.dumps({"lexicon:social": plans["lexicon:social"]}).encode()
    assert Scanner(patterns, "hyperscan", store).groups == made.groups  # groups missing
    text = "Drinks on Friday?  Also the invoice\n" + "-" * 40 + "\nfor the retainer, as a favour."
    for other in (kept, again):
        for group in made.groups:
            ours, theirs = made._impls[group], other._impls[group]
            assert vars(ours).keys() == vars(theirs).keys()
            for name in ("bounds", "expressions", "several"):
                assert getattr(ours, name) == getattr(theirs, name), (group, name)
        assert made._prefilter and other._prefilter
        assert made._prefilter.bits == other._prefilter.bits
        assert other.scan(text) == made.scan(text) != []


@needs_hyperscan
def test_plans_are_kept_only_once_their_databases_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patterns = _engine().scanner.patterns
    store = _Store()
    refused = scanner_module._database

    def refuse_social(key: str, source: Callable[[], Source], *args: object) -> object:
        if any(b"drinks" in e for e in source()[0]):
            raise RuntimeError("Hyperscan refuses a pattern")
        return refused(key, source, *args)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(scanner_module, "_COMPILED", {})
        patch.setattr(scanner_module, "_database", refuse_social)
        with pytest.raises(RuntimeError):
            Scanner(patterns, "hyperscan", store)
    assert not [k for k in store if k.startswith("plans-")]  # the next run compiles again


def test_chunks_keep_the_stream_in_order_and_bounded() -> None:
    items = [
        Message(source="s", locator=str(n), id=str(n), body="x" * (n % 7) * 100) for n in range(300)
    ]
    outputs: list[Message | Problem] = [*items[:150], Problem("s", "bad"), *items[150:]]
    found = list(chunks(iter(outputs), items=40, characters=2000))
    assert [o for chunk in found for o in chunk] == outputs
    assert all(0 < len(chunk) <= 40 for chunk in found)
    for chunk in found[:-1]:  # each ends when one more item would have made it too big
        text = sum(len(o.body) for o in chunk if isinstance(o, Message))
        assert len(chunk) == 40 or text >= 2000
        assert text - max(len(o.body) for o in chunk if isinstance(o, Message)) < 2000


# -- YAML kept between runs --------------------------------------------------------


class _Store(dict[str, bytes]):
    def put(self, key: str, data: bytes) -> None:
        self[key] = data


def _same(a: object, b: object) -> bool:
    if isinstance(a, yamlfile.LocatedDict) and isinstance(b, yamlfile.LocatedDict):
        return (
            (a.mark, list(a)) == (b.mark, list(b))
            and all((a.key_mark(k), a.value_mark(k)) == (b.key_mark(k), b.value_mark(k)) for k in a)
            and all(_same(a[k], b[k]) for k in a)
        )
    if isinstance(a, yamlfile.LocatedList) and isinstance(b, yamlfile.LocatedList):
        return (
            a.mark == b.mark
            and len(a) == len(b)
            and all(a.item_mark(i) == b.item_mark(i) for i in range(len(a) + 1))
            and all(map(_same, a, b))
        )
    return type(a) is type(b) and a == b


def test_parsed_yaml_comes_back_as_parsed() -> None:
    memory = ParsedDocuments(_Store())
    texts = [p.read_text("utf-8") for p in sorted(Path(packs.data_dir(), "rules").rglob("*.yaml"))]
    texts.append("a: 2026-03-01\nb: 2026-03-01T10:00:00+01:00\nc: [1, 2.5, yes, ~, {}]\n")
    for text in texts:
        parsed = yamlfile.parse(text, "x.yaml")
        memory.keep(text, parsed)
        assert _same(memory.recall(text), parsed)
    shared = "a: &x [1]\nb: *x\n"
    memory.keep(shared, yamlfile.parse(shared, "x.yaml"))
    assert memory.recall(shared) is None  # an alias is parsed every time


def test_installed_plugins_are_read_once_for_every_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    from linter import plugins

    calls: list[int] = []
    real = plugins.entry_points

    def counted() -> object:
        calls.append(1)
        return real()

    monkeypatch.setattr(plugins, "entry_points", counted)
    monkeypatch.setattr(sys, "path", [*sys.path, "/nonexistent/new"])  # not read before
    sources = {e.name for e in plugins.entry_points_in("clientline.sources")}
    reporters = {e.name for e in plugins.entry_points_in("clientline.reporters")}
    assert {"mbox", "ics", "maildir", "eml"} <= sources and {"text", "json", "jsonl"} <= reporters
    assert [e.name for e in plugins.entry_points_in("clientline.reporters", "jsonl")] == ["jsonl"]
    assert plugins.entry_points_in("clientline.no-such-kind") == []
    assert len(calls) == 1


def test_a_compiled_rule_set_is_kept_and_read_back_until_what_it_is_made_of_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from linter import enginecache, lintrun
    from linter.sources import iter_items

    cache = Path(os.environ["CLIENTLINE_CACHE_DIR"])
    for old in cache.glob("engine-*") if cache.is_dir() else []:
        old.unlink()  # kept by earlier tests of this session
    contacts = tmp_path / "contacts.yaml"
    contacts.write_text((EXAMPLES / "contacts.yaml").read_text("utf-8"), "utf-8")
    config = tmp_path / "clientline.yaml"
    config.write_text("contacts: contacts.yaml\nrules: [builtin, mine]\n", "utf-8")
    pack = tmp_path / "mine"
    pack.mkdir()
    rule = textwrap.dedent(RULE_OF_MY_OWN)
    (pack / "XY101-drinks.yaml").write_text(rule, "utf-8")
    loads: list[int] = []
    real_load = packs.load

    def counted(*args: object, **kwargs: object) -> packs.RuleSet:
        loads.append(1)
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(packs, "load", counted)
    moment = ["--since", "2026-09-01", "--until", "2027-01-01"][1::2]

    def prepared() -> lintrun.Setup:
        return lintrun.prepare(str(config), since=moment[0], until=moment[1])

    def findings(setup: lintrun.Setup) -> list[tuple[str, str]]:
        paths = [str(EXAMPLES / "calendar.ics"), str(EXAMPLES / "mailbox.mbox")]
        return [
            (f.rule, f.item.locator)
            for item in iter_items(paths, setup.window)
            if not isinstance(item, Problem)
            for f in setup.engine.check(item)
        ]

    made = prepared()
    assert len(loads) == 1 and len(list(cache.glob("engine-*"))) == 1
    kept = prepared()
    assert len(loads) == 1  # read back, not loaded
    assert kept.engine is not made.engine and kept.engine.rule_ids == made.engine.rule_ids
    expected = findings(made)
    assert {rule for rule, _ in expected} >= {"CL101", "CL102", "XY101"}
    assert findings(kept) == expected

    (pack / "XY101-drinks.yaml").write_text(rule.replace("Drinks with", "Beers with"), "utf-8")
    assert prepared().ruleset.rule("XY101").title == "Beers with a client"
    with contacts.open("a", encoding="utf-8") as more:
        more.write("  - {name: New Client, emails: [new@client.example]}\n")
    assert "New Client" in {c.name for c in prepared().engine.directory.named_clients}
    config.write_text(config.read_text("utf-8") + "disable: [CL101]\n", "utf-8")
    assert "CL101" not in prepared().engine.rule_ids
    assert len(loads) == 4  # each change read and compiled afresh
    assert prepared().engine.rule_ids == kept.engine.rule_ids - {"CL101"}
    assert len(loads) == 4

    for entry in cache.glob("engine-*"):
        entry.write_bytes(b"not a pickle")  # damaged: ignored, and made again
    assert "CL101" not in prepared().engine.rule_ids and len(loads) == 5
    for number in range(enginecache.KEPT + 2):  # the last few rule sets made stay kept
        (pack / "XY101-drinks.yaml").write_text(rule.replace("Drinks", f"Round {number}"))
        prepared()
    assert len(list(cache.glob("engine-*"))) == enginecache.KEPT
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "XY102-bad.yaml").write_text("id: XY102\n", "utf-8")
    before = set(cache.glob("engine-*"))
    with pytest.raises(lintrun.SetupError):
        lintrun.prepare(str(config), extra_packs=[str(broken)])
    assert set(cache.glob("engine-*")) == before  # a rule set with errors is never kept
    key = enginecache.key([broken], str(contacts), "options")
    enginecache.keep(lintrun.FileCache(), key, packs.RuleSet(errors=["bad"]), kept.engine)
    assert enginecache.recall(lintrun.FileCache(), key) is None


def test_entries_no_run_has_read_for_a_month_are_pruned_once_a_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from linter import lintrun

    cache = lintrun.FileCache(tmp_path)
    now = time.time()
    long_ago = now - lintrun.FileCache.KEPT_DAYS * lintrun.DAY - 60
    for name in ("hyperscan-old", "hyperscan-read", "engine-old", "yaml-new"):
        cache.put(name, b"x")
    for name in ("hyperscan-old", "hyperscan-read", "engine-old"):
        os.utime(tmp_path / name, (long_ago, long_ago))
    assert cache.get("hyperscan-read") == b"x"  # read: in use, however old
    cache.prune(now)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != lintrun.FileCache.MARK)
    assert left == ["hyperscan-read", "yaml-new"]
    cache.put("plans-old", b"x")
    os.utime(tmp_path / "plans-old", (long_ago, long_ago))
    cache.prune(now + 3600)  # pruned an hour ago: not again yet
    assert (tmp_path / "plans-old").exists()
    cache.prune(now + 2 * lintrun.DAY)
    assert not (tmp_path / "plans-old").exists()
    assert (tmp_path / "hyperscan-read").exists()
    lintrun.FileCache(tmp_path / "missing").prune()  # no folder yet: nothing to do
    os.utime(tmp_path / "yaml-new", (long_ago, long_ago))

    def read_only(*args: object) -> None:
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(os, "utime", read_only)
    assert cache.get("yaml-new") == b"x"  # a cache that cannot be marked is still read


RULE_OF_MY_OWN = """\
    id: XY101
    name: drinks
    title: Drinks with a client
    severity: info
    applies_to: [event, message]
    principles: [P1]
    select:
      client: {participants|client: true}
      drinks: {title|contains: drinks}
    condition: client and drinks
    message: "'{item.title}' is drinks"
    advice: Enjoy them.
"""
