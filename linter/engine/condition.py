"""Rule conditions: boolean expressions over named selections (as in Sigma).

Grammar::

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "not" factor | "(" expr ")" | quantifier | NAME
    quantifier := ("1" | "any" | "all") "of" (PATTERN | "them")

``PATTERN`` is a selection name that may end in ``*`` (``1 of sel_*``); ``them`` means
every selection. ``and`` binds tighter than ``or``; ``not`` tighter than both.
Evaluation short-circuits from left to right, so put cheap selections first: a rule
written ``client and business and social`` never scans text for items with no client.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z_][A-Za-z0-9_]*\*?|\*|\d+))")


class ConditionError(ValueError):
    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.column = column


class Node(NamedTuple):
    op: str  # "name", "not", "and", "or", "any", "all"
    name: str = ""
    children: tuple[Node, ...] = ()

    def evaluate(self, truth: Callable[[str], bool]) -> bool:
        if self.op == "name":
            return truth(self.name)
        if self.op == "not":
            return not self.children[0].evaluate(truth)
        if self.op in ("and", "all"):
            return all(child.evaluate(truth) for child in self.children)
        return any(child.evaluate(truth) for child in self.children)

    def names(self, positive: bool = True) -> Iterator[tuple[str, bool]]:
        """Every selection name with whether it counts for (not against) the rule."""
        if self.op == "name":
            yield self.name, positive
        for child in self.children:
            yield from child.names(positive if self.op != "not" else not positive)


def parse(text: str, selections: list[str]) -> Node:
    tokens = _tokenize(text)
    parser = _Parser(tokens, selections, len(text))
    node = parser.expr()
    if parser.position < len(tokens):
        word, column = tokens[parser.position]
        raise ConditionError(f"unexpected `{word}`", column)
    return node


def _tokenize(text: str) -> list[tuple[str, int]]:
    tokens: list[tuple[str, int]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            column = position + len(text[position:]) - len(text[position:].lstrip())
            raise ConditionError(f"unexpected character `{text[column]}`", column)
        word = match.group(match.lastindex or 0)
        tokens.append((word, match.start(match.lastindex or 0)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, int]], selections: list[str], length: int):
        self.tokens = tokens
        self.selections = selections
        self.length = length
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position][0] if self.position < len(self.tokens) else None

    def column(self) -> int:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else self.length

    def take(self) -> str:
        if self.position >= len(self.tokens):
            raise ConditionError("condition ends too early", self.length)
        word = self.tokens[self.position][0]
        self.position += 1
        return word

    def expr(self) -> Node:
        children = [self.term()]
        while self.peek() == "or":
            self.take()
            children.append(self.term())
        return children[0] if len(children) == 1 else Node("or", children=tuple(children))

    def term(self) -> Node:
        children = [self.factor()]
        while self.peek() == "and":
            self.take()
            children.append(self.factor())
        return children[0] if len(children) == 1 else Node("and", children=tuple(children))

    def factor(self) -> Node:
        column = self.column()
        word = self.take()
        if word == "not":
            return Node("not", children=(self.factor(),))
        if word == "(":
            node = self.expr()
            if self.peek() != ")":
                raise ConditionError("missing `)`", self.column())
            self.take()
            return node
        if word in ("1", "any", "all") and self.peek() == "of":
            self.take()
            pattern_column = self.column()
            pattern = self.take()
            names = (
                self.selections if pattern == "them" else fnmatch.filter(self.selections, pattern)
            )
            if not names:
                raise ConditionError(f"`{pattern}` matches no selection", pattern_column)
            op = "all" if word == "all" else "any"
            return Node(op, children=tuple(Node("name", n) for n in names))
        if word in ("and", "or", ")", "of") or not re.match(r"[A-Za-z_]", word):
            raise ConditionError(f"unexpected `{word}`", column)
        if word not in self.selections:
            close = fnmatch.filter(self.selections, word[:3] + "*")
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise ConditionError(f"unknown selection `{word}`{hint}", column)
        return Node("name", word)
