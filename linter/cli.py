"""The ``clientline`` command. Thin: parse options, call the library, print, exit.

Exit codes, as linters use them: 0 nothing found, 1 findings, 2 usage, configuration
or rule errors. Unreadable input files are reported and do not change the exit code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from linter import lintrun, packs
from linter.model import FINDING_STATUSES, Finding, Severity
from linter.report import registry as reporters
from linter.yamlfile import ConfigError

if TYPE_CHECKING:  # the store and rule tests are imported by the commands that use them
    from linter import ruletests as ruletests_module
    from linter import store as store_module

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
SEVERITIES = ["info", "warning", "error"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clientline")
def main() -> None:
    """Keep the line between client work and friendship: lint calendars and mailboxes."""


def _fail(errors: list[object]) -> None:
    for error in errors:
        click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_ERROR)


def _uses_state(command: Callable[..., None]) -> Callable[..., None]:
    """A command that reads the state database: an error SQLite reports on the way (a
    damaged page) is a clear error with exit 2, not a traceback with exit 1."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> None:
        import sqlite3

        from linter import store as store_module

        try:
            command(*args, **kwargs)
        except store_module.StoreError as exc:
            _fail([exc])
        except sqlite3.DatabaseError as exc:
            _fail([store_module.damaged(next(iter(store_module.OPENED), "state.db"), exc)])

    return wrapper


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="clientline.yaml to use."
)
@click.option(
    "--contacts", type=click.Path(dir_okay=False), help="Contact directory (contacts.yaml)."
)
@click.option(
    "--rules", "rule_packs", multiple=True, help="Extra rule pack: a folder or an installed pack."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "jsonl"]),
    default="text",
    show_default=True,
)
@click.option("--min-severity", type=click.Choice(SEVERITIES), default="info", show_default=True)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--since", help="Start of the window: 2026-10-01, today, -30d (default -30d).")
@click.option("--until", help="End of the window: 2027-01-01, +90d (default +90d).")
@click.option("--color/--no-color", default=None, help="Colour (default: only on a terminal).")
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(dir_okay=False),
    help="Hide the findings this baseline file accepts; report its stale entries.",
)
@click.option(
    "--write-baseline",
    "write_baseline",
    type=click.Path(dir_okay=False),
    help="Write every finding of this run to a baseline file, then exit 0.",
)
def lint(
    paths: tuple[str, ...],
    config_path: str | None,
    contacts: str | None,
    rule_packs: tuple[str, ...],
    output_format: str,
    min_severity: str,
    exit_zero: bool,
    since: str | None,
    until: str | None,
    color: bool | None,
    baseline_path: str | None,
    write_baseline: str | None,
) -> None:
    """Lint .ics files, mbox files, Maildir folders and .eml files (folders are walked)."""
    try:
        setup = lintrun.prepare(config_path, contacts, rule_packs, since, until)
        accepted = None
        if baseline_path:  # the baseline module is imported by the runs that use one
            from linter import baseline

            accepted = baseline.load(baseline_path)
    except lintrun.SetupError as exc:
        _fail(list(exc.errors))
        return
    except ConfigError as exc:
        _fail([exc])
        return
    if not paths:
        paths = tuple(
            str(setup.config.base / str(source["path"]))
            for source in setup.config.raw.get("sources") or []
            if isinstance(source, dict) and source.get("path")
        )
    if not paths:
        raise click.UsageError("give at least one PATH, or `sources:` in clientline.yaml")
    use_color = sys.stdout.isatty() if color is None else color
    reporter = reporters()[output_format](sys.stdout, sys.stderr, use_color)
    collected: list[Finding] | None = [] if write_baseline else None
    # the rules, their pattern databases and the contacts last as long as this one run:
    # out of the garbage collector's sight, its passes over the items stay short
    gc.freeze()
    summary = lintrun.run(setup, paths, reporter, Severity.parse(min_severity), accepted, collected)
    if write_baseline and collected is not None:
        from linter import baseline

        count = baseline.write(write_baseline, collected)
        click.echo(f"wrote {count} findings to the baseline {write_baseline}", err=True)
        sys.exit(EXIT_CLEAN)
    sys.exit(EXIT_FINDINGS if summary.total and not exit_zero else EXIT_CLEAN)


@main.group()
def rules() -> None:
    """List, show, test, validate and document rules; print their JSON Schemas."""


