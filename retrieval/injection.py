"""Text in a document that speaks to an assistant instead of to a reader (prompt injection).

A handbook page has no reason to say "ignore previous instructions" or "SYSTEM:"; a page that does
is flagged for admins, and can be kept out of answers (OWASP LLM01). The patterns are deliberately
narrow, in English and Korean: a false alarm costs an admin a look, a miss costs a phishing answer.
"""

from __future__ import annotations

import re

_PATTERNS = [
    # English
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|"
    r"preceding|system|original)\s+(?:instructions?|prompts?|rules?|messages?|directions?)",
    # "System:" on a spec sheet is harmless: only a role label followed by an order counts
    r"^[ \t]*(?:#+[ \t]*)?(?:system|assistant|developer)[ \t]*(?:prompt|message)?[ \t]*:"
    r"(?=[^\n]*\b(?:you|ignore|always|never|tell|answer|respond|reply|must|do\s+not|don't)\b)",
    r"\byou\s+are\s+now\s+(?:a|an|the|in|no\s+longer)\b",
    r"\b(?:new|updated|real)\s+(?:system\s+)?instructions?\s*:",
    r"\b(?:tell|ask|instruct)\s+(?:the\s+)?users?\s+to\s+(?:send|share|give|enter|reply\s+with)\b[^.\n]{0,60}"
    r"\b(?:password|passcode|credentials?|code|token|otp|pin)\b",
    r"\b(?:do\s+not|don'?t|never)\s+(?:tell|reveal|mention)\s+(?:this|these\s+instructions)\s+to\s+the\s+user",
    # Korean
    r"(?:이전|앞의|위의|기존|모든)\s*(?:지시|지침|명령|규칙|프롬프트)\S*(?:\s+\S{1,4})?\s*(?:무시|잊어)",
    r"^[ \t]*(?:시스템|어시스턴트)[ \t]*(?:프롬프트|메시지)?[ \t]*:"
    r"(?=[^\n]*(?:하세요|해라|하라|마세요|말라|답하|응답|무시))",
    r"(?:너는|당신은)\s*이제\b",
    r"(?:사용자|유저)\S*\s*(?:에게)?\s*(?:비밀번호|패스워드|인증\s*코드|인증번호|OTP)\S*\s*(?:을|를)?\s*"
    r"(?:보내|알려|입력|공유)",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE | re.MULTILINE)


def instruction_like(text: str, limit: int = 5) -> list[str]:
    """The passages of ``text`` that address an assistant (at most ``limit``), each trimmed to its line."""
    found = []
    for match in _INSTRUCTION.finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        line = " ".join(text[start:end if end >= 0 else len(text)].split())
        if line and line not in found:
            found.append(line[:200])
        if len(found) == limit:
            break
    return found
