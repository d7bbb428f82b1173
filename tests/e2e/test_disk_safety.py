"""Nothing lost: --demo never touches the real session, cleanup never reaches through a link, and a
damaged or absent login is seen from the disk alone, before Chromium rewrites it (issue 9, items 1-4, 9).

The profiles are real Chromium ones; the damage is done to the bytes on disk the way a crash, a full disk
or a bad copy does it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.core import sim_config, started_manager
from tests.support.layout import CLIENT_ID, run_page_on_profile
from watui.cli import main
from watui.config import load_config
from watui.core.disk.cleanup import Removable, remove_items
from watui.core.disk.login import stored_login
from watui.core.disk.store import SessionStore
from watui.core.errors import UnsafePathError
from watui.core.models import PROBLEM_CORRUPT, PROBLEM_NO_LOGIN
from watui.core.models import ConnectionState as S
from watui.sim.server import Simulator

if TYPE_CHECKING:
    from tests.support.layout import ConfigWriter, SessionLayout

pytestmark = pytest.mark.browser

# Written out here, not taken from watui's own tables: the test must not agree with a wrong table.
WA_DB = "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb"
LOCAL_STORAGE = "Default/Local Storage/leveldb"

# A page like WhatsApp Web before a scan: it opens its IndexedDB and keeps settings, but no account.
NEVER_SCANNED = """<!doctype html><script>
localStorage.setItem('WALangPref', '"en"');
const open = indexedDB.open('wawc', 1);
open.onupgradeneeded = () => open.result.createObjectStore('user');
open.onsuccess = () => { open.result.close(); document.title = 'stored'; };
</script>"""
# What a logout from the phone does to the page's storage: the account goes.
LOGGED_OUT = """<!doctype html><script>
localStorage.removeItem('last-wid-md');
document.title = 'stored';
</script>"""
# Opened again with more to keep: at the next open LevelDB turns the log of the run before into a table.
REOPENED = """<!doctype html><script>
localStorage.setItem('WAWebRecentEmoji', 'x'.repeat(200000));
document.title = localStorage.getItem('last-wid-md') ? 'stored' : 'lost';
</script>"""


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def garble(path: Path, seed: int) -> None:
    """Replace every byte with noise, keeping the size: what a bad sector or a torn copy leaves."""
    path.write_bytes(random.Random(seed).randbytes(path.stat().st_size))


@pytest.fixture(scope="session")
def reopened_template(
    chromium_profile_template: Path, chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The logged-in template opened once more by Chromium: its Local Storage now has tables beside a log."""
    folder = tmp_path_factory.mktemp("reopened") / "profile"
    shutil.copytree(chromium_profile_template, folder, symlinks=True)
    for _ in range(2):
        run_page_on_profile(chromium_path, folder, REOPENED)
    return folder


@pytest.fixture
def reopened_layout(session_layout: SessionLayout, reopened_template: Path) -> SessionLayout:
    shutil.rmtree(session_layout.profile)
    shutil.copytree(reopened_template, session_layout.profile, symlinks=True)
    return session_layout


