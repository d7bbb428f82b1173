"""The linked account in WhatsApp Web's Local Storage: LOGIN_KEY, whether a login is stored, whose it is."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from watui.core.disk import cleanup as cl
from watui.core.disk import leveldb

# Chromium's Local Storage key for the origin's "last-wid-md" (the linked account's id): origin, NUL, then
# the key with its encoding byte (1: Latin-1). Both the real page and the simulator keep it while logged in.
LOGIN_KEY = b"_https://web.whatsapp.com\x00\x01last-wid-md"


def stored_login(profile: Path) -> bool:
    """Whether WhatsApp Web's Local Storage holds the linked account (``last-wid-md``), as a login leaves it.
    A never-scanned profile and one logged out from the phone have WhatsApp's IndexedDB but not this key.
    The answer is kept until a file of that folder changes (the health check asks every half minute)."""
    folder = profile / cl.LOCAL_STORAGE
    try:
        files = tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(folder)))
    except OSError:
        return False
    known = _login_seen.get(str(folder))
    if known is not None and known[0] == files:
        return known[1]
    try:
        value = leveldb.latest_value(folder, LOGIN_KEY)
    except (leveldb.Damage, OSError):
        value = None
    found = bool(value and value[1:].strip(b"\x00"))
    _login_seen[str(folder)] = (files, found)
    return found


_login_seen: dict[str, tuple[tuple[tuple[str, int, int], ...], bool]] = {}


def account_of(copy_files: Mapping[str, bytes]) -> str | None:
    """The linked account (Local Storage's ``last-wid-md``), None when not logged in."""
    folder = {k[len(cl.LOCAL_STORAGE) + 1 :]: v for k, v in copy_files.items() if k.startswith(cl.LOCAL_STORAGE + "/")}
    try:
        value = leveldb.latest_value_in(folder, LOGIN_KEY)
    except leveldb.Damage:
        return None
    return decode_wid(value)


def account_on_disk(profile: Path) -> str | None:
    try:
        return decode_wid(leveldb.latest_value(profile / cl.LOCAL_STORAGE, LOGIN_KEY))
    except (leveldb.Damage, OSError):
        return None


def decode_wid(value: bytes | None) -> str | None:
    if not value:
        return None
    raw = value[1:]
    text = raw.decode("latin-1") if value[0] == 1 else raw.decode("utf-16-le", "replace")
    with contextlib.suppress(ValueError):
        parsed = json.loads(text)
        if isinstance(parsed, str):
            text = parsed
    text = text.strip().strip("\x00")
    return text or None
