"""`python -m evals answers`: assertions on answers to the sample handbook questions (or your own).

Each case asserts the route, and for answers: an expected document is cited, facts the answer must
and must not contain, that it states no fact its sources lack (grounded), that the evidence quoted
under it holds the expected facts, that its own words are in the asker's language (the passages an
extractive answer quotes stay as the documents wrote them, an English page for a Korean question
too), and its length; for out-of-scope questions: "I don't know", in the asker's language, with zero
model calls.

Every question is answered once, in auto mode; what the other answer modes would have given is
derived from that answer (``generate``: the model's answer, even where auto replaced it;
``extractive``: the evidence quoted), so the three are compared on the same run. The gates (exit
status) are the properties that do not depend on the model's skill: out-of-scope questions never
reach a model and nothing errors. The rest is reported honestly for whichever model is configured.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rich.table import Table
from sqlalchemy import text as sql

from answering import prompts
from answering.extractive import extractive_answer
from answering.grounding import check_grounding
from answering.language import written_in
from answering.prompts import ANSWER_PROMPT_VERSION
from answering.types import ANSWER_MODES, Answer, Question, Route
from core.errors import DocumentError, InvalidInput
from core.paths import ROOT, SAMPLES
from evals.handbook import EVAL_COLLECTION, HANDBOOK, require_documents

CASES = SAMPLES / "handbook-eval.json"
MODES = ("auto", "generate", "extractive")
assert set(MODES) == set(ANSWER_MODES)
# The development set: public pages and questions written by someone else (see its README); DEV_SET moves it.
DEV_SET = Path(os.environ.get("DEV_SET") or ROOT.parent / "shared" / "datasets" / "handbook-and-vue-docs")
TOP = 3  # "the fact was retrieved": it is in the top TOP chunks


@dataclass(frozen=True)
class Suite:
    """A cases file and the documents its questions are about, indexed into a collection of their own
    (unchanged files are skipped) unless ``documents`` is None; answered in ``mode``."""

    name: str
    cases: Path
    documents: Path | None
    collection: str
    mode: str = "auto"
    strict: bool = True  # every out-of-scope question must be refused with no model call (else: only no errors)


def suite(spec: str) -> Suite:
    """``sample`` (the sample handbook), ``dev`` (the development set), either with ``:MODE`` (``dev:extractive``
    answers without a model: fast, for ``make test``)."""
    name, _, mode = spec.partition(":")
    if mode and mode not in ANSWER_MODES:
        raise InvalidInput(f"unknown answer mode {mode!r} in {spec!r} (one of {', '.join(ANSWER_MODES)})")
    if name == "sample":
        return Suite("sample", CASES, HANDBOOK, EVAL_COLLECTION, mode or "auto")
    if name == "dev":  # the collection its README names
        return Suite("dev", DEV_SET / "cases.json", DEV_SET / "corpus", "devset", mode or "auto", strict=False)
    raise InvalidInput(f"unknown suite {name!r}: sample or dev (or --cases FILE --collection NAME)")


def load_cases(path: Path | None = None) -> list[dict]:
    """Read and validate the cases file (every case needs at least three assertions)."""
    try:
        cases = json.loads(Path(path or CASES).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:  # a file named on the command line
        raise InvalidInput(str(exc)) from exc
    seen = set()
    for case in cases:
        cid = case.get("id")
        if not cid or cid in seen:
            raise InvalidInput(f"every case needs a unique id (got {cid!r})")
        seen.add(cid)
        if case.get("route") not in ("answer", "dont_know") or case.get("language") not in ("en", "ko"):
            raise InvalidInput(f"case {cid}: route must be answer|dont_know and language en|ko")
        if case["route"] == "answer" and not (case.get("expect_sources") and case.get("must_contain")
                                              and case.get("must_not_contain") and case.get("max_chars")):
            raise InvalidInput(f"case {cid}: an answer case needs expect_sources, must_contain, "
                             "must_not_contain and max_chars")
    return cases


def variants(answer: Answer) -> dict[str, Answer]:
    """What each answer mode would have given, from one auto-mode answer: ``generate`` is the model's
    answer (the draft an extractive answer replaced), ``extractive`` the evidence quoted."""
    if answer.route not in (Route.ANSWER, Route.EXTRACTIVE) and answer.draft is None:
        return dict.fromkeys(MODES, answer)  # "I don't know", help, an error: every mode alike
    generated = answer.draft or answer
    given = answer.sources + answer.uncited
    if answer.route == Route.EXTRACTIVE:
        extractive = answer
    elif answer.evidence:
        extractive = extractive_answer(answer.evidence, given, answer.language)
    else:
        extractive = Answer(prompts.DONT_KNOW[answer.language], route=Route.DONT_KNOW, language=answer.language)
    return {"auto": answer, "generate": generated, "extractive": extractive}


def check(case: dict, answer: Answer, question: str = "") -> dict[str, bool]:
    """Assertion kind -> passed, for one case."""
    text = answer.text.lower()
    if case["route"] == "dont_know":
        return {"route": answer.route == Route.DONT_KNOW, "zero_model_calls": answer.model_calls == 0,
                "language": answer.language == case["language"]}
    results = {"route": answer.answered}
    cited = {Path(src.source).name for src in answer.sources} if answer.answered else set()
    results["cited_source"] = bool(cited & set(case["expect_sources"]))
    results["must_contain"] = _contains_all(text, case["must_contain"])
    results["must_not_contain"] = not any(bad.lower() in text for bad in case["must_not_contain"])
    given = "\n".join(f"{src.heading}\n{src.text}" for src in answer.sources + answer.uncited)
    results["grounded"] = check_grounding(answer.text, given, question).grounded
    quoted = " ".join(p.text for p in answer.evidence).lower()
    results["evidence"] = _contains_all(quoted, case["must_contain"])
    own = answer.text  # the answer's own words: the passages an extractive answer quotes are the documents'
    if answer.route == Route.EXTRACTIVE:
        for passage in answer.evidence:
            own = own.replace(passage.text, " ")
    results["language"] = written_in(own, case["language"])
    if answer.route == Route.ANSWER:
        results["language_first_try"] = not answer.language_retried
    results["length"] = 0 < len(answer.text) <= case["max_chars"]
    return results


def _contains_all(text: str, facts: list) -> bool:
    """Every fact (a string, or a list of acceptable alternatives) occurs in ``text``."""
    return all(any(alt.lower() in text for alt in ([item] if isinstance(item, str) else item)) for item in facts)


def run_answer_eval(services, cases_path: Path | None = None, model: str | None = None,
                    progress: Callable | None = None, log: Callable | None = None,
                    collection: str | None = None, suite: Suite | None = None) -> dict:
    """Answer every case of ``suite`` (or of ``cases_path`` from ``collection``; default: the sample handbook,
    indexed first) and check it."""
    if suite is None:
        suite = Suite("custom", cases_path, None, collection) if collection else Suite("sample", cases_path or CASES,
                                                                                      HANDBOOK, EVAL_COLLECTION)
        if cases_path and not collection and log:
            log("answering from the sample handbook; pass --collection NAME to answer from your own documents")
    cases = load_cases(suite.cases)
    if suite.documents is not None:
        if log:
            log(f"indexing {suite.documents} into {suite.collection!r} (unchanged files are skipped) …")
        report = services.indexer.index_paths([suite.documents], suite.collection)
        if report.failed:
            raise DocumentError(f"{suite.documents} did not index: {report.failed}")
    collection = require_documents(services.engine, suite.collection)
    pipeline = services.pipeline
    backend = model or pipeline.router.backend_for({collection}, None)
    model_name = services.chat_models.config(backend).name
    languages = _source_languages(services.engine, collection, cases)
    rows = []
    started = time.perf_counter()
    for done, case in enumerate(cases):
        if progress:
            progress(done, len(cases), case["id"])
        history = tuple((turn["role"], turn["text"]) for turn in case.get("history", []))
        answer = pipeline.answer(Question(case["question"], history=history, collections=(collection,),
                                          model=model, mode=suite.mode, origin="eval", use_cache=False))
        question = f"{case['question']}\n{answer.rewritten_question or ''}"
        modes = {mode: {"route": str(v.route), "checks": check(case, v, question), "answer": v.text,
                        "cited": [Path(s.source).name for s in v.sources] if v.answered else []}
                 for mode, v in variants(answer).items()}
        rows.append({"id": case["id"], "language": case["language"], "expected_route": case["route"],
                     "source_language": languages.get(case["id"]),
                     "route": answer.route, "checks": modes["auto"]["checks"], "modes": modes,
                     "retrieved": _retrieved(services.engine, case, answer.interaction_id),
                     "model_calls": answer.model_calls, "model": answer.model, "latency_ms": answer.latency_ms,
                     "answer": answer.text, "cited": modes["auto"]["cited"], "fallback": answer.fallback,
                     "error": answer.error, "interaction_id": answer.interaction_id})
    if progress:
        progress(len(cases), len(cases), "")
    result = summarise(rows, model_name, time.perf_counter() - started, strict=suite.strict)
    return {**result, "suite": suite.name, "mode": suite.mode, "collection": collection}


def _retrieved(engine, case: dict, interaction_id: int | None) -> dict | None:
    """For an answerable case: are its facts (``must_contain``) in the top chunk, in the top TOP chunks the
    question retrieved (as the interaction log recorded them)?"""
    if case["route"] != "answer" or interaction_id is None:
        return None
    with engine.connect() as conn:
        hits = conn.execute(sql("SELECT retrieved FROM interactions WHERE id = :i"), {"i": interaction_id}).scalar()
        ids = [h["chunk_id"] for h in (hits or [])[:TOP]]
        texts = dict(conn.execute(sql("SELECT id, section || '\n' || text FROM chunks WHERE id = ANY(:ids)"),
                                  {"ids": ids}).all()) if ids else {}
    ranked = [texts.get(i, "").lower() for i in ids]
    return {"top1": bool(ranked) and _contains_all(ranked[0], case["must_contain"]),
            f"top{TOP}": _contains_all("\n".join(ranked), case["must_contain"])}


def _source_languages(engine, collection: str, cases: list[dict]) -> dict[str, str]:
    """Case id -> the language its expected pages are written in (a Korean question answered by an English
    page is a cross-language case)."""
    from answering.language import prose_language

    wanted = {name for case in cases for name in case.get("expect_sources", [])}
    pages: dict[str, list[str]] = defaultdict(list)
    with engine.connect() as conn:
        rows = conn.execute(sql("SELECT d.source, c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
                                "JOIN collections k ON k.id = c.collection_id WHERE k.name = :n"), {"n": collection})
        for source, text in rows:
            if Path(source).name in wanted:
                pages[Path(source).name].append(text)
    language = {name: prose_language(" ".join(texts)) for name, texts in pages.items()}
    return {case["id"]: language[case["expect_sources"][0]] for case in cases
            if case.get("expect_sources") and case["expect_sources"][0] in language}


def loss(rows: list[dict]) -> dict:
    """Where the facts are lost: of the answerable cases whose fact retrieval found (top 1, top TOP), how many
    answers kept it; per language of the question, and for questions answered by a page in the other language."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("retrieved") is None:
            continue
        groups["all"].append(row)
        groups[row["language"]].append(row)
        if row.get("source_language") and row["source_language"] != row["language"]:
            groups["cross-language"].append(row)
    out = {}
    for name, members in groups.items():
        found = [r for r in members if r["retrieved"][f"top{TOP}"]]
        out[name] = {"cases": len(members), "top1": sum(r["retrieved"]["top1"] for r in members),
                     f"top{TOP}": len(found), "kept": sum(r["checks"]["must_contain"] for r in found),
                     "contains": sum(r["checks"]["must_contain"] for r in members),
                     "answered": sum(r["checks"]["route"] for r in members),
                     "cited": sum(r["checks"]["cited_source"] for r in members)}
    return out


