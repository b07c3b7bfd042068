"""Running the Slack bot: HTTP mode (Starlette + uvicorn, POST /slack/events) or Socket Mode."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from typing import Iterator

from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.slack.app import SlackBot

log = logging.getLogger(__name__)
SWITCH_SECONDS = 0.001
# Slack's requests are small (an event or a modal's values: a few KB, a long message well under 100 KB);
# a larger body is refused before it is read, from its Content-Length or as soon as a chunked body passes it.
MAX_BODY_BYTES = 1024 * 1024
STALE_SECONDS = 5 * 60  # a request timestamp further off is refused, as slack_sdk's SignatureVerifier does


def http_app(bot: SlackBot) -> Starlette:
    """The ASGI app. A request without Slack's signature headers, or with a stale timestamp, is refused
    (401) before its body is read, and a body over ``MAX_BODY_BYTES`` (413) as soon as that is known;
    then the signature is checked over the body (401), and a signed body bolt could not read is refused
    (400); then bolt verifies again, runs the listener and acks. Question events are dispatched on the
    event loop (their listeners only queue work, replies included); everything else runs on a thread so
    a slow listener never delays other acks."""
    # Answer threads do CPU work in Python; with the default 5 ms GIL switch interval each of them can hold
    # the event loop (and so every ack) up for that long. A shorter interval keeps acks prompt.
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_SECONDS))
    verifier = SignatureVerifier(bot.signing_secret)
    healthy = True  # log the database going away and coming back, not every probe

    async def events(request: Request):
        if not _may_be_signed(verifier, request.headers):  # nothing of the body read yet
            return _refused(401, "invalid or missing signature")
        body = await read_body(request, MAX_BODY_BYTES)
        if body is None:
            return _refused(413, f"the body is over {MAX_BODY_BYTES} bytes; Slack sends far less")
        if not _signed(verifier, body, request.headers):
            return PlainTextResponse("invalid or missing signature", status_code=401)
        payload, problem = read_payload(body, request.headers.get("content-type"))
        if payload is None:
            log.warning("refused a signed request: %s", problem)
            return PlainTextResponse(problem, status_code=400)
        bolt_request = to_bolt_request(request, body)
        if _only_queues(payload):  # the listener just queues (a busy reply too), ~0.1 ms
            response = bot.app.dispatch(bolt_request)
        else:  # votes, modals, commands, home: listeners that write or call Slack
            response = await run_in_threadpool(bot.app.dispatch, bolt_request)
        return to_starlette_response(response)

    async def health(request: Request):
        nonlocal healthy
        problem = await run_in_threadpool(bot.database_problem)
        if (problem is None) != healthy:
            healthy = problem is None
            log.log(logging.INFO if healthy else logging.WARNING, "health: %s",
                    "the database is reachable again" if healthy else f"the database is unreachable: {problem}")
        if problem is not None:
            return PlainTextResponse("the database is unreachable", status_code=503)
        return PlainTextResponse("ok")

    async def live(request: Request):  # the process answers HTTP (no database): liveness, and the
        return PlainTextResponse("ok")  # baseline `bench slack` measures acks against

    @asynccontextmanager
    async def lifespan(app):
        yield
        log.info("shutting down: finishing accepted questions")
        await run_in_threadpool(bot.shutdown, True)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", health),
                             Route("/livez", live)],
                     lifespan=lifespan)


def _may_be_signed(verifier: SignatureVerifier, headers) -> bool:
    """Slack's signature and a timestamp at most five minutes off are there: only then is the body worth
    reading to check the signature over it (the verifier refuses an older timestamp too)."""
    timestamp, signature = headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
    if not timestamp or not signature:
        return False
    try:
        return abs(verifier.clock.now() - int(timestamp)) <= STALE_SECONDS
    except ValueError:  # a timestamp that is not a number
        return False


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is known to be over ``limit`` bytes: from its
    Content-Length before any of it is read, else (a chunked body) once what was read passes it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(status: int, why: str) -> PlainTextResponse:
    """A refusal sent with the body (mostly) unread: the connection closes, so the rest is never read."""
    return PlainTextResponse(why, status_code=status, headers={"Connection": "close"})


def _signed(verifier: SignatureVerifier, body: bytes, headers) -> bool:
    try:
        return verifier.is_valid_request(body, headers)
    except ValueError:  # a timestamp that is not a number, a body that is not UTF-8
        return False


def read_payload(body: bytes, content_type: str | None) -> tuple[dict | None, str]:
    """The body parsed as bolt will parse it, or (None, why it cannot be handled)."""
    media_type = content_type.split(";")[0] if content_type else None
    try:
        payload = parse_body(body.decode("utf-8"), media_type)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        return None, f"the body is not JSON or form data Slack would send ({type(exc).__name__})"
    if not isinstance(payload, dict):
        return None, f"the body is a JSON {type(payload).__name__}, not an object"
    event = payload.get("event")
    if payload.get("type") == "event_callback" or event is not None:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return None, "an event callback without an event object"
    return payload, ""


def _only_queues(payload: dict) -> bool:
    """True for event callbacks whose listeners only put a question on the worker queue."""
    return (payload.get("event") or {}).get("type") in ("app_mention", "message")


def serve_http(bot: SlackBot, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT; uvicorn stops accepting, then the worker pool drains."""
    import uvicorn

    uvicorn.run(http_app(bot), host=host, port=port, log_level="info", timeout_graceful_shutdown=120)


@contextmanager
def serve_in_thread(bot: SlackBot, host: str = "127.0.0.1") -> Iterator[str]:
    """HTTP mode on a free port, in a background thread, for the tests and benchmarks; yields the URL.
    uvicorn's records (tracebacks included) go to the root logger, where a caller can read them."""
    import uvicorn

    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(http_app(bot), host=host, port=port, log_level="warning",
                                           log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the HTTP server on {host}:{port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def serve_socket_mode(bot: SlackBot, app_token: str) -> None:
    """Socket Mode: no public URL; Slack delivers events over a WebSocket."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(bot.app, app_token)
    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    handler.connect()
    log.info("connected to Slack in Socket Mode")
    stop.wait()
    log.info("shutting down: finishing accepted questions")
    handler.close()
    bot.shutdown(wait=True)
