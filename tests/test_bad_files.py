"""Files that would hang a run, crash it, or end it with the wrong exit code.

* YAML alias bombs ("billion laughs"): nine lines of nine aliases each stand for 9**9
  values. PyYAML builds them shared, but formatting them (into a message, or an alias
  list into text) took minutes and gigabytes. They are refused while the document is
  composed, naming the alias that went too far; a few reused anchors still load.
* Empty files: an empty contact directory is exit 2 with a message saying so, not a
  traceback with exit 1 (the code for findings); an empty configuration file means
  every default; an empty rule or lexicon file in a pack is exit 2 naming the file.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from linter import config, contacts, yamlfile
from linter.yamlfile import ConfigError
from tests.conftest import ROOT, eml

ME = "me: [sam@studio.example]\n"
CLIENT = "clients:\n  - name: Dana Ng\n    emails: [dana@acme.example]\n"
MEMORY_CAP = 1 << 30  # bytes of address space a bomb's run may take before it fails
REFUSED = "YAML aliases that expand this far are not accepted"


def aliases(levels: int, indent: str, width: int = 9) -> str:
    """List items at ``indent``: ``&a0`` holds ``width`` words, and each of the next
    ``levels - 1`` anchors holds ``width`` aliases of the one before."""
    words = ", ".join(["lol"] * width)
    lines = [f"{indent}- &a0 [{words}]"]
    for level in range(1, levels):
        lines.append(f"{indent}- &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def contacts_bomb(levels: int = 9) -> str:
    return ME + CLIENT + "    aliases:\n" + aliases(levels, "      ")


def config_bomb(levels: int = 9) -> str:
    return "timezone: UTC\nworking_hours:\n  days:\n" + aliases(levels, "    ")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def clientline(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``clientline`` (the code under test) in a process of its own, with its memory
    capped and a time limit: a run that expands a bomb fails instead of taking the
    machine. Returns the process and how long it took, in seconds."""

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "linter.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=cap_memory,  # only setrlimit, before the exec
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return done, time.perf_counter() - began


def at(text: str, message: str, name: str) -> str:
    """What ``text`` holds at the ``name:line:col`` that ``message`` begins with."""
    where = message[message.index(name) + len(name) :].split(": ", 1)[0]
    line, col = (int(n) for n in where.strip(":").split(":"))
    return text.splitlines()[line - 1][col - 1 :]


# -- alias bombs ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["contacts", "config"])
def test_an_alias_bomb_is_refused_quickly_with_exit_2(tmp_path: Path, kind: str) -> None:
    mail = write(tmp_path, "m.eml", eml("Invoice", "Please find the invoice attached."))
    good_contacts = write(tmp_path, "good-contacts.yaml", ME + CLIENT)
    good_config = write(tmp_path, "good-config.yaml", "timezone: UTC\n")
    if kind == "contacts":
        bomb = write(tmp_path, "contacts.yaml", contacts_bomb())
        # the same run, stopped by an ordinary mistake in the same file: the cost of
        # starting up and reading the files, without a bomb
        plain = write(tmp_path, "plain.yaml", ME + CLIENT + "    alias: [Acme]\n")
        runs = [("--contacts", bomb, "--config", good_config)]
        runs.append(("--contacts", plain, "--config", good_config))
    else:
        bomb = write(tmp_path, "clientline.yaml", config_bomb())
        plain = write(tmp_path, "plain.yaml", "timezone: UTC\nworking_hours: {dayz: mon}\n")
        runs = [("--contacts", good_contacts, "--config", bomb)]
        runs.append(("--contacts", good_contacts, "--config", plain))
    (refused, took), (mistaken, baseline) = (
        clientline("lint", str(mail), *(str(a) for a in run)) for run in runs
    )
    assert mistaken.returncode == 2 and "plain.yaml:" in mistaken.stderr
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert f"{bomb}:" in refused.stderr and REFUSED in refused.stderr
    assert at(bomb.read_text(), refused.stderr, str(bomb)).startswith("*a")  # the alias
    # bounded work: refusing the bomb costs about what the ordinary mistake does (it
    # took minutes and gigabytes, or failed out of memory, when it was expanded)
    assert took < max(10.0, 3 * baseline), (took, baseline)


