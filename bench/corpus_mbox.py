"""A synthetic mailbox in mbox format, written as a stream.

Each message is planned (who writes to whom, in which register, as a reply or a
forward, in which charset and MIME shape), rendered to bytes and written at once;
only a ring of the last few hundred messages is kept, so replies can quote and thread
to something real. What the mix looks like, roughly:

* MIME: 50% text/plain, 38% multipart/alternative (plain + HTML), 12% HTML only;
  3% wrapped in multipart/mixed with a small base64 PDF.
* Threads: 35% Gmail-style replies ("On ... wrote:" and "> " lines), 6% Outlook
  "-----Original Message-----" forwards; In-Reply-To and References set.
* Charsets: US-ASCII, UTF-8 and ISO-8859-1 bodies (quoted-printable or 8bit), with
  RFC 2047 encoded-word headers for non-ASCII names and subjects.
* Registers: mostly business, some social, about 2% mixing both with a client.
* Sizes: log-normal, mean about 6 KB a message with a long tail of long threads.

Body lines that start with ``From `` are escaped as ``>From `` (mboxo).
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as dt
import html
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import Header
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import corpus_text as words
from corpus_people import Directory, Person
from corpus_text import Para

LONDON = ZoneInfo("Europe/London")
YEAR_START = dt.date(2026, 1, 1)
POOL_SIZES = {"business": 3000, "social": 800, "neutral": 300}
MAILERS = ("Microsoft Outlook 16.0", "Apple Mail (2.3774)", "Thunderbird 128.3", "")
OUTLOOK_SENT = "%A, %B %d, %Y %I:%M %p"
RING = 300
YEAR_START_DT = dt.datetime.combine(YEAR_START, dt.time(), LONDON)


@dataclass(frozen=True, slots=True)
class Sent:
    """What a later reply or forward needs to know about an earlier message."""

    msgid: str
    subject: str
    sender: Person
    to: tuple[Person, ...]
    date: dt.datetime
    paras: tuple[Para, ...]


@dataclass(slots=True)
class Plan:
    """Everything decided about one message before it is rendered."""

    index: int
    sender: Person
    to: tuple[Person, ...]
    cc: tuple[Person, ...]
    register: str
    date: dt.datetime
    parent: Sent | None = None
    style: str = "new"  # new | reply | forward
    charset: str = "us-ascii"
    foreign: bool = False
    shape: str = "plain"  # plain | alternative | html
    attachment: bool = False
    size: int = 2000


class MailboxWriter:
    """Plans and renders messages one at a time from a seeded ``random.Random``."""

    def __init__(self, rng: random.Random, directory: Directory, count: int) -> None:
        self.rng = rng
        self.people = directory
        self.count = count
        self.pool = words.build_pool(rng, POOL_SIZES)
        self.ring: collections.deque[Sent] = collections.deque(maxlen=RING)

    def messages(self) -> Iterator[bytes]:
        """Each message as mbox bytes: From_ line, escaped message, blank line."""
        for index in range(self.count):
            plan = self._plan(index)
            message = render(self, plan)
            stamp = time.asctime(plan.date.astimezone(dt.UTC).timetuple())
            yield b"".join((
                f"From {plan.sender.address} {stamp}\n".encode(),
                message.replace(b"\nFrom ", b"\n>From "),
                b"\n",
            ))

    # planning ---------------------------------------------------------------------------

    def _plan(self, index: int) -> Plan:
        rng = self.rng
        sender, to, cc = self._participants()
        plan = Plan(index, sender, to, cc, "business", YEAR_START_DT)
        roll = rng.random()
        if roll < 0.35 and self.ring:
            self._as_reply(plan, rng.choice(self.ring))
        elif roll < 0.41:
            plan.style = "forward"
            plan.parent = rng.choice(self.ring) if self.ring and rng.random() < 0.5 else None
        plan.register = self._register(plan)
        plan.date = self._date(index, plan.register)
        if plan.parent is not None and plan.date <= plan.parent.date:
            plan.date = plan.parent.date + dt.timedelta(minutes=rng.randrange(5, 600))
        self._dress(plan)
        return plan

    def _participants(self) -> tuple[Person, tuple[Person, ...], tuple[Person, ...]]:
        rng, people = self.rng, self.people
        roll = rng.random()
        if roll < 0.42:
            cc = (rng.choice(people.colleagues),) if rng.random() < 0.2 else ()
            return people.me, (self._correspondent(),), cc
        if roll < 0.77:
            cc = (rng.choice(people.colleagues),) if rng.random() < 0.15 else ()
            return rng.choice(people.client_people), (people.me,), cc
        if roll < 0.9:
            return rng.choice(people.colleagues), (people.me,), ()
        return rng.choice(people.outsiders), (people.me,), ()

    def _correspondent(self) -> Person:
        roll, people = self.rng.random(), self.people
        if roll < 0.55:
            return self.rng.choice(people.client_people)
        if roll < 0.8:
            return self.rng.choice(people.colleagues)
        return self.rng.choice(people.outsiders)

    def _as_reply(self, plan: Plan, parent: Sent) -> None:
        plan.style, plan.parent = "reply", parent
        if parent.sender.kind == "me":
            plan.sender, plan.to = parent.to[0], (parent.sender,)
        else:
            plan.sender, plan.to = self.people.me, (parent.sender,)

    def _register(self, plan: Plan) -> str:
        people = (plan.sender, *plan.to, *plan.cc)
        clients = [p for p in people if p.kind == "client"]
        if not clients:
            weights = (0.70, 0.20, 0.09, 0.01)
        elif any(p.friend for p in clients):
            weights = (0.62, 0.28, 0.06, 0.04)
        else:
            weights = (0.86, 0.05, 0.06, 0.03)
        return self.rng.choices(("business", "social", "neutral", "mixed"), weights)[0]

    def _date(self, index: int, register: str) -> dt.datetime:
        rng = self.rng
        day = YEAR_START + dt.timedelta(days=int((index + rng.random()) * 365 / self.count))
        hour = rng.randrange(17, 24) if register in ("social", "mixed") else rng.randrange(8, 19)
        moment = dt.time(hour, rng.randrange(60), rng.randrange(60))
        return dt.datetime.combine(day, moment, LONDON)

    def _dress(self, plan: Plan) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            plan.charset, plan.foreign = "utf-8", True
        elif roll < 0.08:
            plan.charset, plan.foreign = "iso-8859-1", True
        plan.shape = rng.choices(("plain", "alternative", "html"), (0.5, 0.38, 0.12))[0]
        plan.attachment = rng.random() < 0.03
        plan.size = min(int(rng.lognormvariate(7.45, 1.0)), 400_000)

    def remember(self, plan: Plan, msgid: str, subject: str, paras: tuple[Para, ...]) -> None:
        self.ring.append(Sent(msgid, subject, plan.sender, plan.to, plan.date, paras))


# rendering ------------------------------------------------------------------------------


@dataclass(slots=True)
class Body:
    """A message body as blocks, rendered both to plain text and to HTML."""

    new: list[Para]
    signature: str
    attribution: str = ""
    quoted: tuple[Para, ...] = ()
    forward_header: str = ""

    def plain(self) -> str:
        parts = [p.text for p in self.new] + [self.signature]
        if self.forward_header:
            parts += [self.forward_header] + [p.text for p in self.quoted]
        elif self.quoted:
            quoted = "\n>\n".join(_prefix(p.text) for p in self.quoted)
            parts += [self.attribution + "\n" + quoted]
        return "\n\n".join(parts) + "\n"

    def html(self, charset: str) -> str:
        out = [f"<html><head><meta charset=\"{charset}\"></head><body><div dir=\"ltr\">"]
        out += [f"<p>{p.html}</p>" for p in self.new]
        out.append(f"<div class=\"signature\">{_html_lines(self.signature)}</div>")
        if self.forward_header:
            out.append(f"<div class=\"outlook\"><hr>{_html_lines(self.forward_header)}</div>")
            out += [f"<p>{p.html}</p>" for p in self.quoted]
        elif self.quoted:
            out.append(f"<div class=\"gmail_quote\">{_html_lines(self.attribution)}")
            out.append("<blockquote type=\"cite\">")
            out += [f"<p>{p.html}</p>" for p in self.quoted]
            out.append("</blockquote></div>")
        out.append("</div></body></html>")
        return "\n".join(out) + "\n"


def _prefix(text: str) -> str:
    return "> " + text.replace("\n", "\n> ")


def _html_lines(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br>\n")


def first_name(person: Person) -> str:
    return person.name.split()[0]


def render(writer: MailboxWriter, plan: Plan) -> bytes:
    """One message as bytes (LF line ends), and remember it for later replies."""
    rng = writer.rng
    subject = _subject(rng, plan)
    body = _body(writer, plan)
    msgid = f"<{plan.date:%Y%m%d%H%M%S}.{plan.index:06d}.{rng.getrandbits(32):08x}@"
    msgid += plan.sender.address.rpartition("@")[2] + ">"
    writer.remember(plan, msgid, subject, tuple(body.new))
    head = _headers(rng, plan, subject, msgid)
    content_head, content = _content(rng, plan, body)
    return "".join(head + content_head).encode("ascii") + b"\n" + content


def _subject(rng: random.Random, plan: Plan) -> str:
    if plan.parent is not None:
        base = plan.parent.subject.removeprefix("Re: ").removeprefix("FW: ")
        return ("Re: " if plan.style == "reply" else "FW: ") + base
    text = words.subject(rng, plan.register)
    if plan.foreign and rng.random() < 0.4:
        text += " – merci" if plan.charset == "utf-8" else " - à bientôt"
    return ("FW: " + text) if plan.style == "forward" else text


def _body(writer: MailboxWriter, plan: Plan) -> Body:
    rng = writer.rng
    new = [words.make_para(f"Hi {first_name(plan.to[0])},")]
    new += _new_paras(writer, plan)
    if plan.foreign:
        new.append(words.make_para(words.foreign(rng, plan.charset)))
    signoff = f"{rng.choice(words.SIGNOFFS)},\n{first_name(plan.sender)}"
    new.append(Para(signoff, _html_lines(signoff)))
    body = Body(new, _signature(plan.sender))
    if plan.style == "new":
        return body
    quoted = _history(writer, plan, sum(len(p.text) for p in new))
    if plan.style == "reply" and plan.parent is not None:
        body.attribution = _attribution(plan.parent)
    else:
        body.forward_header = _outlook_header(writer, plan)
    body.quoted = quoted
    return body


def _new_paras(writer: MailboxWriter, plan: Plan) -> list[Para]:
    rng, pool = writer.rng, writer.pool
    if plan.register == "mixed":
        paras = [words.make_para(" ".join(words.sentences(rng, "mixed", 1)))]
        if rng.random() < 0.5:
            paras.append(rng.choice(pool["business"]))
        return paras
    register = plan.register
    budget = plan.size if plan.style == "new" else min(plan.size, rng.randrange(150, 900))
    paras = [rng.choice(pool[register])]
    filled = len(paras[0].text)
    while filled < budget:
        para = rng.choice(pool[register if rng.random() < 0.8 else "neutral"])
        paras.append(para)
        filled += len(para.text) + 2
    return paras


def _history(writer: MailboxWriter, plan: Plan, written: int) -> tuple[Para, ...]:
    """The quoted or forwarded text: the parent's own words, then older thread text."""
    rng, pool = writer.rng, writer.pool
    paras = list(plan.parent.paras) if plan.parent is not None else [rng.choice(pool["business"])]
    filled = sum(len(p.text) for p in paras) + written
    while filled < plan.size:
        register = rng.choices(words.REGISTERS, (0.7, 0.2, 0.1))[0]
        para = rng.choice(pool[register])
        paras.append(para)
        filled += len(para.text) + 4
    return tuple(paras)


