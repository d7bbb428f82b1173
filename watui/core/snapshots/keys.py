"""The age keys of snapshots: Keys, load_keys, the identity file (read, refused when others may read it, generated)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyrage

from watui.config import Config, ConfigError
from watui.core.disk.folders import private_folder_problem
from watui.core.snapshots.atomic import _atomic_write, _bytes_of


@dataclass(frozen=True)
class Keys:
    recipients: tuple[pyrage.x25519.Recipient, ...]
    identity: pyrage.x25519.Identity | None
    identity_path: Path | None

    @property
    def can_read(self) -> bool:
        return self.identity is not None


def load_keys(config: Config) -> Keys | None:
    """The configured keys, None when snapshots are off (no key at all); ConfigError naming the key."""
    settings = config.snapshots
    origin = str(config.source) if config.source else "built-in defaults"
    recipients: list[pyrage.x25519.Recipient] = []
    for text in settings.recipients:
        try:
            recipients.append(pyrage.x25519.Recipient.from_str(text.strip()))
        except Exception:
            raise ConfigError(
                f"{origin}: key 'snapshots.recipients': {text!r} is not an age public key (age1...)"
            ) from None
    identity = None
    identity_path = identity_file(config)
    if identity_path is not None:
        identity = read_identity(identity_path, origin)
        own = identity.to_public()
        if str(own) not in {str(r) for r in recipients}:
            recipients.append(own)  # what this machine writes, it can verify and restore
    if not recipients:
        return None
    return Keys(tuple(recipients), identity, identity_path)


def identity_file(config: Config) -> Path | None:
    text = config.snapshots.identity
    return (config.base_dir / Path(text).expanduser()).resolve() if text else None


def read_identity(path: Path, origin: str = "config") -> pyrage.x25519.Identity:
    where = f"{origin}: key 'snapshots.identity'"
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{where}: {path} does not exist (create one with 'watui keygen')") from None
    except OSError as exc:
        raise ConfigError(f"{where}: {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO or a device would block every command on open or read
        raise ConfigError(f"{where}: {path} is {_kind_of(st.st_mode)}, not a regular file; point it at the key file")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{where}: {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # replaced since the stat above
                raise ConfigError(f"{where}: {path} is not a regular file; point it at the key file")
            text = fh.read(64 * 1024).decode("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: {path}: cannot read it ({exc})") from None
    for line in text.splitlines():
        if line.strip().startswith("AGE-SECRET-KEY-"):
            try:
                return pyrage.x25519.Identity.from_str(line.strip())
            except Exception:
                break
    raise ConfigError(f"{where}: {path} holds no age identity (AGE-SECRET-KEY-...)")


def generate_identity(path: Path) -> str:
    """Write a new age identity to ``path`` (mode 0600, never over an existing file); its recipient."""
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = f"# created: {created}\n# public key: {recipient}\n{identity}\n"
    # All or nothing, never over an existing file: a full disk leaves no empty key behind to block the next try.
    _atomic_write(path, _bytes_of(body), overwrite=False)
    return recipient


def _kind_of(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symlink"))  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def private_dir_problem(folder: Path, what: str = "snapshot folder") -> str | None:
    """Why ``folder`` is not private to this user, with the fix, or None when it is (or does not exist):
    a folder another user owns, or one group or others may write into, lets them forge what watui reads
    from it (a snapshot watui would unpack by itself)."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{what} {folder}: {exc.strerror or exc}"
    if not stat.S_ISDIR(st.st_mode):
        return f"{what} {folder} is not a folder"
    problem = private_folder_problem(folder, os.geteuid())  # the session folder's own rule and wording
    return None if problem is None else f"{what} {problem}"
