"""The HTTP face over real sockets on 127.0.0.1, with a FakeSession behind the manager's interface."""

from __future__ import annotations

import asyncio
import io
import math
import socket
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest
import zxingcpp
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api import (
    QR_PAYLOAD,
    SseReader,
    connected_info,
    running_api,
    unpaired_info,
    wait_for,
)
from tests.support.fakes import FakeSession
from watui.api.app import ApiServer, start_api
from watui.api.errors import ApiStartError
from watui.api.security import check_bind
from watui.core.errors import ActionUnavailable, SessionBusyError, UnsafePathError
from watui.core.models import ConnectionState

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def manager() -> FakeSession:
    return FakeSession(connected_info())


@pytest.fixture
async def server(manager: FakeSession) -> AsyncIterator[ApiServer]:
    async with running_api(manager, keepalive_s=0.1) as api:
        yield api


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, dict[str, Any], Mapping[str, str]]:
    async with http.request(method, url, **kwargs) as res:
        assert res.content_type == "application/json", await res.text()
        return res.status, await res.json(), res.headers


# -- the seed's endpoints -----------------------------------------------------------------------------


async def test_session_info_is_the_seed_shape(server: ApiServer, http: aiohttp.ClientSession) -> None:
    status, body, _ = await call(http, "GET", f"{server.url}/api/whatsapp/session-info")
    assert status == 200
    assert body["session"]["exists"] is True and body["session"]["sizeMB"] == 75.0
    assert body["connection"]["state"] == "CONNECTED" and body["connection"]["isConnected"] is True
    assert body["connection"]["health"]["isHealthy"] is True
    assert body["recommendations"] == {"shouldClearSession": False, "shouldReconnect": False, "needsQRScan": False}
    assert body["actions"] == {
        "busy": None,
        "available": {"initialize": True, "reconnect": True, "cleanup": True, "clear": True},
    }


async def test_session_info_says_which_verbs_can_act_now(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession
) -> None:
    manager.busy_verb = "cleanup"
    manager.allowed.discard("clear")
    _, body, _ = await call(http, "GET", f"{server.url}/api/whatsapp/session-info")
    assert body["actions"]["busy"] == "cleanup" and body["actions"]["available"]["clear"] is False


async def test_smart_initialize_answers_success_needsqr_message(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession
) -> None:
    status, body, _ = await call(http, "POST", f"{server.url}/api/whatsapp/smart-initialize")
    assert status == 200
    assert (body["success"], body["needsQR"], body["message"]) == (False, True, "Scan the QR code")
    assert [name for name, _ in manager.calls] == ["initialize"]


async def test_reconnect_and_cleanup_reach_the_manager(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession
) -> None:
    status, body, _ = await call(http, "POST", f"{server.url}/api/whatsapp/reconnect")
    assert status == 200 and body["success"] is True and body["state"] == "CONNECTED"
    status, body, _ = await call(http, "POST", f"{server.url}/api/whatsapp/cleanup")
    assert status == 200 and body["freedMB"] == 3.0 and body["removed"] == ["Default/Cache"]
    assert [name for name, _ in manager.calls] == ["reconnect", "cleanup"]


async def test_clear_quarantines_by_default_and_purges_only_when_asked(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession
) -> None:
    status, body, _ = await call(http, "POST", f"{server.url}/api/whatsapp/clear")
    assert status == 200 and body["purged"] is False and body["movedTo"].endswith("session-x-1")
    status, body, _ = await call(http, "POST", f"{server.url}/api/whatsapp/clear", json={"purge": True})
    assert status == 200 and body["purged"] is True
    assert manager.calls == [("clear", {"purge": False}), ("clear", {"purge": True})]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "JSON object"),
        (b"[true]", "JSON object"),
        (b'{"purge": "yes"}', "'purge' must be bool"),
        (b'{"purg": true}', "unknown field 'purg'"),
    ],
)
async def test_a_bad_clear_body_is_refused_and_nothing_is_cleared(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession, body: bytes, needle: str
) -> None:
    status, answer, _ = await call(
        http, "POST", f"{server.url}/api/whatsapp/clear", data=body, headers={"Content-Type": "application/json"}
    )
    assert status == 400 and needle in answer["error"]
    assert manager.calls == []


