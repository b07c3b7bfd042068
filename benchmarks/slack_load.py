"""Load generator for `bench slack`, run as its own process (like Slack, outside the bot's process):
``python -m benchmarks.slack_load URL SECRET N CHANNEL`` prints JSON with the health-check and
mention latencies (ms) and the send time of each mention (time.time())."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.fake_slack import BOT_USER, event_body, post, sign

QUESTION = "What does VPN-ERR-619 mean?"


def main(url: str, secret: str, n: int, channel: str) -> dict:
    def health(_: int) -> float:
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"{url}/livez", timeout=30) as resp:
            resp.read()
        return (time.perf_counter() - t0) * 1000

    def mention(i: int) -> dict:
        ts = f"{int(time.time())}.{i:06d}"
        body = event_body({"type": "app_mention", "user": "UBENCH", "channel": channel, "ts": ts,
                           "text": f"<@{BOT_USER}> {QUESTION}"})
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
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])))
