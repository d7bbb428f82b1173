"""The contract with WhatsApp Web's page: one table per detection channel, all overridable from config.toml.

Channels, tried in this order (the first that recognises the page decides, ``detection`` names it):

1. **modules** — WhatsApp Web's own state objects, read as maintained public clients (whatsapp-web.js
   1.34, ``src/Client.js`` and ``AuthStore.js``) read them: once ``window.Debug.VERSION`` exists,
   ``window.require(name)`` serves ``WAWebSocketModel.Socket`` (``state``, ``hasSynced``, Backbone events
   ``change:state`` / ``change:hasSynced``, ``takeover()``), ``WAWebConnModel.Conn`` (``ref`` and
   ``change:ref``, ``pushname``, ``wid``) and ``WAWebCmd.Cmd`` (``refreshQR()``, ``logout`` events). The QR
   payload is built as those clients build it: ``ref,staticKey,identityKey,advSecretKey,platform``.
2. **dom** — CSS selectors, when ``window.require`` is missing or throws.
3. **pixels** — when a QR canvas is on screen and no channel yields its payload: the canvas is
   screenshotted and decoded (zxing-cpp) in Python, see :mod:`watui.core.browser`.

Operators fix detection in config.toml (``[whatsapp.modules]``, ``[whatsapp.selectors]``,
``[whatsapp.pixels]``) without a new release; every name is checked when the config loads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from watui.core.models import ConnectionState

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
OUTLINE_JS = r"""
(() => {
  const keep = (name) => name === "id" || name === "class" || name === "role" || name.startsWith("data-")
                         || name.startsWith("aria-");
  const lines = [];
  const walk = (node, depth) => {
    if (lines.length > 4000 || depth > 60) return;
    const attrs = [];
    for (const a of node.attributes || []) {
      if (keep(a.name)) attrs.push(`${a.name}=${JSON.stringify(a.value.slice(0, 80))}`);
    }
    let text = "";
    for (const c of node.childNodes) if (c.nodeType === 3) text += c.textContent;
    text = text.trim().replace(/\s+/g, " ").slice(0, 40);
    lines.push(`${"  ".repeat(depth)}<${node.tagName.toLowerCase()}${attrs.length ? " " + attrs.join(" ") : ""}>`
               + (text ? ` ${JSON.stringify(text)}` : ""));
    for (const child of node.children) walk(child, depth + 1);
  };
  if (document.documentElement) walk(document.documentElement, 0);
  return lines.join("\n");
})()
"""

_OBSERVER_JS = r"""
(() => {
  if (window.__watuiInstalled) return;
  window.__watuiInstalled = true;
  const binding = %(binding)s;
  const sel = %(table)s;
  const order = %(order)s;
  const mods = %(modules)s;
  const pix = %(pixels)s;
  let last = "";
  let scheduled = false;
  let live = null;          // {Socket, Conn, Cmd} once the modules channel is attached
  let modulesError = null;  // why it is not
  // Whether WhatsApp logged this page out: its own logout event (modules); this very page went from the
  // chat list to a QR; or the page started on a stored login, discarded it and shows a QR (what the site
  // does with a login the phone removed while nobody was looking). A QR on a page that started without a
  // login and never was connected is not a logout: the profile held no login.
  let loggedOut = false;
  let sawConnected = false;
  const storedWid = () => {
    try { return localStorage.getItem("last-wid-md") || localStorage.getItem("last-wid"); } catch (e) { return null; }
  };
  const hadLogin = !!storedWid();  // read before the page's own scripts run
  let qr = {ref: null, payload: null, building: null, error: null};

  const text = (s) => {
    try { const e = document.querySelector(s); return e ? e.textContent.trim() : null; } catch (e) { return null; }
  };
  const version = () => {
    try { return window.Debug && window.Debug.VERSION ? String(window.Debug.VERSION) : null; }
    catch (e) { return null; }
  };
  const req = (key) => window.require(mods[key]);

  const attach = () => {
    if (live || !version()) return;
    if (typeof window.require !== "function") { modulesError = "window.require is not a function"; return; }
    try {
      const Socket = req("socket").Socket;
      const Conn = req("conn").Conn;
      const Cmd = req("cmd").Cmd;
      if (!Socket || typeof Socket.on !== "function" || !Conn || typeof Conn.on !== "function") {
        throw new Error(`${mods.socket}.Socket or ${mods.conn}.Conn has no on()`);
      }
      // WhatsApp's events are discrete (no flood to coalesce, unlike DOM mutations): report at once.
      Socket.on("change:state", soon);
      Socket.on("change:hasSynced", soon);
      Conn.on("change:ref", soon);
      if (Cmd && typeof Cmd.on === "function") {
        Cmd.on("logout", onLogout);
        Cmd.on("logout_from_bridge", onLogout);
      }
      live = {Socket, Conn, Cmd};
      modulesError = null;
    } catch (e) {
      live = null;
      modulesError = String((e && e.message) || e);
    }
  };

  // The QR payload as public clients build it; the keys are fixed per page, only the ref rotates.
  const buildQr = async (ref) => {
    const reg = await req("signal_store").waSignalStore.getRegistrationInfo();
    const comp = req("companion_reg");
    const noise = await comp.waNoiseInfo.get();
    const b64 = req("base64").encodeB64;
    const adv = await req("adv_signature").getADVSecretKey();
    return [ref, b64(noise.staticKeyPair.pubKey), b64(reg.identityKeyPair.pubKey), adv, comp.DEVICE_PLATFORM].join(",");
  };
  const qrFor = (ref) => {
    if (!ref) return null;
    if (qr.ref === ref) return qr.payload;
    qr = {ref, payload: null, building: ref, error: null};
    buildQr(ref).then((payload) => { if (qr.ref === ref) { qr.payload = payload; qr.building = null; report(); } })
                .catch((e) => { if (qr.ref === ref) { qr.error = String((e && e.message) || e); report(); } });
    return null;
  };

  const readDom = () => {
    for (const [key, value] of order) {
      try { if (sel[key] && document.querySelector(sel[key])) return {key, state: value}; } catch (e) {}
    }
    return null;
  };

  const bigCanvas = () => {
    let best = null, area = 0;
    let list = [];
    try { list = document.querySelectorAll(pix.qr_canvas); } catch (e) { return null; }
    for (const c of list) {
      const r = c.getBoundingClientRect();
      if (r.width * r.height > area) { best = c; area = r.width * r.height; }
    }
    return area >= 64 ? best : null;
  };
  // A cheap signature of the canvas's pixels: changes when the QR is redrawn, even in place.
  const canvasSig = (c) => {
    try {
      const url = c.toDataURL();
      let h = 0;
      for (let i = 0; i < url.length; i += 7) h = (h * 31 + url.charCodeAt(i)) | 0;
      return `${c.width}x${c.height}:${url.length}:${h}`;
    } catch (e) { return `${c.width}x${c.height}:tainted`; }
  };

  const read = () => {
    attach();
    let channel = null, waState = null, state = null, payload = null, account = null;
    if (live) {
      try { waState = live.Socket.state; } catch (e) { waState = null; }
      if (typeof waState === "string" && waState) {
        channel = "modules";
        if (waState === "UNPAIRED") {
          try { payload = qrFor(live.Conn.ref); } catch (e) { payload = null; }
          // The QR and its state arrive together: wait for the payload (it takes a few ms) unless it failed.
          if (payload === null && qr.ref && qr.ref === qr.building && !qr.error) return null;
        }
      }
    }
    if (!channel) {
      const dom = readDom();
      if (dom) {
        channel = "dom";
        state = dom.state;
        if (state === "UNPAIRED") {
          const c = document.querySelector(sel.qr_container);
          payload = c ? (c.getAttribute("data-ref") || null) : null;
        }
      }
    }
    const wid = storedWid();
    const widNumber = wid ? wid.replace(/"/g, "").split(/[:@]/)[0] : null;
    let widId = null;  // the stored value as the profile on disk holds it (a JSON string)
    if (wid) { try { const v = JSON.parse(wid); widId = typeof v === "string" ? v : wid; } catch (e) { widId = wid; } }
    widId = widId ? widId.trim() || null : null;
    const settledIn = waState || state;
    if (settledIn === "CONNECTED" || settledIn === "TIMEOUT" || settledIn === "CONFLICT") {
      if (channel === "modules") {
        let name = null, number = null;
        try {
          name = live.Conn.pushname || null;
          const w = live.Conn.wid;
          number = w ? (w.user || String(w._serialized || w).split(/[:@]/)[0]) : null;
        } catch (e) {}
        account = {name, number: number || widNumber};
      } else {
        account = {name: text(sel.account_name), number: text(sel.account_number) || widNumber};
      }
    }
    let canvas = null;
    const unreadQr = !payload && (channel === null || settledIn === "UNPAIRED");
    if (unreadQr) { const c = bigCanvas(); canvas = c ? canvasSig(c) : null; }
    const asksForQr = settledIn === "UNPAIRED" || settledIn === "UNPAIRED_IDLE" || !!canvas;
    if (settledIn === "CONNECTED") sawConnected = true;
    else if (asksForQr && (sawConnected || (hadLogin && !wid))) loggedOut = true;
    return {channel, waState, state, qr: payload, account, canvas, version: version(), loggedOut, wid: widId};
  };

  const report = () => {
    scheduled = false;
    let now;
    try { now = read(); } catch (e) { now = {channel: null, error: String(e)}; }
    if (now === null) return;  // a report is being completed; it is scheduled again when ready
    const key = JSON.stringify(now);
    if (key === last) return;
    last = key;
    if (typeof window[binding] === "function") window[binding](now).catch(() => {});
  };
  function schedule() { if (!scheduled) { scheduled = true; setTimeout(report, 50); } }
  function soon() { setTimeout(report, 0); }
  function onLogout() { loggedOut = true; soon(); }

  window.__watuiReport = () => { last = ""; report(); };
  window.__watuiAct = (what) => {
    attach();
    if (!live) return false;
    const [obj, method] = what.split(".");
    const target = obj === "socket" ? live.Socket : obj === "cmd" ? live.Cmd : live.Conn;
    if (!target || typeof target[method] !== "function") return false;
    target[method]();
    return true;
  };
  window.__watuiProbe = () => {
    const out = [];
    const add = (channel, probe, matched, value) => {
      out.push({channel, probe, matched, value: value == null ? null : String(value).slice(0, 200)});
    };
    add("modules", "window.Debug.VERSION", !!version(), version());
    add("modules", "window.require", typeof window.require === "function", typeof window.require);
    for (const [key, name] of Object.entries(mods)) {
      let ok = false, value = null;
      try {
        const m = window.require(name);
        ok = m != null;
        value = m == null ? "null" : Object.keys(m).slice(0, 8).join(",");
      } catch (e) { value = String((e && e.message) || e); }
      add("modules", `require('${name}')`, ok, value);
    }
    if (live) {
      try { add("modules", "Socket.state", true, live.Socket.state); }
      catch (e) { add("modules", "Socket.state", false, e); }
      try { add("modules", "Conn.ref", !!live.Conn.ref, live.Conn.ref); }
      catch (e) { add("modules", "Conn.ref", false, e); }
    } else {
      add("modules", "attached", false, modulesError);
    }
    for (const [key, s] of Object.entries(sel)) {
      let n = 0, err = null;
      try { n = document.querySelectorAll(s).length; } catch (e) { err = String(e); }
      add("dom", key, n > 0, err || `${n} match(es) of ${s}`);
    }
    let n = 0;
    try { n = document.querySelectorAll(pix.qr_canvas).length; } catch (e) {}
    const c = bigCanvas();
    add("pixels", "qr_canvas", !!c, `${n} match(es) of ${pix.qr_canvas}`);
    return out;
  };

  const start = () => {
    const what = {subtree: true, childList: true, attributes: true, characterData: true};
    new MutationObserver(schedule).observe(document.documentElement, what);
    schedule();
    // WhatsApp defines Debug.VERSION and its modules some time after the DOM exists; a canvas may be
    // redrawn in place without a mutation. Both are looked at once a second (no report unless changed).
    setInterval(() => { if (!live || last.includes('"canvas":"')) schedule(); }, 1000);
    setTimeout(schedule, 250);
  };
  if (document.documentElement) start(); else document.addEventListener("DOMContentLoaded", start);
})();
"""
