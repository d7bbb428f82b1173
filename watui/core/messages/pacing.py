"""When the next message may go: a pure function of the send history and the time, no clock of its own.

Two rules, both from ``[messages]``:
- sends are spread evenly: at least ``60 / max_per_minute`` seconds after the previous send of the account
  (so a burst of 50 accepted at once leaves one every 3 s at 20 a minute, never 20 in the first second);
- at least ``min_gap_per_chat_s`` seconds after the previous send to the same chat.
Order: each chat's messages go in the order they were accepted; among chats, the one whose oldest waiting
message may go soonest goes first, the oldest accepted on a tie. A time in the history that is later than
``now`` (the wall clock was set back) counts as ``now``: a clock step never stalls the queue for longer
than one gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Pace:
    max_per_minute: float
    min_gap_per_chat_s: float

    @property
    def gap_s(self) -> float:
        return 60.0 / self.max_per_minute


@dataclass(frozen=True)
class Head:
    """The oldest waiting message of one chat."""

    seq: int
    chat: str


@dataclass(frozen=True)
class Plan:
    """The message to send next (``seq``) and the earliest time it may go; both None: nothing waits."""

    seq: int | None
    at: float | None

    def wait_s(self, now: float) -> float | None:
        """Seconds until the next send may go ("wait N s"), 0 when it may go now, None when nothing waits."""
        return None if self.at is None else max(0.0, self.at - now)


def plan_next(
    heads: Sequence[Head], last_any: float | None, last_by_chat: Mapping[str, float], now: float, pace: Pace
) -> Plan:
    """The next send given each chat's oldest waiting message, the account's last send, each chat's last
    send, and ``now``."""
    if not heads:
        return Plan(None, None)
    earliest = now if last_any is None else min(last_any, now) + pace.gap_s
    best: tuple[float, int] | None = None
    for head in heads:
        at = max(now, earliest)
        last = last_by_chat.get(head.chat)
        if last is not None:
            at = max(at, min(last, now) + pace.min_gap_per_chat_s)
        if best is None or (at, head.seq) < best:
            best = (at, head.seq)
    assert best is not None
    return Plan(best[1], best[0])
