"""What goes into the pipeline and what comes out, as plain values: the question, the answer, the
routes an answer can take, and how to answer (PipelineConfig)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable, Protocol

from answering.context import Source
from answering.evidence import Passage
from answering.grounding import Grounding
from retrieval.search import RetrievalParams

POLICIES = ("auto", "hosted", "local")
# auto: generate, check, and give the evidence instead of an answer that fails the checks;
# generate: always the model's answer; extractive: always the evidence, no model call.
ANSWER_MODES = ("auto", "generate", "extractive")


class Route(StrEnum):
    """How a question was answered; stored in the interaction log as its value."""

    HELP = "help"  # onboarding text with example questions (no model)
    CACHED = "cached"  # an approved answer (no model)
    DONT_KNOW = "dont_know"  # nothing relevant: "I don't know" + the closest sources (no model)
    ANSWER = "answer"  # generated from the sources, citations and facts checked
    EXTRACTIVE = "extractive"  # the evidence quoted with its citations (no model, or instead of its answer)
    REJECTED = "rejected"  # refused before anything ran (too long)
    ERROR = "error"  # something failed: an apology with a reference


@dataclass(frozen=True)
class PipelineConfig:
    """How to answer: model policy, the "I don't know" threshold, the token budgets, onboarding examples."""

    policy: str = "auto"
    answer_mode: str = "auto"
    confidential: frozenset[str] = frozenset()
    hosted_configured: bool = False
    # Best cosine similarity (default embedder) below which nothing counts as relevant;
    # chosen with `python -m evals relevance` (see README).
    relevance_threshold: float = 0.845
    max_tokens: int = 400
    source_tokens: int = 1800
    examples: tuple[str, ...] = (
        "How many vacation days do employees in Seoul get?",
        "What does VPN-ERR-619 mean?",
        "경비 정산은 며칠 안에 해야 하나요?",
    )
    retrieval: RetrievalParams = RetrievalParams()
    closest_sources: int = 3
    redact_stored: bool = True  # the interaction log holds questions and answers with personal data redacted
    hosted_redact: bool = True  # a hosted model sees placeholders for personal data (core.redact.Pseudonyms)
    meaning_checks: bool = True  # the answer guard also reads sentences by meaning (models.probe)
    # a document flagged for text aimed at an assistant: quoted only, never given to a model (quote); given to
    # the model like any other (answer); left out of searches (exclude, RetrievalParams.exclude_flagged)
    flagged_documents: str = "quote"
    # auto mode: when the checks rejected at least this share of a model's recent drafts for these collections
    # (answering.drafts.DRAFTS_MEASURED of them), the evidence is quoted at once instead of waiting for another
    # (1.0: only when every one was rejected; above 1: never)
    skip_drafts_rejected: float = 0.8

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"MODEL_POLICY must be one of {', '.join(POLICIES)}, not {self.policy!r}")
        if self.answer_mode not in ANSWER_MODES:
            raise ValueError(f"ANSWER_MODE must be one of {', '.join(ANSWER_MODES)}, not {self.answer_mode!r}")
        if self.policy == "hosted" and not self.hosted_configured:
            raise ValueError("MODEL_POLICY=hosted needs HOSTED_MODEL (and HOSTED_BASE_URL or AZURE_OPENAI_ENDPOINT)")
        if not 0 <= self.relevance_threshold <= 1:
            raise ValueError("RELEVANCE_THRESHOLD is a cosine similarity between 0 and 1")


@dataclass(frozen=True)
class Question:
    """One question as plain values; Slack details are optional and only logged."""

    text: str
    history: tuple[tuple[str, str], ...] = ()  # (role "user" | "assistant", text), oldest first
    collections: tuple[str, ...] | None = None  # None = every collection
    model: str | None = None  # "hosted" | "local" overrides MODEL_POLICY
    mode: str | None = None  # "auto" | "generate" | "extractive" overrides ANSWER_MODE
    origin: str = "cli"
    asker: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None
    use_cache: bool = True  # False: "ask the model instead" of a cached answer
    style: str | None = None  # how answers should read where it was asked (a channel's instruction)
    place: str | None = None  # "public" (a public channel) or "private"; None: private (logged, never shown)
    # Called with the model's draft so far, as it is written (streaming); the answer returned is still the
    # checked one, which may differ (answering.drafts).
    on_draft: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    # Called once, before the model is asked, with the numbered sources it will answer from and the passages
    # of them that best answer the question: something to show while the model reads and writes.
    on_found: Callable[[list[Source], list[Passage]], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in ANSWER_MODES:
            raise ValueError(f"the answer mode must be one of {', '.join(ANSWER_MODES)}, not {self.mode!r}")


@dataclass
class Answer:
    text: str
    route: Route
    language: str
    sources: list[Source] = field(default_factory=list)  # cited ones (closest ones for DONT_KNOW)
    uncited: list[Source] = field(default_factory=list)  # given to the model but not cited
    verified: bool | None = None
    language_ok: bool | None = None
    language_retried: bool = False  # the first answer was in another language
    notices: list[str] = field(default_factory=list)
    model: str | None = None
    model_calls: int = 0
    rewritten_question: str | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    interaction_id: int | None = None
    error: str | None = None
    cached_answer_id: int | None = None  # CACHED: the entry served
    approvals: int = 0  # CACHED: people who approved it
    curated: bool = False  # CACHED: written by an admin
    evidence: list[Passage] = field(default_factory=list)  # the passages that best answer the question
    grounding: Grounding | None = None  # ANSWER (and the draft of EXTRACTIVE): its facts checked
    fallback: str | None = None  # EXTRACTIVE in auto mode: why the generated answer was not given
    draft: Answer | None = None  # EXTRACTIVE in auto mode: the generated answer it replaced

    @property
    def answered(self) -> bool:
        """An answer from the documents (generated, extractive or approved), not a refusal or a failure."""
        return self.route in (Route.ANSWER, Route.EXTRACTIVE, Route.CACHED)


class AnswerCache(Protocol):
    """Approved answers served without a model call (``answering.cache.ApprovedAnswers``)."""

    def lookup(self, question: Question, language: str) -> Answer | None: ...


class NoCache:
    def lookup(self, question: Question, language: str) -> Answer | None:
        return None
