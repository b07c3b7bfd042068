"""Honest failures in Slack, through the real bolt App over signed HTTP: a database that goes away,
a full queue with duplicate deliveries, control characters in what people type, bodies that are
unsigned, malformed or missing fields, and the message subtypes that are still questions."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from answering import prompts
from bot.slack.answers import user_text
from retrieval.db import make_engine, upgrade
from retrieval.ingest import Indexer
from tests.fake_slack import event_body, post, sign
from tests.fakes import ScriptedChat
from tests.slack_harness import (
    SECRET,
    VPN_REPLY,
    answers_in,
    ask_and_wait,
    blocks_text,
    click,
    database_copy,
    interaction,
    mention,
    new_ts,
    opened_view,
    running_bot,
    submit,
    update_for,
)

QUESTION = "What does VPN-ERR-619 mean?"
BUSY = prompts.BUSY["en"]
REFERENCE = re.compile(r"Reference: \d{8}-\d{6}-[0-9a-f]{4}\.")


@pytest.fixture(scope="module")
def small(handbook_db, server_url, e5_embedder):
    """The bot with one worker and a queue of one: two questions fill it."""
    with database_copy(handbook_db[0], server_url, "kb_faults") as engine:
        with running_bot(engine, e5_embedder, ScriptedChat(replies=[VPN_REPLY]), slack_workers=1,
                         slack_queue_limit=1) as harness:
            yield harness


def _deliver(slack, event: dict, times: int) -> None:
    """``times`` concurrent deliveries of one event, as Slack's retries send it (one event id)."""
    body = event_body(event, event_id=f"Ev{event['ts']}")
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: slack.send_event(event, retry=i or None, body=body)[0], range(times)))
    assert statuses == [200] * times


def _texts(posts: list[dict]) -> list[str]:
    return [p.get("text", "") for p in posts]


def test_duplicates_never_get_a_busy_reply_and_a_new_question_gets_one_while_the_queue_is_full(small):
    gate = threading.Event()
    small.chat.gate, small.chat.replies = gate, ["Held back [1]."]
    running, waiting, refused = mention(QUESTION), mention(QUESTION), mention(QUESTION)
    try:
        _deliver(small, running, 20)  # the first is taken, its model call held back
        small.fake.wait_for("chat.postMessage", thread_ts=running["ts"])
        _deliver(small, waiting, 20)  # the first waits in the queue: one running + one waiting is full
        assert small.bot.workers.full()
        _deliver(small, refused, 5)
        busy = small.fake.wait_for("chat.postMessage", channel="CGEN", thread_ts=refused["ts"])  # posted later
        _deliver(small, running, 5)
    finally:
        gate.set()
        small.chat.gate = None
    small.idle()
    assert _texts(busy) == [BUSY]
    assert _texts(answers_in(small.fake, "CGEN", refused["ts"])) == [BUSY]
    for event in (running, waiting):
        posted = answers_in(small.fake, "CGEN", event["ts"])
        assert len(posted) == 1 and BUSY not in _texts(posted)
        assert "Held back [1]" in blocks_text(update_for(small.fake, posted[0]["_ts"]))


def test_a_retry_reaching_a_full_replica_gets_no_busy_reply(small, e5_embedder):
    """Another process on the same database never saw the first delivery: only the claim tells it."""
    question = mention(QUESTION)
    small.chat.replies = [VPN_REPLY]
    assert small.send_event(question)[0] == 200
    small.idle()
    gate = threading.Event()
    chat = ScriptedChat(replies=["Held back [1]."], gate=gate)
    with running_bot(small.engine, e5_embedder, chat, slack_workers=1, slack_queue_limit=1) as other:
        try:
            busy_one = mention(QUESTION)
            for event in (mention(QUESTION), mention(QUESTION)):
                assert other.send_event(event)[0] == 200
            assert other.bot.workers.full()
            assert other.send_event(question, retry=1)[0] == 200  # answered by the first replica
            assert other.send_event(busy_one)[0] == 200
            assert other.send_event(busy_one, retry=1)[0] == 200
        finally:
            gate.set()
        other.idle()
        assert answers_in(other.fake, "CGEN", question["ts"]) == []
        assert _texts(answers_in(other.fake, "CGEN", busy_one["ts"])) == [BUSY]


def test_user_text_drops_control_characters_but_keeps_newlines_and_tabs():
    assert user_text("a\x00b\x07c\x1b[0m\r\nd\te\ud800f") == "abc[0m\nd\tef"
    assert user_text(None) == "" and user_text(42) == ""


