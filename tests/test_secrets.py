"""Secrets and the snippets of clients' mail stay owner-only.

A Google service account key (``credentials:``) and an SMTP ``password_file`` that their
group or others may read are refused exactly as a stored user token is (one helper,
:func:`linter.google.auth.owner_only`): one line naming the file and the ``chmod 600``
to run, exit 2 from ``clientline run``, a FIX line from ``clientline doctor``. The
digest preview is written 0600, as the worker's file transport writes the digest.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from linter import cli, doctor
from linter.google import auth
from linter.report import mailer
from linter.yamlfile import ConfigError
from tests.fakes.google_server import FakeGoogle
from tests.worker_helpers import NOW, Practice, file_digest, smtp_digest, write_practice

SUBJECT = "dana@firm.example"
LOOSE = pytest.mark.parametrize(
    "mode", [0o644, 0o640, 0o604, 0o660], ids=["world", "group", "other", "group-write"]
)


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


@pytest.fixture(scope="module")
def key_text() -> str:
    """A service account key (JSON) with a fresh RSA key and a token_uri nobody serves."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "clientline-tests",
            "private_key_id": "0123456789abcdef",
            "private_key": pem,
            "client_email": "clientline@clientline-tests.iam.gserviceaccount.com",
            "client_id": "100000000000000000001",
            "token_uri": "http://127.0.0.1:9/token",  # only `token_uri:` makes it work
        }
    )


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which a plain write makes a file 0644."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def write_key(folder: Path, text: str, mode: int) -> Path:
    path = folder / "service account.json"  # a space: the chmod to run is quoted
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def firm_source(fake: FakeGoogle, key: Path) -> dict[str, Any]:
    return {
        "type": "gcal",
        "name": "firm",
        "credentials": str(key),
        "subject": SUBJECT,
        "endpoint": fake.url,
        "token_uri": fake.token_uri,
    }


def chmod_600(path: Path) -> str:
    return f"run `chmod 600 '{path}'`" if " " in str(path) else f"run `chmod 600 {path}`"


# -- defect 18: a service account key others can read ------------------------------------


@LOOSE
def test_a_service_account_key_others_can_read_is_refused_like_a_token(
    tmp_path: Path, fake: FakeGoogle, key_text: str, mode: int
) -> None:
    key = write_key(tmp_path, key_text, mode)
    with pytest.raises(auth.AuthError) as caught:
        auth.credentials(firm_source(fake, key), [auth.CALENDAR_READONLY], tmp_path)
    message = str(caught.value)
    assert message == (
        f"{key}: a service account key must be readable by its owner only; {chmod_600(key)}"
    )
    assert not fake.oauth.grants  # refused before signing anything

    key.chmod(0o600)  # the same key, owner-only, is used
    found = auth.credentials(firm_source(fake, key), [auth.CALENDAR_READONLY], tmp_path)
    assert found.valid


def test_run_exits_2_on_a_service_account_key_others_can_read(
    tmp_path: Path, fake: FakeGoogle, key_text: str
) -> None:
    key = write_key(tmp_path, key_text, 0o644)
    office = write_practice(tmp_path / "practice", sources=[firm_source(fake, key)])

    result = CliRunner().invoke(cli.main, ["run", "--config", str(office.config)])

    assert result.exit_code == 2, result.output
    [line] = [line for line in result.output.splitlines() if "chmod" in line]
    refused = f"{key}: a service account key must be readable by its owner only"
    assert line.startswith("firm: ") and line.endswith(f"FAILED: {refused}; {chmod_600(key)}")
    assert fake.counters.http_requests == 0


def test_doctor_names_the_chmod_for_a_service_account_key_others_can_read(
    tmp_path: Path, fake: FakeGoogle, key_text: str
) -> None:
    key = write_key(tmp_path, key_text, 0o640)
    office = write_practice(tmp_path / "practice", sources=[firm_source(fake, key)])
    [check] = [c for c in doctor.checks(str(office.config)) if c.name == "source firm"]
    assert not check.ok
    assert "must be readable by its owner only" in check.detail
    assert check.fix == f"chmod 600 '{key}'"
    key.chmod(0o600)
    [check] = [c for c in doctor.checks(str(office.config)) if c.name == "source firm"]
    assert check.ok and check.detail == f"Google account `{SUBJECT}` authorised"


# -- defect 18: an SMTP password file others can read ------------------------------------


def smtp_office(tmp_path: Path, mode: int) -> tuple[Practice, Path]:
    secret = tmp_path / "practice" / "smtp-password"
    secret.parent.mkdir(parents=True)
    secret.write_text("hunter2\n", encoding="utf-8")
    secret.chmod(mode)
    digest = smtp_digest(9, smtp={"username": "sam", "password_file": "smtp-password"})
    return write_practice(tmp_path / "practice", digest=digest), secret


def transport_of(office: Practice) -> mailer.Transport:
    setup = office.prepare()
    return mailer.transport_from_config(
        setup.config.raw["digest"], path=str(office.config), base=setup.config.base
    )