def _rate(values: list[bool]) -> dict:
    rate = round(sum(values) / len(values), 3) if values else None
    return {"passed": sum(values), "total": len(values), "rate": rate}


def _passed(checks: dict) -> bool:
    return all(ok for kind, ok in checks.items() if kind != "language_first_try")


def _tally(rows: list[dict], mode: str) -> dict:
    """Pass rates of one answer mode's assertions: per kind, per expected route, per language."""
    by_kind: dict[str, list[bool]] = defaultdict(list)
    by_route: dict[str, list[bool]] = defaultdict(list)
    by_language: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        checks = row.get("modes", {}).get(mode, {}).get("checks", row["checks"])
        for kind, ok in checks.items():
            if kind == "language_first_try":  # informative, not an assertion of the case
                by_kind[f"answer:language before the retry ({row['language']})"].append(ok)
                continue
            by_kind[f"{row['expected_route']}:{kind}"].append(ok)
        by_route[row["expected_route"]].append(_passed(checks))
        by_language[row["language"]].append(_passed(checks))
        if row["expected_route"] == "answer":
            by_kind[f"answer:language ({row['language']})"].append(checks["language"])
    return {"by_kind": {k: _rate(v) for k, v in sorted(by_kind.items())},
            "by_route": {k: _rate(v) for k, v in sorted(by_route.items())},
            "by_language": {k: _rate(v) for k, v in sorted(by_language.items())},
            "all_passed": _rate([_passed(row.get("modes", {}).get(mode, row)["checks"]) for row in rows])}


