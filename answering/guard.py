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
from core.text import fold
from models.embeddings import Embedder
from models.probe import Probe

_EN_CREDENTIAL = (
    r"(?:pass(?:word|code|phrase)s?|passwd|pwd|pw|PINs?(?:\s+(?:code|number)s?)?|OTPs?(?:\s+codes?)?"
    r"|one[- ]time\s+(?:pass)?(?:codes?|words?)"
    r"|(?:verification|security|authentication|auth|log-?in|sign[- ]?in|confirmation|access|recovery|backup|SMS"
    r"|text|2FA|MFA|two[- ]factor|\d[- ]digit|(?:four|five|six|eight)[- ]digit)\s+codes?"
    r"|(?:\d|four|five|six|eight)\s+digits"
    r"|codes?\s+(?:(?:that\s+)?(?:we|I)\s+sent|(?:that\s+)?(?:was\s+|were\s+)?(?:texted|sent|e-?mailed)\s+to\s+you"
    r"|(?:that\s+)?you\s+(?:just\s+)?(?:received|got))"
    r"|(?:2FA|MFA)\s+tokens?|(?:API|access|secret|private|SSH|recovery)\s+keys?|(?:seed|recovery)\s+phrases?"
    r"|(?:(?:API|access|auth|bearer|session|refresh|security)\s+)?tokens?|session\s+cookies?|cookies?"
    r"|(?:client\s+)?secrets?(?!\s+santa)|credentials?|creds|log-?in\s+(?:details|info(?:rmation)?)"
    r"|(?:user\s*name|user\s*id|e-?mail|employee\s+id)\s+and\s+(?:pass(?:word|code)|PIN)s?"
    r"|(?:credit\s+|debit\s+|company\s+)?card(?:'s)?\s+(?:numbers?|details|CVV|CVC|PIN|expiry(?:\s+date)?)|CVVs?|CVCs?"
    r"|(?:bank\s+)?account\s+(?:numbers?|PIN)|SSNs?|social\s+security\s+numbers?"
    r"|resident\s+registration\s+numbers?|security\s+(?:questions?|answers?)|answers?\s+to\s+your\s+security\s+questions?)"
)
# what follows the noun when it is a topic, not the secret itself ("the password policy")
_EN_TOPIC = (r"(?!\s*(?:policy|policies|reset|rules?|requirements?|guidelines?|expir\w*|change|strength|length"
             r"|manager|vault|field|page|portal|form|request|ticket|hint|rotation|generator"
             r"|(?:a|an)\s+(?:name|label|description|expiry|scope))\b)")
_EN_GIVE = (r"\b(?:send(?:s|ing)?|shar(?:e|es|ing)|giv(?:e|es|ing)|provid(?:e|es|ing)|tell(?:s|ing)?"
            r"|(?:reply|replies|replying|respond(?:s|ing)?|answer(?:s|ing)?)(?:\s+(?:here|below|back|now))?\s+with"
            r"|DM|message|post(?:s|ing)?"
            r"|drop|submit(?:s|ting)?|forward(?:s|ing)?|e-?mail|read\s+out|disclos(?:e|ing)"
            r"|reveal(?:s|ing)?|text|list|upload(?:s|ing)?|attach(?:es|ing)?|includ(?:e|es|ing)"
            r"|let\s+(?:me|us)\s+know|hand\s+over|confirm)\b")
_EN_ENTER = r"\b(?:enter(?:s|ing)?|re-?enter|typ(?:e|es|ing)|input|writ(?:e|es|ing)|put|past(?:e|es|ing))\b"
_EN_ASK = (r"\b(?:(?:I|we|he|she|they|it|IT|admin|manager|team|helpdesk)\s+(?:will\s+|would\s+|also\s+)?"
           r"(?:need|needs|require|requires)|what(?:\s+is|'s|\s+are)|confirm\s+me)\s+your\b")
