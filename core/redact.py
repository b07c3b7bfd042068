"""Personal data in text: found, redacted, or swapped for placeholders and back.

What counts: e-mail addresses; phone numbers, international (+82 2 3456 7890, +49 30 1234567) and
local (010-1234-5678, 01012345678, 02-345-6789, (555) 123-4567); Korean resident registration
numbers (900101-1234567: a real date, then the digit for century and sex); payment card numbers
(13 to 19 digits that start as card numbers do and pass the Luhn check); and Slack mentions of
people and groups. Dates, times, IDs such as VPN-ERR-619, amounts (1,400,000원), ports, versions and
IP addresses are not personal data and are left alone (tests/test_redact.py holds the table).

``redact`` is what storage uses (questions, answers, comments); ``Pseudonyms`` is what a hosted
model call uses: each value becomes a numbered placeholder, and the placeholders in the model's
reply are turned back into the values they stand for.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Container

# A domain starts with a letter: icon@2x.png is a file name.
_EMAIL = re.compile(r"(?:mailto:)?[A-Za-z0-9._%+-]+@[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|<!(?:subteam\^[A-Z0-9]+|here|channel|everyone)(?:\|[^>]*)?>")
# Korean particles follow a number directly (010-1234-5678로): only Latin letters, digits and joiners
# next to a match make it part of something longer; nor is a number in a URL path or query personal data.
_START = r"(?<![A-Za-z0-9_.,+/=#?&-])"
_END = r"(?![A-Za-z0-9_-]|[.,]\d)"  # not followed by more of a number, an ID or a decimal part
# YYMMDD, a separator (written without one, 13 digits are as likely a timestamp), then the century-and-sex
# digit 1-8 and six more digits.
_RRN = re.compile(_START + r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[- ][1-8]\d{6}" + _END)
# 13-19 digits, optionally in groups split by single spaces or hyphens; first digit 2-6 (the card networks).
_CARD = re.compile(_START + r"[2-6]\d{3}(?:[ -]?\d){9,15}" + _END)
_PHONE = re.compile(
    _START + r"(?:"
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}"  # international: +82 2 3456 7890, +1 (555) 123-4567
    r"|\(?0\d{1,3}(?:\)\s?|[ .-]?)\d{3,4}[ .-]?\d{4}"  # trunk prefix: 010-1234-5678, 01012345678, 02)345-6789
    r"|\(?[2-9]\d{2}\)?[ .-]?\d{3}[ .-]\d{4}"  # North American: (555) 123-4567, 555-123-4567
    r")" + _END)


@dataclass(frozen=True)
class Kind:
    name: str
    pattern: re.Pattern
    valid: Callable[[str], bool] = lambda value: True


def _luhn(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _phone_digits(value: str) -> bool:
    return 8 <= sum(c.isdigit() for c in value) <= 15


# Earlier kinds win where matches overlap: a card number is not also read as a phone number.
KINDS = (Kind("email", _EMAIL), Kind("mention", _MENTION), Kind("rrn", _RRN), Kind("card", _CARD, _luhn),
         Kind("phone", _PHONE, _phone_digits))
LABELS = {"email": "email", "mention": "user", "rrn": "id number", "card": "card", "phone": "phone"}


@dataclass(frozen=True)
class Found:
    kind: str
    start: int
    end: int
    value: str

    @property
    def key(self) -> str:
        """The value as compared across texts: an address in lower case, a number as its digits."""
        if self.kind in ("email", "mention"):
            return self.value.lower().removeprefix("mailto:")
        return "".join(c for c in self.value if c.isdigit())


def find(text: str) -> list[Found]:
    """The personal data in ``text``, in order, without overlaps."""
    taken: list[Found] = []
    for kind in KINDS:
        for m in kind.pattern.finditer(text):
            if kind.valid(m.group()) and not any(m.start() < f.end and f.start < m.end() for f in taken):
                taken.append(Found(kind.name, m.start(), m.end(), m.group()))
    return sorted(taken, key=lambda f: f.start)


def keys(text: str) -> frozenset[str]:
    """The keys (``Found.key``) of the personal data in ``text``: what a source already holds."""
    return frozenset(f.key for f in find(text))


def redact(text: str, counts: Counter | None = None, keep: Container[str] = frozenset()) -> str:
    """``text`` with each piece of personal data replaced by its label ([email], [phone] …), except
    those whose key is in ``keep`` (values the documents themselves give, such as a help-desk number).
    ``counts`` (if given) is increased by kind."""
    out, last = [], 0
    for f in find(text):
        if f.key in keep:
            continue
        out += [text[last:f.start], f"[{LABELS[f.kind]}]"]
        last = f.end
        if counts is not None:
            counts[f.kind] += 1
    return "".join(out) + text[last:] if out else text


def strip(text: str) -> str:
    """``text`` with its personal data cut out (each piece becomes a space)."""
    for f in reversed(find(text)):
        text = text[:f.start] + " " + text[f.end:]
    return text


@dataclass
class Pseudonyms:
    """Numbered placeholders for the personal data of one exchange with a hosted model: the same value
    gets the same placeholder in every message, and ``reveal`` turns the placeholders the model wrote
    back into their values. Nothing else is restored."""

    values: dict[str, str] = field(default_factory=dict)  # placeholder -> the original text
    _by_key: dict[str, str] = field(default_factory=dict)

    def hide(self, text: str) -> str:
        out, last = [], 0
        for f in find(text):
            placeholder = self._by_key.get(f.key)
            value = f.value.removeprefix("mailto:")  # a Slack <mailto:a@b|a@b> link keeps its scheme
            if placeholder is None:
                n = sum(p.startswith(f"[{f.kind.upper()}_") for p in self.values) + 1
                placeholder = self._by_key[f.key] = f"[{f.kind.upper()}_{n}]"
                self.values[placeholder] = value
            out += [text[last:f.start], f.value[:len(f.value) - len(value)], placeholder]
            last = f.end
        return "".join(out) + text[last:] if out else text

    def reveal(self, text: str) -> str:
        if not self.values:
            return text
        pattern = re.compile("|".join(re.escape(p) for p in self.values))
        return pattern.sub(lambda m: self.values[m.group()], text)
