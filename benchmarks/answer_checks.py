"""`python -m benchmarks answer-checks`: what the checks that run on every answer cost.

Questions: the sample handbook's answer cases and retrieval questions (English and Korean), and SQuAD
v1.1 dev questions over a scratch collection of its first paragraphs. Each question is searched as
the pipeline searches (hybrid, k from the settings) and its hits fitted to the answer's source budget
(``build_sources`` with the local model's tokenizer, ANSWER_SOURCE_TOKENS). Answers are made from
those sources as a model writes them: one to five of their sentences, cited ([n]) or not, some with
a lead-in, some with an invented number, name or address. Each step is timed per answer: ``tidy``,
``is_stub``, the evidence as the pipeline chooses it (``choose_evidence``: by words, or by meaning with
the embedder when only sources in another language answer) and ``check_grounding`` against the
rendered sources. Cold, the embedder's passage vectors are forgotten too. The baseline, measured in the
same run, is the retrieval call and ``build_sources`` of the same questions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import time
from pathlib import Path
from typing import Callable

from answering.answerable import answering_chunks, assess
from answering.context import Source, build_sources
from answering.evidence import clear_cache
from answering.grounding import check_grounding
from answering.review import choose_evidence
from answering.routing import render
from answering.similarity import PassageSimilarity
from answering.terms import terms
from answering.wellformed import is_stub, tidy
from benchmarks.retrieval import percentile
from core.paths import SAMPLES
from evals.handbook import EVAL_COLLECTION, ensure_indexed
from evals.squad import load_squad
from retrieval import store
from retrieval.calibration import load_calibrations
from retrieval.keywords import HANGUL

SCRATCH = "bench-checks-squad"
STEPS = ("tidy", "is_stub", "evidence", "grounding")
TARGET_MS = 30.0  # p95 of evidence + grounding per answer
_SENTENCE = re.compile(r"(?<=[.!?。])\s+")
_NUMBER = re.compile(r"\d+")
_INVENTED = {
    "en": ["For details, contact Jonas Becker at jonas.becker@northwind.example.",
           "The rule changed on 2025-11-03 under ticket HR-4471.",
           "See https://intranet.northwind.example/policies for the full text."],
    "ko": ["자세한 내용은 김민준 매니저(minjun.kim@northwind.example)에게 문의하세요.",
           "이 규정은 2025년 11월 3일에 바뀌었습니다.",
           "전체 내용은 https://intranet.northwind.example/policies 에서 볼 수 있습니다."],
}
_LEAD_IN = {"en": "According to the sources, ", "ko": "문서에 따르면 "}


@dataclasses.dataclass(frozen=True)
class Case:
    question: str
    language: str
    collection: str
    gold: str | None = None  # SQuAD's answer text


def _handbook_cases() -> list[Case]:
    evals = json.loads((SAMPLES / "handbook-eval.json").read_text(encoding="utf-8"))
    queries = json.loads((SAMPLES / "handbook-queries.json").read_text(encoding="utf-8"))
    return ([Case(c["question"], c["language"], EVAL_COLLECTION) for c in evals if c["route"] == "answer"]
            + [Case(q["question"], q["lang"], EVAL_COLLECTION) for q in queries])


def _squad(squad_json: Path, paragraphs: int, questions: int, seed: int):
    """The first ``paragraphs`` paragraphs as items, and ``questions`` of their questions (with answers)."""
    items, _ = load_squad(squad_json)
    items = items[:paragraphs]
    texts = {item.data.decode("utf-8") for item in items}
    data = json.loads(Path(squad_json).read_text(encoding="utf-8"))
    cases = [Case(qa["question"], "en", SCRATCH, qa["answers"][0]["text"])
             for article in data["data"] for p in article["paragraphs"] if p["context"].strip() in texts
             for qa in p["qas"]]
    return items, random.Random(seed).sample(cases, min(questions, len(cases)))


def _sentences(source: Source) -> list[str]:
    out = []
    for line in source.text.splitlines():
        line = line.strip().lstrip("-*+• ").replace("**", "").replace("`", "")
        if not line or line.startswith("#") or set(line) <= set("|-: "):
            continue
        if line.startswith("|"):
            line = ", ".join(c.strip() for c in line.strip("|").split("|") if c.strip()) + "."
        out.extend(s for s in _SENTENCE.split(line) if len(s) > 15)
    return out


def make_answers(case: Case, sources: list[Source], count: int, rng: random.Random) -> list[str]:
    """``count`` answer-like texts of 1-5 sentences from ``sources``: cited, lead-ins, some invented facts."""
    korean = case.language == "ko"
    pool = [(src.number, s) for src in sources for s in _sentences(src)
            if bool(HANGUL.search(s)) == korean] or [(src.number, s) for src in sources for s in _sentences(src)]
    answers = []
    for _ in range(count):
        n = rng.randint(1, 5)
        picked = sorted(rng.sample(pool, min(n, len(pool))), key=lambda p: p[0]) if pool else []
        parts = []
        for number, sentence in picked:
            cite = rng.random()
            parts.append(sentence if cite < 0.25 else f"{sentence.rstrip('.')} [{number}]." if cite < 0.9
                         else f"{sentence} [{number}, {min(number + 1, len(sources))}]")
        if case.gold and rng.random() < 0.6:
            parts.insert(0, f"The answer is {case.gold} [1].")
        lang = case.language if case.language in _LEAD_IN else "en"
        if parts and rng.random() < 0.3:
            parts[0] = _LEAD_IN[lang] + parts[0]
        if parts and rng.random() < 0.3:  # an invented number
            i = rng.randrange(len(parts))
            parts[i] = _NUMBER.sub(lambda m: str(int(m.group()) + 7), parts[i], count=1)
        if rng.random() < 0.2:  # an invented name, date, code or link
            parts.append(rng.choice(_INVENTED[lang]))
        answers.append(" ".join(parts[:5]) or "The answer to this question is:")
    return answers


def _stats(values: list[float]) -> dict:
    return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3),
            "max": round(max(values), 3), "n": len(values)}


def _check(case: Case, sources: list[Source], sources_text: str, answer: str, across: frozenset[int],
           similarity: PassageSimilarity) -> tuple[dict, dict, tuple]:
    """Run the answer checks once: each step's wall-clock and CPU time (ms), and what they found."""
    marks = [(time.perf_counter(), time.process_time())]
    text = tidy(answer)
    marks.append((time.perf_counter(), time.process_time()))
    stub = is_stub(text)
    marks.append((time.perf_counter(), time.process_time()))
    evidence = choose_evidence(case.question, sources, similarity, across)
    marks.append((time.perf_counter(), time.process_time()))
    grounding = check_grounding(text, sources_text, case.question)
    marks.append((time.perf_counter(), time.process_time()))
    wall = {step: (marks[i + 1][0] - marks[i][0]) * 1000 for i, step in enumerate(STEPS)}
    cpu = {step: (marks[i + 1][1] - marks[i][1]) * 1000 for i, step in enumerate(STEPS)}
    return wall, cpu, (text, stub, evidence.passages, evidence.support, json.dumps(grounding.as_dict()))


