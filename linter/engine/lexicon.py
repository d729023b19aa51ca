"""Lexicons: the words and phrases a rule listens for.

A lexicon file lives in a pack's ``lexicons/`` folder, one lexicon per file::

    name: business
    description: Work matters that do not belong at a social occasion.
    inflect: true                 # default; adds regular English inflections
    terms:
      - contract                  # also contracts, contracted, contracting
      - statement of work         # a phrase: words may be split by spaces or hyphens
      - {term: fee, weight: 2}    # weights count towards `min` scores
      - {term: drink, forms: [drank, drunk]}   # irregular forms, listed by hand
      - {term: SOW, inflect: false}
      - invoic*                   # a trailing * matches any word ending

Matching is case-insensitive and on word boundaries: ``fee`` matches "Fees" but not
"coffee". Inflection adds plural and verb forms to the last word of a term (``-s``,
``-es``, ``-ies``, ``-ed``, ``-ing``, with the usual spelling changes) — it
over-generates a little, which costs nothing, and never reaches into other words.
A straight or curly apostrophe matches either. Each form is bounded at its own ends,
and only at an end that is a letter or digit: ``{term: inc, forms: [inc.]}`` matches
"Inc." before a space, and never "Incline".

A term marked ``ignore: true`` is a known false friend: where it matches, the words
inside it do not count (``third party`` keeps "party" from reading as a social
occasion; ``working dinner`` keeps "dinner" from it).

Configuration can add terms to a lexicon or remove them, the way Vale vocabularies
accept and reject words (see :func:`Lexicon.adjusted`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from linter.yamlfile import ConfigError, LocatedList, check_keys, expect_mapping

LEXICON_KEYS = ("name", "description", "inflect", "terms")
TERM_KEYS = ("term", "weight", "forms", "inflect", "ignore")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_WORD_CHAR = re.compile(r"\w")


class Term(NamedTuple):  # a tuple: a rule set has a thousand, read at every start
    text: str
    weight: float = 1.0
    forms: tuple[str, ...] = ()
    inflect: bool = True
    ignore: bool = False

    def all_forms(self) -> tuple[str, ...]:
        forms = [self.text, *self.forms]
        if self.inflect:
            forms.extend(inflections(self.text))
        return tuple(dict.fromkeys(f for f in forms if f))


class Lexicon(NamedTuple):  # a tuple: a dataclass has its methods generated at every start
    name: str
    terms: tuple[Term, ...]
    description: str = ""
    origin: str = ""

    def adjusted(self, add: list[str], remove: list[str]) -> Lexicon:
        """This lexicon with terms added and removed (removal wins)."""
        gone = {normalise(t) for t in remove}
        have = {t.text for t in self.terms}
        terms = [t for t in self.terms if t.text not in gone]
        terms += [Term(normalise(t)) for t in add if normalise(t) not in have | gone]
        return self._replace(terms=tuple(terms))


def normalise(term: str) -> str:
    return " ".join(term.replace("’", "'").lower().split())


def inflections(term: str) -> list[str]:
    """Regular English inflections of a term's last word."""
    head, _, word = term.rpartition(" ")
    if len(word) < 3 or not word.isalpha() or word.endswith("*"):
        return []
    forms: list[str] = []
    if word.endswith(("s", "x", "z", "ch", "sh")):
        forms.append(word + "es")
    elif word.endswith("y") and word[-2] not in "aeiou":
        forms += [word[:-1] + "ies", word[:-1] + "ied"]
    else:
        forms.append(word + "s")
    if word.endswith("e"):
        forms += [
            word + "d",
            word[:-1] + "ing" if not word.endswith(("ee", "ye", "oe")) else word + "ing",
        ]
    elif not (word.endswith("y") and word[-2] not in "aeiou"):
        forms += [word + "ed", word + "ing"]
        if word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and word[-3] not in "aeiou":
            forms += [word + word[-1] + "ed", word + word[-1] + "ing"]  # chat -> chatting
    else:
        forms.append(word + "ing")
    return [f"{head} {form}" if head else form for form in forms]


_GAP = r"[\s\-]+"  # between the words of a form: any run of white space and hyphens


