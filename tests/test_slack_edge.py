"""The Slack HTTP edge over real HTTP: a body is refused before it is read (no signature headers, a stale
timestamp, over the size limit, declared or chunked); with the queue full and Slack answering 429, every
event is still acknowledged and the busy reply comes after the Retry-After; with the database down,
`/kb status` and the App Home say so instead of failing silently."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from answering import prompts
from bot.slack.server import MAX_BODY_BYTES
from retrieval.chunking import ChunkingParams
from retrieval.ingest import Indexer, SourceItem
from tests.fake_slack import event_body, sign
from tests.fakes import ScriptedChat
from tests.slack_harness import ADMIN, SECRET, answers_in, blocks_text, mention, running_bot, update_for
from tests.test_slack_faults import _stop, own_server  # noqa: F401 (own_server: a fixture)

VPN = "# VPN errors\n\n## VPN-ERR-619\n\nVPN-ERR-619 means UDP port 51820 is blocked by the network you are on.\n"
REPLY = "UDP port 51820 is blocked [1]."
QUESTION = "What does VPN-ERR-619 mean?"
HUGE = 400 * 1024 * 1024


@pytest.fixture
def edge(engine, fake_embedder):
    """The bot with one worker and a queue of one (two questions fill it), on a one-document index."""
    Indexer(engine, fake_embedder, ChunkingParams(size=400, overlap=40)).index_items(
        [SourceItem("mem:vpn", "markdown", data=VPN.encode())], "handbook")
    with running_bot(engine, fake_embedder, ScriptedChat(replies=[REPLY]), relevance_threshold=0,
                     cache_enabled=False, slack_workers=1, slack_queue_limit=1) as harness:
        yield harness


def _head(url: str, headers: dict[str, str]) -> bytes:
    path = urlsplit(url).path
    lines = [f"POST {path} HTTP/1.1", f"Host: {urlsplit(url).netloc}", "Content-Type: application/json",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status_before_the_rest(url: str, start: bytes, pieces=()) -> int:
    """Send ``start`` (headers and perhaps some body) and ``pieces`` over a raw socket, never the rest of
    the body: the status of the response, which must come without it (a socket timeout fails the test)."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=15) as sock:
        sock.sendall(start)
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:  # the server has answered and hung up
                break
        response = b""
        while b"\r\n" not in response:
            part = sock.recv(4096)
            if not part:
                break
            response += part
    return int(response.split(b" ", 2)[1])


def _signature_headers(body: str = "{}", timestamp: int | None = None) -> dict[str, str]:
    return sign(SECRET, body, timestamp)


def test_a_huge_body_without_a_signature_or_with_a_stale_one_is_refused_before_it_is_read(edge):
    little = b'{"type": "event_callback", "event": {"type": "app_mention", "text": "' + b"x" * 4000
    unsigned = _head(edge.url, {"Content-Length": str(HUGE)}) + little
    assert _status_before_the_rest(edge.url, unsigned) == 401
    stale = _head(edge.url, {**_signature_headers(timestamp=int(time.time()) - 3600), "Content-Length": str(HUGE)})
    assert _status_before_the_rest(edge.url, stale + little) == 401
    assert not edge.fake.calls_to("chat.postMessage")


