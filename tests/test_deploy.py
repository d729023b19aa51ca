"""The deployment files in deploy/ keep the properties deploy/README.md promises.

Every manifest is parsed, not grepped: the crontab's schedule is expanded, the systemd
units are read key by key (and handed to ``systemd-analyze`` where it exists), the
Dockerfile's instructions and stages are split out, and the Kubernetes objects are
loaded and walked down to each container's effective security context. The claims
checked are the ones a careless edit would break: nothing runs as root, secrets arrive
as files and never as values, SQLite keeps a single writer, and the sandbox stays on.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from linter import config as config_module
from linter import contacts as contacts_module

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
KUBERNETES = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
CRONTAB = DEPLOY / "cron" / "crontab"

SERVICES = ("clientline.service", "clientline-daemon.service")
PLACEHOLDER = "REPLACE-ME"
SECRET_WORD = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.I)
TRUE = {"yes", "true", "on", "1"}


# --- systemd -------------------------------------------------------------------------


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every assignment in order (systemd allows repeats)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}:{number}: assignment before any section"
        assert "=" in line, f"{path.name}:{number}: not a key=value line: {raw!r}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def effective(values: list[str]) -> list[str]:
    """List settings as systemd applies them: an empty assignment resets the list."""
    result: list[str] = []
    for value in values:
        if value == "":
            result = []
        else:
            result.extend(value.split())
    return result


def last(unit: dict[str, dict[str, list[str]]], key: str, section: str = "Service") -> str:
    values = unit.get(section, {}).get(key)
    assert values, f"{key}= is missing from [{section}]"
    return values[-1]


def is_true(value: str) -> bool:
    return value.lower() in TRUE


def exec_start(unit: dict[str, dict[str, list[str]]]) -> list[str]:
    return shlex.split(last(unit, "ExecStart").lstrip("-@:+!"))


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> tuple[str, dict[str, dict[str, list[str]]]]:
    return request.param, read_unit(SYSTEMD / request.param)


BOOLEAN_SANDBOX = (
    "NoNewPrivileges",
    "PrivateTmp",
    "PrivateDevices",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectControlGroups",
    "RestrictNamespaces",
    "LockPersonality",
    "MemoryDenyWriteExecute",
)


def test_services_are_sandboxed(service):
    name, unit = service
    for key in BOOLEAN_SANDBOX:
        assert is_true(last(unit, key)), f"{name}: {key}= must be yes"
    assert last(unit, "ProtectSystem") == "strict", name
    # read-only or tmpfs are allowed for local mail files (see local-mail.conf.example)
    assert last(unit, "ProtectHome").lower() in {*TRUE, "read-only", "tmpfs"}, name
    families = effective(unit["Service"]["RestrictAddressFamilies"])
    assert set(families) == {"AF_INET", "AF_INET6", "AF_UNIX"}, name
    assert "@system-service" in unit["Service"]["SystemCallFilter"][0].split(), (
        f"{name}: the first SystemCallFilter= must allow-list @system-service"
    )
    assert unit["Service"]["CapabilityBoundingSet"][-1] == "", (
        f"{name}: CapabilityBoundingSet= must end empty (no capabilities)"
    )
    assert not effective(unit["Service"].get("AmbientCapabilities", [])), name
    assert int(last(unit, "UMask"), 8) & 0o077 == 0o077, f"{name}: files must be owner-only"


def test_services_run_as_a_dedicated_user_with_their_own_directories(service):
    name, unit = service
    settings = unit["Service"]
    dynamic = is_true(settings.get("DynamicUser", ["no"])[-1])
    user = settings.get("User", [""])[-1]
    assert dynamic or user, f"{name}: needs DynamicUser=yes or User="
    assert user not in {"root", "0"}, f"{name} must not run as root"
    for key in ("StateDirectory", "CacheDirectory", "ConfigurationDirectory"):
        assert effective(settings[key]) == ["clientline"], f"{name}: {key}=clientline"
    for key in ("StateDirectoryMode", "CacheDirectoryMode"):
        mode = int(settings.get(key, ["0755"])[-1], 8)
        assert mode & 0o077 == 0, f"{name}: {key} must be owner-only, not {mode:o}"
    if user:
        sysusers = (SYSTEMD / "clientline.sysusers").read_text(encoding="utf-8").splitlines()
        entries = [line.split()[:2] for line in sysusers if line and not line.startswith("#")]
        assert ["u", user] in entries, f"clientline.sysusers must create the user {user}"


def test_smtp_password_is_a_credential_not_an_environment_value(service):
    name, unit = service
    settings = unit["Service"]
    credentials = dict(v.split(":", 1) for v in settings.get("LoadCredential", []))
    assert "smtp-password" in credentials, f"{name}: LoadCredential=smtp-password:..."
    source = Path(credentials["smtp-password"])
    assert source.is_absolute()
    # the service may read /etc/clientline; the secret must sit outside it (root-only)
    assert Path("/etc/clientline") not in source.parents, source
    for line in settings.get("Environment", []):
        for assignment in shlex.split(line):
            key = assignment.partition("=")[0]
            assert not SECRET_WORD.search(key), f"{name}: secret in Environment=: {key}"
    for path in settings.get("EnvironmentFile", []):
        assert not path.lstrip("-").startswith("/etc/clientline/"), (
            f"{name}: an EnvironmentFile in /etc/clientline would be readable by the service"
        )


def test_oneshot_runs_one_cycle_and_accepts_findings():
    unit = read_unit(SYSTEMD / "clientline.service")
    assert last(unit, "Type") == "oneshot"
    argv = exec_start(unit)
    assert Path(argv[0]).name == "clientline" and Path(argv[0]).is_absolute()
    assert argv[1] == "run" and "--config" in argv
    assert argv[argv.index("--config") + 1].startswith("/etc/clientline/")
    # exit 1 = "findings exist": a successful scan, not a failed unit
    assert "1" in effective(unit["Service"]["SuccessExitStatus"])
    assert "Restart" not in unit["Service"] or last(unit, "Restart") == "no"
    assert "Install" not in unit, "the oneshot is started by the timer, not enabled itself"


def test_daemon_restarts_on_failure_but_not_on_configuration_errors():
    unit = read_unit(SYSTEMD / "clientline-daemon.service")
    assert last(unit, "Type") == "simple"
    argv = exec_start(unit)
    assert argv[1] == "daemon" and argv[argv.index("--config") + 1].startswith("/etc/clientline/")
    assert last(unit, "Restart") == "on-failure"
    assert "2" in effective(unit["Service"]["RestartPreventExitStatus"])
    assert last(unit, "KillSignal") == "SIGTERM"
    assert parse_seconds(last(unit, "TimeoutStopSec")) > 0
    assert "clientline.timer" in effective(unit["Unit"]["Conflicts"])
    assert last(unit, "WantedBy", "Install") == "multi-user.target"


def parse_seconds(text: str) -> float:
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "hr": 3600, "ms": 0.001}
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        total += float(amount) * units[unit]
    return total


def test_timer_fires_every_half_hour_and_catches_up():
    timer = read_unit(SYSTEMD / "clientline.timer")
    spec = last(timer, "OnCalendar", "Timer")
    assert spec in {"*:0/30", "*:00/30", "*:00,30", "*-*-* *:00/30:00", "*-*-* *:00,30:00"}, spec
    assert is_true(last(timer, "Persistent", "Timer"))
    delay = parse_seconds(last(timer, "RandomizedDelaySec", "Timer"))
    assert 0 < delay < 30 * 60, "a random delay, shorter than the interval"
    target = last(timer, "Unit", "Timer")
    assert (SYSTEMD / target).is_file() and target == "clientline.service"
    assert last(timer, "WantedBy", "Install") == "timers.target"


def test_local_mail_drop_in_binds_read_only():
    drop_in = read_unit(SYSTEMD / "local-mail.conf.example")["Service"]
    assert drop_in["ProtectHome"][-1] == "tmpfs"
    assert drop_in.get("BindReadOnlyPaths"), "mail folders are bound back read-only"
    assert "BindPaths" not in drop_in and "ReadWritePaths" not in drop_in


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed on this machine"
)


@pytest.fixture
def unit_root(tmp_path: Path) -> Path:
    """A file-system root holding our units, stand-in executables and the stock targets."""
    units = tmp_path / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    for path in [*SYSTEMD.glob("*.service"), *SYSTEMD.glob("*.timer")]:
        shutil.copy(path, units / path.name)
        if path.suffix == ".service":
            binary = tmp_path / exec_start(read_unit(path))[0].lstrip("/")
            binary.parent.mkdir(parents=True, exist_ok=True)
            binary.write_text("#!/bin/sh\n")
            binary.chmod(0o755)
    drop_ins = units / "clientline.service.d"
    drop_ins.mkdir()
    shutil.copy(SYSTEMD / "local-mail.conf.example", drop_ins / "local-mail.conf")
    stock = tmp_path / "usr" / "lib" / "systemd" / "system"
    stock.mkdir(parents=True)
    for folder in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if folder.is_dir():
            for target in folder.glob("*.target"):
                if target.is_file() and not target.is_symlink():
                    shutil.copy(target, stock / target.name)
            break
    return tmp_path


@needs_systemd_analyze
def test_systemd_analyze_verify_reports_nothing(unit_root: Path):
    names = [p.name for p in (unit_root / "etc/systemd/system").iterdir() if p.is_file()]
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", f"--root={unit_root}", *sorted(names)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ours = [line for line in result.stderr.splitlines() if "clientline" in line]
    assert result.returncode == 0 and not ours, result.stderr


@needs_systemd_analyze
@pytest.mark.parametrize("name", SERVICES)
def test_systemd_exposure_level_stays_low(unit_root: Path, name: str):
    result = subprocess.run(
        [
            SYSTEMD_ANALYZE,
            "security",
            "--offline=yes",
            "--threshold=20",
            f"--root={unit_root}",
            name,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no offline security review (needs systemd 250+)")
    # the threshold is in tenths: 20 means an exposure level of at most 2.0 ("OK")
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr


def test_no_writable_executable_memory_needed_for_linting(tmp_path: Path):
    """MemoryDenyWriteExecute=yes holds: lint the demo with W+X mappings refused.

    PR_SET_MDWE (Linux 6.3+) makes the kernel refuse memory that is, or becomes, both
    writable and executable, as the systemd setting does with seccomp. Hyperscan, RE2,
    SQLite, Jinja2 and the Google client libraries must all work under it.
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_MDWE is Linux-only")
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ctypes,sys; l=ctypes.CDLL(None);"
            " sys.exit(0 if l.prctl(65, 1, 0, 0, 0) == 0 else 1)",
        ],
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip("the kernel has no PR_SET_MDWE (Linux 6.3+)")
    script = tmp_path / "mdwe.py"
    script.write_text(MDWE_SCRIPT, encoding="utf-8")
    env = {**os.environ, "CLIENTLINE_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, str(script), str(ROOT / "examples"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["wx_refused"], "the probe mapping was allowed, so nothing was tested"
    assert report["findings"] > 0, "the demo calendar and mailbox have findings"


MDWE_SCRIPT = r"""
import contextlib, ctypes, io, json, mmap, sqlite3, sys
from pathlib import Path

libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(65, 1, 0, 0, 0) == 0  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    wx_refused = False
except OSError:
    wx_refused = True

examples, scratch = Path(sys.argv[1]), Path(sys.argv[2])
import re2
assert re2.search(r"(?i)\bworking lunch\b", "A Working Lunch")
with contextlib.suppress(ImportError):
    import hyperscan  # noqa: F401
import jinja2
assert jinja2.Template("{{ n }} new").render(n=2) == "2 new"
db = sqlite3.connect(scratch / "state.db")
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE t (x)")
db.execute("INSERT INTO t VALUES (1)")
db.commit()
import googleapiclient.discovery, google.oauth2.credentials, smtplib, ssl  # noqa: F401
ssl.create_default_context()
with contextlib.suppress(ImportError):  # service-account keys are signed with this
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key.sign(b"jwt", padding.PKCS1v15(), hashes.SHA256())

from linter.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(["lint", "--config", str(examples / "clientline.yaml"), "--format", "jsonl",
              str(examples / "calendar.ics"), str(examples / "mailbox.mbox")])
    except SystemExit as exit:
        assert exit.code in (0, 1), exit.code
findings = sum(1 for line in out.getvalue().splitlines() if line.strip())
print(json.dumps({"wx_refused": wx_refused, "findings": findings}))
"""


# --- cron ----------------------------------------------------------------------------

CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
ENV_LINE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")


def expand_cron_field(field: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        assert step > 0, part
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            start, stop = (int(x) for x in base.split("-"))
        else:
            start = int(base)
            stop = high if step_text else start
        assert low <= start <= stop <= high, f"{part} is outside {low}-{high}"
        values.update(range(start, stop + 1, step))
    return values


def cron_jobs() -> list[str]:
    lines = CRONTAB.read_text(encoding="utf-8").splitlines()
    return [
        line
        for line in lines
        if line.strip() and not line.lstrip().startswith("#") and not ENV_LINE.match(line)
    ]


def test_crontab_runs_one_cycle_every_thirty_minutes():
    jobs = cron_jobs()
    assert len(jobs) == 1, jobs
    fields = jobs[0].split(None, 5)
    assert len(fields) == 6, "five time fields, then the command"
    expanded = [
        expand_cron_field(field, low, high)
        for field, (low, high) in zip(fields[:5], CRON_RANGES, strict=True)
    ]
    assert expanded[0] == {0, 30}
    for values, (low, high) in zip(expanded[1:], CRON_RANGES[1:], strict=True):
        assert values == set(range(low, high + 1)), "every hour, day and month"


def test_crontab_command_is_safe_for_cron():
    command = jobs_command()
    words = shlex.split(command.split("|")[0].split("2>&1")[0])
    program = words[0]
    # cron's PATH is minimal: the program needs a full path
    assert program.startswith(("/", "$HOME/", "~/")), program
    assert Path(program).name == "clientline" and words[1] == "run"
    assert "--config" in words
    # cron turns an unescaped % into a newline and cuts the command there
    assert re.search(r"(?<!\\)%", command) is None
    # output goes to syslog or a log file, not to cron's mail
    assert re.search(r"\|\s*\S*logger\b", command) or re.search(r">>\s*\S+", command)
    assert "flock" not in command, "clientline run takes its own lock"
    shell = shutil.which("sh")
    if shell:
        check = subprocess.run([shell, "-n", "-c", command], capture_output=True, check=False)
        assert check.returncode == 0, check.stderr


def jobs_command() -> str:
    return cron_jobs()[0].split(None, 5)[5]


# --- container -----------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    assert not pending, "a continuation line runs off the end"
    return instructions


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def test_dockerfile_builds_a_wheel_then_installs_it_into_a_slim_python():
    args = {
        name: value
        for keyword, rest in dockerfile_instructions()
        if keyword == "ARG"
        for name, _, value in [rest.partition("=")]
    }
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage"
    build, final = stages[0], stages[-1]
    assert re.search(r"\bAS\s+build\b", build[0][1], re.I)
    assert any(k == "RUN" and "pip wheel" in r for k, r in build)
    image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], final[0][1].split()[0])
    assert re.fullmatch(r"python:3\.1[12]-slim(-\w+)?", image), image
    install = [r for k, r in final if k == "RUN" and "pip install" in r]
    assert install and "--no-index" in install[0], "install only the wheels built above"


