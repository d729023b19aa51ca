"""`clientline auth google`, stored tokens and the `gmail` digest transport, against the
fake Google server on loopback (the real google-auth-oauthlib flow and API client)."""

from __future__ import annotations

import email
import email.policy
import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from linter.google import auth
from linter.report import mailer
from linter.report.digest import render
from tests.fakes.google_server import FakeGoogle
from tests.test_digest import check_structure, digest, sample_message

CLIENTLINE = [sys.executable, "-m", "linter.cli"]
USER = "sam@studio.example"


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("CLIENTLINE_CONFIG_DIR", str(folder))
    return folder


def client_secrets(fake: FakeGoogle, folder: Path) -> Path:
    path = folder / "client_secret.json"
    path.write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": "fake-client-id.apps.googleusercontent.com",
                    "client_secret": "fake-client-secret",
                    "auth_uri": fake.auth_uri,
                    "token_uri": fake.token_uri,
                    "redirect_uris": ["http://localhost"],
                }
            }
        )
    )
    return path


def browser_that_follows_redirects(folder: Path) -> str:
    """A BROWSER command (Python's webbrowser honours it) that opens the consent page
    and follows its redirect back to the flow's loopback server, as a user's click would."""
    script = folder / "browser.py"
    script.write_text(
        textwrap.dedent(
            """\
            import sys, http.client, urllib.parse

            def get(url):
                parts = urllib.parse.urlsplit(url)
                host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
                connection = http.client.HTTPConnection(host, parts.port, timeout=10)
                connection.request("GET", parts.path + "?" + parts.query)
                response = connection.getresponse()
                response.read()
                connection.close()
                return response.getheader("Location")

            get(get(sys.argv[1]))
            """
        )
    )
    # the trailing & makes webbrowser start it in the background, as a real browser is
    return f"{sys.executable} {script} %s &"


def run_auth(fake: FakeGoogle, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BROWSER": browser_that_follows_redirects(tmp_path),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        # oauthlib insists on https; the fake's token endpoint is plain http on loopback
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
    }
    secrets = client_secrets(fake, tmp_path)
    command = [*CLIENTLINE, "auth", "google", "--client-secrets", str(secrets), *extra]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60, env=env)


def test_the_installed_app_flow_stores_a_read_only_token_owner_only(
    fake: FakeGoogle, tmp_path: Path, config_dir: Path
) -> None:
    done = run_auth(fake, tmp_path, "--account", "sam")
    assert done.returncode == 0, done.stderr
    token = config_dir / "google" / "sam.json"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(token.parent.stat().st_mode) == 0o700
    info = json.loads(token.read_text())
    assert info["refresh_token"] in fake.oauth.refresh_tokens
    assert sorted(info["scopes"]) == sorted([auth.CALENDAR_READONLY, auth.GMAIL_READONLY])
    assert "sam.json" in done.stdout and "mode 0600" in done.stdout
    assert [g["grant_type"] for g in fake.oauth.grants] == ["authorization_code"]


def test_send_adds_gmail_send_and_nothing_else(
    fake: FakeGoogle, tmp_path: Path, config_dir: Path
) -> None:
    done = run_auth(fake, tmp_path, "--send")
    assert done.returncode == 0, done.stderr
    info = json.loads((config_dir / "google" / "default.json").read_text())
    assert sorted(info["scopes"]) == sorted(auth.scopes(send=True))


