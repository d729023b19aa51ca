"""``clientline doctor``: check a practice's setup and say what to fix.

Each check yields a :class:`Check`: what was checked, whether it is fine, and when it
is not, the fix. The checks, in order: the configuration file; the contact directory;
every rule pack (and the rules' own tests); each source's path, or for a Google account
that its token (or service account key) is there, owner-only, with the scope, and that
Google refreshes it when it has expired (an unreachable Google is "could not verify",
never "authorised"); the state database (opened read-only: a corrupt or newer database
is explained, never touched); the digest: transport settings, secrets (owner-only), and
for SMTP that the server answers (connect, EHLO, STARTTLS, login when a username is set,
with a short timeout; no mail is sent).
"""

from __future__ import annotations

import os
import smtplib
import sqlite3
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linter import lintrun, ruletests, worker
from linter import store as store_module
from linter.config import Config
from linter.google.auth import CALENDAR_READONLY, GMAIL_READONLY, ExposedSecretError
from linter.report import mailer
from linter.yamlfile import ConfigError

SMTP_TIMEOUT = 10.0
GOOGLE_SCOPES = {"gcal": CALENDAR_READONLY, "gmail": GMAIL_READONLY}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


def checks(config_path: str | None) -> Iterator[Check]:
    from linter import config as config_module

    config_path = config_path or config_module.discover()
    if not config_path:
        yield Check(
            "configuration",
            False,
            "no clientline.yaml here or in a parent folder",
            "run `clientline init` or pass --config FILE",
        )
        return
    try:
        setup = lintrun.prepare(config_path)
    except lintrun.SetupError as exc:
        for error in exc.errors:
            yield Check("configuration", False, str(error), "fix the file at the line shown")
        return
    config = setup.config
    yield Check("configuration", True, config_path)
    yield Check(
        "contacts",
        True,
        f"{len(setup.engine.directory.named_clients)} clients in {config.contacts}",
    )
    outcomes, errors = ruletests.run_all(setup.ruleset)
    failed = [o for o in outcomes if not o.passed]
    yield Check(
        "rules",
        not failed and not errors,
        f"{len(setup.ruleset.rules)} rules, {len(outcomes)} test cases, {len(failed)} failing",
        "run `clientline rules test` to see the failing cases" if failed or errors else "",
    )
    source_errors = worker.check_sources(config)
    for error in source_errors:
        yield Check("sources", False, error, "correct `sources:` in clientline.yaml")
    for spec in config.sources:
        if spec.path and not Path(spec.path).exists():
            yield Check(
                f"source {spec.name}", False, f"{spec.path} does not exist", "fix its `path:`"
            )
        elif spec.path and not os.access(spec.path, os.R_OK):
            yield Check(f"source {spec.name}", False, f"{spec.path} is not readable")
        elif spec.path:
            yield Check(f"source {spec.name}", True, spec.path)
        elif spec.type in GOOGLE_SCOPES:
            yield _google(spec.name, spec.options, GOOGLE_SCOPES[spec.type], config.base)
    yield from _state(config)
    if config.digest is not None:
        yield from _digest(config.raw["digest"], config_path, config.base)


def _google(name: str, options: Mapping[str, Any], scope: str, base: Path) -> Check:
    """The account's token is there, owner-only, has the scope and Google refreshes it."""
    from linter.google import auth

    try:
        auth.credentials(options, [scope], base)
    except auth.UnreachableError as exc:
        # not "authorised": nobody could tell whether Google still takes this token
        why = f"{exc.why}, and " if exc.why else ""
        return Check(
            f"source {name}",
            False,
            f"could not verify {exc.who}: {why}the refresh at {exc.url or 'Google'} "
            f"could not be reached: {exc.reason}",
            "check this machine's network, proxy and firewall, then run `clientline doctor` "
            "again (the token itself may be fine)",
        )
    except auth.ExposedSecretError as exc:
        return Check(f"source {name}", False, str(exc), exc.fix)
    except auth.AuthError as exc:
        return Check(f"source {name}", False, str(exc))
    account = options.get("subject") or options.get("account") or auth.DEFAULT_ACCOUNT
    return Check(f"source {name}", True, f"Google account `{account}` authorised")


