"""Questions: mentions, DMs, thread follow-ups, example buttons, "ask the model instead", /ask."""

from __future__ import annotations

import logging
import re

from slack_bolt import App

from answering.pipeline import is_help
from bot.slack import blocks
from bot.slack.answers import SlackQuestion, user_text
from bot.slack.asking import asks
from bot.slack.listeners import Deps, acting_channel, as_int
from bot.slack.mrkdwn import escape
from feedback.log import bot_answered_thread, question_of
from feedback.mentions import strip_mentions

log = logging.getLogger(__name__)
# Message subtypes that are still a person asking: a DM with a file attached, a thread reply
# also sent to the channel. Every other subtype (edits, joins, bot messages …) is ignored.
ASKING_SUBTYPES = (None, "file_share", "thread_broadcast")
BUSY = "Too many questions right now; please try again in a minute."


def register(app: App, deps: Deps) -> None:
    """Every way a question reaches the bot; each becomes a ``SlackQuestion`` for the answerer."""
    answerer, engine, channels = deps.answerer, deps.engine, deps.channels

    @app.event("app_mention")
    def on_mention(event, client, context):
        if event.get("bot_id") or event.get("subtype") not in ASKING_SUBTYPES or not (where := _where(event)):
            return
        user, channel, ts, thread_ts = where
        if channels.get(channel).mode == "off":
            log.info("not answering a mention in %s: the bot is off there", channel)
            return
        answerer.ask(client, SlackQuestion(
            text=strip_mentions(user_text(event.get("text")), answerer.own_ids), user=user, channel=channel,
            message_ts=ts, thread_ts=thread_ts or ts, in_thread=bool(thread_ts), team=context.team_id,
            channel_type=_kind(event)))

    @app.event("message")
    def on_message(event, client, context):
        if event.get("bot_id") or event.get("subtype") not in ASKING_SUBTYPES:
            return  # our own messages, other bots, edits, joins …
        if event.get("user") == answerer.bot_user_id or not (where := _where(event)):
            return
        user, channel, ts, thread_ts = where
        text, kind = strip_mentions(user_text(event.get("text")), answerer.own_ids), _kind(event)
        if kind == "im":
            answerer.ask(client, SlackQuestion(text=text, user=user, channel=channel, message_ts=ts,
                                               thread_ts=thread_ts, is_dm=True, in_thread=bool(thread_ts),
                                               team=context.team_id))
        elif channels.get(channel).mode == "off":
            return
        elif thread_ts and thread_ts != ts:  # a reply in a thread: ours only if we answered there
            answerer.ask(client, SlackQuestion(text=text, user=user, channel=channel, message_ts=ts,
                                               thread_ts=thread_ts, in_thread=True, team=context.team_id,
                                               channel_type=kind),
                         only_if=lambda: bot_answered_thread(engine, channel, thread_ts))
        elif channels.get(channel).mode == "all" and not is_help(text) and asks(text):  # a help channel: questions
            answerer.ask(client, SlackQuestion(text=text, user=user, channel=channel, message_ts=ts, thread_ts=ts,
                                               team=context.team_id, channel_type=kind))

    _register_buttons(app, deps)

    @app.command("/ask")
    def on_ask(ack, command, respond):
        text = user_text(command.get("text")).strip()
        q = SlackQuestion(text=text, user=command["user_id"], channel=command["channel_id"],
                          message_ts=f"cmd-{command.get('trigger_id', '')}", thread_ts=None,
                          is_dm=command.get("channel_name") == "directmessage", ephemeral=True)
        # a refusal is said in the ack itself: no call to Slack while Slack waits for the ack
        if not answerer.fair.allow(q.user):
            ack(response_type="ephemeral", text=answerer.slow_down_text(q))
        elif not answerer.workers.submit(lambda: answerer.answer_privately(q, respond)):
            ack(response_type="ephemeral", text=BUSY)
        else:
            ack(response_type="ephemeral", text="⏳ …")


def _privately(answerer, q: SlackQuestion, respond, keep_original: bool = False) -> None:
    """Queue ``q`` for an answer its asker alone sees (through ``respond``); say so when the queue is full.
    ``keep_original``: the button was on a message everyone there sees, which the answer must not replace
    (a reply through ``respond`` that replaces the original would be shown to all of them)."""
    say = (lambda **kw: respond(**{**kw, "replace_original": False})) if keep_original else respond
    if not answerer.workers.submit(lambda: answerer.answer_privately(q, say)):
        answerer.notices.later(lambda: say(text=BUSY, response_type="ephemeral"), "a busy reply")


