"""The Slack test harness: the real bolt App in HTTP mode (uvicorn on localhost), correctly signed
requests, the fake Slack Web API that records calls, real PostgreSQL and a scripted chat model.
Shared by tests/test_slack.py and tests/test_slack_faults.py."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlencode

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from answering.cache import ApprovedAnswers
from answering.pipeline import Pipeline
from bot.settings import Settings
from bot.slack.app import build_slack_bot
from bot.slack.server import serve_in_thread
from feedback.answer_cache import AnswerCacheStore
from models import Embedder
from retrieval.db import make_engine
from retrieval.ingest import Indexer
from retrieval.search import Searcher
from tests.fake_slack import BOT_USER, FakeSlack, event_body, next_ts, payload_body, post, sign
from tests.fakes import ScriptedChat, ScriptedModels

SECRET = "test-signing-secret"
ADMIN = "UADMIN"
VPN_REPLY = "VPN-ERR-619 means UDP port 51820 is blocked [1]."


def new_ts() -> str:
    return next_ts()


@contextmanager
def database_copy(template: Engine, server_url: URL, prefix: str) -> Iterator[Engine]:
    """A new database copied from ``template``'s (a PostgreSQL template: no re-embedding)."""
    template.dispose()  # a template database must have no open connections
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.url.database}"'))
    engine = make_engine(server_url.set(database=name), pool_size=8)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


FALCON = ("# Project Falcon\n\n## Budget\n\nProject Falcon's budget for 2027 is 2.4 million euros, "
          "approved by the board in October.\n")


@contextmanager
def with_secret(handbook: Engine, server_url: URL, embedder: Embedder, folder, prefix: str) -> Iterator[Engine]:
    """A copy of the handbook database plus the "secret" collection (``folder``/falcon.md, Project Falcon's
    budget), for tests that bind it to a channel."""
    with database_copy(handbook, server_url, prefix) as engine:
        (folder / "falcon.md").write_text(FALCON)
        Indexer(engine, embedder).index_paths([folder], "secret")
        yield engine


class Harness:
    def __init__(self, fake: FakeSlack, bot, chat: ScriptedChat, engine: Engine, base: str) -> None:
        self.fake, self.bot, self.chat, self.engine = fake, bot, chat, engine
        self.base, self.url = base, f"{base}/slack/events"
        self.acks: dict[str, dict] = {}  # a command's response_url path -> what its ack said, if anything

    def send_event(self, event: dict, retry: int | None = None, body: str | None = None,
                   headers: dict | None = None) -> tuple[int, str]:
        body = body or event_body(event)
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return post(self.url, body, {**sign(SECRET, body), **extra, **(headers or {})}, "application/json")

    def send_payload(self, payload: dict) -> tuple[int, str]:
        body = payload_body(payload)
        return post(self.url, body, sign(SECRET, body), "application/x-www-form-urlencoded")

    def send_command(self, command: str, text_: str, user: str, channel: str = "CGEN") -> str:
        name = uuid.uuid4().hex[:8]
        body = urlencode({"command": command, "text": text_, "user_id": user, "channel_id": channel,
                          "channel_name": "general", "team_id": "T0001", "trigger_id": f"trig-{name}",
                          "response_url": self.fake.response_url(name)})
        status, said = post(self.url, body, sign(SECRET, body), "application/x-www-form-urlencoded")
        assert status == 200
        if said:  # Slack shows the ack's text as the command's first reply
            self.acks[f"/respond/{name}"] = json.loads(said)
        return f"/respond/{name}"

    def health(self) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def idle(self) -> None:
        """Until no answer is being worked on and no reply waits to be posted (each may queue the other)."""
        workers, notices = self.bot.workers, self.bot.answerer.notices
        deadline = time.monotonic() + 120
        while workers.pending() or notices.pending():
            left = deadline - time.monotonic()
            assert left > 0 and workers.wait_idle(left) and notices.wait_idle(max(0.0, deadline - time.monotonic()))

    def replies(self, path: str) -> list[dict]:
        """What a command's user was told: its ack's text, if any, then each message through its response_url."""
        acked = [self.acks[path]] if path in self.acks else []
        return acked + [p for m, p in self.fake.calls if m == "respond" and p.get("_path") == path]