def _state(config: Config) -> Iterator[Check]:
    """The state database, read-only: there, not empty, writable, this configuration's,
    of a schema this version reads, and sound."""
    path = worker.state_path(config)
    if not Path(path).exists():
        folder = Path(path).parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not os.access(folder, os.W_OK):
            yield Check("state", False, f"{folder} is read-only", f"chmod u+w {folder}")
            return
        yield Check("state", True, f"{path} (created on the first `clientline run`)")
        return
    if Path(path).stat().st_size == 0:
        yield Check(
            "state",
            False,
            f"{path} is an empty file (its audit trail and digests are gone)",
            f"restore it from a backup, or delete it (rm {path}) to start afresh",
        )
        return
    for target in (path, str(Path(path).parent)):
        if not os.access(target, os.W_OK):
            yield Check("state", False, f"{target} is read-only", f"chmod u+w {target}")
            return
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            health = db.execute("PRAGMA quick_check").fetchone()[0]
            has_meta = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'")
            recorded = (
                db.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()
                if has_meta.fetchone()[0]
                else None
            )
    except sqlite3.DatabaseError as exc:
        yield Check(
            "state",
            False,
            f"{path}: {exc}",
            f"move it aside (mv {path} {path}.broken), try `sqlite3 {path}.broken .recover "
            f"| sqlite3 {path}` to save the audit trail, or let the next run start afresh",
        )
        return
    mine = worker.owner(config)
    if version > store_module.VERSION:
        yield Check(
            "state",
            False,
            f"{path} is version {version}; this clientline understands {store_module.VERSION}",
            "upgrade clientline (pip install -U clientline); the database was not changed",
        )
    elif health != "ok":
        yield Check(
            "state",
            False,
            f"{path}: integrity check says {health}",
            f"back it up, then `sqlite3 {path} .recover` into a new file and point `state:` at it",
        )
    elif recorded is not None and mine and recorded[0] != mine:
        yield Check(
            "state",
            False,
            f"{path} belongs to the configuration {recorded[0]}",
            "give this practice its own `state:`, or run `clientline run --adopt-state` once "
            "if that configuration moved here",
        )
    else:
        yield Check("state", True, f"{path} (schema version {version})")


def _digest(section: dict[str, object], config_path: str, base: Path) -> Iterator[Check]:
    try:
        transport = mailer.transport_from_config(section, path=config_path, base=base)
    except ConfigError as exc:
        exposed = exc.__cause__
        if isinstance(exposed, ExposedSecretError):  # a password file others may read
            yield Check("digest", False, str(exc), exposed.fix)
        else:
            yield Check("digest", False, str(exc), "set the variable or file it names")
        return
    if isinstance(transport, mailer.SmtpTransport):
        yield _smtp(transport)
    elif isinstance(transport, mailer.FileTransport):
        folder = Path(transport.path).parent
        existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
        writable = os.access(existing, os.W_OK)
        yield Check(
            "digest",
            writable,
            f"written to {transport.path}",
            "" if writable else f"make {existing} writable or change `digest.file`",
        )
    else:
        yield Check("digest", True, f"transport {type(transport).__name__}")


def _smtp(transport: mailer.SmtpTransport) -> Check:
    where = f"{transport.host}:{transport.port}"
    context = transport.ssl_context or ssl.create_default_context()
    try:
        if transport.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                transport.host, transport.port, timeout=SMTP_TIMEOUT, context=context
            )
        else:
            client = smtplib.SMTP(transport.host, transport.port, timeout=SMTP_TIMEOUT)
        with client:
            client.ehlo()
            if transport.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if transport.username:
                client.login(transport.username, transport.password or "")
    except smtplib.SMTPAuthenticationError:
        return Check(
            "digest smtp",
            False,
            f"{where}: the server refused the login for {transport.username}",
            "check the username and the password in the variable or file configured",
        )
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        return Check(
            "digest smtp",
            False,
            f"{where}: {' '.join(str(exc).split()) or type(exc).__name__}",
            "check host, port and security (587 starttls, 465 tls) and that it is reachable",
        )
    return Check("digest smtp", True, f"{where} answers ({transport.security})")
