"""Block Kit builders: plain values in, Slack payloads out. Pure functions, no Slack calls.

Everything a model or a document wrote goes through ``bot.slack.mrkdwn`` (escaped, never a ping), and
shows a live link only to a host the admins trust (``core.links.TrustedHosts``, from ``LINK_DOMAINS``).
Slack limits: a section's text ≤ 3,000 characters, a message ≤ 50 blocks, a button label ≤ 75.
"""

from __future__ import annotations

import re
from typing import Callable

from answering import prompts
from answering.context import Source, heading
from answering.types import Answer, Route
from bot.slack.mrkdwn import escape, link, plain, to_mrkdwn
from core.links import TrustedHosts
from core.redact import redact
from core.text import clean

MAX_SECTION_CHARS = 3000
MAX_BLOCKS = 50
MAX_FALLBACK_CHARS = 3000
VOTE_UP, VOTE_DOWN = "vote_up", "vote_down"  # the button pair of answers posted before feedback buttons
FEEDBACK = "feedback"  # Slack's feedback buttons: value "up:ID" or "down:ID"
ASK_EXAMPLE = "ask_example"
VOTE_COMMENT = "vote_comment"
ASK_MODEL = "ask_model"
CURATE, CURATE_SUBMIT = "curate", "curate_answer"

THINKING = {"en": "⏳ Looking through the documents…", "ko": "⏳ 문서를 찾아보는 중입니다…"}
SOURCES = {"en": "Sources", "ko": "출처"}
UNCITED = {"en": "Sources given to the model", "ko": "모델에 주어진 문서"}
TRUNCATED = {"en": "… (the answer was cut to fit in Slack)", "ko": "… (Slack에 맞게 답변을 줄였습니다)"}
WELCOME = {
    "en": "👋 Hi! I'm the team knowledge assistant.",
    "ko": "👋 안녕하세요! 팀 지식 도우미입니다.",
}


