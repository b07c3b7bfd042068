"""Personal data in text: found, redacted, or swapped for placeholders and back.

What counts: e-mail addresses; phone numbers, international (+82 2 3456 7890, +49 30 1234567) and
local (010-1234-5678, 01012345678, 02-345-6789, (555) 123-4567); Korean resident registration
numbers (900101-1234567: a real date, then the digit for century and sex; see ``_rrn`` for the form
without a hyphen); payment card numbers (13 to 19 digits that start as card numbers do and pass the Luhn
check, also when more digits follow: 4111 1111 1111 1111 123); and Slack mentions of people and groups.
Dates, times, timestamps, order numbers, IDs such as VPN-ERR-619, amounts (1,400,000원), ports, versions
and IP addresses are not personal data and are left alone (tests/test_redact.py holds both tables).

The patterns read ``core.text.fold_chars(text)``, which is as long as ``text``: digits typed full-width
(０１０-２２２２-３３３３, as Korean input methods do), full-width or ideographic spaces, dots and hyphens
and letters that look like Latin ones are found as their plain forms, and what is replaced is the text
as the user wrote it.

``redact`` is what storage uses (questions, answers, comments); ``Pseudonyms`` is what a hosted
model call uses: each value becomes a numbered placeholder, and the placeholders in the model's
reply are turned back into the values they stand for.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Container

from core.text import fold_chars

# A domain starts with a letter: icon@2x.png is a file name.
_EMAIL = re.compile(r"(?:mailto:)?[a-z0-9._%+-]+@[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_MENTION = re.compile(r"<@[uw][a-z0-9]+(?:\|[^>]*)?>|<!(?:subteam\^[a-z0-9]+|here|channel|everyone)(?:\|[^>]*)?>")
# Korean particles follow a number directly (010-1234-5678로): only Latin letters, digits and joiners
# next to a match make it part of something longer; nor is a number in a URL path or query personal data.
_START = r"(?<![a-z0-9_.,+/=#?&-])"
_END = r"(?![a-z0-9_-]|[.,]\d)"  # not followed by more of a number, an ID or a decimal part
# Hyphens that NFKC leaves as they are (‐ ‑ ‒ – −) are read as "-" (an em dash is punctuation, not part of a
# number); so are the spaces fold_chars leaves (no-break, thin, ideographic: not "printable") as " ".
_SPACES = "\u00a0\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200b)))
_SEPARATORS = str.maketrans({**dict.fromkeys("\u2010\u2011\u2012\u2013\u2212", "-"), **dict.fromkeys(_SPACES, " ")})
# YYMMDD, a hyphen or space or nothing (see _rrn), the century-and-sex digit 1-8 and six more digits.
_RRN = re.compile(_START + r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])([- ]?)[1-8]\d{6}" + _END)
# Words that say a number is a resident registration (or foreigner registration) number.
_RRN_WORDS = re.compile(r"주민|외국인\s*등록|(?<![a-z])rrn(?![a-z])|resident")
# Digits in groups split by single spaces or hyphens, starting as the card networks' numbers do (22-27 and
# 5: Mastercard, Maestro; 3: Amex, Diners, JCB; 4: Visa; 6: Discover, UnionPay); 20 and 21 are years
# (2026120712345 is an order number). _card finds the card number at its start.
_CARD = re.compile(_START + r"(?:2[2-7]|[3-6]\d)\d{2}(?:[ -]?\d){9,}" + _END)
_PHONE = re.compile(
    _START + r"(?:"
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}"  # international: +82 2 3456 7890, +1 (555) 123-4567
    # trunk prefix: 010-1234-5678, 01012345678, (02) 345-6789, 02)345-6789; "(" only with its ")"
    r"|(?:\(0\d{1,3}\)\s?|0\d{1,3}(?:\)\s?|[ .-]?))\d{3,4}[ .-]?\d{4}"
    r"|(?:\([2-9]\d{2}\)|[2-9]\d{2})[ .-]?\d{3}[ .-]\d{4}"  # North American: (555) 123-4567, 555-123-4567
    r")" + _END)


@dataclass(frozen=True)
class Kind:
    name: str
    pattern: re.Pattern
    # Where in a match the personal data is (the whole match unless told otherwise), or None for nowhere.
    span: Callable[[re.Match], tuple[int, int] | None] = lambda m: m.span()


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


def _card(m: re.Match) -> tuple[int, int] | None:
    """The card number a run of digit groups starts with: the most whole groups that pass the Luhn check
    (4111 1111 1111 1111 123 is a card number and three more digits). A run without separators is
    taken whole: a card number hidden inside one cannot be told from an ID."""
    run = m.group()
    for end in sorted({g.end() for g in re.finditer(r"\d+", run)}, reverse=True):
        if _luhn(run[:end]):
            return m.start(), m.start() + end
    return None


def _rrn(m: re.Match) -> tuple[int, int] | None:
    """Is this resident registration number one? With its hyphen (or a space) whenever its date is real.
    Thirteen bare digits may as well be a millisecond timestamp (1710123456789) or an ID that starts with
    a date (2501151234567), so they count only

    - when the date, read with its century digit, is 1930-1999 (9001011234567): no timestamp or date
      stamp of this century starts so;
    - otherwise (a year 00-29, the years of today's date stamps) when the check digit holds, or when a
      word near them says what they are (주민, 외국인등록, RRN, resident).

    Numbers issued before October 2020 carry the check digit; those issued since (newborns, changed
    numbers) do not. Such a number, of someone born in 2000 or later, typed without its hyphen and
    without such a word is missed: the price of leaving timestamps and date-stamped IDs alone."""
    if m.group(1):
        return m.span()
    digits = [int(c) for c in m.group()]
    if digits[6] in (1, 2, 5, 6) and digits[0] >= 3:
        return m.span()
    check = (11 - sum(d * w for d, w in zip(digits, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5))) % 11) % 10
    near = m.string[max(0, m.start() - 30):m.start()] + " " + m.string[m.end():m.end() + 15]
    return m.span() if check == digits[12] or _RRN_WORDS.search(near) else None


def _phone(m: re.Match) -> tuple[int, int] | None:
    return m.span() if 8 <= sum(c.isdigit() for c in m.group()) <= 15 else None


# Earlier kinds win where matches overlap: a card number is not also read as a phone number.
KINDS = (Kind("email", _EMAIL), Kind("mention", _MENTION), Kind("rrn", _RRN, _rrn), Kind("card", _CARD, _card),
         Kind("phone", _PHONE, _phone))
LABELS = {"email": "email", "mention": "user", "rrn": "id number", "card": "card", "phone": "phone"}


@dataclass(frozen=True)
class Found:
    kind: str
    start: int
    end: int
    value: str  # as written, full-width digits and all

    @property
    def key(self) -> str:
        """The value as compared across texts: an address folded (lower case, plain letters), a number
        as its digits."""
        folded = fold_chars(self.value)
        if self.kind in ("email", "mention"):
            return folded.removeprefix("mailto:")
        return "".join(c for c in folded if c in "0123456789")


def find(text: str) -> list[Found]:
    """The personal data in ``text``, in order, without overlaps; found in ``fold_chars(text)``, each value
    as ``text`` has it."""
    folded = fold_chars(text).translate(_SEPARATORS)
    taken: list[Found] = []
    for kind in KINDS:
        for m in kind.pattern.finditer(folded):
            span = kind.span(m)
            if span and not any(span[0] < f.end and f.start < span[1] for f in taken):
                taken.append(Found(kind.name, *span, text[span[0]:span[1]]))
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
            # a Slack <mailto:a@b|a@b> link keeps its scheme
            value = f.value[7:] if fold_chars(f.value[:7]) == "mailto:" else f.value
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