def _ruleset(config_path: str | None, extra: tuple[str, ...]) -> packs.RuleSet:
    from linter import config as config_module

    config = config_module.load(config_path) if config_path else config_module.defaults()
    dirs = [packs.resolve(spec, config.base) for spec in [*config.packs, *extra]]
    ruleset = packs.load(dict.fromkeys(dirs), config.lexicons, config.disable, config.severity)
    if ruleset.errors:
        _fail(list(ruleset.errors))
    return ruleset


_config_option = click.option("--config", "config_path", type=click.Path(dir_okay=False))
_rules_option = click.option("--rules", "rule_packs", multiple=True)


@rules.command("list")
@_config_option
@_rules_option
def rules_list(config_path: str | None, rule_packs: tuple[str, ...]) -> None:
    """One line per enabled rule."""
    for rule in _ruleset(config_path, rule_packs).rules:
        kinds = ",".join(sorted(rule.applies_to))
        click.echo(
            f"{rule.id}  {rule.severity!s:<7}  {kinds:<13}  "
            f"{','.join(rule.principles):<6}  {rule.name}"
        )


@rules.command("show")
@click.argument("rule_id")
@_config_option
@_rules_option
def rules_show(rule_id: str, config_path: str | None, rule_packs: tuple[str, ...]) -> None:
    """Everything about one rule: what, why, which principle, what to do instead."""
    ruleset = _ruleset(config_path, rule_packs)
    rule = ruleset.rule(rule_id.upper())
    if rule is None:
        _fail([f"no rule {rule_id}; `clientline rules list` shows them"])
        return
    principles = packs.principles()
    click.echo(f"{rule.id} {rule.name} ({rule.severity}; {', '.join(sorted(rule.applies_to))})")
    click.echo(f"\n{rule.title}\n\nWhy: {rule.rationale}")
    for principle in rule.principles:
        click.echo(f"  {principle}: {principles[principle]['summary']}")
    click.echo(f"\nInstead: {rule.advice}\n\nFile: {rule.origin}")


@rules.command("test")
@click.argument("folders", nargs=-1, type=click.Path(exists=True, file_okay=False))
@_config_option
@click.option(
    "--coverage", is_flag=True, help="Also fail a rule with no firing case or no quiet case."
)
def rules_test(folders: tuple[str, ...], config_path: str | None, coverage: bool) -> None:
    """Run every rule's embedded test cases and report each, like pytest."""
    from linter import ruletests

    ruleset = _ruleset(config_path, folders)
    outcomes, errors = ruletests.run_all(ruleset)
    user_outcomes, user_errors = _user_cases(config_path, folders, ruleset)
    if errors or user_errors:
        _fail([*errors, *user_errors])
    outcomes += user_outcomes
    failed = 0
    for outcome in outcomes:
        case = outcome.case
        if outcome.passed:
            click.echo(f"PASSED {case.origin}:{case.line} {case.label}")
        else:
            failed += 1
            click.echo(
                f"FAILED {case.origin}:{case.line} {case.label}: expected "
                f"{sorted(case.expect) or 'nothing'}, fired {sorted(outcome.fired) or 'nothing'}"
            )
    uncovered = ruletests.coverage(ruleset, [o.case for o in outcomes]) if coverage else {}
    for rule_id, gaps in sorted(uncovered.items()):
        origin = next((r.origin for r in ruleset.rules if r.id == rule_id), "")
        click.echo(f"UNCOVERED {origin} {rule_id}: {'; '.join(gaps)}")
    summary = f"{len(outcomes) - failed} passed, {failed} failed"
    click.echo(summary + (f", {len(uncovered)} rules uncovered" if coverage else ""))
    sys.exit(EXIT_FINDINGS if failed or uncovered else EXIT_CLEAN)


def _user_cases(
    config_path: str | None, folders: tuple[str, ...], ruleset: packs.RuleSet
) -> tuple[list[ruletests_module.Outcome], list[object]]:
    """The kept corrections (``<pack>/cases/``) of the local packs, run against every
    enabled rule with the practice's contacts and hours (see linter.usercases)."""
    from linter import config as config_module
    from linter import contacts as contacts_module
    from linter import ruletests, usercases
    from linter.engine import Engine

    config_path = config_path or config_module.discover()
    config = config_module.load(config_path) if config_path else config_module.defaults()
    local = [Path(f) for f in folders] + [
        packs.resolve(spec, config.base) for spec in config.packs if spec not in packs.BUILTIN_NAMES
    ]
    cases, errors = [], []
    for pack in dict.fromkeys(local):
        found, problems = usercases.collect(pack)
        cases += found
        errors += problems
    if not cases:
        return [], list(errors)
    try:
        directory = contacts_module.load(config.contacts) if config.contacts else None
    except ConfigError as exc:
        return [], [*errors, exc]
    engine = Engine(
        ruleset.rules, ruleset.lexicons, directory or contacts_module.Directory(), config.hours
    )
    return [ruletests.run_case(ruleset, case, engine) for case in cases], list(errors)


