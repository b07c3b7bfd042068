"""The assistant panel (bolt's ``Assistant``): a welcome and suggested prompts when a thread starts, and
each message there answered like a DM, with a status while the answer is worked on."""

from __future__ import annotations

import logging

from slack_bolt import App, Assistant

from answering import prompts
from bot.slack import blocks
from bot.slack.answers import SlackQuestion, user_text
from bot.slack.listeners import Deps
from bot.slack.visibility import Audience
from feedback.mentions import strip_mentions

log = logging.getLogger(__name__)
MAX_PROMPTS = 4  # Slack shows at most four suggested prompts
PROMPTS_TITLE = "Try asking"


def register(app: App, deps: Deps) -> None:
    answerer = deps.answerer
    assistant = Assistant()

    @assistant.thread_started
    def on_started(payload, say, set_suggested_prompts):
        answerer.notices.later(lambda: welcome(payload, say, set_suggested_prompts), "an assistant thread's welcome")

    def welcome(payload, say, set_suggested_prompts) -> None:
        """What the bot does, and questions to try: the configured examples and the up-voted questions the
        user may see (the panel is theirs alone). Posted by bot.slack.outbox, off the request."""
        thread = payload.get("assistant_thread") or {}
        user, channel = thread.get("user_id"), thread.get("channel_id")
        say(text=f"{blocks.WELCOME['en']} {prompts.HELP['en'].removesuffix(' For example:')}\n"
                 f"{blocks.WELCOME['ko']} {prompts.HELP['ko'].removesuffix(' 예를 들어:')}")
        if isinstance(user, str) and user:
            examples = answerer.examples(Audience.alone(user, channel))[:MAX_PROMPTS]
            if examples:
                set_suggested_prompts(prompts=[q[:250] for q in examples], title=PROMPTS_TITLE)

    @assistant.user_message
    def on_message(payload, client, context):
        user, channel, ts, thread_ts = (payload.get(k) for k in ("user", "channel", "ts", "thread_ts"))
        if not all(isinstance(v, str) and v for v in (user, channel, ts, thread_ts)):
            log.warning("ignored an assistant message without a user, channel or ts")
            return
        text = strip_mentions(user_text(payload.get("text")), answerer.own_ids)
        answerer.ask(client, SlackQuestion(text=text, user=user, channel=channel, message_ts=ts, thread_ts=thread_ts,
                                           is_dm=True, in_thread=True, panel=True, team=context.team_id))

    @assistant.thread_context_changed
    def on_context_changed(payload):
        """The user looks at another channel: answers stay theirs alone (the panel's scope), so nothing changes."""
        context = (payload.get("assistant_thread") or {}).get("context") or {}
        log.debug("assistant thread context now %s", context.get("channel_id"))

    app.assistant(assistant)
