"""The message webhook's test settings, and the child process the crash test kills with SIGKILL.

Run as a child: ``python tests/support/webhook.py INBOX URL SECRET`` with the repository on PYTHONPATH:
deliver from INBOX to URL until killed (it prints ``running`` once its lock is held).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from watui.config import MessageWebhookSettings
from watui.core.messages import Inbox
from watui.core.messages.webhook import WebhookDeliverer

SECRET = "s3cr3t-for-tests"


def fast(url: str, secret: str = SECRET, **changes: object) -> MessageWebhookSettings:
    """Settings for tests: a short timeout and a short backoff, so a retry comes within a moment."""
    values: dict[str, object] = {"timeout_s": 2.0, "backoff_initial_s": 0.02, "backoff_max_s": 0.1, **changes}
    return MessageWebhookSettings(url=url, secret=secret, **values)  # type: ignore[arg-type]


async def _deliver(inbox: Path, url: str, secret: str) -> None:
    deliverer = WebhookDeliverer(fast(url, secret), Inbox.open(inbox), idle_s=0.05)  # no wake() across processes
    task = asyncio.create_task(deliverer.run())
    while not deliverer.status.running and not task.done():
        await asyncio.sleep(0.01)
    print("running", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(_deliver(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
