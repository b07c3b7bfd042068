"""Answering one Slack question: a streamed draft (or a placeholder, or in the assistant panel a status)
first, the pipeline on a bounded pool, then the checked answer in its place.

Listeners only turn events into a ``SlackQuestion`` and hand it here; nothing in this module
sees a raw Slack payload except the thread history it fetches.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from answering import prompts
from answering.language import detect_language
from answering.pipeline import Answer, Pipeline, Question
from answering.types import Route
from bot.slack import blocks
from bot.slack.channels import Channels
from bot.slack.config import SlackConfig
from bot.slack.fairness import PerUser
from bot.slack.line import NOTICE_SECONDS, Opened, Recent, Ticket, claim
from bot.slack.outbox import REPLIES_WAITING, Outbox
from bot.slack.places import PRIVATE, Places
from bot.slack.streaming import SLACK_FAILURES, DraftStream, slack_error
from bot.slack.visibility import Audience, Visibility
from bot.slack.workers import Workers
from core.text import clean
from feedback import votes
from feedback.log import has_asked_before, set_reply
from feedback.mentions import strip_mentions
from retrieval.store import collection_names

log = logging.getLogger(__name__)
MAX_HISTORY_MESSAGES = 20
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class SlackQuestion:
    """A question as a listener hands it over: plain values, no Slack payload."""

    text: str
    user: str
    channel: str
    message_ts: str
    thread_ts: str | None  # the thread to answer in (None: top level of a DM)
    is_dm: bool = False
    in_thread: bool = False  # the question itself was posted inside an existing thread
    use_cache: bool = True  # False: "ask the model instead" of a cached answer
    ephemeral: bool = False  # /ask: answered to the asker alone
    # asked in a DM thread, as the assistant panel's are (bolt cannot tell them apart): a status while it works
    # where Slack allows one (the panel), else a placeholder
    panel: bool = False
    team: str | None = None  # the workspace, for streaming the draft to the asker
    channel_type: str | None = None  # where it was asked, as the event said ("channel", "group", "im", …), if it did

    @property
    def audience(self) -> Audience:
        """Who will see the answer: the asker alone (a DM, /ask), or everyone in the channel."""
        if self.is_dm or self.ephemeral:
            return Audience.alone(self.user, self.channel)
        return Audience(self.channel)


class SlackAnswerer:
    """Takes ``SlackQuestion``s from the listeners and answers each once, in its thread or privately."""

    def __init__(self, config: SlackConfig, pipeline: Pipeline, engine, workers: Workers,
                 visibility: Visibility, channels: Channels, places: Places | None = None) -> None:
        """``places``: whether a channel is public (None: every question counts as private)."""
        self.config = config
        self.visibility = visibility
        self.channels = channels
        self.places = places
        self.fair = PerUser(config.user_questions_per_minute)
        self.pipeline = pipeline
        self.engine = engine
        self.workers = workers
        self.notices = Outbox(config.queue_limit + REPLIES_WAITING)  # place-in-line notices, busy replies …
        self.recent = Recent()
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None

    @property
    def own_ids(self) -> tuple[str, ...]:
        """The bot's own user ID, when known: the one mention taken out of what people write."""
        return (self.bot_user_id,) if self.bot_user_id else ()

    # -- entry points ----------------------------------------------------------------------

    def ask(self, client: WebClient, q: SlackQuestion, only_if: Callable[[], bool] | None = None) -> None:
        """Queue ``q``; the worker claims it in PostgreSQL (exactly once per Slack message) before
        any work, so the ack to Slack waits for nothing but the queue. ``only_if``: answer only if this
        holds (checked on the worker). A question that must wait for a worker is told its place in line
        (a notice that claims it: bot.slack.line); a full queue gets a busy reply, but only from the
        delivery that wins the claim: duplicates never get one. Both are posted by bot.slack.outbox."""
        if not self.recent.first((q.channel, q.message_ts), conditional=only_if is not None):
            log.info("duplicate delivery of %s %s ignored", q.channel, q.message_ts)
            return
        if only_if is None and not self.fair.allow(q.user):  # conditional asks are counted once they are ours
            self.notices.later(lambda: self._slow_down(client, q), "a slow-down note")
            return
        ticket = Ticket()
        if not self.workers.submit(lambda: self._take(client, q, only_if, ticket)):
            if only_if is None:
                self.fair.give_back(q.user)  # a question the queue turned away does not count
            self.notices.later(lambda: self._refuse(client, q, only_if), "a busy reply")
        elif only_if is None and (accepted := self.workers.pending()) > self.workers.size:
            # every worker is busy, so it waits (the pool takes jobs in order): say where it stands
            self.notices.submit(lambda: self._notice(client, q, ticket, accepted - 1))

    def _notice(self, client: WebClient, q: SlackQuestion, ticket: Ticket, ahead: int) -> None:
        """A question waiting for a worker: claim it and open its message with its place in line (unless
        a worker took it meanwhile); the answer then goes into that message."""
        time.sleep(max(0.0, ticket.arrived + NOTICE_SECONDS - time.monotonic()))
        with ticket.lock:
            if ticket.started:
                return
            try:
                ticket.claimed = claim(self.engine, q.channel, q.message_ts)
            except SQLAlchemyError:  # the answer job claims it, or apologises
                log.warning("database unreachable: no place-in-line notice for %s %s", q.channel, q.message_ts)
                return
            if ticket.claimed:
                language = _language(q.text)
                ticket.opened = self._open(client, q, language, prompts.WAITING[language].format(n=ahead))

    def _take(self, client: WebClient, q: SlackQuestion, only_if: Callable[[], bool] | None, ticket: Ticket) -> None:
        with ticket.lock:
            ticket.started = True
        if ticket.claimed is not None:  # the notice claimed it (and, when won, opened its message)
            if ticket.claimed:
                self.answer(client, q, ticket.opened)
            return
        if not self._ours(q, only_if):
            return
        if only_if is not None and not self.fair.allow(q.user):
            self._slow_down(client, q)
            return
        try:
            won = claim(self.engine, q.channel, q.message_ts)
        except SQLAlchemyError:
            # A question always gets a reply, so apologise without a claim. The cost: while the
            # database is down, a duplicate delivery this process has not seen (another replica,
            # or after a restart) may apologise a second time.
            ref = reference()
            log.exception("database unreachable: cannot claim %s %s; apologising unclaimed (ref %s)",
                          q.channel, q.message_ts, ref)
            text, built = blocks.apology_message(prompts.UNAVAILABLE[_language(q.text)].format(ref=ref))
            client.chat_postMessage(channel=q.channel, thread_ts=q.thread_ts, text=text, blocks=built)
            return
        if not won:
            log.info("already claimed: %s %s", q.channel, q.message_ts)
            return
        self.answer(client, q)

    def _refuse(self, client: WebClient, q: SlackQuestion, only_if: Callable[[], bool] | None) -> None:
        """The queue is full: say so once, and only if no one else (another replica) took the message.
        With the database down there is no claim to win: the busy reply goes out regardless."""
        if not self._ours(q, only_if):
            return
        if only_if is None and self.fair.per_minute > 0 and not self.fair.first_refusal(q.user, "busy"):
            # uncounted (a full queue is not their fault), so their busy replies are limited instead
            log.info("queue full: %s was told already this minute (%s %s)", q.user, q.channel, q.message_ts)
            return
        try:
            if not claim(self.engine, q.channel, q.message_ts):
                log.info("queue full, and %s %s is already claimed: no busy reply", q.channel, q.message_ts)
                return
        except SQLAlchemyError:
            log.warning("queue full and database unreachable: busy reply for %s %s without a claim",
                        q.channel, q.message_ts, exc_info=True)
        log.warning("queue full: asked %s to ask again (%s %s)", q.user, q.channel, q.message_ts)
        client.chat_postMessage(channel=q.channel, thread_ts=q.thread_ts, text=prompts.BUSY[_language(q.text)])

    def _slow_down(self, client: WebClient, q: SlackQuestion) -> None:
        """Over the per-person limit: the question is not queued, and the first one of a minute gets a
        private note saying when to ask again (won by one delivery only, as the busy reply)."""
        log.info("%s is over %d questions a minute: %s %s not answered", q.user, self.fair.per_minute,
                 q.channel, q.message_ts)
        if not self.fair.first_refusal(q.user):
            return
        try:
            if not claim(self.engine, q.channel, q.message_ts):
                return
        except SQLAlchemyError:
            log.warning("database unreachable: slow-down note for %s without a claim", q.user, exc_info=True)
        note = self.slow_down_text(q)
        if q.is_dm:
            client.chat_postMessage(channel=q.channel, thread_ts=q.thread_ts, text=note)
        else:
            client.chat_postEphemeral(channel=q.channel, user=q.user, thread_ts=q.thread_ts, text=note)

    def slow_down_text(self, q: SlackQuestion) -> str:
        return prompts.SLOW_DOWN[_language(q.text)].format(n=self.fair.per_minute, s=self.fair.retry_in(q.user))

    def _ours(self, q: SlackQuestion, only_if: Callable[[], bool] | None) -> bool:
        if only_if is None:
            return True
        try:
            return only_if()
        except SQLAlchemyError:  # cannot tell whether we answered this thread: stay out of it
            log.warning("database unreachable: not answering %s %s, which may not be ours",
                        q.channel, q.message_ts, exc_info=True)
            return False

    def _open(self, client: WebClient, q: SlackQuestion, language: str, lead: str) -> Opened:
        """Show that it is working: in the assistant panel a status, then a streamed message (with ``lead``
        outside the panel), or where Slack will not stream, a placeholder saying ``lead``."""
        status = q.panel and self._status(client, q, lead)
        stream = DraftStream(client, q.channel, q.thread_ts, q.user, q.team, language)
        if not (self.config.streaming and stream.start("" if status else lead)):
            stream = None
        ts = None if stream is not None or status else self._placeholder(client, q, lead)
        return Opened(status, stream, ts)

    def answer(self, client: WebClient, q: SlackQuestion, opened: Opened | None = None) -> None:
        """Show that it is working (``opened``: already shown; the sources and the model's draft stream as
        they come), run the pipeline, then give the checked answer in that message's place; never leave a
        placeholder hanging."""
        language = _language(q.text)
        if opened is None:
            opened = self._open(client, q, language, blocks.THINKING[language])
        else:  # it waited in line, and its message says so: now it is being worked on
            self._its_turn(client, q, opened, blocks.THINKING[language])
        stream, ts = opened.stream, opened.ts
        try:
            first_dm = q.is_dm and not q.panel and not has_asked_before(self.engine, q.user)
            answer = self.pipeline.answer(self.question(client, q, stream))
            if stream is not None:
                ts = stream.finish()
                if stream.first_draft_at is not None:
                    _say_why_the_draft_went(answer, language)
            if answer.route == Route.HELP:  # the welcome takes the placeholder's place
                ts = self._post_welcome(client, q, answer.language, replace_ts=ts)
            else:
                if first_dm:
                    self._post_welcome(client, q, answer.language, replace_ts=None)
                ts = self._show(client, q, ts, answer)
            self._remember(answer, ts)
        except Exception:
            ref = reference()
            log.exception("answering in Slack failed (ref %s)", ref)
            if stream is not None:
                ts = stream.finish()
            _put(client, q, ts, *blocks.apology_message(prompts.APOLOGY[language].format(ref=ref)))

    def _its_turn(self, client: WebClient, q: SlackQuestion, opened: Opened, thinking: str) -> None:
        """A question told its place in line is being answered now: its status, its streamed message or its
        placeholder says so (a failure to say so is logged; the answer still comes)."""
        try:
            if opened.status:
                self._status(client, q, thinking)
            elif opened.stream is not None:
                opened.stream.say(thinking)
            elif opened.ts is not None:
                text, built = blocks.thinking_message(thinking)
                client.chat_update(channel=q.channel, ts=opened.ts, text=text, blocks=built)
        except SLACK_FAILURES as exc:
            log.info("could not say that %s %s is being answered: %s", q.channel, q.message_ts, slack_error(exc))

    def _placeholder(self, client: WebClient, q: SlackQuestion, lead: str) -> str:
        text, built = blocks.thinking_message(lead)
        return client.chat_postMessage(channel=q.channel, thread_ts=q.thread_ts, text=text, blocks=built)["ts"]

    def _status(self, client: WebClient, q: SlackQuestion, status: str) -> bool:
        """The assistant panel's "is thinking" line, and the thread's title from its first question; False
        where Slack refuses (a DM thread outside the panel, or no assistant:write scope)."""
        try:
            client.assistant_threads_setStatus(channel_id=q.channel, thread_ts=q.thread_ts, status=status)
        except SLACK_FAILURES as exc:
            log.info("no assistant status in %s %s (%s): a placeholder instead", q.channel, q.thread_ts,
                     slack_error(exc))
            return False
        if self.recent.first((q.channel, f"title-{q.thread_ts}")):
            try:
                client.assistant_threads_setTitle(channel_id=q.channel, thread_ts=q.thread_ts,
                                                  title=blocks.title(q.text))
            except SLACK_FAILURES as exc:
                log.info("could not title the assistant thread %s: %s", q.thread_ts, slack_error(exc))
        return True

    def answer_privately(self, q: SlackQuestion, respond: Callable) -> None:
        """/ask: the same pipeline, answered with an ephemeral message through ``respond``."""
        language = _language(q.text)
        try:
            answer = self.pipeline.answer(self.question(None, q))
            if answer.route == Route.HELP:
                text, built = blocks.help_message(answer, self.examples(q.audience))
            else:
                text, built = blocks.answer_message(answer, self.config.link_hosts)
            sent = respond(text=text, blocks=built, response_type="ephemeral", replace_original=True)
            if answer.route != Route.HELP and "invalid_blocks" in str(getattr(sent, "body", "")):
                text, built = blocks.answer_message(answer, self.config.link_hosts, legacy_votes=True)
                respond(text=text, blocks=built, response_type="ephemeral", replace_original=True)
        except Exception:
            ref = reference()
            log.exception("/ask failed (ref %s)", ref)
            respond(text=prompts.APOLOGY[language].format(ref=ref), response_type="ephemeral")

    # -- helpers ---------------------------------------------------------------------------

    def _show(self, client: WebClient, q: SlackQuestion, ts: str | None, answer: Answer) -> str:
        """Put the answer in the placeholder's place (or post it, with none); where Slack refuses its feedback
        buttons (invalid_blocks), with the same answer under a plain 👍/👎 button pair. Returns its ts."""
        try:
            return _put(client, q, ts, *blocks.answer_message(answer, self.config.link_hosts))
        except SlackApiError as exc:
            if exc.response.get("error") != "invalid_blocks":
                raise
            log.warning("Slack refused the feedback buttons (%s): plain 👍/👎 buttons instead",
                        exc.response.get("errors"))
        return _put(client, q, ts, *blocks.answer_message(answer, self.config.link_hosts, legacy_votes=True))

    def question(self, client: WebClient | None, q: SlackQuestion, stream: DraftStream | None = None) -> Question:
        history = self.history(client, q) if client is not None and q.in_thread else ()
        known = collection_names(self.engine)
        scope = self.visibility.collections(q.audience, known)
        style = None
        if not q.is_dm:  # what an admin chose for this channel (/kb channel collections, instruction)
            settings = self.channels.get(q.channel)
            scope, style = settings.narrow(scope), settings.instruction
        private = q.audience.private or q.panel or self.places is None  # where it was asked: bot.slack.places
        return Question(q.text, history=history, collections=scope, origin="slack", asker=q.user,
                        channel=q.channel, thread_ts=q.thread_ts, message_ts=q.message_ts, use_cache=q.use_cache,
                        style=style, place=PRIVATE if private else self.places.of(q.channel, q.channel_type),
                        on_draft=stream.on_draft if stream else None, on_found=stream.on_found if stream else None)

    def history(self, client: WebClient, q: SlackQuestion) -> tuple[tuple[str, str], ...]:
        """The thread before this message, as (role, text), oldest first."""
        reply = client.conversations_replies(channel=q.channel, ts=q.thread_ts, limit=100)
        turns = []
        for message in reply.get("messages", []):
            if message.get("ts") == q.message_ts:
                break
            mine = message.get("user") == self.bot_user_id or (self.bot_id and message.get("bot_id") == self.bot_id)
            text = strip_mentions(user_text(message.get("text")), self.own_ids)
            if text and not text.startswith("⏳"):
                turns.append(("assistant" if mine else "user", text))
        return tuple(turns[-MAX_HISTORY_MESSAGES:])

    def popular(self, audience: Audience) -> list[str]:
        """The up-voted questions ``audience`` may see: asked in a public channel that lets its questions be
        shown (/kb channel promote), against collections ``audience`` may see."""
        return votes.popular_questions(self.engine, lambda scope: self.visibility.covers(audience, scope),
                                       self.channels.promoting())

    def examples(self, audience: Audience) -> list[str]:
        """The up-voted questions ``audience`` may see, then the configured examples."""
        return list(dict.fromkeys(self.popular(audience) + list(self.config.example_questions)))

    def _post_welcome(self, client: WebClient, q: SlackQuestion, language: str, replace_ts: str | None) -> str:
        welcome = Answer("", route=Route.HELP, language=language)
        text, built = blocks.help_message(welcome, self.examples(q.audience), welcome=True)
        return _put(client, q, replace_ts, text, built)

    def _remember(self, answer: Answer, ts: str) -> None:
        if answer.interaction_id:
            set_reply(self.engine, answer.interaction_id, ts)