@rules.command("health")
@_config_option
@click.option("--days", default=90, show_default=True, help="How far back to look.")
@_uses_state
def rules_health(config_path: str | None, days: int) -> None:
    """Per rule: findings fired, acknowledged as not a problem (false alarms), accepted
    as real, and still open, over the last --days days of `clientline run`."""
    import datetime as dt

    with _open_store(config_path) as store:
        health = store.rule_health(dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
    if not health:
        click.echo(f"no findings in the last {days} days")
        return
    click.echo(
        f"{'rule':<8} {'fired':>6} {'not a problem':>14} {'accepted':>9} {'open':>5}  false alarms"
    )
    for rule, counts in sorted(health.items()):
        judged = counts["not_a_problem"] + counts["accepted"]
        share = f"{counts['not_a_problem'] / judged:.0%} of {judged} judged" if judged else "-"
        click.echo(
            f"{rule:<8} {counts['fired']:>6} {counts['not_a_problem']:>14} "
            f"{counts['accepted']:>9} {counts['open']:>5}  {share}"
        )


@main.group()
def cases() -> None:
    """Keep corrections as test cases in your own rule pack."""


@cases.command("add")
@click.argument("item")
@click.option(
    "--expect",
    "expected",
    required=True,
    multiple=True,
    help="A rule id that must fire on it, or `none` (repeat for several).",
)
@click.option(
    "--pack",
    type=click.Path(file_okay=False, path_type=Path),
    help="Your rule pack folder (default: the first local pack in `rules:`).",
)
@click.option("--yes", is_flag=True, help="Write without asking.")
@_config_option
@_uses_state
def cases_add(
    item: str, expected: tuple[str, ...], pack: Path | None, yes: bool, config_path: str | None
) -> None:
    """Keep ITEM (a finding id, or FILE:LOCATOR as `lint` prints it) as a test case.

    Only its title, place, times, people's addresses and the author's own new text are
    kept, never quoted mail; the case is shown first and written after you agree.
    """
    from linter import config as config_module
    from linter import store as store_module
    from linter import usercases, worker

    config_path = config_path or config_module.discover()
    config = config_module.load(config_path) if config_path else config_module.defaults()
    expect = [] if [e.lower() for e in expected] == ["none"] else [e.upper() for e in expected]
    ruleset = _ruleset(config_path, ())
    unknown = [e for e in expect if ruleset.rule(e) is None]
    if unknown:
        _fail([f"no rule {', '.join(unknown)}; `clientline rules list` shows them"])
    if pack is None:
        local = [spec for spec in config.packs if spec not in packs.BUILTIN_NAMES]
        if not local:
            _fail(
                [
                    "no local rule pack in `rules:`; make a folder, add it to `rules:` in "
                    "clientline.yaml (`rules: [builtin, ./my-rules]`), or pass --pack DIR"
                ]
            )
        pack = packs.resolve(local[0], config.base)
    store = None
    if Path(worker.state_path(config)).exists():
        store = worker.open_state(config, create=False)
    try:
        found = usercases.item_for(item, config, store)
    except (usercases.CaseError, store_module.StoreError) as exc:
        _fail([exc])
        return
    finally:
        if store is not None:
            store.close()
    case = usercases.case_of(found, expect)
    click.echo(usercases.render(case), nl=False)
    if not yes and not click.confirm(f"add this case to {pack}?", default=True):
        click.echo("nothing written")
        return
    written = usercases.append(pack, case)
    click.echo(f"wrote {written}; `clientline rules test` now checks it")


@rules.command("validate")
@click.argument("folders", nargs=-1, type=click.Path(exists=True, file_okay=False))
@_config_option
def rules_validate(folders: tuple[str, ...], config_path: str | None) -> None:
    """Load every rule and lexicon; print every error with file:line:col."""
    ruleset = _ruleset(config_path, folders)
    click.echo(f"{len(ruleset.rules)} rules and {len(ruleset.lexicons)} lexicons are valid.")


@rules.command("schema")
@click.argument(
    "name", type=click.Choice(["rule", "lexicon", "contacts", "config"]), default="rule"
)
def rules_schema(name: str) -> None:
    """Print the JSON Schema for rule, lexicon, contacts or config files (default: rule).

    Save it and point your editor's YAML language server at it for completion and
    checking as you type; see `python -m pydoc linter.schemas`.
    """
    from linter import schemas

    click.echo(schemas.text(name), nl=False)


@rules.command("docs")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs/rules"),
    show_default=True,
    help="Folder for the pages.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the pages are out of date.")
