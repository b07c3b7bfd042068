"""Model output (Markdown, untrusted) -> Slack mrkdwn that can never ping anyone.

Slack reads ``<…>`` as links and mentions (``<!channel>``, ``<@U123>``), so ``&``, ``<`` and ``>``
are escaped first; the only ``<…>`` in the result are links this module writes itself. Bare
``@channel`` / ``@here`` / ``@everyone`` get a zero-width space after the ``@``. Invisible and bidi
controls (a right-to-left override) are removed first (``core.text.clean``), whoever wrote the text.

Given which addresses may be live (``allowed``: in answers, those whose host the admins trust,
``core.links``), ``to_mrkdwn`` links only to those: a Markdown link to any other address keeps its
label and loses its link, and every other address Slack would link by itself (a URL of any scheme, a
bare domain such as ``evil-northwind.com/x``, an e-mail address) is defanged (``evil[.]example/login``),
so neither a model nor a document that steers it can put a live link to an untrusted host in an answer.
Addresses are found in a folded copy (``core.text.fold_chars``), so full-width or look-alike letters
and dots hide none.
"""

from __future__ import annotations

import re
from typing import Callable

from core.text import clean, fold_chars

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
# Addresses, matched in a folded copy of the text (lower case, full-width and look-alike letters plain).
# Conservative on purpose: any name.name ending in a letter label of two or more (or a punycode one) is
# taken for a domain Slack may link, a file name such as README.md included.
_SCHEME = r"\b[a-z][a-z0-9+.-]{0,31}://|\b(?:mailto|javascript|vbscript|data|file|tel|sms):(?=\S)"
_PATH = r"[^\s<>()\[\]{}|\"'`]"
_DOMAIN = r"(?:[\w-]+[.\u3002])+(?:[a-z]{2,63}(?![a-z0-9-])|[^\W\d_a-z]{2,}|xn--[a-z0-9-]+)"
_ADDRESS = re.compile(
    rf"(?:{_SCHEME})(?:\[[\w:.%]*\]{_PATH}*|{_PATH}+)"  # a URL of any scheme (an IPv6 host in brackets)
    rf"|(?<![\w.+-])[\w.+-]+@{_DOMAIN}"  # an e-mail address
    rf"|(?<![\w.-]){_DOMAIN}(?::\d{{1,5}})?(?:[/?#]{_PATH}*)?"  # a bare domain, www.… included
)
_TRAILING = ".,;:!?*_~\u3002"  # a sentence's own full stop or emphasis is not part of the address


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control, and defuse broadcast words (cleaned first)."""
    return _escape(clean(text))


def _escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), text)


def link(url: str, label: str) -> str:
    """A Slack link we write ourselves; the label is escaped, the URL must be http(s)."""
    url = clean(url or "")
    if not re.match(r"https?://[^\s<>|]+$", url):
        return escape(label)
    return f"<{url.replace('&', '&amp;')}|{escape(label).replace('|', '¦')}>"


def defang(address: str) -> str:
    """An address Slack will not turn into a link: no scheme, dots (full-width ones too) in brackets, a
    zero-width space after an e-mail address's @."""
    folded = fold_chars(address)
    start = m.end() if (m := re.match(_SCHEME, folded)) else 0
    inert = "".join("[.]" if f in ".\u3002" else c for c, f in zip(address[start:], folded[start:]))
    return re.sub(r"(?<=\w)@(?=\w)", "@" + _ZWSP, inert)


def to_mrkdwn(markdown: str, allowed: Callable[[str], bool] | None = None) -> str:
    """Convert the Markdown a model writes into mrkdwn, keeping code blocks as they are (escaped).

    ``allowed`` tells which addresses may be live links; None allows every http(s) link and leaves
    bare addresses as they are."""
    markdown, ok = clean(markdown), allowed
    parts: list[str] = []
    last = 0
    for fence in _FENCE.finditer(markdown):
        parts.append(_convert(markdown[last:fence.start()], ok))
        parts.append(_escape(_inert(fence.group(0), ok)))
        last = fence.end()
    parts.append(_convert(markdown[last:], ok))
    return "".join(parts)


def plain(text: str, allowed: Callable[[str], bool] | None = None) -> str:
    """``text`` cleaned and escaped, with every address ``allowed`` rejects defanged (notification text)."""
    return _escape(_inert(clean(text), allowed))


def inert_markdown(text: str) -> str:
    """A model's draft as Markdown for a streamed message, shown for seconds before the checked answer
    replaces it: invisible controls are removed, a Markdown link or image of any scheme keeps only its
    label, a reference definition is broken, every address (URL, bare domain, e-mail) is defanged
    whatever its host, and angle brackets (Slack's <!channel>, <@U…>, autolinks) and @-broadcasts are
    neutralised."""
    text = _ANY_LINK.sub(lambda m: m.group(1), clean(text))
    text = _REFERENCE.sub(lambda m: m.group(1) + _ZWSP + ":", text)
    text = _inert(text, _nowhere).replace("<", "‹").replace(">", "›")
    return _BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), text)


def _nowhere(address: str) -> bool:
    return False


def _inert(text: str, ok: Callable[[str], bool] | None) -> str:
    """``text`` with every address ``ok`` rejects defanged; None: as it is."""
    if ok is None:
        return text
    folded = fold_chars(text)
    parts, last = [], 0
    for m in _ADDRESS.finditer(folded):
        end = m.start() + len(m.group(0).rstrip(_TRAILING))
        address = text[m.start():end]
        if address and not ok(address):
            parts += [text[last:m.start()], defang(address)]
            last = end
    parts.append(text[last:])
    return "".join(parts)


def _convert(text: str, ok: Callable[[str], bool] | None = None) -> str:
    links: list[str] = []

    def keep_link(m: re.Match) -> str:
        label, url = m.group(1), m.group(2)
        links.append(link(url, label) if ok is None or ok(url) else _escape(_inert(label, ok)))
        return f"\x00{len(links) - 1}\x00"

    text = _LINK.sub(keep_link, text)
    text = _escape(_inert(text, ok))
    text = _HEADING.sub(lambda m: f"\x01{m.group(1)}\x01", text)
    text = _BOLD.sub(lambda m: f"\x01{m.group(2)}\x01", text)
    text = _ITALIC.sub(lambda m: f"_{m.group(1)}_", text)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    text = text.replace("\x01", "*")
    return re.sub("\x00(\\d+)\x00", lambda m: links[int(m.group(1))], text)
