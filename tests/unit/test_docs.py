"""The docs' generated references cover the code: every option of every command and every config key has its
line, and the annotated config.toml has exactly the keys ``Config`` has, each described, at its default.

The references are made by docs/hooks.py when mkdocs builds the site (``make docs``, run by ``make test``
with ``--strict``); these tests read what it generates, without building.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import importlib.util
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, get_type_hints

import pytest

from watui import config as cfg
from watui.cli import build_parser
from watui.core.browser.contract import TABLES

ROOT = Path(__file__).resolve().parents[2]


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("watui_docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


hooks = _hooks()


def _sections(markdown: str, level: str) -> dict[str, str]:
    """The generated Markdown cut at its headings of ``level`` ("##", "###"): heading text -> body."""
    parts = re.split(rf"^{level} `([^`]+)`$", markdown, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    top = build_parser()
    yield "watui", top
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"watui {name}", sub


def _options(parser: argparse.ArgumentParser) -> Iterator[tuple[bool, str]]:
    """(is it a global option, how the page must name it) for each argument a user can give."""
    for group in parser._action_groups:
        for action in group._group_actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            names = action.option_strings or [action.dest]
            for name in names:
                yield group.title == "global options", name


def test_every_command_and_option_has_a_line_in_the_command_reference() -> None:
    page = hooks.commands_reference()
    sections = _sections(page, "###")
    shared = sections["watui"].split("Global options", 1)[1]
    checked = 0
    for name, parser in _commands():
        assert name in sections, f"{name} has no section in the command reference"
        body = sections[name]
        shown = html.unescape(body).replace("\\", "")  # as the page reads once rendered
        assert parser.description and parser.description.replace("\\", "") in shown, f"{name}: its description"
        for is_global, option in _options(parser):
            where = shared if is_global else body
            row = re.search(rf"^\| (`[^|]+`, )*`{re.escape(option)}`(, `[^|]+`)* \|.*\|\s*\S.*\|$", where, re.M)
            assert row, f"{name} {option} has no line in the command reference"
            checked += 1
    assert checked > 40  # every command's options were looked at, not an empty walk


def _config_keys() -> Iterator[tuple[str, str]]:
    """(section, the key as its section's table names it) for every key a user can set, read from the
    dataclasses of watui/config.py."""
    for section, cls in cfg._SECTIONS.items():
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] == Mapping[str, str]:
                yield from ((section, f"{f.name}.{name}") for name in TABLES[f.name])
            elif hints[f.name] == tuple[cfg.WebhookSettings, ...]:
                yield from (
                    (section, f"[[{section}.{f.name}]] {w.name}") for w in dataclasses.fields(cfg.WebhookSettings)
                )
            elif dataclasses.is_dataclass(hints[f.name]):
                yield from ((section, f"{f.name}.{sub}") for sub in _fields(hints[f.name]))
            else:
                yield section, f.name


def test_every_config_key_has_a_described_line_in_the_configuration_reference() -> None:
    sections = _sections(hooks.configuration_reference(), "##")
    keys = list(_config_keys())
    for section, key in keys:
        body = sections.get(f"[{section}]", "")
        row = next(
            (line for line in body.splitlines() if f"`{key}`" in line.removeprefix("| ").split(" | ")[0].split("<br>")),
            None,
        )
        assert row, f"config key {section}.{key} has no line in the configuration reference"
        cells = [cell.strip() for cell in row.strip()[2:-2].split(" | ", 3)]  # the description may hold a |
        assert len(cells) == 4 and all(cells), f"config key {section}.{key}: an empty default, type or description"
    assert len(keys) > 60


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_config_toml_has_exactly_the_keys_of_config_each_described() -> None:
    """The annotated example and the dataclasses agree both ways; commented-out keys count where config.toml
    shows a table by example ([whatsapp.modules], # [[alerts.webhook]])."""
    notes = hooks.read_annotated(ROOT / "config.toml")
    expected: set[str] = set()
    tables = set(cfg._SECTIONS)
    for section, cls in cfg._SECTIONS.items():
        hints = get_type_hints(cls)
        for name in _fields(cls):
            if hints[name] == Mapping[str, str]:
                tables.add(f"{section}.{name}")
            elif hints[name] == tuple[cfg.WebhookSettings, ...]:
                tables.add(f"{section}.{name}")
                expected |= {f"{section}.{name}.{sub}" for sub in _fields(cfg.WebhookSettings)}
            elif dataclasses.is_dataclass(hints[name]):  # a table of its own: [messages.webhook]
                tables.add(f"{section}.{name}")
                expected |= {f"{section}.{name}.{sub}" for sub in _fields(hints[name])}
            else:
                expected.add(f"{section}.{name}")
    examples = {
        dotted
        for dotted in notes.keys
        if dotted.rsplit(".", 1)[0] in tables - set(cfg._SECTIONS) and dotted not in expected
    }
    for dotted in examples:  # "# socket = ..." under [whatsapp.modules]: one of the contract's names
        table, name = dotted.rsplit(".", 1)
        assert name in TABLES[table.split(".")[-1]], f"config.toml: {dotted} is not a name of [{table}]"
    listed = set(notes.keys) - examples
    assert listed - expected == set(), "keys in config.toml that Config does not have"
    assert expected - listed == set(), "keys of Config that config.toml does not show"
    assert set(notes.tables) == tables, "tables of config.toml versus Config's sections"
    real = {dotted for dotted in expected if not notes.keys[dotted].commented}
    assert real == {d for d in expected if not d.startswith("alerts.webhook.")}, "only the webhook is commented out"
    undescribed = [d for d in expected if not notes.description(d) and not notes.description(d.rsplit(".", 1)[0])]
    assert undescribed == [], "keys with no comment in config.toml to describe them"
    undescribed_tables = [t for t in tables - set(cfg._SECTIONS) if not notes.description(t)]
    assert undescribed_tables == []


def test_config_toml_says_the_defaults_of_every_section() -> None:
    shipped = cfg.load_config(ROOT / "config.toml", environ={})
    defaults = cfg.Config()
    for section in cfg._SECTIONS:
        assert getattr(shipped, section) == getattr(defaults, section), section


def test_a_page_without_its_marker_fails_the_build() -> None:
    from mkdocs.exceptions import PluginError

    class Page:
        class file:  # noqa: N801 - the shape of mkdocs' Page.file
            src_uri = "configuration.md"

    built: Any = hooks.on_page_markdown(f"# Configuration\n\n{hooks.CONFIG_MARKER}\n", Page(), None, None)
    assert "`client_id`" in built and hooks.CONFIG_MARKER not in built
    with pytest.raises(PluginError, match="marker"):
        hooks.on_page_markdown("# Configuration\n\nno marker here\n", Page(), None, None)
