"""Slack mention markup in what people wrote (``<@U123>``, ``<@U123|name>``, ``<!here>``), taken out.

Two callers, two needs: the approved-answer cache drops every mention (they name people, not
topics), the Slack edge only the bot's own (a question may be about the colleague it names).
"""

from __future__ import annotations

import re
from typing import Iterable

_ANY = re.compile(r"<[@!][^>]*>")


def strip_mentions(text: str, users: Iterable[str] | None = None) -> str:
    """``text`` without mentions, its whitespace collapsed to single spaces. ``users`` None: every user
    and group mention (``<@U123>``, ``<!here>``); else only these users' (``<@U123>`` or ``<@U123|name>``)."""
    if users is None:
        text = _ANY.sub(" ", text)
    else:
        for user in users:
            text = re.sub(rf"<@{re.escape(user)}(\|[^>]*)?>", " ", text)
    return " ".join(text.split())