async def test_a_huge_body_is_refused_with_json(server: ApiServer, http: aiohttp.ClientSession) -> None:
    status, body, _ = await call(http, "POST", f"{server.url}/api/whatsapp/clear", data=b"x" * 200_000)
    assert status == 413 and "too large" in body["error"]


@pytest.mark.parametrize("verb", ["smart-initialize", "reconnect", "cleanup", "clear"])
async def test_get_on_a_verb_is_405_and_does_nothing(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession, verb: str
) -> None:
    status, body, headers = await call(http, "GET", f"{server.url}/api/whatsapp/{verb}")
    assert status == 405 and "POST" in body["error"] and headers["Allow"] == "POST"
    assert manager.calls == []


async def test_unknown_path_is_a_json_404(server: ApiServer, http: aiohttp.ClientSession) -> None:
    status, body, _ = await call(http, "GET", f"{server.url}/api/whatsapp/nope")
    assert status == 404 and body["error"] == "no such endpoint"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ActionUnavailable("cannot cleanup now: 'clear' is running"), 409),
        (SessionBusyError("session in use by chrome (pid 7)", 7, "chrome"), 409),
        (UnsafePathError("refusing to touch /"), 400),
    ],
)
async def test_core_errors_become_json_with_their_message(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession, error: Exception, status: int
) -> None:
    manager.fail["cleanup"] = error
    got, body, _ = await call(http, "POST", f"{server.url}/api/whatsapp/cleanup")
    assert got == status and body == {"ok": False, "success": False, "error": str(error)}


async def test_an_unexpected_crash_is_a_500_without_a_traceback(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession
) -> None:
    manager.fail["reconnect"] = KeyError("internal detail /etc/secret")
    status, body, _ = await call(http, "POST", f"{server.url}/api/whatsapp/reconnect")
    assert status == 500 and body["error"] == "internal error (KeyError); see the watui log"
    assert "Traceback" not in body["error"] and "secret" not in body["error"]


async def test_a_client_hanging_up_does_not_cancel_the_verb(server: ApiServer, manager: FakeSession) -> None:
    manager.gates["clear"] = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(http.post(f"{server.url}/api/whatsapp/clear"), 0.3)
    await wait_for(lambda: manager.calls, what="the clear to start")
    manager.gates["clear"].set()
    await wait_for(lambda: manager.finished == ["clear"], what="the clear to finish")


# -- QR images ----------------------------------------------------------------------------------------


async def test_qr_endpoints_are_404_when_no_scan_is_needed(server: ApiServer, http: aiohttp.ClientSession) -> None:
    for name in ("qr.svg", "qr.png"):
        status, body, _ = await call(http, "GET", f"{server.url}/api/whatsapp/{name}")
        assert status == 404 and "no QR code" in body["error"] and "CONNECTED" in body["error"]


async def test_qr_png_decodes_to_the_current_payload(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession
) -> None:
    manager.set_info(unpaired_info())
    async with http.get(f"{server.url}/api/whatsapp/qr.png") as res:
        assert res.status == 200 and res.content_type == "image/png"
        assert res.headers["Cache-Control"] == "no-store"
        image = Image.open(io.BytesIO(await res.read()))
    decoded = zxingcpp.read_barcodes(image)
    assert [code.text for code in decoded] == [QR_PAYLOAD]
    async with http.get(f"{server.url}/api/whatsapp/qr.svg") as res:
        assert res.status == 200 and res.content_type == "image/svg+xml"
        svg = await res.text()
    assert svg.startswith("<?xml") and "<svg" in svg and "login QR code" in svg


# -- events -------------------------------------------------------------------------------------------


