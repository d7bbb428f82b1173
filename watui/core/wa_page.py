"""The contract with WhatsApp Web's page: ONE table of CSS selectors, one per thing watui looks for.

When WhatsApp changes its page, an operator fixes detection in config.toml (``[whatsapp.selectors]``)
without a new release. The simulator renders exactly these selectors; the real site matched them as
public projects (whatsapp-web.js and others) read it.

The state is decided in the page by the first entry of ``STATE_ORDER`` whose selector matches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from watui.core.models import ConnectionState

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

SELECTOR_NAMES: tuple[str, ...] = tuple(DEFAULT_SELECTORS)

# First match wins: a dialog or banner over the chat list decides the state.
STATE_ORDER: tuple[tuple[str, ConnectionState], ...] = (
    ("conflict", ConnectionState.CONFLICT),
    ("timeout", ConnectionState.TIMEOUT),
    ("connected", ConnectionState.CONNECTED),
    ("qr_expired", ConnectionState.UNPAIRED_IDLE),
    ("qr", ConnectionState.UNPAIRED),
    ("pairing", ConnectionState.PAIRING),
    ("loading", ConnectionState.OPENING),
)


def selectors(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    table = dict(DEFAULT_SELECTORS)
    table.update(overrides or {})
    return table


def observer_script(binding: str, table: Mapping[str, str]) -> str:
    """JavaScript injected in every page: report the state to Python whenever the DOM changes.

    It calls ``window[binding]({state, qr, account})`` only when something changed, so Python
    hears of a change within one animation frame and is never flooded.
    """
    order = [[key, state.value] for key, state in STATE_ORDER]
    return _OBSERVER_JS % {
        "binding": json.dumps(binding),
        "table": json.dumps(dict(table)),
        "order": json.dumps(order),
    }


_OBSERVER_JS = r"""
(() => {
  const binding = %(binding)s;
  const sel = %(table)s;
  const order = %(order)s;
  let last = "";
  let scheduled = false;
  const text = (s) => {
    try { const e = document.querySelector(s); return e ? e.textContent.trim() : null; } catch (e) { return null; }
  };
  const read = () => {
    let state = "OPENING";
    for (const [key, value] of order) {
      try { if (sel[key] && document.querySelector(sel[key])) { state = value; break; } } catch (e) {}
    }
    let qr = null;
    if (state === "UNPAIRED") {
      const c = document.querySelector(sel.qr_container);
      qr = c ? c.getAttribute("data-ref") : null;
    }
    let account = null;
    if (state === "CONNECTED" || state === "TIMEOUT" || state === "CONFLICT") {
      let wid = null;
      try { wid = localStorage.getItem("last-wid-md") || localStorage.getItem("last-wid"); } catch (e) {}
      const number = text(sel.account_number) || (wid ? wid.split(/[:@]/)[0].replace(/"/g, "") : null);
      account = {name: text(sel.account_name), number: number};
    }
    return {state, qr, account};
  };
  const report = () => {
    scheduled = false;
    const now = read();
    const key = JSON.stringify(now);
    if (key === last) return;
    last = key;
    if (typeof window[binding] === "function") window[binding](now).catch(() => {});
  };
  const schedule = () => { if (!scheduled) { scheduled = true; setTimeout(report, 50); } };
  const start = () => {
    const what = {subtree: true, childList: true, attributes: true, characterData: true};
    new MutationObserver(schedule).observe(document.documentElement, what);
    schedule();
  };
  window.__watuiReport = () => { last = ""; report(); };
  if (document.documentElement) start(); else document.addEventListener("DOMContentLoaded", start);
})();
"""
