"""python -m bot: the command line (also installed as `kb`)."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.errors import InvalidInput, KBError

console = Console(soft_wrap=True)
errors = Console(stderr=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Team knowledge assistant for Slack.")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply Alembic migrations")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", help="revert Alembic migrations (base = drop the schema)")
    down.add_argument("revision")
    db_sub.add_parser("current", help="print the schema revision")

    index = sub.add_parser("index", help="index files and folders (Markdown, text, HTML, PDF)")
    index.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    index.add_argument("--collection", help="collection name (default: DEFAULT_COLLECTION)")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    index.add_argument("--allow-empty", action="store_true",
                       help="remove the documents of a folder that is now empty or unreadable (default: keep them)")

    search = sub.add_parser("search", help="hybrid search over the knowledge base")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=None, help="number of results")
    search.add_argument("--collection", action="append", help="only this collection (repeatable)")
    search.add_argument("--mode", choices=["hybrid", "vector", "keyword"], default="hybrid")
    search.add_argument("--json", action="store_true", help="print a JSON list")

    sub.add_parser("collections", help="list collections with document and chunk counts")
    clear = sub.add_parser("clear", help="a flagged document (text aimed at an assistant) answers again, once read")
    clear.add_argument("source", help="its path, address or title, as `collections` lists it")
    clear.add_argument("--collection", help="only in this collection")
    sub.add_parser("doctor", help="check this machine and configuration: database, models, Slack, sources")

    ask = sub.add_parser("ask", help="answer a question with the whole pipeline (rewrite, retrieve, generate, cite)")
    ask.add_argument("question")
    ask.add_argument("--model", choices=["hosted", "local"], help="override MODEL_POLICY for this question")
    ask.add_argument("--collection", action="append", help="only this collection (repeatable)")
    ask.add_argument("--history", action="append", default=[], metavar="TEXT",
                     help="an earlier message of the thread, oldest first; alternates user, assistant, user …")
    ask.add_argument("--no-cache", action="store_true", help="ask the model even if an approved answer matches")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")

    serve = sub.add_parser("serve", help="run the Slack bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP)")
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument("--http", action="store_true", help="HTTP mode: POST /slack/events on PORT")
    mode.add_argument("--socket", action="store_true", help="Socket Mode (needs SLACK_APP_TOKEN)")
    serve.add_argument("--host", default="0.0.0.0")

    purge = sub.add_parser("purge", help="delete the interaction log, comments, Slack claims and admin actions "
                                         "older than an age (answers in the approved-answer cache stay, redacted)")
    purge.add_argument("--older-than", metavar="AGE", help="90d, 12h or 2w (default: RETENTION_DAYS days)")

    export = sub.add_parser("export", help="approved/rejected answers as fine-tuning or evaluation data (JSONL)")
    export_sub = export.add_subparsers(dest="export_command", required=True)
    training = export_sub.add_parser("training", help="fine-tuning data from approved, curated and 👎 answers")
    training.add_argument("--format", choices=["chat", "preference"], required=True,
                          help="chat: OpenAI fine-tuning messages; preference: prompt/chosen/rejected pairs")
    eval_export = export_sub.add_parser("eval", help="questions with their approved source documents")
    for p in (training, eval_export):
        p.add_argument("--since", type=_date, help="only answers from this day on (YYYY-MM-DD)")
        p.add_argument("--out", type=Path, help="write to FILE (default: standard output)")
        p.add_argument("--collection", action="append", default=[], metavar="NAME",
                       help="only answers from these collections' documents (repeat for more; names a "
                            "confidential collection to include it)")
        p.add_argument("--exclude-collection", action="append", default=[], metavar="NAME",
                       help="leave out answers that used this collection's documents (repeatable)")

    return parser


def _date(value: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, not {value!r}") from None


def stop_on_sigterm() -> None:
    """SIGTERM exits like Ctrl-C, so exit hooks run (the embedded PostgreSQL stops with its last user).
    `serve` replaces this with its own graceful shutdown."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "doctor":  # checks the settings itself, so it runs even when they are invalid
        start()
        return _doctor()
    return run(_COMMANDS[args.command], args)


