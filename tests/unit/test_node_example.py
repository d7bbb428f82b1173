"""The Node echo bot in docs/messaging.md is examples/echo_bot.mjs, the file tests/e2e/test_node_bot_e2e.py runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_node_echo_bot_of_the_docs_is_the_example_the_e2e_test_runs() -> None:
    code = (ROOT / "examples" / "echo_bot.mjs").read_text()
    blocks = re.findall(r"```js\n(.*?)```", (ROOT / "docs" / "messaging.md").read_text(), re.S)
    assert code in blocks
    assert "fetch(" in code and 'from "node:http"' in code  # plain Node: no package to install
    assert not re.search(r'from "(?!node:)', code)
