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

The worker's keys (``state``, ``sources``, ``digest``, ``schedule``,
``retention_days``) are accepted here and used by ``clientline run``.

``clientline lint`` looks for ``clientline.yaml`` (or ``.clientline.yaml``) in the
current folder and its parents when ``--config`` is not given, as linters do. Every
error names ``file:line:col`` and what was expected.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from linter.engine.hours import WorkingHours, parse_days, parse_time
from linter.model import Severity
from linter.yamlfile import (
    ConfigError,
    LocatedDict,
    check_keys,
    expect_mapping,
    read,
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

    @property
    def base(self) -> Path:
        return Path(self.path).parent if self.path else Path.cwd()

    @property
    def tz(self) -> dt.tzinfo:
        return self.hours.tz


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
    if data is None:
        data = LocatedDict()
    return _build(expect_mapping(data, path, "the configuration"), path)


def _build(data: LocatedDict, path: str | None) -> Config:
    where = path or "<defaults>"
    check_keys(data, KEYS, where)
    config = Config(path=path, raw=dict(data))
    tz_name = data.get("timezone") or system_timezone()
    try:
        tz = ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            where,
            f"unknown timezone `{tz_name}`",
            data.value_mark("timezone"),
            "use an IANA name such as Europe/London",
        ) from None
    config.timezone = str(tz_name)
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
            if str(level).upper() not in Severity.__members__:
                raise ConfigError(
                    where,
                    f"unknown severity `{level}` for {rule_id}",
                    severity.value_mark(rule_id),
                    "info, warning or error",
                )
            config.severity[rule_id] = str(level)
    if "lexicons" in data:
        lexicons = expect_mapping(data["lexicons"], where, "`lexicons`")
        for name, change in lexicons.items():
            entry = expect_mapping(change, where, f"`lexicons.{name}`", lexicons.value_mark(name))
            check_keys(entry, ("add", "remove"), where)
            config.lexicons[name] = (_words(entry, "add", where), _words(entry, "remove", where))
    if "window" in data:
        window = expect_mapping(data["window"], where, "`window`")
        check_keys(window, ("since", "until"), where)
        now = dt.datetime.now(tz)
        config.since = parse_moment(window.get("since"), tz, now, where, window, "since")
        config.until = parse_moment(window.get("until"), tz, now, where, window, "until")
    return config


def _hours(value: Any, tz: dt.tzinfo, where: str, data: LocatedDict) -> WorkingHours:
    if value is None:
        return WorkingHours(tz=tz)
    hours = expect_mapping(value, where, "`working_hours`", data.value_mark("working_hours"))
    check_keys(hours, ("days", "start", "end"), where)
    try:
        days = parse_days(str(hours.get("days", "mon-fri")))
    except ValueError as exc:
        raise ConfigError(where, str(exc), hours.value_mark("days")) from None
    try:
        start = parse_time(str(hours.get("start", "09:00")))
        end = parse_time(str(hours.get("end", "18:00")))
    except ValueError as exc:
        raise ConfigError(where, str(exc), hours.mark) from None
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
    text = str(value).strip().lower()
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
        mark = data.value_mark(key) if data is not None and key else None
        raise ConfigError(
            where, f"`{value}` is not a date (2026-10-01, today, -30d, +90d)", mark
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _words(data: LocatedDict, key: str, where: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ConfigError(
            where, f"`{key}` must be a list, not {type_name(value)}", data.value_mark(key)
        )
    return [str(v) for v in value]
