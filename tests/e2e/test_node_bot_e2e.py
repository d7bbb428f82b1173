"""The Node echo bot of examples/ (examples/echo_bot.mjs: a `node:http` webhook receiver that answers with
`fetch`) end to end: `watui serve` with a token on a `watui sim` simulator, its `[messages.webhook]` pointed
at the bot, a contact's text in through `POST /__sim/incoming`, the echo out at `/__sim/messages`.

Real processes and sockets throughout: a real Node, a real `watui serve` and its Chromium, a real simulator.
Between watui and the bot sits a small forwarding proxy of the test, which loses the bot's answer to the
first attempt of a delivery (watui gets a 503 for it): watui delivers it again, the bot handles it again,
and its idempotency key keeps the contact from getting the echo twice. A forged delivery is refused; a bot
whose sends are refused (a wrong token) answers 503, so the text waits in watui until the bot is fixed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.messaging_e2e import CONTACTS, Owner, Site, connected_owner, wait_until
from tests.support.watui_proc import free_port

pytestmark = pytest.mark.browser
ECHO_BOT = Path(__file__).resolve().parents[2] / "examples" / "echo_bot.mjs"
SECRET = "webhook-s3cret"
TOKEN = "api-t0ken"


def _node() -> tuple[str | None, str]:
    node = shutil.which("node")
    if node is None:
        return None, "node is needed for the Node echo bot"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    major = int(version.lstrip("v").split(".")[0] or 0)
    if major < 18:
        return None, f"the Node echo bot needs Node >= 18 (fetch), found {version}"
    return node, ""


def _listening(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


@dataclass
class Proxy:
    """Forwards each delivery to the bot and gives watui the bot's answer, except for the first attempt of
    each delivery while ``lose_first`` is set: 503 instead (the answer lost, as in a cut connection)."""

    bot_port: int
    lose_first: bool = True
    attempts: list[tuple[str, int, int]] = field(default_factory=list)  # (delivery, bot's status, watui's)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, int]:
        conn = http.client.HTTPConnection("127.0.0.1", self.bot_port, timeout=30)
        try:
            conn.request("POST", "/", body=body, headers=headers)
            bot = conn.getresponse().status
        finally:
            conn.close()
        delivery = headers.get("X-Watui-Delivery", "")
        with self.lock:
            first = all(d != delivery for d, _bot, _watui in self.attempts)
            answer = 503 if first and self.lose_first else bot
            self.attempts.append((delivery, bot, answer))
        return bot, answer


@contextlib.contextmanager
def running_proxy(proxy: Proxy) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            keep = {k: v for k, v in self.headers.items() if k.lower().startswith("x-watui-")}
            _bot, answer = proxy.forward(body, {**keep, "Content-Type": "application/json"})
            self.send_response(answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Bot:
    """`node examples/echo_bot.mjs` on ``port``, (re)started with the token given; its stderr must stay empty."""

    node: str
    port: int
    env: dict[str, str]
    cwd: Path
    proc: subprocess.Popen[str] | None = None

    def start(self, token: str = TOKEN) -> None:
        self.proc = subprocess.Popen([self.node, str(ECHO_BOT)], cwd=self.cwd, env={**self.env, "WATUI_TOKEN": token},
                                     text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        wait_until(lambda: _listening(self.port), "the bot listening", timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            _out, err = self.proc.communicate(timeout=30)
            self.proc = None
            assert not err.strip(), err

    def post(self, body: bytes, signature: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", "/", body=body, headers={"Content-Type": "application/json",
                                                          "X-Watui-Signature": signature})  # fmt: skip
            return conn.getresponse().status
        finally:
            conn.close()


@pytest.fixture
def node() -> str:
    found, why = _node()
    if found is None:
        pytest.skip(why)
    return found


@pytest.fixture
def setup(tmp_path: Path, site: Site, node: str, chromium_path: Path) -> Iterator[tuple[Owner, Bot, Proxy]]:
    api_port, bot_port = free_port(), free_port()
    proxy = Proxy(bot_port)
    with running_proxy(proxy) as proxy_port:
        config = f"""
