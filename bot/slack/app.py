"""The bolt App: listeners translate Slack payloads to plain values and back, nothing more."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from answering import prompts
from answering.pipeline import Pipeline
from bot.slack import blocks
from bot.slack.admin import Admin
from bot.slack.answers import SlackAnswerer, SlackQuestion, Workers, strip_mentions, user_text
from bot.slack.config import SlackConfig
from bot.slack.mrkdwn import escape
from core.errors import InvalidInput
from feedback import votes
from feedback.answer_cache import AnswerCacheStore
from feedback.log import bot_answered_thread, interaction_exists, interaction_for_reply, question_of
from retrieval.store import collection_summaries

log = logging.getLogger(__name__)
UP = {"+1", "thumbsup"}
DOWN = {"-1", "thumbsdown"}
# Message subtypes that are still a person asking: a DM with a file attached, a thread reply
# also sent to the channel. Every other subtype (edits, joins, bot messages …) is ignored.
ASKING_SUBTYPES = (None, "file_share", "thread_broadcast")
PROBE_SECONDS = 2


@dataclass
class SlackBot:
    app: App
    answerer: SlackAnswerer
    admin: Admin
    workers: Workers
    signing_secret: str  # the HTTP server checks signatures itself, before it reads a body
    probe: Engine  # /healthz: a one-connection engine that fails fast

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
        self.admin.background.shutdown(wait=wait)
        self.probe.dispose()


def probe_engine(engine: Engine) -> Engine:
    """A one-connection engine for health checks that gives up within seconds: the main pool's
    connects have no timeout, so a check through it could hang as long as the network does."""
    return create_engine(engine.url, pool_size=1, max_overflow=1, pool_timeout=PROBE_SECONDS, pool_pre_ping=True,
                         connect_args={"connect_timeout": PROBE_SECONDS, "application_name": "team-kb-health",
                                       "options": f"-c statement_timeout={PROBE_SECONDS * 1000}"})


def web_client(config: SlackConfig) -> WebClient:
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
    answerer = SlackAnswerer(config, pipeline, engine, workers)
    auth = client.auth_test()
    answerer.bot_user_id, answerer.bot_id = auth.get("user_id"), auth.get("bot_id")
    admin = Admin(config, engine, indexer, answer_cache)
    bot = SlackBot(app, answerer, admin, workers, signing_secret, probe_engine(engine))
    _register_questions(bot, engine)
    _register_feedback(bot, engine, answer_cache)
    _register_admin(bot, engine)
    return bot


def _register_questions(bot: SlackBot, engine: Engine) -> None:
    """Mentions, DMs, thread follow-ups, example buttons, "ask the model instead", /ask."""
    app, answerer = bot.app, bot.answerer

    @app.event("app_mention")
    def on_mention(event, client):
        if event.get("bot_id") or event.get("subtype") not in ASKING_SUBTYPES or not (where := _where(event)):
            return
        user, channel, ts, thread_ts = where
        answerer.ask(client, SlackQuestion(
            text=strip_mentions(event.get("text"), answerer.bot_user_id), user=user, channel=channel,
            message_ts=ts, thread_ts=thread_ts or ts, in_thread=bool(thread_ts)))

    @app.event("message")
    def on_message(event, client):
        if event.get("bot_id") or event.get("subtype") not in ASKING_SUBTYPES:
            return  # our own messages, other bots, edits, joins …
        if event.get("user") == answerer.bot_user_id or not (where := _where(event)):
            return
        user, channel, ts, thread_ts = where
        text = strip_mentions(event.get("text"), answerer.bot_user_id)
        if event.get("channel_type") == "im":
            answerer.ask(client, SlackQuestion(text=text, user=user, channel=channel, message_ts=ts,
                                               thread_ts=thread_ts, is_dm=True, in_thread=bool(thread_ts)))
        elif thread_ts and thread_ts != ts:  # a reply in a thread: ours only if we answered there
            answerer.ask(client, SlackQuestion(text=text, user=user, channel=channel, message_ts=ts,
                                               thread_ts=thread_ts, in_thread=True),
                         only_if=lambda: bot_answered_thread(engine, channel, thread_ts))

    @app.action(blocks.ASK_MODEL)
    def on_ask_model(ack, body, client):
        """"Ask the model instead" under a cached answer: the same question, cache bypassed, once."""
        ack()
        interaction_id = _int(body["actions"][0].get("value"))
        asked = question_of(engine, interaction_id) if interaction_id is not None else None
        if not asked or not asked["channel"]:
            return
        channel = asked["channel"]
        answerer.ask(client, SlackQuestion(text=asked["question"], user=body["user"]["id"], channel=channel,
                                           message_ts=f"model-{interaction_id}", thread_ts=asked["thread_ts"],
                                           is_dm=channel.startswith("D"), use_cache=False))

    @app.action(re.compile(f"^{blocks.ASK_EXAMPLE}_\\d+$"))
    def on_example(ack, body, client):
        ack()
        user = body["user"]["id"]
        question = user_text(body["actions"][0].get("value"))
        channel = body.get("channel", {}).get("id") if body.get("channel") else None
        if not channel:  # from the App Home tab: ask in the DM with the bot
            channel = client.conversations_open(users=user)["channel"]["id"]
        posted = client.chat_postMessage(channel=channel, text=f"<@{user}> asked: {escape(question)}"[:3000])
        answerer.ask(client, SlackQuestion(text=question, user=user, channel=channel, message_ts=posted["ts"],
                                           thread_ts=posted["ts"], is_dm=channel.startswith("D")))

    @app.command("/ask")
    def on_ask(ack, command, respond):
        text = user_text(command.get("text")).strip()
        ack(response_type="ephemeral", text="⏳ …")
        q = SlackQuestion(text=text, user=command["user_id"], channel=command["channel_id"],
                          message_ts=f"cmd-{command.get('trigger_id', '')}", thread_ts=None,
                          is_dm=command.get("channel_name") == "directmessage")
        if not answerer.workers.submit(lambda: answerer.answer_privately(q, respond)):
            respond(text="Too many questions right now; please try again in a minute.", response_type="ephemeral")


def _register_feedback(bot: SlackBot, engine: Engine, answer_cache: AnswerCacheStore | None) -> None:
    """Votes by button and reaction, and the comment modal after a 👎."""
    app, answerer = bot.app, bot.answerer

    def rated(interaction_id: int) -> None:
        """A vote changed: the answer may now be cached, or a cached one demoted."""
        if answer_cache is not None:
            try:
                answer_cache.refresh(interaction_id)
            except Exception:
                log.exception("could not update the answer cache after a vote on #%s", interaction_id)

    @app.action(blocks.VOTE_UP)
    @app.action(blocks.VOTE_DOWN)
    def on_vote(ack, body, client):
        ack()
        action = body["actions"][0]
        interaction_id = _int(action.get("value"))
        if interaction_id is None or not interaction_exists(engine, interaction_id):
            return
        value = 1 if action["action_id"] == blocks.VOTE_UP else -1
        votes.vote(engine, interaction_id, body["user"]["id"], value, "button")
        rated(interaction_id)
        if value == -1 and body.get("trigger_id"):
            client.views_open(trigger_id=body["trigger_id"], view=blocks.comment_modal(interaction_id))

    @app.view(blocks.VOTE_COMMENT)
    def on_comment(ack, body, view):
        ack()
        interaction_id = _int(view.get("private_metadata"))
        value = (view.get("state", {}).get("values", {}).get("comment", {}).get("comment", {}) or {}).get("value")
        value = user_text(value).strip()
        if interaction_id is not None and value:
            votes.comment(engine, interaction_id, body["user"]["id"], value[:3000])
            rated(interaction_id)

    @app.event("reaction_added")
    def on_reaction_added(event):
        _reaction(event, added=True)

    @app.event("reaction_removed")
    def on_reaction_removed(event):
        _reaction(event, added=False)

    def _reaction(event, added: bool) -> None:
        name = str(event.get("reaction") or "").split("::")[0]
        value = 1 if name in UP else -1 if name in DOWN else 0
        item, user = event.get("item") or {}, event.get("user")
        if not value or not isinstance(item, dict) or item.get("type") != "message":
            return
        if not isinstance(user, str) or not user or user == answerer.bot_user_id:
            return
        interaction_id = interaction_for_reply(engine, item.get("channel"), item.get("ts"))
        if interaction_id is None:
            return  # not one of our answers
        if added:
            votes.vote(engine, interaction_id, user, value, "reaction")
        else:
            votes.withdraw(engine, interaction_id, user, value)
        rated(interaction_id)


def _register_admin(bot: SlackBot, engine: Engine) -> None:
    """App Home, /kb and the curation modal; and the one place listener failures are logged."""
    app, answerer = bot.app, bot.answerer

    @app.action(blocks.CURATE)
    def on_curate(ack, body, client):
        ack()
        bot.admin.open_curation(client, body["user"]["id"], _int(body["actions"][0].get("value")),
                                body.get("trigger_id"))

    @app.view(blocks.CURATE_SUBMIT)
    def on_curated(ack, body, view, client):
        values = view.get("state", {}).get("values", {})
        answer = user_text((values.get("answer", {}).get("answer") or {}).get("value")).strip()
        if not answer:
            ack(response_action="errors", errors={"answer": "Write the answer people should get."})
            return
        ack()
        bot.admin.save_curation(client, body["user"]["id"], _int(view.get("private_metadata")), answer)

    @app.event("app_home_opened")
    def on_home(event, client):
        if event.get("tab") not in (None, "home") or not isinstance(event.get("user"), str):
            return
        view = blocks.home_view(collection_summaries(engine), list(answerer.config.example_questions),
                                votes.popular_questions(engine))
        client.views_publish(user_id=event["user"], view=view)

    @app.command("/kb")
    def on_kb(ack, command, client, respond):
        ack()
        user, text = command["user_id"], user_text(command.get("text"))
        if not answerer.workers.submit(lambda: bot.admin.command(client, user, text, respond)):
            respond(text="Too busy right now; please try again in a minute.", response_type="ephemeral")

    @app.error
    def on_error(error, body, response, client):
        if isinstance(error, SQLAlchemyError) and _tell_not_saved(client, body):
            log.warning("could not store a %s: the database failed: %s", body.get("type"), error)
            response.status = 200  # handled: the user was told, and a retry would fail the same way
            return
        log.error("Slack listener failed: %s", error, exc_info=error)


def _tell_not_saved(client: WebClient, body: dict) -> bool:
    """A click or form the database could not store: say so to the one who made it (ephemeral)."""
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id")
    if body.get("type") not in ("block_actions", "view_submission") or not user:
        return False
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=prompts.NOT_SAVED)
        else:  # a modal: no channel to answer in, so the DM with the bot
            client.chat_postMessage(channel=user, text=prompts.NOT_SAVED)
    except SlackApiError:
        log.warning("could not tell %s that their input was not saved", user)
    return True


def _where(event: dict) -> tuple[str, str, str, str | None] | None:
    """(user, channel, ts, thread_ts) of a message event; None, logged, when Slack left one out."""
    user, channel, ts, thread_ts = (event.get(k) for k in ("user", "channel", "ts", "thread_ts"))
    if not all(isinstance(v, str) and v for v in (user, channel, ts)):
        log.warning("ignored a %s event without a user, channel or ts (fields: %s)", event.get("type"),
                    ", ".join(sorted(map(str, event))))
        return None
    return user, channel, ts, thread_ts if isinstance(thread_ts, str) and thread_ts else None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