@click.option("--rules", "rule_packs", multiple=True, help="Pack to document (default: builtin).")
def rules_docs(output: Path, check: bool, rule_packs: tuple[str, ...]) -> None:
    """Write one Markdown page per rule, and an index, into --output."""
    from linter import ruledocs

    ruleset = ruledocs.load(rule_packs or ("builtin",))
    if ruleset.errors:
        _fail(list(ruleset.errors))
    pages = ruledocs.generate(ruleset, output, cache=lintrun.FileCache())
    changed = ruledocs.outdated(pages, output)
    if check:
        for name in changed:
            click.echo(f"out of date: {output / name}")
        if changed:
            click.echo(f"run `clientline rules docs --output {output}` to update them")
            sys.exit(EXIT_FINDINGS)
        click.echo(f"{len(pages)} pages in {output} are up to date.")
        return
    output.mkdir(parents=True, exist_ok=True)
    for name in changed:
        if name in pages:
            (output / name).write_text(pages[name], encoding="utf-8")
        else:
            (output / name).unlink()  # the page of a rule that is gone
    written = sum(1 for name in changed if name in pages)
    click.echo(
        f"{output}: wrote {written} of {len(pages)} pages"
        f" (the rest were current), removed {len(changed) - written}."
    )


def _worker_setup(config_path: str | None) -> lintrun.Setup:
    """Configuration, contacts, rules and sources for the worker, or exit 2 with every
    error."""
    from linter import config as config_module
    from linter import worker

    config_path = config_path or config_module.discover()
    if not config_path:
        _fail(["no clientline.yaml here or above; pass --config FILE or run `clientline init`"])
    try:
        setup = lintrun.prepare(config_path)
    except lintrun.SetupError as exc:
        _fail(list(exc.errors))
        raise  # unreachable: _fail exits
    errors: list[object] = list(worker.check_sources(setup.config))
    if setup.config.digest is not None:
        # a missing secret is a configuration error: say so now, not at 07:30
        from linter.report import mailer

        try:
            mailer.transport_from_config(
                setup.config.raw["digest"],
                path=setup.config.path or "clientline.yaml",
                base=setup.config.base,
            )
        except ConfigError as exc:
            errors.append(exc)
    if not setup.config.sources:
        errors.append(f"{config_path}: `sources:` lists nothing to scan")
    if errors:
        _fail(list(errors))
    return setup


def _open_store(config_path: str | None) -> store_module.Store:
    from linter import config as config_module
    from linter import store as store_module
    from linter import worker

    config_path = config_path or config_module.discover()
    try:
        config = config_module.load(config_path) if config_path else config_module.defaults()
        return worker.open_state(config, create=False)
    except (ConfigError, store_module.StoreError) as exc:
        _fail([exc])
        raise  # unreachable


def _store_of(setup: lintrun.Setup) -> store_module.Store:
    from linter import store as store_module
    from linter import worker

    try:
        return worker.open_state(setup.config)
    except store_module.StoreError as exc:
        _fail([exc])
        raise  # unreachable: _fail exits


