"""The daily digest: rendering (HTML and text) and delivery (real SMTP on loopback, files)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import logging
import re
import time
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from linter.model import Severity
from linter.report.digest import Digest, DigestEntry, RenderedDigest, render
from linter.report.mailer import (
    DIGEST_HEADER,
    DeliveryError,
    FileTransport,
    SmtpTransport,
    build_message,
    register_transport,
    transport_from_config,
)
from linter.yamlfile import ConfigError, parse

if TYPE_CHECKING:  # imported by pytest_plugins below, so that pytest rewrites its asserts
    from .fakes.smtp import SmtpServer, StartServer, TlsFiles

pytest_plugins = ["tests.fakes.smtp"]

LONDON = ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 11, 22, 7, 30, tzinfo=LONDON)
P1 = ("P1", "Know when you are working and when you are socialising; do not formally combine.")
P3 = ("P3", "The friendship must not be used to get extra or unpaid services.")


def entry(fingerprint: str = "0123456789abcdef", **changes: Any) -> DigestEntry:
    base = DigestEntry(
        fingerprint=fingerprint,
        rule="CL101",
        title="Business agenda inside a social occasion with a client",
        severity=Severity.WARNING,
        message="'Q3 contract review over drinks' mixes business (contract review) with a "
        "social occasion (drinks) with Dana Ng",
        client="Dana Ng (Acme Ltd)",
        item_kind="event",
        item_title="Q3 contract review over drinks",
        item_when=dt.datetime(2026, 11, 20, 19, 0, tzinfo=LONDON),
        item_source="calendar.ics",
        evidence=("Q3 contract review over drinks at the Crown",),
        principles=(P1,),
        advice="Hold the business part as its own meeting in working hours.",
        first_seen=dt.datetime(2026, 11, 21, 8, 0, tzinfo=LONDON),
        status="open",
    )
    return dataclasses.replace(base, **changes)


def digest(**changes: Any) -> Digest:
    base = Digest(
        generated_at=NOW,
        timezone="Europe/London",
        new=[entry()],
        still_open=[],
        trend=[(NOW.date(), 1)],
    )
    return dataclasses.replace(base, **changes)


def positions(haystack: str, *needles: str) -> list[int]:
    found = [haystack.find(needle) for needle in needles]
    assert -1 not in found, [n for n, at in zip(needles, found, strict=True) if at == -1]
    return found


# -- rendering -----------------------------------------------------------------------


def test_subject_counts_new_and_open_findings_with_the_date() -> None:
    new = [entry(f"{n:016x}") for n in range(3)]
    still = [entry(f"{n:016x}") for n in range(10, 15)]
    assert render(digest(new=new, still_open=still)).subject == (
        "clientline: 3 new, 5 open findings (2026-11-22)"
    )
    assert render(digest(new=[], still_open=still[:1])).subject == (
        "clientline: 0 new, 1 open finding (2026-11-22)"
    )


def test_new_findings_come_before_open_ones_and_each_part_is_grouped_by_client() -> None:
    rendered = render(
        digest(
            new=[
                entry("aaaaaaaaaaaaaaa1", client="Zed Partners"),
                entry("aaaaaaaaaaaaaaa2", client=""),
                entry("aaaaaaaaaaaaaaa3", client="Dana Ng (Acme Ltd)"),
                entry("aaaaaaaaaaaaaaa4", client="Zed Partners"),
            ],
            still_open=[
                entry("bbbbbbbbbbbbbbb1", client="Zed Partners"),
                entry("bbbbbbbbbbbbbbb2", client="bob (Barn Co)"),
            ],
        )
    )
    headings = {
        rendered.text: ("NEW SINCE LAST DIGEST (4)", "STILL OPEN (2)"),
        rendered.html: ("New since last digest (4)", "Still open (2)"),
    }
    for body, (new_heading, open_heading) in headings.items():
        new_at, open_at = positions(body, new_heading, open_heading)
        assert new_at < open_at
        new_part, open_part = body[new_at:open_at], body[open_at:]
        # clients sorted by name, "No client" last, each client once per part
        clients = positions(new_part, "Dana Ng (Acme Ltd)", "Zed Partners", "No client")
        assert clients == sorted(clients)
        assert new_part.count("Zed Partners") == 1
        a3, a1, a4, a2 = positions(
            new_part, "aaaaaaaaaaaaaaa3", "aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa4", "aaaaaaaaaaaaaaa2"
        )
        assert a3 < a1 < a4 < a2
        b2, b1 = positions(open_part, "bbbbbbbbbbbbbbb2", "bbbbbbbbbbbbbbb1")
        assert b2 < b1  # "bob" sorts before "Zed" whatever the case
        assert "aaaaaaaaaaaaaaa" not in open_part and "bbbbbbbbbbbbbbb" not in new_part


def test_within_a_client_the_worst_comes_first_then_by_time() -> None:
    rendered = render(
        digest(
            new=[
                entry("1000000000000000", severity=Severity.INFO),
                entry("2000000000000000", item_when=NOW - dt.timedelta(days=1)),
                entry("3000000000000000", item_when=NOW - dt.timedelta(days=3)),
                entry("4000000000000000", severity=Severity.ERROR, item_when=None),
            ]
        )
    )
    order = positions(
        rendered.text, "4000000000000000", "3000000000000000", "2000000000000000",
        "1000000000000000",
    )  # fmt: skip
    assert order == sorted(order)


def test_every_entry_carries_what_the_reader_needs_in_both_parts() -> None:
    rendered = render(digest(new=[entry(principles=(P1, P3))]))
    for body in (rendered.text, html.unescape(rendered.html)):
        body = " ".join(body.split())  # the text part wraps lines
        for expected in (
            "CL101",
            "Business agenda inside a social occasion with a client",
            "warning",
            "Q3 contract review over drinks",
            "Fri 20 Nov 2026 19:00",
            "calendar.ics",
            "Q3 contract review over drinks at the Crown",
            "P1",
            "P3",
            "unpaid services",
            "Hold the business part as its own meeting",
            "2026-11-21",
            'clientline ack 0123456789abcdef --reason "..."',
        ):
            assert expected in body, expected


def test_header_counts_new_open_and_each_severity() -> None:
    rendered = render(
        digest(
            new=[entry("1" * 16, severity=Severity.ERROR), entry("2" * 16)],
            still_open=[entry("3" * 16), entry("4" * 16), entry("5" * 16, severity=Severity.INFO)],
        )
    )
    assert "2 new, 3 still open: 1 error, 3 warnings, 1 info" in rendered.text
    assert "2 new, 3 still open" in rendered.html
    assert ">1 error<" in rendered.html and ">3 warnings<" in rendered.html


def test_html_from_items_is_escaped_everywhere() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    rendered = render(
        digest(
            new=[
                entry(
                    item_title=f"Lunch {hostile}",
                    message=f"mixes {hostile}",
                    evidence=(f"<script>alert(2)</script> and {hostile}",),
                    client="Dana <dana@acme.example>",
                    advice="Use <b>tags</b>? & no",
                    item_source="x</td></table>",
                )
            ]
        )
    )
    assert "<img" not in rendered.html and "<script" not in rendered.html
    assert "<b>tags" not in rendered.html and "</td></table>\n" not in rendered.html
    assert html.escape(hostile, quote=False).replace('"', "&#34;") in rendered.html
    assert "Dana &lt;dana@acme.example&gt;" in rendered.html
    assert "&amp; no" in rendered.html
    # the text part is not HTML: it shows the words as they were
    assert f"Lunch {hostile}" in rendered.text


def test_html_uses_inline_styles_and_tables_only() -> None:
    page = render(digest()).html
    assert "<style" not in page and "<script" not in page and "<img" not in page
    assert "<link" not in page and "class=" not in page
    assert page.count('role="presentation"') > 5
    assert '<meta charset="utf-8">' in page


def test_a_private_event_shows_neither_title_message_nor_evidence() -> None:
    private = entry(
        item_title="Therapy session",
        message="'Therapy session' mixes business (invoice) with a social occasion",
        evidence=("talk about the invoice at therapy",),
        private=True,
    )
    rendered = render(digest(new=[private]))
    for body in (rendered.text, rendered.html):
        assert "Therapy" not in body and "therapy" not in body and "invoice" not in body
        assert "(private event)" in body
        assert "CL101" in body and "Hold the business part" in body
        assert "clientline ack 0123456789abcdef" in html.unescape(body)


def test_an_empty_digest_is_a_short_nothing_new_note() -> None:
    rendered = render(digest(new=[], still_open=[], trend=[]))
    assert rendered.subject == "clientline: nothing new, no open findings (2026-11-22)"
    assert "Nothing new" in rendered.text and "Nothing new" in rendered.html
    assert len(rendered.text.splitlines()) < 10
    assert "Still open" not in rendered.html and "STILL OPEN" not in rendered.text
    assert "clientline ack" not in rendered.text


def test_nothing_new_but_some_still_open() -> None:
    rendered = render(digest(new=[], still_open=[entry()]))
    assert "Nothing new." in rendered.text and "STILL OPEN (1)" in rendered.text
    assert "Nothing new." in rendered.html and "Still open (1)" in rendered.html


def test_trend_shows_exactly_the_last_14_days_oldest_first() -> None:
    today = NOW.date()
    trend = [
        (today - dt.timedelta(days=20), 9),  # outside the window: left out
        (today - dt.timedelta(days=13), 2),
        (today - dt.timedelta(days=5), 4),
        (today, 1),
    ]
    rendered = render(digest(trend=trend))
    days = re.findall(r'title="(\d{4}-\d\d-\d\d): (\d+) new"', rendered.html)
    assert len(days) == 14
    assert days[0] == ((today - dt.timedelta(days=13)).isoformat(), "2")
    assert days[8] == ((today - dt.timedelta(days=5)).isoformat(), "4")
    assert days[-1] == (today.isoformat(), "1")
    assert sum(int(n) for _, n in days) == 7
    assert "9 Nov – 22 Nov" in rendered.html and "7 in all" in rendered.html
    spark = re.search(r"^  (\S{14})  7 in all, at most 4 a day$", rendered.text, re.M)
    assert spark, rendered.text
    assert spark.group(1)[8] == "█" and spark.group(1)[1] == "·"


def test_text_part_is_wrapped_at_78_columns_except_commands() -> None:
    long = " ".join(["friendship"] * 60)
    rendered = render(
        digest(
            new=[entry(message=long, advice=long, evidence=(long,) * 5, item_title=long)],
            ack_command="clientline --config /very/long/path/to/a/config/folder/clientline.yaml "
            'ack {fingerprint} --reason "..."',
        )
    )
    lines = rendered.text.splitlines()
    commands = [line for line in lines if line.strip().startswith("clientline --config")]
    assert commands and all(
        "/very/long/path/to/a/config/folder/clientline.yaml ack 0123456789abcdef" in line
        for line in commands[:1]
    )
    too_long = [line for line in lines if len(line) > 78 and line not in commands]
    assert not too_long


def test_evidence_is_bounded_in_length_and_number() -> None:
    snippet = "word " * 400
    rendered = render(digest(new=[entry(evidence=(snippet,) * 10)]))
    quoted = re.findall(r"“([^”]*)”", rendered.html)
    assert len(quoted) == 3
    assert all(len(text) <= 200 and text.endswith("…") for text in quoted)
    assert rendered.text.count('"word') == 3


def test_control_characters_and_newlines_in_items_are_flattened() -> None:
    rendered = render(digest(new=[entry(item_title="Dinner\r\nBcc: x\x1b[31m\u202eevil")]))
    assert "Dinner Bcc: x [31m evil" in rendered.text
    assert "\x1b" not in rendered.html and "\u202e" not in rendered.html


def test_times_are_shown_in_the_users_timezone() -> None:
    summer_utc = dt.datetime(2026, 7, 1, 18, 0, tzinfo=dt.UTC)
    rendered = render(digest(new=[entry(item_when=summer_utc)]))
    assert "Wed 1 Jul 2026 19:00" in rendered.text


def test_the_ack_command_template_is_filled_in_for_each_finding() -> None:
    template = 'clientline ack {fingerprint} --config "/etc/clientline.yaml" --reason "..."'
    rendered = render(digest(new=[entry("feedfacecafebeef")], ack_command=template))
    expected = template.replace("{fingerprint}", "feedfacecafebeef")
    assert expected in rendered.text
    assert expected in html.unescape(rendered.html)


def test_entries_beyond_the_limit_are_listed_in_brief() -> None:
    many = [entry(f"{n:016x}") for n in range(5)]
    rendered = render(digest(new=many, full_entries=2))
    assert rendered.text.count("Acknowledge:") == 2
    assert all(f"clientline ack {n:016x}" in rendered.text for n in range(5))
    assert "The last 3 of these are listed in brief" in rendered.text
    assert html.unescape(rendered.html).count("clientline ack 000000000000000") == 5


def test_templates_ship_inside_the_package() -> None:
    folder = files("linter.report") / "templates"
    assert (folder / "digest.html.j2").is_file() and (folder / "digest.txt.j2").is_file()


# -- the message ---------------------------------------------------------------------


def sample_message(rendered: RenderedDigest | None = None, digest_id: str = "digest-42") -> Any:
    return build_message(
        rendered or render(digest()),
        sender="clientline <clientline@studio.example>",
        to=["sam@studio.example", "ops@studio.example"],
        digest_id=digest_id,
        date=NOW,
    )


def check_structure(message: Any, rendered: RenderedDigest, digest_id: str) -> None:
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    # what came over the wire has CRLF line ends, as SMTP requires
    assert parts[0].get_content().replace("\r\n", "\n") == rendered.text
    assert parts[1].get_content().replace("\r\n", "\n") == rendered.html
    assert message["Subject"] == rendered.subject
    assert message["From"] == "clientline <clientline@studio.example>"
    assert message["To"] == "sam@studio.example, ops@studio.example"
    assert message[DIGEST_HEADER] == digest_id
    assert re.fullmatch(r"<[^@>]+@studio\.example>", message["Message-ID"].strip())
    assert message["Date"].datetime == NOW


def test_build_message_is_multipart_alternative_text_first() -> None:
    rendered = render(digest())
    check_structure(sample_message(rendered), rendered, "digest-42")


def test_build_message_survives_a_7bit_relay() -> None:
    rendered = render(digest(new=[entry(item_title="Café – naïve ✓ " + "x" * 2000)]))
    raw = sample_message(rendered).as_bytes()
    assert max(len(line) for line in raw.splitlines()) <= 78
    assert raw.isascii()


def test_build_message_needs_a_recipient() -> None:
    with pytest.raises(ValueError, match="recipient"):
        build_message(render(digest()), sender="a@b.example", to=[], digest_id="d")


# -- SMTP on loopback ----------------------------------------------------------------


def test_smtp_delivers_the_digest_with_its_structure(smtp_server: SmtpServer) -> None:
    rendered = render(digest(still_open=[entry("fedcba9876543210", client="Zed")]))
    message = sample_message(rendered, "2026-11-22T07:30:00+00:00")
    SmtpTransport(smtp_server.host, smtp_server.port, security="none", timeout=5).send(message)

    [got] = smtp_server.received
    assert got.mail_from == "clientline@studio.example"
    assert sorted(got.rcpt_tos) == ["ops@studio.example", "sam@studio.example"]
    assert not got.tls and got.login is None
    check_structure(got.message, rendered, "2026-11-22T07:30:00+00:00")
    assert DIGEST_HEADER.encode() + b": 2026-11-22T07:30:00+00:00" in got.data
    text, page = (p.get_content() for p in got.message.iter_parts())
    assert "clientline ack fedcba9876543210" in text and "Zed" in page


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_smtp_starttls_and_auth(
    start_smtp_server: StartServer, tls_files: TlsFiles, mechanism: str
) -> None:
    server = start_smtp_server(starttls=True, users={"sam": "s3cret"}, mechanisms=[mechanism])
    transport = SmtpTransport(
        server.host, server.port, "starttls", "sam", "s3cret", timeout=5,
        ssl_context=tls_files.client_context(),
    )  # fmt: skip
    transport.send(sample_message())
    [got] = server.received
    assert got.tls and got.login == "sam"
    assert server.mechanisms_used == [mechanism]
    assert got.message[DIGEST_HEADER] == "digest-42"


def test_smtp_implicit_tls_and_auth(start_smtp_server: StartServer, tls_files: TlsFiles) -> None:
    server = start_smtp_server(implicit_tls=True, users={"sam": "s3cret"})
    SmtpTransport(
        server.host, server.port, "tls", "sam", "s3cret", timeout=5,
        ssl_context=tls_files.client_context(),
    ).send(sample_message())  # fmt: skip
    [got] = server.received
    assert got.tls and got.login == "sam"


def test_smtp_wrong_password_is_a_delivery_error(
    start_smtp_server: StartServer, tls_files: TlsFiles
) -> None:
    server = start_smtp_server(starttls=True, users={"sam": "s3cret"})
    transport = SmtpTransport(
        server.host, server.port, "starttls", "sam", "wrong", timeout=5,
        ssl_context=tls_files.client_context(),
    )  # fmt: skip
    with pytest.raises(DeliveryError, match="authentication failed for 'sam'") as caught:
        transport.send(sample_message())
    assert "\n" not in str(caught.value) and "wrong" not in str(caught.value)
    assert server.received == [] and set(server.failed_logins) == {"sam"}


def test_smtp_refuses_an_untrusted_certificate(start_smtp_server: StartServer) -> None:
    server = start_smtp_server(starttls=True)
    transport = SmtpTransport(server.host, server.port, "starttls", timeout=5)
    with pytest.raises(DeliveryError, match=r"TLS failed.*CERTIFICATE_VERIFY_FAILED"):
        transport.send(sample_message())
    assert server.received == []


def test_smtp_starttls_never_falls_back_to_plain_text(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.host, smtp_server.port, "starttls", "sam", "pw")
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        transport.send(sample_message())
    assert smtp_server.received == []


def test_smtp_all_recipients_refused(start_smtp_server: StartServer) -> None:
    server = start_smtp_server(refuse=["sam@studio.example", "ops@studio.example"])
    transport = SmtpTransport(server.host, server.port, "none", timeout=5)
    with pytest.raises(DeliveryError, match=r"every recipient was refused: .*550"):
        transport.send(sample_message())


def test_smtp_some_recipients_refused_is_still_a_delivery(
    start_smtp_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_smtp_server(refuse=["ops@studio.example"])
    with caplog.at_level(logging.WARNING, logger="linter.report.mailer"):
        SmtpTransport(server.host, server.port, "none", timeout=5).send(sample_message())
    assert [got.rcpt_tos for got in server.received] == [["sam@studio.example"]]
    assert "refused=ops@studio.example" in caplog.text


def test_smtp_server_down_fails_fast(closed_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=f"127.0.0.1:{closed_port}: cannot connect"):
        SmtpTransport("127.0.0.1", closed_port, "none", timeout=5).send(sample_message())
    assert time.monotonic() - started < 2


def test_smtp_silent_server_times_out(silent_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"no answer within 0.5s"):
        SmtpTransport("127.0.0.1", silent_port, "starttls", timeout=0.5).send(sample_message())
    assert time.monotonic() - started < 3


# -- files ---------------------------------------------------------------------------


def test_file_transport_writes_html_and_text_atomically(tmp_path: Path) -> None:
    rendered = render(digest())
    target = tmp_path / "out" / "digest.html"
    transport = FileTransport(target)
    transport.send(sample_message(rendered))
    assert target.read_text(encoding="utf-8") == rendered.html
    assert (tmp_path / "out" / "digest.txt").read_text(encoding="utf-8") == rendered.text

    again = render(digest(new=[], still_open=[]))
    transport.send(sample_message(again))
    assert target.read_text(encoding="utf-8") == again.html
    assert sorted(p.name for p in target.parent.iterdir()) == ["digest.html", "digest.txt"]


def test_file_transport_keeps_the_digest_private_unless_told_otherwise(tmp_path: Path) -> None:
    target = tmp_path / "digest.html"
    transport = FileTransport(target)
    transport.send(sample_message())
    assert target.stat().st_mode & 0o777 == 0o600  # it names clients and their business
    target.chmod(0o640)
    transport.send(sample_message())
    assert target.stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "digest.txt").stat().st_mode & 0o777 == 0o600


def test_file_transport_reports_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DeliveryError, match="cannot write"):
        FileTransport(blocker / "digest.html").send(sample_message())


# -- configuration -------------------------------------------------------------------

CONFIG = """\
digest:
  to: [sam@studio.example]
  transport: smtp
  smtp: {host: smtp.example, port: 587, security: starttls, username: sam,
         password_env: CLIENTLINE_SMTP_PASSWORD}
  file: out/digest.html