def _attribution(parent: Sent) -> str:
    when = parent.date.strftime("%a, %d %b %Y at %H:%M")
    return f"On {when}, {parent.sender.header()} wrote:"


def _outlook_header(writer: MailboxWriter, plan: Plan) -> str:
    parent = plan.parent
    if parent is None:
        who = writer.rng.choice(writer.people.client_people + writer.people.outsiders)
        when, to, subject = plan.date - dt.timedelta(days=2), plan.sender.name, "Update"
    else:
        who, when = parent.sender, parent.date
        to, subject = "; ".join(p.name for p in parent.to), parent.subject
    return (
        "-----Original Message-----\n"
        f"From: {who.name} [mailto:{who.address}]\n"
        f"Sent: {_outlook_date(when)}\n"
        f"To: {to}\n"
        f"Subject: {subject}"
    )


def _outlook_date(moment: dt.datetime) -> str:
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    months = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (f"{days[moment.weekday()]}, {months[moment.month - 1]} {moment.day}, "
            f"{moment.year} {hour}:{moment.minute:02d} {half}")


def _signature(person: Person) -> str:
    if person.kind == "me":
        return "-- \nSam Carter\nStudio Example Ltd | +44 20 7946 0000"
    if person.kind == "client":
        return f"-- \n{person.name}\norg{person.client}.example"
    return f"-- \n{person.name}"


