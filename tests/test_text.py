"""Separating the author's new text from quotes, forwards and signatures."""

from __future__ import annotations

import pytest

from linter.text import html_to_text, snippet, split_reply

CASES = {
    "gmail": (
        "Yes, see you at 7!\n\nOn Tue, 3 Mar 2026 at 10:02, Dana Ng <dana@acme.example>"
        " wrote:\n> Drinks and the invoice?\n",
        "Yes, see you at 7!",
    ),
    "wrapped attribution": (
        "Sure.\n\nOn Tue, 3 Mar 2026 at 10:02, Dana Ng\n<dana@acme.example> wrote:\n\n> old\n",
        "Sure.",
    ),
    "outlook": (
        "Agreed.\n\n-----Original Message-----\nFrom: Lee\nSent: Monday\nSubject: x\n\nold text",
        "Agreed.",
    ),
    "outlook header block": (
        "Thanks\n\nFrom: Lee Park <lee@b.example>\nSent: Monday, 2 March\nTo: Sam\n\nold",
        "Thanks",
    ),
    "lotus forward": (
        "FYI below.\n---------------------- Forwarded by Drew Fossum/ET&S/Enron on "
        "03/06/2001\n08:54 AM ---------------------------\n\nold",
        "FYI below.",
    ),
    "lotus reply header": (
        "My answer.\n\n\n\nJeff Dasovich\n10/23/2000 02:32 PM\nTo: Mary Hain"
        "/HOU/ECT@ECT\ncc:\nSubject: Re: x\n\nold",
        "My answer.",
    ),
    "lotus from on": (
        "Noted.\nFrom: Carol Moffett@EES on 05/09/2001 08:49 AM\nTo: Steven\n\nold",
        "Noted.",
    ),
    "inline replies": (
        "> question one\nanswer one\n> question two\nanswer two",
        "answer one\nanswer two",
    ),
    "signature": ("See you Friday.\n-- \nSam Rivera\nStudio Rivera", "See you Friday."),
    "mobile": ("On my way\n\nSent from my iPhone", "On my way"),
    "forwarded gmail": (
        "Look at this\n\n---------- Forwarded message ---------\nFrom: x\n\nold",
        "Look at this",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_split_reply(name: str) -> None:
    text, expected_new = CASES[name]
    new, quoted = split_reply(text)
    assert new == expected_new
    assert quoted


def test_nothing_quoted() -> None:
    assert split_reply("Just a note about Friday.") == ("Just a note about Friday.", "")


def test_html_to_text() -> None:
    html = (
        "<div>Hi&nbsp;Sam,<br/>drinks?</div><script>x()</script><ul><li>one</li><li>two</li></ul>"
    )
    assert html_to_text(html) == "Hi Sam,\ndrinks?\none\ntwo"


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<p>before</p><!-- note <p>hidden", "before"),
        ("<p>before</p><script>var a = 1; <p>hidden", "before"),
        ("<p>before</p><STYLE>p { color: red } <p>hidden", "before"),
        ("<p>before</p><title>hidden", "before"),
    ],
)
def test_html_unclosed_comment_or_script_drops_the_rest(markup: str, expected: str) -> None:
    assert html_to_text(markup) == expected


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("a < b and c > d", "a < b and c > d"),
        ("<p>a < b and c > d</p>", "a < b and c > d"),
        ("I <3 Fridays <br> see you", "I <3 Fridays\nsee you"),
        ("<p>see you</p> at <a", "see you\nat <a"),  # no ">" after it: not a tag
    ],
)
def test_html_stray_angle_brackets_are_text(markup: str, expected: str) -> None:
    assert html_to_text(markup) == expected


def test_html_nested_tags() -> None:
    markup = (
        "<html><head><title>Re: drinks</title><style>p{}</style></head><body>"
        '<div class="x"><p>Hi <b><i>Sam</i></b>,</p><blockquote><div>quoted</div>'
        "</blockquote><table><tr><td>Fri</td><td><a href='x'>7pm</a></td></tr>"
        "<tr><th>Sat</th></tr></table><ul><li>one<li>two</ul></div></body></html>"
    )
    assert html_to_text(markup) == "Hi Sam,\nquoted\nFri 7pm\nSat\none\ntwo"


def test_html_head_without_end_tag_keeps_the_body() -> None:
    markup = "<html><head><meta charset=utf-8><body><p>Drinks Friday?</p></body></html>"
    assert html_to_text(markup) == "Drinks Friday?"


def test_html_entities() -> None:
    markup = "<p>Fish &amp; chips &lt;b&gt; &eacute;t&eacute;&nbsp;&#8217;&#x41;&#0000000066;</p>"
    assert html_to_text(markup) == "Fish & chips <b> \u00e9t\u00e9 \u2019AB"


def test_html_huge_numeric_entities() -> None:
    # int() refuses over 4300 digits; out of range is U+FFFD, as html.unescape does
    markup = "a &#" + "9" * 5000 + "; b &#x" + "f" * 5000 + " c &#" + "0" * 5000 + "65;"
    assert html_to_text(markup) == "a \ufffd b \ufffd c A"


def test_snippet_is_bounded() -> None:
    text = "word " * 100 + "INVOICE" + " word" * 100
    start = text.index("INVOICE")
    cut = snippet(text, start, start + 7)
    assert "INVOICE" in cut and len(cut) < 110 and cut.startswith("…") and cut.endswith("…")
