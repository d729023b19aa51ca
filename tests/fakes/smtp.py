"""A real SMTP server on 127.0.0.1 for tests: aiosmtpd, started per test, always stopped.

Load the fixtures in a test module with ``pytest_plugins = ["tests.fakes.smtp"]``.

* ``smtp_server``: plain SMTP, no TLS, no AUTH; ``smtp_server.received`` lists what
  arrived.
* ``start_smtp_server(...)``: the same with options: ``starttls=True`` (offers
  STARTTLS with the test certificate), ``implicit_tls=True`` (TLS from the first byte,
  like port 465), ``users={"sam": "secret"}`` (AUTH LOGIN and PLAIN, only after TLS),
  ``mechanisms=["LOGIN"]`` (offer only these), ``refuse=["nobody@x"]`` (550 for
  those recipients).
* ``tls_files``: a self-signed certificate and key for 127.0.0.1, made once per
  session with the ``cryptography`` package or else the ``openssl`` command (the
  tests that need it are skipped, with the reason, when neither is there);
  ``tls_files.client_context()`` trusts it.
* ``closed_port``: a loopback port nothing listens on; ``silent_port``: one that
  accepts connections and never says a word (for timeouts).

Every server listens on 127.0.0.1 only and every wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
READY_SECONDS = 5.0


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool  # the session was encrypted when DATA came
    login: str | None  # who authenticated, if anyone

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    mechanisms_used: list[str] = field(default_factory=list)
    failed_logins: list[str] = field(default_factory=list)


class _Handler:
    def __init__(self, server: SmtpServer, refuse: set[str]) -> None:
        self.server, self.refuse = server, refuse

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        login = session.auth_data.login.decode() if session.authenticated else None
        self.server.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or envelope.content),
                tls=server.transport.get_extra_info("ssl_object") is not None,
                login=login,
            )
        )
        return "250 2.0.0 Message accepted for delivery"


class _Authenticator:
    def __init__(self, server: SmtpServer, users: dict[str, str]) -> None:
        self.server, self.users = server, users

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        if self.users.get(login) == password:
            self.server.mechanisms_used.append(mechanism)
            return AuthResult(success=True, auth_data=auth_data)
        self.server.failed_logins.append(login)
        return AuthResult(success=False, handled=False)


# -- certificates --------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A context that verifies the server, trusting only the test certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


def _with_cryptography(cert: Path, key: Path) -> bool:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return False
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clientline test server")])
    now = dt.datetime.now(dt.UTC)
    public = private.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return True


def _with_openssl(cert: Path, key: Path) -> bool:
    openssl = shutil.which("openssl")
    if not openssl:
        return False
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
        "-subj", "/CN=clientline test server",
        "-addext", f"subjectAltName=IP:{HOST},DNS:localhost",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=30, check=False)
    return done.returncode == 0


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    if not (_with_cryptography(files.cert, files.key) or _with_openssl(files.cert, files.key)):
        pytest.skip("no way to make a test certificate: install cryptography or openssl")
    return files


# -- servers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


StartServer = Callable[..., SmtpServer]


@pytest.fixture
def start_smtp_server(request: pytest.FixtureRequest) -> Iterator[StartServer]:
    controllers: list[Controller] = []

    def start(
        *,
        starttls: bool = False,
        implicit_tls: bool = False,
        users: dict[str, str] | None = None,
        mechanisms: list[str] | None = None,
        refuse: list[str] | None = None,
    ) -> SmtpServer:
        options: dict[str, Any] = {"server_hostname": "smtp.clientline.test"}
        if starttls or implicit_tls:
            files: TlsFiles = request.getfixturevalue("tls_files")
            if starttls:
                options["tls_context"] = files.server_context()
            else:
                options["ssl_context"] = files.server_context()
        server = SmtpServer(HOST, free_port())
        if users is not None:
            options["authenticator"] = _Authenticator(server, users)
            # aiosmtpd only counts STARTTLS as TLS; implicit TLS is encrypted from the start
            options["auth_require_tls"] = not implicit_tls
            if mechanisms is not None:
                options["auth_exclude_mechanism"] = [
                    m for m in ("LOGIN", "PLAIN") if m not in mechanisms
                ]
        handler = _Handler(server, {address.lower() for address in refuse or ()})
        controller = Controller(
            handler, hostname=HOST, port=server.port, ready_timeout=READY_SECONDS, **options
        )
        controller.start()
        controllers.append(controller)
        return server

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop(no_assert=True)


@pytest.fixture
def smtp_server(start_smtp_server: StartServer) -> SmtpServer:
    return start_smtp_server()


@pytest.fixture
def closed_port() -> int:
    return free_port()  # bound and released: nothing listens there now


@pytest.fixture
def silent_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(1)  # the kernel completes the handshake; nobody ever answers
        yield listener.getsockname()[1]
