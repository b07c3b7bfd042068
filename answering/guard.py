"""Answers that must not reach the asker: a request for a secret, or an address no source gives.

A document that steers the model (OWASP LLM01) shows up in the answer as "reply with your one-time
code to verify your account" or "send your password to it-verify@evil.example"; the answer is the
last place to stop it (LLM05). ``withheld`` recognises both, in English and Korean, and stays quiet
on what handbooks do say: "never share your password", "reset your password at the IT portal [1]"
(the portal being in the sources), "if anyone asks for your OTP, report it".

"Enter your code" alone is an ordinary instruction (a login page, an authenticator app), so entering
counts only when the answer says where and that is the conversation ("here", "in this thread") or
an address the sources do not have. An address a poisoned source itself gives passes the address
check; a request for a secret does not, and such a source is flagged when indexed (retrieval.injection).
"""

from __future__ import annotations

import re

from answering.wellformed import sentences

_EN_CREDENTIAL = (
    r"(?:pass(?:word|code|phrase)s?|PINs?(?:\s+(?:code|number)s?)?|OTPs?(?:\s+codes?)?"
    r"|one[- ]time\s+(?:pass)?(?:codes?|words?)"
    r"|(?:verification|security|authentication|auth|log-?in|sign[- ]?in|confirmation|access|recovery|backup|SMS"
    r"|text|2FA|MFA|two[- ]factor|\d[- ]digit|six[- ]digit)\s+codes?"
    r"|codes?\s+(?:(?:that\s+)?(?:we|I)\s+sent|(?:that\s+)?you\s+(?:received|got)|sent\s+to\s+you)"
    r"|(?:2FA|MFA)\s+tokens?|(?:API|access|secret|private)\s+keys?"
    r"|(?:(?:API|access|auth|bearer|session|refresh|security)\s+)?tokens?"
    r"|(?:client\s+)?secrets?(?!\s+santa)|credentials?|log-?in\s+details)"
)
# what follows the noun when it is a topic, not the secret itself ("the password policy")
_EN_TOPIC = (r"(?!\s*(?:policy|policies|reset|rules?|requirements?|guidelines?|expir\w*|change|strength|length"
             r"|manager|vault|field|page|portal|form|request|ticket|hint|rotation|generator"
             r"|(?:a|an)\s+(?:name|label|description|expiry|scope))\b)")
_EN_GIVE = (r"\b(?:send|share|give|provide|tell|reply\s+with|respond\s+with|answer\s+with|DM|message|post|paste"
            r"|submit|forward|e-?mail|read\s+out|disclose|reveal|text)\b")
_EN_ENTER = r"\b(?:enter|type|input|write|put)\b"
_EN_ASK = r"\b(?:(?:I|we)\s+(?:will\s+|would\s+)?(?:need|require)|what(?:\s+is|'s)|confirm\s+me)\s+your\b"
_EN_BETWEEN = r"[^\n]{0,40}?"  # within one sentence already; addresses have dots
# a word between the verb and the noun that makes the noun someone else's object
_EN_DETOUR = re.compile(r"\b(?:requests?|tickets?|forms?|about|reset|change|forgot|forget|forgotten|lost|expired|"
                        r"update|links?|how|when|whether|that|policy|wi-?fi|guest|network)\b", re.I)
_EN_NOT = re.compile(r"\b(?:never|not|no|don'?t|doesn'?t|won'?t|shouldn'?t|mustn'?t|cannot|can'?t|avoid|nobody|"
                     r"no\s+one|refuse|if|when|whenever|unless|asks?|asked|asking|requests?)\b|n't\b", re.I)
# "we will send you a code", "the helpdesk will send a code to your phone": the user receives, not gives
_EN_SUBJECT = re.compile(r"(\w+)(?:\s+(?:will|would|can|may|might|should|must)|'ll)\s+(?:also\s+|then\s+)?$", re.I)
_EN_TO_USER = re.compile(r"\s*you\b", re.I)  # between the verb and the noun: "send you a code"
_EN_TO_USER_AFTER = re.compile(r".*?\bto\s+(?:you|your\s+(?:phone|mobile|e-?mail|inbox|device|app))\b", re.I)
_EN_CONVERSATION = re.compile(r"\b(?:here|below|in\s+(?:this|the|your)\s+(?:chat|thread|conversation|message|dm|"
                              r"reply|channel)|to\s+(?:me|us)|in\s+a\s+reply)\b", re.I)

_KO_CREDENTIAL = (r"(?:비밀\s*번호|패스워드|암호(?!화)|인증\s*번호|인증\s*코드|보안\s*코드|확인\s*코드"
                  r"|일회용\s*(?:비밀번호|코드|암호)|OTP|토큰|(?:API|액세스|비밀|개인)\s*키|시크릿|자격\s*증명|PIN(?:\s*번호)?|핀\s*번호|로그인\s*정보)")
