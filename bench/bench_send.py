"""Send -> received by the simulator: watui's page adapter against whatsapp-web.js 1.34.7, same run.

On one simulator (``modules`` page), one message at a time to the same contact, from the call to the moment
the simulator has the message (its own event, in this process):
- ``watui adapter``: ``PageMessaging.send`` (QueryExists once, the MsgKey with watui's id,
  addAndSendMsgToChat, and it returns on the server's answer);
- ``watui outbox+sender``: the same through a real ``Outbox`` file and the ``Sender`` with the pace lifted
  (accept, claim and mark-sent are fsync'd commits): accept -> received;
- ``whatsapp-web.js``: ``client.sendMessage`` in its own Node process driving Debian's Chromium (the command
  is written to its stdin when the clock starts). Skipped, saying why, without node/npm or its install.
Median and p95 of each, and the ratio adapter / whatsapp-web.js (below 1: watui is faster).

Usage: ``.venv/bin/python bench/bench_send.py [N]`` (or ``bench/run.py send``); N defaults to 50.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import async_playwright  # noqa: E402

from tests.support.sim_page import WA_URL, chromium_flags  # noqa: E402
from tests.support.wwebjs import CHROMIUM, WWEBJS_VERSION, install_wwebjs  # noqa: E402
from watui.config import DESKTOP_USER_AGENT, MessagesSettings  # noqa: E402
from watui.core.browser.chromium import find_browser  # noqa: E402
from watui.core.messages import Outbox, OutboxRow, Sender, new_message_id  # noqa: E402
from watui.core.messages.page import PageMessaging  # noqa: E402
from watui.sim.server import Simulator  # noqa: E402

CONTACT = "15550002001"
ACCOUNT = "15550001234@c.us"
FAST = MessagesSettings(max_per_minute=600_000.0, min_gap_per_chat_s=0.0)

CLIENT_JS = r"""
const readline = require("readline");
const { Client, LocalAuth } = require("whatsapp-web.js");
const [dataPath, executablePath, contact, ...args] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const client = new Client({
  authStrategy: new LocalAuth({ dataPath }),
  webVersionCache: { type: "none" },
  puppeteer: { executablePath, headless: true, args },
});
client.on("qr", (qr) => say({ event: "qr", qr }));
client.on("ready", () => {
  say({ event: "ready" });
  readline.createInterface({ input: process.stdin }).on("line", async (line) => {
    try {
      const sent = await client.sendMessage(`${contact}@c.us`, line);
      say({ event: "sent", id: sent.id.id });
    } catch (e) { say({ event: "error", message: String((e && e.stack) || e) }); }
  });
});
client.initialize().catch((e) => say({ event: "error", message: String(e) }));
"""


class Receipts:
    """When the simulator got each message (its event line ``message <id> to <chat>: sent``)."""

    def __init__(self, sim: Simulator) -> None:
        self.at: dict[str, float] = {}
        self.arrived = asyncio.Event()
        sim.on_event = self.heard

    def heard(self, line: str) -> None:
        if line.startswith("message ") and line.endswith(": sent"):
            self.at[line.split()[1]] = time.perf_counter()
            self.arrived.set()

    async def of(self, msg_id: str, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        while msg_id not in self.at:
            self.arrived.clear()
            if msg_id in self.at:
                break
            await asyncio.wait_for(self.arrived.wait(), max(0.01, deadline - time.monotonic()))
        return self.at[msg_id]


def figures(name: str, samples_s: list[float]) -> float:
    ms = sorted(s * 1000 for s in samples_s)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    median = statistics.median(ms)
    print(f"{name:<22} median {median:7.1f} ms   p95 {p95:7.1f} ms   ({len(ms)} sends)", flush=True)
    return median


@contextlib.asynccontextmanager
async def watui_tab(sim: Simulator, profile: Path) -> AsyncIterator[PageMessaging]:
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(find_browser()), headless=True, args=chromium_flags(sim),
            ignore_https_errors=True, user_agent=DESKTOP_USER_AGENT,
        )  # fmt: skip
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            adapter = PageMessaging(page, ACCOUNT)
            await adapter.install()
            await page.goto(WA_URL)
            is_state = (
                "(w) => typeof window.require === 'function' && window.require('WAWebSocketModel').Socket.state === w"
            )
            await page.wait_for_function(is_state, arg="UNPAIRED", timeout=30000)
            await sim.scan()
            await page.wait_for_function(is_state, arg="CONNECTED", timeout=30000)
            await page.wait_for_function("() => window.require('WAWebSocketModel').Socket.hasSynced", timeout=30000)
            yield adapter
        finally:
            await context.close()


async def bench_adapter(sim: Simulator, receipts: Receipts, folder: Path, n: int) -> tuple[list[float], list[float]]:
    direct: list[float] = []
    piped: list[float] = []
    chat = f"{CONTACT}@c.us"
    async with watui_tab(sim, folder / "watui-profile") as adapter:
        await adapter.send(OutboxRow(0, new_message_id(), ACCOUNT, chat, "warm-up"))
        for i in range(n):
            message = OutboxRow(i + 1, new_message_id(), ACCOUNT, chat, f"watui {i}")
            start = time.perf_counter()
            await adapter.send(message)
            direct.append(await receipts.of(message.id) - start)
        outbox = await asyncio.to_thread(Outbox.open, folder / "outbox.sqlite", FAST)
        sender = Sender(outbox, adapter, ACCOUNT)
        task = asyncio.create_task(sender.run())
        try:
            for i in range(n):
                start = time.perf_counter()
                accepted = await outbox.accept_async(chat, f"watui outbox {i}", account=ACCOUNT)
                sender.wake()
                piped.append(await receipts.of(accepted.id) - start)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            outbox.close()
    return direct, piped


async def next_event(stdout: asyncio.StreamReader, timeout: float = 60.0) -> dict[str, Any]:
    while True:
        line = await asyncio.wait_for(stdout.readline(), timeout)
        if not line:
            raise RuntimeError("whatsapp-web.js exited")
        with contextlib.suppress(ValueError):
            event = dict(json.loads(line))
            if event.get("event") == "error":
                raise RuntimeError(f"whatsapp-web.js: {event.get('message')}")
            return event


async def bench_wwebjs(sim: Simulator, receipts: Receipts, folder: Path, wwebjs: Path, n: int) -> list[float]:
    script = wwebjs / "bench_send.js"
    script.write_text(CLIENT_JS)
    args = [*sim.browser_args(), "--no-first-run", "--disable-background-networking"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    proc = await asyncio.create_subprocess_exec(
        "node", str(script), str(folder / "wwebjs-auth"), CHROMIUM, CONTACT, *args,
        cwd=wwebjs, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    samples: list[float] = []
    try:
        event = await next_event(proc.stdout)
        while event["event"] == "qr":
            with contextlib.suppress(Exception):
                await sim.scan(event["qr"])
            event = await next_event(proc.stdout)
        while event["event"] != "ready":
            event = await next_event(proc.stdout)
        for i in range(n + 1):  # the first one warms up
            start = time.perf_counter()
            proc.stdin.write(f"wwebjs {i}\n".encode())
            await proc.stdin.drain()
            while (event := await next_event(proc.stdout, 30))["event"] != "sent":
                pass
            took = await receipts.of(event["id"]) - start
            if i:
                samples.append(took)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return samples


async def main(n: int) -> int:
    with tempfile.TemporaryDirectory(prefix="watui-bench-send-") as tmp:
        folder = Path(tmp)
        sim = Simulator(page="modules", state_dir=folder / "sim-state", ack_step_ms=60_000)
        await sim.start()
        try:
            receipts = Receipts(sim)
            direct, piped = await bench_adapter(sim, receipts, folder, n)
            ours = figures("watui adapter", direct)
            figures("watui outbox+sender", piped)
            wwebjs, why = install_wwebjs()
            if wwebjs is None:
                print(f"whatsapp-web.js {WWEBJS_VERSION}: skipped ({why})")
                return 0
            theirs = figures(f"whatsapp-web.js {WWEBJS_VERSION}", await bench_wwebjs(sim, receipts, folder, wwebjs, n))
            print(f"ratio adapter / whatsapp-web.js (median): {ours / theirs:.2f}")
        finally:
            await sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)))
