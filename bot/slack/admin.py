"""/kb status | sources | feedback | reindex [SOURCE]: admins only, every attempt logged."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Callable

from slack_sdk import WebClient
from sqlalchemy import Engine, text

from answering.prompts import MAX_STYLE_CHARS
from bot.slack import blocks
from bot.slack.background import DRAIN_SECONDS, Background
from bot.slack.channels import MODES, Channels, describe
from bot.slack.config import SlackConfig
from bot.slack.mrkdwn import escape, plain
from bot.slack.visibility import Audience, Visibility
from feedback import votes
from feedback.answer_cache import AnswerCacheStore
from feedback.log import question_of
from retrieval.ingest import Indexer, IndexReport
from retrieval.injection import FLAGGED_USE
from retrieval.store import FlaggedDocument, clear_flags, collection_names, collection_summaries, flagged_documents

log = logging.getLogger(__name__)
ADMIN_CACHE_SECONDS = 600
USAGE = ("Usage: `/kb status`, `/kb sources`, `/kb feedback`, `/kb reindex [SOURCE]`, `/kb clear SOURCE` (a flagged "
         "document answers again), "
         "`/kb channel [mode mention|all|off | collections NAME,…|all | instruction TEXT|none | promote on|off]`")
CHANNEL_USAGE = ("Usage: `/kb channel`, `/kb channel mode mention|all|off`, `/kb channel collections NAME,…|all`, "
                 "`/kb channel instruction TEXT|none` (how answers here should read, e.g. "
                 "“Answer formally, in bullet points”), `/kb channel promote on|off` (questions up-voted here "
                 "shown as examples wherever their collections may be seen; a public channel's only)")
REFUSAL = "Sorry, `/kb {sub}` is for knowledge-base admins. Ask one of them, or use `/ask` for questions."
REINDEX_SECONDS = 30 * 60
FLAGGED_SHOWN = 10


def log_admin(engine: Engine, user: str, action: str, allowed: bool, detail: dict | None = None) -> None:
    """Record an admin action in the ``admin_actions`` audit log: every /kb attempt, allowed or not."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO admin_actions (user_id, action, allowed, detail) "
                          "VALUES (:u, :a, :ok, CAST(:d AS jsonb))"),
                     {"u": user, "a": action, "ok": allowed, "d": json.dumps(detail or {}, ensure_ascii=False)})


class _Reindex:
    """One /kb reindex. The work and its deadline race to end it: the first to call ``end`` owns the
    last message, and the "already running" lock is freed exactly once."""

    def __init__(self, lock: threading.Lock) -> None:
        self.cancel = threading.Event()
        self.future: Future | None = None
        self.timer: threading.Timer | None = None
        self._lock = lock
        self._guard = threading.Lock()
        self._ended = False

    def end(self) -> bool:
        with self._guard:
            if self._ended:
                return False
            self._ended = True
        if self.timer is not None:
            self.timer.cancel()
        self._lock.release()
        return True


