"""A local stand-in for Slack's Web API that records every call (as bolt-python's own tests do),
plus helpers to send correctly signed requests to the bot like Slack does. Used by the tests and by
`python -m benchmarks slack`."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T0001"


# One counter for the whole test run: message timestamps stay unique across fakes (and so across the
# interactions that tests leave in the shared database), as Slack's own are within a workspace.
_ts = itertools.count(1)


def next_ts() -> str:
    return f"{int(time.time())}.{next(_ts):06d}"


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.threads: dict[tuple[str, str], list[dict]] = {}
        self.admins: set[str] = set()
        self.rate_limited: dict[str, int] = {}  # method -> how many 429s to answer first
        self.retry_after = 1  # the Retry-After those 429s give, in seconds
        self.members: dict[str, list[str]] = {}  # channel -> its members, for conversations.members
        # channel -> what conversations.info says of it ({"is_private": False, …}); any other: channel_not_found
        self.channels: dict[str, dict] = {}
        self.scopes: list[str] | None = None  # granted bot scopes, sent as X-OAuth-Scopes by auth.test
        self.refuse_feedback_buttons = False  # answer messages with feedback buttons with invalid_blocks
        self.errors: dict[str, str] = {}  # method -> the error it answers with (ok: false)
        self._cond = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                method = self.path.rsplit("/", 1)[-1] if self.path.startswith("/api/") else "respond"
                status, body, headers = fake._handle(method, params, self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    def next_ts(self) -> str:
        return next_ts()

    def _handle(self, method: str, params: dict, path: str) -> tuple[int, dict, dict]:
        with self._cond:
            left = self.rate_limited.get(method, 0)
            if left:
                self.rate_limited[method] = left - 1
                self.calls.append((method + ":429", {**params, "_wall": time.time()}))
                self._cond.notify_all()
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(self.retry_after)}
            ts = self.next_ts()  # the ts a posted message gets, kept with the call as "_ts"
            self.calls.append((method, {**params, "_path": path, "_ts": ts, "_wall": time.time()}))
            self._cond.notify_all()
        if method in self.errors:
            return 200, {"ok": False, "error": self.errors[method]}, {}
        if self.refuse_feedback_buttons and "feedback_buttons" in json.dumps(params.get("blocks") or ""):
            return 200, {"ok": False, "error": "invalid_blocks", "errors": ["unsupported type: feedback_buttons"]}, {}
        if method == "auth.test":
            scopes = {"X-OAuth-Scopes": ",".join(self.scopes)} if self.scopes is not None else {}
            return 200, {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": TEAM, "user": "kb"}, scopes
        if method == "chat.postMessage":
            return 200, {"ok": True, "channel": params.get("channel"), "ts": ts,
                         "message": {"text": params.get("text"), "ts": ts}}, {}
        if method == "chat.startStream":
            return 200, {"ok": True, "channel": params.get("channel"), "ts": ts}, {}
        if method == "chat.update":
            return 200, {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}, {}
        if method == "conversations.replies":
            return 200, {"ok": True, "messages": self.threads.get((params.get("channel"), params.get("ts")), [])}, {}
        if method == "conversations.open":
            return 200, {"ok": True, "channel": {"id": "D" + str(params.get("users"))}}, {}
        if method == "conversations.members":
            if params.get("channel") not in self.members:
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            return 200, {"ok": True, "members": self.members[params["channel"]],
                         "response_metadata": {"next_cursor": ""}}, {}
        if method == "conversations.info":
            if params.get("channel") not in self.channels:
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            return 200, {"ok": True, "channel": {"id": params["channel"], **self.channels[params["channel"]]}}, {}
        if method == "users.info":
            user = params.get("user")
            return 200, {"ok": True, "user": {"id": user, "is_admin": user in self.admins, "is_owner": False}}, {}
        return 200, {"ok": True}, {}

    # -- inspection --------------------------------------------------------------------

    def calls_to(self, method: str, **match) -> list[dict]:
        with self._cond:
            return [p for m, p in self.calls if m == method and all(p.get(k) == v for k, v in match.items())]

    def wait_for(self, method: str, count: int = 1, timeout: float = 120, **match) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [p for m, p in self.calls if m == method and all(p.get(k) == v for k, v in match.items())]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{method} {match} called {len(found)} times, expected {count}; "
                                         f"calls: {[m for m, _ in self.calls]}")
                self._cond.wait(left)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sign(secret: str, body: str, timestamp: int | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def post(url: str, body: str, headers: dict, content_type: str) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={**headers, "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def event_body(event: dict, event_id: str | None = None) -> str:
    return json.dumps({"token": "legacy", "team_id": TEAM, "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id or f"Ev{time.monotonic_ns()}", "event_time": int(time.time()),
                       "event": event, "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]})


def payload_body(payload: dict) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(payload)})