def test_a_bomb_is_refused_at_the_alias_that_goes_too_far(tmp_path: Path) -> None:
    # six levels (9**6 values), in this process: nine were expanded in one of their own
    # above, where running out of memory ends only that process
    contacts_text, config_text = contacts_bomb(6), config_bomb(6)
    path = write(tmp_path, "clientline.yaml", config_text)
    for text, name, load in [
        (contacts_text, "contacts.yaml", lambda: contacts.loads(contacts_text, "contacts.yaml")),
        (config_text, str(path), lambda: config.load(str(path))),
    ]:
        began = time.perf_counter()
        with pytest.raises(ConfigError, match=rf"^{re.escape(name)}:\d+:\d+: {REFUSED}") as error:
            load()
        assert time.perf_counter() - began < 2.0
        assert at(text, str(error.value), name).startswith("*a")  # an alias, not an anchor
    # the bound counts what aliases add, however they nest: four levels (their aliases
    # add 8,289 values) load, five (74,718) do not
    assert len(yamlfile.parse(aliases(4, ""), "x.yaml")) == 4
    with pytest.raises(ConfigError, match=REFUSED):
        yamlfile.parse(aliases(5, ""), "x.yaml")


def test_anchors_reused_a_few_times_still_load(tmp_path: Path) -> None:
    directory = contacts.loads(
        ME
        + "clients:\n"
        + "  - {name: Dana Ng, emails: [dana@acme.example], aliases: &acme [Acme, Acme Ltd]}\n"
        + "  - {name: Lee Park, emails: [lee@acme.example], aliases: *acme}\n"
        + "  - {name: Kim Cho, emails: [kim@acme.example], aliases: *acme}\n",
        "contacts.yaml",
    )
    assert [c.aliases for c in directory.clients] == [("Acme", "Acme Ltd")] * 3
    path = write(
        tmp_path,
        "clientline.yaml",
        "timezone: UTC\n"
        "working_hours: {days: &days [mon, tue, thu], start: '08:00', end: '16:00'}\n"
        "lexicons:\n"
        "  social: {add: &extra [padel, bouldering], remove: *days}\n"
        "  venues: {add: *extra}\n",
    )
    loaded = config.load(str(path))
    assert loaded.hours.days == frozenset({0, 1, 3})
    assert loaded.lexicons["venues"] == (["padel", "bouldering"], [])


# -- empty files ---------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "mail": write(tmp_path, "m.eml", eml("Invoice", "Please find the invoice attached.")),
        "contacts": write(tmp_path, "contacts.yaml", ME + CLIENT),
        "config": write(tmp_path, "clientline.yaml", "timezone: UTC\n"),
    }


@pytest.mark.parametrize("text", ["", "\n\n", "# who my clients are: to do\n", "---\n"])
def test_an_empty_contact_directory_is_exit_2_saying_so(
    run_cli: Callable[..., Result], files: dict[str, Path], text: str
) -> None:
    files["contacts"].write_text(text, encoding="utf-8")
    args = ["--contacts", str(files["contacts"]), "--config", str(files["config"])]
    result = run_cli("lint", str(files["mail"]), *args)
    assert result.exit_code == 2, result.output
    assert f"error: {files['contacts']}: the contact directory is empty" in result.output
    assert "`clients:`" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("text", ["", "# every default\n"])
def test_an_empty_configuration_file_means_every_default(
    run_cli: Callable[..., Result],
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
) -> None:
    files["config"].write_text(text, encoding="utf-8")
    assert config.load(str(files["config"])).packs == ["builtin"]
    args = ["lint", str(files["mail"]), "--contacts", str(files["contacts"])]
    result = run_cli(*args, "--config", str(files["config"]))
    assert result.exit_code == 0, result.output
    assert "No findings" in result.output
    # the system's timezone is the default: one this machine does not know is exit 2,
    # said as such (no key of the file to point at), not a traceback with exit 1
    monkeypatch.setenv("TZ", "Nowhere/Atlantis")
    result = run_cli(*args, "--config", str(files["config"]))
    assert result.exit_code == 2, result.output
    assert "unknown timezone `Nowhere/Atlantis` (the system's" in result.output


@pytest.mark.parametrize("text", ["", "# to be written\n"])
@pytest.mark.parametrize("where", ["CL901-still-to-write.yaml", "lexicons/venues.yaml"])
def test_an_empty_rule_or_lexicon_file_is_exit_2_naming_it(
    run_cli: Callable[..., Result],
    files: dict[str, Path],
    tmp_path: Path,
    text: str,
    where: str,
) -> None:
    pack = tmp_path / "pack"
    (pack / "lexicons").mkdir(parents=True)
    empty = write(pack, where, text)
    args = ["--contacts", str(files["contacts"]), "--config", str(files["config"])]
    result = run_cli("lint", str(files["mail"]), *args, "--rules", str(pack))
    assert result.exit_code == 2, result.output
    assert (
        f"error: {empty}: " in result.output and "must be a mapping, not nothing" in result.output
    )
