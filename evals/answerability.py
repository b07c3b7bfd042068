"""`python -m evals answerability [--train]`: the grader behind "I don't know", fitted and measured on
questions of more than one corpus.

Each question is searched as the pipeline searches, and its ``answering.answerable.Signals`` measured (how
far above the collection's calibration the closest source comes, its margin over the next document, whether
the two arms agree, how much of the question's key terms a source holds, whether it is in another
language). A logistic model of P(answerable) is fitted on them; every corpus is also predicted by a model
fitted without it, which is the figure reported: a grader tuned on one corpus's wording must carry to the
next. The corpora: the sample handbook (its calibration, retrieval and answer questions, in and out of
scope) and the development set written by someone else (``evals.answers.DEV_SET``, when present).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import numpy as np

from answering.answerable import GRADER, Grader, Signals, signals
from answering.context import build_sources
from answering.language import detect_language
from answering.pipeline import approx_tokens
from evals.answers import load_cases, suite
from evals.handbook import ensure_indexed, require_documents
from evals.relevance import handbook_questions
from retrieval.calibration import load_calibrations

# The grades' probabilities, chosen on the predictions of models fitted without each corpus: below UNCERTAIN
# "I don't know" (the threshold with the best balanced accuracy); at or above CONFIDENT the answer is given
# as usual (no more than this share of the out-of-scope questions reach it).
OUT_OF_SCOPE_ABOVE_CONFIDENT = 0.05
PLATEAU = 0.005  # thresholds this close to the best balanced accuracy are as good: the middle one is taken


def collect(services, log: Callable[[str], None] = print) -> list[dict]:
    """Every question of every corpus present: its corpus, whether it is answerable, its signals' values."""
    corpora: list[tuple[str, str, list[tuple[str, bool]]]] = []
    inside, outside = handbook_questions()
    corpora.append(("sample handbook", ensure_indexed(services), [(q, True) for q in inside]
                    + [(q, False) for q in outside]))
    dev = suite("dev")
    if dev.cases.exists():
        log(f"indexing {dev.documents} into {dev.collection!r} (unchanged files are skipped) …")
        services.indexer.index_paths([dev.documents], dev.collection)
        cases = [c for c in load_cases(dev.cases) if not c.get("history")]
        corpora.append(("development set", require_documents(services.engine, dev.collection),
                        [(c["question"], c["route"] == "answer") for c in cases]))
    with services.engine.connect() as conn:
        calibrations = load_calibrations(conn, services.embedder.name)
    params, config = services.settings.retrieval_params, services.settings.pipeline_config
    similarity = services.pipeline.similarity
    rows = []
    for corpus, collection, questions in corpora:
        log(f"{corpus}: {len(questions)} questions …")
        for question, answerable in dict.fromkeys(questions):
            hits = services.searcher.search(question, params, collections=[collection])
            sources = build_sources(hits, config.source_tokens, count_tokens=approx_tokens)
            found = signals(question, detect_language(question), hits, sources, calibrations, similarity,
                            services.searcher.unused_words(question, [collection]))
            rows.append({"corpus": corpus, "question": question, "answerable": answerable,
                         "signals": found.values() if found else None})
    return rows


def fit(rows: list[dict]) -> Grader:
    """The logistic model on ``rows`` (standardised signals, both classes weighted equally), thresholds unset."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([r["signals"] for r in rows], dtype=np.float64)
    y = np.array([r["answerable"] for r in rows])
    mean, spread = x.mean(0), x.std(0)
    scale = np.where(spread > 1e-6, spread, 1.0)  # a signal that never varies: no division by zero
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    return Grader(mean.round(5).tolist(), scale.round(5).tolist(), model.coef_[0].round(5).tolist(),
                  round(float(model.intercept_[0]), 5), 1.0, 0.5)


def held_out_predictions(rows: list[dict]) -> list[float]:
    """Each row's probability by a model fitted without its corpus (with one corpus: by 5-fold)."""
    corpora = sorted({r["corpus"] for r in rows})
    groups = [r["corpus"] for r in rows] if len(corpora) > 1 else [i % 5 for i in range(len(rows))]
    out = [0.0] * len(rows)
    for group in set(groups):
        grader = fit([r for r, g in zip(rows, groups) if g != group])
        for i, (row, g) in enumerate(zip(rows, groups)):
            if g == group:
                out[i] = grader.probability_of(row["signals"])
    return out


def thresholds(rows: list[dict], predicted: list[float]) -> tuple[float, float]:
    """(uncertain, confident): the best balanced accuracy (the middle of the thresholds that reach it: the
    model shipped is fitted on every corpus and is surer than the held-out ones), and where few out-of-scope
    questions remain."""
    inside = np.array([p for r, p in zip(rows, predicted) if r["answerable"]])
    outside = np.array([p for r, p in zip(rows, predicted) if not r["answerable"]])
    grid = np.arange(0.05, 0.96, 0.01)
    accuracy = np.array([((inside >= t).mean() + (outside < t).mean()) / 2 for t in grid])
    uncertain = float(np.median(grid[accuracy >= accuracy.max() - PLATEAU]))  # the middle of the best ones
    few = [float(t) for t in grid if t >= uncertain and (outside >= t).mean() <= OUT_OF_SCOPE_ABOVE_CONFIDENT]
    confident = few[0] if few else 0.95
    return round(uncertain, 2), round(confident, 2)


def measure(rows: list[dict], predicted: list[float], grader: Grader) -> dict:
    """Per corpus: answerable questions answered (confident or uncertain) and confident, out-of-scope refused."""
    out = {}
    for corpus in sorted({r["corpus"] for r in rows}):
        mine = [(r, p) for r, p in zip(rows, predicted) if r["corpus"] == corpus]
        inside = [p for r, p in mine if r["answerable"]]
        outside = [p for r, p in mine if not r["answerable"]]
        out[corpus] = {"answerable": len(inside), "answered": sum(p >= grader.uncertain for p in inside),
                       "confident": sum(p >= grader.confident for p in inside),
                       "out_of_scope": len(outside), "refused": sum(p < grader.uncertain for p in outside)}
    return out


def train(services, log: Callable[[str], None] = print, path: Path = GRADER) -> dict:
    rows = [r for r in collect(services, log) if r["signals"] is not None]
    predicted = held_out_predictions(rows)
    uncertain, confident = thresholds(rows, predicted)
    grader = fit(rows)
    grader = Grader(grader.mean, grader.scale, grader.weights, grader.bias, confident, uncertain)
    names = [f.name for f in dataclasses.fields(Signals)]
    path.write_text(json.dumps({**vars(grader), "signals": names, "questions": len(rows)}, indent=1) + "\n",
                    encoding="utf-8")
    return {"grader": vars(grader), "held_out": measure(rows, predicted, grader)}


def evaluate(services, log: Callable[[str], None] = print) -> dict:
    """The shipped grader on every corpus (it was fitted on them: the held-out figures come with --train)."""
    rows = [r for r in collect(services, log) if r["signals"] is not None]
    grader = Grader.load()
    return {"grader": vars(grader), "fitted_on_these": measure(rows, [grader.probability_of(r["signals"])
                                                                      for r in rows], grader)}
