"""watui's settings: frozen dataclasses read from TOML and ``WATUI_*`` environment variables.

Lookup order: ``--config PATH``, else ``./config.toml``, else ``$XDG_CONFIG_HOME/watui/config.toml``,
else built-in defaults. ``WATUI_SECTION__KEY=value`` overrides one key (the value is read as a TOML
value when it parses as one, else as a string). Every mistake is one :class:`ConfigError` that names
the file, the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

ENV_PREFIX = "WATUI_"
# client_id names files (session-<id>, .watui-<id>.owner, quarantine copies with a timestamp): well under
# the 255 bytes most filesystems allow in one name.
MAX_CLIENT_ID = 100
# A desktop Chrome's user agent, as public clients send: headless Chromium says "HeadlessChrome", which
# WhatsApp Web answers with an "update your browser" page.
DESKTOP_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
SIM_PAGES = ("modules", "dom", "canvas", "unknown")


class ConfigError(Exception):
    """A user mistake in the configuration: printed as one line, exit status 2."""


@dataclass(frozen=True)
class SessionSettings:
    client_id: str = "whatsapp-automation-pro"
    session_path: str = "./whatsapp-session-pro"
    max_session_size_mb: int = 200
    session_timeout_ms: int = 45000
    browser_timeout_ms: int = 30000
    max_init_retries: int = 2
    health_check_interval_ms: int = 30000
    heartbeat_timeout_ms: int = 10000
    quarantine_keep: int = 3
    # This session folder is used from one machine at a time: a SingletonLock written under another
    # hostname (a restarted container) is stale when no process here uses the profile.
    single_host: bool = True


@dataclass(frozen=True)
class ReconnectSettings:
    initial_delay_ms: int = 1000
    max_delay_ms: int = 60000
    multiplier: float = 2.0
    jitter_ms: int = 500
    max_attempts: int = 10


@dataclass(frozen=True)
class BrowserSettings:
    executable: str = ""
    headless: bool = True
    extra_args: tuple[str, ...] = ()
    user_agent: str = DESKTOP_USER_AGENT  # "" keeps Chromium's own
    disk_cache_mb: int = 1  # Chromium's HTTP cache (--disk-cache-size): the login does not need it
    # Browser recycling: close and reopen Chromium on the same profile when CONNECTED and quiet (0 = off).
    recycle_above_mb: int = 0
    recycle_every_h: float = 0.0
    recycle_min_interval_s: int = 3600


@dataclass(frozen=True)
class WhatsAppSettings:
    url: str = "https://web.whatsapp.com"
    takeover_on_conflict: bool = False
    takeover_delay_ms: int = 5000
    qr_max_retries: int = 3
    selectors: Mapping[str, str] = field(default_factory=dict)
    modules: Mapping[str, str] = field(default_factory=dict)
    pixels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 3000
    token: str = ""


@dataclass(frozen=True)
class DemoSettings:
    qr_rotate_ms: int = 20000
    qr_rotations: int = 6
    state_dir: str = ""
    page: str = "modules"
    # "HOST:PORT" of a simulator already running (`watui sim --port PORT`): --demo uses it instead of its own.
    sim: str = ""


@dataclass(frozen=True)
class SnapshotSettings:
    """Age-encrypted login snapshots (watui/core/snapshots/). No key configured: snapshots are off."""

    recipients: tuple[str, ...] = ()
    identity: str = ""
    dir: str = ""
    keep: int = 7
    every_h: float = 24.0
    settle_s: float = 120.0


@dataclass(frozen=True)
class KeySettings:
    """The dashboard's keys, by binding id. A value may list several keys: "r,f5"."""

    initialize: str = "i"
    reconnect: str = "r"
    clean: str = "k"
    clear: str = "c"
    scan: str = "s"
    log: str = "l"
    history: str = "h"
    help: str = "question_mark"
    quit: str = "q"
    backup: str = "b"
    messages: str = "m"

    def remapped(self) -> dict[str, str]:
        """Only the keys changed from the defaults: what the dashboard's keymap needs."""
        default = KeySettings()
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != getattr(default, f.name)
        }


@dataclass(frozen=True)
class HistorySettings:
    """The journal (watui/core/journal/): one SQLite file per session beside its owner lock."""

    enabled: bool = True
    keep_days: int = 30
    sample_interval_s: int = 60