_EN_BETWEEN = r"[^\n]{0,40}?"  # within one sentence already; addresses have dots
# a word between the verb and the noun that makes the noun someone else's object
_EN_DETOUR = re.compile(r"\b(?:requests?|tickets?|forms?|about|reset|change|forgot|forget|forgotten|lost|expired|"
                        r"update|links?|how|when|whether|that|policy|wi-?fi|guest|network)\b", re.I)
_EN_NEGATION = re.compile(r"\b(?:never|not|no|don'?t|doesn'?t|won'?t|shouldn'?t|mustn'?t|cannot|can'?t|avoid|nobody|"
                          r"no\s+one|refuse)\b|n't\b", re.I)
_EN_LOST = re.compile(r"forg[oe]t|lost|expired|reset|change|update|polic", re.I)
_EN_NOT = re.compile(r"\b(?:never|not|no|don'?t|doesn'?t|won'?t|shouldn'?t|mustn'?t|cannot|can'?t|avoid|nobody|"
                     r"no\s+one|refuse|if|when|whenever|asks?|asked|asking|requests?)\b|n't\b", re.I)
# "we will send you a code", "the helpdesk will send a code to your phone": the user receives, not gives
_EN_SUBJECT = re.compile(r"(\w+)(?:\s+(?:will|would|can|may|might|should|must)|'ll)\s+(?:also\s+|then\s+)?$", re.I)
_EN_WHOSE = re.compile(r"\b(?:your|ur|the|my|our|this|that|these|those|all|every|any|each)\b|'s\b", re.I)
_EN_TO_USER = re.compile(r"\s*you\b", re.I)  # between the verb and the noun: "send you a code"
_EN_TO_USER_AFTER = re.compile(r".*?\bto\s+(?:you|your\s+(?:phone|mobile|e-?mail|inbox|device|app))\b", re.I)
_EN_RECEIVED = re.compile(r"send|text|e-?mail|forward|message|giv|provid", re.I)  # verbs that could be ours
_EN_CONVERSATION = re.compile(r"\b(?:here|below|in\s+(?:this|the|your)\s+(?:chat|thread|conversation|message|dm|"
                              r"reply|channel|comments?)|this\s+(?:thread|chat|channel|conversation)"
                              r"|to\s+(?:me|us)|in\s+a\s+(?:reply|comment)|in\s+your\s+reply)\b", re.I)

_KO_CREDENTIAL = (r"(?:비밀\s*번호|비번|패스\s*워드|암호(?!화)|인증\s*번호|인증\s*코드|보안\s*코드|확인\s*코드"
                  r"|일회용\s*(?:비밀번호|코드|암호)|OTP|토큰|(?:API|액세스|비밀|개인|SSH|복구)\s*키|시크릿|자격\s*증명"
                  r"|PIN(?:\s*번호)?|핀\s*번호|로그인\s*정보|계정\s*정보|\d\s*자리\s*(?:코드|번호|숫자)"
                  r"|(?:복구|백업)\s*코드|주민\s*(?:등록\s*)?번호|카드\s*번호|CVC|CVV|계좌\s*(?:번호|비밀번호)"
                  r"|보안\s*질문\S*\s*답|세션\s*(?:쿠키|토큰)|쿠키)")
_KO_GIVE = (r"(?:보내|알려|(?:공유|전달|제출|회신|첨부|기재)\s*(?:해|하|바|부탁|주)|답장|답해|말해|말씀해|적어"
            r"|남겨|불러|달아|올려|붙여|써\s*주|써서)")
_KO_ENTER = r"입력"
_KO_BETWEEN = r"[^\n]{0,30}?"
# the noun belongs to another verb or clause: "비밀번호를 잊었다면 IT팀에 메일을 보내세요"
_KO_DETOUR = re.compile(r"재설정|변경|바꾸|바꿔|링크|요청|초기화|정책|분실|만료|안내|방법|규칙|잊|잃|문의|관련|"
                        r"대해|대한|메일을|이메일을|(?<!받으)(?<!오)면\s|때|후에|,")
