"""The assistant panel through the real bolt app over signed HTTP with the fake Slack API: a thread
start gets the welcome and suggested prompts; a question there gets a status and a title while it is
answered, then the answer in the thread; where Slack refuses the status, a placeholder as in a DM."""

from __future__ import annotations

import pytest

from retrieval.chunking import ChunkingParams
from retrieval.ingest import Indexer, SourceItem
from tests.fake_slack import TEAM
from tests.fakes import ScriptedChat
from tests.slack_harness import blocks_text, new_ts, running_bot

RESET = "# Password reset\n\n## How to reset\n\nReset your password in the IT portal; it takes 15 minutes.\n"
REPLY = "Reset it in the IT portal [1]."
EXAMPLES = "How do I reset my password?|What does VPN-ERR-619 mean?"


@pytest.fixture
def slack(engine, fake_embedder):
    Indexer(engine, fake_embedder, ChunkingParams(size=400, overlap=40)).index_items(
        [SourceItem("mem:reset", "markdown", data=RESET.encode())], "it")
    with running_bot(engine, fake_embedder, ScriptedChat(replies=[REPLY]), relevance_threshold=0,
                     cache_enabled=False, example_questions=EXAMPLES) as harness:
        yield harness


def started(thread_ts: str, user: str = "UPANEL") -> dict:
    return {"type": "assistant_thread_started", "event_ts": new_ts(),
            "assistant_thread": {"user_id": user, "channel_id": "DPANEL", "thread_ts": thread_ts,
                                 "context": {"channel_id": "CGEN", "team_id": TEAM}}}


def in_panel(text_: str, thread_ts: str, user: str = "UPANEL") -> dict:
    return {"type": "message", "channel_type": "im", "user": user, "text": text_, "channel": "DPANEL",
            "ts": new_ts(), "thread_ts": thread_ts}


def test_a_new_assistant_thread_gets_the_welcome_and_suggested_prompts(slack):
    thread = new_ts()
    assert slack.send_event(started(thread))[0] == 200
    slack.idle()
    welcome = slack.fake.calls_to("chat.postMessage", channel="DPANEL", thread_ts=thread)
    assert len(welcome) == 1 and "team knowledge assistant" in welcome[0]["text"]
    assert "팀 지식 도우미" in welcome[0]["text"]
    suggested = slack.fake.calls_to("assistant.threads.setSuggestedPrompts", channel_id="DPANEL")
    assert [p["message"] for p in suggested[0]["prompts"]] == EXAMPLES.split("|")
    changed = {**started(thread), "type": "assistant_thread_context_changed"}
    assert slack.send_event(changed)[0] == 200  # handled: nothing to post, nothing stored


def test_a_question_in_the_panel_gets_a_status_a_title_and_the_answer_in_its_thread(slack):
    thread = new_ts()
    assert slack.send_event(in_panel("How do I reset my password?", thread))[0] == 200
    slack.idle()
    status = slack.fake.calls_to("assistant.threads.setStatus", channel_id="DPANEL", thread_ts=thread)
    title = slack.fake.calls_to("assistant.threads.setTitle", channel_id="DPANEL", thread_ts=thread)
    assert status and status[0]["status"].startswith("⏳") and title[0]["title"] == "How do I reset my password?"
    posted = slack.fake.calls_to("chat.postMessage", channel="DPANEL", thread_ts=thread)
    assert len(posted) == 1 and "IT portal" in blocks_text(posted[0])  # the answer itself, no placeholder
    assert not slack.fake.calls_to("chat.update", channel="DPANEL")
    assert slack.send_event(in_panel("And how long does it take?", thread))[0] == 200
    slack.idle()
    assert len(slack.fake.calls_to("assistant.threads.setTitle", thread_ts=thread)) == 1  # titled once


def test_where_slack_refuses_the_status_the_answer_replaces_a_placeholder(slack):
    slack.fake.errors["assistant.threads.setStatus"] = "not_allowed"
    thread = new_ts()
    assert slack.send_event(in_panel("How do I reset my password?", thread))[0] == 200
    slack.idle()
    placeholder = slack.fake.calls_to("chat.postMessage", channel="DPANEL", thread_ts=thread)
    assert len(placeholder) == 1 and placeholder[0]["text"].startswith("⏳")
    update = slack.fake.wait_for("chat.update", ts=placeholder[0]["_ts"])[-1]
    assert "IT portal" in blocks_text(update)


def test_the_panel_title_is_plain_text_without_markup_controls_or_personal_data(slack):
    thread = new_ts()
    typed = "<!channel> reset\u202e\u200b my password? call me at 010-2222-3333 <https://evil.example|here>"
    assert slack.send_event(in_panel(typed, thread))[0] == 200
    slack.idle()
    title = slack.fake.calls_to("assistant.threads.setTitle", channel_id="DPANEL", thread_ts=thread)[0]["title"]
    assert title == "reset my password? call me at [phone] here"