class Admin:
    """What /kb and the curation modal do, behind the admin check; reindexes run in ``background``."""

    def __init__(self, config: SlackConfig, engine, indexer: Callable[[], Indexer], visibility: Visibility,
                 answer_cache: AnswerCacheStore | None = None, reindex_seconds: float = REINDEX_SECONDS,
                 drain_seconds: float = DRAIN_SECONDS, channels: Channels | None = None) -> None:
        """``reindex_seconds``: a reindex still running after that is stopped and reported, so it cannot
        hold the "already running" lock for ever; ``drain_seconds``: how long shutdown waits for it.
        What /kb shows an admin follows ``visibility``, as for anyone: their reply is theirs alone."""
        self.config = config
        self.visibility = visibility
        self.channels = channels or Channels(engine)
        self.engine = engine
        self.answer_cache = answer_cache
        self.reindex_seconds = reindex_seconds
        self._indexer = indexer
        self._cache: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()
        self._reindexing = threading.Lock()
        self._current: _Reindex | None = None
        self.background = Background(drain_seconds, on_shutdown=self._stop_reindex)

    def is_admin(self, client: WebClient, user: str) -> bool:
        """Listed in SLACK_ADMIN_USERS, or a workspace admin/owner (users.info, cached)."""
        if user in self.config.admin_users:
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

    def command(self, client: WebClient, user: str, text_: str, respond: Callable, channel: str | None = None) -> None:
        """``/kb text_`` from ``user`` in ``channel``: usage for an unknown subcommand; a known one is logged,
        then run or refused."""
        words = text_.split()
        sub = words[0].lower() if words else ""
        if sub not in ("status", "sources", "feedback", "reindex", "channel", "clear"):
            respond(text=USAGE, response_type="ephemeral")
            return
        allowed = self.is_admin(client, user)
        log_admin(self.engine, user, f"kb {sub}", allowed, {"args": words[1:]})
        if not allowed:
            respond(text=REFUSAL.format(sub=sub), response_type="ephemeral")
            return
        sees = Audience.alone(user)
        if sub == "status":
            respond(text=self.status(sees), response_type="ephemeral")
        elif sub == "sources":
            respond(text=self.sources(sees), response_type="ephemeral")
        elif sub == "feedback":
            shown = votes.downvoted(self.engine, lambda scope: self.visibility.covers(sees, scope), limit=10)
            text_, built = blocks.feedback_review(shown)
            respond(text=text_, blocks=built, response_type="ephemeral")
        elif sub == "channel":
            respond(text=self.channel(user, channel, words[1:]), response_type="ephemeral")
        elif sub == "clear":
            respond(text=self.clear(user, " ".join(words[1:])), response_type="ephemeral")
        else:
            self.reindex(user, words[1] if len(words) > 1 else None, respond)

    def clear(self, user: str, source: str) -> str:
        """``/kb clear SOURCE``: an admin has read the flagged document and lets it answer again."""
        if not source:
            return "Usage: `/kb clear SOURCE` (the path, address or title `/kb status` lists)."
        names = self.visibility.collections(Audience.alone(user), collection_names(self.engine))
        cleared = [t for name in names for t in clear_flags(self.engine, source, user, collection=name)]
        log_admin(self.engine, user, "kb clear", True, {"source": source, "cleared": cleared})
        if not cleared:
            return f"No flagged document you may see is at {escape(source)}."
        return f"Cleared: {escape(', '.join(cleared))}. It answers again until its text changes."

    def channel(self, user: str, channel: str | None, words: list[str]) -> str:
        """``/kb channel``: this channel's settings; ``mode …`` and ``collections …`` change them."""
        if not channel or channel.startswith("D"):
            return "Run `/kb channel` in the channel you want to set up."
        current = self.channels.get(channel)
        usable = self.visibility.collections(Audience(channel), collection_names(self.engine))
        if len(words) == 2 and words[0].lower() == "mode" and words[1].lower() in MODES:
            current = replace(current, mode=words[1].lower())
        elif len(words) == 2 and words[0].lower() == "collections":
            names = None if words[1].lower() == "all" else tuple(dict.fromkeys(words[1].split(",")))
            unknown = [n for n in names or () if n not in usable]
            if unknown:
                return (f"Not usable here: {escape(', '.join(unknown))}. This channel may use: "
                        f"{escape(', '.join(usable) or 'none')}.")
            current = replace(current, collections=names)
        elif len(words) >= 2 and words[0].lower() == "instruction":
            said = " ".join(words[1:])
            if len(said) > MAX_STYLE_CHARS:
                return f"An instruction is at most {MAX_STYLE_CHARS} characters; this one has {len(said)}."
            current = replace(current, instruction=None if said.lower() in ("none", "clear") else said)
        elif len(words) == 2 and words[0].lower() == "promote" and words[1].lower() in ("on", "off"):
            current = replace(current, promote=words[1].lower() == "on")
        elif words:
            return CHANNEL_USAGE
        if words:
            self.channels.set(current, by=user)
            log_admin(self.engine, user, "kb channel set", True,
                      {"channel": channel, "mode": current.mode, "collections": current.collections,
                       "instruction": current.instruction, "promote": current.promote})
        return f"<#{channel}>: {describe(current, usable)}"

    def channel_lines(self, client: WebClient, user: str) -> list[str]:
        """For an admin's App Home: each set-up channel's behaviour (collections they may not see unnamed)."""
        if not self.is_admin(client, user):
            return []
        known, sees = collection_names(self.engine), Audience.alone(user)
        lines = []
        for c in self.channels.all():
            usable = self.visibility.collections(Audience(c.channel), known)
            lines.append(f"<#{c.channel}>: " + describe(c, tuple(n for n in usable if self.visibility.sees(sees, n))))
        return lines

    def status(self, sees: Audience) -> str:
        s = self.config
        rows = [r for r in collection_summaries(self.engine) if self.visibility.sees(sees, r["name"])]
        stats = votes.answer_stats(self.engine)
        lines = ["*Knowledge base*"]
        for r in rows:
            when = f"{r['last_indexed_at']:%Y-%m-%d %H:%M} UTC" if r["last_indexed_at"] else "never"
            lines.append(f"• *{escape(r['name'])}*: {r['documents']} documents, {r['chunks']} chunks, "
                         f"last reindex {when}")
        if not rows:
            lines.append("• empty: run `/kb reindex`")
        names = [r["name"] for r in rows]
        lines += _flagged_lines(*flagged_documents(self.engine, FLAGGED_SHOWN, names), s.flagged_documents)
        local = escape(s.local_model_path.rsplit("/", 1)[-1] or "SmolLM2-135M-Instruct (default)")
        confidential = [c for c in s.confidential_collections if self.visibility.sees(sees, c)]
        hosted = escape(s.hosted_model) if s.hosted_model else "not configured"
        lines += ["*Model routing*",
                  f"• policy `{s.model_policy}` · hosted {hosted} · local {local}",
                  f"• confidential (always local): {escape(', '.join(confidential) or 'none')}",
                  "*Answers in Slack*"]
        routes = stats["routes"]
        total = sum(routes.values())
        lines.append("• " + (", ".join(f"{k} {v}" for k, v in sorted(routes.items())) if routes else "none yet")
                     + f" (total {total})")
        voted = stats["up"] + stats["down"]
        rate = f"{stats['up'] / voted:.0%} 👍" if voted else "no votes yet"
        lines.append(f"• votes: {stats['up']} 👍, {stats['down']} 👎 ({rate})")
        if self.answer_cache is not None:
            c = self.answer_cache.stats()
            lines += ["*Approved-answer cache*",
                      f"• {c['active']} active, {c['demoted']} demoted, {c['stale']} stale · "
                      f"{c['served']} answers served from it (`/kb feedback` reviews 👎)"]
        return "\n".join(lines)

    def sources(self, sees: Audience) -> str:
        lines = []
        for name, paths in self.config.kb_sources.items():
            if not self.visibility.sees(sees, name):
                continue
            lines.append(f"• `{escape(name)}`: {escape(', '.join(paths))}")
        with self.engine.connect() as conn:
            docs = conn.execute(text("SELECT c.name, d.title FROM documents d JOIN collections c "
                                     "ON c.id = d.collection_id ORDER BY c.name, d.title")).all()
        head = "*Reindex sources* (`/kb reindex NAME`)\n" + ("\n".join(lines) or "• none: set KB_SOURCES")
        by: dict[str, list[str]] = {}
        for name, title in docs:
            if self.visibility.sees(sees, name):
                by.setdefault(name, []).append(title)
        body = "\n".join(f"*{escape(n)}* ({len(t)}): " + escape("; ".join(t[:40])) + (" …" if len(t) > 40 else "")
                         for n, t in by.items())
        return f"{head}\n*Indexed*\n{body or 'nothing yet'}"[:3900]

    def open_curation(self, client: WebClient, user: str, interaction_id: int | None, trigger_id: str | None) -> None:
        """The "Write the correct answer" button under /kb feedback: open the modal (admins only)."""
        allowed = self.is_admin(client, user)
        log_admin(self.engine, user, "kb curate open", allowed, {"interaction": interaction_id})
        asked = question_of(self.engine, interaction_id)
        if not allowed or asked is None or not trigger_id:
            return
        if not self.visibility.covers(Audience.alone(user), asked["collections"]):
            log.warning("refused curation of #%s by %s, who may not see its collections", interaction_id, user)
            return
        previous = votes.answer_to_correct(self.engine, interaction_id)
        client.views_open(trigger_id=trigger_id, view=blocks.curate_modal(interaction_id, asked["question"],
                                                                          previous or ""))

    def save_curation(self, client: WebClient, user: str, interaction_id: int | None, answer: str) -> None:
        """The modal was submitted: the admin's answer becomes a curated cached answer."""
        asked = question_of(self.engine, interaction_id)
        allowed = (self.is_admin(client, user) and self.answer_cache is not None and asked is not None
                   and self.visibility.covers(Audience.alone(user), asked["collections"]))
        log_admin(self.engine, user, "kb curate", allowed,
                              {"interaction": interaction_id, "chars": len(answer)})
        if not allowed:
            return
        entry = self.answer_cache.curate(interaction_id, answer, user)
        log.info("curated answer %s for #%s by %s", entry, interaction_id, user)

    def reindex(self, user: str, name: str | None, respond: Callable) -> None:
        """Reindex source ``name`` (one ``user`` may see), or all; what is said names only those they may see."""
        sources = self.config.kb_sources
        shown = [n for n in sources if self.visibility.sees(Audience.alone(user), n)]
        if not sources:
            respond(text="No reindex sources are configured: set KB_SOURCES (collection=PATH,…).",
                    response_type="ephemeral")
            return
        if name and name not in shown:
            respond(text=f"Unknown source `{escape(name)}`. Known: {escape(', '.join(shown) or 'none you can see')}.",
                    response_type="ephemeral")
            return
        if not self._reindexing.acquire(blocking=False):
            respond(text="A reindex is already running; its summary will follow.", response_type="ephemeral")
            return
        chosen = {name: sources[name]} if name else dict(sources)
        run = self._current = _Reindex(self._reindexing)
        run.timer = threading.Timer(self.reindex_seconds, self._expire, (run, user, respond))
        run.timer.daemon = True
        try:
            respond(text=f"Reindexing {escape(_names(chosen, shown))} in the background…", response_type="ephemeral")
            run.future = self.background.submit(self._run_reindex, user, chosen, shown, respond, run)
        except BaseException:  # Slack unreachable, or shutting down: the lock must not stay taken
            run.end()
            raise
        run.timer.start()

    def _expire(self, run: _Reindex, user: str, respond: Callable) -> None:
        """The deadline passed first: stop the run, free the lock, and say so."""
        if not run.end():
            return
        run.cancel.set()  # the indexer stops at the next file, or within 0.1 s of a parse
        if run.future is not None:
            self.background.abandon(run.future)  # if it is stuck anyway, the next reindex does not queue behind it
        limit = _span(self.reindex_seconds)
        log.warning("reindex stopped: it exceeded %s", limit)
        log_admin(self.engine, user, "kb reindex stopped", True, {"seconds": self.reindex_seconds})
        respond(text=f"Reindex stopped: it exceeded {limit}. Documents it had reindexed are updated; "
                     "the others keep their previous version.", response_type="ephemeral")

    def _stop_reindex(self) -> None:
        """Shutting down: a running reindex stops at its next file."""
        if self._current is not None:
            self._current.cancel.set()

    def _run_reindex(self, user: str, chosen: dict[str, tuple[str, ...]], shown: list[str], respond: Callable,
                     run: _Reindex) -> None:
        try:
            lines = []
            summary: dict = {}
            for done, (collection, paths) in enumerate(chosen.items()):
                if run.cancel.is_set():
                    break
                if 0 < done <= 3:  # a response_url takes five messages: start, up to three of these, summary
                    now = escape(collection) if collection in shown else "one you cannot see"
                    respond(text=f"… {done}/{len(chosen)} sources done, now {now}", response_type="ephemeral")
                report = self._indexer().index_paths([Path(p) for p in paths], collection, cancel=run.cancel)
                summary[collection] = report.counts()
                lines += _report_lines(collection, report) if collection in shown else []
            retired = self.answer_cache.sweep() if self.answer_cache is not None else 0
            if retired:
                lines.append(f"{retired} cached answers retired: a document they rest on changed or was removed")
            if not run.end():  # the deadline came first and has already answered
                log.info("a reindex stopped at its deadline has ended: %s", summary)
                return
            log_admin(self.engine, user, "kb reindex done", True, summary)
            # the deadline would have ended the run first, so a cancelled run that gets here is a shutdown
            head = "Reindex stopped early: the bot is shutting down." if run.cancel.is_set() else "Reindex finished."
            respond(text=head + "\n" + "\n".join(lines), response_type="ephemeral")
        except Exception as exc:
            log.exception("reindex failed")
            if run.end():
                log_admin(self.engine, user, "kb reindex failed", True, {"error": str(exc)[:500]})
                respond(text=f"Reindex failed: {escape(str(exc)[:500])}", response_type="ephemeral")


