"""Does a message ask something? A help channel (/kb channel mode all) answers the top-level messages that
do, and leaves acknowledgements and chatter alone ("lol ok thanks everyone", "👍", "고마워요").

A structural rule on the folded text (core.text.fold), clause by clause, in English and Korean:

- a question mark asks; a clause ending in "!" exclaims ("How cool!"), whatever its first word;
- an English clause asks when it starts with a question word ("how do I …", "what's …"), an auxiliary verb
  before its subject ("can I …", "is the …", "does anyone …") or a request ("tell me …", "I need …");
- a Korean clause asks when a word in it is a question word (누가, 무엇, 뭐, 어떻게, 언제, 어디, 왜, 얼마, 몇 …,
  but not its "any-" forms: 언제나, 누구나, 어떻게든), when it ends as a question does (…나요, …까/까요,
  …ㄴ가요, …냐) or when it asks to be told (알려 주세요, 궁금해요, 알고 싶어요).
"""

from __future__ import annotations

import re

from core.text import fold

_CLAUSE = re.compile(r"[^.!?;:,\n]+[.!?;:,\n]*")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_HANGUL = re.compile("[가-힣]+")

WH = frozenset("how what when where why who whom whose which".split())
AUXILIARIES = frozenset(
    "is are am was were do does did can could should would will shall may might must has have had "
    "isn't aren't wasn't weren't don't doesn't didn't can't couldn't shouldn't wouldn't won't hasn't haven't".split())
# the subject an auxiliary asks about: "can I", "is the", "does anyone" ("will do", "can't wait" ask nothing)
SUBJECTS = frozenset(
    "i you we they he she it there this that these those the a an my our your their his her its "
    "any anyone anybody someone somebody everyone everybody".split())
PERSONS = frozenset("i you we they he she anyone anybody someone somebody".split())  # after has/have/had
REQUESTS = ("tell me", "explain", "show me", "help me", "please", "i need", "i want to know", "i'd like to know",
            "i would like to know", "looking for", "i'm looking for", "i am looking for", "any idea", "anyone know",
            "i wonder", "wondering", "need help")

KO_WH = ("누가", "누구", "무엇", "무슨", "뭐", "뭔", "뭘", "어떻게", "어떤", "어느", "어디", "언제", "왜", "얼마",
         "몇", "며칠")
# after a question word, what makes it no question: 언제나, 누구나 (any-), 어디든 (-ever), 무엇보다 (above all),
# 왜냐하면 (because), 어느새, 어느덧 (before one knew); but 얼마나 is "how much"
KO_ANY = ("나", "든", "보다", "냐하면", "새", "덧")
KO_ENDINGS = ("나요", "까", "까요", "냐", "냐고", "는지요")
KO_REQUESTS = ("알려", "가르쳐", "설명해", "궁금", "알고 싶", "알고싶", "도와주", "도와 주", "찾고 있")
_NIEUN = 4  # the final consonant ㄴ, as a Hangul syllable's jongseong index


def asks(text: str) -> bool:
    """Does ``text`` (as a person wrote it) ask something?"""
    return any(_clause_asks(clause) for clause in _CLAUSE.findall(fold(text).replace("’", "'")))


def _clause_asks(clause: str) -> bool:
    body = clause.rstrip(".!?;:,\n ")
    end = clause[len(body):]
    if "?" in end:
        return True
    if "!" in end or not body.strip():
        return False
    return _english_asks(body.strip()) or _korean_asks(body)


def _english_asks(body: str) -> bool:
    words = _WORD.findall(body)
    if not words or not re.match(r"[a-z]", body):
        return False
    first, second = words[0], words[1] if len(words) > 1 else ""
    if first.split("'")[0] in WH:
        return True
    if first in AUXILIARIES and second in (PERSONS if first in ("has", "have", "had") else SUBJECTS):
        return True
    return any(body == r or body.startswith(r + " ") for r in REQUESTS)


def _korean_asks(body: str) -> bool:
    words = _HANGUL.findall(body)
    if not words:
        return False
    if any(_question_word(w) for w in words) or any(r in body for r in KO_REQUESTS):
        return True
    last = words[-1]
    return last.endswith(KO_ENDINGS) or _ends_in_n_gayo(last)


def _question_word(word: str) -> bool:
    stem = next((w for w in KO_WH if word.startswith(w)), None)
    if stem is None:
        return False
    return stem == "얼마" or not word[len(stem):].startswith(KO_ANY)


def _ends_in_n_gayo(word: str) -> bool:
    """…인가요, …한가요, …는가요: 가요 after a syllable ending in ㄴ (a bare 가요, "goes", asks nothing)."""
    return len(word) >= 3 and word.endswith("가요") and (ord(word[-3]) - 0xAC00) % 28 == _NIEUN
