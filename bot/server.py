"""Running the Slack bot: HTTP mode (Starlette + uvicorn, POST /slack/events) or Socket Mode."""

from __future__ import annotations

import json
import logging
import signal
import threading
from contextlib import asynccontextmanager

from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.slack_app import SlackBot

log = logging.getLogger(__name__)


def http_app(bot: SlackBot) -> Starlette:
    """The ASGI app. Bolt verifies each request's signature and timestamp, runs the listener,
    then acks. Question events are dispatched on the event loop (their listeners only queue
    work); everything else runs on a thread so a slow listener never delays other acks."""

    async def events(request: Request):
        body = await request.body()
        bolt_request = to_bolt_request(request, body)
        if _only_queues(body):  # questions: the listener just queues, ~0.1 ms; no thread hop
            response = bot.app.dispatch(bolt_request)
        else:  # votes, modals, commands, home: listeners that write or call Slack
            response = await run_in_threadpool(bot.app.dispatch, bolt_request)
        return to_starlette_response(response)

    async def health(request: Request):
        return PlainTextResponse("ok")

    @asynccontextmanager
    async def lifespan(app):
        yield
        log.info("shutting down: finishing accepted questions")
        await run_in_threadpool(bot.shutdown, True)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", health)],
                     lifespan=lifespan)


def _only_queues(body: bytes) -> bool:
    """True for event callbacks whose listeners only put a question on the worker queue."""
    if not body.startswith(b"{"):
        return False
    try:
        event = json.loads(body).get("event") or {}
    except ValueError:
        return False
    return event.get("type") in ("app_mention", "message")


def serve_http(bot: SlackBot, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT; uvicorn stops accepting, then the worker pool drains."""
    import uvicorn

    uvicorn.run(http_app(bot), host=host, port=port, log_level="info", timeout_graceful_shutdown=120)


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