# headers and MIME -----------------------------------------------------------------------


def _headers(rng: random.Random, plan: Plan, subject: str, msgid: str) -> list[str]:
    charset = plan.charset if plan.charset != "us-ascii" else "utf-8"
    head = [
        f"From: {_address(plan.sender, charset)}\n",
        f"To: {_addresses(plan.to, charset)}\n",
    ]
    if plan.cc:
        head.append(f"Cc: {_addresses(plan.cc, charset)}\n")
    head += [
        f"Subject: {_encode(subject, charset)}\n",
        f"Date: {format_datetime(plan.date)}\n",
        f"Message-ID: {msgid}\n",
    ]
    if plan.style == "reply" and plan.parent is not None:
        head.append(f"In-Reply-To: {plan.parent.msgid}\nReferences: {plan.parent.msgid}\n")
    mailer = rng.choice(MAILERS)
    if mailer:
        head.append(f"X-Mailer: {mailer}\n")
    head.append("MIME-Version: 1.0\n")
    return head


def _encode(text: str, charset: str) -> str:
    if text.isascii():
        return text
    try:
        return Header(text, charset).encode()
    except UnicodeEncodeError:
        return Header(text, "utf-8").encode()


def _address(person: Person, charset: str) -> str:
    return f"{_encode(person.name, charset)} <{person.address}>"


