"""Load generator for `bench slack`, run as its own process (like Slack, outside the bot's process):
``python -m benchmarks.slack_load URL SECRET N CHANNEL [FIRST]`` prints JSON with the health-check and
mention latencies (ms) and the send time of each mention (time.time()). The mentions ask the sample
handbook's evaluation questions (English and Korean), in turn from question FIRST (default 0)."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.fake_slack import BOT_USER, event_body, post, sign

QUESTIONS = Path(__file__).resolve().parent.parent / "samples" / "handbook-eval.json"


def questions() -> list[str]:
    """The evaluation questions that stand on their own (not a thread's follow-up) and have an answer."""
    cases = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    return [c["question"] for c in cases if c.get("expect_sources") and not c.get("history")]


def main(url: str, secret: str, n: int, channel: str, first: int = 0) -> dict:
    asked = questions()
    def health(_: int) -> float:
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"{url}/livez", timeout=30) as resp:
            resp.read()
        return (time.perf_counter() - t0) * 1000

    def mention(i: int) -> dict:
        ts = f"{int(time.time())}.{i:06d}"
        body = event_body({"type": "app_mention", "user": "UBENCH", "channel": channel, "ts": ts,
                           "text": f"<@{BOT_USER}> {asked[(first + i) % len(asked)]}"})
        sent = time.time()
        t0 = time.perf_counter()
        status, _ = post(f"{url}/slack/events", body, sign(secret, body), "application/json")
        return {"ts": ts, "status": status, "ack_ms": (time.perf_counter() - t0) * 1000, "sent": sent}

    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(health, range(n)))  # warm-up: connections, threads
        baseline = list(pool.map(health, range(n)))
        mentions = list(pool.map(mention, range(n)))
    return {"healthz_ms": baseline, "mentions": mentions}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], *map(int, sys.argv[5:6]))))
