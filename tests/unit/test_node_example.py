"""The Node echo bot in docs/messaging.md is examples/echo_bot.mjs, the file tests/e2e/test_node_bot_e2e.py runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_node_echo_bot_of_the_docs_is_the_example_the_e2e_test_runs() -> None:
    code = (ROOT / "examples" / "echo_bot.mjs").read_text()
    blocks = re.findall(r"```js\n(.*?)```", (ROOT / "docs" / "messaging.md").read_text(), re.S)
    assert code in blocks
    assert "fetch(" in code and 'from "node:http"' in code  # plain Node: no package to install
    assert not re.search(r'from "(?!node:)', code)


def test_the_node_echo_bot_without_its_secret_says_which_variable_in_one_line() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is needed for the Node echo bot")
    env = {k: v for k, v in os.environ.items() if k != "WATUI_WEBHOOK_SECRET"}
    done = subprocess.run([node, str(ROOT / "examples" / "echo_bot.mjs")], env={**env, "PORT": "0"},
                          capture_output=True, text=True, timeout=10)  # fmt: skip
    assert (done.returncode, done.stderr) == (2, "echo_bot: set WATUI_WEBHOOK_SECRET ([messages.webhook] secret)\n")
