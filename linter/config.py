"""``clientline.yaml``: the user's configuration.

::

    timezone: Europe/London              # default: the system's timezone
    working_hours: {days: mon-fri, start: "09:00", end: "18:00"}
    contacts: contacts.yaml              # relative to this file
    rules: [builtin, ./my-rules]         # packs to enable (see linter.packs)
    disable: [CL104]                     # rules to turn off
    severity: {CL101: error}             # per-rule severity
    lexicons:                            # add or remove terms, like Vale vocabularies
      social: {add: [padel], remove: [party]}
    window: {since: 2026-10-01, until: 2027-01-01}   # or -30d / +90d / today

The worker's keys, used by ``clientline run`` and ``clientline daemon``::

    state: ~/.local/state/clientline/state.db   # default: one database per configuration
                                                 # file, in the platform's state folder
    sources:                                     # what the worker scans
      - {type: ics, path: calendar.ics}
      - {type: mbox, path: mailbox.mbox, name: inbox}   # name: how findings cite it
      - {type: gmail, account: sam}              # gcal, gmail: see linter/sources/
    digest:
      to: [sam@studio.example]
      from: clientline@studio.example
      at: "07:30"                                # daily, in `timezone`
      transport: smtp                            # smtp | file | gmail
      smtp: {host: smtp.example, port: 587, security: starttls,
             username: sam, password_env: CLIENTLINE_SMTP_PASSWORD}
      file: out/digest.html                      # transport file: .html and .txt
      send_when_empty: false
    schedule: {scan_every: 30m}                  # 90s, 30m, 2h
    retention_days: 365                          # resolved findings and old rows

Secrets never live in this file: the SMTP password comes from the environment variable
named by ``password_env`` or the file named by ``password_file``; a ``password`` key is
rejected.

``clientline lint`` looks for ``clientline.yaml`` (or ``.clientline.yaml``) in the
current folder and its parents when ``--config`` is not given, as linters do. Every
error names ``file:line:col`` and what was expected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from linter.engine.hours import WorkingHours, parse_days, parse_time
from linter.model import Severity
from linter.yamlfile import (
    ConfigError,
    LocatedDict,
    LocatedList,
    Mark,
    check_keys,
    expect_mapping,
    read,
    shown,
    suggest,
    type_name,
)

FILE_NAMES = ("clientline.yaml", ".clientline.yaml", "clientline.yml")
KEYS = (
    "timezone",
    "working_hours",
    "contacts",
    "rules",
    "disable",
    "severity",
    "lexicons",
    "window",
    "state",
    "sources",
    "digest",
    "schedule",
    "retention_days",
)
_RELATIVE = re.compile(r"^([+-]?)(\d+)([dw])$")


@dataclass
class Config:
    path: str | None = None
    timezone: str = ""
    hours: WorkingHours = field(default_factory=WorkingHours)
    contacts: str | None = None
    packs: list[str] = field(default_factory=lambda: ["builtin"])
    disable: list[str] = field(default_factory=list)
    severity: dict[str, str] = field(default_factory=dict)
    lexicons: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    state: str = ""
    legacy_state: str = ""  # the one default database older versions shared (see state_path)
    sources: list[SourceSpec] = field(default_factory=list)
    digest: DigestSettings | None = None
    scan_every: dt.timedelta = dt.timedelta(minutes=30)
    retention_days: int = 365

    @property
    def base(self) -> Path:
        return Path(self.path).parent if self.path else Path.cwd()

    @property
    def tz(self) -> dt.tzinfo:
        return self.hours.tz


class SourceSpec(NamedTuple):  # a tuple: a dataclass has its methods generated at every start
    """One entry of ``sources:``; ``options`` holds the keys a source kind adds.

    ``name`` is how reports cite the source; ``key`` is how the state database knows
    it: the ``name:`` the user gave, else the resolved absolute path (so two practices
    with a ``calendar.ics`` each are two sources), else the account's name.
    """

    type: str
    name: str
    path: str = ""
    options: Mapping[str, Any] = MappingProxyType({})
    line: int = 0
    key: str = ""


class DigestSettings(NamedTuple):  # a tuple: a dataclass has its methods generated at every start
    to: tuple[str, ...]
    sender: str
    at: dt.time = dt.time(7, 30)
    transport: str = "file"
    smtp: Mapping[str, Any] = MappingProxyType({})
    file: str = ""
    send_when_empty: bool = False


TRANSPORTS = ("smtp", "file", "gmail")
DIGEST_KEYS = ("to", "from", "at", "transport", "smtp", "file", "send_when_empty", "gmail")
SMTP_KEYS = ("host", "port", "security", "username", "password_env", "password_file", "timeout")
SOURCE_KEYS = ("type", "path", "name")
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def state_folder() -> Path:
    return Path(os.environ.get("CLIENTLINE_STATE_DIR") or platformdirs.user_state_dir("clientline"))


def default_state_path(config_path: str | None = None) -> str:
    """One database per configuration file: ``<folder name>-<hash of its path>.db`` in
    the state folder (``state.db`` there when there is no configuration file), so two
    practices never share their state by accident."""
    if not config_path:
        return str(state_folder() / "state.db")
    real = os.path.realpath(config_path)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(real).parent.name).strip("-.") or "practice"
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return str(state_folder() / f"{stem[:40]}-{digest}.db")


def system_timezone() -> str:
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        return name
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


def discover(start: Path | None = None) -> str | None:
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        for name in FILE_NAMES:
            if (candidate / name).is_file():
                return str(candidate / name)
    return None


def defaults() -> Config:
    return _build(LocatedDict(), None)


def load(path: str) -> Config:
    data = read(path)
    if data is None:  # an empty file, or one of comments only: every default
        data = LocatedDict()
    return _build(expect_mapping(data, path, "the configuration"), path)


def _build(data: LocatedDict, path: str | None) -> Config:
    where = path or "<defaults>"
    check_keys(data, KEYS, where)
    config = Config(path=path, raw=dict(data))
    given = data.get("timezone")
    tz_name = _scalar(given, where, data.value_mark("timezone"), "`timezone`") or system_timezone()
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            where,
            f"unknown timezone {shown(tz_name)}"
            + ("" if given else " (the system's: set `timezone:` in clientline.yaml)"),
            data.value_mark("timezone") if given else None,
            "use an IANA name such as Europe/London",
        ) from None
    config.timezone = tz_name
    config.hours = _hours(data.get("working_hours"), tz, where, data)
    contacts = data.get("contacts")
    if contacts is not None:
        if not isinstance(contacts, str):
            raise ConfigError(where, "`contacts` must be a file path", data.value_mark("contacts"))
        config.contacts = str(config.base / Path(contacts).expanduser())
    if "rules" in data:
        config.packs = _words(data, "rules", where)
    if "disable" in data:
        config.disable = _words(data, "disable", where)
    if "severity" in data:
        severity = expect_mapping(data["severity"], where, "`severity`")
        for rule_id, level in severity.items():
            if not isinstance(level, str) or level.upper() not in Severity.__members__:
                raise ConfigError(
                    where,
                    f"unknown severity {shown(level)} for {rule_id}"
                    if isinstance(level, str)
                    else f"the severity for {rule_id} must be text, not {type_name(level)}",
                    severity.value_mark(rule_id),
                    "info, warning or error",
                )
            config.severity[rule_id] = level
    if "lexicons" in data:
        lexicons = expect_mapping(data["lexicons"], where, "`lexicons`")
        for name, change in lexicons.items():
            entry = expect_mapping(change, where, f"`lexicons.{name}`", lexicons.value_mark(name))
            check_keys(entry, ("add", "remove"), where)
            config.lexicons[name] = (_words(entry, "add", where), _words(entry, "remove", where))
    _worker(config, data, where)
    if "window" in data:
        window = expect_mapping(data["window"], where, "`window`")
        check_keys(window, ("since", "until"), where)
        now = dt.datetime.now(tz)
        config.since = parse_moment(window.get("since"), tz, now, where, window, "since")
        config.until = parse_moment(window.get("until"), tz, now, where, window, "until")
    return config


def _worker(config: Config, data: LocatedDict, where: str) -> None:
    state = data.get("state")
    if state is not None and not isinstance(state, str):
        raise ConfigError(where, "`state` must be a file path", data.value_mark("state"))
    if state:
        config.state = str(config.base / Path(state).expanduser())
    else:
        config.state = default_state_path(config.path)
        config.legacy_state = default_state_path(None) if config.path else ""
    raw_sources = data.get("sources") or []
    if not isinstance(raw_sources, list):
        raise ConfigError(where, "`sources` must be a list", data.value_mark("sources"))
    names: set[str] = set()
    for index, raw in enumerate(raw_sources):
        mark = raw_sources.item_mark(index) if isinstance(raw_sources, LocatedList) else None
        entry = expect_mapping(raw, where, "a source", mark)
        kind = entry.get("type")
        if not isinstance(kind, str) or not kind:
            raise ConfigError(
                where, "a source needs a `type` (ics, mbox, maildir, eml, ...)", entry.mark
            )
        path = entry.get("path")
        if path is not None and not isinstance(path, str):
            raise ConfigError(where, "`path` must be text", entry.value_mark("path"))
        resolved = str(config.base / Path(path).expanduser()) if path else ""
        given = _scalar(entry.get("name"), where, entry.value_mark("name"), "`name`")
        account = _scalar(entry.get("account"), where, entry.value_mark("account"), "`account`")
        name = given or path or (f"{kind}-{account}" if account else kind)
        if name in names:
            raise ConfigError(
                where,
                f"two sources are both called `{name}`",
                entry.mark,
                "give one a `name:`",
            )
        names.add(name)
        options = {k: v for k, v in entry.items() if k not in SOURCE_KEYS}
        key = name if entry.get("name") or not resolved else os.path.abspath(resolved)
        config.sources.append(SourceSpec(kind, name, resolved, options, entry.mark.line, key))
    if data.get("digest") is not None:
        config.digest = _digest(
            expect_mapping(data["digest"], where, "`digest`", data.value_mark("digest")),
            config,
            where,
        )
    if data.get("schedule") is not None:
        schedule = expect_mapping(data["schedule"], where, "`schedule`")
        check_keys(schedule, ("scan_every",), where)
        if "scan_every" in schedule:
            config.scan_every = parse_duration(
                schedule["scan_every"], where, schedule.value_mark("scan_every")
            )
    if "retention_days" in data:
        days = data["retention_days"]
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise ConfigError(
                where,
                "`retention_days` must be a whole number of days, at least 1",
                data.value_mark("retention_days"),
            )
        config.retention_days = days


def _digest(entry: LocatedDict, config: Config, where: str) -> DigestSettings:
    if "password" in entry or (isinstance(entry.get("smtp"), dict) and "password" in entry["smtp"]):
        raw = entry.get("smtp")
        mark = raw.key_mark("password") if isinstance(raw, LocatedDict) else entry.mark
        raise ConfigError(
            where,
            "a password does not belong in clientline.yaml",
            mark,
            "use `password_env: VARIABLE` or `password_file: PATH`",
        )
    check_keys(entry, DIGEST_KEYS, where)
    recipients = _words(entry, "to", where)
    if not recipients or not all("@" in r for r in recipients):
        raise ConfigError(
            where, "`digest.to` must list at least one address", entry.value_mark("to")
        )
    sender = entry.get("from")
    if not isinstance(sender, str) or "@" not in sender:
        raise ConfigError(
            where,
            "`digest.from` must be an address",
            entry.value_mark("from") if "from" in entry else entry.mark,
        )
    at = _time(entry.get("at", "07:30"), where, entry, "at")
    transport = _scalar(
        entry.get("transport", "file"), where, entry.value_mark("transport"), "`transport`"
    )
    if transport not in TRANSPORTS:
        raise ConfigError(
            where,
            f"unknown digest transport {shown(transport)}",
            entry.value_mark("transport"),
            suggest(transport, TRANSPORTS) or "smtp, file or gmail",
        )
    smtp: dict[str, Any] = {}
    if entry.get("smtp") is not None:
        raw_smtp = expect_mapping(entry["smtp"], where, "`digest.smtp`")
        check_keys(raw_smtp, SMTP_KEYS, where)
        smtp = dict(raw_smtp)
        if not isinstance(smtp.get("host"), str):
            raise ConfigError(where, "`digest.smtp` needs a `host`", raw_smtp.mark)
        if "port" in smtp and not isinstance(smtp["port"], int):
            raise ConfigError(where, "`port` must be a number", raw_smtp.value_mark("port"))
        if smtp.get("security", "starttls") not in ("starttls", "tls", "none"):
            raise ConfigError(
                where,
                f"unknown security {shown(smtp.get('security'))}",
                raw_smtp.value_mark("security"),
                "starttls, tls or none",
            )
        if smtp.get("password_file"):
            # ${CREDENTIALS_DIRECTORY} and the like: systemd names the folder per unit
            password_file = _scalar(
                smtp["password_file"],
                where,
                raw_smtp.value_mark("password_file"),
                "`password_file`",
            )
            expanded = os.path.expandvars(password_file)
            smtp["password_file"] = str(config.base / Path(expanded).expanduser())
    if transport == "smtp" and not smtp:
        raise ConfigError(where, "transport `smtp` needs a `digest.smtp` section", entry.mark)
    file = _scalar(entry.get("file"), where, entry.value_mark("file"), "`digest.file`")
    if transport == "file" and not file:
        raise ConfigError(
            where, "transport `file` needs `digest.file` (e.g. out/digest.html)", entry.mark
        )
    send_when_empty = entry.get("send_when_empty", False)
    if not isinstance(send_when_empty, bool):
        raise ConfigError(
            where, "`send_when_empty` is true or false", entry.value_mark("send_when_empty")
        )
    return DigestSettings(
        to=tuple(recipients),
        sender=sender,
        at=at,
        transport=transport,
        smtp=smtp,
        file=str(config.base / Path(file).expanduser()) if file else "",
        send_when_empty=send_when_empty,
    )


def parse_duration(value: Any, where: str = "<option>", mark: Any = None) -> dt.timedelta:
    """``90s``, ``30m``, ``2h``, ``1d`` (or a number of seconds)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return dt.timedelta(seconds=value)
    match = _DURATION.match(_scalar(value, where, mark, "a duration").strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ConfigError(where, f"{shown(value)} is not a duration", mark, "e.g. 90s, 30m, 2h")
    return dt.timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])


