"""`python -m evals relevance`: does "I don't know" come when it should, and only then?

Each question is searched and judged as the pipeline judges it (answering.answerable: the collection's
calibrated floor and the question's key terms in a source), with no model call. Two corpora:

- the sample handbook, with in-scope questions (the calibration set, the retrieval queries and the
  answer evaluation's) and out-of-scope ones, some on its own topics (Northwind's revenue, a dress
  code): the set the answerability parameters were chosen on;
- ``--squad-json FILE``: any SQuAD-layout file, for a corpus nobody tuned on. Half of its articles
  (chosen with ``--seed``) are indexed into a scratch collection; questions about them are in scope,
  questions about the other half are not.

The fixed RELEVANCE_THRESHOLD (what decided before calibration) is reported beside it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable

from rich.table import Table

from answering.answerable import assess, default_grader
from answering.context import build_sources
from answering.language import detect_language
from answering.pipeline import approx_tokens
from core.paths import SAMPLES
from evals.handbook import ensure_indexed
from evals.squad import load_squad, scratch_collection
from retrieval import store
from retrieval.calibration import load_calibrations, recalibrate

CALIBRATION = SAMPLES / "relevance-calibration.json"
QUERIES = SAMPLES / "handbook-queries.json"
CASES = SAMPLES / "handbook-eval.json"


def handbook_questions() -> tuple[list[str], list[str]]:
    """(in-scope, out-of-scope) questions about the sample handbook."""
    data = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    queries = json.loads(QUERIES.read_text(encoding="utf-8"))
    cases = json.loads(CASES.read_text(encoding="utf-8"))
    in_scope = ([q["question"] for q in data["in_scope"]] + [q["question"] for q in queries]
                + [c["question"] for c in cases if c["route"] != "dont_know" and not c.get("history")])
    out_of_scope = [q["question"] for q in data["out_of_scope"]] + [c["question"] for c in cases
                                                                   if c["route"] == "dont_know"]
    return in_scope, out_of_scope


def squad_split(path: Path, questions: int, seed: int) -> tuple[list, list[str], list[str]]:
    """Half the articles' paragraphs to index, and sampled questions about them and about the rest."""
    items, pairs = load_squad(path)
    titles = list(dict.fromkeys(item.title for item in items))  # the articles, in the file's order
    indexed = set(random.Random(seed).sample(titles, len(titles) // 2))
    kept = [item for item in items if item.title in indexed]
    sources = {item.source for item in kept}
    rng = random.Random(seed + 1)
    inside = [q for q, source in pairs if source in sources]
    outside = [q for q, source in pairs if source not in sources]
    return (kept, rng.sample(inside, min(questions, len(inside))), rng.sample(outside, min(questions, len(outside))))


def run_relevance(services, squad_json: Path | None = None, questions: int = 300, seed: int = 7,
                  log: Callable | None = None, keep: bool = False) -> dict:
    say = log or (lambda _msg: None)
    if squad_json is None:
        collection = ensure_indexed(services)
        in_scope, out_of_scope = handbook_questions()
        corpus = "sample handbook"
    else:
        items, in_scope, out_of_scope = squad_split(squad_json, questions, seed)
        collection = "relevance-" + scratch_collection(squad_json).removeprefix("bench-")
        say(f"indexing {len(items)} paragraphs of half the articles (seed {seed}) into {collection} …")
        with services.engine.begin() as conn:
            store.delete_collection(conn, collection)
        services.indexer.index_items(items, collection)
        corpus = Path(squad_json).name
    recalibrate(services.engine, services.searcher, collection)  # as indexing does, measured now
    with services.engine.connect() as conn:
        calibrations = load_calibrations(conn, services.embedder.name)
    threshold = services.settings.relevance_threshold
    params = services.settings.retrieval_params
    config = services.settings.pipeline_config

    def judge(question: str) -> tuple[bool, bool, dict]:
        hits = services.searcher.search(question, params, collections=[collection])
        sources = build_sources(hits, config.source_tokens, count_tokens=approx_tokens)
        verdict = assess(question, detect_language(question), hits, sources, calibrations, threshold,
                         default_grader(), services.pipeline.similarity,
                         services.searcher.unused_words(question, [collection]))
        best = max((h.vector_similarity for h in hits if h.vector_similarity is not None), default=0.0)
        return verdict.answerable, best >= threshold, {"question": question, **verdict.as_dict()}

    say(f"judging {len(in_scope)} in-scope and {len(out_of_scope)} out-of-scope questions …")
    ins = [judge(q) for q in in_scope]
    outs = [judge(q) for q in out_of_scope]
    if squad_json is not None and not keep:
        with services.engine.begin() as conn:
            store.delete_collection(conn, collection)

    def rates(index: int) -> dict:
        answered = sum(r[index] for r in ins) / len(ins)
        refused = sum(not r[index] for r in outs) / len(outs)
        return {"in_scope_answered": round(answered, 3), "out_of_scope_refused": round(refused, 3),
                "balanced_accuracy": round((answered + refused) / 2, 3)}

    return {
        "corpus": corpus, "collection": collection, "embedding_model": services.embedder.name,
        "seed": seed if squad_json else None, "in_scope": len(ins), "out_of_scope": len(outs),
        "calibration": calibrations[collection].as_dict() if collection in calibrations else None,
        "answerability": rates(0), "fixed_threshold": {"threshold": threshold, **rates(1)},
        "wrong": {"refused": [r[2] for r in ins if not r[0]], "answered": [r[2] for r in outs if r[0]]},
    }


def render_relevance(result: dict) -> Table:
    table = Table("decided by", "in-scope answered", "out-of-scope refused", "balanced accuracy",
                  title=f"\"I don't know\" · {result['corpus']} · {result['in_scope']} in-scope, "
                        f"{result['out_of_scope']} out-of-scope questions", title_justify="left")
    fixed = result["fixed_threshold"]
    for label, row in (("the grader (answering.answerable)", result["answerability"]),
                       (f"RELEVANCE_THRESHOLD {fixed['threshold']}", fixed)):
        table.add_row(label, f"{row['in_scope_answered']:.1%}", f"{row['out_of_scope_refused']:.1%}",
                      f"{row['balanced_accuracy']:.3f}")
    return table
