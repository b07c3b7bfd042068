"""/kb status | sources | feedback | reindex [SOURCE]: admins only, every attempt logged."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from slack_sdk import WebClient
from sqlalchemy import text

from bot import blocks, slack_store
from bot.mrkdwn import escape
from bot.settings import Settings
from retrieval.answer_cache import AnswerCacheStore
from retrieval.ingest import Indexer
from retrieval.store import collection_summaries

log = logging.getLogger(__name__)
ADMIN_CACHE_SECONDS = 600
USAGE = "Usage: `/kb status`, `/kb sources`, `/kb feedback`, `/kb reindex [SOURCE]`"
REFUSAL = "Sorry, `/kb {sub}` is for knowledge-base admins. Ask one of them, or use `/ask` for questions."


class Admin:
    def __init__(self, settings: Settings, engine, indexer: Callable[[], Indexer],
                 answer_cache: AnswerCacheStore | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.answer_cache = answer_cache
        self._indexer = indexer
        self._cache: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()
        self._reindexing = threading.Lock()
        self.background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reindex")

    def is_admin(self, client: WebClient, user: str) -> bool:
        """Listed in SLACK_ADMIN_USERS, or a workspace admin/owner (users.info, cached)."""
        if user in self.settings.slack_admin_users:
            return True
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(user)
            if hit and now - hit[0] < ADMIN_CACHE_SECONDS:
                return hit[1]
        info = client.users_info(user=user).get("user") or {}
        allowed = bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
        with self._lock:
            self._cache[user] = (now, allowed)
        return allowed

    def command(self, client: WebClient, user: str, text_: str, respond: Callable) -> None:
        words = text_.split()
        sub = words[0].lower() if words else ""
        if sub not in ("status", "sources", "feedback", "reindex"):
            respond(text=USAGE, response_type="ephemeral")
            return
        allowed = self.is_admin(client, user)
        slack_store.log_admin(self.engine, user, f"kb {sub}", allowed, {"args": words[1:]})
        if not allowed:
            respond(text=REFUSAL.format(sub=sub), response_type="ephemeral")
            return
        if sub == "status":
            respond(text=self.status(), response_type="ephemeral")
        elif sub == "sources":
            respond(text=self.sources(), response_type="ephemeral")
        elif sub == "feedback":
            text_, built = blocks.feedback_review(slack_store.downvoted(self.engine, limit=10))
            respond(text=text_, blocks=built, response_type="ephemeral")
        else:
            self.reindex(user, words[1] if len(words) > 1 else None, respond)

    def status(self) -> str:
        s = self.settings
        rows = collection_summaries(self.engine)
        stats = slack_store.answer_stats(self.engine)
        lines = ["*Knowledge base*"]
        for r in rows:
            when = f"{r['last_indexed_at']:%Y-%m-%d %H:%M} UTC" if r["last_indexed_at"] else "never"
            lines.append(f"• *{escape(r['name'])}*: {r['documents']} documents, {r['chunks']} chunks, "
                         f"last reindex {when}")
        if not rows:
            lines.append("• empty: run `/kb reindex`")
        local = escape(s.local_model_path.rsplit("/", 1)[-1] or "SmolLM2-135M-Instruct (default)")
        hosted = escape(s.hosted_model) if s.hosted_model else "not configured"
        lines += ["*Model routing*",
                  f"• policy `{s.model_policy}` · hosted {hosted} · local {local}",
                  f"• confidential (always local): {escape(', '.join(s.confidential_collections) or 'none')}",
                  "*Answers in Slack*"]
        routes = stats["routes"]
        total = sum(routes.values())
        lines.append("• " + (", ".join(f"{k} {v}" for k, v in sorted(routes.items())) if routes else "none yet")
                     + f" (total {total})")
        votes = stats["up"] + stats["down"]
        rate = f"{stats['up'] / votes:.0%} 👍" if votes else "no votes yet"
        lines.append(f"• votes: {stats['up']} 👍, {stats['down']} 👎 ({rate})")
        if self.answer_cache is not None:
            c = self.answer_cache.stats()
            lines += ["*Approved-answer cache*",
                      f"• {c['active']} active, {c['demoted']} demoted, {c['stale']} stale · "
                      f"{c['served']} answers served from it (`/kb feedback` reviews 👎)"]
        return "\n".join(lines)

    def sources(self) -> str:
        lines = []
        for name, paths in self.settings.kb_sources.items():
            lines.append(f"• `{escape(name)}`: {escape(', '.join(paths))}")
        with self.engine.connect() as conn:
            docs = conn.execute(text("SELECT c.name, d.title FROM documents d JOIN collections c "
                                     "ON c.id = d.collection_id ORDER BY c.name, d.title")).all()
        head = "*Reindex sources* (`/kb reindex NAME`)\n" + ("\n".join(lines) or "• none: set KB_SOURCES")
        by: dict[str, list[str]] = {}
        for name, title in docs:
            by.setdefault(name, []).append(title)
        body = "\n".join(f"*{escape(n)}* ({len(t)}): " + escape("; ".join(t[:40])) + (" …" if len(t) > 40 else "")
                         for n, t in by.items())
        return f"{head}\n*Indexed*\n{body or 'nothing yet'}"[:3900]

    def open_curation(self, client: WebClient, user: str, interaction_id: int | None, trigger_id: str | None) -> None:
        """The "Write the correct answer" button under /kb feedback: open the modal (admins only)."""
        allowed = self.is_admin(client, user)
        slack_store.log_admin(self.engine, user, "kb curate open", allowed, {"interaction": interaction_id})
        asked = slack_store.question_of(self.engine, interaction_id) if interaction_id is not None else None
        if not allowed or asked is None or not trigger_id:
            return
        with self.engine.connect() as conn:
            previous = conn.execute(text("SELECT coalesce(e.answer, i.answer) FROM interactions i "
                                         "LEFT JOIN cached_answers e ON e.interaction_id = i.id WHERE i.id = :i"),
                                    {"i": interaction_id}).scalar()
        client.views_open(trigger_id=trigger_id, view=blocks.curate_modal(interaction_id, asked["question"],
                                                                          previous or ""))

    def save_curation(self, client: WebClient, user: str, interaction_id: int | None, answer: str) -> None:
        """The modal was submitted: the admin's answer becomes a curated cached answer."""
        allowed = self.is_admin(client, user) and self.answer_cache is not None and interaction_id is not None
        slack_store.log_admin(self.engine, user, "kb curate", allowed,
                              {"interaction": interaction_id, "chars": len(answer)})
        if not allowed:
            return
        entry = self.answer_cache.curate(interaction_id, answer, user)
        log.info("curated answer %s for #%s by %s", entry, interaction_id, user)

    def reindex(self, user: str, name: str | None, respond: Callable) -> None:
        sources = self.settings.kb_sources
        if not sources:
            respond(text="No reindex sources are configured: set KB_SOURCES (collection=PATH,…).",
                    response_type="ephemeral")
            return
        if name and name not in sources:
            respond(text=f"Unknown source `{escape(name)}`. Known: {escape(', '.join(sources))}.",
                    response_type="ephemeral")
            return
        if not self._reindexing.acquire(blocking=False):
            respond(text="A reindex is already running; its summary will follow.", response_type="ephemeral")
            return
        chosen = {name: sources[name]} if name else dict(sources)
        respond(text=f"Reindexing {escape(', '.join(chosen))} in the background…", response_type="ephemeral")
        self.background.submit(self._run_reindex, user, chosen, respond)

    def _run_reindex(self, user: str, chosen: dict[str, list[str]], respond: Callable) -> None:
        try:
            lines = []
            summary: dict = {}
            for done, (collection, paths) in enumerate(chosen.items()):
                if 0 < done <= 3:  # a response_url takes five messages: start, up to three of these, summary
                    respond(text=f"… {done}/{len(chosen)} sources done, now {escape(collection)}",
                            response_type="ephemeral")
                report = self._indexer().index_paths([Path(p) for p in paths], collection)
                summary[collection] = report.counts()
                counts = ", ".join(f"{n} {label}" for label, n in report.counts().items())
                lines.append(f"*{escape(collection)}*: {counts} ({report.seconds:.1f} s)")
                for source, reason in report.failed[:20]:
                    lines.append(f"  ✗ {escape(Path(source).name)}: {escape(reason)}")
            retired = self.answer_cache.sweep() if self.answer_cache is not None else 0
            if retired:
                lines.append(f"{retired} cached answers retired: a document they rest on changed or was removed")
            slack_store.log_admin(self.engine, user, "kb reindex done", True, summary)
            respond(text="Reindex finished.\n" + "\n".join(lines), response_type="ephemeral")
        except Exception as exc:
            log.exception("reindex failed")
            slack_store.log_admin(self.engine, user, "kb reindex failed", True, {"error": str(exc)[:500]})
            respond(text=f"Reindex failed: {escape(str(exc)[:500])}", response_type="ephemeral")
        finally:
            self._reindexing.release()
