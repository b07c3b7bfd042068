"""`python -m evals answers`: assertions on answers to the sample handbook questions.

Each case asserts the route, and for answers: an expected document is cited, facts the
answer must and must not contain, its language and its length; for out-of-scope
questions: "I don't know", in the asker's language, with zero model calls. Pass rates are
reported per assertion kind and per route. The gates (exit status) are the properties
that do not depend on the model's skill: out-of-scope questions never reach a model and
nothing errors. The rest is reported honestly for whichever model is configured.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable

from rich.table import Table

from answering.language import detect_language
from answering.prompts import ANSWER_PROMPT_VERSION
from answering.types import Answer, Question, Route
from core.errors import InvalidInput
from core.paths import SAMPLES
from evals.handbook import ensure_indexed, require_documents

CASES = SAMPLES / "handbook-eval.json"


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


def check(case: dict, answer: Answer) -> dict[str, bool]:
    """Assertion kind -> passed, for one case."""
    text = answer.text.lower()
    results = {"route": answer.route == case["route"]}
    if case["route"] == "dont_know":
        results["zero_model_calls"] = answer.model_calls == 0
        results["language"] = answer.language == case["language"]
        return results
    cited = {Path(src.source).name for src in answer.sources}
    results["cited_source"] = bool(cited & set(case["expect_sources"]))
    results["must_contain"] = all(
        any(alt.lower() in text for alt in ([item] if isinstance(item, str) else item))
        for item in case["must_contain"]
    )
    results["must_not_contain"] = not any(bad.lower() in text for bad in case["must_not_contain"])
    results["language"] = detect_language(answer.text) == case["language"]
    if answer.route == Route.ANSWER:
        results["language_first_try"] = not answer.language_retried
    results["length"] = 0 < len(answer.text) <= case["max_chars"]
    return results


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
                                          model=model, origin="eval", use_cache=False))
        rows.append({"id": case["id"], "language": case["language"], "expected_route": case["route"],
                     "route": answer.route, "checks": check(case, answer), "model_calls": answer.model_calls,
                     "model": answer.model, "latency_ms": answer.latency_ms, "answer": answer.text,
                     "cited": [Path(s.source).name for s in answer.sources], "error": answer.error,
                     "interaction_id": answer.interaction_id})
    if progress:
        progress(len(cases), len(cases), "")
    return {**summarise(rows, model_name, time.perf_counter() - started), "collection": collection}


def _rate(values: list[bool]) -> dict:
    rate = round(sum(values) / len(values), 3) if values else None
    return {"passed": sum(values), "total": len(values), "rate": rate}


def _passed(row: dict) -> bool:
    return all(ok for kind, ok in row["checks"].items() if kind != "language_first_try")


def summarise(rows: list[dict], model_name: str, seconds: float) -> dict:
    by_kind: dict[str, list[bool]] = defaultdict(list)
    by_route: dict[str, list[bool]] = defaultdict(list)
    by_language: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        for kind, ok in row["checks"].items():
            if kind == "language_first_try":  # informative, not an assertion of the case
                by_kind[f"answer:language before the retry ({row['language']})"].append(ok)
                continue
            by_kind[f"{row['expected_route']}:{kind}"].append(ok)
        passed = _passed(row)
        by_route[row["expected_route"]].append(passed)
        by_language[row["language"]].append(passed)
        if row["expected_route"] == "answer":
            by_kind[f"answer:language ({row['language']})"].append(row["checks"]["language"])
    dont_know = [r for r in rows if r["expected_route"] == "dont_know"]
    errors = [r["id"] for r in rows if r["route"] == Route.ERROR]
    gates = {
        "out_of_scope_dont_know": all(r["checks"]["route"] for r in dont_know) and bool(dont_know),
        "out_of_scope_zero_model_calls": all(r["checks"]["zero_model_calls"] for r in dont_know) and bool(dont_know),
        "no_errors": not errors,
    }
    generate = [r["latency_ms"]["generate"] for r in rows if "generate" in r["latency_ms"]]
    return {
        "model": model_name,
        "by_actual_route": dict(sorted(Counter(r["route"] for r in rows).items())),
        "prompt_version": ANSWER_PROMPT_VERSION,
        "cases": len(rows),
        "by_kind": {k: _rate(v) for k, v in sorted(by_kind.items())},
        "by_route": {k: _rate(v) for k, v in sorted(by_route.items())},
        "by_language": {k: _rate(v) for k, v in sorted(by_language.items())},
        "all_passed": _rate([_passed(r) for r in rows]),
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
    table = Table("assertion", "passed", "rate", title=title, title_justify="left")
    for label, group in (("", result["by_kind"]), ("route ", result["by_route"]), ("language ", result["by_language"])):
        for name, r in group.items():
            table.add_row(f"{label}{name}", f"{r['passed']}/{r['total']}", f"{r['rate']:.0%}")
    a = result["all_passed"]
    table.add_row("[bold]cases with every assertion passing[/bold]", f"{a['passed']}/{a['total']}", f"{a['rate']:.0%}")
    for gate, ok in result["gates"].items():
        table.add_row(f"gate: {gate}", "yes" if ok else "[red]NO[/red]", "")
    table.add_row("routes taken", ", ".join(f"{k} {v}" for k, v in result["by_actual_route"].items()), "")
    if result["errors"]:
        table.add_row("errors", ", ".join(result["errors"]), "")
    return table
