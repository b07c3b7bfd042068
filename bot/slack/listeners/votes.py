"""Votes: 👍/👎 buttons, the same as reactions, and the comment modal after a 👎."""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.slack import blocks
from bot.slack.answers import user_text
from bot.slack.listeners import Deps, acting_channel, as_int
from feedback import votes
from feedback.log import interaction_for_reply, question_of

log = logging.getLogger(__name__)
UP = {"+1", "thumbsup"}
DOWN = {"-1", "thumbsdown"}


def register(app: App, deps: Deps) -> None:
    """Votes by button and reaction, and the comment modal after a 👎."""
    answerer, engine, answer_cache, visibility = deps.answerer, deps.engine, deps.answer_cache, deps.visibility

    def rated(interaction_id: int) -> None:
        """A vote changed: the answer may now be cached, or a cached one demoted."""
        if answer_cache is not None:
            try:
                answer_cache.refresh(interaction_id)
            except Exception:
                log.exception("could not update the answer cache after a vote on #%s", interaction_id)

    @app.action(blocks.FEEDBACK)
    def on_feedback(ack, body, client):
        """Slack's feedback buttons: the value says which ("up:ID" or "down:ID")."""
        ack()
        direction, _, raw = str(body["actions"][0].get("value") or "").partition(":")
        if direction in ("up", "down"):
            voted(body, client, as_int(raw), 1 if direction == "up" else -1)

    @app.action(blocks.VOTE_UP)
    @app.action(blocks.VOTE_DOWN)
    def on_vote(ack, body, client):
        """The 👍/👎 button pair (answers posted where Slack refuses feedback buttons, or before them)."""
        ack()
        action = body["actions"][0]
        voted(body, client, as_int(action.get("value")), 1 if action["action_id"] == blocks.VOTE_UP else -1)

    def voted(body: dict, client, interaction_id: int | None, value: int) -> None:
        user = body["user"]["id"]
        asked = question_of(engine, interaction_id)
        if asked is None or not visibility.saw(asked, user, acting_channel(body)):
            log.warning("refused a vote by %s on #%s from %s: not where that answer was given",
                        user, interaction_id, acting_channel(body))
            return
        votes.vote(engine, interaction_id, user, value, "button")
        rated(interaction_id)
        if value == -1 and body.get("trigger_id"):
            client.views_open(trigger_id=body["trigger_id"], view=blocks.comment_modal(interaction_id))

    @app.view(blocks.VOTE_COMMENT)
    def on_comment(ack, body, view):
        ack()
        interaction_id = as_int(view.get("private_metadata"))
        value = (view.get("state", {}).get("values", {}).get("comment", {}).get("comment", {}) or {}).get("value")
        value = user_text(value).strip()
        if interaction_id is None or not value:
            return
        if votes.comment(engine, interaction_id, body["user"]["id"], value[:3000], answerer.config.redact_stored):
            rated(interaction_id)
        else:
            log.warning("refused a comment by %s on #%s, which they have not voted on", body["user"]["id"],
                        interaction_id)

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
