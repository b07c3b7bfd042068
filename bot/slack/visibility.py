"""Who may see what: the one visibility rule, used by every Slack surface.

A collection is public, or bound to channels (CHANNEL_COLLECTIONS). A reply everyone in a channel
sees (an answer in a channel or its threads, the help there) may draw only on what all of them may
see: the public collections and those bound to that channel. A reply one person sees alone (a DM, an
ephemeral /ask or /kb reply, their App Home) may also draw on the collections bound to channels that
person is a member of. The same rule decides which logged questions (examples, up-voted questions)
and which collection names and titles a reply may show: a question is shown only where every
collection it was asked against is visible.

Membership comes from Slack (``conversations.members``), cached for ``MEMBERS_SECONDS`` per channel;
when Slack cannot tell (a missing scope, a channel the bot is not in, an outage) nobody counts as a
member, so an error can only hide documents, never show them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Mapping

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)
MEMBERS_SECONDS = 300.0
FAILED_SECONDS = 30.0  # a failed lookup is asked again sooner
MAX_MEMBERS = 50_000  # members read at most for one channel (conversations.members pages)


@dataclass(frozen=True)
class Audience:
    """Who sees a reply: everyone in ``channel``, or ``user`` alone (``private``: a DM, an ephemeral
    reply, the App Home; ``channel`` is then where it was asked, if anywhere)."""

    channel: str | None
    user: str | None = None
    private: bool = False

    @classmethod
    def alone(cls, user: str, channel: str | None = None) -> Audience:
        return cls(channel, user, private=True)


class Members:
    """Channel members from ``conversations.members``, cached per channel for ``seconds``."""

    def __init__(self, client: WebClient, seconds: float = MEMBERS_SECONDS) -> None:
        self.client = client
        self.seconds = seconds
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def of(self, channel: str) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(channel)
            if hit and now < hit[0]:
                return hit[1]
        members, expires = self._fetch(channel), now + self.seconds
        if members is None:
            members, expires = frozenset(), now + min(self.seconds, FAILED_SECONDS)
        with self._lock:
            self._cache[channel] = (expires, members)
        return members

    def _fetch(self, channel: str) -> frozenset[str] | None:
        found: set[str] = set()
        try:
            for page in self.client.conversations_members(channel=channel, limit=1000):
                found.update(m for m in page.get("members") or () if isinstance(m, str))
                if len(found) >= MAX_MEMBERS:
                    break
        except (SlackApiError, SlackClientError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("cannot read the members of %s (%s): nobody counts as a member for now", channel, error)
            return None
        return frozenset(found)


class Visibility:
    """The rule itself: which collections an audience may draw on, and whether it may see a logged question."""

    def __init__(self, bound: Mapping[str, tuple[str, ...]], members: Members | None) -> None:
        """``bound``: collection -> the channels it is bound to; ``members``: None when membership cannot
        be asked (nobody is a member)."""
        self.bound = bound
        self.members = members

    def collections(self, audience: Audience, known: Iterable[str]) -> tuple[str, ...]:
        """Of ``known``, the collections ``audience`` may draw on."""
        return tuple(c for c in known if self.sees(audience, c))

    def sees(self, audience: Audience, collection: str) -> bool:
        channels = self.bound.get(collection)
        if channels is None:
            return True
        if audience.channel is not None and audience.channel in channels:
            return True
        return audience.private and audience.user is not None and self._member(audience.user, channels)

    def covers(self, audience: Audience, scope: Iterable[str] | None) -> bool:
        """May ``audience`` see what was asked against ``scope`` (a logged question's collections)?
        A question with no recorded scope (asked outside Slack) is shown nowhere."""
        return scope is not None and all(self.sees(audience, c) for c in scope)

    def saw(self, asked: dict, user: str, channel: str | None) -> bool:
        """Could ``user``, acting in ``channel``, have seen the answer to ``asked`` (``feedback.log.question_of``)?
        Only in the channel it was answered in, and for an answer only its asker saw (an ephemeral reply),
        only as the asker: votes, comments and "ask the model instead" from anywhere else are refused."""
        if not asked.get("channel") or asked["channel"] != channel:
            return False
        return asked.get("reply_ts") is not None or asked.get("asker") == user

    def _member(self, user: str, channels: Iterable[str]) -> bool:
        return self.members is not None and any(user in self.members.of(ch) for ch in channels)
