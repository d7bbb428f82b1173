"""The simulator's linked-device logins: HMAC-signed tokens, and which were issued and revoked.

A token is ``wsim1.<login id>.<signature>``. The signing secret and the issued/revoked lists live in
``<state_dir>/sim-state.json`` so a restarted simulator accepts the logins it issued before (as WhatsApp
does for a linked device) unless they were logged out. Without a state folder everything stays in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from watui.sim.errors import SimError

STATE_FILE = "sim-state.json"
_PREFIX = "wsim1"


class SimStateError(SimError):
    """The simulator's state file is unreadable: one line naming it."""

    exit_code = 2


class LoginBook:
    """Issues, checks and revokes login tokens; persists to ``state_dir`` when it has one."""

    def __init__(self, state_dir: Path | None) -> None:
        self.path = state_dir / STATE_FILE if state_dir is not None else None
        self._secret = secrets.token_bytes(32)
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        if self.path is not None and self.path.exists():
            self._read(self.path)

    def _read(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            self._secret = bytes.fromhex(raw["secret"])
            self.issued = [str(x) for x in raw.get("issued", [])]
            self.revoked = {str(x) for x in raw.get("revoked", [])}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SimStateError(
                f"{path}: not a simulator state file ({exc.__class__.__name__}); remove it to start afresh"
            ) from exc

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"secret": self._secret.hex(), "issued": self.issued, "revoked": sorted(self.revoked)}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    async def save(self) -> None:
        await asyncio.to_thread(self._write)

    def _sign(self, login_id: str) -> str:
        return hmac.new(self._secret, login_id.encode(), hashlib.sha256).hexdigest()

    def issue(self) -> tuple[str, str]:
        """A new (login id, token). Call ``save()`` after."""
        login_id = secrets.token_hex(8)
        self.issued.append(login_id)
        return login_id, f"{_PREFIX}.{login_id}.{self._sign(login_id)}"

    def check(self, token: object) -> str | None:
        """The login id of a valid, unrevoked token; None for anything else."""
        if not isinstance(token, str):
            return None
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX:
            return None
        login_id, signature = parts[1], parts[2]
        if not hmac.compare_digest(signature, self._sign(login_id)) or login_id in self.revoked:
            return None
        return login_id

    def revoke(self, login_id: str) -> None:
        self.revoked.add(login_id)

    @property
    def active(self) -> list[str]:
        return [x for x in self.issued if x not in self.revoked]