def test_a_bad_client_secrets_file_is_exit_2_with_the_reason(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    missing = subprocess.run(
        [*CLIENTLINE, "auth", "google", "--client-secrets", str(tmp_path / "nope.json")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
    assert "nope.json: no such file" in missing.stderr
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"web": {}}')
    done = subprocess.run(
        [*CLIENTLINE, "auth", "google", "--client-secrets", str(wrong)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "wrong.json: not an OAuth client secrets file" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def save_token(fake: FakeGoogle, send: bool = False, account: str = "sam") -> str:
    refresh = fake.oauth.issue_refresh_token(USER)
    auth.save_token(
        auth.token_path(account),
        {
            "refresh_token": refresh,
            "client_id": "fake-client-id",
            "client_secret": "fake-client-secret",
            "scopes": auth.scopes(send),
        },
    )
    return refresh


def options(fake: FakeGoogle, account: str = "sam") -> dict[str, str]:
    return {"account": account, "endpoint": fake.url, "token_uri": fake.token_uri}


def test_a_stored_token_is_refreshed_and_written_back_owner_only(
    fake: FakeGoogle, config_dir: Path
) -> None:
    save_token(fake)
    credentials = auth.credentials(options(fake), [auth.GMAIL_READONLY])
    assert credentials.valid
    stored = json.loads(auth.token_path("sam").read_text())
    assert stored["token"] == credentials.token  # the fresh access token is kept
    assert stat.S_IMODE(auth.token_path("sam").stat().st_mode) == 0o600
    assert [g["grant_type"] for g in fake.oauth.grants] == ["refresh_token"]


def test_a_token_that_cannot_be_written_back_still_works_and_is_logged(
    fake: FakeGoogle,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    save_token(fake)

    def read_only(path: Path, info: object) -> None:
        raise PermissionError(13, "Read-only file system", str(path))

    monkeypatch.setattr(auth, "save_token", read_only)
    with caplog.at_level("WARNING", logger="clientline"):
        credentials = auth.credentials(options(fake), [auth.GMAIL_READONLY])
    assert credentials.valid
    assert "event=token_not_saved" in caplog.text and "Read-only" in caplog.text


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("missing", "no Google token for account `sam`"),
        ("revoked", "Google refused the token for account `sam`"),
        ("readable", "must be readable by its owner only"),
        ("garbage", "unreadable Google token"),
    ],
)
def test_token_problems_are_one_line_naming_the_fix(
    fake: FakeGoogle, config_dir: Path, damage: str, expected: str
) -> None:
    refresh = save_token(fake)
    path = auth.token_path("sam")
    if damage == "missing":
        path.unlink()
    elif damage == "revoked":
        fake.oauth.revoke_refresh_token(refresh)
    elif damage == "readable":
        path.chmod(0o644)
    else:
        path.write_text("{not json")
        path.chmod(0o600)
    with pytest.raises(auth.AuthError) as caught:
        auth.credentials(options(fake), [auth.GMAIL_READONLY])
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    if damage != "readable":
        assert "clientline auth google --client-secrets FILE --account sam" in message


def test_a_token_without_the_send_scope_says_to_add_it(fake: FakeGoogle, config_dir: Path) -> None:
    save_token(fake, send=False)
    with pytest.raises(auth.AuthError, match=r"lacks gmail.send; run `.*--account sam --send`"):
        auth.credentials(options(fake), [auth.GMAIL_SEND])


# ---- the gmail digest transport


def gmail_transport(fake: FakeGoogle, tmp_path: Path) -> mailer.Transport:
    config = tmp_path / "clientline.yaml"
    digest = {"transport": "gmail", "gmail": options(fake)}
    return mailer.transport_from_config(digest, path=str(config), base=tmp_path)


def test_the_gmail_transport_sends_the_whole_digest(
    fake: FakeGoogle, tmp_path: Path, config_dir: Path
) -> None:
    save_token(fake, send=True)
    rendered = render(digest())
    message = sample_message(rendered)
    gmail_transport(fake, tmp_path).send(message)
    sent = fake.gmail.mailbox(USER).sent
    assert len(sent) == 1
    received = email.message_from_bytes(sent[0], policy=email.policy.default)
    check_structure(received, rendered, "digest-42")
    assert received["Message-ID"] == message["Message-ID"]  # kept: re-sends dedupe
    assert fake.counters.gmail_quota_units == 100


def test_the_gmail_transport_without_send_scope_is_a_delivery_error(
    fake: FakeGoogle, tmp_path: Path, config_dir: Path
) -> None:
    save_token(fake, send=False)
    message = sample_message()
    with pytest.raises(mailer.DeliveryError, match=r"lacks gmail.send.*--send"):
        gmail_transport(fake, tmp_path).send(message)
    assert fake.gmail.mailbox(USER).sent == []


def test_gmail_transport_settings_are_checked_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"unknown key `acount` in digest.gmail.*`account`"):
        mailer.transport_from_config(
            {"transport": "gmail", "gmail": {"acount": "sam"}}, path=str(tmp_path / "c.yaml")
        )
    with pytest.raises(Exception, match="needs `subject:`"):
        mailer.transport_from_config(
            {"transport": "gmail", "gmail": {"credentials": "sa.json"}},
            path=str(tmp_path / "c.yaml"),
        )


# ---- configuration of account sources


def test_account_source_options_are_checked_with_a_hint(tmp_path: Path) -> None:
    from linter import config as config_module
    from linter import worker

    path = tmp_path / "clientline.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            sources:
              - type: gmail
                acount: sam
              - type: gcal
                path: calendar.ics
              - type: gdrive
                account: sam
            """
        )
    )
    errors = worker.check_sources(config_module.load(str(path)))
    assert errors == [
        f"{path}:2: unknown option `acount` for a gmail source; did you mean `account`?",
        f"{path}:4: a gcal source reads an account, not a `path`",
        f"{path}:6: unknown source type `gdrive` (installed: eml, gcal, gmail, ics, maildir, mbox)",
    ]


def test_doctor_checks_each_google_account(
    fake: FakeGoogle, tmp_path: Path, config_dir: Path
) -> None:
    from linter import doctor

    refresh = save_token(fake)
    (tmp_path / "contacts.yaml").write_text("me: [sam@studio.example]\nclients: []\n")
    path = tmp_path / "clientline.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            contacts: contacts.yaml
            state: {tmp_path}/state.db
            sources:
              - {{type: gmail, account: sam, endpoint: "{fake.url}", token_uri: "{fake.token_uri}"}}
              - {{type: gcal, account: lee, endpoint: "{fake.url}", token_uri: "{fake.token_uri}"}}
            """
        )
    )
    found = {c.name: c for c in doctor.checks(str(path)) if c.name.startswith("source")}
    assert found["source gmail-sam"].ok
    assert "`sam` authorised" in found["source gmail-sam"].detail
    assert not found["source gcal-lee"].ok
    assert "no Google token for account `lee`" in found["source gcal-lee"].detail
    assert "--account lee" in found["source gcal-lee"].detail
    fake.oauth.revoke_refresh_token(refresh)
    auth.token_path("sam").write_text(
        auth.token_path("sam").read_text().replace('"token"', '"old_token"')
    )
    found = {c.name: c for c in doctor.checks(str(path)) if c.name.startswith("source")}
    assert not found["source gmail-sam"].ok
    assert "refused" in found["source gmail-sam"].detail


