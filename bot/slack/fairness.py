"""Fair use: at most so many questions per person per minute, so one person cannot fill the answer
queue for everyone else. Counted per process (each replica allows its own share)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

WINDOW_SECONDS = 60.0


class PerUser:
    """A sliding one-minute window of each user's questions; ``per_minute`` 0 means no limit."""

    def __init__(self, per_minute: int, window: float = WINDOW_SECONDS) -> None:
        self.per_minute = per_minute
        self.window = window
        self._asked: dict[str, deque[float]] = {}
        self._told: dict[tuple[str, str], float] = {}  # (user, why) -> when the window of that refusal ends
        self._lock = threading.Lock()

    def allow(self, user: str) -> bool:
        """True, and counted, when ``user`` may ask now."""
        if self.per_minute <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            asked = self._asked.setdefault(user, deque())
            while asked and asked[0] <= now - self.window:
                asked.popleft()
            if len(asked) >= self.per_minute:
                return False
            asked.append(now)
            return True

    def give_back(self, user: str) -> None:
        """Uncount ``user``'s latest question (it was turned away for another reason: a full queue)."""
        with self._lock:
            asked = self._asked.get(user)
            if asked:
                asked.pop()

    def retry_in(self, user: str) -> int:
        """Whole seconds until ``user`` may ask again."""
        with self._lock:
            asked = self._asked.get(user)
            left = asked[0] + self.window - time.monotonic() if asked else 0.0
        return max(1, math.ceil(left))

    def first_refusal(self, user: str, why: str = "limit") -> bool:
        """True once per full window for each ``why`` ("limit", "busy"): the refusal worth telling the user
        about (the rest are ignored)."""
        now = time.monotonic()
        with self._lock:
            if self._told.get((user, why), 0.0) > now:
                return False
            asked = self._asked.get(user)
            self._told[(user, why)] = (asked[0] + self.window) if asked and why == "limit" else now + self.window
            return True
