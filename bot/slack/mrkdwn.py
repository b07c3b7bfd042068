"""Model output (Markdown, untrusted) -> Slack mrkdwn that can never ping anyone.

Slack reads ``<…>`` as links and mentions (``<!channel>``, ``<@U123>``), so ``&``, ``<`` and ``>``
are escaped first; the only ``<…>`` in the result are links this module writes itself. Bare
``@channel`` / ``@here`` / ``@everyone`` get a zero-width space after the ``@``.

Given the URLs its sources contain, ``to_mrkdwn`` links only to those: a Markdown link to any other
address keeps its label and loses its link, and a bare address Slack would link by itself is
defanged (``evil[.]example/login``), so a model (or a document that steers it) cannot put a live
link in an answer that no source has.
"""

from __future__ import annotations

import re
from typing import Callable

_ZWSP = "\u200b"
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_LINK = re.compile(r"\[([^\]\n]{1,300})\]\((https?://[^\s()<>|]{1,2000})\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_ANY_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")  # [label](target) and ![alt](src), whatever the scheme
_REFERENCE = re.compile(r"^(\s*\[[^\]\n]+\]):", re.MULTILINE)  # [label]: https://… defines a link
_EMAIL_AT = re.compile(r"(?<=\w)@(?=[\w-]+\.)")
_BARE_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]|\"']+", re.IGNORECASE)


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control, and defuse broadcast words."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), text)


def link(url: str, label: str) -> str:
    """A Slack link we write ourselves; the label is escaped, the URL must be http(s)."""
    if not re.match(r"https?://[^\s<>|]+$", url or ""):
        return escape(label)
    return f"<{url.replace('&', '&amp;')}|{escape(label).replace('|', '¦')}>"


def defang(url: str) -> str:
    """An address Slack will not turn into a link: no scheme, dots in brackets."""
    return re.sub(r"^(?:https?://)", "", url, flags=re.IGNORECASE).replace(".", "[.]")


def to_mrkdwn(markdown: str, allowed: Callable[[str], bool] | None = None) -> str:
    """Convert the Markdown a model writes into mrkdwn, keeping code blocks as they are (escaped).

    ``allowed`` tells which URLs may be live links; None allows every http(s) link."""
    ok = allowed
    parts: list[str] = []
    last = 0
    for fence in _FENCE.finditer(markdown):
        parts.append(_convert(markdown[last:fence.start()], ok))
        parts.append(escape(_defang_bare(fence.group(0), ok)))
        last = fence.end()
    parts.append(_convert(markdown[last:], ok))
    return "".join(parts)


def plain(text: str, allowed: Callable[[str], bool] | None = None) -> str:
    """``text`` escaped, with every address ``allowed`` rejects defanged (notification text)."""
    return escape(_defang_bare(text, allowed))


def inert_markdown(text: str) -> str:
    """A model's draft as Markdown for a streamed message, shown for seconds before the checked answer
    replaces it: a Markdown link or image of any scheme keeps only its label, a reference definition is
    broken, http(s) and www addresses are defanged, an e-mail address gets a zero-width space after its
    @, and angle brackets (Slack's <!channel>, <@U…>, autolinks) and @-broadcasts are neutralised."""
    text = _ANY_LINK.sub(lambda m: m.group(1), text)
    text = _REFERENCE.sub(lambda m: m.group(1) + _ZWSP + ":", text)
    text = _defang_bare(text, lambda url: False).replace("<", "‹").replace(">", "›")
    text = _EMAIL_AT.sub("@" + _ZWSP, text)
    return _BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), text)


def _defang_bare(text: str, ok: Callable[[str], bool] | None) -> str:
    if ok is None:
        return text

    def check(m: re.Match) -> str:
        url = m.group(0).rstrip(".,;:!?")  # the sentence's own full stop is not part of the address
        return (url if ok(url) else defang(url)) + m.group(0)[len(url):]

    return _BARE_URL.sub(check, text)


def _convert(text: str, ok: Callable[[str], bool] | None = None) -> str:
    links: list[str] = []

    def keep_link(m: re.Match) -> str:
        label, url = m.group(1), m.group(2)
        links.append(link(url, label) if ok is None or ok(url) else escape(_defang_bare(label, ok)))
        return f"\x00{len(links) - 1}\x00"

    text = _LINK.sub(keep_link, text)
    text = escape(_defang_bare(text, ok))
    text = _HEADING.sub(lambda m: f"\x01{m.group(1)}\x01", text)
    text = _BOLD.sub(lambda m: f"\x01{m.group(2)}\x01", text)
    text = _ITALIC.sub(lambda m: f"_{m.group(1)}_", text)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    text = text.replace("\x01", "*")
    return re.sub("\x00(\\d+)\x00", lambda m: links[int(m.group(1))], text)
