"""python -m evals: evaluations with assertions (not benchmarks), run on purpose and by `make test`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.cli import console, errors, progress_bar, run
from core.errors import InvalidInput


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals", description="Evaluations with assertions.")
    sub = parser.add_subparsers(dest="command", required=True)
    answers = sub.add_parser("answers", help="the answer assertion suite on the sample handbook")
    answers.add_argument("--suite", action="append", metavar="NAME[:MODE]",
                         help="sample (the sample handbook) or dev (the development set, $DEV_SET), each indexed "
                              "into its own collection; repeat for several; :MODE answers in that mode "
                              "(dev:extractive: no model, fast)")
    answers.add_argument("--cases", type=Path, default=None, help="cases file (default: samples/handbook-eval.json)")
    answers.add_argument("--model", choices=["hosted", "local"], help="override MODEL_POLICY")
    answers.add_argument("--collection", help="answer from this collection (default: the sample handbook)")
    answers.add_argument("--json", action="store_true")
    relevance = sub.add_parser("relevance", help="\"I don't know\" on in- and out-of-scope questions")
    relevance.add_argument("--squad-json", type=Path, metavar="FILE",
                           help="a SQuAD-layout file: half its articles indexed, questions on both halves")
    relevance.add_argument("--questions", type=int, default=300, help="in-scope and out-of-scope, each (default 300)")
    relevance.add_argument("--seed", type=int, default=7, help="which articles are indexed, which questions asked")
    relevance.add_argument("--json", action="store_true")
    ret = sub.add_parser("retrieval", help="score the live index on a set written by `python -m bot export eval`")
    ret.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE")
    ret.add_argument("--k", type=int, default=5, help="recall@k (default 5)")
    ret.add_argument("--collection", help="search this collection for every question (default: each record's)")
    ret.add_argument("--json", action="store_true")
    graded = sub.add_parser("answerability", help="the grader behind \"I don't know\": fit it, measure it")
    graded.add_argument("--train", action="store_true", help="fit it on the corpora present and write it")
    graded.add_argument("--json", action="store_true")
    guards = sub.add_parser("guards", help="misses and false alarms of the answer guard and the injection scan")
    guards.add_argument("--train", action="store_true", help="train the probes first (answering/data/train/)")
    guards.add_argument("--json", action="store_true")
    return parser


def _guards(args, services) -> int:
    from evals.guards import evaluate, failures, render, scorers, train_probes

    if args.train:
        train_probes(log=errors.print)
    result = evaluate(*scorers())
    print(json.dumps(result, ensure_ascii=False, indent=2)) if args.json else console.print(render(result),
                                                                                          markup=False)
    missed = failures(result)
    for line in missed:
        errors.print(f"[yellow]target missed:[/yellow] {line}")
    return 0


def _retrieval(args, services) -> int:
    from evals.handbook import require_documents
    from evals.retrieval import load_set, render, score

    records = load_set(args.source)
    if args.collection:
        require_documents(services.engine, args.collection)
    result = score(services.searcher, records, services.settings.retrieval_params, k=args.k,
                   collection=args.collection)
    print(json.dumps(result, ensure_ascii=False, indent=2)) if args.json else console.print(render(result))
    return 0


def _relevance(args, services) -> int:
    from evals.relevance import render_relevance, run_relevance

    result = run_relevance(services, args.squad_json, questions=args.questions, seed=args.seed, log=errors.print)
    print(json.dumps(result, ensure_ascii=False, indent=2)) if args.json else console.print(render_relevance(result))
    return 0


def _answers(args, services) -> int:
    from evals.answers import render_answer_eval, run_answer_eval, suite

    if args.suite and (args.cases or args.collection):
        raise InvalidInput("give --suite, or --cases with --collection, not both")
    suites = [suite(spec) for spec in args.suite] if args.suite else [None]
    results = []
    for chosen in suites:
        if chosen is not None and not chosen.cases.exists():
            errors.print(f"[yellow]skipped the {chosen.name} suite:[/yellow] no cases at {chosen.cases} "
                         "(DEV_SET names the development set's folder)")
            continue
        with progress_bar(f"evaluating {chosen.name if chosen else ''}".strip(), enabled=not args.json) as progress:
            result = run_answer_eval(services, args.cases, model=args.model, progress=progress, log=errors.print,
                                     collection=args.collection, suite=chosen)
        results.append(result)
        if not args.json:
            console.print(render_answer_eval(result))
    if args.json:
        print(json.dumps(results[0] if len(suites) == 1 and results else {"suites": results}, ensure_ascii=False,
                         indent=2))
    return 0 if all(r["gates_passed"] for r in results) else 1


def _answerability(args, services) -> int:
    from evals.answerability import evaluate, train

    result = (train if args.train else evaluate)(services, log=errors.print)
    print(json.dumps(result, ensure_ascii=False, indent=2)) if args.json else console.print_json(data=result)
    return 0


_COMMANDS = {"answerability": _answerability, "answers": _answers, "relevance": _relevance, "retrieval": _retrieval,
             "guards": _guards}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run(_COMMANDS[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