@dataclass(frozen=True)
class WebhookSettings:
    """One ``[[alerts.webhook]]``: a JSON POST signed with ``secret`` (HMAC-SHA256)."""

    url: str = ""
    secret: str = ""


@dataclass(frozen=True)
class AlertSettings:
    """Alert rules' thresholds and their delivery channels (watui/core/journal/alerts.py, channels.py)."""

    enabled: bool = True
    down_after_s: float = 60.0
    repeat_every_s: float = 3600.0
    memory_mb: int = 1500
    max_restarts_per_hour: int = 5
    outbox_stuck_s: float = 300.0  # messaging: a message waits this long while CONNECTED, nothing sent; 0: off
    webhook_backlog_s: float = 600.0  # messaging: the webhook's oldest undelivered is older; 0: off
    silent_h: float = 0.0  # messaging (opt-in): CONNECTED and nothing received for this many hours; 0: off
    command: tuple[str, ...] = ()
    command_timeout_s: float = 10.0
    webhook_timeout_s: float = 10.0
    apprise: tuple[str, ...] = ()
    webhook: tuple[WebhookSettings, ...] = ()


WEBHOOK_EVENTS = ("message", "ack")


@dataclass(frozen=True)
class MessageWebhookSettings:
    """``[messages.webhook]``: incoming messages (and acks) POSTed to ``url``, signed with ``secret``
    (watui/core/messages/webhook.py). ``url`` empty: off."""

    url: str = ""
    secret: str = ""
    events: tuple[str, ...] = WEBHOOK_EVENTS
    bodies: bool = True  # false: only the metadata (id, chat, sender, time, type, size), never the text
    timeout_s: float = 10.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 300.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True)
class MessagesSettings:
    """The outbox and inbox (watui/core/messages/): sending paced so WhatsApp does not take it for spam."""

    ttl_s: float = 3600.0  # a message not sent within this fails with "expired"
    # 20 a minute, one every 3 s on average: a person's pace. Accounts that send in bursts get banned.
    max_per_minute: float = 20.0
    min_gap_per_chat_s: float = 2.0
    keep_days: int = 30  # sent, failed and incoming messages older than this are removed
    max_queued: int = 1000  # a send beyond this many waiting messages is refused
    webhook: MessageWebhookSettings = field(default_factory=MessageWebhookSettings)


@dataclass(frozen=True)
class Config:
    session: SessionSettings = field(default_factory=SessionSettings)
    reconnect: ReconnectSettings = field(default_factory=ReconnectSettings)
    browser: BrowserSettings = field(default_factory=BrowserSettings)
    whatsapp: WhatsAppSettings = field(default_factory=WhatsAppSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    snapshots: SnapshotSettings = field(default_factory=SnapshotSettings)
    messages: MessagesSettings = field(default_factory=MessagesSettings)
    # Where the settings came from (None: built-in defaults) and the folder relative paths start from.
    source: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    # Set by --demo: the simulator's port (and host). Only then are certificate errors ignored.
    sim_port: int | None = None
    sim_host: str = "127.0.0.1"

    @property
    def session_root(self) -> Path:
        """``session_path`` made absolute against the config file's folder."""
        return (self.base_dir / Path(self.session.session_path).expanduser()).resolve()

    @property
    def profile_dir(self) -> Path:
        """The Chromium user-data-dir: ``<session_path>/session-<client_id>`` (LocalAuth's layout)."""
        return self.session_root / f"session-{self.session.client_id}"

    @property
    def demo_mode(self) -> bool:
        return self.sim_port is not None

    def with_sim(self, port: int, host: str = "127.0.0.1") -> Config:
        return replace(self, sim_port=port, sim_host=host)

    @property
    def sim_target(self) -> str:
        """``host:port`` of the simulator, as Chromium's host-resolver rule writes it."""
        host = f"[{self.sim_host}]" if ":" in self.sim_host else self.sim_host
        return f"{host}:{self.sim_port}"

    @property
    def demo_state_dir(self) -> Path:
        """Where --demo keeps its own session and the simulator's logins (never the real session)."""
        if self.demo.state_dir:
            return (self.base_dir / Path(self.demo.state_dir).expanduser()).resolve()
        xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(xdg) / "watui" / "demo"

    def for_demo(self) -> Config:
        """The same settings on the demo's own session folder: what --demo means for every command."""
        return replace(self, session=replace(self.session, session_path=str(self.demo_state_dir / "session")))


def parse_sim_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) of a running simulator as (host, port); ValueError saying
    what was expected."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f'must be HOST:PORT of a running `watui sim` (e.g. "127.0.0.1:8443"), got {text!r}')
    return host, int(port_text)


