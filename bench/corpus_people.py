"""The people in the synthetic corpora, and the ``contacts.yaml`` that describes them.

The user is Sam Carter (``sam@studio.example``) with colleagues at ``studio.example``.
About 40 clients, each an organisation with its own domain (``org12.example``), one to
three contacts there, a status (active, former, prospect) and a relationship
(professional or friend). Outsiders (friends, vendors, newsletters) are at other domains,
so plenty of mail and events involve nobody who is a client.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

FIRST = (
    "Dana", "Alex", "Priya", "Tom", "Maria", "James", "Aisha", "Ben", "Chloe", "David",
    "Elena", "Femi", "Grace", "Hiro", "Isla", "Jonas", "Kate", "Liam", "Mei", "Noah",
    "Olivia", "Pavel", "Rosa", "Sanjay", "Tara", "Uma", "Victor", "Wen", "Yusuf", "Zara",
)
LAST = (
    "Ng", "Patel", "Smith", "Okafor", "Garcia", "Brown", "Khan", "Jones", "Walsh", "Chen",
    "Novak", "Adeyemi", "Taylor", "Sato", "Murray", "Berg", "Evans", "Reid", "Lin", "Moore",
)
ACCENTED = (
    ("Zoë", "Brontë"), ("José", "Álvarez"), ("Søren", "Østergaard"), ("François", "Lefèvre"),
    ("Jürgen", "Müller"), ("Inés", "Peña"), ("Chloé", "Dubois"), ("Łukasz", "Wróbel"),
)
ORG_WORDS = (
    "Acme", "Birch", "Cobalt", "Dovetail", "Elmfield", "Fenwick", "Granite", "Harbour",
    "Ironside", "Juniper", "Kestrel", "Lumen", "Meridian", "Northgate", "Orchard", "Pennant",
    "Quarry", "Redwood", "Saltire", "Thistle",
)
ORG_SUFFIXES = ("Ltd", "LLP", "Partners", "Group", "Studio", "Holdings", "and Co")
OUTSIDE_DOMAINS = ("mail.example", "post.example", "inbox.example", "home.example")
VENDOR_DOMAINS = tuple(f"vendor{n}.example" for n in range(1, 9))
ME_NAME, ME_ADDRESS, HOME = "Sam Carter", "sam@studio.example", "studio.example"
UNDECOMPOSED = str.maketrans({"ø": "o", "ł": "l"})
SAFE_PLAIN = re.compile(r"^[^\W\d][\w .@'-]*$")


@dataclass(frozen=True, slots=True)
class Person:
    """One correspondent: who they are and, for client contacts, which client."""

    name: str
    address: str
    kind: str  # me | colleague | client | outsider
    client: int | None = None
    friend: bool = False

    def header(self) -> str:
        return f"{self.name} <{self.address}>"


@dataclass(frozen=True, slots=True)
class Client:
    """A client organisation as ``contacts.yaml`` lists it."""

    name: str
    org: str
    domain: str
    emails: tuple[str, ...]
    status: str
    relationship: str
    since: dt.date
    ended: dt.date | None
    understandings: dt.date | None


@dataclass(frozen=True, slots=True)
class Directory:
    """Everyone the generators draw participants from."""

    me: Person
    colleagues: tuple[Person, ...]
    clients: tuple[Client, ...]
    client_people: tuple[Person, ...]
    outsiders: tuple[Person, ...]

    @property
    def friends(self) -> tuple[Person, ...]:
        """Client contacts who are friends, plus outsiders (friends who are not clients)."""
        return tuple(p for p in self.client_people if p.friend) + self.outsiders[:12]


class _Names:
    """Hands out names nobody else in the corpus has (some of them accented)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[tuple[str, str]] = set()

    def __call__(self) -> tuple[str, str]:
        while True:
            if self.rng.random() < 0.1:
                name = self.rng.choice(ACCENTED)
            else:
                name = self.rng.choice(FIRST), self.rng.choice(LAST)
            if name not in self.used:
                self.used.add(name)
                return name


