"""The contract with WhatsApp Web's page: one table per detection channel (overridable from config.toml), its scripts.

Channels, tried in this order (the first that recognises the page decides, ``detection`` names it):

1. **modules** — WhatsApp Web's own state objects, read as maintained public clients (whatsapp-web.js
   1.34, ``src/Client.js`` and ``AuthStore.js``) read them: once ``window.Debug.VERSION`` exists,
   ``window.require(name)`` serves ``WAWebSocketModel.Socket`` (``state``, ``hasSynced``, Backbone events
   ``change:state`` / ``change:hasSynced``, ``takeover()``), ``WAWebConnModel.Conn`` (``ref`` and
   ``change:ref``, ``pushname``, ``wid``) and ``WAWebCmd.Cmd`` (``refreshQR()``, ``logout`` events). The QR
   payload is built as those clients build it: ``ref,staticKey,identityKey,advSecretKey,platform``.
2. **dom** — CSS selectors, when ``window.require`` is missing or throws.
3. **pixels** — when a QR canvas is on screen and no channel yields its payload: the canvas is
   screenshotted and decoded (zxing-cpp) in Python, see :mod:`watui.core.browser.driver`.

Operators fix detection in config.toml (``[whatsapp.modules]``, ``[whatsapp.selectors]``,
``[whatsapp.pixels]``) without a new release; every name is checked when the config loads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files

from watui.core.models import Account, ConnectionState

S = ConnectionState

# -- modules: logical name -> the module name window.require() is asked for ------------------------------
DEFAULT_MODULES: dict[str, str] = {
    "socket": "WAWebSocketModel",  # .Socket: state, hasSynced, takeover(), reconnect()
    "conn": "WAWebConnModel",  # .Conn: ref (QR), pushname, wid
    "cmd": "WAWebCmd",  # .Cmd: refreshQR(), logout events
    "signal_store": "WAWebSignalStoreApi",  # .waSignalStore.getRegistrationInfo()
    "companion_reg": "WAWebCompanionRegClientUtils",  # .waNoiseInfo.get(), .DEVICE_PLATFORM
    "adv_signature": "WAWebAdvSignatureApi",  # .getADVSecretKey()
    "base64": "WABase64",  # .encodeB64()
}

# -- dom: CSS selectors --------------------------------------------------------------------------------
DEFAULT_SELECTORS: dict[str, str] = {
    # "WhatsApp is open in another window" dialog, and its "Use here" button.
    "conflict": "div[data-animate-modal-popup='true'][data-modal='conflict']",
    "conflict_use_here": "div[data-animate-modal-popup='true'][data-modal='conflict'] button[data-action='use-here']",
    # Banner shown while the page has lost its connection ("Computer not connected").
    "timeout": "span[data-icon='alert-computer']",
    # The chat list: logged in and connected.
    "connected": "#pane-side",
    # QR expired: the "Click to reload QR code" button inside the QR container.
    "qr_expired": "div[data-ref] > span > button",
    # The login QR: the payload is the container's data-ref attribute.
    "qr": "div[data-ref] canvas",
    "qr_container": "div[data-ref]",
    # After a scan: "Loading your chats" with a progress bar.
    "pairing": "div[data-testid='loading-chats'] progress",
    # The start-up screen.
    "loading": "#startup",
    # The account, readable once connected.
    "account_name": "header [data-testid='account-name']",
    "account_number": "header [data-testid='account-number']",
}

# -- pixels: what to screenshot and decode when no channel yields the QR payload -------------------------
DEFAULT_PIXELS: dict[str, str] = {
    # The QR drawing. The largest visible match is screenshotted.
    "qr_canvas": "canvas",
}

SELECTOR_NAMES: tuple[str, ...] = tuple(DEFAULT_SELECTORS)
CHANNELS: tuple[str, ...] = ("modules", "dom", "pixels")
TABLES: dict[str, dict[str, str]] = {"modules": DEFAULT_MODULES, "selectors": DEFAULT_SELECTORS,
                                     "pixels": DEFAULT_PIXELS}  # fmt: skip

# First match wins: a dialog or banner over the chat list decides the state.
STATE_ORDER: tuple[tuple[str, ConnectionState], ...] = (
    ("conflict", S.CONFLICT),
    ("timeout", S.TIMEOUT),
    ("connected", S.CONNECTED),
    ("qr_expired", S.UNPAIRED_IDLE),
    ("qr", S.UNPAIRED),
    ("pairing", S.PAIRING),
    ("loading", S.OPENING),
)

# WhatsApp's own Socket.state names (whatsapp-web.js's WAState) -> watui's state, and what to tell a person.
WA_STATES: dict[str, tuple[ConnectionState, str]] = {
    "UNLAUNCHED": (S.OPENING, "WhatsApp Web is starting"),
    "OPENING": (S.OPENING, "loading WhatsApp Web"),
    "PAIRING": (S.PAIRING, "QR scanned; loading chats"),
    "UNPAIRED": (S.UNPAIRED, "waiting for the QR to be scanned"),
    "UNPAIRED_IDLE": (S.UNPAIRED_IDLE, "the QR expired"),
    "CONNECTED": (S.CONNECTED, "connected"),
    "TIMEOUT": (S.TIMEOUT, "WhatsApp Web lost its connection; it is retrying"),
    "CONFLICT": (S.CONFLICT, "WhatsApp is open in another window"),
    "DEPRECATED_VERSION": (
        S.BLOCKED,
        "WhatsApp Web refuses this browser version (DEPRECATED_VERSION): update Chromium or "
        "[browser] user_agent, then press i",
    ),
    "PROXYBLOCK": (
        S.BLOCKED,
        "WhatsApp blocked this network or proxy (PROXYBLOCK): use another network or proxy, then press i",
    ),
    "TOS_BLOCK": (
        S.BLOCKED,
        "WhatsApp blocked this account for breaking its terms of service (TOS_BLOCK): see the phone; "
        "watui will not retry",
    ),
    "SMB_TOS_BLOCK": (
        S.BLOCKED,
        "WhatsApp blocked this business account for breaking its terms of service (SMB_TOS_BLOCK): "
        "see the phone; watui will not retry",
    ),
}

# Verbs the driver performs through the modules channel first, else by clicking the dom selector.
MODULE_ACTIONS: dict[str, str] = {
    "conflict_use_here": "socket.takeover",
    "qr_expired": "cmd.refreshQR",
}

_MODULE_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$.]*$")


def _script(name: str) -> str:
    """One of the page scripts shipped beside this module (observer.js, outline.js)."""
    return files("watui.core.browser").joinpath(name).read_text(encoding="utf-8")


def map_state(wa_state: str) -> tuple[ConnectionState, str]:
    """watui's state and message for one of WhatsApp's Socket states (an unknown name: OPENING)."""
    return WA_STATES.get(wa_state, (S.OPENING, f"WhatsApp Web reports state {wa_state}"))


def check_table(table: str, values: Mapping[str, str]) -> str | None:
    """Why ``values`` is not a valid override of ``table`` (None when it is), naming the bad key."""
    defaults = TABLES[table]
    for name, value in values.items():
        if name not in defaults:
            return f"unknown {table} entry '{name}' (expected one of: {', '.join(defaults)})"
        if not isinstance(value, str) or not value.strip():
            return f"{table} entry '{name}' must be a non-empty string"
        if table == "modules":
            if not _MODULE_NAME.match(value):
                return f"modules entry '{name}' = {value!r} is not a module name"
        else:
            problem = css_problem(value)
            if problem:
                return f"{table} entry '{name}' = {value!r} is not a valid CSS selector ({problem})"
    return None


def css_problem(selector: str) -> str | None:
    """Why ``selector`` is not valid CSS (None when it is), checked with cssselect's parser."""
    import cssselect  # local: only config loading needs it

    try:
        cssselect.parse(selector)
    except cssselect.SelectorError as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def merged(table: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    out = dict(TABLES[table])
    out.update(overrides or {})
    return out


def selectors(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    return merged("selectors", overrides)


def observer_script(
    binding: str,
    table: Mapping[str, str],
    modules: Mapping[str, str] | None = None,
    pixels: Mapping[str, str] | None = None,
) -> str:
    """JavaScript injected in every page (again after each navigation): reports the page to Python.

    It calls ``window[binding](report)`` whenever the report changes: on WhatsApp's own events (modules
    channel), on DOM mutations (dom channel) and once a second while a canvas might be an unread QR.
    ``report`` = ``{channel, waState, state, qr, account, canvas, version, loggedOut, wid}`` where
    ``channel`` is the channel that recognised the page (null: none did), ``waState`` WhatsApp's own state
    name (modules), ``state`` the dom channel's conclusion, ``loggedOut`` whether WhatsApp logged this page
    out (its logout event, this page going from connected to a QR, or discarding the login it started on for
    a QR) and ``wid`` the linked account as stored. ``window.__watuiProbe()`` returns every probe's result.
    """
    order = [[key, state.value] for key, state in STATE_ORDER]
    return _OBSERVER_JS % {
        "binding": json.dumps(binding),
        "table": json.dumps(dict(table)),
        "order": json.dumps(order),
        "modules": json.dumps(merged("modules", modules)),
        "pixels": json.dumps(merged("pixels", pixels)),
    }


# An outline of the DOM for the evidence folder: structure and attributes, text cut to 40 characters a node.
OUTLINE_JS = _script("outline.js")

# The injected page script; observer_script fills its %(name)s slots with Python's % formatting.
_OBSERVER_JS = _script("observer.js")


@dataclass(frozen=True)
class PageReport:
    """What the page says about itself, and which channel (``detection``) recognised it (None: none)."""

    state: ConnectionState
    qr: str | None = None
    account: Account | None = None
    detection: str | None = None
    message: str = ""
    # WhatsApp logged this page out (its own logout, not a profile that held no login): a QR is a logout only then.
    logged_out: bool = False
    wid: str | None = None  # the linked account as the page stores it (``last-wid-md``), e.g. "15550001234:1@c.us"
