"""The answer queue: a bounded pool of worker threads that drains on shutdown."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

log = logging.getLogger(__name__)


class Workers:
    """A bounded pool: ``size`` answers at once, at most ``limit`` waiting; drains on shutdown."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="answer")
        self._capacity = size + limit
        self._slots = threading.BoundedSemaphore(self._capacity)
        self._closed = False
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, job: Callable[[], None]) -> bool:
        """Queue ``job``; False when the pool is full or shutting down."""
        if self._closed or not self._slots.acquire(blocking=False):
            return False
        with self._idle:
            self._pending += 1

        def run() -> None:
            try:
                job()
            except Exception:
                log.exception("answer job failed")
            finally:
                self._slots.release()
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        self._pool.submit(run)
        return True

    def full(self) -> bool:
        """True when ``submit`` would refuse; a hint, as another thread may take or free a slot meanwhile."""
        with self._idle:
            return self._closed or self._pending >= self._capacity

    def pending(self) -> int:
        """Jobs accepted and not finished (running or waiting)."""
        with self._idle:
            return self._pending

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every accepted job has finished (True) or ``timeout`` passes (False)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; with ``wait``, finish every accepted question first."""
        self._closed = True
        self._pool.shutdown(wait=wait)
