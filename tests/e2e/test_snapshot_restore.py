"""Restoring a login snapshot without ever losing the profile: a full disk, a bomb of a member, a forged or
damaged snapshot, a malformed sidecar, a crash half-way, another watui on the session. Real files, a real
small filesystem (tmpfs, as root), real processes killed with real signals.

Also the snapshot folder's own safety: a full folder named in the error, a key written all or nothing, a
FIFO for a key refused, the atomic writer, plaintext never spooled to disk, no snapshot of a profile
without a login."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pyrage
import pytest

from tests.support.layout import SessionLayout, run_page_on_profile
from watui.cli import main
from watui.core import snapshots as sn
from watui.core.disk.login import stored_login
from watui.core.disk.store import SessionStore
from watui.core.snapshots import archive, atomic, restoring

# Written out here, not taken from watui's tables: the test must not agree with a wrong table.
WA_DB = "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb"
LOCAL_STORAGE = "Default/Local Storage/leveldb"
ACCOUNT = "15550001111:1@c.us"
LOGGED_OUT = """<!doctype html><script>
localStorage.removeItem('last-wid-md');
document.title = 'stored';
</script>"""


# -- helpers ----------------------------------------------------------------------------------------
def digest(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: files by content, folders and links by kind (what a user would lose)."""
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def keygen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    key = tmp_path / "keys" / "id.txt"
    assert main(["keygen", str(key)]) == 0
    capsys.readouterr()
    return key


def with_key(layout: SessionLayout, key: Path, extra: str = "") -> None:
    text = layout.config_path.read_text()
    layout.config_path.write_text(text + f'\n[snapshots]\nidentity = "{key}"\n{extra}')


def backup(layout: SessionLayout, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code, out, err = run(capsys, "backup", "--json", "--config", str(layout.config_path))
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def sidecar_of(shown: dict[str, object]) -> Path:
    path = Path(str(shown["path"]))
    return path.with_name(path.name.replace(".tar.gz.age", ".json"))


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if ".restore-" in p.name)


def forge(layout: SessionLayout, key: Path, add: Callable[[tarfile.TarFile], None], stamp: str) -> Path:
    """A snapshot as someone who can write into the snapshot folder would forge one: the real login, plus
    whatever ``add`` puts in the tar, encrypted to this machine's key, with a sidecar saying "verified"."""
    copy = sn.copy_login(layout.profile)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for rel, data in sorted(copy.files.items()):
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add(tar)
    return place(layout, key, buffer.getvalue(), stamp)


def place(layout: SessionLayout, key: Path, plaintext: bytes, stamp: str, plain_bytes: int = 1000) -> Path:
    folder = layout.root / ".snapshots"
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / f"testbot-{stamp}.tar.gz.age"
    target.write_bytes(pyrage.encrypt(plaintext, [sn.read_identity(key).to_public()]))
    target.chmod(0o600)
    sidecar = {"createdAt": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z",
               "bytes": target.stat().st_size, "plainBytes": plain_bytes, "files": 9, "account": ACCOUNT,
               "verified": True, "verifiedBy": "decrypt", "source": "closed", "revoked": False}  # fmt: skip
    target.with_name(target.name.replace(".tar.gz.age", ".json")).write_text(json.dumps(sidecar))
    return target


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``small_disk(kib)``: a real filesystem of that size (tmpfs), unmounted at the end; root only."""
    mounts: list[Path] = []

    def mount(kib: int) -> Path:
        where = tmp_path / f"disk{len(mounts)}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k,mode=0700", "tmpfs", str(where)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
        mounts.append(where)
        return where

    yield mount
    for where in reversed(mounts):
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` up, leaving about ``leave`` bytes free."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    filler = disk / "filler"
    with open(filler, "ab") as fh:
        fh.write(b"\0" * max(0, free - leave))
    while True:  # what is left, byte by byte rounding aside
        st = os.statvfs(disk)
        if st.f_bavail * st.f_frsize <= leave:
            break
        with open(filler, "ab") as fh:
            fh.write(b"\0" * 4096)
    return filler


def layout_on(disk: Path, layout: SessionLayout) -> SessionLayout:
    """``layout``'s session moved onto ``disk`` (its snapshots stay on the big disk: [snapshots] dir)."""
    root = disk / "sessions"
    root.mkdir(mode=0o700)
    profile = root / layout.profile.name
    shutil.copytree(layout.profile, profile, symlinks=True)
    config = layout.config_path.parent / "small.toml"
    snaps = layout.root / ".snapshots"
    text = layout.config_path.read_text().replace('session_path = "sessions"', f'session_path = "{root}"')
    config.write_text(text + f'dir = "{snaps}"\n')
    return SessionLayout(root=root, profile=profile, config_path=config)


