"""`python -m benchmarks cache`: what the approved-answer cache saves, and how often it is wrong.

1. Latency, in one run: the first question of calibration paraphrase pairs is answered by the
   full pipeline with the local default model (cache bypassed), approved with a 👍, then asked
   again word for word and as its paraphrase; the cached answers' latency is reported next to
   the full pipeline's (ratio of medians).
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

from answering.types import Question, Route
from core.paths import SAMPLES
from evals.handbook import EVAL_COLLECTION, ensure_indexed
from feedback.log import forget_origin
from feedback.votes import vote

CALIBRATION = SAMPLES / "cache-calibration.json"
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


def measure_latency(services, pairs: list[dict], questions: int, log: Callable[[str], None]) -> dict:
    """Full pipeline (local model) vs the cached answer, in one run: each calibration paraphrase pair's
    first question is answered by the model and approved, then asked again word for word (exact
    match) and as the paraphrase (embedding match)."""
    chosen = [p for p in pairs if p["kind"] == "paraphrase"][:questions]
    pipeline, store = services.pipeline, services.answer_cache
    scope = (EVAL_COLLECTION,)

    def ask(question: str, use_cache: bool):
        return pipeline.answer(Question(question, collections=scope, model="local", origin=ORIGIN,
                                        use_cache=use_cache))

    log("loading the local model (one warm-up question, not counted)")
    ask("What does VPN-ERR-619 mean?", use_cache=False)
    full, exact, similar, rows = [], [], [], []
    try:
        for pair in chosen:
            first = ask(pair["approved"], use_cache=False)
            full.append(first.latency_ms["total"])
            vote(services.engine, first.interaction_id, "UBENCH", 1, "bench")
            store.refresh(first.interaction_id)
            again, para = ask(pair["approved"], True), ask(pair["asked"], True)
            if again.route == Route.CACHED:
                exact.append(again.latency_ms["total"])
            if para.route == Route.CACHED:
                similar.append(para.latency_ms["total"])
            rows.append({"id": pair["id"], "full": (first.route, first.latency_ms["total"]),
                         "exact": (again.route, again.latency_ms["total"]),
                         "paraphrase": (para.route, para.latency_ms["total"])})
            log(f"{first.route} {first.latency_ms['total']:.0f} ms → same words: {again.route} "
                f"{again.latency_ms['total']:.1f} ms, paraphrase: {para.route} {para.latency_ms['total']:.1f} ms"
                f"  ({pair['id']})")
    finally:
        forget_origin(services.engine, ORIGIN)  # leave no benchmark answers in the cache or the log

    def median(values):
        return round(statistics.median(values), 1) if values else None

    cached = exact + similar
    full_median = median(full)
    return {
        "questions": len(rows),
        "model": services.chat_models.config("local").name,
        "full_pipeline_ms_median": full_median,
        "cached_exact_ms_median": median(exact),
        "cached_paraphrase_ms_median": median(similar),
        "cached_ms_median": median(cached),
        "served_from_cache": {"exact": len(exact), "paraphrase": len(similar)},
        "ratio": round(full_median / median(cached), 1) if full and cached else None,
        "ratio_paraphrase": round(full_median / median(similar), 1) if full and similar else None,
        "rows": rows,
    }


def run_cache_benchmark(services, questions: int = 5, log: Callable[[str], None] = print,
                        calibration: Path = CALIBRATION) -> dict:
    log("indexing the sample handbook (unchanged files are skipped)")
    ensure_indexed(services)
    pairs = json.loads(calibration.read_text(encoding="utf-8"))
    result = {"calibration": calibrate(services.answer_cache, pairs, (EVAL_COLLECTION,))}
    result["latency"] = measure_latency(services, pairs, questions, log)
    return result


def render_cache_benchmark(result: dict) -> str:
    lat, cal = result["latency"], result["calibration"]
    chosen = cal["chosen"]
    lines = [
        f"Latency ({lat['questions']} questions, local model {lat['model']}):",
        f"  full pipeline median {lat['full_pipeline_ms_median']:.0f} ms · cached median "
        f"{lat['cached_ms_median']} ms (same words {lat['cached_exact_ms_median']} ms, paraphrase "
        f"{lat['cached_paraphrase_ms_median']} ms) · ratio {lat['ratio']}× (paraphrase {lat['ratio_paraphrase']}×)"
        f" · served from cache {lat['served_from_cache']}"
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