def term_patterns(forms: Iterable[str], ignore_case: bool = True) -> tuple[str, ...]:
    """One regular expression per distinct form of a term (see :func:`form_pattern`).

    Forms are never joined into one alternation: each must carry the word boundaries of
    its own ends ("a.m." and "am" differ), and a matching backend that reports one start
    for each end of a pattern (Hyperscan) would let a longer form that fails its
    boundary hide a shorter one ("a curry" inside "Wanda Curry" hiding "Curry").
    """
    return tuple(dict.fromkeys(form_pattern(form, ignore_case) for form in forms))


def form_pattern(form: str, ignore_case: bool = True) -> str:
    """A regular expression matching ``form`` as whole words: with a word boundary at
    each end of the form that is a word character (a trailing ``*`` counts as one), and
    none at an end that is not ("inc." may be followed by a space, "'s house" follow a
    name).

    The syntax stays inside what both Hyperscan and Python ``re`` understand, so the
    two matching backends agree.
    """
    if form.isascii() and form.replace(" ", "").isalnum() and form[0] != " " != form[-1]:
        return r"\b" + form.replace(" ", _GAP) + r"\b"  # plain words, as most forms are
    prefix = r"\b" if _WORD_CHAR.match(form[0]) else ""
    suffix = r"\b" if _WORD_CHAR.match(form[-1]) or form.endswith("*") else ""
    return prefix + _form_body(form, ignore_case) + suffix


def _form_body(form: str, ignore_case: bool) -> str:
    tokens = []
    for token in form.split(" "):
        if token.isascii() and token.isalnum():  # most words: nothing to escape or fold
            tokens.append(token)
            continue
        star = token.endswith("*") and len(token) > 1
        token = token[:-1] if star else token
        chars = []
        for char in token:
            upper = char.upper()
            if char == "'":
                chars.append("['’]")
            elif char == "-":
                chars.append(r"[\s\-]?")
            elif ignore_case and char.isalpha() and not char.isascii() and upper != char:
                # matching folds ASCII case only; "ß" has no one-letter capital to list
                chars.append(f"[{char}{upper}]" if len(upper) == 1 else re.escape(char))
            else:
                chars.append(re.escape(char))
        tokens.append("".join(chars) + (r"\w*" if star else ""))
    return _GAP.join(tokens)


def from_data(data: Any, path: str) -> Lexicon:
    top = expect_mapping(data, path, "a lexicon")
    check_keys(top, LEXICON_KEYS, path)
    name = top.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            path,
            "a lexicon needs a `name` in lower case (letters, digits, - and _)",
            top.value_mark("name") if "name" in top else top.mark,
        )
    inflect_all = top.get("inflect", True)
    if not isinstance(inflect_all, bool):
        raise ConfigError(path, "`inflect` must be true or false", top.value_mark("inflect"))
    raw_terms = top.get("terms")
    if not isinstance(raw_terms, LocatedList) or not raw_terms:
        raise ConfigError(path, "`terms` must be a non-empty list", top.value_mark("terms"))
    terms = [_term(raw, path, raw_terms, i, inflect_all) for i, raw in enumerate(raw_terms)]
    return Lexicon(name, tuple(terms), str(top.get("description") or ""), path)


def _term(raw: Any, path: str, terms: LocatedList, index: int, inflect: bool) -> Term:
    if isinstance(raw, str):
        text = normalise(raw)
        if not text:
            raise ConfigError(path, "empty term", terms.item_mark(index))
        return Term(text, inflect=inflect)
    entry = expect_mapping(raw, path, "a term", terms.item_mark(index))
    check_keys(entry, TERM_KEYS, path)
    raw_text = entry.get("term")
    if not isinstance(raw_text, str) or not normalise(raw_text):
        raise ConfigError(path, "a term needs `term: text`", entry.mark)
    text = raw_text
    weight = entry.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise ConfigError(path, "`weight` must be a positive number", entry.value_mark("weight"))
    forms = entry.get("forms") or []
    if not isinstance(forms, list) or not all(isinstance(f, str) for f in forms):
        raise ConfigError(path, "`forms` must be a list of words", entry.value_mark("forms"))
    term_inflect = entry.get("inflect", inflect)
    if not isinstance(term_inflect, bool):
        raise ConfigError(path, "`inflect` must be true or false", entry.value_mark("inflect"))
    ignore = entry.get("ignore", False)
    if not isinstance(ignore, bool):
        raise ConfigError(path, "`ignore` must be true or false", entry.value_mark("ignore"))
    forms_tuple = tuple(normalise(f) for f in forms)
    return Term(normalise(text), float(weight), forms_tuple, term_inflect, ignore)