def test_control_characters_in_a_question_are_dropped_and_it_is_answered(small):
    _, ts, update = ask_and_wait(small, "What does VPN\x00-ERR-619\x07 mean?")
    rendered = blocks_text(update)
    assert "UDP port 51820 is blocked" in rendered and "Sorry" not in rendered
    assert interaction(small.engine, ts)["question"] == QUESTION

    click(small, "UEX", "ask_example_0", "What does VPN-ERR-619\x00 mean?")  # an example button
    small.idle()
    asked = small.fake.calls_to("chat.postMessage", text="<@UEX> asked: What does VPN-ERR-619 mean?")
    placeholder = answers_in(small.fake, "CGEN", asked[0]["_ts"])[0]
    assert "UDP port 51820" in blocks_text(update_for(small.fake, placeholder["_ts"]))

    path = small.send_command("/ask", "What does\x00 VPN-ERR-619 mean?", user="UCMD")
    small.idle()
    assert "UDP port 51820" in blocks_text(small.replies(path)[-1])
    with small.engine.connect() as conn:
        questions = conn.execute(text("SELECT question FROM interactions WHERE asker IN ('UEX', 'UCMD')")).scalars()
        assert sorted(questions) == ["What does VPN-ERR-619 mean?", "What does VPN-ERR-619 mean?"]


def test_a_comment_with_control_characters_is_stored_without_them(small):
    _, ts, _ = ask_and_wait(small, QUESTION)
    interaction_id = interaction(small.engine, ts)["id"]
    click(small, "UC", "vote_down", interaction_id, trigger_id="trig-nul")
    submit(small, "UC", opened_view(small, "trig-nul"),
           {"comment": {"comment": {"type": "plain_text_input", "value": "It is\x00 port 443\x1b, not 51820."}}})
    with small.engine.connect() as conn:
        stored = conn.execute(text("SELECT comment FROM feedback WHERE interaction_id = :i AND user_id = 'UC'"),
                              {"i": interaction_id}).scalar_one()
    assert stored == "It is port 443, not 51820."


