"""Model output (Markdown, untrusted) -> Slack mrkdwn that can never ping anyone.

Slack reads ``<…>`` as links and mentions (``<!channel>``, ``<@U123>``), so ``&``, ``<`` and ``>``
are escaped first; the only ``<…>`` in the result are links this module writes itself. Bare
``@channel`` / ``@here`` / ``@everyone`` get a zero-width space after the ``@``.
"""

from __future__ import annotations

import re

_ZWSP = "\u200b"
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_LINK = re.compile(r"\[([^\]\n]{1,300})\]\((https?://[^\s()<>|]{1,2000})\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control, and defuse broadcast words."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), text)


def link(url: str, label: str) -> str:
    """A Slack link we write ourselves; the label is escaped, the URL must be http(s)."""
    if not re.match(r"https?://[^\s<>|]+$", url or ""):
        return escape(label)
    return f"<{url.replace('&', '&amp;')}|{escape(label).replace('|', '¦')}>"


def to_mrkdwn(markdown: str) -> str:
    """Convert the Markdown a model writes into mrkdwn, keeping code blocks as they are (escaped)."""
    parts: list[str] = []
    last = 0
    for fence in _FENCE.finditer(markdown):
        parts.append(_convert(markdown[last:fence.start()]))
        parts.append(escape(fence.group(0)))
        last = fence.end()
    parts.append(_convert(markdown[last:]))
    return "".join(parts)


def _convert(text: str) -> str:
    links: list[str] = []

    def keep_link(m: re.Match) -> str:
        links.append(link(m.group(2), m.group(1)))
        return f"\x00{len(links) - 1}\x00"

    text = _LINK.sub(keep_link, text)
    text = escape(text)
    text = _HEADING.sub(lambda m: f"\x01{m.group(1)}\x01", text)
    text = _BOLD.sub(lambda m: f"\x01{m.group(2)}\x01", text)
    text = _ITALIC.sub(lambda m: f"_{m.group(1)}_", text)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    text = text.replace("\x01", "*")
    return re.sub("\x00(\\d+)\x00", lambda m: links[int(m.group(1))], text)
