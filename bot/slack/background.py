"""Admin jobs (reindexes) on a thread of their own, which a stuck job cannot keep alive at shutdown."""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent import futures
from concurrent.futures import Future
from typing import Callable

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0


class Background:
    """Admin jobs (reindexes), one at a time, on a daemon thread.

    A ThreadPoolExecutor's threads are joined when the interpreter exits, so one stuck
    reindex would keep a SIGTERM'd bot alive. Here ``shutdown`` waits at most
    ``drain_seconds``, and a job given up on (``abandon``) keeps its thread while the
    jobs after it get a new one.
    """

    def __init__(self, drain_seconds: float = DRAIN_SECONDS, on_shutdown: Callable[[], None] | None = None) -> None:
        self.drain_seconds = drain_seconds
        self._on_shutdown = on_shutdown
        self._jobs: deque[tuple[Future, Callable, tuple]] = deque()
        self._pending: set[Future] = set()  # what shutdown waits for
        self._running: Future | None = None
        self._worker: threading.Thread | None = None
        self._closed = False
        self._cond = threading.Condition()

    def submit(self, fn: Callable, *args) -> Future:
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._jobs.append((future, fn, args))
            self._pending.add(future)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="reindex", daemon=True)
                self._worker.start()
            self._cond.notify_all()
        return future

    def abandon(self, future: Future) -> None:
        """Stop waiting for ``future`` if it is running: later jobs get a new thread, shutdown ignores it."""
        with self._cond:
            if self._running is not future or future.done():
                return
            self._pending.discard(future)
            self._running = self._worker = None
            if self._jobs:
                self._worker = threading.Thread(target=self._work, name="reindex", daemon=True)
                self._worker.start()
            self._cond.notify_all()

    def shutdown(self, wait: bool = True) -> None:
        """Take no more jobs, tell the running one to stop, and wait at most ``drain_seconds`` for them."""
        with self._cond:
            self._closed = True
            pending = list(self._pending)
        if self._on_shutdown is not None:
            self._on_shutdown()
        if wait and pending:
            _, late = futures.wait(pending, timeout=self.drain_seconds)
            if late:
                log.warning("shutting down with %d admin job(s) still running after %g s", len(late),
                            self.drain_seconds)

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while self._worker is me and not self._jobs:
                    self._cond.wait()
                if self._worker is not me:
                    return
                future, fn, args = self._jobs.popleft()
                self._running = future
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:
                    future.set_exception(exc)
            with self._cond:
                self._pending.discard(future)
                if self._running is future:
                    self._running = None
                self._cond.notify_all()