# (minimum, maximum) for numeric keys; None means open-ended.
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "session.max_session_size_mb": (1, 1_000_000),
    "session.session_timeout_ms": (1000, 3_600_000),
    "session.browser_timeout_ms": (1000, 3_600_000),
    "session.max_init_retries": (0, 20),
    "session.health_check_interval_ms": (500, 86_400_000),
    "session.heartbeat_timeout_ms": (1000, 3_600_000),
    "session.quarantine_keep": (1, 100),
    "reconnect.initial_delay_ms": (0, 3_600_000),
    "reconnect.max_delay_ms": (0, 86_400_000),
    "reconnect.multiplier": (1.0, 10.0),
    "reconnect.jitter_ms": (0, 3_600_000),
    "reconnect.max_attempts": (0, 1_000_000),
    "whatsapp.takeover_delay_ms": (0, 3_600_000),
    "whatsapp.qr_max_retries": (0, 100),
    "api.port": (0, 65535),  # 0: a free port, said at start
    "browser.disk_cache_mb": (0, 10_000),
    "demo.qr_rotate_ms": (200, 3_600_000),
    "demo.qr_rotations": (1, 1000),
    "history.keep_days": (1, 3650),
    "history.sample_interval_s": (5, 3600),
    "alerts.down_after_s": (0, 86_400),
    "alerts.repeat_every_s": (0, 30 * 86_400),
    "alerts.memory_mb": (0, 1_000_000),
    "alerts.max_restarts_per_hour": (1, 10_000),
    "alerts.outbox_stuck_s": (0, 7 * 86_400),
    "alerts.webhook_backlog_s": (0, 30 * 86_400),
    "alerts.silent_h": (0, 8760),
    "alerts.command_timeout_s": (0.1, 3600),
    "alerts.webhook_timeout_s": (0.1, 600),
    "browser.recycle_above_mb": (0, 1_000_000),
    "browser.recycle_every_h": (0, 8760),
    "browser.recycle_min_interval_s": (0, 31_536_000),
    "snapshots.keep": (1, 1000),
    "snapshots.every_h": (0.01, 8760),
    "snapshots.settle_s": (0, 86_400),
    "messages.ttl_s": (10, 30 * 86_400),
    "messages.max_per_minute": (0.1, 600),
    "messages.min_gap_per_chat_s": (0, 3600),
    "messages.keep_days": (1, 3650),
    "messages.max_queued": (1, 1_000_000),
    "messages.webhook.timeout_s": (0.1, 600),
    "messages.webhook.backoff_initial_s": (0.01, 3600),
    "messages.webhook.backoff_max_s": (0.01, 86_400),
}

_SECTIONS: dict[str, type] = {
    "session": SessionSettings,
    "reconnect": ReconnectSettings,
    "browser": BrowserSettings,
    "whatsapp": WhatsAppSettings,
    "api": ApiSettings,
    "demo": DemoSettings,
    "keys": KeySettings,
    "history": HistorySettings,
    "alerts": AlertSettings,
    "snapshots": SnapshotSettings,
    "messages": MessagesSettings,
}


def default_config_paths() -> list[Path]:
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path.cwd() / "config.toml", Path(xdg) / "watui" / "config.toml"]


