"""`python -m evals relevance`: choose RELEVANCE_THRESHOLD from in-scope and out-of-scope questions.

For each calibration question the best cosine similarity of a retrieved chunk is
measured; the report gives, at the configured threshold and at every useful cut, how
many in-scope questions would be answered and how many out-of-scope ones would get
"I don't know" (with no model call).
"""

from __future__ import annotations

import json
from typing import Callable

from rich.table import Table

from answering.relevance import best_similarity
from core.paths import SAMPLES
from evals.handbook import ensure_indexed

CALIBRATION = SAMPLES / "relevance-calibration.json"
QUERIES = SAMPLES / "handbook-queries.json"


def _questions() -> tuple[list[str], list[str]]:
    data = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    queries = json.loads(QUERIES.read_text(encoding="utf-8"))
    in_scope = [q["question"] for q in data["in_scope"]] + [q["question"] for q in queries]
    return in_scope, [q["question"] for q in data["out_of_scope"]]


def _at(threshold: float, ins: list[float], outs: list[float]) -> dict:
    answered = sum(s >= threshold for s in ins) / len(ins)
    refused = sum(s < threshold for s in outs) / len(outs)
    return {"threshold": round(threshold, 4), "in_scope_answered": round(answered, 3),
            "out_of_scope_refused": round(refused, 3), "balanced_accuracy": round((answered + refused) / 2, 3)}


def run_relevance_calibration(services, log: Callable | None = None) -> dict:
    collection = ensure_indexed(services)
    params = services.settings.retrieval_params
    in_scope, out_of_scope = _questions()

    def score(q: str) -> float:
        return best_similarity(services.searcher.search(q, params, collections=[collection])) or 0.0

    ins = [score(q) for q in in_scope]
    outs = [score(q) for q in out_of_scope]
    values = sorted(set(ins + outs))
    cuts = [(a + b) / 2 for a, b in zip(values, values[1:])]
    sweep = [_at(t, ins, outs) for t in cuts]
    best = max(sweep, key=lambda r: (r["balanced_accuracy"], r["out_of_scope_refused"]))
    return {
        "embedding_model": services.embedder.name,
        "in_scope": len(ins), "out_of_scope": len(outs),
        "in_scope_min": round(min(ins), 4), "out_of_scope_max": round(max(outs), 4),
        "configured": _at(services.settings.relevance_threshold, ins, outs),
        "best": best,
        "sweep": [r for r in sweep if r["in_scope_answered"] >= 0.8 and r["out_of_scope_refused"] >= 0.5],
        "scores": {"in_scope": sorted(round(s, 4) for s in ins), "out_of_scope": sorted(round(s, 4) for s in outs)},
    }


def render_relevance(result: dict) -> Table:
    table = Table("threshold", "in-scope answered", "out-of-scope refused", "balanced accuracy",
                  title=f"relevance calibration · {result['embedding_model']} · {result['in_scope']} in-scope, "
                        f"{result['out_of_scope']} out-of-scope questions", title_justify="left")
    for label, row in (("configured", result["configured"]), ("best", result["best"])):
        table.add_row(f"{row['threshold']} ({label})", f"{row['in_scope_answered']:.0%}",
                      f"{row['out_of_scope_refused']:.0%}", f"{row['balanced_accuracy']:.3f}")
    return table