async def test_events_start_with_a_snapshot_then_carry_each_event(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession
) -> None:
    async with http.get(f"{server.url}/api/whatsapp/events") as res:
        assert res.status == 200 and res.content_type == "text/event-stream"
        reader = SseReader(res)
        snapshot = await reader.data()
        assert snapshot["type"] == "snapshot" and snapshot["info"]["connection"]["state"] == "CONNECTED"
        manager.set_info(state=ConnectionState.TIMEOUT)
        sent = manager.publish("state", state=ConnectionState.TIMEOUT, message="lost")
        manager.publish("retry", data={"attempt": 1, "delay_s": 1.0})
        assert await reader.data() == sent.to_json()
        assert (await reader.data())["attempt"] == 1


async def test_events_send_keep_alive_comments(server: ApiServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/api/whatsapp/events") as res:
        reader = SseReader(res)
        assert (await reader.frame())[0] == "data"
        assert await reader.frame() == ("comment", "keep-alive")


async def test_a_gone_client_unsubscribes(server: ApiServer, manager: FakeSession) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/api/whatsapp/events") as res:
        await SseReader(res).data()
        assert len(manager.streams) == 1
    # No event needed: the hang-up itself ends the handler.
    await wait_for(lambda: not manager.streams, what="the stream to be closed")


async def test_closing_the_server_ends_open_event_streams(manager: FakeSession) -> None:
    api = await start_api(manager, host="127.0.0.1", port=0, token="")
    async with aiohttp.ClientSession() as http, http.get(f"{api.url}/api/whatsapp/events") as res:
        reader = SseReader(res)
        await reader.data()
        await asyncio.wait_for(api.close(), 10)
        with pytest.raises((EOFError, aiohttp.ClientPayloadError)):
            await reader.data()
    assert manager.streams == []


# -- metrics ------------------------------------------------------------------------------------------


async def metric_values(http: aiohttp.ClientSession, url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with http.get(f"{url}/metrics") as res:
        assert res.status == 200 and res.content_type == "text/plain"
        text = await res.text()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_describe_a_connected_session(server: ApiServer, http: aiohttp.ClientSession) -> None:
    values = await metric_values(http, server.url)
    states = {labels[0][1]: v for (name, labels), v in values.items() if name == "watui_state"}
    assert states == {s.value: (1.0 if s is ConnectionState.CONNECTED else 0.0) for s in ConnectionState}
    assert values[("watui_healthy", ())] == 1.0
    assert values[("watui_reconnect_attempts", ())] == 0.0
    assert values[("watui_session_bytes", ())] == 75 * 1024 * 1024
    assert values[("watui_browser_rss_bytes", ())] == 300 * 1024 * 1024
    assert values[("watui_qr_rotations_total", ())] == 2.0
    assert values[("watui_seconds_since_connected", ())] == 0.0


async def test_metrics_while_waiting_for_a_scan(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession
) -> None:
    manager.set_info(unpaired_info())
    values = await metric_values(http, server.url)
    assert values[("watui_state", (("state", "UNPAIRED"),))] == 1.0
    assert values[("watui_state", (("state", "CONNECTED"),))] == 0.0
    assert values[("watui_healthy", ())] == 0.0 and values[("watui_browser_rss_bytes", ())] == 0.0
    assert math.isnan(values[("watui_seconds_since_connected", ())])


# -- security -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org", "", "evil.localhost"])
def test_binding_beyond_loopback_without_a_token_is_refused(host: str) -> None:
    with pytest.raises(ApiStartError, match=r"\[api\] token"):
        check_bind(host, "")
    check_bind(host, TOKEN)  # with a token it is allowed


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_needs_no_token(host: str) -> None:
    check_bind(host, "")


async def test_a_taken_port_is_one_clear_error(manager: FakeSession) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ApiStartError, match=f"127.0.0.1:{port}"):
            await start_api(manager, host="127.0.0.1", port=port, token="")


@pytest.fixture
async def guarded(manager: FakeSession) -> AsyncIterator[ApiServer]:
    async with running_api(manager, token=TOKEN, keepalive_s=0.1) as api:
        yield api


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/whatsapp/session-info"),
        ("GET", "/api/whatsapp/events"),
        ("GET", "/api/whatsapp/qr.png"),
        ("GET", "/metrics"),
        ("POST", "/api/whatsapp/clear"),
        ("GET", "/api/whatsapp/nope"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"])
async def test_with_a_token_every_request_needs_it(
    guarded: ApiServer,
    http: aiohttp.ClientSession,
    manager: FakeSession,
    method: str,
    path: str,
    authorization: str | None,
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    status, body, res_headers = await call(http, method, guarded.url + path, headers=headers)
    assert status == 401 and "token" in body["error"]
    assert res_headers["WWW-Authenticate"].startswith("Bearer")
    assert manager.calls == []


async def test_the_right_token_is_let_in(guarded: ApiServer, http: aiohttp.ClientSession, manager: FakeSession) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, body, _ = await call(http, "GET", f"{guarded.url}/api/whatsapp/session-info", headers=auth)
    assert status == 200 and body["connection"]["state"] == "CONNECTED"
    status, body, _ = await call(http, "POST", f"{guarded.url}/api/whatsapp/clear", headers=auth)
    assert status == 200 and manager.calls == [("clear", {"purge": False})]
    async with http.get(f"{guarded.url}/metrics", headers=auth) as res:
        assert res.status == 200


async def test_the_page_shell_needs_no_token_and_holds_no_session_data(
    guarded: ApiServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{guarded.url}/whatsapp-diagnostics") as res:
        assert res.status == 200 and res.content_type == "text/html"
        html = await res.text()
        csp = res.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "+15550001234" not in html and "session-x" not in html and TOKEN not in html


async def test_with_a_token_the_root_still_opens_the_page(guarded: ApiServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{guarded.url}/", allow_redirects=False) as res:
        assert res.status == 302 and res.headers["Location"].endswith("whatsapp-diagnostics")
    async with http.get(f"{guarded.url}/") as res:  # as a browser follows it
        assert res.status == 200 and res.content_type == "text/html"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:1"},  # same site, other port: still another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
@pytest.mark.parametrize("verb", ["smart-initialize", "reconnect", "cleanup", "clear"])
async def test_cross_site_posts_are_refused_before_the_manager(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession, headers: dict[str, str], verb: str
) -> None:
    status, body, _ = await call(http, "POST", f"{server.url}/api/whatsapp/{verb}", headers=headers)
    assert status == 403 and "cross-site" in body["error"]
    assert manager.calls == []


async def test_same_origin_posts_are_accepted(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession
) -> None:
    headers = {"Origin": server.url, "Sec-Fetch-Site": "same-origin"}
    status, _, _ = await call(http, "POST", f"{server.url}/api/whatsapp/cleanup", headers=headers)
    assert status == 200 and manager.calls == [("cleanup", {})]


async def test_without_a_token_a_foreign_host_name_is_refused(
    server: ApiServer, http: aiohttp.ClientSession, manager: FakeSession
) -> None:
    # DNS rebinding: evil.example resolved to 127.0.0.1 for a page the operator has open.
    headers = {"Host": f"evil.example:{server.port}"}
    for method, path in (("GET", "/api/whatsapp/session-info"), ("POST", "/api/whatsapp/clear")):
        status, body, _ = await call(http, method, server.url + path, headers=headers)
        assert status == 403 and "Host" in body["error"]
    assert manager.calls == []
    status, _, _ = await call(
        http, "GET", f"{server.url}/api/whatsapp/session-info", headers={"Host": f"localhost:{server.port}"}
    )
    assert status == 200


async def test_head_on_the_event_stream_is_refused(server: ApiServer, http: aiohttp.ClientSession) -> None:
    async with http.head(f"{server.url}/api/whatsapp/events") as res:
        assert res.status == 405
    async with http.head(f"{server.url}/api/whatsapp/session-info") as res:
        assert res.status == 200
