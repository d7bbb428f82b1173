"""The simulator's own errors: it is the fake site and shares nothing with watui's core."""

from __future__ import annotations


class SimError(Exception):
    """A simulator problem a person can act on: the message is one line."""

    exit_code = 1