@main.command("run")
@_config_option
@click.option("--dry-run", is_flag=True, help="Show what would change; store and send nothing.")
@click.option(
    "--adopt-state",
    is_flag=True,
    help="Use the state database even though it records another configuration (moved here).",
)
@_uses_state
def run_command(config_path: str | None, dry_run: bool, adopt_state: bool) -> None:
    """One worker cycle: scan every source, lint what changed, store, send the digest."""
    from linter import store as store_module
    from linter import worker

    setup = _worker_setup(config_path)
    try:
        report = worker.run_cycle(setup, dry_run=dry_run, adopt=adopt_state)
    except store_module.StoreError as exc:
        _fail([exc])
        return
    if report.locked:
        click.echo(report.digest)
        sys.exit(EXIT_CLEAN)
    prefix = "would add" if dry_run else "new"
    for source in report.sources:
        for problem in source.problems:
            click.echo(f"{problem}", err=True)
        line = (
            f"{source.name}: {source.units_read} read, {source.units_skipped} unchanged, "
            f"{source.linted} items linted, {prefix} {source.new}, resolved {source.resolved}"
        )
        if source.requests:
            line += f"; {source.requests} HTTP requests"
            line += f", {source.quota_units} quota units" if source.quota_units else ""
        if source.error:
            line += f"; FAILED: {source.error}"
        click.echo(line)
    click.echo(report.digest)
    if any(source.auth_failed for source in report.sources):
        sys.exit(EXIT_ERROR)  # a refused token needs the user: as a configuration error
    sys.exit(EXIT_FINDINGS if report.new else EXIT_CLEAN)


@main.command()
@_config_option
def daemon(config_path: str | None) -> None:
    """Scan every `scan_every` and send the digest daily at `digest.at`, until stopped."""
    from linter import daemon as daemon_module

    setup = _worker_setup(config_path)
    daemon_module.configure_logging()
    runner = daemon_module.Daemon(setup)
    runner.install_signal_handlers()
    runner.run_forever()


