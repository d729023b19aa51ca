"""Google authorisation: the installed-app flow, stored tokens, service accounts.

``clientline auth google --client-secrets FILE [--account NAME] [--send]`` runs Google's
installed-app OAuth flow: it opens the consent page in a browser (or prints its
address with ``--no-browser``), receives the answer on a local server bound to
127.0.0.1 on a random port, and stores the token in the user's config folder::

    ~/.config/clientline/google/<account>.json     (mode 0600, folder 0700)

``CLIENTLINE_CONFIG_DIR`` moves that folder; a source's ``token:`` option names a file
directly, and ``token_uri:`` sends refreshes somewhere other than Google (a test
server). The stored token holds a refresh token, so later runs refresh the access token
without a browser and write the refreshed token back.

Scopes are read-only: ``calendar.readonly`` and ``gmail.readonly``; ``--send`` adds
``gmail.send``, needed only when the digest goes out through Gmail.

Firms use a service account with domain-wide delegation instead: ``credentials:``
names its key file and ``subject:`` the user it acts as, one subject per account.

Every failure is an :class:`AuthError` whose one line says what to run to fix it; the
CLI turns it into exit 2.

Secrets are owner-only: a token, a service account key or an SMTP password file that
its group or others may read is refused, naming the ``chmod 600 FILE`` to run
(:func:`owner_only`, the one check for all of them).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import platformdirs

CALENDAR_READONLY = "https://www.googleapis.com/auth/calendar.readonly"
GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
DEFAULT_ACCOUNT = "default"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9@._+-]")


class AuthError(Exception):
    """Google would not (or could not) let us in; the message says how to fix it."""


class UnreachableError(AuthError):
    """Google's token endpoint could not be reached: an outage, not the user's to fix.

    ``who`` is what was being authorised (``account `sam```), ``url`` the token endpoint,
    ``reason`` why it could not be reached, and ``why`` why it had to be asked (``its
    token has expired``; empty for a service account, which asks every time).
    """

    def __init__(self, who: str, url: str, reason: str, why: str = "") -> None:
        self.who, self.url, self.reason, self.why = who, url, reason, why
        where = f" (token refresh at {url})" if url else ""
        super().__init__(f"cannot reach Google to authorise {who}{where}: {reason}")


class ExposedSecretError(AuthError):
    """A secret file its group or others may read; ``fix`` is the command to run."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        self.path, self.fix = path, fix
        super().__init__(f"{path}: {problem}; run `{fix}`")


def owner_only(path: Path, what: str, status: os.stat_result | None = None) -> None:
    """Refuse a secret file (a token, a key, a password) that others may read.

    ``what`` names it in the message (``a token``); ``status`` is the file's, when the
    caller has it open already (``os.fstat``), else ``path`` is stat'ed (a missing file
    raises :class:`FileNotFoundError`). Raises :class:`ExposedSecretError`.
    """
    status = path.stat() if status is None else status
    mode = stat.S_IMODE(status.st_mode)
    quoted = shlex.quote(str(path))
    if _granted_by_root(status):
        # root's file, handed to our group: a Kubernetes secret (root, fsGroup, 0440) can
        # only be read this way, so its group may read it; nobody else may
        if mode & 0o037:
            problem = f"{what} owned by root must be readable by root and its group only"
            raise ExposedSecretError(path, problem, f"chmod 640 {quoted}")
        return
    if mode & 0o077:
        problem = f"{what} must be readable by its owner only"
        raise ExposedSecretError(path, problem, f"chmod 600 {quoted}")


def _granted_by_root(status: os.stat_result) -> bool:
    euid = getattr(os, "geteuid", None)  # POSIX only
    return euid is not None and status.st_uid == 0 and euid() != 0


def scopes(send: bool = False) -> list[str]:
    """What ``clientline auth google`` asks for."""
    return [CALENDAR_READONLY, GMAIL_READONLY] + ([GMAIL_SEND] if send else [])


def fix_command(account: str, send: bool = False) -> str:
    command = "clientline auth google --client-secrets FILE"
    if account != DEFAULT_ACCOUNT:
        command += f" --account {account}"
    return command + (" --send" if send else "")


