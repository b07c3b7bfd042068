"""Per-channel behaviour, stored in PostgreSQL and set by admins (``/kb channel``).

A channel answers when the bot is mentioned (``mention``, the default), answers every top-level
question posted there (``all``: help channels), or never answers (``off``). It may also narrow the
collections its answers use to some of those it may see (bot.slack.visibility decides what it may), and
give an instruction on how answers there should read ("Answer formally, in bullet points"), and let the
questions up-voted there become examples everywhere their collections may be seen (``promote``: off unless an
admin turns it on, and only ever for a public channel's questions: bot.slack.places).
Settings are read on every question through a short cache, so a change takes effect within seconds
on every replica.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from answering.prompts import MAX_STYLE_CHARS
from bot.slack.mrkdwn import escape

log = logging.getLogger(__name__)
MODES = ("mention", "all", "off")
CACHE_SECONDS = 10.0
OUTAGE_SECONDS = 5.0  # with the database down, how long a fallback answer is reused


@dataclass(frozen=True)
class ChannelSettings:
    channel: str
    mode: str = "mention"
    collections: tuple[str, ...] | None = None  # None: every collection the channel may see
    instruction: str | None = None  # how answers there should read (tone, form); None: as everywhere
    promote: bool = False  # its up-voted questions are shown as examples (where their collections may be seen)

    def narrow(self, visible: tuple[str, ...]) -> tuple[str, ...]:
        """Of the collections the channel may see, those its answers use."""
        return visible if self.collections is None else tuple(c for c in visible if c in self.collections)


class Channels:
    """Reads and writes ``channel_settings``; reads are cached for ``seconds``."""

    def __init__(self, engine: Engine, seconds: float = CACHE_SECONDS) -> None:
        self.engine = engine
        self.seconds = seconds
        self._cache: dict[str, tuple[float, ChannelSettings]] = {}
        self._lock = threading.Lock()

    def get(self, channel: str) -> ChannelSettings:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(channel)
            if hit and now < hit[0]:
                return hit[1]
        try:
            with self.engine.connect() as conn:
                row = conn.execute(text("SELECT mode, collections, instruction, promote FROM channel_settings "
                                        "WHERE channel = :c"), {"c": channel}).first()
        except SQLAlchemyError:  # the database is down: what was known, else the defaults, for a little while
            log.warning("cannot read the settings of %s: using %s", channel, "the last known" if hit else "defaults")
            found = hit[1] if hit else ChannelSettings(channel)
            with self._lock:
                self._cache[channel] = (now + min(self.seconds, OUTAGE_SECONDS), found)
            return found
        found = _settings(channel, row) if row else ChannelSettings(channel)
        with self._lock:
            self._cache[channel] = (now + self.seconds, found)
        return found

    def set(self, settings: ChannelSettings, by: str) -> None:
        if settings.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if settings.instruction is not None and len(settings.instruction) > MAX_STYLE_CHARS:
            raise ValueError(f"an instruction is at most {MAX_STYLE_CHARS} characters")
        with self.engine.begin() as conn:
            conn.execute(text("""
                INSERT INTO channel_settings (channel, mode, collections, instruction, promote, updated_by)
                VALUES (:c, :m, :cols, :i, :p, :by)
                ON CONFLICT (channel) DO UPDATE SET mode = EXCLUDED.mode, collections = EXCLUDED.collections,
                    instruction = EXCLUDED.instruction, promote = EXCLUDED.promote, updated_by = EXCLUDED.updated_by,
                    updated_at = now()
            """), {"c": settings.channel, "m": settings.mode, "by": by, "i": settings.instruction,
                   "p": settings.promote,
                   "cols": list(settings.collections) if settings.collections is not None else None})
        with self._lock:
            self._cache.pop(settings.channel, None)

    def all(self) -> list[ChannelSettings]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT channel, mode, collections, instruction, promote FROM channel_settings "
                                     "ORDER BY channel")).all()
        return [_settings(r.channel, r) for r in rows]

    def promoting(self) -> tuple[str, ...]:
        """The channels whose up-voted questions may be shown as examples (read fresh: turning it off
        takes effect at once); none while the database is down."""
        try:
            with self.engine.connect() as conn:
                return tuple(conn.execute(text("SELECT channel FROM channel_settings WHERE promote")).scalars())
        except SQLAlchemyError:
            log.warning("cannot read which channels share their up-voted questions: none for now")
            return ()


def _settings(channel: str, row) -> ChannelSettings:
    return ChannelSettings(channel, row.mode, tuple(row.collections) if row.collections is not None else None,
                           row.instruction, row.promote)


def describe(settings: ChannelSettings, usable: tuple[str, ...]) -> str:
    """One line for /kb channel and the App Home: when the bot answers there, and from what."""
    mode = {"mention": "answers when mentioned", "all": "answers every top-level question",
            "off": "does not answer"}[settings.mode]
    used = settings.narrow(usable)
    line = f"{mode} · collections: {', '.join(used) or 'none'}" + ("" if settings.collections is not None else " (all)")
    line += f" · instruction: “{escape(settings.instruction)}”" if settings.instruction else ""
    return line + (" · up-voted questions shown as examples" if settings.promote else "")