@contextmanager
def running_bot(engine: Engine, embedder: Embedder, chat: ScriptedChat, graded: bool = True,
                **settings) -> Iterator[Harness]:
    """The bot on ``engine``, served by uvicorn on a free port, talking to a new fake Slack. ``graded=False``:
    whether the sources answer is left to the rule and its ``relevance_threshold`` (0: every question is
    answered), not the grader, whose signals mean nothing with a hashed bag-of-words embedder."""
    fake = FakeSlack()
    # The scripted model's reply is the answer the Slack tests look for; auto mode's review of it is
    # tested in tests/test_answer_modes.py and tests/test_injected_document.py.
    # One test user asks many questions a minute: fair use is off unless a test turns it on; answers replace
    # a placeholder unless a test turns streaming on (tests/test_streaming.py).
    values = {"slack_admin_users": "", "model_policy": "local", "answer_mode": "generate",
              "slack_user_questions_per_minute": 0, "slack_streaming": False, **settings}
    config = Settings(_env_file=None, slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                      slack_api_url=fake.api_url, **values)
    store = AnswerCacheStore(engine, embedder, config.cache_params)
    pipeline = Pipeline(config.pipeline_config, Searcher(engine, embedder), ScriptedModels(chat), engine,
                        ApprovedAnswers(store))
    if not graded:
        pipeline.grader = None
    bot = build_slack_bot(config.slack_config, pipeline, engine, lambda: Indexer(engine, embedder), store)
    try:
        with serve_in_thread(bot) as url:
            yield Harness(fake, bot, chat, engine, url)
    finally:
        fake.stop()


def mention(text_: str, channel: str = "CGEN", ts: str | None = None, thread_ts: str | None = None) -> dict:
    event = {"type": "app_mention", "user": "UASK", "text": f"<@{BOT_USER}> {text_}", "channel": channel,
             "ts": ts or new_ts()}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def answers_in(fake: FakeSlack, channel: str, thread_ts: str) -> list[dict]:
    """The bot's messages in a thread: placeholders posted there (each later replaced by an answer)."""
    return fake.calls_to("chat.postMessage", channel=channel, thread_ts=thread_ts)


def update_for(fake: FakeSlack, placeholder_ts: str) -> dict:
    return fake.wait_for("chat.update", ts=placeholder_ts)[-1]


def blocks_text(message: dict) -> str:
    value = message.get("blocks")
    return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)) + message.get("text", "")


def ask_and_wait(slack: Harness, question: str, reply: str = VPN_REPLY, channel: str = "CGEN"):
    """Mention the bot with a scripted reply; returns (event, placeholder ts, final chat.update)."""
    slack.chat.replies = [reply]
    event = mention(question, channel=channel)
    status, _ = slack.send_event(event)
    assert status == 200
    slack.idle()
    posted = answers_in(slack.fake, channel, event["ts"])
    assert len(posted) == 1
    ts = posted[0]["_ts"]
    return event, ts, update_for(slack.fake, ts)


def click(slack: Harness, user: str, action_id: str, value, trigger_id: str = "trig", channel: str = "CGEN") -> None:
    payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": "T0001"}, "trigger_id": trigger_id,
               "channel": {"id": channel}, "container": {"type": "message"},
               "actions": [{"action_id": action_id, "value": str(value), "type": "button", "block_id": "b"}]}
    assert slack.send_payload(payload)[0] == 200


def submit(slack: Harness, user: str, view: dict, values: dict) -> None:
    submission = {"type": "view_submission", "user": {"id": user}, "team": {"id": "T0001"},
                  "view": {"id": "V1", "type": "modal", "callback_id": view["callback_id"],
                           "private_metadata": view["private_metadata"], "state": {"values": values}}}
    assert slack.send_payload(submission)[0] == 200


def opened_view(slack: Harness, trigger_id: str) -> dict:
    modal = slack.fake.wait_for("views.open", trigger_id=trigger_id)[-1]
    return json.loads(modal["view"]) if isinstance(modal["view"], str) else modal["view"]


def interaction(engine: Engine, reply_ts: str) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM interactions WHERE reply_ts = :ts"),
                                 {"ts": reply_ts}).mappings().one())