def test_dockerfile_copies_everything_the_wheel_is_built_from():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", pyproject["project"]["readme"], *wheel["packages"]}
    needed |= set(wheel.get("force-include", {}))
    copied: set[str] = set()
    for keyword, rest in dockerfile_stages()[0]:
        if keyword == "COPY" and "--from" not in rest:
            sources = [w for w in shlex.split(rest) if not w.startswith("--")][:-1]
            copied |= {s.rstrip("/") for s in sources}
    assert needed <= copied, f"the build stage does not copy {sorted(needed - copied)}"


def test_container_runs_as_uid_10001_with_state_on_a_volume():
    final = dockerfile_stages()[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage needs a USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"} and user == "10001"
    assert any(k == "RUN" and "--uid 10001" in r for k, r in final), "the user exists"
    volumes = [json.loads(r) for k, r in final if k == "VOLUME"]
    assert ["/var/lib/clientline"] in volumes
    exec_form = {k: json.loads(r) for k, r in final if k in {"ENTRYPOINT", "CMD"}}
    assert exec_form["ENTRYPOINT"] == ["clientline"]
    assert exec_form["CMD"] == ["daemon", "--config", "/etc/clientline/clientline.yaml"]


def test_dockerfile_bakes_in_no_secret():
    for keyword, rest in dockerfile_instructions():
        if keyword in {"ENV", "ARG"}:
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?:=|\s|$)", rest)
            for name in names:
                assert not SECRET_WORD.search(name), f"{keyword} {name} would bake in a secret"
        if keyword in {"COPY", "ADD"}:
            for word in shlex.split(rest):
                assert not re.search(
                    r"password|token|secret|credential|\.env$|\.pem$|\.key$", word, re.I
                ), f"{keyword} {word} copies a secret into the image"


