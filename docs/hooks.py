"""The reference parts of the docs, generated when mkdocs builds the site, so they cannot drift.

A mkdocs hook (``hooks:`` in mkdocs.yml): ``commands.md`` and ``configuration.md`` each hold a marker
comment, replaced in the built page by
- the command reference, read from watui's own argument parser (``watui.cli.build_parser``), and
- the configuration reference, read from the ``Config`` dataclasses of ``watui/config.py`` (every key,
  its default, what it accepts) with each key's description taken from the comments of the annotated
  ``config.toml`` at the top of the repository.

Nothing generated is written to the repository: the pages on disk keep only the hand-written text.
``tests/test_docs.py`` checks that every parser option and every config key has its line here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

ROOT = Path(__file__).resolve().parent.parent
CONFIG_TOML = ROOT / "config.toml"
COMMANDS_MARKER = "<!-- watui-docs: command reference, generated from watui.cli.build_parser -->"
CONFIG_MARKER = "<!-- watui-docs: configuration reference, generated from watui/config.py and config.toml -->"
GLOBAL_GROUP = "global options"
USAGE_WIDTH = 100
# The page contract's tables are overridden one name at a time: ``[whatsapp.selectors] connected = ...``.
CONTRACT_TABLES = ("modules", "selectors", "pixels")
CONTRACT_LINK = "connection-states.md#the-page-contract"


# -- the annotated config.toml -------------------------------------------------------------------------


@dataclass
class AnnotatedKey:
    """One key of config.toml: its dotted name, its description (the comment block above it, shared by the
    keys that follow it without one of their own) and whether the key itself is commented out."""

    dotted: str
    block: int
    commented: bool
    line: int


@dataclass
class Annotated:
    keys: dict[str, AnnotatedKey] = field(default_factory=dict)
    # Every table header ("[session]", "[whatsapp.modules]", "# [[alerts.webhook]]"): its block and line.
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)
    blocks: list[str] = field(default_factory=list)

    def description(self, dotted: str) -> str:
        if dotted in self.keys:
            return self.blocks[self.keys[dotted].block]
        return self.blocks[self.tables[dotted][0]] if dotted in self.tables else ""

    def line(self, dotted: str) -> int:
        """Where config.toml has the key or table (past the end when it has neither)."""
        if dotted in self.keys:
            return self.keys[dotted].line
        return self.tables[dotted][1] if dotted in self.tables else 1 << 30


_HEADER = re.compile(r"^\[\[?\s*([A-Za-z0-9_.]+)\s*\]\]?$")
_KEY = re.compile(r"^([A-Za-z0-9_]+)\s*=")


def read_annotated(path: Path = CONFIG_TOML) -> Annotated:
    """Read config.toml as a person does: a comment block describes the key (or table) right under it.

    A commented-out header (``# [[alerts.webhook]]``) opens a table shown as an example; a commented-out key
    counts as a key only inside such a table or a page-contract table, elsewhere it is part of the text
    (``# apprise = ["tgram://..."]`` shows a value)."""
    out = Annotated(blocks=[""])
    section = ""
    example_table = False
    lines: list[str] = []
    block = 0  # the block keys attach to; 0 is the empty one
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        commented = line.startswith("#")
        body = line.lstrip("#").strip() if commented else line
        header = _HEADER.match(body)
        key = _KEY.match(body)
        contract = section.split(".")[-1] in CONTRACT_TABLES and section.startswith("whatsapp.")
        if not line:
            lines, block = [], 0
        elif header:
            section, example_table = header.group(1), commented
            out.tables[section] = (_close(out, lines) if lines else 0, number)
            lines, block = [], 0
        elif key and (not commented or example_table or contract):
            if lines:
                block, lines = _close(out, lines), []
            dotted = f"{section}.{key.group(1)}"
            out.keys[dotted] = AnnotatedKey(dotted, block, commented, number)
        elif commented:
            lines.append(body)
    return out


def _close(out: Annotated, lines: list[str]) -> int:
    out.blocks.append(" ".join(lines))
    return len(out.blocks) - 1


# -- the configuration reference ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigKey:
    """A key as ``watui/config.py`` knows it."""

    dotted: str  # "session.client_id", "whatsapp.selectors.connected", "alerts.webhook.url"
    shown: str  # how the page names it, under its section's heading: "client_id", "selectors.connected"
    default: str
    accepts: str
    toml: str  # the key or table of config.toml that describes it


def config_keys() -> Iterator[ConfigKey]:
    """Every key of ``Config``, section by section in its order, from the dataclasses themselves."""
    from watui import config as cfg
    from watui.core.browser.contract import TABLES

    defaults = cfg.Config()
    for section, cls in cfg._SECTIONS.items():
        hints = get_type_hints(cls)
        current = getattr(defaults, section)
        for f in dataclasses.fields(cls):
            dotted = f"{section}.{f.name}"
            hint = hints[f.name]
            if hint == Mapping[str, str]:
                for name, value in TABLES[f.name].items():
                    yield ConfigKey(f"{dotted}.{name}", f"{f.name}.{name}", _toml(value), "a string", dotted)
            elif hint == tuple[cfg.WebhookSettings, ...]:
                for sub in dataclasses.fields(cfg.WebhookSettings):
                    yield ConfigKey(
                        f"{dotted}.{sub.name}",
                        f"[[{dotted}]] {sub.name}",
                        "none",
                        "a string" + (" (an http:// or https:// URL)" if sub.name == "url" else ""),
                        dotted,
                    )
            elif dataclasses.is_dataclass(hint):  # a table of its own: [messages.webhook]
                table = getattr(current, f.name)
                for sub, sub_hint in get_type_hints(hint).items():
                    name = f"{dotted}.{sub}"
                    yield ConfigKey(name, f"{f.name}.{sub}", _toml(getattr(table, sub)), _accepts(name, sub_hint), name)
            else:
                yield ConfigKey(dotted, f.name, _toml(getattr(current, f.name)), _accepts(dotted, hint), dotted)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _accepts(dotted: str, hint: Any) -> str:
    from watui import config as cfg

    if hint is bool:
        return "true or false"
    if hint is int or hint is float:
        kind = "a whole number" if hint is int else "a number"
        low, high = cfg._RANGES.get(dotted, (None, None))
        if low is not None and high is not None:
            return f"{kind}, {_number(low)} to {_number(high)}"
        return kind
    if dotted == "demo.page":
        return "one of " + ", ".join(f"`{p}`" for p in cfg.SIM_PAGES)
    if dotted == "messages.webhook.events":
        return "a list of " + ", ".join(f"`{e}`" for e in cfg.WEBHOOK_EVENTS)
    if dotted == "messages.webhook.url":
        return "a string (an http:// or https:// URL, or empty)"
    if hint == tuple[str, ...]:
        return "a list of strings"
    return "a string"


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def cfg_sections() -> list[str]:
    from watui import config as cfg

    return list(cfg._SECTIONS)


def configuration_reference(annotated: Annotated | None = None) -> str:
    """The configuration keys as Markdown: a table per section; keys that config.toml describes with one
    comment share a row."""
    notes = annotated or read_annotated()
    out: list[str] = []
    section = ""
    rows: list[tuple[tuple[str, object], list[ConfigKey]]] = []
    # Section by section as Config has them, keys in config.toml's order (those it lacks at the end).
    order = {name: i for i, name in enumerate(cfg_sections())}
    ranked = sorted(config_keys(), key=lambda k: (order[k.dotted.split(".")[0]], notes.line(k.toml)))
    for key in ranked:
        name = key.dotted.split(".")[0]
        if name != section:
            out += _section_table(section, rows, notes)
            section, rows = name, []
        described = notes.keys.get(key.toml)
        group: tuple[str, object] = ("key", described.block) if described and described.block else ("table", key.toml)
        if rows and rows[-1][0] == group:
            rows[-1][1].append(key)
        else:
            rows.append((group, [key]))
    out += _section_table(section, rows, notes)
    return "\n".join(out) + "\n"


def _section_table(section: str, rows: list[tuple[tuple[str, object], list[ConfigKey]]], notes: Annotated) -> list[str]:
    if not section:
        return []
    out = [f"## `[{section}]`", "", "| key | default | accepts | description |", "|---|---|---|---|"]
    for _, keys in rows:
        names = "<br>".join(f"`{k.shown}`" for k in keys)
        defaults = "<br>".join(f"`{k.default}`" if k.default != "none" else "none" for k in keys)
        kinds = [k.accepts for k in keys]
        accepts = _md(kinds[0]) if len(set(kinds)) == 1 else "<br>".join(_md(kind) for kind in kinds)
        description = _md(notes.description(keys[0].toml))
        if keys[0].toml.split(".")[-1] in CONTRACT_TABLES:
            description += f" (see [the page contract]({CONTRACT_LINK}))"
        out.append(f"| {names} | {_cell(defaults)} | {accepts} | {description} |")
    return out + [""]


def _md(text: str) -> str:
    """Comment text as Markdown: code spans kept as they are; ``&``, ``<``, ``>``, ``*``, ``|`` shown as written."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = (
            parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", r"\*")
        ).replace("|", r"\|")
    return "`".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", r"\|")


# -- the command reference ------------------------------------------------------------------------------


def parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """``("watui", the top-level parser)`` then ``("watui NAME", its sub-parser)`` for every command."""
    from watui.cli import build_parser

    top = build_parser()
    found = [("watui", top)]
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            found += [(f"watui {name}", sub) for name, sub in action.choices.items()]
    return found


def _groups(parser: argparse.ArgumentParser) -> Iterator[tuple[str, list[argparse.Action]]]:
    """The option groups, less the sub-command list and ``-h`` (said once for all)."""
    skip = (argparse._SubParsersAction, argparse._HelpAction)
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if not isinstance(a, skip)]
        if actions:
            yield group.title or "", actions


def _argument(action: argparse.Action) -> str:
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    if action.nargs == 0:
        return ""
    metavar = action.metavar or (action.dest.upper() if action.option_strings else action.dest)
    text = str(metavar)
    return f"[{text}]" if action.nargs == "?" else text


def _names(action: argparse.Action) -> str:
    return ", ".join(f"`{o}`" for o in action.option_strings) if action.option_strings else f"`{action.dest}`"


def _table(actions: list[argparse.Action]) -> list[str]:
    out = ["| option | argument | what it does |", "|---|---|---|"]
    for action in actions:
        argument = _argument(action)
        shown = f"`{argument}`" if argument else ""
        out.append(f"| {_names(action)} | {_cell(shown)} | {_md(action.help or '')} |")
    return out + [""]


def _usage(parser: argparse.ArgumentParser) -> str:
    """The usage line as ``--help`` prints it, at a fixed width whatever the terminal."""
    formatter = argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return textwrap.dedent(formatter.format_help()).strip()


def commands_reference() -> str:
    """Every command and option as Markdown, from the parser watui itself parses with."""
    found = parsers()
    out = ["Every command also takes `-h`, `--help`: the same text in the terminal.", ""]
    globals_done = False
    for name, parser in found:
        out += [f"### `{name}`", ""]
        if parser.description:
            out += [_md(parser.description), ""]
        out += ["```text", _usage(parser), "```", ""]
        own: list[argparse.Action] = []
        shared: list[argparse.Action] = []
        for title, actions in _groups(parser):
            if title != GLOBAL_GROUP:
                own += actions
            elif not globals_done:  # the same in every command: shown once, under the first
                shared, globals_done = actions, True
        if own:
            out += _table(own)
        if shared:
            out += ["Global options, accepted before and after the command:", ""] + _table(shared)
    return "\n".join(out) + "\n"


# -- the mkdocs hook ------------------------------------------------------------------------------------


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    from mkdocs.exceptions import PluginError

    src = page.file.src_uri
    if src == "commands.md":
        marker, text = COMMANDS_MARKER, commands_reference
    elif src == "configuration.md":
        marker, text = CONFIG_MARKER, configuration_reference
    else:
        return markdown
    if marker not in markdown:
        raise PluginError(f"docs/{src}: the marker {marker!r} is missing: the generated reference has no place")
    return markdown.replace(marker, text())
