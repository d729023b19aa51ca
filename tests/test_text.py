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


def test_snippet_is_bounded() -> None:
    text = "word " * 100 + "INVOICE" + " word" * 100
    start = text.index("INVOICE")
    cut = snippet(text, start, start + 7)
    assert "INVOICE" in cut and len(cut) < 110 and cut.startswith("…") and cut.endswith("…")
