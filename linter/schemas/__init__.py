"""JSON Schemas for the files people write: rules, lexicons, contacts and configuration.

Four schemas (JSON Schema draft 2020-12) ship inside the package:

``rule``
    a rule file, ``rules/<pack>/<ID>-<name>.yaml``
``lexicon``
    a lexicon file, ``rules/<pack>/lexicons/<name>.yaml``
``contacts``
    the contact directory, ``contacts.yaml``
``config``
    the configuration, ``clientline.yaml``

Every property has a title, a description and examples, so an editor with a YAML
language server (VS Code's Red Hat YAML extension, Neovim's yamlls, JetBrains IDEs)
completes keys, explains them on hover and underlines mistakes as you type. The
loaders remain the authority (they also check what a schema cannot: that a lexicon
exists, that a regular expression compiles, that a condition names real selections);
the schemas catch the typos early.

Print a schema with ``clientline rules schema [rule|lexicon|contacts|config]`` and save
it beside your rules::

    clientline rules schema rule > .schemas/clientline-rule.json
    clientline rules schema lexicon > .schemas/clientline-lexicon.json
    clientline rules schema contacts > .schemas/clientline-contacts.json
    clientline rules schema config > .schemas/clientline-config.json

Then either put a modeline at the top of a file (the path is relative to the file)::

    # yaml-language-server: $schema=../.schemas/clientline-rule.json
    id: CL201
    ...

or map file patterns to schemas once, in VS Code's ``settings.json``::

    "yaml.schemas": {
        ".schemas/clientline-rule.json": ["rules/*/CL*.yaml", "my-rules/*.yaml"],
        ".schemas/clientline-lexicon.json": ["**/lexicons/*.yaml"],
        ".schemas/clientline-contacts.json": ["contacts.yaml"],
        ".schemas/clientline-config.json": ["clientline.yaml", ".clientline.yaml"]
    }

From Python::

    from linter import schemas
    schemas.names()          # ('rule', 'lexicon', 'contacts', 'config')
    schemas.load("rule")     # the schema as a dict
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

NAMES = ("rule", "lexicon", "contacts", "config")


def names() -> tuple[str, ...]:
    """The schemas that ship with clientline, in the order people meet them."""
    return NAMES


def text(name: str) -> str:
    """One schema's JSON text, exactly as shipped."""
    if name not in NAMES:
        raise KeyError(f"no schema `{name}`; there are {', '.join(NAMES)}")
    return resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    """One schema as a dict (``name`` is one of :func:`names`)."""
    schema: dict[str, Any] = json.loads(text(name))
    return schema
