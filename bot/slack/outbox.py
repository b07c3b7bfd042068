"""What the bot posts because of a request but not inside it: place-in-line notices, busy replies,
fair-use notes, the App Home, the assistant panel's welcome, an example question's "asked:" message.

A listener runs before its request is acknowledged, so any Web API call it made would hold the ack up,
and under a rate limit for as long as Slack's ``Retry-After`` (the client's RateLimitErrorRetryHandler
waits it out). Those calls are queued here instead and posted one at a time on a thread of their own.
"""

from __future__ import annotations

import logging
from typing import Callable

from bot.slack.streaming import SLACK_FAILURES, slack_error
from bot.slack.workers import Workers

log = logging.getLogger(__name__)
REPLIES_WAITING = 100  # besides one place-in-line notice per waiting question; more are dropped, logged


class Outbox(Workers):
    """One thread posting what ``later`` is given, in order; at most ``limit`` waiting."""

    def __init__(self, limit: int) -> None:
        super().__init__(1, limit)

    def later(self, job: Callable[[], None], what: str) -> None:
        """Run ``job``, which posts ``what`` to Slack, on the outbox's thread; a Slack failure (still rate-limited
        after the client's retries, refused, unreachable) is logged in one line."""

        def post() -> None:
            try:
                job()
            except SLACK_FAILURES as exc:
                log.warning("could not post %s: %s", what, slack_error(exc))

        if not self.submit(post):
            log.warning("%d replies are waiting to be posted: %s dropped", self.pending(), what)