def _measure(work: list, forget: bool, embedder) -> dict:
    """Check every answer; ``forget``: clear the remembered terms (and passage vectors) before each, as if
    its sources were new."""
    similarity = PassageSimilarity(embedder)
    wall: dict[str, list[float]] = {step: [] for step in STEPS}
    cpu: dict[str, list[float]] = {step: [] for step in STEPS}
    digest = hashlib.sha256()
    grounded = 0
    for case, srcs, text, answer, across in work:
        if forget:
            clear_cache()
            similarity = PassageSimilarity(embedder)
        took, used, found = _check(case, srcs, text, answer, across, similarity)
        for step in STEPS:
            wall[step].append(took[step])
            cpu[step].append(used[step])
        digest.update(repr(found).encode())
        grounded += '"grounded": true' in found[-1]
    return {"wall": wall, "cpu": cpu, "digest": digest.hexdigest()[:16], "grounded": grounded}


def _steps(times: dict[str, list[float]], langs: list[str], meaning: list[bool]) -> dict:
    checks = [e + g for e, g in zip(times["evidence"], times["grounding"])]
    by_meaning = [c for c, m in zip(checks, meaning) if m]  # only other-language sources answer: the embedder
    return {**{s: _stats(times[s]) for s in STEPS}, "evidence+grounding": _stats(checks),
            "total": _stats([sum(times[s][i] for s in STEPS) for i in range(len(langs))]),
            **{f"evidence+grounding, {lang}": _stats([c for c, la in zip(checks, langs) if la == lang])
               for lang in ("en", "ko")},
            **({"evidence+grounding, by meaning": _stats(by_meaning)} if by_meaning else {})}


