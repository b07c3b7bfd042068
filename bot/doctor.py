"""python -m bot doctor: is this machine and this configuration ready? One line per check, with
the fix when it fails; the exit status is non-zero when any check fails.

Each check returns a Check; a check that cannot run because an earlier one failed is skipped.
Nothing here changes data: the database checks run in transactions that are rolled back.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.paths import SLACK_MANIFEST

OK, FAIL, SKIP, WARN = "ok", "fail", "skip", "warn"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


class Doctor:
    """Runs the checks in order; later checks reuse what earlier ones built (settings, engine)."""

    def __init__(self, environ: dict | None = None) -> None:
        self.environ = environ
        self.settings = None
        self.engine = None
        self.schema_current = False  # set by the migrations check, read by the collections check

    def checks(self) -> list[Callable[[], Check]]:
        return [self.python, self.cpu, self.load_settings, self.database, self.pgvector, self.migrations,
                self.embedder, self.local_model, self.hosted_model, self.slack, self.sources, self.collections,
                self.flagged]

    def run(self, report: Callable[[Check], None]) -> bool:
        healthy = True
        try:
            for check in self.checks():
                try:
                    result = check()
                except Exception as exc:  # a check that crashes is a failed check, not a crashed doctor
                    result = Check(check.__name__.replace("_", " "), FAIL, f"{type(exc).__name__}: {exc}")
                healthy &= result.status != FAIL
                report(result)
        finally:
            if self.engine is not None:
                self.engine.dispose()
        return healthy

    # -- the machine ----------------------------------------------------------------------

    def python(self) -> Check:
        version = platform.python_version()
        if sys.version_info < (3, 11):
            return Check("python", FAIL, f"Python {version}", "install Python 3.11 or newer")
        return Check("python", OK, f"Python {version} on {platform.system()} {platform.machine()}")

    def cpu(self) -> Check:
        flags = cpu_flags()
        machine = platform.machine()
        if machine not in ("x86_64", "AMD64") or flags is None:
            return Check("cpu", OK, f"{machine}, {os.cpu_count()} cores")
        features = ", ".join(f for f in ("avx", "avx2", "fma", "f16c", "avx512f") if f in flags)
        detail = f"x86-64, {os.cpu_count()} cores, {features or 'no AVX'}"
        if "avx2" not in flags:
            return Check("cpu", FAIL, detail + ": the embedded PostgreSQL's pgvector and the default llama.cpp "
                         "build need AVX2",
                         "set DATABASE_URL to a PostgreSQL server with pgvector, and reinstall llama-cpp-python with "
                         "CMAKE_ARGS='-DGGML_NATIVE=ON'")
        return Check("cpu", OK, detail)

    # -- configuration and database -------------------------------------------------------

    def load_settings(self) -> Check:
        from pydantic import ValidationError

        from bot.settings import Settings

        try:
            self.settings = Settings()
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())).upper() or "settings"
            return Check("settings", FAIL, f"{where}: {first.get('msg')}", "fix it in .env (see .env.example)")
        s = self.settings
        where = "DATABASE_URL" if s.database_url else f"embedded PostgreSQL in {s.kb_data_dir}"
        return Check("settings", OK, f"policy {s.model_policy}, {where}, embeddings {s.embedding_backend}")

    def database(self) -> Check:
        if self.settings is None:
            return Check("database", SKIP, "settings are invalid")
        from sqlalchemy import text

        from core.errors import DatabaseError
        from retrieval.db import make_engine, resolve_url

        s = self.settings
        try:
            url = resolve_url(s.database_url, s.kb_data_dir)
        except DatabaseError as exc:
            return Check("database", FAIL, str(exc), "see the log named above, or set DATABASE_URL")
        engine = make_engine(url, pool_size=1, connect_timeout=5)
        shown = url.render_as_string(hide_password=True)
        try:
            with engine.connect() as conn:
                version = conn.execute(text("SHOW server_version")).scalar()
        except Exception as exc:
            engine.dispose()
            return Check("database", FAIL, f"cannot connect to {shown}: {_first_line(exc)}",
                         "start the server or fix DATABASE_URL (unset it for the embedded server)")
        self.engine = engine
        return Check("database", OK, f"PostgreSQL {version} at {shown}")

    def pgvector(self) -> Check:
        if self.engine is None:
            return Check("pgvector", SKIP, "no database")
        from sqlalchemy import text

        from core.errors import DatabaseError
        from retrieval.db import check_vectors

        try:
            check_vectors(self.engine)
        except DatabaseError as exc:
            return Check("pgvector", FAIL, str(exc))
        with self.engine.connect() as conn:
            version = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
            available = conn.execute(text("SELECT default_version FROM pg_available_extensions "
                                          "WHERE name = 'vector'")).scalar()
        shown = version or f"{available} (created by the first migration)"
        return Check("pgvector", OK, f"pgvector {shown}: a 384-dimension distance round trip works")

    def migrations(self) -> Check:
        if self.engine is None:
            return Check("migrations", SKIP, "no database")
        from retrieval.db import current_revision, head_revision

        current, head = current_revision(self.engine), head_revision()
        self.schema_current = current == head
        if current == head:
            return Check("migrations", OK, f"schema at {head} (head)")
        return Check("migrations", FAIL, f"schema at {current or 'nothing'}, the code expects {head}",
                     "run `python -m bot db upgrade` (any command also does it on start)")

    # -- models ---------------------------------------------------------------------------

    def embedder(self) -> Check:
        if self.settings is None:
            return Check("embedder", SKIP, "settings are invalid")
        from models import make_embedder

        started = time.perf_counter()
        embedder = make_embedder(self.settings.embedder_config)
        vectors = embedder.embed_array(["How many vacation days do interns get?", "휴가 신청은 어떻게 하나요?"])
        return Check("embedder", OK, f"{embedder.name}: {vectors.shape[1]} dimensions "
                     f"({(time.perf_counter() - started) * 1000:.0f} ms with loading)")

    def local_model(self) -> Check:
        if self.settings is None:
            return Check("local model", SKIP, "settings are invalid")
        from models.chat import ChatModels

        models = ChatModels(self.settings.chat_config)
        config = models.config("local")
        tokens = models.count_tokens("local", "How many vacation days do interns get?")
        return Check("local model", OK, f"{os.path.basename(config.model_path)} loads ({tokens} tokens in a "
                     f"test question, {config.context_tokens}-token window)")

    def hosted_model(self) -> Check:
        if self.settings is None or not self.settings.hosted_configured:
            return Check("hosted model", SKIP, "not configured (HOSTED_MODEL is empty): the local model answers")
        from langchain_core.messages import HumanMessage

        from core.errors import ModelError
        from models.chat import ChatModels, invoke_chat

        models = ChatModels(self.settings.chat_config)
        config = models.config("hosted")
        started = time.perf_counter()
        try:
            invoke_chat(models.get("hosted"), [HumanMessage("Reply with the word: ok")], max_tokens=5)
        except ModelError as exc:
            return Check("hosted model", FAIL, f"{config.name}: {exc}",
                         "check HOSTED_BASE_URL, HOSTED_API_KEY and HOSTED_MODEL")
        return Check("hosted model", OK, f"{config.name} answered in {(time.perf_counter() - started):.1f} s")

    # -- Slack and sources ----------------------------------------------------------------

    def slack(self) -> Check:
        s = self.settings
        if s is None or not s.slack_bot_token.get_secret_value():
            return Check("slack", SKIP, "not configured (SLACK_BOT_TOKEN is empty): fine for the command line")
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        client = WebClient(token=s.slack_bot_token.get_secret_value(), base_url=s.slack_api_url, timeout=10)
        try:
            auth = client.auth_test()
        except SlackApiError as exc:
            return Check("slack", FAIL, f"auth.test refused the bot token: {exc.response.get('error')}",
                         "copy the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page")
        except Exception as exc:
            return Check("slack", FAIL, f"cannot reach Slack at {s.slack_api_url}: {_first_line(exc)}",
                         "check the network, or SLACK_API_URL")
        who = f"bot @{auth.get('user')} in team {auth.get('team') or auth.get('team_id')}"
        if not s.slack_signing_secret.get_secret_value() and not s.slack_app_token.get_secret_value():
            return Check("slack", FAIL, who + ", but neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN is set",
                         "set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)")
        headers = {k.lower(): v for k, v in (auth.headers or {}).items()}
        scopes = headers.get("x-oauth-scopes") or ""
        granted = {x.strip() for x in (scopes if isinstance(scopes, str) else ",".join(scopes)).split(",")
                   if x.strip()}
        wanted = manifest_scopes()
        if not granted or not wanted:
            return Check("slack", OK, who + " (scopes not reported; compare with slack/manifest.yml)")
        missing = sorted(wanted - granted)
        if missing:
            return Check("slack", FAIL, who + f", missing scopes: {', '.join(missing)}",
                         "add them under OAuth & Permissions (or re-create the app from slack/manifest.yml), "
                         "then reinstall the app")
        return Check("slack", OK, who + f", all {len(wanted)} scopes of slack/manifest.yml granted")

    def sources(self) -> Check:
        s = self.settings
        if s is None or not s.kb_sources:
            return Check("sources", SKIP, "KB_SOURCES is empty: `/kb reindex` has nothing to index")
        problems = []
        for name, paths in s.kb_sources.items():
            for path in paths:
                p = Path(path).expanduser()
                if not p.exists():
                    problems.append(f"{name}: {path} does not exist")
                elif p.is_dir() and not os.access(p, os.R_OK | os.X_OK):
                    problems.append(f"{name}: {path} is not readable")
                elif p.is_dir() and not any(p.iterdir()):
                    problems.append(f"{name}: {path} is empty (not mounted?)")
        if problems:
            return Check("sources", FAIL, "; ".join(problems), "fix KB_SOURCES or the folders it names")
        return Check("sources", OK, f"{sum(len(p) for p in s.kb_sources.values())} paths in "
                     f"{len(s.kb_sources)} sources exist")

    def collections(self) -> Check:
        if self.engine is None or self.settings is None:
            return Check("collections", SKIP, "no database")
        from retrieval.store import collection_summaries

        if not self.schema_current:
            return Check("collections", SKIP, "schema not current")
        s = self.settings
        rows = collection_summaries(self.engine)
        known = {r["name"] for r in rows}
        named = set(s.channel_collections) | set(s.confidential_collections)
        unknown = sorted(named - known)
        detail = ", ".join(f"{r['name']} ({r['documents']} documents)" for r in rows) or "none yet"
        if unknown:
            return Check("collections", WARN, f"{detail}; settings name collections not indexed yet: "
                         f"{', '.join(unknown)}", "index them, or fix CHANNEL_COLLECTIONS / CONFIDENTIAL_COLLECTIONS")
        if not rows:
            return Check("collections", WARN, "the knowledge base is empty",
                         "python -m bot index PATH (try samples/handbook)")
        return Check("collections", OK, detail)

    def flagged(self) -> Check:
        if self.engine is None or self.settings is None or not self.schema_current:
            return Check("flagged", SKIP, "no database" if self.engine is None else "schema not current")
        from retrieval.injection import FLAGGED_USE
        from retrieval.store import flagged_documents

        total, docs = flagged_documents(self.engine, limit=3)
        if not total:
            return Check("flagged", OK, "no document addresses an assistant")
        named = ", ".join(f"{d.title} ({d.collection})" for d in docs) + (" …" if total > len(docs) else "")
        used = FLAGGED_USE[self.settings.flagged_documents]
        return Check("flagged", WARN, f"{total} document{'s' * (total != 1)} with text aimed at an assistant, "
                     f"{used}: {named}",
                     "read them (`python -m bot collections` shows the passages); fix or remove them, or let one "
                     "answer again with `python -m bot clear SOURCE`")


def print_report(console) -> int:
    """Run every check, printing a line each (and the fix under a failure) to a rich ``console``;
    returns the exit status."""
    from rich.markup import escape

    marks = {OK: "[green]✓[/green]", FAIL: "[red]✗[/red]", SKIP: "[dim]–[/dim]"}

    def report(check: Check) -> None:
        mark = marks.get(check.status, "[yellow]![/yellow]")
        console.print(f"{mark} [bold]{check.name:<12}[/bold] {escape(check.detail)}", highlight=False)
        if check.fix:
            console.print(f"  [dim]fix:[/dim] {escape(check.fix)}", highlight=False)

    healthy = Doctor().run(report)
    console.print("all checks passed" if healthy else "[red]some checks failed[/red]", highlight=False)
    return 0 if healthy else 1


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags (Linux), or None where /proc/cpuinfo does not tell."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def manifest_scopes() -> set[str]:
    """The bot scopes slack/manifest.yml asks for (empty when the file is not there)."""
    import yaml

    try:
        manifest = yaml.safe_load(SLACK_MANIFEST.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return set()
    return set(((manifest.get("oauth_config") or {}).get("scopes") or {}).get("bot") or [])


def _first_line(exc: Exception) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0][:300]