def test_an_unreachable_token_endpoint_is_an_outage_not_a_refusal(
    fake: FakeGoogle, config_dir: Path
) -> None:
    import socket

    save_token(fake)
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    gone = {**options(fake), "token_uri": f"http://127.0.0.1:{port}/token"}
    with pytest.raises(auth.UnreachableError, match="cannot reach Google to authorise"):
        auth.credentials(gone, [auth.GMAIL_READONLY])


def closed_token_uri() -> str:
    import socket

    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    return f"http://127.0.0.1:{port}/token"


def expire(account: str = "sam") -> None:
    """Make the stored access token an hour out of date, as the next morning finds it."""
    import datetime as dt

    path = auth.token_path(account)
    info = json.loads(path.read_text())
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    info["expiry"] = past.isoformat() + "Z"
    auth.save_token(path, info)


def test_an_expired_token_is_refreshed_at_the_configured_token_uri(
    fake: FakeGoogle, config_dir: Path
) -> None:
    save_token(fake)
    auth.credentials(options(fake), [auth.GMAIL_READONLY])  # stores an access token
    expire()

    credentials = auth.credentials(options(fake), [auth.GMAIL_READONLY])

    # google-auth's with_token_uri() forgot the expiry: the stale token looked valid
    assert credentials.valid and not credentials.expired
    assert [g["grant_type"] for g in fake.oauth.grants] == ["refresh_token", "refresh_token"]


def test_doctor_cannot_call_an_expired_token_authorised_when_its_refresh_is_unreachable(
    fake: FakeGoogle, tmp_path: Path, config_dir: Path
) -> None:
    from click.testing import CliRunner

    from linter import cli, doctor

    save_token(fake)
    auth.credentials(options(fake), [auth.GMAIL_READONLY])  # stores an access token
    expire()
    gone = closed_token_uri()
    (tmp_path / "contacts.yaml").write_text("me: [sam@studio.example]\nclients: []\n")
    path = tmp_path / "clientline.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            contacts: contacts.yaml
            state: {tmp_path}/state.db
            sources:
              - {{type: gmail, account: sam, endpoint: "{fake.url}", token_uri: "{gone}"}}
            """
        )
    )

    [check] = [c for c in doctor.checks(str(path)) if c.name == "source gmail-sam"]

    assert not check.ok
    assert "authorised" not in check.detail
    assert check.detail.startswith(
        f"could not verify account `sam`: its token has expired, and the refresh at {gone} "
        "could not be reached: "
    )
    assert "connection refused" in check.detail.lower()
    assert "network" in check.fix
    result = CliRunner().invoke(cli.main, ["doctor", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert "FIX source gmail-sam: could not verify account `sam`" in result.output
