"""A client of a running owner's API over its control socket (aiohttp's client, ``UnixConnector``), or of
``watui serve`` over HTTP with its bearer token.

``find_owner(config)`` answers the owner of ``config``'s session, or None when no watui serves it (no
socket, or a dead owner's socket that refuses connections). :class:`OwnerClient` is the HTTP API seen
from another process; it trusts only a socket file of its own uid served by a process of its own uid
(:func:`socket_file_refusal`, :func:`owner_refusal`). :class:`ServeClient` is the same API at a serve URL
(the token is its check). ``watui/remote/session.py`` turns either into a SessionPort, so one face code
path drives a local or a remote session; ``watui/client.py`` is the public Python client on them.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from watui.api.paths import API, OWNER_PATH, peer_uid, reachable, socket_path
from watui.config import Config
from watui.core.errors import ActionUnavailable
from watui.remote.errors import OwnerNotRunning, Refused

BASE = "http://localhost"  # the Host a Unix-socket request carries; loopback for the API's Host check
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0  # the owner answers reads at once; slower means it hangs


class OwnerGone(OwnerNotRunning):
    """The owner stopped answering (it exited, or was killed) while a client used it."""

    exit_code = 1


class OwnerRefused(Refused):
    """The control socket is there but this process may not use it (another uid): one line, exit 1."""

    exit_code = 1


class OwnerAnswered(Refused, ActionUnavailable):
    """The owner answered a call with an HTTP error (its JSON ``error``, the status, ``Retry-After``)."""


# -- the trust checks ---------------------------------------------------------------------------
def owner_refusal(uid: int | None, expected_uid: int, path: Path) -> str | None:
    """Why a client must not trust the process serving ``path`` (another uid, or one it cannot tell),
    or None: whoever else listens there could pose as the owner (draw its own QR, read the verbs)."""
    if uid is None:
        return f"{path}: the owner's credentials are unavailable: refusing to use it"
    if uid != expected_uid:
        return (
            f"{path}: served by uid {uid}, expected {expected_uid}: not this user's watui; fix: run watui as "
            f"uid {uid} if the session is theirs, else stop that process and remove {path}"
        )
    return None


def socket_file_refusal(address: str | Path, path: Path, expected_uid: int) -> str | None:
    """Why the file at ``address`` (``path`` as reached) is not this user's owner socket, or None.
    FileNotFoundError when there is none."""
    st = os.lstat(address)
    if not stat.S_ISSOCK(st.st_mode):
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a socket"
        return f"{path}: {kind}, not the owner's socket; fix: remove it (rm {path}) and restart the owner"
    if st.st_uid != expected_uid:
        return (
            f"{path}: owned by uid {st.st_uid}, expected {expected_uid}; fix: run watui as uid {st.st_uid} "
            f"if the session is theirs, else remove it (rm {path})"
        )
    return None


# -- the client ----------------------------------------------------------------------------------------
class _OwnersConnector(aiohttp.UnixConnector):
    """Connects only to a process of ``uid`` (``SO_PEERCRED``), checked before a request is sent on it."""

    def __init__(self, address: str, shown: Path, uid: int) -> None:
        super().__init__(path=address)
        self._shown = shown
        self._uid = uid

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        proto = await super()._create_connection(req, traces, timeout)
        transport = proto.transport
        if transport is None:
            raise OwnerGone(f"no watui answers on {self._shown}: the connection closed at once")
        why = owner_refusal(peer_uid(transport.get_extra_info("socket")), self._uid, self._shown)
        if why is not None:
            transport.close()
            raise OwnerRefused(why)
        return proto


class ApiClient:
    """The owner's HTTP API, as :class:`OwnerClient` (its socket) and :class:`ServeClient` (a serve URL)
    reach it. Use as ``async with``. ``where`` names the place in every error."""

    base = BASE

    def __init__(self, where: str) -> None:
        self.where = where
        self.owner: dict[str, Any] = {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        raise NotImplementedError

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def label(self) -> str:
        """``watui watch (pid 123)``."""
        return f"watui {self.owner.get('face', '?')} (pid {self.owner.get('pid', '?')})"

    async def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, missing: bool = False
    ) -> Any:
        """One call; a JSON error of the API becomes OwnerAnswered (its one line, its status), but a 404 with
        ``missing`` is None (a message id the owner does not know). A read answers within READ_TIMEOUT_S or
        the owner counts as gone (hung); a verb takes as long as it takes."""
        reading: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=READ_TIMEOUT_S)} if method == "GET" else {}
        try:
            async with self._http().request(method, self.base + path, json=body, **reading) as response:
                data = await response.json(content_type=None)
        except TimeoutError:
            raise OwnerGone(f"{self.label} did not answer within {READ_TIMEOUT_S:g} s on {self.where}") from None
        except aiohttp.ClientConnectorError as exc:
            if exc.os_error.errno in (errno.EACCES, errno.EPERM):
                raise OwnerRefused(
                    f"{self.where}: permission denied: run watui as the user that runs this session"
                ) from None
            raise OwnerGone(f"no watui answers on {self.where}: {exc.os_error.strerror}") from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise OwnerGone(f"{self.label} stopped answering on {self.where}: {exc}") from None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise OwnerGone(f"{self.label} sent an answer that is not a JSON object on {self.where}")
        if response.status == 404 and missing:
            return None
        if response.status >= 400:
            raise self._refusal(response, data)
        return data

    def _refusal(self, response: aiohttp.ClientResponse, data: Any) -> Refused:
        reason = str(data.get("error", f"HTTP {response.status}")) if isinstance(data, dict) else ""
        if response.status == 403:
            return OwnerRefused(f"{self.where}: {reason or 'refused'}", 403)
        retry_after: float | None = None
        with contextlib.suppress(ValueError):
            retry_after = float(response.headers.get("Retry-After", ""))
        return OwnerAnswered(reason or f"HTTP {response.status}", response.status, retry_after)

    async def hello(self) -> dict[str, Any]:
        self.owner = await self.request("GET", OWNER_PATH)
        return self.owner

    async def status(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.request("GET", f"{API}/session-info")
        return data

    async def verb(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = await self.request("POST", f"{API}/{name}", body)
        return data

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The owner's SSE stream, one JSON object per event (the first a ``snapshot``); ends when the
        owner closes it or goes away. An HTTP refusal (a wrong token, another uid) raises it."""
        try:
            async with self._http().get(self.base + f"{API}/events") as response:
                if response.status >= 400:
                    try:
                        data = await response.json(content_type=None)
                    except ValueError:
                        data = None
                    raise self._refusal(response, data)
                lines: list[str] = []
                async for raw in response.content:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if line.startswith("data:"):
                        lines.append(line[5:].lstrip())
                    elif not line and lines:
                        yield json.loads("\n".join(lines))
                        lines = []
        except (TimeoutError, aiohttp.ClientError, ConnectionError, ValueError):
            return  # the owner went away mid-stream (kill -9 leaves a half-sent chunk)