@main.command()
@_config_option
@click.option("--preview", type=click.Path(dir_okay=False), help="Write the next digest here.")
@click.option("--send", is_flag=True, help="Send the digest now, due or not.")
@_uses_state
def digest(config_path: str | None, preview: str | None, send: bool) -> None:
    """Preview the next digest (HTML, and text beside it) or send it now."""
    from linter import worker

    if not preview and not send:
        raise click.UsageError("give --preview FILE or --send")
    setup = _worker_setup(config_path)
    if preview:
        with _store_of(setup) as store:
            rendered = worker.preview(setup, store)
        target = Path(preview)
        target.parent.mkdir(parents=True, exist_ok=True)
        # snippets of clients' mail: owner-only, as the worker's own digest files are
        _write_private(target, rendered.html)
        _write_private(target.with_suffix(".txt"), rendered.text)
        click.echo(f"{rendered.subject}\nwrote {target} and {target.with_suffix('.txt')}")
    if send:
        with worker.locked(worker.state_path(setup.config)), _store_of(setup) as store:
            click.echo(worker.deliver(setup, store, force=True))


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` mode 0600 whatever the umask, from its first byte: a new file,
    made owner-only by ``mkstemp``, replaces any earlier one (and its wider mode)."""
    import tempfile

    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@main.command()
@_config_option
@click.option("--status", type=click.Choice(list(FINDING_STATUSES)), help="Only these.")
@click.option("--client", help="Only findings about this client (part of the name).")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json", "jsonl"]), default="text"
)
@_uses_state
def findings(
    config_path: str | None, status: str | None, client: str | None, output_format: str
) -> None:
    """The findings the worker has stored, with their status."""
    with _open_store(config_path) as store:
        rows = store.findings(status, client)
    if output_format == "text":
        for row in rows:
            when = (row.item_start or "")[:16].replace("T", " ")
            click.echo(
                f"{row.fingerprint}  {row.status:<12}  {row.rule}  {row.severity:<7}  "
                f"{when:<16}  {row.message}"
            )
        click.echo(f"{len(rows)} findings")
        return
    dicts = [dataclasses.asdict(row) for row in rows]
    if output_format == "json":
        click.echo(json.dumps(dicts, ensure_ascii=False, indent=2))
    else:
        for entry in dicts:
            click.echo(json.dumps(entry, ensure_ascii=False))


@main.command()
@click.argument("finding")
@click.option("--reason", help="Why: kept as an audit trail (required unless --undo).")
@click.option(
    "--not-a-problem",
    is_flag=True,
    help="A false alarm: counted against the rule by `clientline rules health`.",
)
@click.option("--undo", is_flag=True, help="Take the acknowledgement back.")
@_config_option
@_uses_state
def ack(
    finding: str, reason: str | None, not_a_problem: bool, undo: bool, config_path: str | None
) -> None:
    """Acknowledge a finding: it leaves future digests; reason and time are kept.

    With --not-a-problem it is recorded as a false alarm (see `clientline rules health`;
    `clientline cases add` keeps the item as a test case). --undo takes it back.
    """
    if undo:
        with _open_store(config_path) as store:
            row = store.unacknowledge(finding)
        click.echo(f"{row.fingerprint} is {row.status} again ({row.rule} on '{row.item_title}')")
        return
    if not reason or not reason.strip():
        raise click.UsageError("--reason must say why")
    verdict = "not-a-problem" if not_a_problem else "accepted"
    with _open_store(config_path) as store:
        before = store.finding(store.resolve_prefix(finding))
        row = store.acknowledge(finding, reason.strip(), verdict)
    said = " as not a problem" if not_a_problem else ""
    click.echo(
        f"acknowledged {row.fingerprint}{said} ({row.rule} on '{row.item_title}'): "
        f"{reason.strip()}"
    )
    if before is not None and before.ack_reason:
        click.echo(f"(replaces the earlier reason: {before.ack_reason})")
    if not_a_problem:
        click.echo(f"keep it as a test case: clientline cases add {row.fingerprint} --expect none")


@main.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
def init(folder: Path) -> None:
    """Write a commented starter clientline.yaml, contacts.yaml and rules folder."""
    from linter import starter

    written, kept = starter.write(folder)
    for path in written:
        click.echo(f"wrote {path}")
    for path in kept:
        click.echo(f"kept {path} (it exists)")
    click.echo("next: edit contacts.yaml and sources:, then `clientline doctor`")


@main.group()
def auth() -> None:
    """Authorise clientline to read an account (Google)."""


@auth.command("google")
@click.option(
    "--client-secrets",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="OAuth client secrets of a Desktop app, from the Google Cloud console.",
)
@click.option("--account", default="default", show_default=True, help="Name to store it under.")
@click.option("--send", is_flag=True, help="Also allow sending the digest through Gmail.")
@click.option("--no-browser", is_flag=True, help="Print the address instead of opening it.")
@click.option(
    "--token",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Store the token in this file instead of the config folder.",
)
def auth_google(
    client_secrets: Path, account: str, send: bool, no_browser: bool, token: Path | None
) -> None:
    """Let clientline read Google Calendar and Gmail (read-only) for one account."""
    from linter.google import auth as google_auth

    try:
        path = google_auth.authorize(
            client_secrets, account, send=send, token_file=token, open_browser=not no_browser
        )
    except google_auth.AuthError as exc:
        _fail([exc])
        return
    granted = json.loads(path.read_text(encoding="utf-8")).get("scopes") or []
    scopes = ", ".join(scope.rsplit("/", 1)[-1] for scope in granted)
    click.echo(f"authorised account `{account}` ({scopes}); token stored in {path} (mode 0600)")
    click.echo(f"next: add `account: {account}` to your gcal and gmail sources")


@main.command()
@_config_option
def doctor(config_path: str | None) -> None:
    """Check configuration, rules, contacts, sources, state and the digest's delivery."""
    from linter import doctor as doctor_module

    failed = 0
    for check in doctor_module.checks(config_path):
        mark = "ok " if check.ok else "FIX"
        click.echo(f"{mark} {check.name}: {check.detail}")
        if not check.ok:
            failed += 1
            if check.fix:
                click.echo(f"    -> {check.fix}")
    click.echo("all good" if not failed else f"{failed} to fix")
    sys.exit(EXIT_ERROR if failed else EXIT_CLEAN)


def run() -> None:
    """The console script: :func:`main`, then out of the process at once.

    The interpreter's teardown would free every object of the run one by one (a kept
    rule set alone is tens of thousands: 20 M instructions, as much as linting 40
    messages) and run no handler this program needs: the output streams and the log are
    flushed here, and every file the commands write is closed before they return.
    """
    try:
        main(prog_name=Path(sys.argv[0]).name)
    except SystemExit as exc:
        code = exc.code
    else:  # pragma: no cover - click's standalone mode always exits
        code = EXIT_CLEAN
    if code is not None and not isinstance(code, int):
        click.echo(code, err=True)  # as the interpreter shows a message given to exit()
        code = 1
    if "logging" in sys.modules:  # the commands that log imported it: flush its handlers
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing gets out
            stream.flush()
    os._exit(code or EXIT_CLEAN)


if __name__ == "__main__":  # pragma: no cover
    run()
