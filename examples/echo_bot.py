"""An echo bot: answers each incoming text with "echo: <text>". Run it beside a running `watui watch`:
`python examples/echo_bot.py` (`--demo`: the demo's session). The key makes each text echoed once, ever."""

import asyncio
import sys

from watui.client import Client, ClientError


async def main() -> None:
    async with Client.connect(demo="--demo" in sys.argv) as wa:
        async for message in wa.messages(bodies=True):  # what the owner keeps, then each new one
            if message.direction == "in" and message.body:
                await wa.send_text(message.chat, f"echo: {message.body}", key=f"echo-{message.chat}-{message.id}")


try:
    asyncio.run(main())
except ClientError as exc:  # no owner runs the session, or it refused: one line, no traceback
    sys.exit(f"echo_bot: {exc}")
