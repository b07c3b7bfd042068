"""The model's draft as it is written, for a caller that shows it while the answer is still coming
(Slack streaming). The draft is what the model writes, unchecked: the answer the pipeline returns is
the checked one, which may cite, trim or replace it."""

from __future__ import annotations

import re
from typing import Any, Callable

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.runnables import RunnableConfig

from core.redact import Pseudonyms

_OPEN_PLACEHOLDER = re.compile(r"\[[A-Z_0-9]*$")  # "[EMAIL_" at the end: a placeholder still being written


class Drafts(BaseCallbackHandler):
    """LangChain callback: each new token makes the draft longer; ``on_draft`` gets it whole, with the
    placeholders a hosted model saw instead of personal data turned back into their values (a placeholder
    still being written is held back until it is complete)."""

    def __init__(self, on_draft: Callable[[str], None], pseudonyms: Pseudonyms) -> None:
        self.on_draft = on_draft
        self.pseudonyms = pseudonyms
        self.text = ""

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.text = ""  # a new call (the local model after a hosted outage) writes a new draft

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        if not token:
            return
        self.text += token
        shown = _OPEN_PLACEHOLDER.sub("", self.text)
        self.on_draft(self.pseudonyms.reveal(shown))


def with_drafts(config: RunnableConfig, drafts: Drafts) -> RunnableConfig:
    """``config`` with ``drafts`` among its callbacks (a copy: the run's other calls do not stream)."""
    callbacks = config.get("callbacks")
    if isinstance(callbacks, BaseCallbackManager):
        callbacks = callbacks.copy()
        callbacks.add_handler(drafts, inherit=True)
    else:
        callbacks = [*(callbacks or []), drafts]
    return {**config, "callbacks": callbacks}