def config_dir() -> Path:
    override = os.environ.get("CLIENTLINE_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("clientline"))


def token_path(account: str, explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where the token of ``account`` lives."""
    if explicit:
        return Path(explicit).expanduser()
    return config_dir() / "google" / f"{_SAFE_NAME.sub('_', account)}.json"


def authorize(
    client_secrets: Path,
    account: str = DEFAULT_ACCOUNT,
    send: bool = False,
    token_file: Path | None = None,
    open_browser: bool = True,
    timeout: float = 300,
) -> Path:
    """Run the installed-app flow and store the token; returns where it is stored."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=scopes(send))
    except FileNotFoundError:
        raise AuthError(f"{client_secrets}: no such file") from None
    except (ValueError, KeyError) as exc:
        raise AuthError(
            f"{client_secrets}: not an OAuth client secrets file for a desktop app ({exc}); "
            "download it from the Google Cloud console, Credentials, OAuth client ID, Desktop app"
        ) from None
    # Google lets a user untick some scopes; store what was granted instead of failing
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    try:
        credentials = flow.run_local_server(
            host="localhost",
            bind_addr="127.0.0.1",  # the answer comes back on loopback only
            port=0,
            open_browser=open_browser,
            authorization_prompt_message="Open this address to let clientline read {url}",
            success_message="clientline is authorised; you may close this window.",
            timeout_seconds=timeout,
        )
    except Exception as exc:  # oauthlib raises many kinds; all mean "not authorised"
        raise AuthError(f"Google did not authorise clientline: {_one_line(exc)}") from None
    if credentials is None or not getattr(credentials, "refresh_token", None):
        raise AuthError("Google did not return a refresh token; run the command again")
    info = json.loads(credentials.to_json())
    granted = getattr(credentials, "granted_scopes", None)
    if granted:
        info["scopes"] = sorted(str(scope) for scope in granted)
    path = token_path(account, token_file)
    save_token(path, info)
    return path


def save_token(path: Path, info: Mapping[str, Any]) -> None:
    """Write a token owner-only, atomically: the file never exists with wider rights."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(prefix=".token-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(dict(info), out, indent=1)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def credentials(options: Mapping[str, Any], needed: Sequence[str], base: Path | None = None) -> Any:
    """The credentials an account's options describe, refreshed and ready.

    ``options`` is a source's (or ``digest.gmail``'s) mapping: ``account``, and either
    ``credentials`` + ``subject`` (service account) or an optional ``token`` file.
    """
    account = str(options.get("account") or DEFAULT_ACCOUNT)
    if options.get("credentials"):
        return _service_account(options, needed, base)
    return _user_token(account, options.get("token"), needed, base, options.get("token_uri"))


def _service_account(options: Mapping[str, Any], needed: Sequence[str], base: Path | None) -> Any:
    from google.oauth2 import service_account

    path = _resolve(str(options["credentials"]), base)
    subject = options.get("subject")
    if not subject:
        raise AuthError(
            f"{path}: a service account needs `subject:` (the user it acts as, "
            "e.g. subject: sam@firm.example)"
        )
    try:
        owner_only(path, "a service account key")
        found = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(path), scopes=list(needed), subject=str(subject)
        )
    except FileNotFoundError:
        raise AuthError(f"{path}: no such service account key file") from None
    except (ValueError, KeyError) as exc:
        raise AuthError(f"{path}: not a service account key file ({_one_line(exc)})") from None
    if options.get("token_uri"):  # as for a stored token: the key file's own is Google's
        found = found.with_token_uri(str(options["token_uri"]))
    _refresh(found, f"service account {path} acting as {subject}", "")
    return found


def _user_token(
    account: str, explicit: Any, needed: Sequence[str], base: Path | None, token_uri: Any
) -> Any:
    from google.oauth2.credentials import Credentials

    path = token_path(account, _resolve(str(explicit), base) if explicit else None)
    send = any(scope == GMAIL_SEND for scope in needed)
    fix = fix_command(account, send)
    try:
        status = path.stat()
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuthError(f"no Google token for account `{account}` ({path}); run `{fix}`") from None
    except (OSError, ValueError) as exc:
        raise AuthError(
            f"{path}: unreadable Google token ({_one_line(exc)}); run `{fix}`"
        ) from None
    owner_only(path, "a token", status)
    granted = set(info.get("scopes") or ())
    missing = [scope.rsplit("/", 1)[-1] for scope in needed if scope not in granted]
    if missing:
        raise AuthError(
            f"the Google token for account `{account}` lacks {', '.join(missing)}; run `{fix}`"
        )
    try:
        found = Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
            info, scopes=list(granted)
        )
    except (ValueError, KeyError) as exc:
        raise AuthError(
            f"{path}: incomplete Google token ({_one_line(exc)}); run `{fix}`"
        ) from None
    if token_uri:  # google-auth ignores the file's own token_uri, by design
        expiry = found.expiry
        found = found.with_token_uri(str(token_uri))
        # google-auth's copy forgets the expiry: an expired token would look valid for
        # ever, and `clientline doctor` would call it authorised without asking Google
        found.expiry = expiry
    if not found.valid:
        why = "its token has expired" if found.token else "it has no access token yet"
        _refresh(found, f"account `{account}`", fix, why)
        try:
            save_token(path, json.loads(found.to_json()))
        except OSError as exc:  # a read-only token still works; it is refreshed each run
            import logging  # here: every lint run loads this module, few log anything

            log = logging.getLogger("clientline")
            log.warning("token=%s event=token_not_saved error=%r", path, str(exc))
    return found


def _refresh(found: Any, who: str, fix: str, why: str = "") -> None:
    import httplib2
    from google_auth_httplib2 import Request

    import google.auth.exceptions

    try:
        found.refresh(Request(httplib2.Http(timeout=30)))
    except google.auth.exceptions.RefreshError as exc:
        raise AuthError(refused(who, exc, fix)) from None
    except (OSError, google.auth.exceptions.TransportError) as exc:
        url = str(getattr(found, "token_uri", None) or getattr(found, "_token_uri", None) or "")
        raise UnreachableError(who, url, _one_line(exc), why) from None


def refused(who: str, exc: BaseException, fix: str) -> str:
    """The one line for a token Google refused (revoked, expired, subject denied)."""
    hint = f"; run `{fix}`" if fix else "; check the service account's domain-wide delegation"
    return f"Google refused the token for {who} ({_one_line(exc)}){hint}"


def _resolve(path: str, base: Path | None) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() or base is None else base / candidate


def _one_line(exc: BaseException) -> str:
    args = exc.args
    # google-auth's RefreshError carries (message, the whole response): the message will do
    text = args[0] if args and isinstance(args[0], str) else str(exc)
    return " ".join(text.split()) or type(exc).__name__
