"""The ``clientline`` command. Thin: parse options, call the library, print, exit.

Exit codes, as linters use them: 0 nothing found, 1 findings, 2 usage, configuration
or rule errors. Unreadable input files are reported and do not change the exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from linter import baseline, lintrun, packs, ruletests
from linter.model import Finding, Severity
from linter.report import registry as reporters
from linter.ruletests import run_all
from linter.yamlfile import ConfigError

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
        accepted = baseline.load(baseline_path) if baseline_path else None
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
    summary = lintrun.run(
        setup, paths, reporter, Severity.parse(min_severity), accepted, collected
    )
    if write_baseline and collected is not None:
        count = baseline.write(write_baseline, collected)
        click.echo(f"wrote {count} findings to the baseline {write_baseline}", err=True)
        sys.exit(EXIT_CLEAN)
    sys.exit(EXIT_FINDINGS if summary.total and not exit_zero else EXIT_CLEAN)


@main.group()
def rules() -> None:
    """List, show, test and validate rules."""


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
    ruleset = _ruleset(config_path, folders)
    outcomes, errors = run_all(ruleset)
    if errors:
        _fail(list(errors))
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


@rules.command("validate")
@click.argument("folders", nargs=-1, type=click.Path(exists=True, file_okay=False))
@_config_option
def rules_validate(folders: tuple[str, ...], config_path: str | None) -> None:
    """Load every rule and lexicon; print every error with file:line:col."""
    ruleset = _ruleset(config_path, folders)
    click.echo(f"{len(ruleset.rules)} rules and {len(ruleset.lexicons)} lexicons are valid.")


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=Path(sys.argv[0]).name)
