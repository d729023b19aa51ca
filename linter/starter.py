"""``clientline init [DIR]``: a commented starter practice to edit.

Writes ``clientline.yaml``, ``contacts.yaml`` and a ``rules/`` folder with one example
rule of your own (it passes ``clientline rules test rules``). Existing files are never
overwritten: :func:`write` reports them and leaves them alone.
"""

from __future__ import annotations

from pathlib import Path

CONFIG = """\
# clientline.yaml: what the worker reads, which rules apply, and where the digest goes.
# Every key is explained in `clientline rules schema config`; check it with
# `clientline doctor`.

timezone: Europe/London                 # an IANA name; working hours are in this zone
working_hours: {days: mon-fri, start: "09:00", end: "18:00"}

contacts: contacts.yaml                 # who your clients are
rules: [builtin, ./rules]               # the default pack and your own folder
# disable: [CL120]                      # rules to turn off
# severity: {CL101: error}              # per-rule severity
# lexicons:                             # add or remove words, like Vale vocabularies
#   social: {add: [padel], remove: [party]}

# Where the worker keeps what it has seen and told you (default: your state folder).
# state: ~/.local/state/clientline/state.db

sources:                                # what `clientline run` scans
  - {type: ics, path: calendar.ics}     # an exported calendar
  - {type: mbox, path: mail/Inbox.mbox} # a mailbox file
  # - {type: maildir, path: ~/Maildir}
  # - {type: eml, path: exported-mail/}

digest:
  to: [you@example.com]
  from: clientline@example.com
  at: "07:30"                           # daily, in `timezone`
  transport: file                       # file | smtp
  file: out/digest.html                 # writes out/digest.html and out/digest.txt
  # transport: smtp
  # smtp: {host: smtp.example.com, port: 587, security: starttls,
  #        username: you, password_env: CLIENTLINE_SMTP_PASSWORD}
  send_when_empty: false

schedule: {scan_every: 30m}             # for `clientline daemon`
retention_days: 365                     # forget resolved findings after a year
"""

CONTACTS = """\
# contacts.yaml: who your clients are. Only items with a client in them are checked.
me: [you@example.com]                   # your own addresses: never a client
internal_domains: [example.com]         # colleagues: never a client

clients:
  - name: Dana Ng
    org: Acme Ltd
    emails: [dana@acme.example]
    domains: [acme.example]             # anyone at this domain belongs to Acme
    status: active                      # active | former | prospect
    relationship: friend                # professional | friend
    since: 2021-04-01
    understandings: 2024-02-10          # when you agreed the ground rules (P7)
  # - name: Everyone outside           # audit all outside mail:
  #   domains: ["*"]
"""

RULES_README = """\
# Your own rules

One rule per file, named `<ID>-<name>.yaml`. Use your own prefix for ids (here `MY`),
so they never clash with clientline's `CL` rules. Check them with:

    clientline rules validate rules
    clientline rules test rules --coverage

Every key and modifier is described in docs/rules.md in the clientline repository and
in `clientline rules schema rule`.
"""

EXAMPLE_RULE = """\
id: MY101
name: client-work-at-the-weekend
title: A working meeting with a client at the weekend
severity: info
applies_to: [event]
principles: [P1]
rationale: An example of your own rule; change or delete it.
select:
  client: {participants|client: true}
  weekend: {start|weekday: [sat, sun]}
  agenda: {text|lexicon: business}
condition: client and weekend and agenda
message: "'{item.title}' is work ({agenda}) with {client} at the weekend"
advice: Move it into the working week, or agree that weekend work is billed as such.
tests:
  - name: a review on a Saturday
    event: {title: "Contract review with Dana", attendees: [dana@acme.example],
            start: "2026-03-14T10:00:00+00:00"}
    expect: [MY101]
  - name: the same review on a Thursday
    event: {title: "Contract review with Dana", attendees: [dana@acme.example],
            start: "2026-03-12T10:00:00+00:00"}
    expect: []
"""

RULE_CONTACTS = """\
# The clients this folder's rule tests run against.
me: [sam@studio.example]
clients:
  - {name: Dana Ng, org: Acme Ltd, emails: [dana@acme.example], relationship: friend}
"""

FILES = {
    "clientline.yaml": CONFIG,
    "contacts.yaml": CONTACTS,
    "rules/README.md": RULES_README,
    "rules/MY101-client-work-at-the-weekend.yaml": EXAMPLE_RULE,
    "rules/contacts.yaml": RULE_CONTACTS,
}


def write(folder: Path) -> tuple[list[Path], list[Path]]:
    """Write the starter files; returns (written, left alone because they exist)."""
    written, kept = [], []
    for name, text in FILES.items():
        target = folder / name
        if target.exists():
            kept.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written, kept