@LOOSE
def test_an_smtp_password_file_others_can_read_is_refused_naming_the_chmod(
    tmp_path: Path, mode: int
) -> None:
    office, secret = smtp_office(tmp_path, mode)
    with pytest.raises(ConfigError) as caught:
        transport_of(office)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{office.config}:")  # and the line of `password_file:`
    assert message.endswith(
        f"digest.smtp: {secret}: an SMTP password file must be readable by its owner only; "
        f"run `chmod 600 {secret}`"
    )
    assert "hunter2" not in message

    secret.chmod(0o600)
    transport = transport_of(office)
    assert isinstance(transport, mailer.SmtpTransport) and transport.password == "hunter2"


def test_run_exits_2_on_an_smtp_password_file_others_can_read(tmp_path: Path) -> None:
    office, secret = smtp_office(tmp_path, 0o644)
    result = CliRunner().invoke(cli.main, ["run", "--config", str(office.config)])
    assert result.exit_code == 2, result.output
    assert f"run `chmod 600 {secret}`" in result.output
    assert not office.state.exists()  # refused before anything was read or stored


def test_doctor_names_the_chmod_for_an_smtp_password_file_others_can_read(
    tmp_path: Path,
) -> None:
    office, secret = smtp_office(tmp_path, 0o604)
    [check] = [c for c in doctor.checks(str(office.config)) if c.name.startswith("digest")]
    assert not check.ok
    assert f"{secret}: an SMTP password file must be readable by its owner only" in check.detail
    assert check.fix == f"chmod 600 {secret}"


def test_one_check_for_every_secret_and_roots_files_may_be_shared_with_a_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Kubernetes secret is root's, mode 0440, readable by the worker through its group
    (fsGroup): the only way such a file can be read, so it is taken; others may not read."""
    path = tmp_path / "secret"

    def status(mode: int, uid: int) -> os.stat_result:
        return os.stat_result((stat.S_IFREG | mode, 1, 1, 1, uid, 10001, 9, 0, 0, 0))

    monkeypatch.setattr(os, "geteuid", lambda: 10001)
    auth.owner_only(path, "a token", status(0o440, 0))  # root's, shared with our group
    auth.owner_only(path, "a token", status(0o400, 10001))
    with pytest.raises(auth.ExposedSecretError) as caught:
        auth.owner_only(path, "a token", status(0o444, 0))
    assert caught.value.fix == f"chmod 640 {path}"
    with pytest.raises(auth.ExposedSecretError) as caught:
        auth.owner_only(path, "a token", status(0o440, 10001))  # our own: owner only
    assert str(caught.value) == (
        f"{path}: a token must be readable by its owner only; run `chmod 600 {path}`"
    )
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # root's own files: owner only
    with pytest.raises(auth.ExposedSecretError):
        auth.owner_only(path, "a token", status(0o440, 0))


# -- defect 19: the preview holds the same snippets as the digest ------------------------


def test_the_preview_is_written_owner_only_as_the_worker_writes_the_digest(
    tmp_path: Path, run_cli: Callable[..., Any], umask_022: None
) -> None:
    office = write_practice(tmp_path / "practice", digest=file_digest(send_when_empty=True))
    preview = tmp_path / "preview" / "next.html"
    text = preview.with_suffix(".txt")

    result = run_cli("digest", "--config", str(office.config), "--preview", str(preview))

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(preview.stat().st_mode) == 0o600
    assert stat.S_IMODE(text.stat().st_mode) == 0o600
    assert "<html" in preview.read_text(encoding="utf-8").lower()
    # a preview an earlier clientline left 0644 is replaced, not written through
    preview.chmod(0o644)
    text.chmod(0o644)
    again = run_cli("digest", "--config", str(office.config), "--preview", str(preview))
    assert again.exit_code == 0, again.output
    assert stat.S_IMODE(preview.stat().st_mode) == 0o600
    assert stat.S_IMODE(text.stat().st_mode) == 0o600
    assert sorted(p.name for p in preview.parent.iterdir()) == ["next.html", "next.txt"]

    # the worker's file transport: the same snippets, the same mode
    from linter import worker

    worker.run_cycle(office.prepare(), now=NOW)
    assert stat.S_IMODE(office.digest_html.stat().st_mode) == 0o600
    assert stat.S_IMODE(office.digest_html.with_suffix(".txt").stat().st_mode) == 0o600


def test_a_preview_that_cannot_be_written_leaves_no_temporary_file(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    office = write_practice(tmp_path / "practice")
    preview = tmp_path / "preview" / "next.html"
    preview.with_suffix(".txt").mkdir(parents=True)  # where the text should go: no rename
    with pytest.raises(IsADirectoryError):
        run_cli("digest", "--config", str(office.config), "--preview", str(preview))
    assert sorted(p.name for p in preview.parent.iterdir()) == ["next.html", "next.txt"]
    assert stat.S_IMODE(preview.stat().st_mode) == 0o600
