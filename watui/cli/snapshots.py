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
from typing import TYPE_CHECKING

from watui.cli.base import Command, Exit
from watui.cli.output import ask_consent, one_line_os_errors, row
from watui.cli.reach import Reached, on_session
from watui.config import Config, ConfigError
from watui.present import size

if TYPE_CHECKING:
    from watui.core import snapshots as sn


def _keys_or_off(config: Config) -> sn.Keys:
    from watui.core import snapshots as sn

    keys = sn.load_keys(config)
    if keys is None:
        where = str(config.source) if config.source else "config.toml"
        raise ConfigError(
            f"{where}: snapshots are off: no key in [snapshots] (run 'watui keygen', then set identity or recipients)"
        )
    return keys


def keygen(args: argparse.Namespace, config: Config) -> int:
    from watui.core import snapshots as sn

    target = Path(args.path).expanduser() if args.path else sn.identity_file(config)
    if target is None:
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        target = Path(xdg) / "watui" / "age-identity.txt"
    if os.path.lexists(target):
        print(f"watui: keygen: {target} already exists; it was left as it is", file=sys.stderr)
        return Exit.FAIL
    try:
        recipient = sn.generate_identity(target)
    except FileExistsError:
        print(f"watui: keygen: {target} already exists; it was left as it is", file=sys.stderr)
        return Exit.FAIL
    except OSError as exc:
        print(f"watui: keygen: {exc.filename or target}: {exc.strerror or exc}", file=sys.stderr)
        return Exit.FAIL
    print(recipient)
    print(
        f"watui: wrote the private key to {target} (mode 0600). In config.toml:\n"
        f'  [snapshots]\n  identity = "{target}"\n'
        "Keep a copy of it elsewhere: without it no snapshot can be restored.",
        file=sys.stderr,
    )
    return Exit.OK


async def backup(reached: Reached, args: argparse.Namespace) -> int:
    """Through the watui running the session when one runs (its manager takes it: the event, the
    dashboard's age and the API say so), here otherwise."""
    from watui.core import snapshots as sn

    taken = await reached.session.backup()
    snap = sn.find(reached.config, taken.id)  # as the catalog here has it, whoever took it
    if args.json:
        print(json.dumps(snap.to_json(), indent=2))
    else:
        print(_snapshot_text(snap))
    return Exit.OK


def list_snapshots(args: argparse.Namespace, config: Config) -> int:
    from watui.core import snapshots as sn

    snaps = sn.list_snapshots(config)
    if args.json:
        data = {
            "dir": str(sn.snapshot_dir(config)),
            "status": sn.status_line(config),
            "snapshots": [s.to_json() for s in snaps],
        }
        print(json.dumps(data, indent=2))
        return Exit.OK
    print(row("snapshots", sn.status_line(config)))
    for snap in snaps:
        flags = "verified" if snap.verified else "NOT verified"
        if snap.problem:
            flags += f" ({snap.problem})"
        if snap.revoked:
            flags += ", revoked (logged out)"
        print(f"  {snap.id:<19} {size(snap.bytes):>9}  {snap.account or 'unknown account':<24} {flags}")
    return Exit.OK


def restore(args: argparse.Namespace, config: Config) -> int:
    from watui.core import snapshots as sn
    from watui.core.disk.store import SessionStore
    from watui.core.session.offline import owner_lock

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
        refused = ask_consent("restore", question)
        if refused is not None:
            return refused
    with owner_lock(store):
        report = sn.restore_first(config, keys, store, snaps)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.message)
        print("the next 'watui init' (or start) connects without a QR")
    return Exit.OK


def _snapshot_text(snap: sn.Snapshot) -> str:
    ratio = f", {snap.plain_bytes / 1024:.0f} KB before compression" if snap.plain_bytes else ""
    return "\n".join(
        [
            row("snapshot", str(snap.path)),
            row("size", f"{size(snap.bytes)} encrypted{ratio}, {snap.files} files"),
            row("account", snap.account or "unknown (not logged in?)"),
            row("verified", f"yes ({snap.verified_by})" if snap.verified else "no"),
            row("copied", "while the browser ran (LevelDB rules)" if snap.source == "live" else "browser closed"),
        ]
    )


# -- the commands ---------------------------------------------------------------------------------
def _restore_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", nargs="?", default=None, help="the snapshot's id (see 'watui snapshots'), or a prefix")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


@one_line_os_errors
def _backup(args: argparse.Namespace, config: Config) -> int:
    _keys_or_off(config)  # snapshots off: one line, exit 2, before anything
    return on_session(backup)(args, config)


KEYGEN = Command(
    "keygen",
    "Write an age identity (the private key, mode 0600) for snapshots; print its public key.",
    keygen,
    lambda parser: parser.add_argument(
        "path", nargs="?", default=None, help="where to write it (default: [snapshots] identity)"
    ),
)
BACKUP = Command(
    "backup",
    "Take an encrypted snapshot of the login now (safe while watui runs).",
    _backup,
    json="print the snapshot as JSON",
)
SNAPSHOTS = Command(
    "snapshots",
    "List the login snapshots (time, size, account, verified); no key needed.",
    one_line_os_errors(list_snapshots),
    json="print the list as JSON",
)
RESTORE = Command(
    "restore",
    "Unpack a snapshot beside the profile, check it, then swap it in; the profile goes to quarantine "
    "(default: the newest verified one that opens).",
    one_line_os_errors(restore),
    _restore_options,
    json="print the result as JSON",
)
