"""The snapshot commands: ``watui keygen``, ``watui backup``, ``watui snapshots``, ``watui restore``.

``backup`` copies the login the way LevelDB reads it, so it is safe while a watui (and its browser) runs
the session; ``restore`` takes watui's owner lock, so it refuses while one does. Each prints a readable
summary, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watui.cli_disk import _human, _one_line_os_errors, _row, _take_owner, refused_without_consent
from watui.config import Config, ConfigError
from watui.core import snapshots as sn
from watui.core.disk.store import SessionStore

if TYPE_CHECKING:
    from watui.remote.client import OwnerClient

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def add_parsers(command: Any) -> None:
    """Declare the four commands on the CLI's sub-parser factory ``command(name, help)``."""
    p = command("keygen", "Write an age identity (the private key, mode 0600) for snapshots; print its public key.")
    p.add_argument("path", nargs="?", default=None, help="where to write it (default: [snapshots] identity)")

    p = command("backup", "Take an encrypted snapshot of the login now (safe while watui runs).")
    p.add_argument("--json", action="store_true", help="print the snapshot as JSON")

    p = command("snapshots", "List the login snapshots (time, size, account, verified); no key needed.")
    p.add_argument("--json", action="store_true", help="print the list as JSON")

    p = command(
        "restore",
        "Unpack a snapshot beside the profile, check it, then swap it in; the profile goes to quarantine "
        "(default: the newest verified one that opens).",
    )
    p.add_argument("id", nargs="?", default=None, help="the snapshot's id (see 'watui snapshots'), or a prefix")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _keys_or_off(config: Config) -> sn.Keys:
    keys = sn.load_keys(config)
    if keys is None:
        where = str(config.source) if config.source else "config.toml"
        raise ConfigError(
            f"{where}: snapshots are off: no key in [snapshots] (run 'watui keygen', then set identity or recipients)"
        )
    return keys


def run_keygen(args: argparse.Namespace, config: Config) -> int:
    target = Path(args.path).expanduser() if args.path else sn.identity_file(config)
    if target is None:
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        target = Path(xdg) / "watui" / "age-identity.txt"
    if os.path.lexists(target):
        print(f"watui: keygen: {target} already exists; it was left as it is", file=sys.stderr)
        return EXIT_FAIL
    try:
        recipient = sn.generate_identity(target)
    except FileExistsError:
        print(f"watui: keygen: {target} already exists; it was left as it is", file=sys.stderr)
        return EXIT_FAIL
    except OSError as exc:
        print(f"watui: keygen: {exc.filename or target}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAIL
    print(recipient)
    print(
        f"watui: wrote the private key to {target} (mode 0600). In config.toml:\n"
        f'  [snapshots]\n  identity = "{target}"\n'
        "Keep a copy of it elsewhere: without it no snapshot can be restored.",
        file=sys.stderr,
    )
    return EXIT_OK


@_one_line_os_errors
def run_backup(args: argparse.Namespace, config: Config) -> int:
    """Through the watui running the session when one runs (its manager takes it: the event, the
    dashboard's age and the API say so), here otherwise."""
    from watui.cli_owner import owner_or_direct

    _keys_or_off(config)  # snapshots off: one line, exit 2, before anything

    async def remote(client: OwnerClient) -> int:
        answer = await client.verb("backup")
        return _show(sn.find(config, str(answer["snapshot"]["id"])), args)

    def direct() -> int:
        store = SessionStore(config)
        store.check_root()
        owner = store.owner_pid()
        source: sn.Source = "live" if owner or store.lock_info().kind == "live" else "closed"
        return _show(sn.Keeper(config, store).take(source), args)  # as the owner's: the run record too

    return owner_or_direct(config, remote, direct)


def _show(snap: sn.Snapshot, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(snap.to_json(), indent=2))
    else:
        print(_snapshot_text(snap))
    return EXIT_OK


@_one_line_os_errors
def run_snapshots(args: argparse.Namespace, config: Config) -> int:
    snaps = sn.list_snapshots(config)
    if args.json:
        data = {
            "dir": str(sn.snapshot_dir(config)),
            "status": sn.status_line(config),
            "snapshots": [s.to_json() for s in snaps],
        }
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(_row("snapshots", sn.status_line(config)))
    for snap in snaps:
        flags = "verified" if snap.verified else "NOT verified"
        if snap.problem:
            flags += f" ({snap.problem})"
        if snap.revoked:
            flags += ", revoked (logged out)"
        print(f"  {snap.id:<19} {_human(snap.bytes):>9}  {snap.account or 'unknown account':<24} {flags}")
    return EXIT_OK


@_one_line_os_errors
def run_restore(args: argparse.Namespace, config: Config) -> int:
    keys = _keys_or_off(config)
    store = SessionStore(config)
    # A named one alone; else the verified ones newest first (one that fails is marked and the next tried).
    snaps = [sn.find(config, args.id)] if args.id else sn.candidates(config) or [sn.find(config, None)]
    snap = snaps[0]
    if store.profile.exists() and not args.yes:
        question = (
            f"Move {store.profile} into {store.quarantine_dir} and restore snapshot {snap.id} "
            f"({snap.account or 'unknown account'})? [y/N] "
        )
        refused = refused_without_consent("restore", question)
        if refused is not None:
            return refused
    owner = _take_owner(store)
    try:
        report = sn.restore_first(config, keys, store, snaps)
    finally:
        if owner is not None:
            owner.release()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.message)
        print("the next 'watui init' (or start) connects without a QR")
    return EXIT_OK


def _snapshot_text(snap: sn.Snapshot) -> str:
    ratio = f", {snap.plain_bytes / 1024:.0f} KB before compression" if snap.plain_bytes else ""
    return "\n".join(
        [
            _row("snapshot", str(snap.path)),
            _row("size", f"{_human(snap.bytes)} encrypted{ratio}, {snap.files} files"),
            _row("account", snap.account or "unknown (not logged in?)"),
            _row("verified", f"yes ({snap.verified_by})" if snap.verified else "no"),
            _row("copied", "while the browser ran (LevelDB rules)" if snap.source == "live" else "browser closed"),
        ]
    )