# -- item 1: --demo means the demo session in every command ---------------------------------------
def test_demo_disk_commands_act_on_the_demo_session_never_the_real_one(
    session_layout: SessionLayout,
    chromium_profile_template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    demo_root = tmp_path / "state" / "watui" / "demo" / "session"
    demo_profile = demo_root / f"session-{CLIENT_ID}"
    real = session_layout.profile
    (real / "Default" / "Cache").mkdir(exist_ok=True)
    (real / "Default" / "Cache" / "data_0").write_bytes(os.urandom(8192))
    before = digest(real)
    cfg = str(session_layout.config_path)

    code, out, _ = run(capsys, "info", "--json", "--demo", "--config", cfg)
    assert code == 1 and json.loads(out)["session"]["path"] == str(demo_profile)

    demo_root.mkdir(parents=True)
    shutil.copytree(chromium_profile_template, demo_profile, symlinks=True)
    (demo_profile / "Default" / "Cache").mkdir(exist_ok=True)
    (demo_profile / "Default" / "Cache" / "data_0").write_bytes(os.urandom(8192))
    code, out, err = run(capsys, "clean", "--demo", "--config", cfg)
    assert code == 0, err
    assert not (demo_profile / "Default" / "Cache").exists()

    code, out, err = run(capsys, "clear", "--yes", "--purge", "--demo", "--config", cfg)
    assert code == 0, err
    assert str(demo_profile) in out and not demo_profile.exists()
    assert digest(real) == before  # the real session: every byte as it was, its cache too


# -- item 2: cleanup never reaches through a linked profile -----------------------------------------
def test_clean_refuses_a_profile_that_links_outside_session_path(
    tmp_path: Path, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "R"
    root.mkdir()
    (root / ".watui-session").write_text("watui\n")
    victim = tmp_path / "victim"
    for rel in ("Crashpad/report.dmp", "ShaderCache/data_1", "Default/Cache/data_0", "docs/deep/report.tmp"):
        (victim / rel).parent.mkdir(parents=True, exist_ok=True)
        (victim / rel).write_bytes(os.urandom(1024))
    os.symlink("../victim", root / f"session-{CLIENT_ID}")
    before = digest(victim)
    cfg = write_config(session_path="R", client_id=CLIENT_ID)

    code, out, err = run(capsys, "clean", "--config", str(cfg))
    assert code == 2, out + err
    assert len(err.strip().splitlines()) == 1 and str(root / f"session-{CLIENT_ID}") in err
    assert "outside session_path" in err and "Traceback" not in err
    assert digest(victim) == before

    # The same cleanup runs before every browser start: it refuses there too, and so does the remover.
    with pytest.raises(UnsafePathError):
        SessionStore(load_config(cfg)).cleanup()
    with pytest.raises(UnsafePathError):
        remove_items(root / f"session-{CLIENT_ID}", [Removable("Crashpad", 4096, "cache")])
    assert digest(victim) == before


# -- item 3: damaged LevelDB contents are seen before launch -----------------------------------------
def _manifest(db: Path) -> Path:
    return db / (db / "CURRENT").read_text().strip()


def _a_log(db: Path) -> Path:
    log = max(db.glob("*.log"), key=lambda p: p.stat().st_size)  # the one with records: a new log may be empty
    assert log.stat().st_size > 100, f"{log} holds no records to damage"
    return log


def _a_table(db: Path) -> Path:
    return sorted(db.glob("*.ldb"))[0]


@pytest.mark.parametrize(
    ("db", "pick", "fixture"),
    [
        (WA_DB, _manifest, "session_layout"),
        (LOCAL_STORAGE, _manifest, "session_layout"),
        (WA_DB, _a_log, "session_layout"),
        (LOCAL_STORAGE, _a_log, "session_layout"),
        (LOCAL_STORAGE, _a_table, "reopened_layout"),
    ],
    ids=["idb-manifest", "ls-manifest", "idb-log", "ls-log", "ls-table"],
)
def test_garbled_leveldb_files_are_damage(
    request: pytest.FixtureRequest,
    db: str,
    pick: Callable[[Path], Path],
    fixture: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    layout: SessionLayout = request.getfixturevalue(fixture)
    target = pick(layout.profile / db)
    garble(target, seed=len(target.name))
    report = SessionStore(layout.config()).inspect()
    assert not report.is_valid and report.problems[0] == PROBLEM_CORRUPT, report.validation_details
    assert f"LevelDB damaged: {db}: " in report.validation_details and target.name in report.validation_details
    code, out, _ = run(capsys, "info", "--config", str(layout.config_path))
    assert code == 1 and "✖ not valid" in out and "watui clear" in out


def test_a_sound_profile_with_tables_is_valid_and_its_login_is_read_from_a_table(
    reopened_layout: SessionLayout,
) -> None:
    ls = reopened_layout.profile / LOCAL_STORAGE
    assert list(ls.glob("*.ldb")), "Chromium turned no log into a table: the test profile is not what it expects"
    assert not any(b"last-wid-md" in p.read_bytes() for p in ls.glob("*.log"))  # only in a table now
    report = SessionStore(reopened_layout.config()).inspect()
    assert report.is_valid, report.validation_details
    assert stored_login(reopened_layout.profile)


def test_a_log_cut_short_mid_write_is_not_damage(reopened_layout: SessionLayout) -> None:
    log = _a_log(reopened_layout.profile / WA_DB)
    os.truncate(log, log.stat().st_size - 100)  # a crash in the middle of the last write
    report = SessionStore(reopened_layout.config()).inspect()
    assert report.is_valid, report.validation_details


@pytest.mark.parametrize("db", [WA_DB, LOCAL_STORAGE])
def test_a_log_cut_short_is_cut_back_before_chromium_appends_to_it(
    session_layout: SessionLayout, chromium_path: Path, db: str
) -> None:
    profile = session_layout.profile
    log = _a_log(profile / db)
    whole = log.read_bytes()
    os.truncate(log, len(whole) - 5)  # `truncate -s -5`: the last write of a crash
    store = SessionStore(session_layout.config())
    assert PROBLEM_CORRUPT not in store.inspect().problems  # a torn tail is not damage ...
    report = store.cleanup()  # ... but the step before every browser start cuts it back
    run_page_on_profile(chromium_path, profile)  # Chromium opens the folder and appends to that log
    after = store.inspect()
    assert after.is_valid, after.validation_details  # the records written after the cut read back
    assert stored_login(profile)
    assert f"cut the torn last write of {db}/{log.name}" in report.message
    (kept_dir,) = (session_layout.root / ".quarantine").glob(f"{profile.name}-torn-*")
    kept = kept_dir / db / log.name
    cut_at = len(kept.read_bytes())
    assert log.read_bytes()[: len(whole) - 5 - cut_at] + kept.read_bytes() == whole[:-5]  # nothing lost
    assert (kept.stat().st_mode & 0o777) == 0o600


def test_a_zeroed_log_header_is_damage_not_a_missing_login(session_layout: SessionLayout) -> None:
    # LevelDB skips the rest of a block from a zeroed record header on, without a word: the login's
    # records in it would be gone, and the profile would look never linked.
    log = _a_log(session_layout.profile / LOCAL_STORAGE)
    data = bytearray(log.read_bytes())
    data[:7] = bytes(7)
    log.write_bytes(bytes(data))
    report = SessionStore(session_layout.config()).inspect()
    assert report.problems[0] == PROBLEM_CORRUPT, report.validation_details
    assert f"LevelDB damaged: {LOCAL_STORAGE}: {log.name}: zeroed record header at byte 0" in report.validation_details


def test_one_flipped_byte_in_a_table_block_is_damage(reopened_layout: SessionLayout) -> None:
    table = _a_table(reopened_layout.profile / LOCAL_STORAGE)
    data = bytearray(table.read_bytes())
    first_block_size = _first_block_size(bytes(data))
    assert first_block_size > 64, "the table's first data block is too small to damage inside"
    data[first_block_size // 2] ^= 0x01  # one bit, inside the first data block's body
    table.write_bytes(bytes(data))
    report = SessionStore(reopened_layout.config()).inspect()
    assert report.problems[0] == PROBLEM_CORRUPT, report.validation_details
    assert f"{table.name}: checksum mismatch in the block at byte 0" in report.validation_details


def _first_block_size(table: bytes) -> int:
    """The size of a table's first data block, read from its index block (doc/table_format.md), written out
    here rather than taken from watui's reader."""

    def varint(buf: bytes, pos: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = buf[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value, pos
            shift += 7

    assert table[-8:] == bytes.fromhex("57fb808b247547db"), "not a LevelDB table (magic number)"
    pos = len(table) - 48
    _, pos = varint(table, pos)  # metaindex offset, size
    _, pos = varint(table, pos)
    index_offset, pos = varint(table, pos)
    _, pos = varint(table, pos)
    # The index's first entry: shared (0), unshared, value length, key, then the handle: offset, size.
    _, p = varint(table, index_offset)
    unshared, p = varint(table, p)
    _, p = varint(table, p)
    offset, p = varint(table, p + unshared)
    size, _ = varint(table, p)
    assert offset == 0
    return size


# -- item 4: a login is what a login leaves ------------------------------------------------------------
@pytest.mark.parametrize("page", [NEVER_SCANNED, LOGGED_OUT], ids=["never-scanned", "logged-out"])
def test_a_profile_without_an_account_needs_a_qr_and_says_so(
    session_layout: SessionLayout,
    chromium_path: Path,
    page: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if page is NEVER_SCANNED:
        shutil.rmtree(session_layout.profile)
    run_page_on_profile(chromium_path, session_layout.profile, page)
    assert (session_layout.profile / WA_DB).is_dir()  # WhatsApp's IndexedDB is there all the same
    report = SessionStore(session_layout.config()).inspect()
    assert report.problems == (PROBLEM_NO_LOGIN,), report.validation_details
    code, out, _ = run(capsys, "info", "--config", str(session_layout.config_path))
    assert code == 1
    assert "login stored" not in out.replace("no WhatsApp login stored", "")
    assert "without a QR" not in out and "scan the QR" in out


async def test_a_logout_from_the_phone_leaves_a_session_that_needs_a_qr(tmp_path: Path, sim: Simulator) -> None:
    config = sim_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        assert (await manager.smart_initialize()).needs_qr
        await sim.scan()
        await rec.state(S.CONNECTED)
    assert SessionStore(config).inspect().is_valid  # a real login, as the page left it
    async with started_manager(config) as (manager, rec):
        assert (await manager.smart_initialize()).success
        await sim.logout()
        await rec.state(S.UNPAIRED)
    report = SessionStore(config).inspect()
    assert report.problems == (PROBLEM_NO_LOGIN,), report.validation_details


# -- items 3 and 9: init quarantines a byte-identical copy before Chromium touches it, and says so --------
def test_init_moves_a_damaged_session_aside_as_it_was_and_says_where(
    chromium_profile_template: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    root = state / "watui" / "demo" / "session"
    profile = root / "session-whatsapp-automation-pro"
    root.mkdir(parents=True)
    shutil.copytree(chromium_profile_template, profile, symlinks=True)
    for seed, db in enumerate((WA_DB, LOCAL_STORAGE)):
        garble(_manifest(profile / db), seed)
    damaged = digest(profile)
    env = {**os.environ, "XDG_STATE_HOME": str(state), "XDG_CONFIG_HOME": str(tmp_path / "no-config")}
    done = subprocess.run(
        [sys.executable, "-m", "watui", "init", "--demo", "--json", "--timeout", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr  # a new QR is needed: the login was damaged
    result = json.loads(done.stdout)
    moved = Path(result["quarantined"]["movedTo"])
    assert moved.parent == root / ".quarantine" and "LevelDB damaged" in result["quarantined"]["reason"]
    assert f"moved it, as it was, to {moved}" in done.stderr
    kept = digest(moved)
    kept.pop("WATUI-QUARANTINE.txt")
    assert kept == damaged  # byte for byte what was on disk before Chromium ran
