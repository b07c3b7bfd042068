"""The answer's sources and the model's draft streamed into Slack while the answer is worked on
(chat.startStream, appendStream, stopStream); the checked answer then takes the streamed message's place
(chat.update).

The sources and their best passages go out as soon as retrieval has found them (``on_found``): a local
model takes seconds to read them before it writes its first word.

Appends go out from a thread of their own, at most every ``INTERVAL`` seconds, so a slow Slack never
holds the model up. The draft is untrusted model output: it is streamed inert (``mrkdwn.inert_markdown``),
and only as a growing text (a piece that would rewrite what was already shown waits for the end).
Where Slack will not stream (an error from chat.startStream, a DM with no thread), ``start`` says so
and the caller falls back to a placeholder it replaces.
"""

from __future__ import annotations

import logging
import re
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from answering.context import Source
from answering.evidence import Passage
from bot.slack.mrkdwn import inert_markdown

log = logging.getLogger(__name__)
INTERVAL = 0.4  # seconds between appends
FINISH_SECONDS = 2.0  # at most this long waiting for an append in flight when the answer is ready
SLACK_FAILURES = (SlackApiError, SlackClientError, OSError)
_OPEN_LINK = re.compile(r"!?\[[^\]\n]*(?:\](?:\([^)\n]*)?)?$")  # "[label", "[label]", "[label](addr" at the end
FOUND = {"en": "📄 **Answering from**", "ko": "📄 **참고하는 문서**"}
QUOTED_PASSAGES = 2
QUOTE_CHARS = 300


class DraftStream:
    """One streamed Slack message for one question."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str | None, user: str, team: str | None,
                 language: str = "en") -> None:
        self.client, self.channel, self.thread_ts, self.user, self.team = client, channel, thread_ts, user, team
        self.language = language
        self.ts: str | None = None
        self.first_draft_at: float | None = None  # when the model's first words were sent (time.monotonic)
        self._paragraphs: list[str] = []  # waiting to go out before the draft (the sources)
        self._appended = False  # something follows the lead line
        self._latest = ""
        self._sent_raw = ""  # the draft as it was when last appended
        self._sent = ""  # what the message shows of it
        self._failed = False
        self._lead = ""
        self._done = False
        self._cond = threading.Condition()
        self._sender: threading.Thread | None = None

    def start(self, lead: str = "") -> bool:
        """Open the streamed message, with ``lead`` (e.g. "⏳ Looking through the documents…") until the
        draft comes; False, and nothing posted, where Slack will not stream."""
        if not self.thread_ts:
            return False
        try:
            reply = self.client.chat_startStream(channel=self.channel, thread_ts=self.thread_ts,
                                                 recipient_user_id=self.user, recipient_team_id=self.team,
                                                 markdown_text=lead or None)
        except SLACK_FAILURES as exc:
            log.info("cannot stream into %s (%s): a placeholder instead", self.channel, slack_error(exc))
            return False
        self.ts, self._lead = reply.get("ts"), lead
        if not self.ts:
            return False
        self._sender = threading.Thread(target=self._send, name="draft-stream", daemon=True)
        self._sender.start()
        return True

    def on_found(self, sources: list[Source], passages: list[Passage]) -> None:
        """The sources the model answers from and their best passages (called from the answering thread
        before the model is asked); shown unless the draft has begun."""
        self.say(found_markdown(sources, passages, self.language))

    def say(self, paragraph: str) -> None:
        """A paragraph of our own (inert Markdown) to show below what is shown, unless the draft has begun."""
        with self._cond:
            if not self._latest:
                self._paragraphs.append(paragraph)
                self._cond.notify_all()

    def on_draft(self, text: str) -> None:
        """The model's draft so far (called from the answering thread)."""
        with self._cond:
            self._latest = text
            self._cond.notify_all()

    def finish(self) -> str | None:
        """Stop streaming (the rest of the draft goes out first, if Slack takes it within FINISH_SECONDS;
        an append still in flight then meets a stopped stream); returns the message's ts, which the caller
        fills with the checked answer. Calling it again only returns the ts."""
        with self._cond:
            stopped, self._done = self._done, True
            self._cond.notify_all()
        if stopped:
            return self.ts
        if self._sender is not None:
            self._sender.join(timeout=FINISH_SECONDS)
        if self.ts:
            try:
                self.client.chat_stopStream(channel=self.channel, ts=self.ts)
            except SLACK_FAILURES as exc:
                log.warning("could not stop the stream in %s (%s); the answer replaces it anyway", self.channel,
                            slack_error(exc))
        return self.ts

    def _send(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._done or self._paragraphs or self._latest != self._sent_raw)
                done, latest, paragraphs, self._paragraphs = self._done, self._latest, self._paragraphs, []
            for paragraph in paragraphs:
                self._put(paragraph)
            self._append(latest, final=done)  # the last one shows the whole draft before the answer replaces it
            with self._cond:  # at most one append per INTERVAL
                if done or self._failed:
                    return
                self._cond.wait_for(lambda: self._done, INTERVAL)

    def _append(self, raw: str, final: bool) -> None:
        """Append the part of the inert draft not shown yet; mid-draft only up to its last space (a word,
        link or placeholder still being written waits)."""
        self._sent_raw = raw
        if self._failed:
            return
        shown = inert_markdown(raw if final else settled(raw))
        if not shown.startswith(self._sent) or len(shown) == len(self._sent):
            return
        if not self._sent:  # from now on the user may see it (``finish`` may not wait for this append to end)
            self.first_draft_at = time.monotonic()
        if self._put(shown[len(self._sent):]):
            self._sent = shown

    def _put(self, text: str) -> bool:
        """Append ``text`` as a paragraph of its own (below the lead line, the sources); False on failure."""
        if self._failed:
            return False
        if not self._sent and (self._appended or self._lead):
            text = "\n\n" + text  # a new paragraph (the draft continues its own)
        try:
            self.client.chat_appendStream(channel=self.channel, ts=self.ts, markdown_text=text)
        except SLACK_FAILURES as exc:
            log.warning("streaming into %s failed (%s): the answer will replace what was shown", self.channel,
                        slack_error(exc))
            self._failed = True
            return False
        self._appended = True
        return True


def settled(draft: str) -> str:
    """The part of a draft still being written that will not change as it goes on: up to its last space, and
    before a Markdown link or image not closed yet ("see [the portal](https://ex"), which shows as its
    label only once it is complete."""
    cut = draft[:max(draft.rfind(" "), 0)]
    open_link = _OPEN_LINK.search(cut)
    return cut[:open_link.start()] if open_link else cut


def found_markdown(sources: list[Source], passages: list[Passage], language: str) -> str:
    """The sources a model answers from, numbered as it cites them, with the passages that best answer the
    question quoted on one line each; inert (document text may hold links and mentions)."""
    by_number = {src.number: src for src in sources}
    listed = " · ".join(f"[{src.number}] {src.heading}" for src in sources)
    lines = [f"{FOUND.get(language, FOUND['en'])}: {inert_markdown(' '.join(listed.split()))}"]
    for passage in passages[:QUOTED_PASSAGES]:
        quote = " ".join(passage.text.split())
        if len(quote) > QUOTE_CHARS:
            quote = quote[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
        if passage.number in by_number:
            lines.append(f"> {inert_markdown(quote)} [{passage.number}]")
    return "\n".join(lines)


def slack_error(exc: BaseException) -> str:
    """What went wrong, in a word: Slack's error code, or the kind of failure."""
    return str(exc.response.get("error")) if isinstance(exc, SlackApiError) else type(exc).__name__