def summarise(rows: list[dict], model_name: str, seconds: float, strict: bool = True) -> dict:
    """Per-mode pass rates (auto's at the top level, as the pipeline answered) and the gates (``strict``: all
    three; otherwise only that nothing errors, the rest being reported as rates)."""
    dont_know = [r for r in rows if r["expected_route"] == "dont_know"]
    errors = [r["id"] for r in rows if r["route"] == Route.ERROR]
    gates = {
        "out_of_scope_dont_know": all(r["checks"]["route"] for r in dont_know) and bool(dont_know),
        "out_of_scope_zero_model_calls": all(r["checks"]["zero_model_calls"] for r in dont_know) and bool(dont_know),
        "no_errors": not errors,
    }
    if not strict:
        gates = {"no_errors": gates["no_errors"]}
    generate = [r["latency_ms"]["generate"] for r in rows if "generate" in r["latency_ms"]]
    modes = {mode: _tally(rows, mode) for mode in MODES if all(mode in r.get("modes", {}) for r in rows)}
    return {
        "model": model_name,
        "by_actual_route": dict(sorted(Counter(str(r["route"]) for r in rows).items())),
        "fallbacks": dict(sorted(Counter(r.get("fallback") for r in rows if r.get("fallback")).items())),
        "prompt_version": ANSWER_PROMPT_VERSION,
        "cases": len(rows),
        **(modes.get("auto") or _tally(rows, "auto")),
        "modes": modes,
        "loss": loss(rows),
        "model_calls": sum(r["model_calls"] for r in rows),
        "generate_ms_p50": round(statistics.median(generate), 1) if generate else None,
        "errors": errors,
        "gates": gates,
        "gates_passed": all(gates.values()),
        "seconds": round(seconds, 1),
        "results": rows,
    }