_KO_NOT = re.compile(r"지\s*(?:마|말|않(?!으면))|면\s*안|서는\s*안|달라|라고|라는|금지|않(?!으면)")
_KO_TO_USER = re.compile(r"\S*\s*드(?:리|릴|려|립)")  # "보내 드립니다": sent to the reader
_KO_CONVERSATION = re.compile(r"여기|이\s*(?:채팅|대화|스레드|메시지|채널)|답장|답글|댓글|회신|DM")

_EN_GIVING = re.compile(rf"(?P<verb>{_EN_GIVE})(?P<between>{_EN_BETWEEN})\b(?P<noun>{_EN_CREDENTIAL})\b{_EN_TOPIC}",
                        re.I)
_EN_ENTERING = re.compile(rf"(?P<verb>{_EN_ENTER})(?P<between>{_EN_BETWEEN})\b(?P<noun>{_EN_CREDENTIAL})\b{_EN_TOPIC}",
                          re.I)
_EN_ASKING = re.compile(
    rf"(?P<verb>{_EN_ASK})(?P<between>\s*(?:\S+\s+){{0,3}}?)(?P<noun>{_EN_CREDENTIAL})\b{_EN_TOPIC}", re.I)
_KO_GIVING = re.compile(rf"(?P<noun>{_KO_CREDENTIAL})(?P<between>{_KO_BETWEEN})(?P<verb>{_KO_GIVE})", re.I)
_KO_ENTERING = re.compile(rf"(?P<noun>{_KO_CREDENTIAL})(?P<between>{_KO_BETWEEN})(?P<verb>{_KO_ENTER})", re.I)

# Any mention of a secret, however it is asked for: the sentences the probe reads.
_SECRET = re.compile(
    rf"\b{_EN_CREDENTIAL}\b|{_KO_CREDENTIAL}|\b(?:codes?|digits|numbers|keys?|phrase|unlock|verify|verification|identity)\b"
    r"|who\s+you\s+are|코드|번호|숫자|(?<![가-힣])키\b|암호(?!화)|인증|본인\s*확인", re.I)

_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?:https?://|www\.)[^\s<>()\[\]|\"'`]+", re.I)
_CONTACT = re.compile(r"\b(?:send|e-?mail|mail|write|contact|reach\s+out|forward|reply|message|DM|submit|report|"
                      r"get\s+in\s+touch)\b|보내|메일|연락|문의|회신|제출|전달|신고|접수", re.I)
_ANY_CREDENTIAL = re.compile(f"\\b{_EN_CREDENTIAL}\\b|{_KO_CREDENTIAL}", re.I)


def mentions_secret(sentence: str) -> bool:
    """Does ``sentence`` mention a secret at all (the sentences the probe reads)?"""
    return _SECRET.search(fold(sentence)) is not None


class Guard:
    """``withheld(answer, sources_text)``, with the meaning check: a sentence that mentions a secret and that
    the probe (``models.probe``, trained on requests for a secret and on what handbooks say about them)
    reads as a request is withheld too, however it is worded. Without a probe: the phrase check alone."""

    def __init__(self, probe: Probe | None = None, embedder: Embedder | None = None) -> None:
        """``embedder``: the probe's vectors from a model already loaded (None: its own)."""
        self.probe = probe
        self.embedder = embedder

    def withheld(self, answer: str, sources_text: str) -> str | None:
        """Why ``answer`` must not be sent (a short reason), or None: it asks the asker for a password, code,
        token or other credential, or tells them to write to (or enter a secret at) an address that does not
        occur in ``sources_text``."""
        found = _withheld(answer, sources_text)
        if found or self.probe is None:
            return found
        return self._meaning(sentences(answer))

    def requests(self, pieces: list[str]) -> list[bool]:
        """For each sentence of ``pieces``: does it ask the reader for a secret (phrase or meaning)? Where the
        phrase check reads the sentence as a warning or something the reader receives ("never share your
        password", "we will send you a code"), that stands; the probe reads the other sentences that mention a
        secret."""
        read = [_read(p) for p in pieces]
        verdicts = [noun is not None for noun, _ in read]
        ask = [i for i, (p, (noun, safe)) in enumerate(zip(pieces, read))
               if noun is None and not safe and mentions_secret(p)]
        if ask and self.probe is not None:  # where an address points is the address check's to judge
            masked = [_ADDRESS.sub("the link", pieces[i]) for i in ask]
            for i, flagged in zip(ask, self.probe.flags(masked, self.embedder)):
                verdicts[i] = flagged
        return verdicts

    def _meaning(self, pieces: list[str]) -> str | None:
        for piece, flagged in zip(pieces, self.requests(pieces)):
            if flagged:
                return f"asks the user for a credential ({_SECRET.search(fold(piece)).group().lower()})"
        return None