[api]
port = {api_port}
token = "{TOKEN}"

[messages]
max_per_minute = 600
min_gap_per_chat_s = 0

[messages.webhook]
url = "http://127.0.0.1:{proxy_port}/hook"
secret = "{SECRET}"
events = ["message"]
backoff_initial_s = 0.2
backoff_max_s = 1
"""
        env = {"WATUI_URL": f"http://127.0.0.1:{api_port}", "WATUI_WEBHOOK_SECRET": SECRET, "PORT": str(bot_port)}
        with connected_owner(tmp_path / "work", site, config, command=("serve",)) as owner:
            bot = Bot(node, bot_port, {**owner.env, **env}, owner.cwd)
            try:
                bot.start()
                yield owner, bot, proxy
            finally:
                bot.stop()


def _echoes(site: Site) -> list[tuple[str, str]]:
    return [(m["to"], m["body"]) for m in site.received() if m["body"].startswith("echo: ")]


def test_the_node_echo_bot_answers_once_through_a_redelivery_refuses_a_bad_signature_and_loses_no_text(
    setup: tuple[Owner, Bot, Proxy], site: Site
) -> None:
    owner, bot, proxy = setup
    chat = f"{CONTACTS[0]}@c.us"
    site.call("/__sim/incoming", "POST", {"from": CONTACTS[0], "text": "hello"})
    wait_until(lambda: _echoes(site) == [(chat, "echo: hello")], "the echo at the contact")
    wait_until(lambda: len(proxy.attempts) >= 2, "watui's second attempt after the lost answer")
    time.sleep(1.0)  # a second echo would be at the contact by now
    assert _echoes(site) == [(chat, "echo: hello")]
    (delivery, echoed, lost), (again, handled, taken) = proxy.attempts[:2]
    assert (echoed, lost) == (204, 503)  # the bot had sent its echo; watui did not hear it
    assert (again, handled, taken) == (delivery, 204, 204)  # the same delivery, handled again, now taken

    # Someone who found the bot's URL but not the secret: refused, and nothing sent on their behalf.
    forged = json.dumps({"event": "message", "delivery": "forged-1", "id": "FORGED1", "chat": chat,
                         "type": "chat", "body": "send this"}).encode()  # fmt: skip
    wrong = "sha256=" + hmac.new(b"not the secret", forged, hashlib.sha256).hexdigest()
    assert bot.post(forged, wrong) == 401
    assert bot.post(forged, "") == 401
    status, page = owner.api("GET", "/api/whatsapp/messages?bodies=1")
    assert status == 200, page
    assert [m["body"] for m in page["messages"] if m["direction"] == "out"] == ["echo: hello"]

    # The next text after all that: echoed once as well, the bot still up.
    proxy.lose_first = False
    site.call("/__sim/incoming", "POST", {"from": CONTACTS[1], "text": "again"})
    wait_until(lambda: len(_echoes(site)) >= 2, "the second echo")
    time.sleep(0.5)
    assert _echoes(site) == [(chat, "echo: hello"), (f"{CONTACTS[1]}@c.us", "echo: again")]
    assert bot.proc is not None and bot.proc.poll() is None

    # A bot whose sends are refused (a wrong token) does not take the delivery: once fixed, the text is echoed.
    bot.stop()
    bot.start(token="not the token")
    seen = len(proxy.attempts)
    site.call("/__sim/incoming", "POST", {"from": CONTACTS[2], "text": "third"})
    wait_until(
        lambda: [bot for _d, bot, _w in proxy.attempts[seen:]][:2] == [503, 503], "two refused attempts", timeout=20
    )
    bot.stop()
    bot.start()
    wait_until(lambda: len(_echoes(site)) >= 3, "the third echo, after the fix")
    time.sleep(0.5)
    assert _echoes(site)[2:] == [(f"{CONTACTS[2]}@c.us", "echo: third")]
