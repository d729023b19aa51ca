"""The contact directory: who the clients are.

``contacts.yaml`` lists the user's own addresses and their clients::

    me: [sam@studio.example, sam.personal@mail.example]
    internal_domains: [studio.example]      # colleagues: never clients
    clients:
      - name: Dana Ng
        org: Acme Ltd
        emails: [dana@acme.example, dana.ng@mail.example]
        domains: [acme.example]             # anyone at the domain is this client
        aliases: [Acme]                     # other names the client goes by in text
        status: active                      # active | former | prospect
        relationship: friend                # professional | friend
        since: 2021-04-01
        ended: null                         # when the account ended (status former)
        understandings: 2024-02-10          # when ground rules were agreed; null if never

An address is looked up exactly first, then by its domain (``mail.acme.example`` also
matches ``acme.example``). A client whose ``domains`` contains ``"*"`` stands for every
outside correspondent: any address that is neither the user's own nor in
``internal_domains`` and matches no other client. That is how a whole mailbox is
audited. The user's own addresses are never a client, whatever a domain says.

Every error names ``file:line:col``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from linter.model import Contact, ContactRecord, Participant
from linter.yamlfile import (
    ConfigError,
    LocatedDict,
    LocatedList,
    Mark,
    check_keys,
    expect_mapping,
    parse,
    read,
    shown,
    type_name,
)

TOP_KEYS = ("me", "internal_domains", "clients")
CLIENT_KEYS = (
    "name",
    "org",
    "emails",
    "domains",
    "aliases",
    "status",
    "relationship",
    "since",
    "ended",
    "understandings",
    "notes",
)
STATUSES = ("active", "former", "prospect")
RELATIONSHIPS = ("professional", "friend")
WILDCARD = "*"


@dataclass
class Directory:
    me: frozenset[str] = frozenset()
    internal_domains: frozenset[str] = frozenset()
    clients: tuple[Contact, ...] = ()
    source: str = "<contacts>"
    _by_address: dict[str, Contact] = field(default_factory=dict, repr=False)
    _by_domain: dict[str, Contact] = field(default_factory=dict, repr=False)
    _wildcard: Contact | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for contact in self.clients:
            for address in contact.emails:
                self._by_address.setdefault(address, contact)
            for domain in contact.domains:
                if domain == WILDCARD:
                    self._wildcard = self._wildcard or contact
                else:
                    self._by_domain.setdefault(domain, contact)

    def is_me(self, address: str) -> bool:
        return address.lower() in self.me

    def lookup(self, address: str) -> Contact | None:
        """The client an address belongs to, or ``None``."""
        address = address.strip().lower()
        if not address or address in self.me:
            return None
        contact = self._by_address.get(address)
        if contact:
            return contact
        domain = address.rpartition("@")[2]
        while domain:
            contact = self._by_domain.get(domain)
            if contact:
                return contact
            if domain in self.internal_domains:
                return None
            domain = domain.partition(".")[2]
        if self._wildcard and "@" in address:
            return self._wildcard
        return None

    @property
    def named_clients(self) -> tuple[Contact, ...]:
        """Clients with a real name (the wildcard stands for nobody in particular)."""
        return tuple(c for c in self.clients if WILDCARD not in c.domains)


def records(directory: Directory) -> Iterator[ContactRecord]:
    """Each named client as an item, for rules that check the relationship itself."""
    for contact in directory.named_clients:
        address = contact.emails[0] if contact.emails else f"@{contact.domains[0]}"
        yield ContactRecord(
            source=directory.source,
            locator=str(contact.line),
            id=f"contact:{contact.key}",
            title=contact.label,
            sender=Participant(address, contact.name, role="contact"),
            contact=contact,
        )


def load(path: str) -> Directory:
    return from_data(read(path), path)


def loads(text: str, path: str = "<contacts>") -> Directory:
    return from_data(parse(text, path), path)


def from_data(data: Any, path: str) -> Directory:
    if data is None:  # an empty file, or one of comments only
        raise ConfigError(
            path,
            "the contact directory is empty: it needs `clients:` (who your clients are, "
            "with their addresses) and `me:` (your own addresses)",
            hint="`clientline init` writes a starter",
        )
    top = expect_mapping(data, path, "the contact directory")
    check_keys(top, TOP_KEYS, path)
    me = _addresses(top, "me", path)
    internal = _addresses(top, "internal_domains", path)
    raw_clients = top.get("clients") or LocatedList()
    if not isinstance(raw_clients, list):
        raise ConfigError(path, "`clients` must be a list", top.value_mark("clients"))
    clients = tuple(
        parse_client(raw, path, cast(LocatedList, raw_clients).item_mark(index))
        for index, raw in enumerate(raw_clients)
    )
    return Directory(frozenset(me), frozenset(internal), clients, path)


def parse_client(raw: Any, path: str, mark: Mark) -> Contact:
    entry = expect_mapping(raw, path, "a client", mark)
    check_keys(entry, CLIENT_KEYS, path)
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(path, "a client needs a `name`", entry.mark)
    status = _choice(entry, "status", STATUSES, "active", path)
    relationship = _choice(entry, "relationship", RELATIONSHIPS, "professional", path)
    emails = _addresses(entry, "emails", path)
    domains = _addresses(entry, "domains", path)
    if not emails and not domains:
        raise ConfigError(
            path,
            f"client `{name}` has neither `emails` nor `domains`",
            entry.mark,
            "add at least one address, or `domains: ['*']` for every outside correspondent",
        )
    org = entry.get("org") or ""
    if not isinstance(org, str):
        raise ConfigError(
            path, f"`org` must be text, not {type_name(org)}", entry.value_mark("org")
        )
    aliases = _texts(entry, "aliases", path)
    return Contact(
        name=name.strip(),
        org=org.strip(),
        emails=tuple(emails),
        domains=tuple(domains),
        status=status,  # type: ignore[arg-type]
        relationship=relationship,  # type: ignore[arg-type]
        since=_date(entry, "since", path),
        ended=_date(entry, "ended", path),
        understandings=_date(entry, "understandings", path),
        aliases=tuple(a.strip() for a in aliases if a.strip()),
        line=entry.mark.line,
    )


def _choice(entry: LocatedDict, key: str, choices: Iterable[str], default: str, path: str) -> str:
    value = entry.get(key, default)
    if value not in choices:
        raise ConfigError(
            path,
            f"`{key}` must be one of {', '.join(choices)}, not {shown(value)}",
            entry.value_mark(key),
        )
    return str(value)


def _date(entry: LocatedDict, key: str, path: str) -> dt.date | None:
    value = entry.get(key)
    if value is None or isinstance(value, dt.date):
        return value if not isinstance(value, dt.datetime) else value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(path, f"`{key}` must be a date like 2024-02-10", entry.value_mark(key))


def _texts(entry: LocatedDict, key: str, path: str, what: str = "text") -> list[str]:
    """``entry[key]``: a list of texts, or one text. Only text is taken for an address
    or a domain; a number, where ``what`` is text, is taken as written."""
    value = entry.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ConfigError(
            path, f"`{key}` must be a list, not {type_name(value)}", entry.value_mark(key)
        )
    texts = []
    for index, item in enumerate(value):
        if what == "text" and isinstance(item, int | float) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str):
            raise ConfigError(
                path,
                f"every entry of `{key}` must be {what}; entry {index + 1} is {type_name(item)}",
                value.item_mark(index) if isinstance(value, LocatedList) else entry.value_mark(key),
            )
        texts.append(item)
    return texts


def _addresses(entry: LocatedDict, key: str, path: str) -> list[str]:
    what = "a domain" if key == "internal_domains" else "an address (text)"
    return [t.strip().lower() for t in _texts(entry, key, path, what) if t.strip()]
