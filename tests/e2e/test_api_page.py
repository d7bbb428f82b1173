"""The diagnostics page in a real headless Chromium, served over a real socket from a FakeSession."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import zxingcpp
from PIL import Image
from playwright.async_api import Browser, Dialog, Page, async_playwright, expect

from tests.support.api import QR_PAYLOAD, connected_info, running_api, unpaired_info, wait_for
from tests.support.fakes import FakeSession
from watui.api.app import ApiServer
from watui.core.errors import ActionUnavailable
from watui.core.events import HINT_TAKEOVER
from watui.core.models import ConnectionState

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

TOKEN = "page-test-token"
BROWSER_ARGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    args = BROWSER_ARGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(chromium_path), headless=True, args=args)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture
def manager() -> FakeSession:
    return FakeSession(connected_info())


@pytest_asyncio.fixture(loop_scope="module")
async def server(manager: FakeSession) -> AsyncIterator[ApiServer]:
    async with running_api(manager) as api:
        yield api


@pytest_asyncio.fixture(loop_scope="module")
async def guarded(manager: FakeSession) -> AsyncIterator[ApiServer]:
    async with running_api(manager, token=TOKEN) as api:
        yield api


async def open_page(page: Page, api: ApiServer, suffix: str = "") -> None:
    await page.goto(f"{api.url}/whatsapp-diagnostics{suffix}")


async def test_the_page_shows_session_connection_and_recommendations(page: Page, server: ApiServer) -> None:
    await open_page(page, server)
    await expect(page.locator("#state")).to_have_text("CONNECTED")
    await expect(page.locator("#state-glyph")).to_have_text("●")
    await expect(page.locator("#live")).to_have_attribute("data-live", "live")
    await expect(page.locator("#healthy")).to_have_text("✔ yes")
    await expect(page.locator("#session-path")).to_have_text("/srv/wa/session-x")
    await expect(page.locator("#session-size")).to_have_text("75.0 MB of 200.0 MB allowed")
    await expect(page.locator("#browser")).to_contain_text("pid 4242")
    await expect(page.locator("#recommendation-list")).to_have_text("✔ Nothing to do.")
    await expect(page.locator("#qr-box")).to_be_hidden()
    # Text from the session is shown as text, never run as HTML.
    await expect(page.locator("#account")).to_have_text("Ops <b>desk</b> · +15550001234")
    assert await page.locator("#account b").count() == 0


async def test_the_page_follows_the_event_stream_and_shows_a_scannable_qr(
    page: Page, server: ApiServer, manager: FakeSession
) -> None:
    await open_page(page, server)
    await expect(page.locator("#live")).to_have_attribute("data-live", "live")
    await wait_for(lambda: len(manager.streams) == 1, what="the page to subscribe")
    manager.set_info(unpaired_info())
    manager.publish("state", state=ConnectionState.UNPAIRED)
    manager.publish("qr", qr=QR_PAYLOAD)
    await expect(page.locator("#state")).to_have_text("UNPAIRED")
    await expect(page.locator("#recommendation-list")).to_contain_text("Scan the QR code")
    await expect(page.locator("#btn-init")).to_have_class("recommended")
    qr = page.locator("#qr")
    await expect(qr).to_be_visible()
    await expect(qr).to_have_attribute("data-payload", QR_PAYLOAD)
    await page.wait_for_function("document.getElementById('qr').naturalWidth > 0")
    shot = Image.open(io.BytesIO(await qr.screenshot()))
    assert [code.text for code in zxingcpp.read_barcodes(shot)] == [QR_PAYLOAD]
    await expect(page.locator("#events li").first).to_contain_text("qr new code")
    # Scanned: the QR goes away.
    manager.set_info(connected_info())
    manager.publish("state", state=ConnectionState.CONNECTED)
    await expect(page.locator("#state")).to_have_text("CONNECTED")
    await expect(page.locator("#qr-box")).to_be_hidden()


async def test_a_button_press_reaches_the_manager(page: Page, server: ApiServer, manager: FakeSession) -> None:
    await open_page(page, server)
    await expect(page.locator("#state")).to_have_text("CONNECTED")
    await page.click("#btn-reconnect")
    await expect(page.locator("#result")).to_have_text("reconnect: Connected to WhatsApp Web")
    assert [name for name, _ in manager.calls] == ["reconnect"]


async def test_clear_asks_first_and_does_nothing_when_dismissed(
    page: Page, server: ApiServer, manager: FakeSession
) -> None:
    answers = iter([False, True])
    questions: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await (dialog.accept() if next(answers) else dialog.dismiss())

    page.on("dialog", on_dialog)
    await open_page(page, server)
    await expect(page.locator("#state")).to_have_text("CONNECTED")
    await page.click("#btn-clear")
    await wait_for(lambda: len(questions) == 1, what="the confirmation")
    await expect(page.locator("#result")).to_have_text("No action yet.")
    assert manager.calls == []
    await page.click("#btn-clear")
    await expect(page.locator("#result")).to_have_text("clear: moved to quarantine")
    assert manager.calls == [("clear", {"purge": False})]
    assert "quarantine" in questions[0]


async def test_a_refused_action_shows_why(page: Page, server: ApiServer, manager: FakeSession) -> None:
    manager.fail["cleanup"] = ActionUnavailable("cannot cleanup now: 'initialize' is running")
    await open_page(page, server)
    await page.click("#btn-cleanup")
    await expect(page.locator("#result")).to_have_text("cleanup: cannot cleanup now: 'initialize' is running")
    await expect(page.locator("#result")).to_have_attribute("data-status", "error")


async def test_with_a_token_the_page_asks_for_it_then_works(
    page: Page, guarded: ApiServer, manager: FakeSession
) -> None:
    await open_page(page, guarded)
    await expect(page.locator("#token-box")).to_be_visible()
    await expect(page.locator("#live")).to_have_attribute("data-live", "token")
    await page.fill("#token-input", TOKEN)
    await page.click("#token-save")
    await expect(page.locator("#state")).to_have_text("CONNECTED")
    await expect(page.locator("#token-box")).to_be_hidden()
    await expect(page.locator("#live")).to_have_attribute("data-live", "live")
    await page.click("#btn-cleanup")
    await expect(page.locator("#result")).to_have_text("cleanup: freed 3.0 MB")
    assert manager.calls == [("cleanup", {})]
    # Kept for this tab: a reload needs no new token.
    await page.reload()
    await expect(page.locator("#state")).to_have_text("CONNECTED")
    await expect(page.locator("#token-box")).to_be_hidden()


async def test_a_token_in_the_fragment_is_taken_and_removed_from_the_address(page: Page, guarded: ApiServer) -> None:
    await open_page(page, guarded, f"#token={TOKEN}")
    await expect(page.locator("#state")).to_have_text("CONNECTED")
    assert TOKEN not in page.url
    await page.click("#token-forget")
    await expect(page.locator("#token-box")).to_be_visible()


async def test_a_wrong_token_keeps_asking(page: Page, guarded: ApiServer, manager: FakeSession) -> None:
    await open_page(page, guarded, "#token=wrong")
    await expect(page.locator("#token-box")).to_be_visible()
    await expect(page.locator("#state")).to_have_text("…")
    await page.click("#btn-clear", trial=True)
    assert manager.calls == []


async def test_a_verb_that_cannot_act_is_greyed_out_with_the_reason(
    page: Page, server: ApiServer, manager: FakeSession
) -> None:
    manager.busy_verb = "cleanup"
    manager.allowed -= {"cleanup", "clear"}
    await open_page(page, server)
    await expect(page.locator("#busy")).to_have_text("◌ running: cleanup — other actions wait for it")
    await expect(page.locator("#btn-clear")).to_be_disabled()
    await expect(page.locator("#btn-cleanup")).to_be_disabled()
    await expect(page.locator("#btn-reconnect")).to_be_enabled()
    # The verb finished: the next event brings the buttons back.
    await wait_for(lambda: len(manager.streams) == 1, what="the page to subscribe")
    manager.busy_verb = None
    manager.allowed |= {"cleanup", "clear"}
    manager.publish("action", data={"verb": "cleanup", "phase": "done"})
    await expect(page.locator("#btn-clear")).to_be_enabled()
    await expect(page.locator("#busy")).to_be_hidden()


async def test_an_alert_event_is_logged_with_its_rule_and_status(
    page: Page, server: ApiServer, manager: FakeSession
) -> None:
    await open_page(page, server)
    await wait_for(lambda: len(manager.streams) == 1, what="the page to subscribe")
    data = {"alert": "qr_needed", "status": "firing", "session": "bot", "state": "UNPAIRED"}
    manager.publish("alert", message="logged out: scan a new QR", data=data)
    entry = page.locator("#events li[data-type=alert]").first
    await expect(entry).to_contain_text("alert ⚑ qr_needed firing: logged out: scan a new QR")


async def test_a_conflict_says_how_to_take_over_in_the_pages_words(
    page: Page, server: ApiServer, manager: FakeSession
) -> None:
    # The core gives the hint's kind, not words: the page names its own button (the dashboard its r key).
    await open_page(page, server)
    await wait_for(lambda: len(manager.streams) == 1, what="the page to subscribe")
    manager.publish("error", message="WhatsApp is open in another window", data={"hint": HINT_TAKEOVER})
    entry = page.locator("#events li[data-type=error]").first
    await expect(entry).to_contain_text("error WhatsApp is open in another window; press Reconnect to take over")
