"""A deliberately slow OpenAI-compatible server on localhost: it answers one byte at a time (or at
once, with ``interval_s`` 0), and keeps every request it was sent.

``TrickleServer(interval_s, headers_at_once=False)`` trickles the whole response, status line
and headers included; with ``headers_at_once`` it sends the headers straight away and trickles
only the body. Every byte arrives well within any per-read timeout, so only a total deadline
stops a client from waiting for the whole answer.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

REPLY = "Trickled answer [1]."


def completion(reply: str = REPLY) -> bytes:
    return json.dumps({
        "id": "chatcmpl-trickle", "object": "chat.completion", "created": 0, "model": "trickle",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self.server.bodies.append(request)
        reply = self.server.reply
        body = completion(reply(request) if callable(reply) else reply)
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        self.server.requests += 1
        self.server.handlers.append(threading.current_thread())
        self.close_connection = True
        at_once, trickled = (head, body) if self.server.headers_at_once else (b"", head + body)
        try:
            self.wfile.write(at_once)
            for i in range(len(trickled)):
                if self.server.stopping.wait(self.server.interval_s):
                    return
                self.wfile.write(trickled[i:i + 1])
        except OSError:  # the client gave up and closed the connection
            self.server.hung_up.set()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread

    def __init__(self, interval_s: float, headers_at_once: bool, reply) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.interval_s, self.headers_at_once, self.reply = interval_s, headers_at_once, reply
        self.bodies: list[dict] = []  # every request, as JSON
        self.stopping, self.hung_up = threading.Event(), threading.Event()
        self.requests = 0
        self.handlers: list[threading.Thread] = []


class TrickleServer:
    """Use as a context manager; on exit every thread it started has ended."""

    def __init__(self, interval_s: float, headers_at_once: bool = False,
                 reply: str | Callable[[dict], str] = REPLY) -> None:
        """``reply``: the answer, or a function of the request (JSON) that gives it."""
        self._server = _Server(interval_s, headers_at_once, reply)
        self._thread = threading.Thread(target=self._server.serve_forever, name="trickle-server")
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> int:
        return self._server.requests

    @property
    def bodies(self) -> list[dict]:
        return self._server.bodies

    def wait_for_hang_up(self, timeout: float) -> bool:
        """True once a client has closed its connection in the middle of a trickle."""
        return self._server.hung_up.wait(timeout)

    def __enter__(self) -> TrickleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def threads_alive(self) -> list[threading.Thread]:
        """Threads of this server still running (none after ``__exit__``)."""
        return [t for t in [self._thread, *self._server.handlers] if t.is_alive()]