def _local_part(first: str, last: str) -> str:
    """An ASCII mailbox name: ``Søren Østergaard`` -> ``soren.ostergaard``."""
    text = f"{first}.{last}".lower().translate(UNDECOMPOSED)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _date(rng: random.Random, start: int, end: int) -> dt.date:
    return dt.date(start, 1, 1) + dt.timedelta(days=rng.randrange((end - start) * 365))


def _client(rng: random.Random, names: _Names, index: int) -> tuple[Client, tuple[Person, ...]]:
    domain = f"org{index}.example"
    org = f"{ORG_WORDS[index % len(ORG_WORDS)]} {rng.choice(ORG_SUFFIXES)}"
    status = rng.choices(("active", "former", "prospect"), (0.6, 0.25, 0.15))[0]
    friend = rng.random() < 0.4
    people = []
    for _ in range(rng.randint(1, 3)):
        first, last = names()
        address = f"{_local_part(first, last)}@{domain}"
        people.append(Person(f"{first} {last}", address, "client", index, friend))
    since = _date(rng, 2015, 2024)
    ended = _date(rng, since.year + 1, 2026) if status == "former" else None
    agreed = _date(rng, since.year, 2026) if friend and rng.random() < 0.6 else None
    client = Client(
        name=people[0].name, org=org, domain=domain, emails=(people[0].address,),
        status=status, relationship="friend" if friend else "professional",
        since=since, ended=ended, understandings=agreed,
    )
    return client, tuple(people)


def _others(names: _Names, kind: str, domains: tuple[str, ...], n: int) -> list[Person]:
    rng, people = names.rng, []
    for _ in range(n):
        first, last = names()
        local = _local_part(first, last)
        people.append(Person(f"{first} {last}", f"{local}@{rng.choice(domains)}", kind))
    return people


def build_directory(seed: int, clients: int = 40) -> Directory:
    """The deterministic cast of the corpora."""
    rng = random.Random(seed)
    names = _Names(rng)
    found = [_client(rng, names, i) for i in range(1, clients + 1)]
    colleagues = _others(names, "colleague", (HOME,), 8)
    outsiders = _others(names, "outsider", OUTSIDE_DOMAINS, 24)
    outsiders += _others(names, "outsider", VENDOR_DOMAINS, 12)
    return Directory(
        me=Person(ME_NAME, ME_ADDRESS, "me"),
        colleagues=tuple(colleagues),
        clients=tuple(c for c, _ in found),
        client_people=tuple(p for _, people in found for p in people),
        outsiders=tuple(outsiders),
    )


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text if SAFE_PLAIN.match(text) else json.dumps(text, ensure_ascii=False)


def _flow_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def _client_line(client: Client) -> str:
    fields = (
        f"name: {_scalar(client.name)}", f"org: {_scalar(client.org)}",
        f"emails: {_flow_list(client.emails)}", f"domains: {_flow_list((client.domain,))}",
        f"status: {client.status}", f"relationship: {client.relationship}",
        f"since: {_scalar(client.since)}", f"ended: {_scalar(client.ended)}",
        f"understandings: {_scalar(client.understandings)}",
    )
    return "  - {" + ", ".join(fields) + "}\n"


def contacts_lines(directory: Directory) -> Iterator[str]:
    """``contacts.yaml`` for the synthetic corpora, one line at a time."""
    yield "# Generated by bench/generate.py: the clients of the synthetic corpora.\n"
    yield f"me: [{directory.me.address}]\n"
    yield f"internal_domains: [{HOME}]\n"
    yield "clients:\n"
    for client in directory.clients:
        yield _client_line(client)


ENRON_CONTACTS = (
    "# Generated by bench/generate.py: every outside correspondent counts as a client,\n"
    "# so the rules look at every Enron message.\n"
    "me: []\n"
    "internal_domains: []\n"
    "clients:\n"
    '  - {name: Outside correspondents, domains: ["*"], status: active, '
    "relationship: professional}\n"
)


def write_contacts(directory: Directory, out: TextIO) -> None:
    out.writelines(contacts_lines(directory))