def _say_why_the_draft_went(answer: Answer, language: str) -> None:
    """A draft was shown while the model wrote; if the answer is not that draft, a notice says why."""
    if answer.route == Route.EXTRACTIVE and answer.fallback:  # replaced by quotes from the sources
        why = prompts.REPLACED_WHY[language]
        answer.notices.append(prompts.REPLACED[language].format(why=why.get(answer.fallback, why[""])))
    elif answer.route == Route.ANSWER and answer.language_retried and answer.language_ok:  # written again
        answer.notices.append(prompts.REWRITTEN[language])


def _put(client: WebClient, q: SlackQuestion, ts: str | None, text: str, built: list[dict]) -> str:
    """Replace message ``ts`` with ``text`` and ``built``, or post them in the question's thread; returns the ts."""
    if ts is None:
        return client.chat_postMessage(channel=q.channel, thread_ts=q.thread_ts, text=text, blocks=built)["ts"]
    client.chat_update(channel=q.channel, ts=ts, text=text, blocks=built)
    return ts


def user_text(value: object) -> str:
    """Text a person typed, as PostgreSQL and the models can take it: NUL and the other control
    characters (but newline and tab) and lone surrogates removed; anything but a string is ""."""
    return _SURROGATES.sub("", clean(value)) if isinstance(value, str) else ""


def reference() -> str:
    """A reference for an apology, to find its log line: the time, and a tie-breaker."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def _language(text: str) -> str:
    lang = detect_language(text)
    return lang if lang in ("en", "ko") else "en"