def start() -> None:
    """What every command line of the project does first: log warnings, exit cleanly on SIGTERM."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    stop_on_sigterm()


def run(command, args: argparse.Namespace) -> int:
    """Run `command(args, services)` with Settings from the environment; errors become a short message and
    an exit code (2: invalid settings, 1: a failure the message explains, 130: interrupted). The tools
    (`python -m evals`, `python -m benchmarks`) run their commands through this too."""
    start()
    from pydantic import ValidationError

    from bot.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        errors.print(f"[red]Invalid settings:[/red]\n{exc}")
        return 2
    from bot.services import Services

    services = Services(settings)
    try:
        return command(args, services)
    except (KBError, OSError) as exc:  # OSError: a path named on the command line
        errors.print(f"[red]error:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        errors.print("interrupted")
        return 130
    finally:
        services.close()


def _doctor() -> int:
    from bot.doctor import print_report

    return print_report(console)


def _db(args, services) -> int:
    from retrieval.db import current_revision, downgrade, upgrade

    if args.db_command == "upgrade":
        upgrade(services.engine, args.revision)  # engine creation already upgrades to head
    elif args.db_command == "downgrade":
        downgrade(services.engine, args.revision)
    console.print(f"schema revision: {current_revision(services.engine)}")
    return 0


@contextmanager
def progress_bar(label: str, enabled: bool = True):
    """A rich progress bar on stderr; yields the callback the indexer reports to."""
    with Progress(
        TextColumn(f"[bold]{label}[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}", style="dim"), console=errors, transient=True, disable=not enabled,
    ) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int | None, source: str) -> None:
            bar.update(task, completed=done, total=total, description=Path(source).name[:40])

        yield progress


def _index(args, services) -> int:
    collection = args.collection or services.settings.default_collection
    with progress_bar("indexing", enabled=not args.json) as progress:
        report = services.indexer.index_paths(args.paths, collection, progress, allow_empty=args.allow_empty)
    retired = services.answer_cache.sweep()
    if args.json:
        print(json.dumps({**report.as_dict(), "cached_answers_retired": retired}, ensure_ascii=False, indent=2))
    else:
        _print_report(report)
        if retired:
            console.print(f"{retired} cached answers retired: a document they rest on changed or was removed")
    for folder, why, kept in report.empty_folders:
        errors.print(f"[yellow]warning:[/yellow] {folder} {why}: kept its {kept} document{'s' * (kept != 1)}; "
                     "pass --allow-empty to remove them", highlight=False, soft_wrap=True)
    if report.kept:  # an unmounted share must not look like a successful run
        return 1
    return 1 if report.failed and not (report.added or report.updated or report.unchanged) else 0


def _print_report(report) -> None:
    counts = report.counts()
    summary = ", ".join(f"{n} {label}" for label, n in counts.items())
    console.print(f"[bold]{report.collection}[/bold]: {summary} "
                  f"({report.chunks_written} chunks written, {report.seconds:.2f} s)")
    if report.floors:
        floors = ", ".join(f"{similarity:.3f} ({lang})" for lang, similarity in report.floors.items())
        console.print(f"\"I don't know\" calibrated: the floor is similarity {floors}")
    if report.reembedded_chunks:
        console.print(f"re-embedded {report.reembedded_chunks} chunks for the new embedding model")
    if report.failed:
        table = Table("failed file", "reason", title="Not indexed", title_justify="left")
        for source, reason in report.failed:
            table.add_row(source, reason)
        console.print(table)


def _search(args, services) -> int:
    import dataclasses

    params = services.settings.retrieval_params
    k = args.k or params.k
    params = dataclasses.replace(params, k=k, candidates=max(params.candidates, k), mode=args.mode)
    hits = services.searcher.search(args.query, params, collections=args.collection)
    if args.json:
        print(json.dumps([h.as_dict() for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        console.print("no results")
        return 0
    for rank, hit in enumerate(hits, 1):
        where = f"{hit.title} › {hit.section}" if hit.section else hit.title
        console.print(f"[bold]{rank}.[/bold] [cyan]{where}[/cyan]  score {hit.score:.4f}  "
                      f"[dim]{hit.url or hit.source} ({hit.collection})[/dim]")
        snippet = " ".join(hit.text.split())
        console.print(f"   {snippet[:240]}{'…' if len(snippet) > 240 else ''}", markup=False, highlight=False)
    return 0


def _collections(args, services) -> int:
    from rich.text import Text

    from retrieval.injection import FLAGGED_USE
    from retrieval.store import collection_summaries, flagged_documents

    table = Table("collection", "documents", "chunks", "flagged", "embedding model", "last indexed")
    for row in collection_summaries(services.engine):
        table.add_row(row["name"], str(row["documents"]), str(row["chunks"]), str(row["flagged"]),
                      row["embedding_model"], str(row["last_indexed_at"] or "never"))
    console.print(table)
    total, flagged = flagged_documents(services.engine, limit=1000)
    if flagged:
        used = FLAGGED_USE[services.settings.flagged_documents]
        listing = Table("collection", "document", "pattern", "excerpt", title_justify="left",
                        title=f"Flagged documents: text aimed at an assistant, {used}")
        for doc in flagged:  # document text: Text() so rich reads no markup in it
            for flag in doc.flags:
                listing.add_row(Text(doc.collection), Text(f"{doc.title}\n{doc.source}"), flag["pattern"],
                                Text(flag["excerpt"]))
        console.print(listing)
        if total > len(flagged):
            console.print(f"… and {total - len(flagged)} more flagged documents")
        console.print("Read one, then let it answer again: python -m bot clear SOURCE")
    return 0


def _clear(args, services) -> int:
    from retrieval.store import clear_flags

    cleared = clear_flags(services.engine, args.source, by=f"cli:{getpass.getuser()}", collection=args.collection)
    if not cleared:
        errors.print(f"No flagged document at {args.source}" + (f" in {args.collection}" if args.collection else ""))
        return 1
    console.print(f"Cleared: {', '.join(cleared)} (flagged again if its text changes)")
    return 0


def _ask(args, services) -> int:
    from answering.types import Question, Route

    roles = ("user", "assistant")
    history = tuple((roles[i % 2], text) for i, text in enumerate(args.history))
    question = Question(args.question, history=history, model=args.model, use_cache=not args.no_cache,
                        collections=tuple(args.collection) if args.collection else None)
    answer = services.pipeline.answer(question)
    if args.json:
        print(json.dumps(answer_as_dict(answer), ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)
    return 1 if answer.route == Route.ERROR else 0


def answer_as_dict(answer) -> dict:
    import dataclasses

    return dataclasses.asdict(answer)


def _print_answer(answer) -> None:
    from rich.markup import escape

    from answering.prompts import CLOSEST, EVIDENCE
    from answering.types import Route

    console.print(answer.text, markup=False, highlight=False)
    if answer.route == Route.ANSWER and answer.evidence:
        console.print()
        console.print(EVIDENCE[answer.language], highlight=False)
        for passage in answer.evidence:
            console.print(f"[dim]  > {escape(passage.text)} [{passage.number}][/dim]", highlight=False)
    for notice in answer.notices:
        console.print(f"[yellow]{notice}[/yellow]", highlight=False)
    if answer.sources:
        console.print()
        if answer.route == Route.DONT_KNOW:
            console.print(CLOSEST[answer.language], highlight=False)
        for src in answer.sources:
            console.print(f"[bold][{src.number}][/bold] [cyan]{src.heading}[/cyan] [dim]{src.url or src.source}[/dim]",
                          highlight=False)
    if answer.route == Route.ANSWER and not answer.verified and answer.uncited:
        for src in answer.uncited:
            console.print(f"[dim]({src.number}) {src.heading} {src.url or src.source}[/dim]", highlight=False)
    timing = "  ".join(f"{k} {v:.0f} ms" for k, v in answer.latency_ms.items())
    model = f"model {answer.model}" if answer.model else "no model call"
    if answer.route == Route.CACHED:
        model += " · curated answer" if answer.curated else f" · approved by {answer.approvals}"
    console.print(f"\n[dim]route {answer.route} · {model} · {timing} · log #{answer.interaction_id}[/dim]",
                  highlight=False)


def _serve(args, services) -> int:
    from bot.slack.server import serve_http, serve_socket_mode

    settings = services.settings
    app_token = settings.slack_app_token.get_secret_value()
    socket = args.socket or (app_token and not args.http)
    if socket and not app_token:
        raise InvalidInput("Socket Mode needs SLACK_APP_TOKEN (an xapp- token with connections:write)")
    bot = services.slack_bot  # builds the pipeline too, before the first question
    if socket:
        serve_socket_mode(bot, app_token)
    else:
        serve_http(bot, args.host, settings.port)
    return 0


def _purge(args, services) -> int:
    from feedback.retention import parse_age, purge

    days = services.settings.retention_days
    if args.older_than is None and not days:
        raise InvalidInput("say how old: --older-than 90d (or set RETENTION_DAYS)")
    said = args.older_than if args.older_than is not None else f"{days}d"
    report = purge(services.engine, parse_age(said))
    console.print(f"purged what is older than {said.strip()}: {report.summary()}", highlight=False)
    return 0


def _export(args, services) -> int:
    from feedback.exports import dumps

    exporter = services.exporter
    from retrieval.store import collection_names

    unknown = sorted(set(args.collection + args.exclude_collection) - set(collection_names(services.engine)))
    if unknown:
        errors.print(f"[yellow]warning:[/yellow] no collection named {', '.join(unknown)} (python -m bot collections)")
    chosen = (args.since, args.collection, args.exclude_collection)
    if args.export_command == "eval":
        records, report = exporter.eval_set(*chosen)
    elif args.format == "chat":
        records, report = exporter.chat(*chosen)
    else:
        records, report = exporter.preference(*chosen)
    body = dumps(records)
    if args.out:
        args.out.write_text(body, encoding="utf-8")
    else:
        print(body, end="")
    errors.print(f"{args.export_command}: {report.summary()}" + (f" → {args.out}" if args.out else ""))
    return 0


_COMMANDS = {"clear": _clear, "db": _db, "index": _index, "search": _search, "collections": _collections, "ask": _ask,
             "serve": _serve, "purge": _purge, "export": _export}
