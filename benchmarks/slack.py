"""`python -m benchmarks slack`: N concurrent signed mentions through HTTP mode against the fake Slack API.

Reports, per model, the ack latency (until Slack would get its HTTP 200) and the end-to-end latency
(until the answer replaced the placeholder), p50/p95, next to a baseline measured in the same run:
the same number of concurrent GET /livez requests to the same server (HTTP + event loop cost; /healthz
also asks the database).
"""

from __future__ import annotations

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


def run_slack_benchmark(services, mentions: int = 50, local_mentions: int = 10, log: Callable | None = None) -> dict:
    from bot.slack.app import build_slack_bot

    ensure_indexed(services)  # something to answer from
    fake = FakeSlack()
    # Validated anew, not model_copy: a copy keeps the configs already derived from the old values.
    settings = type(services.settings).model_validate({
        **services.settings.model_dump(), "slack_bot_token": SecretStr("xoxb-bench"),
        "slack_signing_secret": SecretStr(SECRET), "slack_api_url": fake.api_url, "channel_collections": {},
        "model_policy": "local", "slack_user_questions_per_minute": 0})  # one asker sends them all
    results = {}
    try:
        for label, models, n in (("stub model", StubModels(settings.chat_config), mentions),
                                 ("local model", services.chat_models, local_mentions)):
            if n <= 0:
                continue
            if log:
                log(f"{label}: {n} concurrent mentions …")
            pipeline = Pipeline(settings.pipeline_config, services.searcher, models, services.engine)
            bot = build_slack_bot(settings.slack_config, pipeline, services.engine, lambda: services.indexer)
            results[label] = _measure(bot, fake, n)
            bot.shutdown(wait=True)
    finally:
        fake.stop()
    return {"mentions": mentions, "local_mentions": local_mentions, "results": results}


def _measure(bot, fake: FakeSlack, n: int) -> dict:
    from bot.slack.server import serve_in_thread

    with serve_in_thread(bot) as url:
        return _load(bot, fake, n, url)


def _load(bot, fake: FakeSlack, n: int, url: str) -> dict:
    channel = f"CB{uuid.uuid4().hex[:8].upper()}"
    out = subprocess.run([sys.executable, "-m", "benchmarks.slack_load", url, SECRET, str(n), channel],
                         capture_output=True, text=True, timeout=3600, check=True)
    load = json.loads(out.stdout)
    if any(m["status"] != 200 for m in load["mentions"]):
        raise RuntimeError(f"some mentions were not acknowledged: {load['mentions']}")
    bot.workers.wait_idle(3600)
    end_to_end = []
    for m in load["mentions"]:
        placeholder = fake.wait_for("chat.postMessage", channel=channel, thread_ts=m["ts"])[0]
        update = fake.wait_for("chat.update", ts=placeholder["_ts"])[-1]
        end_to_end.append((update["_wall"] - m["sent"]) * 1000)
    acks = [m["ack_ms"] for m in load["mentions"]]
    baseline = load["healthz_ms"]
    return {
        "healthz_p50_ms": _pct(baseline, 0.5), "healthz_p95_ms": _pct(baseline, 0.95),
        "ack_p50_ms": _pct(acks, 0.5), "ack_p95_ms": _pct(acks, 0.95),
        "ack_p95_vs_healthz_p95": round(_pct(acks, 0.95) / max(_pct(baseline, 0.95), 0.1), 2),
        "end_to_end_p50_ms": _pct(end_to_end, 0.5), "end_to_end_p95_ms": _pct(end_to_end, 0.95),
        "end_to_end_mean_ms": round(statistics.mean(end_to_end), 1),
    }