def test_a_signed_body_over_the_limit_is_refused_from_its_length_or_once_a_chunked_one_passes_it(edge):
    declared = _head(edge.url, {**_signature_headers(), "Content-Length": str(HUGE)})
    assert _status_before_the_rest(edge.url, declared + b'{"type": "event_callback"') == 413
    chunked = _head(edge.url, {**_signature_headers(), "Transfer-Encoding": "chunked"})
    piece = 64 * 1024
    chunks = [f"{piece:x}\r\n".encode() + b"x" * piece + b"\r\n"] * (MAX_BODY_BYTES // piece + 2)
    assert _status_before_the_rest(edge.url, chunked, chunks) == 413  # the final empty chunk never sent
    assert not edge.fake.calls_to("chat.postMessage")


def test_a_small_signed_event_is_answered_whether_its_length_is_given_or_chunked(edge):
    for chunked in (False, True):
        event = mention(QUESTION)
        body = event_body(event)
        address = urlsplit(edge.url)
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        headers = {**sign(SECRET, body), "Content-Type": "application/json"}
        if chunked:
            half = len(body) // 2
            conn.request("POST", address.path, body=iter([body[:half].encode(), body[half:].encode()]),
                         headers=headers, encode_chunked=True)
        else:
            conn.request("POST", address.path, body=body.encode(), headers=headers)
        assert conn.getresponse().status == 200
        conn.close()
        edge.idle()
        placeholder = answers_in(edge.fake, "CGEN", event["ts"])[0]
        assert "UDP port 51820" in blocks_text(edge.fake.wait_for("chat.update", ts=placeholder["_ts"])[-1])


def test_with_the_queue_full_and_slack_answering_429_every_event_is_acked_and_the_busy_reply_waits(edge):
    gate = threading.Event()
    edge.chat.gate, edge.chat.replies = gate, ["Held back [1]."]
    running, waiting = mention(QUESTION), mention(QUESTION)
    burst = [mention(QUESTION) for _ in range(8)]
    try:
        assert edge.send_event(running)[0] == 200
        edge.fake.wait_for("chat.postMessage", thread_ts=running["ts"])  # taken; its model call held back
        assert edge.send_event(waiting)[0] == 200
        edge.fake.wait_for("chat.postMessage", thread_ts=waiting["ts"])  # told its place in line
        assert edge.bot.workers.full() and edge.bot.answerer.notices.wait_idle(30)
        # More 429s than the client retries one call (3): a busy reply posted inside a request failed it (500).
        edge.fake.retry_after, edge.fake.rate_limited["chat.postMessage"] = 1, 5
        statuses = [edge.send_event(event)[0] for event in burst]
        assert statuses == [200] * len(burst)
        busy = edge.fake.wait_for("chat.postMessage", text=prompts.BUSY["en"], timeout=60)[0]
        limited = edge.fake.calls_to("chat.postMessage:429")
        assert len(limited) == 5 and busy["_wall"] >= limited[-1]["_wall"] + 0.9  # after the Retry-After
        assert busy["thread_ts"] in {event["ts"] for event in burst}
    finally:
        edge.fake.rate_limited.clear()
        gate.set()
        edge.chat.gate = None
    edge.idle()
    for event in (running, waiting):
        placeholder = answers_in(edge.fake, "CGEN", event["ts"])[0]
        assert "Held back [1]" in blocks_text(update_for(edge.fake, placeholder["_ts"]))


def test_with_the_database_down_kb_status_and_the_app_home_say_so(own_server, e5_embedder):  # noqa: F811
    server, engine = own_server
    with running_bot(engine, e5_embedder, ScriptedChat(replies=[REPLY]), slack_admin_users=ADMIN) as slack:
        path = slack.send_command("/kb", "status", user=ADMIN)
        slack.idle()
        assert slack.replies(path)[-1]["text"].startswith("*Knowledge base*")
        _stop(server)
        try:
            path = slack.send_command("/kb", "status", user=ADMIN)
            assert slack.send_event({"type": "app_home_opened", "user": "UHOME", "tab": "home"})[0] == 200
            slack.idle()
            said = slack.replies(path)
            assert len(said) == 1 and said[0]["response_type"] == "ephemeral"
            assert said[0]["text"] == prompts.DATABASE_DOWN
            home = slack.fake.wait_for("views.publish", user_id="UHOME")[-1]["view"]
            home = json.loads(home) if isinstance(home, str) else home
            assert home["type"] == "home" and "database cannot be reached" in blocks_text(home)
        finally:
            server.ensure_postgres_running()
