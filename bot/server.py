"""Running the Slack bot: HTTP mode (Starlette + uvicorn, POST /slack/events) or Socket Mode."""

from __future__ import annotations

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
    """The ASGI app. Bolt verifies each request's signature and timestamp, acks, and runs the
    listener on its own threads; dispatch itself runs off the event loop so acks never queue
    behind each other."""

    async def events(request: Request):
        body = await request.body()
        response = await run_in_threadpool(bot.app.dispatch, to_bolt_request(request, body))
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
