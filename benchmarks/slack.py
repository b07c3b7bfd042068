"""`python -m benchmarks slack`: N concurrent signed mentions through HTTP mode against the fake Slack API.

Reports, per model, the ack latency (until Slack would get its HTTP 200), the time to the first
streamed text (the first chat.appendStream of content, not of a "⏳" line: the sources and their best
passages, known once retrieval has run), to the model's first streamed words, and to the final
answer (the chat.update that puts the checked answer in the message's place), p50/p95, next to a baseline
measured in the same run: the same number of concurrent GET /livez requests to the same server (HTTP +
event loop cost; /healthz also asks the database). The local model runs one question at a time
(``rounds`` times) and ``local_mentions`` at once.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import uuid
from typing import Any, Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import SecretStr

from answering.pipeline import Pipeline
from evals.handbook import ensure_indexed
from models.chat import ChatModels
from tests.fake_slack import FakeSlack

SECRET = "bench-signing-secret"


class StubChat(BaseChatModel):
    """Answers instantly: what is left is Slack handling, retrieval and the database."""

    @property
    def _llm_type(self) -> str:
        return "stub"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage("VPN-ERR-619 means the port is blocked [1]."))])


class StubModels(ChatModels):
    def get(self, backend: str) -> BaseChatModel:
        return StubChat()

    def count_tokens(self, backend: str, text: str) -> int:
        return len(text) // 3 + 1


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1)


def run_slack_benchmark(services, mentions: int = 50, local_mentions: int = 10, log: Callable | None = None,
                        rounds: int = 5) -> dict:
    from bot.slack.app import build_slack_bot

    ensure_indexed(services)  # something to answer from
    fake = FakeSlack()
    # Validated anew, not model_copy: a copy keeps the configs already derived from the old values.
    settings = type(services.settings).model_validate({
        **services.settings.model_dump(), "slack_bot_token": SecretStr("xoxb-bench"),
        "slack_signing_secret": SecretStr(SECRET), "slack_api_url": fake.api_url, "channel_collections": {},
        "model_policy": "local", "slack_user_questions_per_minute": 0,  # one asker sends them all
        "slack_streaming": True})
    results = {}
    try:
        # the stub's drafts go into the interaction log under a name of their own, not the local model's record
        stub = StubModels(lambda backend: dataclasses.replace(settings.chat_config(backend), model_path="stub.gguf"))
        for label, models, n, times in (("stub model", stub, mentions, 1),
                                        ("local model, 1 at a time", services.chat_models, 1, rounds),
                                        ("local model", services.chat_models, local_mentions, 1)):
            if n <= 0 or times <= 0:
                continue
            if log:
                log(f"{label}: {n} concurrent mentions, {times} time(s) …")
            pipeline = Pipeline(settings.pipeline_config, services.searcher, models, services.engine)
            bot = build_slack_bot(settings.slack_config, pipeline, services.engine, lambda: services.indexer)
            results[label] = _measure(bot, fake, n, times)
            bot.shutdown(wait=True)
    finally:
        fake.stop()
    return {"mentions": mentions, "local_mentions": local_mentions, "results": results}


def _measure(bot, fake: FakeSlack, n: int, times: int) -> dict:
    from bot.slack.server import serve_in_thread

    with serve_in_thread(bot) as url:
        loads = [_load(bot, fake, n, url, first=n * r) for r in range(times)]  # other questions each round
    samples = {k: [v for load in loads for v in load[k]] for k in loads[0]}
    baseline, acks, first, words, final = (samples[k] for k in ("healthz", "acks", "first_text", "first_words",
                                                                 "final"))
    out = {
        "healthz_p50_ms": _pct(baseline, 0.5), "healthz_p95_ms": _pct(baseline, 0.95),
        "ack_p50_ms": _pct(acks, 0.5), "ack_p95_ms": _pct(acks, 0.95),
        "ack_p95_vs_healthz_p95": round(_pct(acks, 0.95) / max(_pct(baseline, 0.95), 0.1), 2),
        "final_answer_p50_ms": _pct(final, 0.5), "final_answer_p95_ms": _pct(final, 0.95),
        "final_answer_mean_ms": round(statistics.mean(final), 1), "questions": len(final),
    }
    if first:  # a model that streams (the stub answers at once)
        out |= {"first_text_p50_ms": _pct(first, 0.5), "first_text_p95_ms": _pct(first, 0.95), "streamed": len(first),
                "final_p50_vs_first_text_p50": round(_pct(final, 0.5) / max(_pct(first, 0.5), 0.1), 2)}
    if words:
        out |= {"first_words_p50_ms": _pct(words, 0.5), "first_words_p95_ms": _pct(words, 0.95)}
    return out


def _load(bot, fake: FakeSlack, n: int, url: str, first: int) -> dict[str, list[float]]:
    channel = f"CB{uuid.uuid4().hex[:8].upper()}"
    out = subprocess.run([sys.executable, "-m", "benchmarks.slack_load", url, SECRET, str(n), channel, str(first)],
                         capture_output=True, text=True, timeout=3600, check=True)
    load = json.loads(out.stdout)
    if any(m["status"] != 200 for m in load["mentions"]):
        raise RuntimeError(f"some mentions were not acknowledged: {load['mentions']}")
    bot.workers.wait_idle(3600)
    first_text, first_words, final = [], [], []
    for m in load["mentions"]:
        started = fake.calls_to("chat.startStream", channel=channel, thread_ts=m["ts"])
        message = started[0] if started else fake.wait_for("chat.postMessage", channel=channel, thread_ts=m["ts"])[0]
        appends = fake.calls_to("chat.appendStream", channel=channel, ts=message["_ts"])
        shown = [a for a in appends if not (a.get("markdown_text") or "").lstrip().startswith("⏳")]  # content
        if shown:
            first_text.append((shown[0]["_wall"] - m["sent"]) * 1000)
        words = [a for a in shown if not a["markdown_text"].lstrip().startswith("📄")]  # not the sources
        if words:
            first_words.append((words[0]["_wall"] - m["sent"]) * 1000)
        final.append((fake.wait_for("chat.update", ts=message["_ts"])[-1]["_wall"] - m["sent"]) * 1000)
    return {"healthz": load["healthz_ms"], "acks": [m["ack_ms"] for m in load["mentions"]],
            "first_text": first_text, "first_words": first_words, "final": final}