# -- item 2: a restore that fails leaves the profile exactly as it was ----------------------------------
def test_a_restore_on_a_full_disk_is_refused_and_leaves_the_profile_as_it_was(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], small_disk: Callable[[int], Path]
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    size = sum(p.stat().st_size for p in session_layout.profile.rglob("*") if p.is_file())
    disk = small_disk(size // 1024 + 4096)
    small = layout_on(disk, session_layout)
    shown = backup(small, capsys)
    assert Path(str(shown["path"])).parent == session_layout.root / ".snapshots"
    fill(disk, leave=64 * 1024)  # less than the login needs
    before = digest(small.profile)
    code, _, err = run(capsys, "restore", "--yes", "--config", str(small.config_path))
    assert code == 1
    assert "not enough free space" in err and str(small.root) in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert digest(small.profile) == before
    assert not (small.root / ".quarantine").exists()
    assert leftovers(small.root) == []
    assert stored_login(small.profile)


def test_a_restore_that_fails_half_way_leaves_the_profile_as_it_was(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    backup(session_layout, capsys)
    before = digest(session_layout.profile)
    real = restoring.write_member
    written: list[Path] = []

    def full_after_three(target: Path, data: io.BufferedReader) -> None:
        if len(written) == 3:  # the disk fills up under the restore (another program writes)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(target)
        real(target, data)

    monkeypatch.setattr(restoring, "write_member", full_after_three)
    code, _, err = run(capsys, "restore", "--yes", "--config", str(session_layout.config_path))
    assert code == 1 and "No space left on device" in err and str(session_layout.root) in err, err
    assert len(written) == 3
    assert digest(session_layout.profile) == before
    assert not (session_layout.root / ".quarantine").exists()
    assert leftovers(session_layout.root) == []


def test_a_restore_whose_last_rename_fails_moves_the_profile_back(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    backup(session_layout, capsys)
    before = digest(session_layout.profile)
    real = os.rename

    def refuse_the_swap(src: str | Path, dst: str | Path) -> None:
        if ".restore-ready-" in str(src) and Path(dst) == session_layout.profile:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "rename", refuse_the_swap)
    code, _, err = run(capsys, "restore", "--yes", "--config", str(session_layout.config_path))
    assert code == 1 and "Input/output error" in err, err
    assert digest(session_layout.profile) == before  # back, and without a quarantine note in it
    assert not list((session_layout.root / ".quarantine").iterdir())
    assert leftovers(session_layout.root) == []


# -- item 4: a bound on what a restore writes --------------------------------------------------------
@pytest.mark.parametrize("kind", ["large", "sparse"])
def test_a_snapshot_that_expands_past_the_size_limit_is_refused_before_the_profile_is_touched(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    text = session_layout.config_path.read_text()
    session_layout.config_path.write_text(text.replace("[session]\n", "[session]\nmax_session_size_mb = 2\n", 1))
    big = 64 * 1024 * 1024
    if kind == "large":

        def add(tar: tarfile.TarFile) -> None:
            info = tarfile.TarInfo(f"{LOCAL_STORAGE}/000099.ldb")
            info.size = big  # zeros: a few KB once compressed

            class Zeros(io.RawIOBase):
                def readable(self) -> bool:
                    return True

                def readinto(self, b: memoryview) -> int:  # type: ignore[override]
                    b[:] = bytes(len(b))
                    return len(b)

            tar.addfile(info, io.BufferedReader(Zeros()))

        forge(session_layout, key, add, "20261201-090000")
    else:  # GNU tar's sparse member: 64 MB of holes in a few bytes
        src = tmp_path / "sparse"
        (src / LOCAL_STORAGE).mkdir(parents=True)
        with open(src / LOCAL_STORAGE / "000099.ldb", "wb") as fh:
            fh.truncate(big)
        plain = subprocess.run(["tar", "-cSzf", "-", "-C", str(src), "Default"], check=True, capture_output=True)
        place(session_layout, key, plain.stdout, "20261201-090000")
    before = digest(session_layout.profile)
    code, _, err = run(capsys, "restore", "--yes", "--config", str(session_layout.config_path))
    assert code == 1 and "Traceback" not in err
    assert ("max_session_size_mb" in err) if kind == "large" else ("sparse" in err), err
    assert digest(session_layout.profile) == before
    assert leftovers(session_layout.root) == [] and not (session_layout.root / ".quarantine").exists()
    written = [p for p in session_layout.root.rglob("*") if p.is_file() and p.stat().st_size > 8 * 1024 * 1024]
    assert written == []


def test_a_sidecar_claiming_more_than_the_size_limit_is_refused_up_front(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    shown = backup(session_layout, capsys)
    sidecar = sidecar_of(shown)
    data = json.loads(sidecar.read_text())
    data["plainBytes"] = 10 * 1024 * 1024 * 1024  # a sidecar that says 10 GB is refused up front
    sidecar.write_text(json.dumps(data))
    code, _, err = run(capsys, "restore", "--yes", "--config", str(session_layout.config_path))
    assert code == 1 and "max_session_size_mb" in err, err


# -- item 5: the verified snapshots newest first; a bad one marked ------------------------------------
def test_a_damaged_newest_snapshot_is_marked_and_the_one_before_is_restored(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    older = backup(session_layout, capsys)
    newest = backup(session_layout, capsys)
    config = session_layout.config()
    sn.write_record(config, sn.RunRecord(connected=True, account=ACCOUNT))
    path = Path(str(newest["path"]))
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # a bad sector: same size, the sidecar cannot tell
    path.write_bytes(bytes(blob))
    SessionStore(config).ensure_root()  # as any watui run before left it: the root's marker file
    shutil.rmtree(session_layout.profile)
    keeper = sn.Keeper(config, SessionStore(config))  # what restore-before-QR uses
    snap = keeper.restorable()
    assert snap is not None and snap.id == newest["id"]
    report = keeper.restore(snap, "no session on disk")
    assert report.snapshot.id == older["id"]
    assert report.skipped and str(newest["id"]) in report.skipped[0]
    assert stored_login(session_layout.profile) and sn.account_on_disk(session_layout.profile) == ACCOUNT
    code, out, _ = run(capsys, "snapshots", "--config", str(session_layout.config_path))
    line = next(x for x in out.splitlines() if x.startswith(f"  {newest['id']}"))
    assert "NOT verified" in line and "decrypt" in line


def test_a_cut_short_snapshot_is_not_listed_as_verified_and_restore_takes_the_older_one(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    older = backup(session_layout, capsys)
    newest = backup(session_layout, capsys)
    Path(str(newest["path"])).write_bytes(b"")  # a full disk during a copy: 0 bytes
    code, out, _ = run(capsys, "snapshots", "--json", "--config", str(session_layout.config_path))
    listed = {s["id"]: s for s in json.loads(out)["snapshots"]}
    assert listed[newest["id"]]["verified"] is False and "0 bytes" in listed[newest["id"]]["problem"]
    assert listed[older["id"]]["verified"] is True
    SessionStore(session_layout.config()).ensure_root()
    shutil.rmtree(session_layout.profile)
    code, out, err = run(capsys, "restore", "--yes", "--json", "--config", str(session_layout.config_path))
    assert code == 0, err
    assert json.loads(out)["snapshot"]["id"] == older["id"]


# -- item 9: nothing outside the profile; only from a private folder ----------------------------------
def _climbing(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo(f"{WA_DB}/../../../../../evil.txt")
    info.size = 5
    tar.addfile(info, io.BytesIO(b"evil\n"))


def _symlink(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo(f"{LOCAL_STORAGE}/000123.log")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    tar.addfile(info)


def _hardlink(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo(f"{LOCAL_STORAGE}/000123.log")
    info.type, info.linkname = tarfile.LNKTYPE, "../../../evil.txt"
    tar.addfile(info)


def _device(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo(f"{LOCAL_STORAGE}/000123.log")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    tar.addfile(info)


def _file_as_folder(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("Local State/evil.txt")  # under a name the snapshot also holds as a file
    info.size = 5
    tar.addfile(info, io.BytesIO(b"evil\n"))


@pytest.mark.parametrize(
    "add",
    [_climbing, _symlink, _hardlink, _device, _file_as_folder],
    ids=["dotdot", "symlink", "hardlink", "device", "file-as-folder"],
)
def test_a_forged_snapshot_writes_nothing_outside_the_profile(
    session_layout: SessionLayout,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    add: Callable[[tarfile.TarFile], None],
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    forge(session_layout, key, add, "20261201-090000")
    before = digest(session_layout.profile)
    code, _, err = run(capsys, "restore", "--yes", "--config", str(session_layout.config_path))
    assert code == 1, err
    assert any(why in err for why in ("outside the profile", "only regular files", "also holds a folder")), err
    assert not list(tmp_path.rglob("evil.txt"))
    assert digest(session_layout.profile) == before
    assert leftovers(session_layout.root) == []
    listed = sn.list_snapshots(session_layout.config())
    assert not listed[0].verified  # marked: never tried again by itself


@pytest.mark.parametrize("how", ["mode", "owner"])
def test_a_snapshot_folder_others_can_write_is_never_unpacked(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    backup(session_layout, capsys)
    config = session_layout.config()
    sn.write_record(config, sn.RunRecord(connected=True, account=ACCOUNT))
    folder = session_layout.root / ".snapshots"
    keeper = sn.Keeper(config, SessionStore(config))
    assert keeper.restorable() is not None  # private: restore-before-QR would restore it
    if how == "mode":
        folder.chmod(0o777)
    else:
        os.chown(folder, os.geteuid() + 4242, -1)
    assert keeper.restorable() is None
    before = digest(session_layout.profile)
    code, _, err = run(capsys, "restore", "--yes", "--config", str(session_layout.config_path))
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert ("chmod go-w" in err) if how == "mode" else ("chown" in err), err
    assert str(folder) in err
    assert digest(session_layout.profile) == before


# -- item 10: the owner lock, and no plaintext on disk ----------------------------------------------
def test_restore_is_refused_while_another_watui_owns_the_session(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    backup(session_layout, capsys)
    request.getfixturevalue("other_owner")
    before = digest(session_layout.profile)
    code, _, err = run(capsys, "restore", "--yes", "--config", str(session_layout.config_path))
    assert code == 1 and "in use by watui" in err, err
    assert digest(session_layout.profile) == before
    assert not (session_layout.root / ".quarantine").exists()


class Inotify:
    """Which names were created, moved and deleted in some folders (Linux inotify, read after the fact)."""

    _IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200

    def __init__(self, folders: list[Path]) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0
        mask = self._IN_MOVED_FROM | self._IN_MOVED_TO | self._IN_CREATE | self._IN_DELETE
        self.folders = {self._libc.inotify_add_watch(self.fd, str(f).encode(), mask): f for f in folders}

    def spooled(self) -> list[str]:
        """Files created then deleted without ever being renamed (a temp file that was not the result)."""
        data = b""
        while True:
            try:
                data += os.read(self.fd, 65536)
            except BlockingIOError:
                break
        created: list[str] = []
        gone: set[str] = set()
        moved: set[str] = set()
        offset = 0
        while offset < len(data):
            wd, mask, _cookie, size = struct.unpack_from("iIII", data, offset)
            name = data[offset + 16 : offset + 16 + size].rstrip(b"\0").decode()
            offset += 16 + size
            where = f"{self.folders[wd]}/{name}"
            if mask & self._IN_CREATE:
                created.append(where)
            if mask & self._IN_DELETE:
                gone.add(where)
            if mask & self._IN_MOVED_FROM:
                moved.add(where)
        os.close(self.fd)
        return [c for c in created if c in gone and c not in moved]


def test_a_backup_never_writes_the_plaintext_to_disk(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    snaps = session_layout.root / ".snapshots"
    snaps.mkdir(mode=0o700)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    watch = Inotify([snaps, session_layout.root, scratch])
    shown = backup(session_layout, capsys)
    assert watch.spooled() == []
    assert sorted(p.name for p in snaps.iterdir()) == sorted(
        [Path(str(shown["path"])).name, Path(str(shown["path"])).name.replace(".tar.gz.age", ".json")]
    )


# -- item 13: a malformed sidecar makes a snapshot untrusted, nothing more --------------------------------
def _flip_created(d: dict[str, object]) -> None:
    text = str(d["createdAt"])
    d["createdAt"] = text[:5] + chr(ord(text[5]) ^ 0x40) + text[6:]  # one flipped bit: '1' -> 'q'


@pytest.mark.parametrize(
    "spoil",
    [
        _flip_created,
        lambda d: d.update(plainBytes="12KB"),
        lambda d: d.update(files=-3),
        lambda d: d.update(verified="yes"),
        "[1, 2]",
        '{"createdAt": ',
    ],
    ids=["createdAt-bit", "plainBytes-text", "files-negative", "verified-text", "not-an-object", "torn"],
)
def test_a_malformed_sidecar_makes_the_snapshot_untrusted_and_crashes_nothing(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], spoil: object
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    good = backup(session_layout, capsys)
    bad = backup(session_layout, capsys)
    sidecar = sidecar_of(bad)
    if isinstance(spoil, str):
        sidecar.write_text(spoil)
    else:
        data = json.loads(sidecar.read_text())
        spoil(data)  # type: ignore[operator]
        sidecar.write_text(json.dumps(data))
    cfg = str(session_layout.config_path)
    code, out, err = run(capsys, "snapshots", "--config", cfg)
    assert code == 0 and "Traceback" not in err, err
    assert "NOT verified" in next(x for x in out.splitlines() if str(bad["id"]) in x)
    code, out, err = run(capsys, "info", "--config", cfg)
    assert code == 0 and "snapshots:" in out, err
    config = session_layout.config()
    keeper = sn.Keeper(config, SessionStore(config))  # what watch reads at start
    assert keeper.newest_at() is not None and keeper.seconds_until_due() >= 0
    code, out, err = run(capsys, "restore", "--yes", "--json", "--config", cfg)
    assert code == 0, err
    assert json.loads(out)["snapshot"]["id"] == good["id"]  # the untrusted one was passed over


# -- item 14: what a restore killed half-way leaves is settled ---------------------------------------
_KILLED_RESTORE = """
import os, signal, sys
from watui.core.snapshots import restoring as sn
from watui.core.disk.quarantine import Quarantine
point = sys.argv[2]
if point == "unpack":
    real_write, count = sn.write_member, []
    def write(target, data):
        if len(count) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        count.append(1)
        real_write(target, data)
    sn.write_member = write
else:
    real_move = Quarantine.move_in
    def move(self, folder):
        moved = real_move(self, folder)
        os.kill(os.getpid(), signal.SIGKILL)
        return moved
    Quarantine.move_in = move
from watui.cli import main
main(["restore", "--yes", "--config", sys.argv[1]])
"""


def test_a_restore_killed_while_unpacking_leaves_the_profile_and_clean_removes_the_rest(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    backup(session_layout, capsys)
    before = digest(session_layout.profile)
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_RESTORE, str(session_layout.config_path), "unpack"], timeout=60
    )
    assert done.returncode == -signal.SIGKILL
    assert digest(session_layout.profile) == before
    assert len(leftovers(session_layout.root)) == 1  # a plaintext copy of the login, half written
    code, out, err = run(capsys, "clean", "--config", str(session_layout.config_path))
    assert code == 0, err
    assert leftovers(session_layout.root) == [] and "restore that did not finish" in out
    after = digest(session_layout.profile)  # clean removed the caches; the login is as it was
    assert {k: v for k, v in before.items() if k.startswith((WA_DB, LOCAL_STORAGE))} == {
        k: v for k, v in after.items() if k.startswith((WA_DB, LOCAL_STORAGE))
    }


def test_a_restore_killed_between_its_renames_is_finished_by_clean_and_info_says_where_things_are(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    backup(session_layout, capsys)
    cfg = str(session_layout.config_path)
    done = subprocess.run([sys.executable, "-c", _KILLED_RESTORE, cfg, "swap"], timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert not session_layout.profile.exists()
    [quarantined] = list((session_layout.root / ".quarantine").iterdir())
    [ready] = leftovers(session_layout.root)
    code, out, _ = run(capsys, "info", "--config", cfg)
    assert code == 1 and "Session folder not found" in out
    assert ready in out and "watui clean" in out
    assert str(quarantined) in out  # the profile as it was is named too
    code, out, err = run(capsys, "clean", "--config", cfg)
    assert code == 0, err
    assert leftovers(session_layout.root) == [] and "finished an interrupted restore" in out
    assert stored_login(session_layout.profile) and sn.account_on_disk(session_layout.profile) == ACCOUNT


def test_info_names_the_quarantined_copy_of_a_missing_profile(
    session_layout: SessionLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = SessionStore(session_layout.config()).quarantine("a restore that died")
    code, out, _ = run(capsys, "info", "--config", str(session_layout.config_path))
    assert code == 1 and "Session folder not found" in out and str(moved) in out


# -- item 16: the snapshot folder and the key on a full disk; a FIFO for a key ------------------------
def test_a_backup_into_a_full_snapshot_folder_names_that_folder_and_keeps_nothing(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], small_disk: Callable[[int], Path]
) -> None:
    key = keygen(tmp_path, capsys)
    disk = small_disk(1024)
    folder = disk / "snaps"
    folder.mkdir(mode=0o700)
    with_key(session_layout, key, f'dir = "{folder}"\n')
    filler = fill(disk)
    code, _, err = run(capsys, "backup", "--config", str(session_layout.config_path))
    assert code == 1 and "No space left on device" in err, err
    assert str(folder) in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in folder.iterdir()) == []
    filler.unlink()
    backup(session_layout, capsys)  # with room again, it works


def test_a_snapshot_whose_sidecar_did_not_fit_is_not_kept_and_orphans_are_pruned(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    folder = session_layout.root / ".snapshots"
    real = archive._write_sidecar  # type: ignore[attr-defined]  # the name archive.py calls

    def full(snap: sn.Snapshot) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(snap.path))

    monkeypatch.setattr(archive, "_write_sidecar", full)
    code, _, err = run(capsys, "backup", "--config", str(session_layout.config_path))
    assert code == 1 and "No space left" in err
    assert list(folder.iterdir()) == []
    monkeypatch.setattr(archive, "_write_sidecar", real)
    # One an older watui left that way: never verified, never counted; the next good one prunes it.
    orphan = folder / "testbot-20200101-000000.tar.gz.age"
    orphan.write_bytes(b"age-encryption.org/v1\n...")
    shown = backup(session_layout, capsys)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [Path(str(shown["path"])).name, Path(str(shown["path"])).name.replace(".tar.gz.age", ".json")]
    )


def test_keygen_on_a_full_disk_leaves_no_empty_key_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], small_disk: Callable[[int], Path]
) -> None:
    disk = small_disk(256)
    key = disk / "id.txt"
    filler = fill(disk)
    code, _, err = run(capsys, "keygen", str(key))
    assert code == 1 and "No space left on device" in err and str(key) in err, err
    assert not key.exists() and [p.name for p in disk.iterdir()] == ["filler"]
    filler.unlink()
    code, out, _ = run(capsys, "keygen", str(key))
    assert code == 0 and out.startswith("age1")
    assert sn.read_identity(key)


@pytest.mark.parametrize("command", ["backup", "info", "snapshots"])
def test_an_identity_that_is_a_fifo_is_refused_in_one_line_and_hangs_nothing(
    session_layout: SessionLayout, tmp_path: Path, command: str
) -> None:
    fifo = tmp_path / "id.fifo"
    os.mkfifo(fifo, 0o600)
    with_key(session_layout, fifo)
    done = subprocess.run(
        [sys.executable, "-m", "watui", command, "--config", str(session_layout.config_path)],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    err = done.stderr.strip()
    assert "a FIFO, not a regular file" in done.stdout + err and "Traceback" not in err, err
    if command == "backup":
        assert done.returncode == 2 and len(err.splitlines()) == 1


# -- guards that must fail when broken ---------------------------------------------------------------
def test_a_failed_write_leaves_the_old_file_as_it_was(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key)
    shown = backup(session_layout, capsys)
    sidecar = sidecar_of(shown)
    before = sidecar.read_bytes()

    def torn(out: io.BufferedWriter) -> None:
        out.write(b'{"createdAt": "2026-')
        out.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError, match="No space left") as caught:
        atomic._atomic_write(sidecar, torn)
    assert caught.value.filename == str(sidecar)
    assert sidecar.read_bytes() == before
    assert sorted(p.name for p in sidecar.parent.iterdir()) == sorted([sidecar.name, Path(str(shown["path"])).name])


def test_a_profile_without_a_login_is_not_snapshotted_and_prunes_nothing(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], chromium_path: Path
) -> None:
    key = keygen(tmp_path, capsys)
    with_key(session_layout, key, "keep = 1\n")
    good = backup(session_layout, capsys)
    run_page_on_profile(chromium_path, session_layout.profile, LOGGED_OUT)  # the phone logged this device out
    assert not stored_login(session_layout.profile)
    code, _, err = run(capsys, "backup", "--config", str(session_layout.config_path))
    assert code == 1 and "no login" in err, err
    listed = sn.list_snapshots(session_layout.config())
    assert [s.id for s in listed] == [good["id"]] and listed[0].verified
