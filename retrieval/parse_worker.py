"""Parsing in a child process, so that one hostile file costs at most a time budget.

A Python thread stuck in a parser cannot be stopped; a process can be killed. One child
serves a whole index run: starting it costs about 0.1 s, each file then costs a socket
round trip. When a file exceeds its budget, or the run is cancelled, the child is killed
and the next file gets a new one. The child is a plain ``python -m retrieval.parse_worker``
rather than a multiprocessing spawn, which would re-run the caller's main script, and
rather than a fork, which can deadlock a child forked from a process with threads.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from core.errors import Cancelled, InvalidInput, UnreadableFile
from core.paths import ROOT
from retrieval.loaders import ParsedDocument, parse

_START_SECONDS = 60.0  # a cold start imports the parsers; not counted in any file's budget
_POLL_SECONDS = 0.1  # how soon a cancelled run notices while a file is being parsed
# The child's address space: a decompression bomb (a PDF stream, say) ends in MemoryError, which
# fails that one file, instead of taking the machine's memory. Files are at most MAX_FILE_MB.
_MEMORY_BYTES = 3 * 1024**3


class ParseWorker:
    """Parses files with a per-file time budget; ``budget`` None parses in this process."""

    def __init__(self, budget: float | None) -> None:
        if budget is not None and budget <= 0:
            raise InvalidInput("the parse time budget must be positive (seconds)")
        self.budget = budget
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._busy = False

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def parse(self, data: bytes, kind: str, name: str, cancel: threading.Event | None = None,
              max_pages: int | None = None) -> ParsedDocument:
        """Like ``loaders.parse``; a file over budget, or one that crashes the parser, raises UnreadableFile."""
        if self.budget is None:
            return parse(data, kind, name, max_pages)
        conn = self._start()
        conn.send((data, kind, name, max_pages))
        self._busy = True
        deadline = time.monotonic() + self.budget
        while not conn.poll(min(_POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
            if cancel is not None and cancel.is_set():
                self._kill()
                raise Cancelled(name)
            if time.monotonic() >= deadline:
                self._kill()
                raise UnreadableFile(f"took longer than {self.budget:g} s to parse")
        try:
            status, value = conn.recv()
        except (EOFError, OSError):
            code = self._kill()
            raise UnreadableFile(f"the parser crashed on it (exit code {code})") from None
        self._busy = False
        if status == "unreadable":
            raise UnreadableFile(value)
        return value

    def close(self) -> None:
        """Stop the child: politely when it is idle, at once when it is still parsing."""
        if self._conn is not None and not self._busy:
            try:
                self._conn.send(None)
                self._process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def _start(self) -> Connection:
        if self._conn is not None:
            return self._conn
        mine, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        with mine, theirs:
            process = subprocess.Popen([sys.executable, "-m", "retrieval.parse_worker", str(theirs.fileno())],
                                       pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
            conn = Connection(os.dup(mine.fileno()))
        self._process, self._conn = process, conn  # the child's end is closed here: its death reads as EOF
        try:
            if not conn.poll(_START_SECONDS):
                raise EOFError
            conn.recv()
        except (EOFError, OSError):
            raise OSError(f"the parser process did not start (exit code {self._kill()})") from None
        return conn

    def _kill(self) -> int | None:
        """Stop the child (if any) for good; returns its exit code."""
        process, conn = self._process, self._conn
        self._process, self._conn, self._busy = None, None, False
        if conn is not None:
            conn.close()
        if process is None:
            return None
        if process.poll() is None:
            process.kill()
        return process.wait()


def _serve(conn: Connection) -> None:
    """The child: parse what arrives until told to stop (None) or the parent goes away."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _limit_memory()
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    import markdown_it  # noqa: F401  (warm: most files are Markdown)

    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            reply = ("ok", parse(*job))
        except UnreadableFile as exc:
            reply = ("unreadable", str(exc))
        except MemoryError:
            reply = ("unreadable", "needs too much memory to parse")
        except Exception as exc:  # a parser bug on one file must not end the run
            reply = ("unreadable", f"the parser failed: {type(exc).__name__}: {exc}"[:300])
        conn.send(reply)


def _limit_memory() -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = _MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(_MEMORY_BYTES, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):  # not on this platform: the time budget still holds
        pass


def _exit_when_orphaned(parent: int) -> None:
    """A parent that died cannot kill us at the budget: a stuck parse must not outlive it."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
