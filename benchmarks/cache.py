"""`python -m bot bench cache`: what the approved-answer cache saves, and how often it is wrong.

1. Latency, in one run: questions from the handbook evaluation are answered by the full pipeline
   with the local default model (cache bypassed), approved with a 👍, and asked again; the cached
   answer's latency is reported next to the full pipeline's (ratio of medians).
2. Calibration: every pair in ``samples/cache-calibration.json`` (paraphrases: the cached answer
   is right; near-misses: it is wrong) is judged as the cache judges a candidate, and precision
   and recall are reported at the configured threshold and across a range of thresholds, with
   and without the near-miss check.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Callable

from sqlalchemy import text

from answering.pipeline import Question
from evals.handbook import EVAL_COLLECTION, ROOT, ensure_indexed

CALIBRATION = ROOT / "samples" / "cache-calibration.json"
CASES = ROOT / "samples" / "handbook-eval.json"
ORIGIN = "bench-cache"


def calibrate(store, pairs: list[dict], collections: tuple[str, ...]) -> dict:
    """Precision and recall of cache hits on the calibration pairs, per threshold."""
    judged = []
    for pair in pairs:
        similarity, near_miss = store.compare(pair["approved"], pair["asked"], collections)
        judged.append({"id": pair["id"], "kind": pair["kind"], "language": pair["language"],
                       "similarity": round(similarity, 4), "near_miss_check": near_miss})

    def score(threshold: float, check: bool) -> dict:
        served = [j for j in judged if j["similarity"] >= threshold and not (check and j["near_miss_check"])]
        right = sum(j["kind"] == "paraphrase" for j in served)
        paraphrases = sum(j["kind"] == "paraphrase" for j in judged)
        return {"threshold": threshold, "served": len(served), "correct": right,
                "precision": round(right / len(served), 3) if served else None,
                "recall": round(right / paraphrases, 3) if paraphrases else None}

    grid = [round(0.80 + 0.01 * i, 2) for i in range(20)]
    chosen = store.params.similarity
    return {
        "pairs": len(judged),
        "paraphrases": sum(j["kind"] == "paraphrase" for j in judged),
        "near_misses": sum(j["kind"] == "near_miss" for j in judged),
        "chosen": {**score(chosen, True), "without_near_miss_check": score(chosen, False)},
        "grid": [{**score(t, True), "embedding_only": score(t, False)} for t in grid],
        "pairs_judged": judged,
    }


def measure_latency(services, questions: int, log: Callable[[str], None]) -> dict:
    """Full pipeline (local model) vs the cached answer for the same questions, in one run."""
    from bot import slack_store

    cases = [c for c in json.loads(CASES.read_text(encoding="utf-8"))
             if c.get("in_scope", True) and not c.get("history")][:questions]
    pipeline, store = services.pipeline, services.answer_cache
    scope = (EVAL_COLLECTION,)
    log("loading the local model (one warm-up question, not counted)")
    pipeline.answer(Question("What does VPN-ERR-619 mean?", collections=scope, model="local", origin=ORIGIN,
                             use_cache=False))
    full, cached, ids, rows = [], [], [], []
    try:
        for case in cases:
            question = case["question"]
            first = pipeline.answer(Question(question, collections=scope, model="local", origin=ORIGIN,
                                             use_cache=False))
            ids.append(first.interaction_id)
            slack_store.vote(services.engine, first.interaction_id, "UBENCH", 1, "bench")
            store.refresh(first.interaction_id)
            again = pipeline.answer(Question(question, collections=scope, model="local", origin=ORIGIN))
            ids.append(again.interaction_id)
            full.append(first.latency_ms["total"])
            if again.route == "cached":
                cached.append(again.latency_ms["total"])
            rows.append({"question": question, "full_route": first.route, "full_ms": first.latency_ms["total"],
                         "again_route": again.route, "again_ms": again.latency_ms["total"]})
            log(f"{first.route} {first.latency_ms['total']:.0f} ms → {again.route} "
                f"{again.latency_ms['total']:.1f} ms  {question[:60]}")
    finally:
        with services.engine.begin() as conn:  # leave no benchmark answers in the cache or the log
            conn.execute(text("DELETE FROM interactions WHERE origin = :o"), {"o": ORIGIN})
    full_median = statistics.median(full) if full else None
    cached_median = statistics.median(cached) if cached else None
    return {
        "questions": len(rows),
        "served_from_cache": len(cached),
        "full_pipeline_ms_median": full_median,
        "cached_ms_median": cached_median,
        "ratio": round(full_median / cached_median, 1) if full_median and cached_median else None,
        "model": services.chat_models.config("local").name,
        "rows": rows,
    }


def run_cache_benchmark(services, questions: int = 5, log: Callable[[str], None] = print,
                        calibration: Path = CALIBRATION) -> dict:
    log("indexing the sample handbook (unchanged files are skipped)")
    ensure_indexed(services)
    pairs = json.loads(calibration.read_text(encoding="utf-8"))
    result = {"calibration": calibrate(services.answer_cache, pairs, (EVAL_COLLECTION,))}
    result["latency"] = measure_latency(services, questions, log)
    return result


def render_cache_benchmark(result: dict) -> str:
    lat, cal = result["latency"], result["calibration"]
    chosen = cal["chosen"]
    lines = [
        f"Latency ({lat['questions']} questions, local model {lat['model']}):",
        f"  full pipeline median {lat['full_pipeline_ms_median']:.0f} ms · cached median "
        f"{lat['cached_ms_median']:.1f} ms · ratio {lat['ratio']}× ({lat['served_from_cache']} served from cache)"
        if lat["cached_ms_median"] else "  no answer was served from the cache",
        f"Calibration ({cal['pairs']} pairs: {cal['paraphrases']} paraphrases, {cal['near_misses']} near-misses):",
        f"  at CACHE_SIMILARITY={chosen['threshold']}: precision {chosen['precision']} recall {chosen['recall']} "
        f"(served {chosen['served']}, correct {chosen['correct']}); embeddings alone: precision "
        f"{chosen['without_near_miss_check']['precision']} recall {chosen['without_near_miss_check']['recall']}",
        "  threshold  precision  recall  | embeddings alone: precision  recall",
    ]
    for g in cal["grid"]:
        e = g["embedding_only"]
        lines.append(f"  {g['threshold']:.2f}       {g['precision'] if g['precision'] is not None else '-':<9}  "
                     f"{g['recall']:<6}  | {e['precision'] if e['precision'] is not None else '-':<9}  {e['recall']}")
    return "\n".join(lines)
