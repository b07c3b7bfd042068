"""The line of Slack questions: each message taken once (``Recent`` in this process, ``claim`` across
processes), and the ``Ticket`` a question that waits for a free worker shares with its notice.

A question that has to wait is told its place in line by a notice that claims it and opens its message
once it has waited ``NOTICE_SECONDS`` (one picked up sooner needs none, and a burst is acknowledged
first); the answer job, when a worker takes it, answers in that message. Whichever of the two runs
first claims the question, under the ticket's lock, so it is claimed and opened once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from bot.slack.streaming import DraftStream

RECENT_MESSAGES = 10_000
NOTICE_SECONDS = 1.0


class Recent:
    """The Slack messages this process took lately, as (channel, ts): a retry or the second event
    for one message is dropped before it takes a queue slot or earns a busy reply.

    A conditional ask (a thread reply, answered only in threads we answered) does not hide a later
    unconditional one (the same message as a mention): the condition may turn out false."""

    def __init__(self, size: int = RECENT_MESSAGES) -> None:
        self._seen: OrderedDict[tuple[str, str], bool] = OrderedDict()  # key -> taken unconditionally
        self._size = size
        self._lock = threading.Lock()

    def first(self, key: tuple[str, str], conditional: bool = False) -> bool:
        """True the first time ``key`` is taken (for a conditional ask: taken in any way)."""
        with self._lock:
            seen = self._seen.get(key)
            if seen or (seen is not None and conditional):
                return False
            self._seen[key] = not conditional
            self._seen.move_to_end(key)
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return True


def claim(engine: Engine, channel: str, message_ts: str) -> bool:
    """True for the first caller only, across processes: the one that answers this Slack message."""
    with engine.begin() as conn:
        row = conn.execute(text("INSERT INTO slack_claims (channel, message_ts) VALUES (:c, :ts) "
                                "ON CONFLICT DO NOTHING RETURNING 1"), {"c": channel, "ts": message_ts}).first()
    return row is not None


@dataclass
class Opened:
    """How a question shows it is being worked on: the panel's status, a streamed message, a placeholder."""

    status: bool = False
    stream: DraftStream | None = None
    ts: str | None = None  # the placeholder, when nothing streams


@dataclass
class Ticket:
    """One accepted question, shared by its answer job and its waiting notice."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: float = field(default_factory=time.monotonic)
    started: bool = False  # a worker took the question: no notice any more
    claimed: bool | None = None  # what the notice's claim gave (None: it made none)
    opened: Opened | None = None  # what the notice posted; the answer goes there