def _hours(value: Any, tz: dt.tzinfo, where: str, data: LocatedDict) -> WorkingHours:
    if value is None:
        return WorkingHours(tz=tz)
    hours = expect_mapping(value, where, "`working_hours`", data.value_mark("working_hours"))
    check_keys(hours, ("days", "start", "end"), where)
    days_value = hours.get("days", "mon-fri")
    if days_value is None:
        raise ConfigError(
            where, "`days` must name the working days, e.g. mon-fri", hours.value_mark("days")
        )
    if isinstance(days_value, list):  # [mon, tue, thu] as well as "mon-fri"
        for index, day in enumerate(days_value):
            if not isinstance(day, str):
                raise ConfigError(
                    where,
                    f"every entry of `days` must be a day (text); entry {index + 1} "
                    f"is {type_name(day)}",
                    _item_mark(days_value, index, hours.value_mark("days")),
                )
        days_value = ",".join(days_value)
    try:
        days = parse_days(_scalar(days_value, where, hours.value_mark("days"), "`days`"))
    except ValueError as exc:
        raise ConfigError(where, str(exc), hours.value_mark("days")) from None
    start = _time(hours.get("start", "09:00"), where, hours, "start")
    end = _time(hours.get("end", "18:00"), where, hours, "end")
    if end <= start:
        raise ConfigError(where, "working hours must end after they start", hours.mark)
    return WorkingHours(days, start, end, tz)


