"""Generate the benchmark corpora: deterministic, streamed, and cached by stamp.

Writes into ``bench/out/`` (git-ignored)::

    contacts.yaml         ~40 clients of the synthetic corpora (format of DESIGN.md)
    mailbox.mbox          N synthetic messages (default 100,000; --messages N)
    calendar.ics          M synthetic VEVENTs over 2026 (default 20,000; --events M)
    enron10k.mbox         the Enron development messages repeated to 10,000 (--enron K)
    enron-contacts.yaml   every outside correspondent is a client (for the Enron run)

Every file is written as a stream (to ``NAME.tmp``, then renamed) from a fixed
``random.Random(SEED + n)``, so the same arguments give byte-identical files. Next to
each file, ``NAME.stamp`` records the parameters, a digest of the generator's source and
the file's size; a file whose stamp matches is not written again (``--force`` rewrites).

    python bench/generate.py                      # the full corpora
    python bench/generate.py --messages 10000 --events 2000 --enron 2000 --out bench/out/quick
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import corpus_enron
from corpus_ics import CalendarWriter
from corpus_mbox import MailboxWriter
from corpus_people import ENRON_CONTACTS, build_directory, contacts_lines

SEED = 20260101
BENCH = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH / "out"
ENRON_SOURCE = BENCH.parent.parent / "shared" / "corpora" / "enron-dev"
# The modules each file is made by: editing one re-makes only the files it touches.
SOURCES = {
    "contacts": ("generate.py", "corpus_people.py"),
    "mailbox": ("generate.py", "corpus_people.py", "corpus_text.py", "corpus_mbox.py"),
    "calendar": ("generate.py", "corpus_people.py", "corpus_text.py", "corpus_ics.py"),
    "enron-contacts": ("generate.py", "corpus_people.py"),
    "enron": ("generate.py", "corpus_enron.py"),
}
KINDS = ("mailbox", "calendar", "enron")


@dataclass(frozen=True)
class Sizes:
    """How many messages, events and Enron messages to write."""

    messages: int = 100_000
    events: int = 20_000
    enron: int = 10_000


FULL = Sizes()
QUICK = Sizes(messages=10_000, events=2_000, enron=2_000)


@dataclass
class Corpora:
    """Where the corpora are, and how long each took to write (0.0 when cached)."""

    out: Path
    sizes: Sizes
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def contacts(self) -> Path:
        return self.out / "contacts.yaml"

    @property
    def mailbox(self) -> Path:
        return self.out / "mailbox.mbox"

    @property
    def calendar(self) -> Path:
        return self.out / "calendar.ics"

    @property
    def enron(self) -> Path:
        count = self.sizes.enron
        label = f"{count // 1000}k" if count % 1000 == 0 else str(count)
        return self.out / f"enron{label}.mbox"

    @property
    def enron_contacts(self) -> Path:
        return self.out / "enron-contacts.yaml"


def generator_digest(kind: str) -> str:
    """A digest of the code that makes ``kind``: changing that code invalidates its stamp."""
    digest = hashlib.sha256()
    for name in SOURCES[kind]:
        digest.update((BENCH / name).read_bytes())
    return digest.hexdigest()[:16]


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".stamp")


def is_current(path: Path, params: dict[str, object], code: str) -> bool:
    """Whether ``path`` exists and its stamp says it was made with ``params``."""
    stamp = _stamp_path(path)
    if not (path.is_file() and stamp.is_file()):
        return False
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return bool(
        recorded.get("params") == params
        and recorded.get("generator") == code
        and recorded.get("bytes") == path.stat().st_size
    )


def produce(
    path: Path, params: dict[str, object], chunks: Callable[[], Iterable[bytes]], code: str,
    force: bool = False,
) -> float:
    """Write ``path`` from ``chunks`` unless its stamp is current; return the seconds taken.

    ``code`` is the :func:`generator_digest` of the modules that make the file.
    """
    if not force and is_current(path, params, code):
        return 0.0
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    with partial.open("wb", buffering=1 << 20) as handle:
        _write_all(handle, chunks())
    os.replace(partial, path)
    seconds = time.perf_counter() - started
    record = {"params": params, "generator": code, "bytes": path.stat().st_size,
              "seconds": round(seconds, 2)}
    _stamp_path(path).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return seconds


def _write_all(handle: BinaryIO, chunks: Iterable[bytes]) -> None:
    for chunk in chunks:
        handle.write(chunk)


def _encoded(lines: Iterable[str]) -> Iterator[bytes]:
    for line in lines:
        yield line.encode("utf-8")


def _contacts_chunks() -> Iterator[bytes]:
    return _encoded(contacts_lines(build_directory(SEED)))


def _mailbox_chunks(count: int) -> Iterator[bytes]:
    writer = MailboxWriter(random.Random(SEED + 1), build_directory(SEED), count)
    return writer.messages()


def _calendar_chunks(count: int) -> Iterator[bytes]:
    writer = CalendarWriter(random.Random(SEED + 2), build_directory(SEED), count)
    return _encoded(writer.lines())


def generate(
    out: Path = DEFAULT_OUT,
    sizes: Sizes = FULL,
    *,
    only: Iterable[str] = KINDS,
    force: bool = False,
    enron_source: Path = ENRON_SOURCE,
    log: Callable[[str], None] = print,
) -> Corpora:
    """Bring the selected corpora in ``out`` up to date and say where they are."""
    corpora, wanted = Corpora(out, sizes), set(only)
    jobs: list[tuple[str, Path, dict[str, object], Callable[[], Iterable[bytes]]]] = []
    seeded: dict[str, object] = {"seed": SEED}
    if wanted & {"mailbox", "calendar"}:
        jobs.append(("contacts", corpora.contacts, seeded, _contacts_chunks))
    if "mailbox" in wanted:
        params = {**seeded, "messages": sizes.messages}
        jobs.append(("mailbox", corpora.mailbox, params,
                     lambda: _mailbox_chunks(sizes.messages)))
    if "calendar" in wanted:
        params = {**seeded, "events": sizes.events}
        jobs.append(("calendar", corpora.calendar, params,
                     lambda: _calendar_chunks(sizes.events)))
    if "enron" in wanted:
        params = {"source": str(enron_source), "messages": sizes.enron,
                  "files": len(corpus_enron.source_files(enron_source))}
        jobs.append(("enron-contacts", corpora.enron_contacts, {},
                     lambda: [ENRON_CONTACTS.encode()]))
        jobs.append(("enron", corpora.enron, params,
                     lambda: corpus_enron.messages(enron_source, sizes.enron)))
    for name, path, params, chunks in jobs:
        seconds = produce(path, params, chunks, generator_digest(name), force)
        corpora.seconds[name] = seconds
        state = f"wrote in {seconds:.1f} s" if seconds else "up to date"
        log(f"{path}: {path.stat().st_size / 1e6:,.1f} MB, {state}")
    return corpora


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=FULL.messages, metavar="N")
    parser.add_argument("--events", type=int, default=FULL.events, metavar="M")
    parser.add_argument("--enron", type=int, default=FULL.enron, metavar="K")
    parser.add_argument("--quick", action="store_true",
                        help="small corpora (10,000 messages, 2,000 events, 2,000 Enron)")
    parser.add_argument("--only", choices=KINDS, action="append",
                        help="generate only this corpus (repeatable)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--enron-source", type=Path, default=ENRON_SOURCE)
    parser.add_argument("--force", action="store_true", help="rewrite even if up to date")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    sizes = QUICK if args.quick else Sizes(args.messages, args.events, args.enron)
    try:
        generate(args.out, sizes, only=args.only or KINDS, force=args.force,
                 enron_source=args.enron_source)
    except FileNotFoundError as exc:
        print(f"generate.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
