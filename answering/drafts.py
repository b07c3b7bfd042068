"""The model's draft as it is written, for a caller that shows it while the answer is still coming
(Slack streaming). The draft is what the model writes, not yet checked against its sources: the answer
the pipeline returns is the checked one, which may cite, trim or replace it. One check cannot wait for
the end: a sentence asking the reader for a secret is never shown. The draft is passed on a finished
sentence at a time, each read by the answer guard first; at the first sentence the guard withholds, the
draft stops there (the checked answer then replaces it)."""

from __future__ import annotations

import re
from typing import Any, Callable

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.runnables import RunnableConfig

from answering.guard import Guard
from core.redact import Pseudonyms

DRAFTS_MEASURED = 20  # a model's record for some collections: the checks' verdicts on its last drafts for them
EXPLORE = 0.1  # the share of questions that still get a draft when the record says to skip it, to keep it current


def drafts_rejected(verdicts: list[str], share: float) -> bool:
    """Whether a full record of ``verdicts`` (answering.review's reasons, or "passed") rejects at least ``share``."""
    return len(verdicts) >= DRAFTS_MEASURED and sum(v != "passed" for v in verdicts) >= share * len(verdicts)


_OPEN_PLACEHOLDER = re.compile(r"\[[A-Z_0-9]*$")  # "[EMAIL_" at the end: a placeholder still being written
_FINISHED = re.compile(r"(?:(?<=[.!?。])[ \t]+|\n+)")  # the end of a sentence or line, as answering.wellformed


class Drafts(BaseCallbackHandler):
    """LangChain callback: each new token makes the draft longer; ``on_draft`` gets it whole, with the
    placeholders a hosted model saw instead of personal data turned back into their values (a placeholder
    still being written is held back until it is complete)."""

    def __init__(self, on_draft: Callable[[str], None], pseudonyms: Pseudonyms, guard: Guard | None = None) -> None:
        self.on_draft = on_draft
        self.pseudonyms = pseudonyms
        self.guard = guard
        self.text = ""
        self._passed = 0  # characters of the revealed draft the guard has read and let through
        self.stopped = False  # the guard withheld a sentence: nothing more of this draft is shown

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.text, self._passed, self.stopped = "", 0, False  # a new call writes a new draft

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        if not token or self.stopped:
            return
        self.text += token
        self._pass(self.pseudonyms.reveal(_OPEN_PLACEHOLDER.sub("", self.text)), done=False)

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        """The model has finished: its last sentence is finished too."""
        if self.text and not self.stopped and self.guard is not None:
            self._pass(self.pseudonyms.reveal(self.text), done=True)

    def _pass(self, shown: str, done: bool) -> None:
        """Pass on the finished sentences of ``shown`` the guard lets through (all of it when ``done``)."""
        if self.guard is None:
            self.on_draft(shown)
            return
        ends = [m.end() for m in _FINISHED.finditer(shown, self._passed)] + ([len(shown)] if done else [])
        if not ends or ends[-1] <= self._passed:
            return
        finished = shown[self._passed:ends[-1]]
        pieces = [p.strip() for p in _FINISHED.split(finished) if p.strip()]
        verdicts = self.guard.requests(pieces)
        if any(verdicts):  # show the sentences before it, then nothing more
            keep = shown[:self._passed]
            for piece, withheld in zip(pieces, verdicts):
                if withheld:
                    break
                keep = shown[:shown.index(piece, len(keep)) + len(piece)]
            self.stopped = True
            if keep.strip():
                self.on_draft(keep)
            return
        self._passed = ends[-1]
        self.on_draft(shown[:self._passed])


def with_drafts(config: RunnableConfig, drafts: Drafts) -> RunnableConfig:
    """``config`` with ``drafts`` among its callbacks (a copy: the run's other calls do not stream)."""
    callbacks = config.get("callbacks")
    if isinstance(callbacks, BaseCallbackManager):
        callbacks = callbacks.copy()
        callbacks.add_handler(drafts, inherit=True)
    else:
        callbacks = [*(callbacks or []), drafts]
    return {**config, "callbacks": callbacks}
