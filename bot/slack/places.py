"""Where a question was asked: a public channel, or somewhere private. It is recorded with the question, and
only a public channel's questions may ever be shown to anyone else (feedback.votes.popular_questions).

A DM, a group DM, a private channel, the assistant panel and an ephemeral /ask are private. A channel is
public only when Slack says so: a message event's ``channel_type`` ("channel"), or else ``conversations.info``
(an app_mention carries no type), cached per channel for ``PLACE_SECONDS``. When Slack cannot tell (a missing
scope, a channel the bot cannot see, an outage), the channel counts as private: an error can only keep a
question private, never publish it.
"""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)
PUBLIC, PRIVATE = "public", "private"
PLACE_SECONDS = 60.0  # short: a channel made private stops counting as public soon after
FAILED_SECONDS = 30.0  # a failed lookup is asked again sooner
PRIVATE_TYPES = ("im", "mpim", "group", "app_home")  # Slack's channel_type of a DM, group DM, private channel


class Places:
    """Whether a channel is public, from the event or from ``conversations.info`` (cached for ``seconds``)."""

    def __init__(self, client: WebClient, seconds: float = PLACE_SECONDS) -> None:
        self.client = client
        self.seconds = seconds
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def of(self, channel: str, channel_type: str | None = None) -> str:
        """PUBLIC or PRIVATE: ``channel_type`` is what the event said, if it said (None: ask Slack)."""
        if channel_type in PRIVATE_TYPES or channel.startswith("D"):
            return PRIVATE
        if channel_type == "channel":
            return PUBLIC
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(channel)
            if hit and now < hit[0]:
                return hit[1]
        found = self._ask(channel)
        place, expires = found or PRIVATE, now + (self.seconds if found else min(self.seconds, FAILED_SECONDS))
        with self._lock:
            self._cache[channel] = (expires, place)
        return place

    def _ask(self, channel: str) -> str | None:
        try:
            info = self.client.conversations_info(channel=channel).get("channel")
        except (SlackApiError, SlackClientError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("cannot tell whether %s is public (%s): its questions stay private for now", channel, error)
            return None
        if not isinstance(info, dict):
            return None
        public = info.get("is_private") is False and not any(info.get(k) for k in ("is_im", "is_mpim", "is_group"))
        return PUBLIC if public else PRIVATE