def _register_buttons(app: App, deps: Deps) -> None:
    """The buttons that ask: "ask the model instead" and the example questions."""
    answerer, engine, visibility, channels = deps.answerer, deps.engine, deps.visibility, deps.channels

    def off(channel: str) -> bool:
        """The bot does not answer there (/kb channel mode off): a button still there is answered privately."""
        return not channel.startswith("D") and channels.get(channel).mode == "off"

    @app.action(blocks.ASK_MODEL)
    def on_ask_model(ack, body, client, respond):
        """"Ask the model instead" under a cached answer: the same question, cache bypassed, once."""
        ack()
        interaction_id, user = as_int(body["actions"][0].get("value")), body["user"]["id"]
        asked = question_of(engine, interaction_id)
        if asked is None or not visibility.saw(asked, user, acting_channel(body)):
            log.warning("refused 'ask the model instead' by %s on #%s from %s", user, interaction_id,
                        acting_channel(body))
            return
        channel, seen_alone = asked["channel"], asked["reply_ts"] is None
        q = SlackQuestion(text=asked["question"], user=user, channel=channel, message_ts=f"model-{interaction_id}",
                          thread_ts=asked["thread_ts"], is_dm=channel.startswith("D"), use_cache=False,
                          ephemeral=seen_alone or off(channel))
        if q.ephemeral:  # an answer the asker alone saw stays private; so does one in a channel now off
            _privately(answerer, q, respond, keep_original=not seen_alone)
        else:
            answerer.ask(client, q)

    @app.action(re.compile(f"^{blocks.ASK_EXAMPLE}_\\d+$"))
    def on_example(ack, body, client, respond):
        ack()
        user = body["user"]["id"]
        question = user_text(body["actions"][0].get("value"))
        channel = body.get("channel", {}).get("id") if body.get("channel") else None
        from_private = bool((body.get("container") or {}).get("is_ephemeral"))
        if channel and (from_private or off(channel)):
            # from a private help (/ask help): the examples were the asker's own, so is the answer; from an old
            # help message in a channel now off: answered to the one who clicked alone, the message left as it is
            q = SlackQuestion(text=question, user=user, channel=channel, message_ts=f"example-{body.get('trigger_id')}",
                              thread_ts=None, ephemeral=True)
            _privately(answerer, q, respond, keep_original=not from_private)
            return
        answerer.notices.later(lambda: _ask_aloud(answerer, client, user, channel, question), "an example question")


def _ask_aloud(answerer, client, user: str, channel: str | None, question: str) -> None:
    """An example clicked: post "<user> asked: …" (in the DM with the bot, from the App Home) and answer it
    in that message's thread. Posted by bot.slack.outbox: it calls Slack before it can queue the question."""
    if not channel:  # from the App Home tab: ask in the DM with the bot
        channel = client.conversations_open(users=user)["channel"]["id"]
    posted = client.chat_postMessage(channel=channel, text=f"<@{user}> asked: {escape(question)}"[:3000])
    answerer.ask(client, SlackQuestion(text=question, user=user, channel=channel, message_ts=posted["ts"],
                                       thread_ts=posted["ts"], is_dm=channel.startswith("D")))


def _where(event: dict) -> tuple[str, str, str, str | None] | None:
    """(user, channel, ts, thread_ts) of a message event; None, logged, when Slack left one out."""
    user, channel, ts, thread_ts = (event.get(k) for k in ("user", "channel", "ts", "thread_ts"))
    if not all(isinstance(v, str) and v for v in (user, channel, ts)):
        log.warning("ignored a %s event without a user, channel or ts (fields: %s)", event.get("type"),
                    ", ".join(sorted(map(str, event))))
        return None
    return user, channel, ts, thread_ts if isinstance(thread_ts, str) and thread_ts else None


def _kind(event: dict) -> str | None:
    """The event's ``channel_type`` ("channel", "group", "im", "mpim"), if it has one (app_mention has none)."""
    kind = event.get("channel_type")
    return kind if isinstance(kind, str) and kind else None