def parse_moment(
    value: Any,
    tz: dt.tzinfo,
    now: dt.datetime,
    where: str = "<option>",
    data: LocatedDict | None = None,
    key: str = "",
) -> dt.datetime | None:
    """``2026-10-01``, an ISO time, ``today``, or ``-30d`` / ``+12w`` from today."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tz)
    mark = data.value_mark(key) if data is not None and key else None
    text = _scalar(value, where, mark, f"`{key}`" if key else "a date").strip().lower()
    today = dt.datetime.combine(now.astimezone(tz).date(), dt.time(), tz)
    if text == "today":
        return today
    relative = _RELATIVE.match(text)
    if relative:
        sign, amount, unit = relative.groups()
        days = int(amount) * (7 if unit == "w" else 1)
        return today + dt.timedelta(days=-days if sign == "-" else days)
    try:
        moment = dt.datetime.fromisoformat(text.upper() if "t" in text else text)
    except ValueError:
        raise ConfigError(
            where, f"{shown(value)} is not a date (2026-10-01, today, -30d, +90d)", mark
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _words(data: LocatedDict, key: str, where: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(
            where, f"`{key}` must be a list, not {type_name(value)}", data.value_mark(key)
        )
    for index, item in enumerate(value):
        if not isinstance(item, str | int) or isinstance(item, bool):
            raise ConfigError(
                where,
                f"every entry of `{key}` must be text; entry {index + 1} is {type_name(item)}",
                _item_mark(value, index, data.value_mark(key)),
                "put it in quotes: YAML reads yes, no, on and off as true/false"
                if isinstance(item, bool)
                else "",
            )
    return [str(v) for v in value]


def _item_mark(value: list[Any], index: int, mark: Mark) -> Mark:
    return value.item_mark(index) if isinstance(value, LocatedList) else mark


def _time(value: Any, where: str, data: LocatedDict, key: str) -> dt.time:
    mark = data.value_mark(key)
    if value is not None:
        try:
            return parse_time(_scalar(value, where, mark, f"`{key}`"))
        except ValueError:
            pass
    raise ConfigError(where, f"`{key}` must be a time like 09:00, not {shown(value)}", mark)


def _scalar(value: Any, where: str, mark: Mark | None, what: str) -> str:
    """``value`` as text, when it is one value (text, a number, a date): a list or a
    mapping is refused by its kind, never formatted (see :func:`linter.yamlfile.shown`).
    Nothing (``None``) is the empty text."""
    if value is None:
        return ""
    if isinstance(value, str | int | float | bool | dt.date | dt.time):
        return str(value)
    raise ConfigError(where, f"{what} must be text, not {type_name(value)}", mark)