def find_config_file(explicit: str | os.PathLike[str] | None) -> Path | None:
    if explicit is not None:
        path = Path(explicit).expanduser()
        try:
            found = path.is_file()
        except OSError as exc:  # e.g. a name too long for the filesystem
            raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
        if not found:
            raise ConfigError(f"{path}: config file not found (given with --config)")
        return path
    for candidate in default_config_paths():
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Find, read and check the configuration; raise :class:`ConfigError` on any mistake."""
    path = find_config_file(explicit)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    origin = str(path) if path is not None else "built-in defaults"
    config = build_config(raw, origin)
    config = apply_env(config, environ if environ is not None else os.environ)
    base = path.parent.resolve() if path is not None else Path.cwd()
    return replace(config, source=path, base_dir=base)


def build_config(raw: Mapping[str, Any], origin: str) -> Config:
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{origin}: unknown section [{name}] (expected one of: {', '.join(_SECTIONS)})")
        if not isinstance(value, Mapping):
            raise ConfigError(f"{origin}: [{name}] must be a table")
        sections[name] = _build_section(name, value, origin)
    return Config(**sections)


def _build_section(name: str, table: Mapping[str, Any], origin: str) -> Any:
    cls = _SECTIONS[name]
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{origin}: unknown key '{name}.{key}' (expected one of: {', '.join(sorted(known))})")
        values[key] = _check_value(f"{name}.{key}", value, hints[key], origin)
    return cls(**values)


def _check_value(dotted: str, value: Any, hint: Any, origin: str) -> Any:
    where = f"{origin}: key '{dotted}'"
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int or hint is float:
        ok = isinstance(value, int | float) if hint is float else isinstance(value, int)
        if isinstance(value, bool) or not ok:
            kind = "a number" if hint is float else "a whole number"
            raise ConfigError(f"{where} must be {kind}, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        low, high = _RANGES.get(dotted, (None, None))
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{where} must be between {low} and {high}, got {value!r}")
        return float(value) if hint is float else value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        if "\x00" in value:  # no file name, URL or key can hold one; os calls would raise ValueError
            raise ConfigError(f"{where} must not contain a NUL character (\\u0000), got {value!r}")
        if dotted == "session.client_id" and len(value) > MAX_CLIENT_ID:
            raise ConfigError(f"{where} must be at most {MAX_CLIENT_ID} characters (it names files), got {len(value)}")
        if dotted == "session.client_id" and not _valid_client_id(value):
            raise ConfigError(f"{where} must be letters, digits, '-' or '_', got {value!r}")
        if dotted == "session.session_path" and not value.strip():
            raise ConfigError(f"{where} must be a folder path, got an empty string")
        if dotted == "demo.sim" and value:
            try:
                parse_sim_address(value)
            except ValueError as exc:
                raise ConfigError(f"{where} {exc}") from None
        if dotted == "demo.page" and value not in SIM_PAGES:
            raise ConfigError(f"{where} must be one of {', '.join(SIM_PAGES)}, got {value!r}")
        if dotted.startswith("keys.") and not _valid_keys(value):
            raise ConfigError(
                f'{where} must be key names separated by commas (e.g. "r", "f5", "ctrl+r"), got {value!r}'
            )
        return value
    if hint == tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, got {value!r}")
        if dotted == "snapshots.recipients":
            for item in value:
                if not item.strip().startswith("age1"):
                    raise ConfigError(f"{where} must list age public keys (age1...), got {item!r}")
        return tuple(value)
    if hint == tuple[WebhookSettings, ...]:
        return _check_webhooks(dotted, value, where)
    if hint is MessageWebhookSettings:
        return _check_message_webhook(dotted, value, origin)
    if hint == Mapping[str, str]:
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where} must be a table of strings, got {value!r}")
        from watui.core.browser.contract import check_table  # local: config stays importable alone

        problem = check_table(dotted.split(".")[-1], value)
        if problem:
            raise ConfigError(f"{where}: {problem}")
        return dict(value)
    raise ConfigError(f"{where}: unsupported type")  # pragma: no cover - a programming error


def _check_webhooks(dotted: str, value: Any, where: str) -> tuple[WebhookSettings, ...]:
    """``[[alerts.webhook]]`` tables: each needs an http(s) ``url``; ``secret`` signs the body."""
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where} must be an array of tables ([[{dotted}]]), got {value!r}")
    hooks = []
    known = {f.name for f in fields(WebhookSettings)}
    for index, item in enumerate(value):
        table = dataclasses.asdict(item) if isinstance(item, WebhookSettings) else item
        at = f"{where}[{index}]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{at} must be a table with url and secret, got {item!r}")
        for key, field_value in table.items():
            if key not in known:
                raise ConfigError(f"{at}: unknown key '{key}' (expected one of: {', '.join(sorted(known))})")
            if not isinstance(field_value, str):
                raise ConfigError(f"{at}: key '{key}' must be a string, got {field_value!r}")
        url = table.get("url", "")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{at}: key 'url' must be an http:// or https:// URL, got {url!r}")
        hooks.append(WebhookSettings(url=url, secret=table.get("secret", "")))
    return tuple(hooks)


def _check_message_webhook(dotted: str, value: Any, origin: str) -> MessageWebhookSettings:
    """``[messages.webhook]``: each key checked as a top-level one is, then what they must say together."""
    if isinstance(value, MessageWebhookSettings):  # re-checked after an environment override
        value = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(value).items()}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{origin}: [{dotted}] must be a table, got {value!r}")
    hints = get_type_hints(MessageWebhookSettings)
    known = {f.name for f in fields(MessageWebhookSettings)}
    values: dict[str, Any] = {}
    for key, item in value.items():
        if key not in known:
            raise ConfigError(f"{origin}: unknown key '{dotted}.{key}' (expected one of: {', '.join(sorted(known))})")
        values[key] = _check_value(f"{dotted}.{key}", item, hints[key], origin)
    hook = MessageWebhookSettings(**values)
    where = f"{origin}: key '{dotted}"
    if hook.url and not hook.url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.url' must be an http:// or https:// URL (or empty: off), got {hook.url!r}")
    if hook.url and not hook.secret:
        raise ConfigError(
            f"{where}.secret' must be set when url is (it signs every delivery, so the receiver can tell that "
            "watui sent it): a long random string, e.g. from `openssl rand -hex 32`"
        )
    unknown = [e for e in hook.events if e not in WEBHOOK_EVENTS]
    if unknown or len(set(hook.events)) != len(hook.events):
        raise ConfigError(
            f"{where}.events' must list each of {', '.join(map(repr, WEBHOOK_EVENTS))} at most once, "
            f"got {list(hook.events)!r}"
        )
    if hook.backoff_initial_s > hook.backoff_max_s:
        raise ConfigError(
            f"{where}.backoff_initial_s' must be at most backoff_max_s ({hook.backoff_max_s:g}), "
            f"got {hook.backoff_initial_s:g}"
        )
    return hook


def _valid_keys(value: str) -> bool:
    names = value.split(",")
    return all(name and name == name.strip() and " " not in name and name != "escape" for name in names)


def _valid_client_id(value: str) -> bool:
    return bool(value) and all(c.isalnum() or c in "-_" for c in value)


def apply_env(config: Config, environ: Mapping[str, str]) -> Config:
    """Apply ``WATUI_SECTION__KEY`` (and ``WATUI_WHATSAPP__SELECTORS__NAME``) overrides."""
    for var, text in sorted(environ.items()):
        if not var.startswith(ENV_PREFIX) or "__" not in var:
            continue
        parts = [p.lower() for p in var[len(ENV_PREFIX) :].split("__")]
        origin = f"environment variable {var}"
        section = parts[0]
        if section not in _SECTIONS:
            raise ConfigError(f"{origin}: unknown section '{section}' (expected one of: {', '.join(_SECTIONS)})")
        current = getattr(config, section)
        hints = get_type_hints(type(current))
        is_text = len(parts) == 2 and hints.get(parts[1]) is str
        value = text if is_text else _parse_env_value(text)
        if len(parts) == 3 and section == "messages" and parts[1] == "webhook":
            hook = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(current.webhook).items()}
            hints = get_type_hints(MessageWebhookSettings)
            hook[parts[2]] = text if hints.get(parts[2]) is str else _parse_env_value(text)
            new_section = _build_section(section, {**_section_dict(current), "webhook": hook}, origin)
        elif len(parts) == 3 and section == "whatsapp" and parts[1] in ("selectors", "modules", "pixels"):
            table = dict(getattr(current, parts[1]))
            table[parts[2]] = text
            new_section = _build_section(section, {**_section_dict(current), parts[1]: table}, origin)
        elif len(parts) == 2:
            new_section = _build_section(section, {**_section_dict(current), parts[1]: value}, origin)
        else:
            raise ConfigError(f"{origin}: expected WATUI_SECTION__KEY")
        config = replace(config, **{section: new_section})
    return config


def _section_dict(section: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def _parse_env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
