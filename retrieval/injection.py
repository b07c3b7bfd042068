"""Text in a document that speaks to an assistant instead of to a reader (prompt injection).

A handbook page has no reason to say "ignore previous instructions" or "Note for AI assistants: …"; a
page that does is flagged for admins when it is indexed (``documents.flags``) and, by default, only
quoted, never given to a model, until an admin clears it (OWASP LLM01).

Two checks, both on the folded text (``core.text.fold_chars``: a zero-width space, a look-alike letter
or full-width letters change nothing): narrow patterns in English and Korean, and, when indexing, the
meaning of every sentence (``models.probe``, trained on instructions to an assistant and on document
text that uses the same words for people). A false alarm costs an admin a look; a miss costs a phishing
answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.text import clean, fold_chars
from models.embeddings import Embedder
from models.probe import Probe
from retrieval.loaders import ParsedDocument

# Bump when the patterns change in a way that should rescan unchanged files (it is part of the
# indexing pipeline's fingerprint, so the next index run re-reads every document once).
SCANNER_VERSION = 3
EXCERPT_CHARS = 160
MAX_FINDINGS = 5

# The finding's name when only the probe, no pattern, found the passage. Patterns are precise: a document one of
# them flags is quoted only, whole. The probe is not as precise (a few percent of real pages hold a sentence it
# misreads), so what it alone finds keeps only the passages themselves from a model (retrieval.search).
MEANING = "meaning"

# What happens to a flagged document under each FLAGGED_DOCUMENTS setting, in the words admins read.
FLAGGED_USE = {"quote": "quoted only, never given to a model", "answer": "still given to the model",
               "exclude": "left out of every search"}

# (name, pattern): the name is what an admin sees and what documents.flags records.
_PATTERNS = [
    # English
    ("ignore-instructions",
     r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|"
     r"preceding|system|original)\s+(?:instructions?|prompts?|rules?|messages?|directions?)"),
    # "System:" on a spec sheet is harmless: only a role label followed by an order counts
    ("role-label",
     r"^[ \t]*(?:#+[ \t]*)?(?:system|assistant|developer)[ \t]*(?:prompt|message)?[ \t]*:"
     r"(?=[^\n]*\b(?:you|ignore|always|never|tell|answer|respond|reply|must|do\s+not|don't)\b)"),
    ("new-persona", r"\byou\s+are\s+now\s+(?:a|an|the|in|no\s+longer)\b"),
    ("new-instructions", r"\b(?:new|updated|real)\s+(?:system\s+)?instructions?\s*:"),
    ("credential-request",
     r"\b(?:tell|ask|instruct)\s+(?:the\s+)?users?\s+to\s+(?:send|share|give|enter|reply\s+with)\b[^.\n]{0,60}"
     r"\b(?:password|passcode|credentials?|code|token|otp|pin)\b"),
    # a note addressed to a model: "Note for AI assistants:", "If you are a language model reading this, …"
    ("addressed-to-ai",
     r"\b(?:(?:note|message|instructions?|guidance|reminder)\s+(?:for|to)\s+(?:any\s+|all\s+|the\s+)?"
     r"(?:ai|llms?|chat\s?bots?|(?:ai\s+|language\s+)?(?:assistants?|models?))"
     r"|(?:if|when)\s+you\s+are\s+(?:an?\s+)?(?:ai|llm|chat\s?bot|(?:ai\s+|language\s+)?(?:assistant|model))\b"
     r"|(?:dear|attention|to)\s+(?:the\s+|any\s+)?(?:ai|llm|chat\s?bot|(?:ai\s+|language\s+)?(?:assistant|model))"
     r"\s*[:,])"),
    ("hidden-from-user",
     r"\b(?:do\s+not|don'?t|never)\s+(?:tell|reveal|mention)\s+(?:this|these\s+instructions)\s+to\s+the\s+user"),
    # Korean
    ("ignore-instructions",
     r"(?:이전|앞의|위의|기존|모든)\s*(?:지시|지침|명령|규칙|프롬프트)\S*(?:\s+\S{1,4})?\s*(?:무시|잊어)"),
    ("role-label",
     r"^[ \t]*(?:#+[ \t]*)?(?:시스템|어시스턴트)[ \t]*(?:프롬프트|메시지)?[ \t]*:"
     r"(?=[^\n]*(?:하세요|해라|하라|마세요|말라|답하|응답|무시))"),
    ("new-persona", r"(?<![가-힣])(?:너는|당신은)\s*이제\b"),  # not "리스너는 이제" (the listener now)
    ("addressed-to-ai",
     r"(?:ai|인공\s*지능|어시스턴트|챗봇|언어\s*모델)\s*(?:에게|께|은|는)?\s*[:,]|"
     r"(?:읽는|처리하는|요약하는)\s*(?:ai|인공\s*지능|어시스턴트|챗봇|봇|언어\s*모델)"),
    ("credential-request",
     r"(?:사용자|유저)\S*\s*(?:에게)?\s*(?:비밀번호|패스워드|인증\s*코드|인증번호|OTP)\S*\s*(?:을|를)?\s*"
     r"(?:보내|알려|입력|공유)"),
]
_NAMES = {f"p{i}": name for i, (name, _) in enumerate(_PATTERNS)}
_INSTRUCTION = re.compile("|".join(f"(?P<p{i}>{p})" for i, (_, p) in enumerate(_PATTERNS)),
                          re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    """One passage aimed at an assistant: which pattern, and up to EXCERPT_CHARS of its line around the hit."""

    pattern: str
    excerpt: str

    def as_dict(self) -> dict:
        return {"pattern": self.pattern, "excerpt": self.excerpt}


def instruction_like(text: str, limit: int = MAX_FINDINGS) -> list[Finding]:
    """The passages of ``text`` that address an assistant by the patterns (at most ``limit``, one per
    distinct excerpt); ``text`` is cleaned and read folded, excerpts are of the cleaned text."""
    text = clean(text)
    found: list[Finding] = []
    for match in _INSTRUCTION.finditer(fold_chars(text)):
        excerpt = _excerpt(text, match.start(), match.end())
        if excerpt and all(f.excerpt != excerpt for f in found):
            found.append(Finding(_NAMES[match.lastgroup], excerpt))
        if len(found) == limit:
            break
    return found


def scan_document(doc: ParsedDocument, limit: int = MAX_FINDINGS, probe: Probe | None = None,
                  embedder: Embedder | None = None) -> list[Finding]:
    """What a model would be shown of ``doc`` (title, headings, text), scanned with ``instruction_like``
    and, given a ``probe``, by meaning: each sentence the probe reads as addressed to an assistant."""
    headings = [part for s in doc.sections for part in s.heading.split(" › ") if part]
    lines = list(dict.fromkeys([doc.title, *headings]))  # a heading repeats in every section under it
    text = "\n".join(lines + [s.text for s in doc.sections])
    found = instruction_like(text, limit)
    if probe is None or len(found) >= limit:
        return found
    candidates = list(dict.fromkeys(_sentences(clean(text))))
    for sentence in (s for s, hit in zip(candidates, probe.flags(candidates, embedder)) if hit):
        excerpt = _excerpt(sentence, 0, len(sentence))
        if all(f.excerpt != excerpt and excerpt not in f.excerpt for f in found):
            found.append(Finding(MEANING, excerpt))
        if len(found) == limit:
            break
    return found


def scan_text(texts: list[str], probe: Probe | None = None) -> list[bool]:
    """For each text: does it address an assistant, by the patterns or (given a ``probe``) by meaning?"""
    verdicts = [bool(instruction_like(t, limit=1)) for t in texts]
    ask = [i for i, hit in enumerate(verdicts) if not hit]
    if ask and probe is not None:
        for i, flagged in zip(ask, probe.flags([texts[i] for i in ask])):
            verdicts[i] = flagged
    return verdicts


def _sentences(text: str) -> list[str]:
    pieces = (p.strip() for p in re.split(r"(?<=[.!?。])\s+|\n+", text))
    return [p for p in pieces if 12 <= len(p) <= 1000]


def _excerpt(text: str, start: int, end: int, width: int = EXCERPT_CHARS) -> str:
    """The hit with as much of its line around it as fits in ``width`` characters (whitespace collapsed)."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    before, hit, after = (re.sub(r"\s+", " ", piece)
                          for piece in (text[line_start:start], text[start:end], text[end:line_end]))
    before = before.lstrip()
    after = after.rstrip()
    if len(before) + len(hit) + len(after) <= width:
        return (before + hit + after).strip()
    room = width - 2 - len(hit)  # two ellipses at most
    if room <= 0:
        return hit.strip()[:width - 1] + "…"
    right = min(len(after), room - min(len(before), room // 2))
    left = min(len(before), room - right)
    head = ("…" if left < len(before) else "") + before[len(before) - left:]
    tail = after[:right] + ("…" if right < len(after) else "")
    return (head + hit + tail).strip()