def _retrieve(services, cases: list[Case]):
    """Each case's sources as the pipeline gives them to the model, and the baseline timings."""
    params = services.settings.retrieval_params
    budget = services.settings.pipeline_config.source_tokens

    def count(t: str) -> int:
        return services.chat_models.count_tokens("local", t)

    for case in cases[:10]:  # warm the embedder, the database and the tokenizer
        build_sources(services.searcher.search(case.question, params, collections=[case.collection]), budget, count)
    with services.engine.connect() as conn:
        calibrations = load_calibrations(conn, services.embedder.name)
    out, retrieve_ms, build_ms, tokens, across = [], [], [], [], []
    for case in cases:
        t0 = time.perf_counter()
        hits = services.searcher.search(case.question, params, collections=[case.collection])
        t1 = time.perf_counter()
        sources = build_sources(hits, budget, count)
        t2 = time.perf_counter()
        retrieve_ms.append((t1 - t0) * 1000)
        build_ms.append((t2 - t1) * 1000)
        tokens.append(count(render(sources)))
        out.append(sources)
        verdict = assess(case.question, case.language, hits, sources, calibrations,
                         services.settings.relevance_threshold)
        across.append(answering_chunks(verdict, sources))
    return out, retrieve_ms, build_ms, tokens, across


def run_answer_checks_benchmark(services, squad_json: Path, *, answers: int = 400, paragraphs: int = 150,
                                seed: int = 13, reuse_index: bool = False,
                                log: Callable[[str], None] | None = None) -> dict:
    say = log or (lambda _msg: None)
    rng = random.Random(seed)
    say("indexing the sample handbook (unchanged files are skipped)")
    ensure_indexed(services)
    handbook = _handbook_cases()
    per_handbook = 3
    items, squad = _squad(squad_json, paragraphs, max(0, answers - per_handbook * len(handbook)), seed)
    say(f"indexing {len(items)} SQuAD paragraphs into {SCRATCH} …")
    services.indexer.index_items(items, SCRATCH, remove_missing=True)
    cases = handbook + squad
    say(f"retrieving for {len(cases)} questions ({len(handbook)} handbook, {len(squad)} SQuAD) …")
    sources, retrieve_ms, build_ms, tokens, across = _retrieve(services, cases)
    work = [(case, srcs, render(srcs), answer, other)
            for case, srcs, other in zip(cases, sources, across)
            for answer in make_answers(case, srcs, per_handbook if case.gold is None else 1, rng)]
    terms("휴가를 신청하려면 어떻게 하나요?")  # Kiwi loads on first use
    warm = PassageSimilarity(services.embedder)
    for case, srcs, text, answer, other in work[:10] + [w for w in work if w[0].language == "ko"][:10]:
        _check(case, srcs, text, answer, other, warm)  # warm-up, not counted
    say(f"checking {len(work)} answers, each on its own (cold), then one after another (as run) …")
    cold = _measure(work, forget=True, embedder=services.embedder)
    clear_cache()
    as_run = _measure(work, forget=False, embedder=services.embedder)
    if cold["digest"] != as_run["digest"]:
        raise AssertionError("the remembered terms changed what the checks found")
    if not reuse_index:
        with services.engine.begin() as conn:
            store.delete_collection(conn, SCRATCH)
    langs = [case.language for case, *_ in work]
    meaning = [bool(w[-1]) for w in work]
    checks = _steps(as_run["wall"], langs, meaning)["evidence+grounding"]
    retrieve = _stats(retrieve_ms)
    return {
        "answers": len(work),
        "questions": {"handbook": len(handbook), "squad": len(squad),
                      "korean_answers": langs.count("ko"), "english_answers": langs.count("en"),
                      "answers_by_meaning": sum(meaning)},
        "sources": {"mean_count": round(sum(map(len, sources)) / len(sources), 2),
                    "mean_tokens": round(sum(tokens) / len(tokens)), "max_tokens": max(tokens),
                    "budget_tokens": services.settings.pipeline_config.source_tokens},
        "steps_ms": _steps(as_run["wall"], langs, meaning),
        "steps_cpu_ms": _steps(as_run["cpu"], langs, meaning),  # process CPU time: less sensitive to a busy machine
        "cold_steps_ms": _steps(cold["wall"], langs, meaning),
        "cold_steps_cpu_ms": _steps(cold["cpu"], langs, meaning),
        "baseline_ms": {"retrieve": retrieve, "build_sources": _stats(build_ms)},
        "ratio_p95_to_retrieve": round(checks["p95"] / retrieve["p95"], 3),
        "ratio_p50_to_retrieve": round(checks["p50"] / retrieve["p50"], 3),
        "target_p95_ms": TARGET_MS,
        "met": checks["p95"] <= TARGET_MS,
        "grounded_share": round(as_run["grounded"] / len(work), 3),
        "results_digest": as_run["digest"],  # the same checks' results give the same digest
        "seed": seed,
    }