_KO_GIVE = r"(?:보내|알려|공유|전달|제출|회신|답장|말해|말씀해|적어|남겨|불러)"
_KO_ENTER = r"입력"
_KO_BETWEEN = r"[^\n]{0,30}?"
# the noun belongs to another verb or clause: "비밀번호를 잊었다면 IT팀에 메일을 보내세요"
_KO_DETOUR = re.compile(r"재설정|변경|바꾸|바꿔|링크|요청|초기화|정책|분실|만료|안내|방법|규칙|잊|잃|문의|관련|"
                        r"대해|대한|메일을|이메일을|면\s|때|후에|,")
_KO_NOT = re.compile(r"지\s*(?:마|말|않)|면\s*안|서는\s*안|달라|라고|라는|금지|않")
_KO_CONVERSATION = re.compile(r"여기|이\s*(?:채팅|대화|스레드|메시지|채널)|답장|댓글|회신|DM")

_EN_GIVING = re.compile(rf"(?P<verb>{_EN_GIVE})(?P<between>{_EN_BETWEEN})\b(?P<noun>{_EN_CREDENTIAL})\b{_EN_TOPIC}",
                        re.I)
_EN_ENTERING = re.compile(rf"(?P<verb>{_EN_ENTER})(?P<between>{_EN_BETWEEN})\b(?P<noun>{_EN_CREDENTIAL})\b{_EN_TOPIC}",
                          re.I)
_EN_ASKING = re.compile(rf"(?P<verb>{_EN_ASK})(?P<between>\s*(?:\S+\s+)?)(?P<noun>{_EN_CREDENTIAL})\b{_EN_TOPIC}", re.I)
_KO_GIVING = re.compile(rf"(?P<noun>{_KO_CREDENTIAL})(?P<between>{_KO_BETWEEN})(?P<verb>{_KO_GIVE})", re.I)
_KO_ENTERING = re.compile(rf"(?P<noun>{_KO_CREDENTIAL})(?P<between>{_KO_BETWEEN})(?P<verb>{_KO_ENTER})", re.I)

_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?:https?://|www\.)[^\s<>()\[\]|\"'`]+", re.I)
_CONTACT = re.compile(r"\b(?:send|e-?mail|mail|write|contact|reach\s+out|forward|reply|message|DM|submit|report|"
                      r"get\s+in\s+touch)\b|보내|메일|연락|문의|회신|제출|전달|신고|접수", re.I)
_ANY_CREDENTIAL = re.compile(f"\\b{_EN_CREDENTIAL}\\b|{_KO_CREDENTIAL}", re.I)


def withheld(answer: str, sources_text: str) -> str | None:
    """Why ``answer`` must not be sent (a short reason), or None: it asks the asker for a password, code,
    token or other credential, or tells them to write to (or enter a secret at) an address that does not
    occur in ``sources_text``."""
    known = _normalised(sources_text)
    for sentence in sentences(answer):
        noun = _credential_request(sentence)
        if noun:
            return f"asks the user for a credential ({noun})"
        unknown = [a for a in _addresses(sentence) if not _occurs(_normalised(a), known)]
        if unknown and (_CONTACT.search(sentence) or _ANY_CREDENTIAL.search(sentence)):
            return "points the user to an address none of the sources gives"
    return None


def _credential_request(sentence: str) -> str | None:
    """The credential ``sentence`` asks the user to hand over, if it does."""
    for pattern, where in ((_EN_GIVING, None), (_EN_ASKING, None), (_EN_ENTERING, _EN_CONVERSATION)):
        for m in pattern.finditer(sentence):
            clause = re.split(r"[,;:()]|\bbut\b", sentence[:m.start()])[-1]
            after = sentence[m.end():]
            subject = _EN_SUBJECT.search(clause)
            if (_EN_NOT.search(clause) or _EN_DETOUR.search(m["between"]) or _EN_TO_USER.match(m["between"])
                    or (subject and subject[1].lower() != "you") or _EN_TO_USER_AFTER.match(after)
                    or re.match(r"\W*(?:with|to)\s+(?:no\s*one|nobody)", after, re.I)):
                continue
            if where is None or where.search(after) or where.search(m["between"]):
                return " ".join(m["noun"].lower().split())
    for pattern, where in ((_KO_GIVING, None), (_KO_ENTERING, _KO_CONVERSATION)):
        for m in pattern.finditer(sentence):
            if _KO_NOT.search(sentence[m.end():m.end() + 12]) or _KO_DETOUR.search(m["between"]):
                continue
            if where is None or where.search(sentence[:m.start()]) or where.search(m["between"]):
                return " ".join(m["noun"].split())
    return None


def _addresses(sentence: str) -> list[str]:
    return [m.group(0).rstrip(".,;:!?)") for m in _ADDRESS.finditer(sentence)]


def _normalised(text: str) -> str:
    return re.sub(r"\b(?:https?://)?(?:www\.)?", "", text.lower()) if text else ""


def _occurs(address: str, known: str) -> bool:
    """``address`` (normalised) appears in ``known`` as a whole address or the start of a longer one."""
    address = address.rstrip("/")
    return bool(address) and re.search(rf"(?<![\w.+-]){re.escape(address)}(?![\w-])", known) is not None
