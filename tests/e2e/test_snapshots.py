"""Encrypted login snapshots on a real Chromium profile: keygen, backup, list, restore, interop with the
real ``age`` binary, refusal of a readable key, verification that discards a bad copy."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pyrage
import pytest

from tests.support.layout import SessionLayout
from watui.cli import main
from watui.core import snapshots as sn
from watui.core.disk import leveldb
from watui.core.disk.login import stored_login
from watui.core.disk.store import SessionStore
from watui.core.session.manager import SessionManager
from watui.core.snapshots import archive

WA_DB = "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb"
LOCAL_STORAGE = "Default/Local Storage/leveldb"
ACCOUNT = "15550001111:1@c.us"
SECRET = b"k" * 512  # a slice of the template page's WASecretBundle (4096 'k's in IndexedDB)


def _keygen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    key = tmp_path / "keys" / "id.txt"
    assert main(["keygen", str(key)]) == 0
    recipient = capsys.readouterr().out.strip()
    return key, recipient


def _with_key(layout: SessionLayout, key: Path, extra: str = "") -> None:
    text = layout.config_path.read_text()
    layout.config_path.write_text(text + f'\n[snapshots]\nidentity = "{key}"\n{extra}')


def _backup(layout: SessionLayout, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["backup", "--json", "--config", str(layout.config_path)]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_keygen_writes_a_private_key_only_its_owner_reads_and_prints_the_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, recipient = _keygen(tmp_path, capsys)
    assert os.stat(key).st_mode & 0o777 == 0o600
    assert recipient.startswith("age1")
    identity = sn.read_identity(key)
    assert str(identity.to_public()) == recipient
    before = key.read_bytes()
    assert main(["keygen", str(key)]) == 1  # never over an existing key
    assert key.read_bytes() == before


def test_backup_is_encrypted_opens_with_the_age_binary_and_holds_only_the_login(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key)
    shown = _backup(session_layout, capsys)
    assert shown["verified"] is True and shown["verifiedBy"] == "decrypt"
    assert shown["account"] == ACCOUNT
    path = Path(str(shown["path"]))
    assert path.parent == session_layout.root / ".snapshots"
    blob = path.read_bytes()
    assert blob.startswith(b"age-encryption.org/v1")
    assert SECRET not in blob and ACCOUNT.encode() not in blob
    assert os.stat(path).st_mode & 0o777 == 0o600
    # Listing needs no key: the sidecar says when, how large, whose, verified.
    sidecar = json.loads(path.with_name(path.name.replace(".tar.gz.age", ".json")).read_text())
    assert sidecar["account"] == ACCOUNT and sidecar["verified"] is True
    assert "AGE-SECRET-KEY" not in json.dumps(sidecar)
    # The real age binary opens it without watui; the tar holds the login and no cache.
    plain = subprocess.run(["age", "-d", "-i", str(key), str(path)], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        names = tar.getnames()
        stored = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    assert f"{LOCAL_STORAGE}/CURRENT" in names and f"{WA_DB}/CURRENT" in names
    assert not [n for n in names if "Cache" in n or n.startswith("Default/Extension")]
    assert any(SECRET in data for data in stored.values())
    # GNU tar reads it too: age -d | tar tz
    listing = subprocess.run(
        f"age -d -i '{key}' '{path}' | tar -tzf -", shell=True, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert f"{LOCAL_STORAGE}/CURRENT" in listing
    main(["info", "--json", "--config", str(session_layout.config_path)])
    info = json.loads(capsys.readouterr().out)["snapshots"]
    assert info["enabled"] is True and info["count"] == 1 and info["lastAt"] == shown["createdAt"]
    # No plaintext was left behind in the snapshot folder.
    assert sorted(p.suffix for p in path.parent.iterdir()) == [".age", ".json"]


def test_restore_quarantines_the_profile_and_brings_back_a_sound_login(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key)
    shown = _backup(session_layout, capsys)
    # The profile is lost: its Local Storage garbled.
    log = next((session_layout.profile / LOCAL_STORAGE).glob("*.log"))
    log.write_bytes(b"\xff" * 64 + log.read_bytes()[64:])
    assert not stored_login(session_layout.profile)
    assert main(["restore", "--yes", "--json", "--config", str(session_layout.config_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["snapshot"]["id"] == shown["id"]
    moved = Path(result["quarantinedTo"])
    assert moved.parent == session_layout.root / ".quarantine"
    assert (moved / LOCAL_STORAGE / log.name).read_bytes()[:64] == b"\xff" * 64  # the damaged copy, kept
    profile = session_layout.profile
    assert leveldb.damage(profile / LOCAL_STORAGE) is None and leveldb.damage(profile / WA_DB) is None
    assert stored_login(profile)
    assert sn.account_on_disk(profile) == ACCOUNT


def test_restore_asks_first_and_without_a_terminal_needs_yes(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key)
    _backup(session_layout, capsys)
    before = sorted(p.name for p in session_layout.profile.rglob("*"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # piped input is not a confirmation
    assert main(["restore", "--config", str(session_layout.config_path)]) == 2
    assert "--yes" in capsys.readouterr().err

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    assert main(["restore", "--config", str(session_layout.config_path)]) == 1
    err = capsys.readouterr().err
    assert "restore snapshot" in err and "[y/N]" in err and "nothing done" in err
    assert sorted(p.name for p in session_layout.profile.rglob("*")) == before
    assert not (session_layout.root / ".quarantine").exists()


def test_restore_names_an_older_snapshot(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key)
    first = _backup(session_layout, capsys)
    second = _backup(session_layout, capsys)
    assert first["id"] != second["id"]
    assert main(["snapshots", "--json", "--config", str(session_layout.config_path)]) == 0
    listed = json.loads(capsys.readouterr().out)["snapshots"]
    assert [s["id"] for s in listed] == [second["id"], first["id"]]
    assert main(["restore", str(first["id"]), "--yes", "--json", "--config", str(session_layout.config_path)]) == 0
    assert json.loads(capsys.readouterr().out)["snapshot"]["id"] == first["id"]


def test_a_group_readable_identity_is_refused_naming_the_key(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key)
    key.chmod(0o644)
    assert main(["backup", "--config", str(session_layout.config_path)]) == 2
    err = capsys.readouterr().err
    assert "snapshots.identity" in err and "chmod 600" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (session_layout.root / ".snapshots").exists()


def test_without_a_key_snapshots_are_off_and_info_says_so(
    session_layout: SessionLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", "--config", str(session_layout.config_path)]) == 2
    assert "snapshots are off" in capsys.readouterr().err
    main(["info", "--config", str(session_layout.config_path)])
    assert "snapshots:   off (no key" in capsys.readouterr().out
    main(["info", "--json", "--config", str(session_layout.config_path)])
    assert json.loads(capsys.readouterr().out)["snapshots"]["enabled"] is False


def test_recipients_only_writes_snapshots_this_machine_cannot_open(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, recipient = _keygen(tmp_path, capsys)
    text = session_layout.config_path.read_text()
    session_layout.config_path.write_text(text + f'\n[snapshots]\nrecipients = ["{recipient}"]\n')
    shown = _backup(session_layout, capsys)
    assert shown["verifiedBy"] == "copy"  # checked before encrypting; this machine has no private key
    assert main(["restore", "--yes", "--config", str(session_layout.config_path)]) == 1
    assert "no private key" in capsys.readouterr().err
    # Elsewhere, the private key opens it.
    copy = sn.open_snapshot(Path(str(shown["path"])), sn.read_identity(key))
    assert f"{LOCAL_STORAGE}/CURRENT" in copy.files


def test_a_damaged_login_is_not_snapshotted_and_nothing_is_kept(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key)
    table_or_log = sorted((session_layout.profile / WA_DB).glob("*.l*"))[-1]
    data = bytearray(table_or_log.read_bytes())
    data[20] ^= 0xFF
    table_or_log.write_bytes(bytes(data))
    assert main(["backup", "--config", str(session_layout.config_path)]) == 1
    assert "checksum" in capsys.readouterr().err
    assert not list((session_layout.root / ".snapshots").glob("*"))


def test_a_snapshot_that_does_not_decrypt_back_is_discarded(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key)
    real = pyrage.encrypt_io

    def torn(in_io: io.BufferedIOBase, out_io: io.BufferedIOBase, recipients: list[object]) -> bytes:
        buffer = io.BytesIO()
        real(in_io, buffer, recipients)  # type: ignore[arg-type]
        out_io.write(buffer.getvalue()[:-40])  # a write cut short (a full disk)
        return b""

    monkeypatch.setattr(pyrage, "encrypt_io", torn)
    assert main(["backup", "--config", str(session_layout.config_path)]) == 1
    assert "discarded" in capsys.readouterr().err
    assert list((session_layout.root / ".snapshots").iterdir()) == []


def test_keep_prunes_the_oldest(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key, "keep = 2\n")
    ids = [_backup(session_layout, capsys)["id"] for _ in range(3)]
    assert [s.id for s in sn.list_snapshots(session_layout.config())] == [ids[2], ids[1]]
    assert len(list((session_layout.root / ".snapshots").iterdir())) == 4


def test_a_snapshot_with_a_path_outside_the_login_is_refused() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../etc/evil")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(sn.SnapshotError, match="outside"):
        sn.unpack(buffer.getvalue())


def test_revoke_marks_the_accounts_snapshots_and_restore_skips_them(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key)
    _backup(session_layout, capsys)
    config = session_layout.config()
    assert sn.revoke(config, "someone-else@c.us") == []
    assert len(sn.revoke(config, ACCOUNT)) == 1
    with pytest.raises(sn.SnapshotError, match="no verified, unrevoked snapshot"):
        sn.find(config, None, ACCOUNT)
    shutil.rmtree(session_layout.profile)
    assert main(["restore", "--yes", "--config", str(session_layout.config_path)]) == 1


def test_a_readable_identity_stops_init_before_any_browser_starts(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key)
    key.chmod(0o640)
    assert main(["init", "--json", "--timeout", "1", "--config", str(session_layout.config_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "snapshots.identity" in err and "mode 0640" in err and len(err.splitlines()) == 1


def test_a_live_copy_starts_again_when_leveldb_moves_to_a_new_manifest(
    session_layout: SessionLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = session_layout.profile / LOCAL_STORAGE
    old = (folder / "CURRENT").read_text().strip()
    real_read = archive._read_regular
    moved: list[str] = []

    def read_while_leveldb_writes(path: Path) -> bytes:
        data = real_read(path)
        if path.parent == folder and path.suffix in (".log", ".ldb") and not moved:
            # Meanwhile LevelDB writes a new MANIFEST and points CURRENT at it (as a compaction does).
            shutil.copy(folder / old, folder / "MANIFEST-000099")
            (folder / "CURRENT").write_text("MANIFEST-000099\n")
            (folder / old).unlink()
            moved.append(old)
        return data

    monkeypatch.setattr(archive, "_read_regular", read_while_leveldb_writes)
    copy = sn.copy_login(session_layout.profile)
    names = set(copy.folder(LOCAL_STORAGE))
    assert moved and "MANIFEST-000099" in names and old not in names
    assert copy.folder(LOCAL_STORAGE)["CURRENT"] == b"MANIFEST-000099\n"
    assert sn.verify(copy) is None


def test_with_recipients_and_an_identity_both_can_open_a_snapshot(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    offline = tmp_path / "offline"
    offline.mkdir()
    offline_key, offline_recipient = _keygen(offline, capsys)
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key, f'recipients = ["{offline_recipient}"]\n')
    shown = _backup(session_layout, capsys)
    assert shown["verifiedBy"] == "decrypt"  # this machine's identity opens it
    copy = sn.open_snapshot(Path(str(shown["path"])), sn.read_identity(offline_key))  # and so does the offline key
    assert f"{LOCAL_STORAGE}/CURRENT" in copy.files


def test_a_direct_backup_writes_the_run_record_so_a_lost_profile_is_restored(
    session_layout: SessionLayout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = _keygen(tmp_path, capsys)
    _with_key(session_layout, key)
    snap = _backup(session_layout, capsys)  # no watui runs: taken here, from the disk
    config = session_layout.config()
    record = sn.read_record(config)
    assert record.connected and record.account == ACCOUNT and not record.logged_out
    keeper = sn.Keeper(config, SessionStore(config))
    restorable = keeper.restorable()  # what the next start restores before asking for a QR
    assert restorable is not None and restorable.id == snap["id"]


async def test_the_run_record_of_a_connection_is_written_even_when_watui_stops_at_once(
    session_layout: SessionLayout,
) -> None:
    # watui init stops as soon as it is connected: what it saw must still reach the disk.
    config = session_layout.config()
    manager = SessionManager(config)
    await manager.start()
    manager.autosnap.on_connected("15550002222:1@c.us")  # what the page said it is connected as
    await manager.shutdown()
    record = sn.read_record(config)
    assert record.connected and record.account == "15550002222:1@c.us"
