"""python -m benchmarks: measurements run on purpose (never by the tests), each against a baseline
measured in the same run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.cli import console, errors, progress_bar, run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Benchmarks (not tests).")
    sub = parser.add_subparsers(dest="command", required=True)
    retrieval = sub.add_parser("retrieval", help="recall/MRR/latency on a SQuAD v1.1 file "
                               "(benchmarks/data/kolaw-squad.json is a Korean one)")
    retrieval.add_argument("--squad-json", type=Path, required=True)
    retrieval.add_argument("--questions", type=int, default=2000)
    retrieval.add_argument("--seed", type=int, default=13)
    retrieval.add_argument("--json", action="store_true")
    retrieval.add_argument("--reuse-index", action="store_true",
                           help="keep the scratch collection for the next run (indexing figures then mean re-indexing)")
    slack = sub.add_parser("slack", help="concurrent signed mentions through HTTP mode (fake Slack API)")
    slack.add_argument("--mentions", type=int, default=50, help="concurrent mentions with the stub model")
    slack.add_argument("--local-mentions", type=int, default=10,
                       help="concurrent mentions with the local model (0 = skip)")
    cache = sub.add_parser("cache", help="cached vs full-pipeline latency; cache calibration precision")
    cache.add_argument("--questions", type=int, default=5, help="questions answered by the local model")
    cache.add_argument("--json", action="store_true")
    embedders = sub.add_parser("embedders", help="compare embedding models (English and Korean)")
    embedders.add_argument("--squad-json", type=Path, required=True)
    embedders.add_argument("--paragraphs", type=int, default=300)
    checks = sub.add_parser("answer-checks", help="latency of evidence selection and the groundedness check")
    checks.add_argument("--squad-json", type=Path, required=True)
    checks.add_argument("--answers", type=int, default=400, help="answers to check (handbook ones, then SQuAD)")
    checks.add_argument("--paragraphs", type=int, default=150, help="SQuAD paragraphs to index and ask about")
    checks.add_argument("--seed", type=int, default=13)
    checks.add_argument("--reuse-index", action="store_true", help="keep the SQuAD scratch collection")
    checks.add_argument("--json", action="store_true")
    tables = sub.add_parser("tables", help="retrieval of split tables' cells: header repeated or not")
    tables.add_argument("--seed", type=int, default=7)
    tables.add_argument("--keep", action="store_true", help="keep the three scratch collections")
    tables.add_argument("--json", action="store_true")
    return parser


def _cache(args, services) -> int:
    from benchmarks.cache import render_cache_benchmark, run_cache_benchmark

    result = run_cache_benchmark(services, args.questions, log=errors.print)
    print(json.dumps(result, ensure_ascii=False, indent=2)) if args.json else console.print(
        render_cache_benchmark(result))
    return 0


def _slack(args, services) -> int:
    from benchmarks.slack import run_slack_benchmark

    print(json.dumps(run_slack_benchmark(services, args.mentions, args.local_mentions, log=errors.print), indent=2))
    return 0


def _embedders(args, services) -> int:
    from benchmarks.embedders import run_embedder_benchmark

    print(json.dumps(run_embedder_benchmark(args.squad_json, args.paragraphs, log=errors.print), indent=2))
    return 0


def _answer_checks(args, services) -> int:
    from benchmarks.answer_checks import render_answer_checks, run_answer_checks_benchmark

    result = run_answer_checks_benchmark(services, args.squad_json, answers=args.answers, paragraphs=args.paragraphs,
                                         seed=args.seed, reuse_index=args.reuse_index,
                                         log=None if args.json else errors.print)
    print(json.dumps(result, indent=2)) if args.json else console.print(render_answer_checks(result))
    return 0


def _tables(args, services) -> int:
    from benchmarks.tables import render_tables, run_tables_benchmark

    result = run_tables_benchmark(services, seed=args.seed, keep=args.keep, log=None if args.json else errors.print)
    print(json.dumps(result, indent=2)) if args.json else console.print(render_tables(result))
    return 0


def _retrieval(args, services) -> int:
    from benchmarks.retrieval import render_table, run_retrieval_benchmark

    with progress_bar("benchmark") as progress:
        result = run_retrieval_benchmark(services, args.squad_json, questions=args.questions, seed=args.seed,
                                         log=None if args.json else errors.print, progress=progress,
                                         reuse_index=args.reuse_index)
    print(json.dumps(result, indent=2)) if args.json else console.print(render_table(result))
    return 0


_COMMANDS = {"retrieval": _retrieval, "slack": _slack, "cache": _cache, "embedders": _embedders,
             "answer-checks": _answer_checks, "tables": _tables}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run(_COMMANDS[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