def _addresses(people: tuple[Person, ...], charset: str) -> str:
    return ",\n ".join(_address(p, charset) for p in people)


def _content(rng: random.Random, plan: Plan, body: Body) -> tuple[list[str], bytes]:
    """The Content-* headers and the encoded body for the message's MIME shape."""
    if plan.shape == "plain":
        parts = [_leaf(rng, plan, body, "plain")]
    elif plan.shape == "html":
        parts = [_leaf(rng, plan, body, "html")]
    else:
        leaves = [_leaf(rng, plan, body, "plain"), _leaf(rng, plan, body, "html")]
        parts = [_multipart(rng, plan, "alternative", leaves)]
    if plan.attachment:
        parts = [_multipart(rng, plan, "mixed", [*parts, _attachment(rng)])]
    return parts[0]


def _leaf(rng: random.Random, plan: Plan, body: Body, subtype: str) -> tuple[list[str], bytes]:
    text = body.plain() if subtype == "plain" else body.html(plan.charset)
    charset = _charset(text, plan.charset)
    if subtype == "html" and charset != plan.charset:
        text = body.html(charset)
    if charset == "us-ascii":
        data, cte = text.encode("ascii"), "7bit"
    elif rng.random() < 0.6:
        data, cte = binascii.b2a_qp(text.encode(charset)), "quoted-printable"
    else:
        data, cte = text.encode(charset), "8bit"
    head = [f"Content-Type: text/{subtype}; charset=\"{charset}\"\n",
            f"Content-Transfer-Encoding: {cte}\n"]
    return head, data


def _charset(text: str, wanted: str) -> str:
    if text.isascii():
        return "us-ascii"
    if wanted == "iso-8859-1":
        try:
            text.encode("iso-8859-1")
        except UnicodeEncodeError:
            return "utf-8"
        return wanted
    return "utf-8"


def _multipart(
    rng: random.Random, plan: Plan, subtype: str, parts: list[tuple[list[str], bytes]]
) -> tuple[list[str], bytes]:
    boundary = f"=_{subtype[:3]}_{plan.index:06d}_{rng.getrandbits(32):08x}"
    chunks = [b"This is a multi-part message in MIME format.\n"]
    for head, data in parts:
        chunks += [f"\n--{boundary}\n".encode(), "".join(head).encode("ascii"), b"\n", data]
    chunks.append(f"\n--{boundary}--\n".encode())
    head = [f"Content-Type: multipart/{subtype};\n boundary=\"{boundary}\"\n"]
    return head, b"".join(chunks)


def _attachment(rng: random.Random) -> tuple[list[str], bytes]:
    name = f"invoice-{rng.randrange(1000, 9999)}.pdf"
    data = b"%PDF-1.4\n" + rng.randbytes(rng.randrange(2_000, 40_000))
    head = [
        f"Content-Type: application/pdf; name=\"{name}\"\n",
        f"Content-Disposition: attachment; filename=\"{name}\"\n",
        "Content-Transfer-Encoding: base64\n",
    ]
    return head, base64.encodebytes(data)
