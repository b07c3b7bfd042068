"""The bolt App: built from a SlackConfig, with the listeners of every module in ``bot.slack.listeners``
registered; listeners translate Slack payloads to plain values and back, nothing more."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from answering.pipeline import Pipeline
from bot.slack.admin import Admin
from bot.slack.answers import SlackAnswerer
from bot.slack.channels import Channels
from bot.slack.config import SlackConfig
from bot.slack.listeners import Deps, assistant, errors, questions, votes
from bot.slack.listeners import admin as admin_listeners
from bot.slack.places import Places
from bot.slack.visibility import Members, Visibility
from bot.slack.workers import Workers
from core.errors import InvalidInput
from feedback.answer_cache import AnswerCacheStore
from feedback.retention import purge

log = logging.getLogger(__name__)
PROBE_SECONDS = 2
PURGE_EVERY_SECONDS = 24 * 3600
PURGE_RETRY_SECONDS = 3600


@dataclass
class SlackBot:
    """What the servers run: the bolt App, and what shutdown and /healthz need."""

    app: App
    answerer: SlackAnswerer
    admin: Admin
    workers: Workers
    signing_secret: str  # the HTTP server checks signatures itself, before it reads a body
    probe: Engine  # /healthz: a one-connection engine that fails fast
    retention: DailyPurge | None = None  # RETENTION_DAYS set: the log is purged once a day

    def database_problem(self) -> str | None:
        """None when the database answers ``SELECT 1``; else why not, in one line."""
        try:
            with self.probe.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        return None

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking questions and finish the ones accepted (SIGTERM)."""
        self.workers.shutdown(wait=wait)
        self.answerer.notices.shutdown(wait=wait)
        self.admin.background.shutdown(wait=wait)
        if self.retention is not None:
            self.retention.stop()
        self.probe.dispose()


class DailyPurge:
    """RETENTION_DAYS: ``feedback.retention.purge`` at start-up and then once a day, on a daemon thread
    (until a job queue schedules it). A failed purge is logged and tried again an hour later."""

    def __init__(self, engine: Engine, days: int) -> None:
        self.engine, self.age = engine, timedelta(days=days)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                log.info("retention (%s): %s", self.age, purge(self.engine, self.age).summary())
                wait = PURGE_EVERY_SECONDS
            except Exception:
                log.exception("the retention purge failed; trying again in an hour")
                wait = PURGE_RETRY_SECONDS
            if self._stop.wait(wait):
                return

    def stop(self) -> None:
        self._stop.set()


def probe_engine(engine: Engine) -> Engine:
    """A one-connection engine for health checks that gives up within seconds: the main pool's
    connects have no timeout, so a check through it could hang as long as the network does."""
    return create_engine(engine.url, pool_size=1, max_overflow=1, pool_timeout=PROBE_SECONDS, pool_pre_ping=True,
                         hide_parameters=True,
                         connect_args={"connect_timeout": PROBE_SECONDS, "application_name": "team-kb-health",
                                       "options": f"-c statement_timeout={PROBE_SECONDS * 1000}"})


def web_client(config: SlackConfig) -> WebClient:
    """The Web API client the bot posts with: 30 s timeouts, rate limits retried."""
    client = WebClient(token=config.bot_token, base_url=config.api_url, timeout=30)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))  # honours Retry-After
    return client


def build_slack_bot(config: SlackConfig, pipeline: Pipeline, engine, indexer,
                    answer_cache: AnswerCacheStore | None = None, client: WebClient | None = None,
                    **app_options) -> SlackBot:
    """The App with every listener; ``indexer`` is a callable returning the Indexer (built lazily);
    ``answer_cache`` is told about every vote (None: votes are only recorded)."""
    if not config.bot_token:
        raise InvalidInput("SLACK_BOT_TOKEN is not set (see README: Connect to your workspace)")
    if not config.signing_secret and not config.app_token:
        raise InvalidInput("SLACK_SIGNING_SECRET is needed in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)")
    client = client or web_client(config)
    # Listeners only claim, queue and record, so acking after them costs milliseconds and
    # means a 200 to Slack always comes after the question was claimed.
    signing_secret = config.signing_secret or "socket-mode"
    app = App(client=client, signing_secret=signing_secret, process_before_response=True, **app_options)
    workers = Workers(config.workers, config.queue_limit)
    visibility = Visibility(config.channel_collections, Members(client))
    channels = Channels(engine)
    answerer = SlackAnswerer(config, pipeline, engine, workers, visibility, channels, Places(client))
    auth = client.auth_test()
    answerer.bot_user_id, answerer.bot_id = auth.get("user_id"), auth.get("bot_id")
    admin = Admin(config, engine, indexer, visibility, answer_cache, channels=channels)
    deps = Deps(answerer, admin, engine, visibility, channels, answer_cache)
    for listeners in (assistant, questions, votes, admin_listeners, errors):
        listeners.register(app, deps)
    retention = DailyPurge(engine, config.retention_days) if config.retention_days else None
    return SlackBot(app, answerer, admin, workers, signing_secret, probe_engine(engine), retention)