class OwnerClient(ApiClient):
    """The owner's HTTP API over its Unix socket; ``owner`` is the owner's ``{"pid", "face", "demo"}``
    (after ``hello``). It trusts only a socket file of ``uid`` (default: this process's effective uid) served
    by a process of ``uid``: anyone else listening there is refused (OwnerRefused)."""

    def __init__(self, path: Path, uid: int | None = None) -> None:
        super().__init__(str(path))
        self.path = path
        self.uid = os.geteuid() if uid is None else uid
        self._address = contextlib.ExitStack()

    async def __aenter__(self) -> OwnerClient:
        return self

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            try:
                address = self._address.enter_context(reachable(self.path))  # open while the client lives
            except PermissionError:
                raise OwnerRefused(
                    f"{self.path}: permission denied: run watui as the user that runs this session"
                ) from None
            except OSError as exc:
                raise OwnerGone(f"no watui answers on {self.path}: {exc.strerror}") from None
            try:
                why = socket_file_refusal(address, self.path, self.uid)
            except OSError as exc:
                self._address.close()
                raise OwnerGone(f"no watui answers on {self.path}: {exc.strerror}") from None
            if why is not None:
                self._address.close()
                raise OwnerRefused(why)
            self._session = aiohttp.ClientSession(
                connector=_OwnersConnector(address, self.path, self.uid),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S),
            )
        return self._session

    async def close(self) -> None:
        await super().close()
        self._address.close()


class ServeClient(ApiClient):
    """The API of ``watui serve`` at ``url`` (``http://host:port``), with its bearer ``token`` when set.
    No socket, so no uid to check: the token is the check (``watui serve`` refuses a non-loopback bind
    without one)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        super().__init__(url.rstrip("/"))
        self.base = self.where
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def __aenter__(self) -> ServeClient:
        return self

    @property
    def label(self) -> str:
        return f"watui serve at {self.where}"

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
            )
        return self._session


async def find_owner(config: Config, uid: int | None = None) -> OwnerClient | None:
    """A connected client of the owner of ``config``'s session, or None when no watui serves it.
    OwnerRefused when something not of ``uid`` (default: ours) is there (see :class:`OwnerClient`)."""
    path = socket_path(config)
    try:
        mode = path.lstat().st_mode
    except PermissionError:
        raise OwnerRefused(f"{path}: permission denied: run watui as the user that runs this session") from None
    except OSError:
        return None
    if not stat.S_ISSOCK(mode):
        return None  # no socket served here (the owner says why in its events; ``watui status`` too)
    client = OwnerClient(path, uid)
    try:
        await client.hello()
    except OwnerGone:
        await client.close()
        return None  # a dead owner's socket: the next owner replaces it
    except BaseException:
        await client.close()
        raise
    return client
