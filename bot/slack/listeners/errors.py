"""The one place listener failures are caught and logged (bolt's ``@app.error``)."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from answering import prompts
from bot.slack.listeners import Deps

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    """A click or form the database could not store is answered "couldn't save that"; anything else
    is logged with its traceback."""

    @app.error
    def on_error(error, body, response, client):
        if isinstance(error, SQLAlchemyError) and _tell_not_saved(deps, client, body):
            log.warning("could not store a %s: the database failed: %s", body.get("type"), error)
            response.status = 200  # handled: the user was told, and a retry would fail the same way
            return
        log.error("Slack listener failed: %s", error, exc_info=error)


def _tell_not_saved(deps: Deps, client: WebClient, body: dict) -> bool:
    """A click or form the database could not store: say so to the one who made it (ephemeral, posted by
    bot.slack.outbox); False for anything else."""
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id")
    if body.get("type") not in ("block_actions", "view_submission") or not user:
        return False

    def tell() -> None:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=prompts.NOT_SAVED)
        else:  # a modal: no channel to answer in, so the DM with the bot
            client.chat_postMessage(channel=user, text=prompts.NOT_SAVED)

    deps.answerer.notices.later(tell, f"a “couldn't save that” note to {user}")
    return True
