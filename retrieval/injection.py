"""Text in a document that speaks to an assistant instead of to a reader (prompt injection).

A handbook page has no reason to say "ignore previous instructions" or "SYSTEM:"; a page that does
is flagged for admins when it is indexed (``documents.flags``), and can be kept out of answers
(OWASP LLM01). The patterns are deliberately narrow, in English and Korean: a false alarm costs an
admin a look, a miss costs a phishing answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.loaders import ParsedDocument

# Bump when the patterns change in a way that should rescan unchanged files (it is part of the
# indexing pipeline's fingerprint, so the next index run re-reads every document once).
SCANNER_VERSION = 1
EXCERPT_CHARS = 160
MAX_FINDINGS = 5

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
    ("hidden-from-user",
     r"\b(?:do\s+not|don'?t|never)\s+(?:tell|reveal|mention)\s+(?:this|these\s+instructions)\s+to\s+the\s+user"),
    # Korean
    ("ignore-instructions",
     r"(?:이전|앞의|위의|기존|모든)\s*(?:지시|지침|명령|규칙|프롬프트)\S*(?:\s+\S{1,4})?\s*(?:무시|잊어)"),
    ("role-label",
     r"^[ \t]*(?:#+[ \t]*)?(?:시스템|어시스턴트)[ \t]*(?:프롬프트|메시지)?[ \t]*:"
     r"(?=[^\n]*(?:하세요|해라|하라|마세요|말라|답하|응답|무시))"),
    ("new-persona", r"(?:너는|당신은)\s*이제\b"),
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
    """The passages of ``text`` that address an assistant (at most ``limit``, one per distinct excerpt)."""
    found: list[Finding] = []
    for match in _INSTRUCTION.finditer(text):
        excerpt = _excerpt(text, match.start(), match.end())
        if excerpt and all(f.excerpt != excerpt for f in found):
            found.append(Finding(_NAMES[match.lastgroup], excerpt))
        if len(found) == limit:
            break
    return found


def scan_document(doc: ParsedDocument, limit: int = MAX_FINDINGS) -> list[Finding]:
    """What a model would be shown of ``doc`` (title, headings, text), scanned with ``instruction_like``."""
    headings = [part for s in doc.sections for part in s.heading.split(" › ") if part]
    lines = list(dict.fromkeys([doc.title, *headings]))  # a heading repeats in every section under it
    return instruction_like("\n".join(lines + [s.text for s in doc.sections]), limit)


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