MALFORMED = {
    "an event that is a string": ('{"type": "event_callback", "event": "x"}', "application/json"),
    "an event and no type": ('{"event": "x"}', "application/json"),
    "no event at all": ('{"type": "event_callback", "team_id": "T0001"}', "application/json"),
    "a JSON list": ('[{"type": "event_callback"}]', "application/json"),
    "JSON nested 100,000 deep": ("[" * 100_000, "application/json"),
    "an event nested 100,000 deep": ('{"type": "event_callback", "event": ' + "[" * 100_000, "application/json"),
    "not JSON": ("{this is not json", "application/json"),
    "a form payload that is a list": ("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
    "a form payload that is not JSON": ("payload=%7Bnope", "application/x-www-form-urlencoded"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_unsigned_bodies_get_401_and_malformed_signed_ones_400_without_a_traceback(small, caplog, name):
    body, content_type = MALFORMED[name]
    before = len(small.fake.calls)
    with caplog.at_level(logging.INFO):
        assert post(small.url, body, {}, content_type)[0] == 401
        assert post(small.url, body, sign("wrong-secret", body), content_type)[0] == 401
        status, reason = post(small.url, body, sign(SECRET, body), content_type)
    assert status == 400 and reason
    assert not [r for r in caplog.records if r.exc_info] and "Traceback" not in caplog.text
    assert "refused a signed request" in caplog.text
    small.idle()
    assert len(small.fake.calls) == before


def _without(event: dict, field: str) -> dict:
    return {k: v for k, v in event.items() if k != field}


@pytest.mark.parametrize("field", ["user", "ts", "channel"])
def test_signed_events_missing_user_ts_or_channel_are_acknowledged_and_ignored(small, caplog, field):
    dm = {"type": "message", "channel_type": "im", "user": "UDM", "text": QUESTION, "channel": "DMISS", "ts": new_ts()}
    reaction = {"type": "reaction_added", "user": "UR", "reaction": "+1", "event_ts": new_ts(),
                "item": {"type": "message", "channel": "CGEN", "ts": new_ts()}}
    events = [_without(mention(QUESTION), field), _without(dm, field)]
    if field == "user":
        events += [_without(reaction, "user"), {"type": "app_home_opened", "tab": "home", "channel": "DH"}]
    before = len(small.fake.calls)
    with caplog.at_level(logging.INFO):
        for event in events:
            assert small.send_event(event)[0] == 200
        small.idle()
    assert len(small.fake.calls) == before
    assert caplog.text.count("without a user, channel or ts") == 2
    assert not [r for r in caplog.records if r.exc_info]


def test_a_dm_with_a_file_attached_is_answered(small):
    small.chat.replies = [VPN_REPLY]
    event = {"type": "message", "subtype": "file_share", "channel_type": "im", "user": "UFILE", "text": QUESTION,
             "channel": "DFILE", "ts": new_ts(), "files": [{"id": "F1", "name": "error.png"}]}
    assert small.send_event(event)[0] == 200
    small.idle()
    placeholder = small.fake.calls_to("chat.postMessage", channel="DFILE")[0]
    assert "UDP port 51820 is blocked" in blocks_text(update_for(small.fake, placeholder["_ts"]))


def test_a_thread_reply_also_sent_to_the_channel_is_answered(small):
    first, _, _ = ask_and_wait(small, QUESTION)
    small.chat.replies = ["It means authentication failed [1]."]
    broadcast = {"type": "message", "subtype": "thread_broadcast", "channel_type": "channel", "user": "UASK",
                 "text": "What does VPN-ERR-401 mean?", "channel": "CGEN", "ts": new_ts(), "thread_ts": first["ts"]}
    assert small.send_event(broadcast)[0] == 200
    small.idle()
    posted = answers_in(small.fake, "CGEN", first["ts"])
    assert len(posted) == 2
    assert "authentication failed [1]" in blocks_text(update_for(small.fake, posted[1]["_ts"]))


def test_other_message_subtypes_stay_ignored(small):
    for subtype in ("message_changed", "bot_message", "channel_join", "message_deleted"):
        event = {"type": "message", "subtype": subtype, "channel_type": "im", "user": "UOTHER", "text": QUESTION,
                 "channel": "DSUB", "ts": new_ts()}
        assert small.send_event(event)[0] == 200
    small.idle()
    assert small.fake.calls_to("chat.postMessage", channel="DSUB") == []


# -- the database goes away ------------------------------------------------------------------

@pytest.fixture
def own_server(tmp_path, e5_embedder):
    """A PostgreSQL server of this test's own (stopping the shared one would break other tests),
    migrated, with one small document indexed. Yields (server, engine)."""
    import pgserver

    # Not under pytest's temporary root: as root, pgserver runs postgres as another user that must
    # traverse the path, and every new pytest session makes that root private again.
    root = Path(tempfile.mkdtemp(prefix="kb-pgdown-"))
    server = pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    engine = make_engine(make_url(server.get_uri()).set(drivername="postgresql+psycopg"), pool_size=4)
    try:
        upgrade(engine)
        (tmp_path / "vpn.md").write_text("# VPN errors\n\n## VPN-ERR-619\n\nVPN-ERR-619 means UDP port 51820 is "
                                         "blocked by the network you are on. Switch to another network or ask IT.\n")
        Indexer(engine, e5_embedder).index_paths([tmp_path], "handbook")
        yield server, engine
    finally:
        engine.dispose()
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _stop(server) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)


def test_with_the_database_down_a_question_gets_an_apology_and_healthz_says_so(own_server, e5_embedder):
    server, engine = own_server
    with running_bot(engine, e5_embedder, ScriptedChat(replies=[VPN_REPLY])) as slack:
        first, first_ts, _ = ask_and_wait(slack, QUESTION)
        answered = interaction(engine, first_ts)["id"]
        assert slack.health() == (200, "ok")
        _stop(server)
        try:
            click(slack, "UVOTE", "vote_up", answered)  # 200: the voter is told, Slack does not show an error
            told = slack.fake.wait_for("chat.postEphemeral", user="UVOTE")[0]
            assert told["channel"] == "CGEN" and "couldn't save that" in told["text"]
            event = mention(QUESTION)
            assert slack.send_event(event)[0] == 200
            follow_up = {"type": "message", "channel_type": "channel", "user": "UASK", "text": "and 401?",
                         "channel": "CGEN", "ts": new_ts(), "thread_ts": first["ts"]}
            assert slack.send_event(follow_up)[0] == 200  # may not be ours: no way to tell, so no reply
            slack.idle()
            posted = answers_in(slack.fake, "CGEN", event["ts"])
            assert len(posted) == 1 and REFERENCE.search(posted[0]["text"])
            assert "can't reach the knowledge base" in posted[0]["text"]
            assert len(answers_in(slack.fake, "CGEN", first["ts"])) == 1
            assert slack.health() == (503, "the database is unreachable")
        finally:
            server.ensure_postgres_running()
        assert slack.health() == (200, "ok")
        _, _, update = ask_and_wait(slack, QUESTION)
        assert "UDP port 51820 is blocked" in blocks_text(update)
