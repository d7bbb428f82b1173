"""The WhatsApp Web simulator as a browser and a person see it: real Chromium, real sockets, real disk."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import Page

from tests.support.messaging_e2e import connected_owner, running_site, wait_until
from tests.support.sim_page import WA_URL, page_state, sim_browser, stored_login, until, wait_state
from watui.sim.logins import STATE_FILE, SimStateError
from watui.sim.server import Simulator

pytestmark = pytest.mark.browser

INDEXEDDB = Path("Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    simulator = Simulator(page="dom", state_dir=tmp_path / "simstate")
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.close()


async def scan_and_connect(sim: Simulator, page: Page) -> None:
    await wait_state(page, "UNPAIRED")
    await sim.scan()
    await wait_state(page, "CONNECTED")


async def control(sim: Simulator, method: str, path: str) -> tuple[int, dict[str, Any]]:
    """One request to the control API over HTTPS, as `curl -k` would make it."""
    async with aiohttp.ClientSession() as http, http.request(method, sim.base_url + path, ssl=False) as resp:
        return resp.status, await resp.json()


async def test_fresh_profile_shows_the_qr_the_control_api_reports(sim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(sim, tmp_path / "profile") as context:
        page = context.pages[0]
        await wait_state(page, "UNPAIRED")
        shown = await page.get_attribute("div[data-ref]", "data-ref")
        status, body = await control(sim, "GET", "/__sim/state")
        assert status == 200
        assert body["state"] == "UNPAIRED"
        assert shown == body["qr"]
        # ref,staticKey,identityKey,advSecretKey,platform: the payload public clients build.
        ref, static_key, identity_key, adv_secret, platform = body["qr"].split(",")
        assert ref.startswith("2@") and 80 <= len(ref) <= 100
        assert [len(k) for k in (static_key, identity_key, adv_secret)] == [44, 44, 44] and platform
        # The canvas carries a real QR code of the same payload: a phone (here zxing) can read it.
        picture = Image.open(io.BytesIO(await page.locator("div[data-ref] canvas").screenshot()))
        decoded = [code.text for code in zxingcpp.read_barcodes(picture)]
        assert decoded == [shown]
        # A probe of the page (curl, a health check) is not a browser page and hides nothing.
        async with aiohttp.ClientSession() as http, http.get(sim.base_url + "/", ssl=False) as resp:
            assert resp.status == 200 and "startup" in await resp.text()
        assert sim.state()["state"] == "UNPAIRED"


async def test_scan_connects_and_stores_the_login_like_the_real_site(sim: Simulator, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    problems: list[str] = []
    async with sim_browser(sim, profile, open_page=False) as context:
        page = context.pages[0]
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        await page.goto(WA_URL)
        await wait_state(page, "UNPAIRED")
        result = await sim.scan()
        assert result["scans"] == 1
        await wait_state(page, "PAIRING")
        assert await page.text_content("div[data-testid='loading-chats']") == "Loading your chats"
        await wait_state(page, "CONNECTED")
        assert await page.text_content("header [data-testid='account-name']") == "Demo Operator"
        assert await page.text_content("header [data-testid='account-number']") == "+15550001234"
        assert await page.locator("#pane-side [role='listitem']").count() >= 3
        login = await stored_login(page)
        assert login["indexeddb"] and login["indexeddb"] == login["localstorage"]
        assert login["wid"] == '"15550001234:1@c.us"'
        state = sim.state()
        assert (state["state"], state["qr"], state["logins"], state["connections"]) == ("CONNECTED", None, 1, 1)
    assert problems == []
    assert (profile / INDEXEDDB).is_dir()
    assert (profile / "Default/Local Storage/leveldb").is_dir()
    await until(lambda: sim.state()["state"] == "NO_PAGE", "the closed browser's page to be forgotten")


async def test_qr_rotates_then_expires_and_reloads(tmp_path: Path) -> None:
    sim = Simulator(page="dom", qr_rotate_ms=300, qr_rotations=3)
    await sim.start()
    try:
        async with sim_browser(sim, tmp_path / "profile", open_page=False) as context:
            page = context.pages[0]
            # Record every payload the page shows, from the first one on.
            await context.add_init_script(
                """window.__refs = [];
                new MutationObserver(() => {
                  const box = document.querySelector("div[data-ref]");
                  const ref = box && box.querySelector("canvas") ? box.getAttribute("data-ref") : null;
                  if (ref && window.__refs[window.__refs.length - 1] !== ref) window.__refs.push(ref);
                }).observe(document, {subtree: true, childList: true, attributes: true});"""
            )
            await page.goto(WA_URL)
            await wait_state(page, "UNPAIRED_IDLE")
            refs: list[str] = await page.evaluate("window.__refs")
            assert len(refs) == 4 and len(set(refs)) == 4  # the first QR, then 3 rotations
            assert len({r.split(",", 1)[1] for r in refs}) == 1  # only the ref rotates, the keys stay
            state = sim.state()
            assert (state["state"], state["qr"], state["qr_rotations"]) == ("UNPAIRED_IDLE", None, 3)
            status, body = await control(sim, "POST", "/__sim/scan")
            assert status == 409 and "no QR" in body["error"]
            assert await page.text_content("div[data-ref] > span > button") == "Click to reload QR code"

            await page.click("div[data-ref] > span > button")
            await wait_state(page, "UNPAIRED")
            fresh = await page.get_attribute("div[data-ref]", "data-ref")
            assert fresh not in refs
            status, body = await control(sim, "POST", "/__sim/scan?qr=" + quote(refs[0], safe=""))
            assert status == 409 and "not shown" in body["error"]
    finally:
        await sim.close()


async def test_restarted_browser_comes_back_connected_without_qr(sim: Simulator, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    async with sim_browser(sim, profile) as context:
        await scan_and_connect(sim, context.pages[0])
    async with sim_browser(sim, profile, open_page=False) as context:
        page = context.pages[0]
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        seen: list[bool] = []
        await page.expose_function("__seen", lambda shown: seen.append(shown))
        await context.add_init_script(
            "new MutationObserver(() => window.__seen(!!document.querySelector('div[data-ref]')))"
            ".observe(document, {subtree: true, childList: true});"
        )
        await page.goto(WA_URL)
        await wait_state(page, "CONNECTED")
        assert True not in seen  # never showed a QR on the way
        assert problems == []
    assert sim.state()["scans"] == 1


async def test_restarted_simulator_with_same_state_dir_keeps_the_login(tmp_path: Path) -> None:
    state_dir = tmp_path / "simstate"
    first = Simulator(page="dom", state_dir=state_dir)
    await first.start()
    port = first.port
    second: Simulator | None = None
    try:
        async with sim_browser(first, tmp_path / "profile") as context:
            page = context.pages[0]
            await scan_and_connect(first, page)
            await first.close()
            await wait_state(page, "TIMEOUT")
            assert await page.locator("#pane-side").count() == 1  # the banner sits over the chat list
            second = Simulator(page="dom", state_dir=state_dir, port=port)
            await second.start()
            await wait_state(page, "CONNECTED")
            assert second.state()["scans"] == 0  # no new scan: the earlier login was accepted
            assert (state_dir / STATE_FILE).is_file()
    finally:
        await first.close()
        if second is not None:
            await second.close()


async def test_simulator_without_state_dir_forgets_logins_on_restart(tmp_path: Path) -> None:
    first = Simulator(page="dom")
    await first.start()
    second: Simulator | None = None
    try:
        async with sim_browser(first, tmp_path / "profile") as context:
            page = context.pages[0]
            await scan_and_connect(first, page)
            await first.close()
            second = Simulator(page="dom", port=first.port)
            await second.start()
            await wait_state(page, "UNPAIRED")  # its login is unknown now: wiped, back to the QR
            assert (await stored_login(page))["indexeddb"] is None
    finally:
        await first.close()
        if second is not None:
            await second.close()


async def test_logout_wipes_the_stored_login_and_shows_the_qr(sim: Simulator, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    async with sim_browser(sim, profile) as context:
        page = context.pages[0]
        await scan_and_connect(sim, page)
        status, body = await control(sim, "POST", "/__sim/logout")
        assert status == 200 and body["revoked"] == 1
        await wait_state(page, "UNPAIRED")
        assert await stored_login(page) == {"indexeddb": None, "localstorage": None, "wid": None}
        assert sim.state()["logins"] == 0
        status, body = await control(sim, "POST", "/__sim/logout")
        assert status == 409 and "nobody is logged in" in body["error"]
    async with sim_browser(sim, profile) as context:
        await wait_state(context.pages[0], "UNPAIRED")


async def test_logout_while_browser_closed_revokes_its_login(sim: Simulator, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    async with sim_browser(sim, profile) as context:
        await scan_and_connect(sim, context.pages[0])
    await until(lambda: sim.state()["state"] == "NO_PAGE", "the closed page to be forgotten")
    assert (await sim.logout())["revoked"] == 1
    async with sim_browser(sim, profile) as context:
        page = context.pages[0]
        await wait_state(page, "UNPAIRED")
        assert (await stored_login(page))["indexeddb"] is None


async def test_drop_shows_the_banner_over_the_chats_then_recovers(sim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(sim, tmp_path / "profile") as context:
        page = context.pages[0]
        await scan_and_connect(sim, page)
        status, body = await control(sim, "POST", "/__sim/drop")
        assert status == 200 and body["dropped"] == 1
        await wait_state(page, "TIMEOUT")
        assert "Computer not connected" in (await page.text_content("#conn-banner") or "")
        assert await page.locator("#pane-side").count() == 1
        await wait_state(page, "CONNECTED")
        assert await page.locator("span[data-icon='alert-computer']").count() == 0
        assert sim.state()["connections"] == 1


async def test_down_refuses_page_loads_and_connections_until_up(sim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(sim, tmp_path / "profile") as context:
        page = context.pages[0]
        await scan_and_connect(sim, page)
        status, body = await control(sim, "POST", "/__sim/down")
        assert status == 200 and body["down"] is True
        await wait_state(page, "TIMEOUT")
        other = await context.new_page()
        response = await other.goto(WA_URL)
        assert response is not None and response.status == 503
        await other.close()
        status, body = await control(sim, "GET", "/__sim/state")
        assert (status, body["down"], body["connections"]) == (200, True, 0)
        await control(sim, "POST", "/__sim/up")
        await wait_state(page, "CONNECTED")
        assert sim.state()["down"] is False


async def test_slow_delays_page_loads(sim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(sim, tmp_path / "profile") as context:
        page = context.pages[0]
        await scan_and_connect(sim, page)
        status, body = await control(sim, "POST", "/__sim/slow?ms=1500")
        assert (status, body["slow_ms"]) == (200, 1500)
        reload = asyncio.create_task(page.reload())
        await until(lambda: sim.state()["state"] == "OPENING", "the slowed page load")
        assert not reload.done()
        await reload
        await wait_state(page, "CONNECTED")
        status, body = await control(sim, "GET", "/__sim/slow?ms=0")
        assert (status, body["slow_ms"], sim.state()["slow_ms"]) == (200, 0, 0)


async def test_conflict_waits_for_use_here(sim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(sim, tmp_path / "profile") as context:
        page = context.pages[0]
        await scan_and_connect(sim, page)
        status, _ = await control(sim, "POST", "/__sim/conflict")
        assert status == 200
        await wait_state(page, "CONFLICT")
        dialog = page.locator("div[data-animate-modal-popup='true'][data-modal='conflict']")
        assert "open in another window" in (await dialog.text_content() or "")
        # No retry by itself: still in conflict and unconnected after more than the first retry delay.
        await asyncio.sleep(2.5)
        assert (await page_state(page), sim.state()["connections"]) == ("CONFLICT", 0)
        await page.click("button[data-action='use-here']")
        await wait_state(page, "CONNECTED")
        assert await dialog.count() == 0
        assert sim.state()["state"] == "CONNECTED"


async def test_spki_pin_alone_makes_the_certificate_trusted(sim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(sim, tmp_path / "profile", ignore_https_errors=False) as context:
        await wait_state(context.pages[0], "UNPAIRED")


async def test_control_api_errors_are_json(sim: Simulator) -> None:
    cases = [
        ("POST", "/__sim/scan", 409, "no QR code is shown"),
        ("POST", "/__sim/conflict", 409, "no connected page"),
        ("POST", "/__sim/drop", 409, "no live connection"),
        ("POST", "/__sim/logout", 409, "nobody is logged in"),
        ("POST", "/__sim/slow", 400, "?ms=N"),
        ("POST", "/__sim/slow?ms=soon", 400, "whole number"),
        ("POST", "/__sim/slow?ms=-5", 400, "0-600000"),
        ("GET", "/__sim/scan", 405, "use POST"),
        ("DELETE", "/__sim/slow?ms=1", 405, "Method Not Allowed"),
        ("POST", "/__sim/explode", 404, "no such control"),
        ("POST", "/__sim/page?variant=classic", 400, "modules, dom, canvas, unknown"),
        ("POST", "/__sim/block?reason=BORED", 400, "TOS_BLOCK"),
        ("POST", "/__sim/block?reason=TOS_BLOCK", 409, "no connected page"),
        ("GET", "/__sim/incoming", 405, "use POST"),
        ("GET", "/__sim/ack", 405, "use POST"),
        ("POST", "/__sim/messages", 405, "use GET"),
        ("DELETE", "/__sim/numbers", 405, "Method Not Allowed"),
    ]
    for method, path, want_status, want_text in cases:
        status, body = await control(sim, method, path)
        assert (status, body["ok"]) == (want_status, False), path
        assert want_text in body["error"], (path, body)
    status, body = await control(sim, "GET", "/__sim/state")
    assert status == 200
    for key in ("state", "qr", "scans", "connections", "logins", "down", "slow_ms", "qr_rotations", "messages"):
        assert key in body
    assert body["state"] == "NO_PAGE"
    status, body = await control(sim, "GET", "/__sim/messages")
    assert (status, body["messages"], body["incoming"], body["acks_frozen"]) == (200, [], [], False)


async def test_headless_chrome_gets_only_an_update_your_browser_page(sim: Simulator) -> None:
    headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0"
    headers = {"User-Agent": headless, "Sec-Fetch-Mode": "navigate"}
    async with aiohttp.ClientSession() as http:
        async with http.get(sim.base_url + "/", ssl=False, headers=headers) as resp:
            text = await resp.text()
        assert "Google Chrome 85 and newer" in text and "app.js" not in text
        assert sim.state()["userAgent"] == headless and sim.state()["pages"] == []
        status, body = await control(sim, "POST", "/__sim/page?variant=unknown")
        assert (status, body["variant"]) == (200, "unknown") and sim.state()["variant"] == "unknown"
        headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36"
        async with http.get(sim.base_url + "/", ssl=False, headers=headers) as resp:
            text = await resp.text()
        assert "Google Chrome 85" not in text and "require" not in text and "<canvas" not in text


def test_corrupt_state_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(SimStateError, match=STATE_FILE):
        Simulator(page="dom", state_dir=tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(f'[demo]\nstate_dir = "{tmp_path}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "watui", "sim", "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and STATE_FILE in done.stderr and "Traceback" not in done.stderr


async def test_watui_sim_prints_how_to_use_it_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watui", "sim", "--port", "0", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Ctrl-C"):
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line, "watui sim ended before printing its usage"
        lines.append(line.decode().rstrip())
    text = "\n".join(lines)
    url = next(word for word in text.split() if word.startswith("https://127.0.0.1:"))
    assert f"curl -k -X POST {url}/__sim/scan" in text
    assert f"curl -k -X POST {url}/__sim/incoming -d" in text and f"curl -k {url}/__sim/messages" in text
    assert f"curl -k -X POST {url}/__sim/groups -d" in text
    assert f"watui --demo --demo-sim {url.removeprefix('https://')}" in text
    assert "--host-resolver-rules=MAP web.whatsapp.com 127.0.0.1:" in text
    async with aiohttp.ClientSession() as http, http.get(url + "/__sim/state", ssl=False) as resp:
        assert json.loads(await resp.text())["state"] == "NO_PAGE"
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0


def test_the_simulator_imports_nothing_from_watuis_core() -> None:
    # It is the fake site: sharing the core's states or errors would let both drift together unseen.
    import ast

    folder = Path(__file__).resolve().parents[2] / "watui" / "sim"
    offenders = []
    for source in folder.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{source.name}: {n}" for n in names if n.startswith("watui.core")]
    assert offenders == []


# -- one login, one tab ---------------------------------------------------------------------------------
async def test_a_second_tab_of_the_login_is_in_conflict_until_use_here(sim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(sim, tmp_path / "profile") as context:
        first = context.pages[0]
        await scan_and_connect(sim, first)
        second = await context.new_page()
        await second.goto(WA_URL)
        await wait_state(second, "CONFLICT")  # the newer tab is told the login is open in another window
        dialog = second.locator("div[data-modal='conflict']")
        assert "open in another window" in (await dialog.text_content() or "")
        assert await page_state(first) == "CONNECTED"
        assert sim.state()["connections"] == 1
        await second.click("button[data-action='use-here']")  # it takes the connection from the first tab
        await wait_state(second, "CONNECTED")
        await wait_state(first, "CONFLICT")
        assert sim.state()["connections"] == 1
        assert sim.state()["scans"] == 1


# -- messaging: the page's own modules, as whatsapp-web.js drives them ------------------------------------
CONTACT = "15550002001"
STRANGER = "15559990000"
# What whatsapp-web.js 1.34.7's sendMessage does with the page's modules (getChat, MsgKey, addAndSendMsgToChat).
SEND_JS = """async ([to, body, id]) => {
  const r = window.require;
  const wid = r("WAWebWidFactory").createWid(to);
  const chat = r("WAWebCollections").Chat.get(wid) || (await r("WAWebFindChatAction").findOrCreateLatestChat(wid)).chat;
  const me = r("WAWebUserPrefsMeUser").getMaybeMePnUser();
  const MsgKey = r("WAWebMsgKey");
  const key = new MsgKey({from: me, to: chat.id, id: id || await MsgKey.newId(), selfDir: "out"});
  const [added, sent] = r("WAWebSendMsgChatAction").addAndSendMsgToChat(chat, {
    id: key, ack: 0, body, from: me, to: chat.id, local: true, self: "out", t: Math.floor(Date.now() / 1000),
    isNewMsg: true, type: "chat", ...r("WAWebGetEphemeralFieldsMsgActionsUtils").getEphemeralFields(chat)});
  await added;
  const result = await sent;
  return {key: key._serialized, id: key.id, result: result.messageSendResult,
          inCollection: r("WAWebCollections").Msg.get(key._serialized) !== undefined};
}"""
ACK_JS = "(key) => { const m = window.require('WAWebCollections').Msg.get(key); return m ? m.ack : null; }"
EXISTS_JS = """async (number) => {
  const r = window.require;
  const found = await r("WAWebQueryExistsJob").queryWidExists(r("WAWebWidFactory").createWid(number + "@c.us"));
  return found ? found.wid._serialized : null;
}"""
# Records, from the page's first script on, the Socket's states, hasSynced and every message added.
RECORD_JS = """window.__seen = [];
const hook = setInterval(() => {
  if (typeof window.require !== "function") return;
  clearInterval(hook);
  const r = window.require;
  r("WAWebSocketModel").Socket.on("change:state", (_s, state) => window.__seen.push("state:" + state));
  r("WAWebSocketModel").Socket.on("change:hasSynced", (_s, synced) => window.__seen.push("hasSynced:" + synced));
  r("WAWebCollections").Msg.on("add", (m) => window.__seen.push("add:" + m.body));
  r("WAWebCollections").Msg.on("change:ack", (m, ack) => window.__seen.push("ack:" + ack));
}, 5);"""


@pytest.fixture
async def msim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """The ``modules`` page, whose messaging modules whatsapp-web.js uses; acks step every 200 ms."""
    simulator = Simulator(page="modules", state_dir=tmp_path / "simstate", ack_step_ms=200)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.close()


async def socket_state(page: Page, state: str, timeout_ms: float = 15000) -> None:
    """Wait until WhatsApp's own ``Socket.state`` (the modules page's) is ``state``."""
    await page.wait_for_function(
        "(want) => typeof window.require === 'function' && window.require('WAWebSocketModel').Socket.state === want",
        arg=state, timeout=timeout_ms,
    )  # fmt: skip


async def modules_connected(sim: Simulator, context: Any) -> Page:
    page: Page = context.pages[0]
    await context.add_init_script(RECORD_JS)
    await page.goto(WA_URL)
    await socket_state(page, "UNPAIRED")
    await sim.scan()
    await socket_state(page, "CONNECTED")
    return page


async def test_a_sent_message_reaches_the_contact_once_and_its_acks_advance(msim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(msim, tmp_path / "profile", open_page=False) as context:
        page = await modules_connected(msim, context)
        sent = await page.evaluate(SEND_JS, [f"{CONTACT}@c.us", "hi", None])
        assert sent["result"] == "OK" and sent["inCollection"]
        assert sent["id"].startswith("3EB0") and sent["key"] == f"true_{CONTACT}@c.us_{sent['id']}"
        status, body = await control(msim, "GET", "/__sim/messages")
        assert status == 200
        assert [(m["id"], m["to"], m["body"]) for m in body["messages"]] == [(sent["id"], f"{CONTACT}@c.us", "hi")]
        # Delivered then read by the contact, by themselves; the page hears each step.
        await page.wait_for_function(f"({ACK_JS})({json.dumps(sent['key'])}) === 3")
        assert msim.messages()["messages"][0]["ack"] == 3
        assert [e for e in await page.evaluate("window.__seen") if e.startswith("ack:")] == ["ack:1", "ack:2", "ack:3"]
        # A resend of the same id (after a crash, say) reaches the contact once.
        again = await page.evaluate(SEND_JS, [f"{CONTACT}@c.us", "hi", sent["id"]])
        assert again["result"] == "OK"
        assert [(m["id"], m["ack"]) for m in msim.messages()["messages"]] == [(sent["id"], 3)]  # not sent anew


async def test_a_message_sent_while_the_tab_is_offline_goes_out_at_its_next_connect(
    msim: Simulator, tmp_path: Path
) -> None:
    async with sim_browser(msim, tmp_path / "profile", open_page=False) as context:
        page = await modules_connected(msim, context)
        await msim.down()
        await socket_state(page, "TIMEOUT")
        # The send is in the chat at once (ack 0, the clock), its result waits for a connection.
        args = json.dumps([f"{CONTACT}@c.us", "later", None])
        await page.evaluate(f"() => {{ window.__send = ({SEND_JS})({args}); }}")
        await page.wait_for_function("window.__seen.includes('add:later')")
        await asyncio.sleep(0.5)
        assert msim.messages()["messages"] == []
        await msim.up()
        sent = await asyncio.wait_for(page.evaluate("window.__send"), 30)
        assert sent["result"] == "OK"
        assert [(m["id"], m["body"]) for m in msim.messages()["messages"]] == [(sent["id"], "later")]


async def test_acks_freeze_and_advance_on_command(msim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(msim, tmp_path / "profile", open_page=False) as context:
        page = await modules_connected(msim, context)
        status, body = await control(msim, "POST", "/__sim/ack?freeze=1")
        assert (status, body["acks_frozen"]) == (200, True)
        sent = await page.evaluate(SEND_JS, [f"{CONTACT}@c.us", "frozen", None])
        await asyncio.sleep(1.0)  # five steps of the ack clock
        assert (await page.evaluate(ACK_JS, sent["key"]), msim.messages()["messages"][0]["ack"]) == (1, 1)
        status, body = await control(msim, "POST", f"/__sim/ack?id={sent['id']}&ack=2")
        assert (status, body["ack"], body["frozen"]) == (200, 2, True)
        await page.wait_for_function(f"({ACK_JS})({json.dumps(sent['key'])}) === 2")
        await asyncio.sleep(0.6)
        assert await page.evaluate(ACK_JS, sent["key"]) == 2  # still frozen, at the ack it was moved to
        status, body = await control(msim, "POST", f"/__sim/ack?id={sent['key']}&freeze=0")  # by its key too
        assert (status, body["frozen"]) == (200, False)
        await page.wait_for_function(f"({ACK_JS})({json.dumps(sent['key'])}) === 3")
        for path, want_status, want_text in [
            (f"/__sim/ack?id={sent['id']}&ack=1", 409, "only advances"),
            ("/__sim/ack?id=NOPE&ack=3", 404, "no sent message"),
            (f"/__sim/ack?id={sent['id']}&ack=soon", 400, "whole number"),
            ("/__sim/ack?freeze=maybe", 400, "1 or 0"),
            ("/__sim/ack", 400, "?id=MESSAGE"),
        ]:
            status, body = await control(msim, "POST", path)
            assert (status, body["ok"]) == (want_status, False), path
            assert want_text in body["error"], (path, body)


async def test_query_exists_and_sends_follow_the_numbers_on_whatsapp(msim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(msim, tmp_path / "profile", open_page=False) as context:
        page = await modules_connected(msim, context)
        assert await page.evaluate(EXISTS_JS, CONTACT) == f"{CONTACT}@c.us"
        assert await page.evaluate(EXISTS_JS, STRANGER) is None
        sent = await page.evaluate(SEND_JS, [f"{STRANGER}@c.us", "anyone there?", None])
        assert sent["result"] == "ERROR" and await page.evaluate(ACK_JS, sent["key"]) == -1
        body = msim.messages()
        assert body["messages"] == [] and [m["to"] for m in body["undeliverable"]] == [f"{STRANGER}@c.us"]
        status, body = await control(msim, "POST", f"/__sim/numbers?add={STRANGER}")
        assert status == 200 and STRANGER in body["numbers"]
        assert await page.evaluate(EXISTS_JS, STRANGER) == f"{STRANGER}@c.us"
        status, body = await control(msim, "POST", f"/__sim/numbers?remove={STRANGER}")
        assert STRANGER not in body["numbers"]
        status, body = await control(msim, "GET", "/__sim/numbers")
        assert (status, CONTACT in body["numbers"], STRANGER in body["numbers"]) == (200, True, False)
        assert await page.evaluate(EXISTS_JS, STRANGER) is None
        status, body = await control(msim, "POST", "/__sim/numbers?add=call-me")
        assert status == 400 and "digits with the country code" in body["error"]


async def incoming(sim: Simulator, payload: Any) -> tuple[int, dict[str, Any]]:
    """POST /__sim/incoming with a JSON body, as `curl -k -d` would."""
    url = sim.base_url + "/__sim/incoming"
    async with aiohttp.ClientSession() as http, http.post(url, data=json.dumps(payload), ssl=False) as resp:
        return resp.status, await resp.json()


async def test_a_contact_writes_and_the_connected_tab_receives_it(msim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(msim, tmp_path / "profile", open_page=False) as context:
        page = await modules_connected(msim, context)
        await page.wait_for_function("window.__seen.includes('hasSynced:true')")
        status, body = await incoming(msim, {"from": CONTACT, "text": "lunch at 1?"})
        assert (status, body["logins"], body["pages"]) == (200, 1, 1)
        await page.wait_for_function("window.__seen.includes('add:lunch at 1?')")
        got = await page.evaluate(
            """(id) => {
              const m = window.require("WAWebCollections").Msg.getModelsArray().find((x) => x.id.id === id);
              return {from: m.from._serialized, fromMe: m.id.fromMe, isNewMsg: m.isNewMsg, body: m.body};
            }""",
            body["id"],
        )
        assert got == {"from": f"{CONTACT}@c.us", "fromMe": False, "isNewMsg": True, "body": "lunch at 1?"}
        await until(lambda: msim.messages()["incoming"][0]["delivered"], "the page's receipt")
        for payload, want_status, want_text in [
            ({"from": STRANGER, "text": "hi"}, 409, "not on WhatsApp"),
            ({"from": CONTACT}, 400, "non-empty string"),
            ({"from": "someone", "text": "hi"}, 400, "digits with the country code"),
            (["not", "an", "object"], 400, "JSON object"),
        ]:
            status, body = await incoming(msim, payload)
            assert (status, body["ok"]) == (want_status, False), payload
            assert want_text in body["error"], (payload, body)
        url = msim.base_url + "/__sim/incoming"
        async with aiohttp.ClientSession() as http, http.post(url, data="{oops", ssl=False) as resp:
            assert resp.status == 400 and "must be JSON" in (await resp.json())["error"]


async def test_what_a_contact_writes_while_no_tab_is_connected_arrives_at_the_next_connect(
    msim: Simulator, tmp_path: Path
) -> None:
    profile = tmp_path / "profile"
    async with sim_browser(msim, profile, open_page=False) as context:
        await modules_connected(msim, context)
    await until(lambda: msim.state()["connections"] == 0, "the closed browser's connection to go")
    status, body = await incoming(msim, {"from": CONTACT, "text": "while you were away"})
    assert (status, body["logins"], body["pages"]) == (200, 1, 0)
    assert msim.messages()["incoming"][0]["delivered"] is False
    async with sim_browser(msim, profile, open_page=False) as context:
        page = context.pages[0]
        await context.add_init_script(RECORD_JS)
        await page.goto(WA_URL)
        await page.wait_for_function("window.__seen.includes('hasSynced:true')")
        seen = [e for e in await page.evaluate("window.__seen") if not e.startswith("ack:")]
        # Connected first, then the backlog, and only then hasSynced (as the real offline sync).
        assert seen == ["state:CONNECTED", "add:while you were away", "hasSynced:true"], seen
        await until(lambda: msim.messages()["incoming"][0]["delivered"], "the page's receipt")
    assert msim.state()["scans"] == 1


async def test_socket_logout_from_the_page_revokes_the_login(msim: Simulator, tmp_path: Path) -> None:
    async with sim_browser(msim, tmp_path / "profile", open_page=False) as context:
        page = await modules_connected(msim, context)
        assert await page.evaluate("typeof window.Debug.VERSION") == "string"
        assert all(part.isdigit() for part in str(await page.evaluate("window.Debug.VERSION")).split("."))
        await page.evaluate("window.require('WAWebSocketModel').Socket.logout()")
        await socket_state(page, "UNPAIRED")
        assert msim.state()["logins"] == 0
        assert (await stored_login(page))["indexeddb"] is None


# -- groups: chats `…@g.us` with members, sends to them and messages written in them ---------------------------
# whatsapp-web.js 1.34.7's sendMessage to a group: the key's participant is the account (asUserWidOrThrow).
GROUP_SEND_JS = """async ([to, body]) => {
  const r = window.require;
  const wid = r("WAWebWidFactory").createWid(to);
  let chat;
  try {
    chat = r("WAWebCollections").Chat.get(wid) || (await r("WAWebFindChatAction").findOrCreateLatestChat(wid)).chat;
  } catch (e) { return {error: String(e.message || e)}; }
  const me = r("WAWebUserPrefsMeUser").getMaybeMePnUser();
  const participant = chat.id.isGroup() ? r("WAWebWidFactory").asUserWidOrThrow(me) : undefined;
  const MsgKey = r("WAWebMsgKey");
  const key = new MsgKey({from: me, to: chat.id, id: await MsgKey.newId(), participant, selfDir: "out"});
  const [added, sent] = r("WAWebSendMsgChatAction").addAndSendMsgToChat(chat, {
    id: key, ack: 0, body, from: me, to: chat.id, local: true, self: "out", t: Math.floor(Date.now() / 1000),
    isNewMsg: true, type: "chat"});
  await added;
  return {key: key._serialized, id: key.id, result: (await sent).messageSendResult,
          subject: chat.groupMetadata ? chat.groupMetadata.subject : null,
          members: chat.groupMetadata ? chat.groupMetadata.participants.getModelsArray().map((p) => p.id._serialized)
                                      : null};
}"""
MSG_JS = """(id) => {
  const m = window.require("WAWebCollections").Msg.getModelsArray().find((x) => x.id.id === id);
  return m ? {from: m.from._serialized, author: m.author ? m.author._serialized : null, type: m.type, body: m.body,
              caption: m.caption || null, key: m.id._serialized, fromMe: m.id.fromMe} : null;
}"""
MEMBERS = ["15550002001", "15550002002"]


async def post_json(sim: Simulator, path: str, payload: Any) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(sim.base_url + path, data=json.dumps(payload), ssl=False) as resp,
    ):
        return resp.status, await resp.json()


async def test_groups_are_made_and_listed_by_the_control_api_and_mistakes_named(sim: Simulator) -> None:
    status, made = await post_json(
        sim, "/__sim/groups", {"name": "Ops on-call", "members": [f"+{MEMBERS[0]}", MEMBERS[1]]}
    )
    assert status == 200 and made["ok"]
    assert (
        made["id"].startswith("120363") and made["id"].endswith("@g.us") and len(made["id"]) == len("120363") + 12 + 5
    )
    assert made["members"] == [f"{n}@c.us" for n in MEMBERS] and made["name"] == "Ops on-call"
    status, old = await post_json(
        sim, "/__sim/groups", {"name": "Family", "members": [MEMBERS[0]], "id": "15550002003-1600000000@g.us"}
    )
    assert (status, old["id"]) == (200, "15550002003-1600000000@g.us")
    status, listing = await control(sim, "GET", "/__sim/groups")
    assert (status, [g["id"] for g in listing["groups"]]) == (200, [made["id"], old["id"]])
    assert [g["name"] for g in (await control(sim, "GET", "/__sim/state"))[1]["groups"]] == ["Ops on-call", "Family"]
    for payload, want_status, want_text in [
        ({"members": MEMBERS}, 400, "name must be a non-empty string"),
        ({"name": "x" * 101, "members": MEMBERS}, 400, "at most 100"),
        ({"name": "G", "members": []}, 400, "non-empty list of numbers"),
        ({"name": "G", "members": ["someone"]}, 400, "digits with the country code"),
        ({"name": "G", "members": [STRANGER]}, 409, f"{STRANGER} not on WhatsApp"),
        ({"name": "G", "members": MEMBERS, "id": "family@g.us"}, 400, "120363…@g.us"),
        ({"name": "G", "members": MEMBERS, "id": old["id"]}, 409, "exists already"),
        (["a list"], 400, "JSON object"),
    ]:
        status, body = await post_json(sim, "/__sim/groups", payload)
        assert (status, body["ok"]) == (want_status, False), payload
        assert want_text in body["error"], (payload, body)
    status, body = await control(sim, "DELETE", "/__sim/groups")
    assert (status, body["ok"]) == (405, False)


async def test_a_send_to_a_group_reaches_its_members_and_an_unknown_group_cannot_be_opened(
    msim: Simulator, tmp_path: Path
) -> None:
    _status, early = await post_json(msim, "/__sim/groups", {"name": "Family", "members": MEMBERS})
    async with sim_browser(msim, tmp_path / "profile", open_page=False) as context:
        page = await modules_connected(msim, context)
        _status, late = await post_json(
            msim, "/__sim/groups", {"name": "Ops", "members": [MEMBERS[1]]}
        )  # while connected
        sent = await page.evaluate(GROUP_SEND_JS, [early["id"], "dinner at 8"])
        assert sent["result"] == "OK" and sent["subject"] == "Family"
        assert sent["members"] == [f"{msim.account_number}@c.us", *(f"{n}@c.us" for n in MEMBERS)]
        assert sent["key"] == f"true_{early['id']}_{sent['id']}_{msim.account_number}@c.us"
        await page.wait_for_function(f"({ACK_JS})({json.dumps(sent['key'])}) === 3")  # every member read it
        got = msim.messages()["messages"]
        assert [(m["id"], m["to"], m["body"], m["members"], m["ack"]) for m in got] == [
            (sent["id"], early["id"], "dinner at 8", [f"{n}@c.us" for n in MEMBERS], 3)
        ]
        chat_js = "(id) => !!window.require('WAWebCollections').Chat.get(id)"
        await page.wait_for_function(chat_js, arg=late["id"])  # made while the tab was connected: it shows
        assert (await page.evaluate(GROUP_SEND_JS, [late["id"], "paged"]))["subject"] == "Ops"
        missing = "120363000000000001@g.us"
        assert await page.evaluate(GROUP_SEND_JS, [missing, "anyone?"]) == {
            "error": f"findOrCreateLatestChat: no group {missing}"
        }
        assert [m["to"] for m in msim.messages()["messages"]] == [early["id"], late["id"]]
        # Reloaded (a crash, say), the tab has its group message again, under the same key (participant and
        # all): a client that looks for its id before resending finds it.
        await page.reload()
        await page.wait_for_function("window.__seen.includes('hasSynced:true')")
        assert await page.evaluate(ACK_JS, sent["key"]) == 3


async def test_a_member_writes_in_a_group_and_the_tab_has_the_group_as_chat_and_the_member_as_author(
    msim: Simulator, tmp_path: Path
) -> None:
    _status, group = await post_json(msim, "/__sim/groups", {"name": "Family", "members": MEMBERS})
    async with sim_browser(msim, tmp_path / "profile", open_page=False) as context:
        page = await modules_connected(msim, context)
        status, body = await incoming(msim, {"group": group["id"], "from": MEMBERS[1], "text": "who brings wine?"})
        assert (status, body["pages"]) == (200, 1)
        await page.wait_for_function(f"({MSG_JS})({json.dumps(body['id'])}) !== null")
        assert await page.evaluate(MSG_JS, body["id"]) == {
            "from": group["id"],
            "author": f"{MEMBERS[1]}@c.us",
            "type": "chat",
            "body": "who brings wine?",
            "caption": None,
            "key": f"false_{group['id']}_{body['id']}_{MEMBERS[1]}@c.us",
            "fromMe": False,
        }
        status, photo = await incoming(msim, {"from": MEMBERS[0], "type": "image", "caption": "the view"})
        assert status == 200
        await page.wait_for_function(f"({MSG_JS})({json.dumps(photo['id'])}) !== null")
        got = await page.evaluate(MSG_JS, photo["id"])
        assert (got["from"], got["author"], got["type"], got["caption"]) == (
            f"{MEMBERS[0]}@c.us",
            None,
            "image",
            "the view",
        )
        assert got["body"] != "the view"  # the body of a medium is its thumbnail, as on the real site
        summary = msim.messages()["incoming"]
        assert [(m["chat"], m["from"], m["type"], m["body"]) for m in summary] == [
            (group["id"], f"{MEMBERS[1]}@c.us", "chat", "who brings wine?"),
            (f"{MEMBERS[0]}@c.us", f"{MEMBERS[0]}@c.us", "image", "the view"),
        ]
        for payload, want_status, want_text in [
            ({"group": "120363000000000001@g.us", "from": MEMBERS[0], "text": "hi"}, 404, "no group"),
            ({"group": group["id"], "from": "15550002004", "text": "hi"}, 409, "not a member"),
            ({"group": "family", "from": MEMBERS[0], "text": "hi"}, 400, "120363…@g.us"),
            ({"from": MEMBERS[0], "type": "sticker"}, 400, "type must be chat or one of"),
            ({"from": MEMBERS[0], "type": "image", "caption": 5}, 400, "caption must be a string"),
        ]:
            status, body = await incoming(msim, payload)
            assert (status, body["ok"]) == (want_status, False), payload
            assert want_text in body["error"], (payload, body)


# -- the site outlives watui: --demo-sim / [demo] sim -------------------------------------------------------
def test_demo_sim_mistakes_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from watui.cli import main

    (tmp_path / "bad.toml").write_text('[demo]\nsim = "somewhere"\n')
    cases = [
        (["--config", str(tmp_path / "bad.toml"), "--demo", "info"], 2, ["bad.toml", "demo.sim", "HOST:PORT"]),
        (["--demo-sim", "127.0.0.1:9", "info"], 2, ["--demo-sim needs --demo"]),
        (["--demo", "--demo-sim", "127.0.0.1:99999", "info"], 2, ["--demo-sim", "HOST:PORT", "99999"]),
        (["--demo", "--demo-sim", "127.0.0.1:9", "--demo-port", "9", "info"], 2, ["give one"]),
    ]
    for argv, want_code, needles in cases:
        code = main([*argv])
        err = capsys.readouterr().err
        assert code == want_code, (argv, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert all(n in err for n in needles), (argv, err)


def test_demo_sim_with_nothing_listening_says_how_to_start_one(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, "-m", "watui", "--demo", "--demo-sim", f"127.0.0.1:{port}", "watch"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"no simulator answers at 127.0.0.1:{port}" in done.stderr
    assert f"watui sim --port {port}" in done.stderr


def test_a_watui_killed_with_sigkill_leaves_the_running_simulator_its_login_and_messages(tmp_path: Path) -> None:
    with running_site(tmp_path) as site, connected_owner(tmp_path / "work", site, config="") as owner:
        owner.kill9()
        # The site is still there (its browser went with the killed watui), and a contact writes meanwhile.
        wait_until(lambda: site.call("/__sim/state")["connections"] == 0, "the dead browser's connection to go")
        assert site.call("/__sim/incoming", "POST", {"from": CONTACT, "text": "are you there?"})["pages"] == 0
        owner.start()
        wait_until(lambda: site.call("/__sim/state")["state"] == "CONNECTED", "the next watui connected")
        assert site.call("/__sim/state")["scans"] == 1  # the login outlived the watui that made it
        wait_until(lambda: site.call("/__sim/messages")["incoming"][0]["delivered"], "the message delivered")
        assert owner.proc is not None
        owner.proc.send_signal(signal.SIGTERM)
        assert owner.proc.wait(timeout=60) == 0


async def test_doctor_with_demo_sim_probes_the_running_simulator(sim: Simulator, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watui", "--demo", "--demo-sim", f"127.0.0.1:{sim.port}", "doctor", "--json",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["recognised"] and report["detection"] == "dom"  # this simulator's page, not one of its own
    assert sim.state()["userAgent"] is not None