def test_dockerignore_example_keeps_local_state_and_secrets_out():
    patterns = (DEPLOY / "container" / "dockerignore.example").read_text().splitlines()
    active = {p.strip() for p in patterns if p.strip() and not p.startswith("#")}
    for needed in (".git", ".venv", "**/*.db", "**/smtp-password", "**/token*.json"):
        assert needed in active, needed


# --- Kubernetes ----------------------------------------------------------------------


def k8s_objects() -> list[dict[str, Any]]:
    objects = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            for document in yaml.safe_load_all(handle):
                if document:
                    document["__file__"] = path.name
                    objects.append(document)
    return objects


def one(kind: str) -> dict[str, Any]:
    found = [o for o in k8s_objects() if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for obj in k8s_objects():
        kind, spec = obj["kind"], obj.get("spec", {})
        if kind == "CronJob":
            specs.append((kind, spec["jobTemplate"]["spec"]["template"]["spec"]))
        elif kind in {"Job", "Deployment", "StatefulSet", "DaemonSet"}:
            specs.append((kind, spec["template"]["spec"]))
        elif kind == "Pod":
            specs.append((kind, spec))
    return specs


def test_kubernetes_manifests_have_the_expected_kinds():
    kinds = sorted(o["kind"] for o in k8s_objects())
    assert kinds == ["ConfigMap", "CronJob", "Kustomization", "PersistentVolumeClaim", "Secret"]
    for obj in k8s_objects():
        assert obj.get("apiVersion"), obj["__file__"]
        if obj["kind"] != "Kustomization":
            assert obj.get("metadata", {}).get("name"), obj["__file__"]


def test_cronjob_schedule_and_single_writer():
    spec = one("CronJob")["spec"]
    assert spec["schedule"] == "*/30 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid", "SQLite has one writer"
    assert 0 < spec["startingDeadlineSeconds"] <= 30 * 60
    job = spec["jobTemplate"]["spec"]
    assert isinstance(job["backoffLimit"], int) and 0 <= job["backoffLimit"] <= 6
    assert job.get("activeDeadlineSeconds", 10**9) < 30 * 60, "a hung cycle ends before the next"
    rules = job["podFailurePolicy"]["rules"]
    assert any(r["action"] == "FailJob" and 2 in r["onExitCodes"]["values"] for r in rules), (
        "a configuration error (exit 2) is not retried"
    )
    assert job["template"]["spec"]["restartPolicy"] == "Never"  # podFailurePolicy needs it
    pvc = one("PersistentVolumeClaim")
    assert set(pvc["spec"]["accessModes"]) <= {"ReadWriteOnce", "ReadWriteOncePod"}
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in job["template"]["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == [pvc["metadata"]["name"]]


def test_no_container_runs_as_root_or_with_privileges():
    specs = pod_specs()
    assert specs
    for kind, spec in specs:
        pod = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, kind
        for container in spec.get("initContainers", []) + spec["containers"]:
            ctx = {**pod, **container.get("securityContext", {})}
            name = container["name"]
            assert ctx.get("runAsNonRoot") is True, name
            assert ctx.get("runAsUser", 1) != 0 and ctx.get("runAsGroup", 1) != 0, name
            assert container["securityContext"].get("allowPrivilegeEscalation") is False, name
            assert container["securityContext"].get("readOnlyRootFilesystem") is True, name
            assert container["securityContext"].get("privileged", False) is False, name
            assert "ALL" in container["securityContext"]["capabilities"]["drop"], name
            assert not container["securityContext"]["capabilities"].get("add"), name
            assert ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault", name


def test_kubernetes_uid_and_paths_match_the_image():
    final = dockerfile_stages()[-1]
    image_uid = int(next(r for k, r in final if k == "USER").split(":")[0])
    ((_, spec),) = pod_specs()
    assert spec["securityContext"]["runAsUser"] == image_uid
    assert spec["securityContext"]["fsGroup"] == image_uid
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert "/var/lib/clientline" in mounts, "the image's VOLUME is backed by the PVC"
    assert mounts["/etc/clientline"].get("readOnly") is True
    # a read-only root needs writable scratch space for SQLite and the pattern cache
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]


def test_secrets_are_mounted_as_files_only():
    secret = one("Secret")
    ((_, spec),) = pod_specs()
    secret_volumes = {v["name"]: v["secret"] for v in spec["volumes"] if "secret" in v}
    assert [v["secretName"] for v in secret_volumes.values()] == [secret["metadata"]["name"]]
    for volume in secret_volumes.values():
        assert volume["defaultMode"] & 0o007 == 0, "not readable by others"
    for container in spec.get("initContainers", []) + spec["containers"]:
        for env in container.get("env", []):
            assert "secretKeyRef" not in env.get("valueFrom", {}), env["name"]
            assert not SECRET_WORD.search(env["name"]) or "value" not in env, env["name"]
        assert not any("secretRef" in e for e in container.get("envFrom", []))
        for mount in container["volumeMounts"]:
            if mount["name"] in secret_volumes:
                assert mount.get("readOnly") is True, mount


def test_secret_manifest_holds_placeholders_only():
    secret = one("Secret")
    values = dict(secret.get("stringData", {}))
    for key, encoded in secret.get("data", {}).items():
        values[key] = base64.b64decode(encoded).decode("utf-8", "replace")
    assert values, "the example shows which keys the CronJob expects"
    for key, value in values.items():
        assert PLACEHOLDER in str(value), f"{key} looks like a real value: use {PLACEHOLDER}"
    kustomization = one("Kustomization")
    listed = set(kustomization["resources"])
    assert secret["__file__"] not in listed, "apply -k must never overwrite the real Secret"
    others = {o["__file__"] for o in k8s_objects() if o["kind"] not in {"Secret", "Kustomization"}}
    assert listed == others
    assert all((KUBERNETES / name).is_file() for name in listed)


def walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in walk(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in walk(v, f"{path}[{i}]")]
    return [(path, value)]


def test_configmap_config_points_at_the_mounted_secret_and_volume():
    ((_, spec),) = pod_specs()
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    secret_dir = next(mounts[n] for n, v in volumes.items() if "secret" in v)
    state_dir = next(mounts[n] for n, v in volumes.items() if "persistentVolumeClaim" in v)
    config_dir = next(mounts[n] for n, v in volumes.items() if "configMap" in v)
    data = one("ConfigMap")["data"]
    config = yaml.safe_load(data["clientline.yaml"])
    assert set(config) <= set(config_module.KEYS), set(config) - set(config_module.KEYS)
    assert config["contacts"] in data, "the contact directory ships in the same ConfigMap"
    assert Path(config["state"]).parent == Path(state_dir)
    leaves = walk(config)
    files = [v for k, v in leaves if re.search(r"(_file|credentials)$", k)]
    assert files and all(Path(f).parent == Path(secret_dir) for f in files), files
    for key, value in leaves:
        name = key.rsplit(".", 1)[-1]
        if SECRET_WORD.search(name) and not re.search(r"_(file|env)$|credentials$", name):
            pytest.fail(f"{key} puts a secret inline in the ConfigMap: {value!r}")
    script = spec["containers"][0]
    command = " ".join(script.get("command", []) + script.get("args", []))
    assert f"--config {config_dir}/clientline.yaml" in command


def test_configmap_files_load_with_clientlines_own_loaders(tmp_path: Path):
    """The shipped config is valid for the loader the worker uses, not just YAML."""
    data = one("ConfigMap")["data"]
    for name, text in data.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    config = config_module.load(str(tmp_path / "clientline.yaml"))
    assert config.state == "/var/lib/clientline/state.db"
    assert config.digest is not None and config.digest.transport == "smtp"
    assert config.digest.smtp["password_file"] == "/run/secrets/clientline/smtp-password"
    assert config.contacts is not None
    directory = contacts_module.load(config.contacts)
    assert directory is not None


def test_systemd_credential_path_in_config_is_expanded(tmp_path: Path, monkeypatch):
    credentials = tmp_path / "credentials"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    config_file = tmp_path / "clientline.yaml"
    config_file.write_text(
        "digest:\n"
        "  to: [sam@studio.example]\n"
        "  from: clientline@studio.example\n"
        "  transport: smtp\n"
        "  smtp: {host: smtp.example, port: 587, security: starttls, username: sam,\n"
        '         password_file: "${CREDENTIALS_DIRECTORY}/smtp-password"}\n',
        encoding="utf-8",
    )
    config = config_module.load(str(config_file))
    assert config.digest is not None
    assert config.digest.smtp["password_file"] == str(credentials / "smtp-password")


@pytest.mark.parametrize(("status", "expected"), [(0, 0), (1, 0), (2, 2), (3, 3)])
def test_cronjob_command_treats_findings_as_success(tmp_path: Path, status, expected):
    shell = shutil.which("sh")
    if shell is None:
        pytest.skip("no POSIX shell")
    container = one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    command = container["command"] + container["args"]
    assert command[:2] == ["/bin/sh", "-c"] and "clientline run" in command[2]
    fake = tmp_path / "clientline"
    fake.write_text(f'#!/bin/sh\n[ "$1" = run ] || exit 99\nexit {status}\n')
    fake.chmod(0o755)
    result = subprocess.run(
        [shell, "-c", command[2]],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        check=False,
    )
    assert result.returncode == expected


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomization_renders_without_the_secret():
    result = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert sorted(d["kind"] for d in rendered) == ["ConfigMap", "CronJob", "PersistentVolumeClaim"]
