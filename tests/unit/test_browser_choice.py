"""Which browser watui drives, and with which flags: real files on disk, no browser started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from watui.config import DESKTOP_USER_AGENT, Config
from watui.core.browser.chromium import find_browser, launch_args
from watui.core.browser.driver import decode_qr


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_headless_prefers_playwrights_headless_shell_then_its_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    chrome = executable(tmp_path / "chromium-1200" / "chrome-linux" / "chrome")
    shell = executable(tmp_path / "chromium_headless_shell-1200" / "chrome-linux" / "headless_shell")
    assert find_browser("", headless=True) == shell
    assert find_browser("", headless=False) == chrome  # a window needs the full browser
    mine = executable(tmp_path / "mine" / "chrome")
    assert find_browser(str(mine), headless=True) == mine  # [browser] executable always wins


@pytest.mark.skipif(not os.access("/usr/lib/chromium/chromium-headless-shell", os.X_OK),
                    reason="Debian's chromium-headless-shell is not installed")  # fmt: skip
def test_headless_uses_debians_headless_shell_binary_not_its_wrapper_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "none"))
    # /usr/bin/chromium-headless-shell is a script that does not exec: a kill would hit the shell.
    assert find_browser("", headless=True) == Path("/usr/lib/chromium/chromium-headless-shell")


def test_launch_flags_hide_automation_and_keep_the_cache_small() -> None:
    args = launch_args(Config())
    assert "--disable-blink-features=AutomationControlled" in args
    assert f"--disk-cache-size={1024 * 1024}" in args
    assert "HeadlessChrome" not in DESKTOP_USER_AGENT and "Chrome/" in DESKTOP_USER_AGENT


def test_pixels_decode_a_qr_as_drawn_without_adding_a_border(tmp_path: Path) -> None:
    import io

    import segno

    out = io.BytesIO()
    segno.make_qr("2@ref,static,identity,adv,WEB", error="l").save(out, kind="png", scale=7, border=2)
    assert decode_qr(out.getvalue()) == "2@ref,static,identity,adv,WEB"
    blank = io.BytesIO()
    from PIL import Image

    Image.new("L", (200, 200), 255).save(blank, format="PNG")
    assert decode_qr(blank.getvalue()) is None