def render_answer_checks(result: dict):
    from rich.table import Table

    q = result["questions"]
    table = Table(title=f"Answer checks: {result['answers']} answers ({q['english_answers']} English, "
                        f"{q['korean_answers']} Korean), {result['sources']['mean_count']} sources of "
                        f"{result['sources']['mean_tokens']} tokens on average; ms per answer", title_justify="left")
    for col in ("step", "p50", "p95", "max", "cold p50", "cold p95", "cold max", "cold CPU p95", "p95 / retrieve"):
        table.add_column(col, justify="left" if col == "step" else "right")
    retrieve_p95 = result["baseline_ms"]["retrieve"]["p95"]
    for step, v in result["steps_ms"].items():
        c, cpu = result["cold_steps_ms"][step], result["cold_steps_cpu_ms"][step]
        table.add_row(step, *(f"{x:.2f}" for x in (v["p50"], v["p95"], v["max"], c["p50"], c["p95"], c["max"],
                                                   cpu["p95"], v["p95"] / retrieve_p95)))
    for name, v in result["baseline_ms"].items():
        table.add_row(f"baseline: {name}", f"{v['p50']:.2f}", f"{v['p95']:.2f}", f"{v['max']:.2f}", "", "", "", "",
                      f"{v['p95'] / retrieve_p95:.2f}")
    met = "met" if result["met"] else "NOT met"
    table.caption = (f"as run: the terms of texts seen before are remembered; cold: forgotten before each answer. "
                     f"Target: evidence+grounding p95 ≤ {result['target_p95_ms']:.0f} ms as run ({met}, cold "
                     f"{result['cold_steps_ms']['evidence+grounding']['p95']:.1f} ms); "
                     f"{result['grounded_share']:.0%} of answers grounded; results digest {result['results_digest']}")
    return table