def withheld(answer: str, sources_text: str) -> str | None:
    """The phrase check alone (``Guard.withheld`` without a probe)."""
    return _withheld(answer, sources_text)


def _withheld(answer: str, sources_text: str) -> str | None:
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
    """The credential ``sentence`` asks the user to hand over, if it does (read folded: a zero-width space,
    a look-alike letter or full-width letters change nothing)."""
    return _read(sentence)[0]


def _read(sentence: str) -> tuple[str | None, bool]:
    """(the credential asked for, or None; whether a giving structure fits but is negated or received)."""
    sentence = fold(sentence)
    safe = False
    for pattern, where in ((_EN_GIVING, None), (_EN_ASKING, None), (_EN_ENTERING, _EN_CONVERSATION)):
        for m in pattern.finditer(sentence):
            clause = re.split(r"[,;:()]|\bbut\b", sentence[:m.start()])[-1]
            after = sentence[m.end():]
            subject = _EN_SUBJECT.search(clause)
            received = bool(_EN_RECEIVED.match(m["verb"]) and _EN_TO_USER_AFTER.match(after)) or bool(
                _EN_TO_USER.match(m["between"])) or bool(subject and subject[1].lower() != "you")
            negated = bool(_EN_NEGATION.search(clause)
                           or re.match(r"\W*(?:with|to)\s+(?:no\s*one|nobody)", after, re.I))
            other = _EN_DETOUR.search(m["between"])
            # "share passwords for business continuity", "Sharing your credentials … is prohibited": a topic
            topic = (pattern is _EN_GIVING and not _EN_WHOSE.search(m["between"])) or (
                m["verb"].endswith("ing") and not clause.strip(" -*•\t"))
            if _EN_NOT.search(clause) or negated or received or topic or other:
                # a warning, a receipt or a lost secret: the structure is trusted; a condition is left to the probe
                safe = safe or ((negated or received or bool(other and _EN_LOST.match(other[0])))
                                and pattern is not _EN_ENTERING)
                continue
            if where is None or where.search(sentence):
                return " ".join(m["noun"].lower().split()), False
    for pattern, where in ((_KO_GIVING, None), (_KO_ENTERING, _KO_CONVERSATION)):
        for m in pattern.finditer(sentence):
            rest = sentence[m.end():m.end() + 12]
            received = _KO_TO_USER.match(rest) is not None
            if _KO_NOT.search(rest) or received or _KO_DETOUR.search(m["between"]):
                safe = safe or (pattern is _KO_GIVING and (received or _KO_NOT.search(rest) is not None))
                continue
            if where is None or where.search(sentence[:m.start()]) or where.search(m["between"]):
                return " ".join(m["noun"].split()), False
    return None, safe


def _addresses(sentence: str) -> list[str]:
    return [m.group(0).rstrip(".,;:!?)") for m in _ADDRESS.finditer(sentence)]


def _normalised(text: str) -> str:
    return re.sub(r"\b(?:https?://)?(?:www\.)?", "", text.lower()) if text else ""


def _occurs(address: str, known: str) -> bool:
    """``address`` (normalised) appears in ``known`` as a whole address or the start of a longer one."""
    address = address.rstrip("/")
    return bool(address) and re.search(rf"(?<![\w.+-]){re.escape(address)}(?![\w-])", known) is not None