def _names(chosen: dict, shown: list[str]) -> str:
    """The chosen sources an admin may see, and how many others."""
    hidden = sum(n not in shown for n in chosen)
    return ", ".join([n for n in chosen if n in shown] + ([f"{hidden} you cannot see"] if hidden else []))


def _report_lines(collection: str, report: IndexReport) -> list[str]:
    counts = ", ".join(f"{n} {label}" for label, n in report.counts().items())
    lines = [f"*{escape(collection)}*: {counts} ({report.seconds:.1f} s)"]
    for source, reason in report.failed[:20]:
        lines.append(f"  ✗ {escape(Path(source).name)}: {escape(reason)}")
    for folder, why, kept in report.empty_folders:
        lines.append(f"  ⚠ `{escape(folder)}` {escape(why)}: kept its {kept} document{'s' * (kept != 1)}. "
                     "If it is meant to be empty, remove them on the server with "
                     f"`python -m bot index {escape(folder)} --collection {escape(collection)} --allow-empty`.")
    if report.stopped:
        lines.append("  ⚠ stopped before the last file: nothing was removed")
    return lines


def _flagged_lines(total: int, docs: list[FlaggedDocument], mode: str) -> list[str]:
    """Documents with text aimed at an assistant: title, collection and first excerpt, all untrusted, so escaped,
    with addresses defanged and the excerpt in code (no links, mentions or formatting)."""
    if not total:
        return []
    lines = [f"*Flagged documents* ({total}: text aimed at an assistant, {FLAGGED_USE[mode]}; "
             "`/kb clear SOURCE` once you have read one)"]
    for doc in docs:
        excerpt = plain(doc.flags[0]["excerpt"].replace("`", "'"), lambda _: False)
        lines.append(f"• {escape(doc.title)} ({escape(doc.collection)}, `{escape(doc.source)}`): `{excerpt}`")
    if total > len(docs):
        lines.append(f"• … and {total - len(docs)} more (`python -m bot collections` lists them all)")
    return lines


def _span(seconds: float) -> str:
    if seconds >= 60:
        minutes = seconds / 60
        return f"{minutes:g} minute" + ("s" if minutes != 1 else "")
    return f"{seconds:g} second" + ("s" if seconds != 1 else "")