def render_answer_eval(result: dict) -> Table:
    title = (f"eval answers · {result.get('suite', '')} · {result.get('collection', '')} · "
             f"{result.get('mode', 'auto')} mode · {result['model']} · {result['prompt_version']} · "
             f"{result['cases']} cases · {result['seconds']} s")
    modes = result["modes"] or {"auto": result}
    table = Table("assertion", *(f"{m}{' (as answered)' if m == 'auto' else ''}" for m in modes), title=title,
                  title_justify="left")

    def cell(r: dict | None) -> str:
        return f"{r['passed']}/{r['total']} {r['rate']:.0%}" if r else ""

    for label, group in (("", "by_kind"), ("route ", "by_route"), ("language ", "by_language")):
        for name in result[group]:
            table.add_row(f"{label}{name}", *(cell(t[group].get(name)) for t in modes.values()))
    table.add_row("[bold]cases with every assertion passing[/bold]", *(cell(t["all_passed"]) for t in modes.values()))
    for gate, ok in result["gates"].items():
        table.add_row(f"gate: {gate}", "yes" if ok else "[red]NO[/red]")
    table.add_row("routes taken", ", ".join(f"{k} {v}" for k, v in result["by_actual_route"].items()))
    if result["fallbacks"]:
        table.add_row("auto: evidence instead of", ", ".join(f"{k} {v}" for k, v in result["fallbacks"].items()))
    if result["errors"]:
        table.add_row("errors", ", ".join(result["errors"]))
    for name, group in result.get("loss", {}).items():
        table.add_row(f"facts ({name}, {group['cases']} answerable)", kept_line(group))
    return table


def kept_line(group: dict) -> str:
    """"the answer kept N of the M facts retrieval found", with the retrieval figures."""
    return (f"in the top chunk {group['top1']}, in the top {TOP} {group[f'top{TOP}']}; the answer kept "
            f"{group['kept']} of the {group[f'top{TOP}']} facts retrieval found; contains {group['contains']}, "
            f"answered {group['answered']}, cited {group['cited']}")
