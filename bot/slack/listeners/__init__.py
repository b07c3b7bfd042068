"""The bolt listeners, one module per kind of interaction, each with ``register(app, deps)``.

A listener reads what it needs out of the Slack payload, turns it into plain values (question,
thread, user, channel, interaction id) and hands them to the answerer, the admin or the feedback
package; no payload goes further.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.slack.admin import Admin
from bot.slack.answers import SlackAnswerer
from bot.slack.channels import Channels
from bot.slack.visibility import Visibility
from feedback.answer_cache import AnswerCacheStore


@dataclass(frozen=True)
class Deps:
    """What the listeners hand their plain values to; built once by ``build_slack_bot``."""

    answerer: SlackAnswerer
    admin: Admin
    engine: Engine
    visibility: Visibility
    channels: Channels
    answer_cache: AnswerCacheStore | None = None  # told about every vote (None: votes are only recorded)


def as_int(value) -> int | None:
    """An interaction id from a button value or a modal's metadata; None when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def acting_channel(body: dict) -> str | None:
    """The channel a button was clicked in (None: the App Home or a modal)."""
    channel = body.get("channel") or {}
    container = body.get("container") or {}
    found = channel.get("id") if isinstance(channel, dict) else None
    return found or (container.get("channel_id") if isinstance(container, dict) else None)