def split_text(text: str, limit: int = MAX_SECTION_CHARS) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, at paragraph, line or word breaks."""
    pieces: list[str] = []
    text = text.strip()
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        if cut <= limit // 2:
            cut = limit
        # never cut an escape like &amp; in half
        amp = text.rfind("&", max(0, cut - 6), cut)
        if amp != -1 and ";" not in text[amp:cut]:
            cut = amp
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def _section(mrkdwn: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def _context(mrkdwn: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn[:3000]}]}


def source_line(source: Source, trusted: TrustedHosts) -> str:
    """``[1] Title › Section`` linked to the document when its web address is on a ``trusted`` host (a
    document's front matter names its own ``url:``, so the address alone proves nothing)."""
    url = source.url or (source.source if source.source.startswith(("http://", "https://")) else None)
    shown = link(url, source.heading) if url and trusted.trusts(url) else escape(source.heading)
    return f"[{source.number}] {shown}"


def evidence_block(answer: Answer, trusted: TrustedHosts) -> dict:
    """The passages under a generated answer, quoted, each with its numbered source; only addresses on
    ``trusted`` hosts are live."""
    by_number = {src.number: src for src in answer.sources + answer.uncited}
    lines = []
    for passage in answer.evidence:
        src = by_number.get(passage.number)
        where = source_line(src, trusted) if src else f"[{passage.number}]"
        lines.append(f"> {plain(passage.text, trusted.trusts)}\n— {where}")
    lang = answer.language if answer.language in prompts.EVIDENCE else "en"
    return _context(f"*{escape(prompts.EVIDENCE[lang])}*\n" + "\n".join(lines))


def _source_sections(title: str, sources: list[Source], trusted: TrustedHosts) -> list[dict]:
    lines = "\n".join(source_line(s, trusted) for s in sources)
    return [_section(piece) for piece in split_text(f"*{escape(title)}*\n{lines}")]


CACHED = {
    "en": ("curated by an admin · cached", "approved by 1 person · cached", "approved by {n} people · cached"),
    "ko": ("관리자가 작성한 답변 · 캐시", "1명이 승인한 답변 · 캐시", "{n}명이 승인한 답변 · 캐시"),
}
ASK_MODEL_LABEL = {"en": "Ask the model instead", "ko": "모델에게 다시 묻기"}


def cached_label(answer: Answer) -> str:
    curated, one, many = CACHED.get(answer.language, CACHED["en"])
    if answer.curated:
        return curated
    return one if answer.approvals == 1 else many.format(n=answer.approvals)


def footer(answer: Answer) -> str:
    seconds = answer.latency_ms.get("total", 0) / 1000
    if answer.route == Route.CACHED:
        who = cached_label(answer)
    elif answer.model:
        who = escape(answer.model)
    else:
        who = "no model"
    parts = [who, f"{seconds:.1f} s"]
    if answer.interaction_id:
        parts.append(f"ref #{answer.interaction_id}")
    return " · ".join(parts)


def vote_blocks(interaction_id: int, ask_model: str | None = None, legacy: bool = False) -> list[dict]:
    """👍 / 👎 as Slack's feedback buttons (a ``context_actions`` block), or with ``legacy`` as a button
    pair (where Slack refuses feedback buttons); for a cached answer, a button that asks the model instead."""
    value = str(interaction_id)
    if legacy:
        votes = [{"type": "button", "action_id": VOTE_UP, "value": value, "text": _plain("👍")},
                 {"type": "button", "action_id": VOTE_DOWN, "value": value, "text": _plain("👎")}]
    else:
        votes = [{"type": "feedback_buttons", "action_id": FEEDBACK,
                  "positive_button": {"text": _plain("👍"), "value": f"up:{value}", "accessibility_label": "Helpful"},
                  "negative_button": {"text": _plain("👎"), "value": f"down:{value}",
                                      "accessibility_label": "Not helpful"}}]
    extra = [{"type": "button", "action_id": ASK_MODEL, "value": value, "text": _plain(ask_model)}] if ask_model else []
    if legacy:
        return [{"type": "actions", "block_id": f"votes-{value}", "elements": votes + extra}]
    built = [{"type": "context_actions", "block_id": f"votes-{value}", "elements": votes}]
    return built + ([{"type": "actions", "block_id": f"ask-{value}", "elements": extra}] if extra else [])


def title(text: str, limit: int = 100) -> str:
    """A thread title from what someone typed: one line of plain text (Slack's <…> markup reduced to its label,
    invisible and bidi controls removed, personal data redacted), cut at a word within ``limit``."""
    text = re.sub(r"<[^<>|]*\|([^<>]*)>|<[^<>]*>", lambda m: m.group(1) or "", clean(text))
    text = " ".join(redact(text).split())
    return text if len(text) <= limit else text[:limit - 1].rsplit(" ", 1)[0] + "…"


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def example_buttons(examples: list[str]) -> dict:
    return {"type": "actions", "elements": [
        {"type": "button", "action_id": f"{ASK_EXAMPLE}_{i}", "value": q[:2000],
         "text": {"type": "plain_text", "text": q if len(q) <= 75 else q[:74] + "…"}}
        for i, q in enumerate(examples[:25])
    ]}


def _no_links(url: str) -> bool:
    """For answers shown without their sources (the 👎 review): no address may be a live link."""
    return False


def linkable(answer: Answer, trusted: TrustedHosts) -> Callable[[str], bool]:
    """Which addresses in the answer's text may be live: those on a ``trusted`` host, whatever its sources
    or its model wrote; any, in an answer an admin wrote (curated)."""
    if answer.route == Route.CACHED and answer.curated:
        return lambda url: True
    return trusted.trusts


def answer_message(answer: Answer, trusted: TrustedHosts = TrustedHosts(),
                   legacy_votes: bool = False) -> tuple[str, list[dict]]:
    """(fallback text, blocks) for an answer of any route, live links only to ``trusted`` hosts (none by
    default); ``legacy_votes``: 👍 / 👎 as plain buttons."""
    lang = answer.language if answer.language in THINKING else "en"
    allowed = linkable(answer, trusted)
    body = split_text(to_mrkdwn(answer.text, allowed)) or [plain(answer.text, allowed) or "…"]
    tail: list[dict] = []
    if answer.route == Route.ANSWER and answer.evidence:
        tail.append(evidence_block(answer, trusted))
    if answer.notices:
        tail.append(_context("\n".join(f"⚠️ {escape(n)}" for n in answer.notices)))
    if answer.route == Route.DONT_KNOW and answer.sources:
        tail += _source_sections(prompts.CLOSEST[lang], answer.sources, trusted)
    elif answer.sources:
        tail += _source_sections(SOURCES[lang], answer.sources, trusted)
    elif answer.route == Route.ANSWER and answer.uncited:
        tail += _source_sections(UNCITED[lang], answer.uncited, trusted)
    tail.append(_context(footer(answer)))
    if answer.interaction_id and answer.route in (Route.ANSWER, Route.EXTRACTIVE, Route.CACHED, Route.DONT_KNOW):
        ask_model = ASK_MODEL_LABEL[lang] if answer.route == Route.CACHED else None
        tail += vote_blocks(answer.interaction_id, ask_model, legacy_votes)
    tail = tail[-(MAX_BLOCKS - 1):]
    room = MAX_BLOCKS - len(tail)
    sections = [_section(piece) for piece in body]
    if len(sections) > room:
        sections = sections[: room - 1] + [_section(escape(TRUNCATED[lang]))]
    return fallback_text(answer.text, allowed), sections + tail


def help_message(answer: Answer, examples: list[str], welcome: bool = False) -> tuple[str, list[dict]]:
    """The onboarding answer (help, greetings, a bare mention, a first DM) with example buttons."""
    lang = answer.language if answer.language in WELCOME else "en"
    intro = prompts.HELP[lang]
    text = f"{WELCOME[lang]} {intro}" if welcome else intro
    blocks = [_section(escape(text))]
    if examples:
        blocks.append(example_buttons(examples))
    return fallback_text(text), blocks


def thinking_message(text: str) -> tuple[str, list[dict]]:
    """A placeholder saying ``text`` (e.g. THINKING) until the answer takes its place."""
    return text, [_context(escape(text))]


def apology_message(text: str) -> tuple[str, list[dict]]:
    return text, [_section(escape(text))]


def fallback_text(text: str, allowed: Callable[[str], bool] | None = None) -> str:
    """The notification/accessibility text: escaped, addresses not ``allowed`` defanged, and short."""
    text = plain(text.strip(), allowed)
    return text if len(text) <= MAX_FALLBACK_CHARS else text[: MAX_FALLBACK_CHARS - 1] + "…"


def comment_modal(interaction_id: int, language: str = "en") -> dict:
    title = {"en": "What was wrong?", "ko": "무엇이 잘못됐나요?"}.get(language, "What was wrong?")
    label = {"en": "Comment or the correct answer (optional)",
             "ko": "의견이나 올바른 답 (선택)"}.get(language, "Comment or the correct answer (optional)")
    return {
        "type": "modal", "callback_id": VOTE_COMMENT, "private_metadata": str(interaction_id),
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [{"type": "input", "block_id": "comment", "optional": True,
                    "label": {"type": "plain_text", "text": label},
                    "element": {"type": "plain_text_input", "action_id": "comment", "multiline": True,
                                "max_length": 3000}}],
    }


def home_view(collections: list[dict], examples: list[str], popular: list[str], channels: list[str] = ()) -> dict:
    """The App Home tab: what the bot does, what it knows, questions to try; for an admin, ``channels``:
    each set-up channel's behaviour, one line each (``bot.slack.channels.describe``)."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Team knowledge assistant"}},
        _section(escape(prompts.HELP["en"]) + "\n" + escape(prompts.HELP["ko"])),
    ]
    if collections:
        lines = [f"• *{escape(c['name'])}*: {c['documents']} documents, last reindex "
                 f"{c['last_indexed_at']:%Y-%m-%d %H:%M} UTC" if c.get("last_indexed_at") else
                 f"• *{escape(c['name'])}*: {c['documents']} documents" for c in collections]
        blocks += [_section(piece) for piece in split_text("*What I know*\n" + "\n".join(lines))]
    else:
        blocks.append(_section("*What I know*\nNothing yet: an admin can run `/kb reindex`."))
    questions = list(dict.fromkeys(popular + examples))[:10]
    if questions:
        blocks.append(_section("*Try asking*"))
        blocks.append(example_buttons(questions))
    if channels:
        blocks += [_section(piece) for piece in split_text("*Channels* (`/kb channel` changes them)\n"
                                                           + "\n".join(f"• {line}" for line in channels))]
    blocks.append(_context("Mention me in a channel, DM me, or use `/ask`. 👍/👎 on an answer helps me improve."))
    return {"type": "home", "blocks": blocks[:100]}


def home_unavailable_view(notice: str) -> dict:
    """The App Home while what it shows cannot be read: what the bot does, and ``notice`` saying why not."""
    return {"type": "home", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Team knowledge assistant"}},
        _section(escape(prompts.HELP["en"].removesuffix(" For example:")) + "\n"
                 + escape(prompts.HELP["ko"].removesuffix(" 예를 들어:"))),
        _section(f"⚠️ {escape(notice)}"),
    ]}


def feedback_review(items: list[dict]) -> tuple[str, list[dict]]:
    """/kb feedback: recent 👎 answers with question, answer, sources, votes and comments."""
    if not items:
        text = "No 👎 answers yet."
        return text, [_section(text)]
    blocks: list[dict] = [_section(f"*Recent 👎 answers* ({len(items)}, newest first)")]
    for item in items[: (MAX_BLOCKS - 1) // 2]:
        cited = item.get("citations") or []
        sources = "; ".join(escape(heading(c.get("title") or "", c.get("section") or "")) for c in cited)
        sources = sources or "none cited"
        answer = (item.get("answer") or "").strip()
        answer = answer if len(answer) <= 700 else answer[:699] + "…"
        lines = [f"*Q:* {escape(item['question'][:500])}",
                 f"*A:* {to_mrkdwn(answer, _no_links) if answer else '_(no answer)_'}",
                 f"*Sources:* {sources}",
                 f"👍 {item['up']} · 👎 {item['down']} · {escape(item['route'])} · ref #{item['id']}"
                 + (" · ✅ corrected" if item.get("curated_by") else "")]
        lines += [f"> {escape(' '.join(c.split())[:300])}" for c in (item.get("comments") or [])[:3]]
        blocks.append({**_section("\n".join(lines)[:MAX_SECTION_CHARS]), "block_id": f"review-{item['id']}"})
        label = "Edit the correction" if item.get("curated_by") else "Write the correct answer"
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "action_id": CURATE, "value": str(item["id"]),
             "text": {"type": "plain_text", "text": label}}]})
    return f"{len(items)} recent 👎 answers", blocks


def curate_modal(interaction_id: int, question: str, answer: str) -> dict:
    """The admin's corrected answer for ``interaction_id``; it is served from the cache afterwards."""
    return {
        "type": "modal", "callback_id": CURATE_SUBMIT, "private_metadata": str(interaction_id),
        "title": {"type": "plain_text", "text": "Correct the answer"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "plain_text", "text": f"Q: {question}"[:3000]}},
            {"type": "input", "block_id": "answer",
             "label": {"type": "plain_text", "text": "Correct answer (served to this question from now on)"},
             "element": {"type": "plain_text_input", "action_id": "answer", "multiline": True,
                         "max_length": 3000, "initial_value": (answer or "")[:3000]}},
        ],
    }
