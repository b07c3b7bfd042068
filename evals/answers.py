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
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable

from rich.table import Table

from answering import prompts
from answering.extractive import extractive_answer
from answering.grounding import check_grounding
from answering.language import written_in
from answering.prompts import ANSWER_PROMPT_VERSION
from answering.types import ANSWER_MODES, Answer, Question, Route
from core.errors import InvalidInput
from core.paths import SAMPLES
from evals.handbook import ensure_indexed, require_documents

CASES = SAMPLES / "handbook-eval.json"
MODES = ("auto", "generate", "extractive")
assert set(MODES) == set(ANSWER_MODES)


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
                    collection: str | None = None) -> dict:
    """Answer every case from ``collection`` (default: the sample handbook, indexed first) and check it."""
    cases = load_cases(cases_path)
    if collection:
        require_documents(services.engine, collection)
    else:
        if log:
            if cases_path:
                log("answering from the sample handbook; pass --collection NAME to answer from your own documents")
            log("indexing the sample handbook (unchanged files are skipped) …")
        collection = ensure_indexed(services)
    pipeline = services.pipeline
    backend = model or pipeline.router.backend_for({collection}, None)
    model_name = services.chat_models.config(backend).name
    rows = []
    started = time.perf_counter()
    for done, case in enumerate(cases):
        if progress:
            progress(done, len(cases), case["id"])
        history = tuple((turn["role"], turn["text"]) for turn in case.get("history", []))
        answer = pipeline.answer(Question(case["question"], history=history, collections=(collection,),
                                          model=model, mode="auto", origin="eval", use_cache=False))
        question = f"{case['question']}\n{answer.rewritten_question or ''}"
        modes = {mode: {"route": str(v.route), "checks": check(case, v, question), "answer": v.text,
                        "cited": [Path(s.source).name for s in v.sources] if v.answered else []}
                 for mode, v in variants(answer).items()}
        rows.append({"id": case["id"], "language": case["language"], "expected_route": case["route"],
                     "route": answer.route, "checks": modes["auto"]["checks"], "modes": modes,
                     "model_calls": answer.model_calls, "model": answer.model, "latency_ms": answer.latency_ms,
                     "answer": answer.text, "cited": modes["auto"]["cited"], "fallback": answer.fallback,
                     "error": answer.error, "interaction_id": answer.interaction_id})
    if progress:
        progress(len(cases), len(cases), "")
    return {**summarise(rows, model_name, time.perf_counter() - started), "collection": collection}


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


def summarise(rows: list[dict], model_name: str, seconds: float) -> dict:
    """Per-mode pass rates (auto's at the top level, as the pipeline answered) and the gates."""
    dont_know = [r for r in rows if r["expected_route"] == "dont_know"]
    errors = [r["id"] for r in rows if r["route"] == Route.ERROR]
    gates = {
        "out_of_scope_dont_know": all(r["checks"]["route"] for r in dont_know) and bool(dont_know),
        "out_of_scope_zero_model_calls": all(r["checks"]["zero_model_calls"] for r in dont_know) and bool(dont_know),
        "no_errors": not errors,
    }
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
        "model_calls": sum(r["model_calls"] for r in rows),
        "generate_ms_p50": round(statistics.median(generate), 1) if generate else None,
        "errors": errors,
        "gates": gates,
        "gates_passed": all(gates.values()),
        "seconds": round(seconds, 1),
        "results": rows,
    }


def render_answer_eval(result: dict) -> Table:
    title = (f"eval answers · {result.get('collection', '')} · {result['model']} · {result['prompt_version']} · "
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
    return table
