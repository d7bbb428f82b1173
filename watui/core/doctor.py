"""``watui doctor``: launch the browser on the session, run every probe of every channel, keep the evidence.

On a free session it takes the owner lock, as any owner does, and launches its own browser
(:func:`run_doctor`); beside a running owner, the owner probes the page its own browser shows
(:func:`probe_page`, through ``SessionManager.doctor`` and the API). The answer says, per channel,
whether it recognises the page, and every probe's result; the same evidence folder as an unrecognised
page gets is written under ``<session_path>/diagnostics/``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watui.config import Config
from watui.core.browser.contract import CHANNELS, PageReport
from watui.core.browser.driver import BrowserDriver
from watui.core.disk.evidence import save_evidence
from watui.core.disk.store import SessionStore
from watui.core.models import ConnectionState

S = ConnectionState
# States after which the page will not change by itself: enough to conclude.
_SETTLED = frozenset({S.CONNECTED, S.UNPAIRED, S.UNPAIRED_IDLE, S.CONFLICT, S.BLOCKED, S.TIMEOUT})


@dataclass(frozen=True)
class DoctorReport:
    detection: str | None  # the channel that recognises the page (None: none)
    state: str
    qr: str | None
    probes: list[dict[str, Any]]
    conclusions: dict[str, str]
    evidence: Path | None
    browser: str | None
    user_agent: str = ""
    wa_version: str | None = None
    url: str = ""
    messages: list[str] = field(default_factory=list)

    @property
    def recognised(self) -> bool:
        return self.detection is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "recognised": self.recognised,
            "detection": self.detection,
            "state": self.state,
            "qr": self.qr,
            "channels": self.conclusions,
            "probes": self.probes,
            "evidence": str(self.evidence) if self.evidence else None,
            "browser": self.browser,
            "userAgent": self.user_agent,
            "debugVersion": self.wa_version,
            "url": self.url,
        }


def _conclusions(probes: list[dict[str, Any]], detection: str | None, state: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for channel in CHANNELS:
        matched = [p["probe"] for p in probes if p.get("channel") == channel and p.get("matched")]
        if detection == channel:
            out[channel] = f"recognises the page: {state}"
        elif matched:
            out[channel] = f"partly matches ({', '.join(matched[:4])}) but does not decide"
        else:
            out[channel] = "recognises nothing"
    if detection == "pixels":
        out["pixels"] = "reads the QR from the screen"
    return out


async def run_doctor(config: Config) -> DoctorReport:
    """Launch, wait for the page to settle (at most ``session_timeout_ms``), probe, save the evidence."""
    store = SessionStore(config)
    owner = await asyncio.to_thread(store.acquire_owner)  # SessionBusyError when the session is in use
    reports: list[PageReport] = []
    changed = asyncio.Event()

    def on_report(report: PageReport) -> None:
        reports.append(report)
        changed.set()

    driver = BrowserDriver(config, on_report, lambda _why: changed.set())
    try:
        await driver.launch()
        with contextlib.suppress(Exception):  # a page that fails to load is what the doctor reports on
            await driver.open()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + config.session.session_timeout_ms / 1000
        while driver.running and loop.time() < deadline:
            if reports and reports[-1].detection is not None and reports[-1].state in _SETTLED:
                break
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), deadline - loop.time())
        last = reports[-1] if reports else None
        return await probe_page(
            config,
            driver,
            detection=last.detection if last else None,
            state=last.state.value if last and last.detection else "UNRECOGNISED",
            qr=last.qr if last else None,
        )
    finally:
        await driver.close()
        await asyncio.to_thread(owner.release)


async def probe_page(
    config: Config, driver: BrowserDriver, *, detection: str | None, state: str, qr: str | None
) -> DoctorReport:
    """Every probe of every channel on the page ``driver`` shows now, and its evidence saved."""
    probes = await driver.probe() if driver.running else []
    evidence = await driver.collect_evidence() if driver.running else None
    folder = await asyncio.to_thread(save_evidence, config.session_root, evidence) if evidence else None
    return DoctorReport(
        detection=detection,
        state=state,
        qr=qr,
        probes=probes,
        conclusions=_conclusions(probes, detection, state),
        evidence=folder,
        browser=str(driver.executable) if driver.executable else None,
        user_agent=evidence.user_agent if evidence else "",
        wa_version=evidence.wa_version if evidence else None,
        url=evidence.url if evidence else "",
    )