"""


def digest_section(text: str) -> Any:
    return parse(text, "clientline.yaml")["digest"]


def test_config_smtp_reads_the_password_from_the_environment() -> None:
    transport = transport_from_config(
        digest_section(CONFIG), environ={"CLIENTLINE_SMTP_PASSWORD": "hunter2"}
    )
    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port, transport.security) == ("smtp.example", 587, "starttls")
    assert (transport.username, transport.password) == ("sam", "hunter2")
    assert "hunter2" not in repr(transport)


def test_config_missing_secret_names_the_variable_and_the_line() -> None:
    with pytest.raises(ConfigError) as caught:
        transport_from_config(digest_section(CONFIG), path="conf/clientline.yaml", environ={})
    message = str(caught.value)
    assert message.startswith("conf/clientline.yaml:5:")
    assert "CLIENTLINE_SMTP_PASSWORD is not set" in message and "password_file" in message


def test_config_password_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "smtp.secret").write_text("from-a-file\n")
    (tmp_path / "smtp.secret").chmod(0o600)  # a password others may read is refused
    section = digest_section(
        CONFIG.replace("password_env: CLIENTLINE_SMTP_PASSWORD", "password_file: smtp.secret")
    )
    transport = transport_from_config(section, path=str(tmp_path / "clientline.yaml"), environ={})
    assert isinstance(transport, SmtpTransport) and transport.password == "from-a-file"


@pytest.mark.parametrize(
    ("smtp", "error"),
    [
        ("{host: smtp.example, prot: 25}", "unknown key `prot`"),
        ("{port: 25}", "host must name"),
        ("{host: smtp.example, security: ssl}", "security must be starttls, tls or none"),
        ("{host: smtp.example, port: huge}", "port must be a port number"),
        ("{host: smtp.example, username: sam}", "no password source"),
        ("{host: smtp.example, password_env: X, password_file: Y}", "not both"),
    ],
)
def test_config_smtp_mistakes(smtp: str, error: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(error)):
        transport_from_config(digest_section(f"digest:\n  smtp: {smtp}\n"), environ={"X": "1"})


def test_config_smtp_defaults_the_port_from_the_security() -> None:
    section = digest_section("digest:\n  smtp: {host: relay.example, security: tls}\n")
    transport = transport_from_config(section, environ={})
    assert isinstance(transport, SmtpTransport) and transport.port == 465


def test_config_file_transport_resolves_against_the_config_folder(tmp_path: Path) -> None:
    section = digest_section(CONFIG.replace("transport: smtp", "transport: file"))
    transport = transport_from_config(section, path=str(tmp_path / "clientline.yaml"))
    assert isinstance(transport, FileTransport)
    assert transport.html_path == tmp_path / "out" / "digest.html"
    assert transport.text_path == tmp_path / "out" / "digest.txt"


def test_config_unknown_transport_suggests_a_known_one() -> None:
    section = digest_section("digest:\n  transport: smtpp\n")
    with pytest.raises(ConfigError, match=r"clientline.yaml:2:14: .*`smtpp`.*did you mean `smtp`"):
        transport_from_config(section)


def test_config_a_registered_transport_plugs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from linter.report import mailer

    class Outbox:
        def send(self, message: Any) -> None:
            raise AssertionError("not called")

    monkeypatch.setattr(mailer, "_FACTORIES", dict(mailer._FACTORIES))
    register_transport("gmail", lambda section, config: Outbox())
    transport = transport_from_config(digest_section("digest:\n  transport: gmail\n"))
    assert isinstance(transport, Outbox)
