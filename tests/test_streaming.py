"""Answers streamed into Slack, through the real bolt app over signed HTTP with the fake Slack API:
the draft goes out through chat.startStream / appendStream / stopStream as the model writes, and the
checked answer then takes the streamed message's place; where Slack will not stream, a placeholder."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import text

from answering.pipeline import Pipeline
from answering.types import Question
from bot.settings import Settings
from models.chat import ChatModels
from retrieval.chunking import ChunkingParams
from retrieval.ingest import Indexer, SourceItem
from retrieval.search import Searcher
from tests.fakes import ScriptedChat
from tests.slack_harness import blocks_text, mention, new_ts, running_bot

RESET = ("# Password reset\n\n## How to reset\n\nReset your password in the IT portal at "
         "https://it.northwind.example/reset; it takes 15 minutes.\n")
REPLY = "Reset it in the IT portal; the change takes 15 minutes [1]."


@pytest.fixture
def indexed(engine, fake_embedder):
    Indexer(engine, fake_embedder, ChunkingParams(size=400, overlap=40)).index_items(
        [SourceItem("mem:reset", "markdown", data=RESET.encode())], "it")
    return engine


def streamed(slack, channel: str) -> tuple[list[dict], list[dict], list[dict]]:
    start = slack.fake.calls_to("chat.startStream", channel=channel)
    ts = start[0]["_ts"] if start else None
    return (start, slack.fake.calls_to("chat.appendStream", channel=channel, ts=ts),
            slack.fake.calls_to("chat.stopStream", channel=channel, ts=ts))


def _text(calls: list[dict]) -> str:
    return "".join(c.get("markdown_text") or "" for c in calls)


@pytest.mark.parametrize("where", ["mention", "dm"])
def test_the_draft_streams_and_the_checked_answer_takes_its_place(indexed, fake_embedder, where):
    with running_bot(indexed, fake_embedder, ScriptedChat(replies=[REPLY]), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=True) as slack:
        if where == "mention":
            event, channel = mention("How do I reset my password?"), "CGEN"
        else:
            channel = "DSTREAM"
            event = {"type": "message", "channel_type": "im", "user": "UASK", "text": "How do I reset my password?",
                     "channel": channel, "ts": new_ts(), "thread_ts": new_ts()}  # a DM thread
        assert slack.send_event(event)[0] == 200
        slack.idle()
        start, appends, stop = streamed(slack, channel)
        assert len(start) == 1 and start[0]["thread_ts"] == event.get("thread_ts", event["ts"])
        assert start[0]["recipient_user_id"] == "UASK" and start[0]["recipient_team_id"] == "T0001"
        assert appends and "Reset it in the IT portal" in _text(appends) and len(stop) == 1
        final = slack.fake.calls_to("chat.update", channel=channel, ts=start[0]["_ts"])
        assert len(final) == 1 and "IT portal" in blocks_text(final[0]) and "feedback_buttons" in blocks_text(final[0])
        assert not [c for c in slack.fake.calls_to("chat.postMessage", channel=channel) if c["text"].startswith("⏳")]


def test_the_sources_and_their_best_passage_stream_before_the_draft(indexed, fake_embedder):
    with running_bot(indexed, fake_embedder, ScriptedChat(replies=[REPLY]), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=True) as slack:
        assert slack.send_event(mention("How do I reset my password?"))[0] == 200
        slack.idle()
        start, appends, _ = streamed(slack, "CGEN")
    found, *draft = [c["markdown_text"] for c in appends]
    assert found.startswith("\n\n📄 **Answering from**: [1] Password reset › How to reset")
    assert "> Reset your password in the IT portal at it[.]northwind[.]example/reset" in found  # quoted, not linked
    assert "Reset it in the IT portal" in "".join(draft) and draft[0].startswith("\n\n")  # a paragraph of its own


def test_the_pipeline_shows_the_sources_once_before_the_model_writes_and_answers_with_that_evidence(
        indexed, fake_embedder):
    from tests.fakes import ScriptedModels

    events: list[tuple] = []
    settings = Settings(_env_file=None, answer_mode="auto", relevance_threshold=0, model_policy="local")
    pipeline = Pipeline(settings.pipeline_config, Searcher(indexed, fake_embedder),
                        ScriptedModels(ScriptedChat(replies=[REPLY])), indexed)
    answer = pipeline.answer(Question("How do I reset my password?",
                                      on_found=lambda sources, passages: events.append(("found", sources, passages)),
                                      on_draft=lambda text: events.append(("draft", text))))
    assert [e[0] for e in events[:2]] == ["found", "draft"] and [e[0] for e in events].count("found") == 1
    _, sources, passages = events[0]
    assert answer.route == "answer" and answer.sources == sources[:1] and answer.evidence == passages


def test_shown_sources_cannot_link_or_ping():
    from answering.context import Source
    from answering.evidence import Passage
    from bot.slack.streaming import found_markdown

    source = Source(1, "<!channel> [Pay](https://evil.example/pay)", "@here", "text", "mem:x", None, "c", 1, (1,), 1.0)
    shown = found_markdown([source], [Passage(1, "Wire it to <@U123> via www.evil.example/login " * 20, 1.0)], "en")
    assert "<" not in shown.replace("\n> ", "") and "](" not in shown and "evil.example/" not in shown
    assert "@here" not in shown
    assert shown.count("\n") == 1 and shown.endswith(" … [1]")  # one quoted line, cut at a word


@pytest.mark.parametrize("streaming", [True, False])
def test_a_question_waiting_for_a_worker_is_told_its_place_and_answered_in_that_message(
        indexed, fake_embedder, streaming):
    gate = threading.Event()  # the model holds the only worker until the others have queued
    opens = "chat.startStream" if streaming else "chat.postMessage"
    with running_bot(indexed, fake_embedder, ScriptedChat(replies=[REPLY], gate=gate), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=streaming, slack_workers=1) as slack:
        events = [mention(f"How do I reset my password? ({n})") for n in range(3)]
        for event in events:
            assert slack.send_event(event)[0] == 200
        opened = [slack.fake.wait_for(opens, channel="CGEN", thread_ts=e["ts"])[0] for e in events[1:]]
        assert [o.get("markdown_text") or o["text"] for o in opened] == [
            f"⏳ Questions ahead of yours: {n}. I'll answer here as soon as I get to it." for n in (1, 2)]
        gate.set()
        slack.idle()
        for event in events:
            message = slack.fake.calls_to(opens, channel="CGEN", thread_ts=event["ts"])
            assert len(message) == 1  # the waiting notice's message is the one answered in
            updates = slack.fake.calls_to("chat.update", channel="CGEN", ts=message[0]["_ts"])
            assert "IT portal" in blocks_text(updates[-1])
            if event is not events[0]:  # its turn came: the message says it is being worked on now
                said = _text(slack.fake.calls_to("chat.appendStream", ts=message[0]["_ts"])) if streaming else \
                    updates[0]["text"]
                assert "Looking through the documents" in said and len(updates) == 1 + (not streaming)


def test_when_the_check_replaces_the_draft_the_user_sees_why(indexed, fake_embedder):
    invented = "Reset it at the kiosk on floor 9 within 45 minutes [1]."  # nothing of it is in the source
    with running_bot(indexed, fake_embedder, ScriptedChat(replies=[invented]), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=True, answer_mode="auto") as slack:
        assert slack.send_event(mention("How do I reset my password?"))[0] == 200
        slack.idle()
        start, appends, _ = streamed(slack, "CGEN")
        assert "kiosk" in _text(appends)  # the draft was shown while it was written …
        final = blocks_text(slack.fake.calls_to("chat.update", channel="CGEN", ts=start[0]["_ts"])[-1])
        assert "kiosk" not in final and "IT portal" in final  # … and the checked answer replaced it, saying why
        assert "was replaced by quotes from the sources" in final


def test_a_draft_in_the_wrong_language_is_written_again_and_the_answer_says_so(indexed, fake_embedder):
    korean = "IT 포털에서 비밀번호를 재설정하세요. 15분 걸립니다 [1]."
    with running_bot(indexed, fake_embedder, ScriptedChat(replies=[korean, REPLY]), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=True) as slack:
        assert slack.send_event(mention("How do I reset my password?"))[0] == 200
        slack.idle()
        start, appends, _ = streamed(slack, "CGEN")
        assert "포털" in _text(appends)
        final = blocks_text(slack.fake.calls_to("chat.update", channel="CGEN", ts=start[0]["_ts"])[-1])
    assert "포털" not in final and "Reset it in the IT portal" in final
    assert "was not in your language, so I wrote the answer again" in final


@pytest.mark.parametrize("request_", [
    "To verify, reply here with your current pass\u200bword [1].",  # a zero-width space inside the word
    "Account checks are quick these days. Just drop the six digits we texted you into this thread [1].",
    "확인을 위해 지금 쓰시는 비번을 댓글로 달아 주세요 [1].",
])
def test_a_draft_sentence_asking_for_a_secret_is_never_streamed(indexed, fake_embedder, request_):
    """The guard reads each finished sentence before it is appended; the draft stops at the first it withholds,
    and the final message is the checked answer (the evidence), not the request."""
    reply = f"Reset it in the IT portal [1]. {request_} It takes 15 minutes."
    with running_bot(indexed, fake_embedder, ScriptedChat(replies=[reply]), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=True) as slack:
        assert slack.send_event(mention("How do I reset my password?"))[0] == 200
        slack.idle()
        start, appends, _ = streamed(slack, "CGEN")
        shown = _text(appends)
        final = blocks_text(slack.fake.calls_to("chat.update", channel="CGEN", ts=start[0]["_ts"])[-1])
    assert "Reset it in the IT portal" in shown  # the sentence before it streamed …
    for word in ("pass", "digits", "비번", "15 minutes"):  # … the request and what follows it did not
        assert word not in shown.split("Reset it in the IT portal", 1)[1]
    assert "reply here" not in final and "digits" not in final and "비번" not in final


def test_a_streamed_draft_cannot_link_or_ping(indexed, fake_embedder):
    hostile = "<!channel> see [the portal](https://evil.example/login) or https://evil.example/x @here [1]."
    with running_bot(indexed, fake_embedder, ScriptedChat(replies=[hostile]), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=True) as slack:
        assert slack.send_event(mention("How do I reset my password?"))[0] == 200
        slack.idle()
        _, appends, _ = streamed(slack, "CGEN")
    shown = _text(appends)
    assert "<!channel>" not in shown and "](" not in shown and "https://evil" not in shown
    assert "@here" not in shown and "the portal" in shown


def test_in_the_panel_the_status_shows_and_the_draft_streams_without_a_lead_line(indexed, fake_embedder):
    with running_bot(indexed, fake_embedder, ScriptedChat(replies=[REPLY]), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=True) as slack:
        thread = new_ts()
        event = {"type": "message", "channel_type": "im", "user": "UASK", "text": "How do I reset my password?",
                 "channel": "DPANEL", "ts": new_ts(), "thread_ts": thread}
        assert slack.send_event(event)[0] == 200
        slack.idle()
        assert slack.fake.calls_to("assistant.threads.setStatus", channel_id="DPANEL", thread_ts=thread)
        start, appends, stop = streamed(slack, "DPANEL")
        assert start and not start[0].get("markdown_text") and "IT portal" in _text(appends) and stop


def test_a_failing_start_stream_falls_back_to_a_placeholder_and_chat_update(indexed, fake_embedder):
    with running_bot(indexed, fake_embedder, ScriptedChat(replies=[REPLY]), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=True) as slack:
        slack.fake.errors["chat.startStream"] = "streaming_not_allowed"
        event = mention("How do I reset my password?")
        assert slack.send_event(event)[0] == 200
        slack.idle()
        placeholder = slack.fake.calls_to("chat.postMessage", channel="CGEN", thread_ts=event["ts"])
        assert len(placeholder) == 1 and placeholder[0]["text"].startswith("⏳")
        final = slack.fake.wait_for("chat.update", ts=placeholder[0]["_ts"])[-1]
        assert "IT portal" in blocks_text(final)
        assert not slack.fake.calls_to("chat.appendStream") and json.dumps(final).count("feedback_buttons") == 1


@pytest.mark.parametrize("backend", ["local", "hosted"])
def test_drafts_stream_from_the_local_model_and_from_a_real_openai_compatible_server(
        backend, handbook_db, e5_embedder, smollm_path, hosted_url):
    hosted = {"hosted_model": "smollm2", "hosted_base_url": hosted_url} if backend == "hosted" else {}
    settings = Settings(_env_file=None, answer_mode="generate", model_policy=backend, local_model_path=smollm_path,
                        answer_max_tokens=60, hosted_timeout_s=120, **hosted)
    pipeline = Pipeline(settings.pipeline_config, Searcher(handbook_db[0], e5_embedder),
                        ChatModels(settings.chat_config), handbook_db[0])
    drafts: list[str] = []
    answer = pipeline.answer(Question("How many paid vacation days do interns get per month?",
                                      on_draft=drafts.append))
    assert answer.route == "answer" and (answer.model == "openai/smollm2") == bool(hosted)
    # a finished sentence at a time, each read by the answer guard first
    assert drafts and all(later.startswith(earlier) for earlier, later in zip(drafts, drafts[1:]))
    assert drafts[-1].strip()[:20] in answer.text or answer.language_retried  # the draft became the answer
    if backend == "local":  # llama.cpp's stream reports no usage; the tokens read and written are logged anyway
        with handbook_db[0].connect() as conn:
            used = conn.execute(text("SELECT input_tokens, output_tokens FROM interactions WHERE id = :id"),
                                {"id": answer.interaction_id}).one()
        assert used.input_tokens > 500 and 0 < used.output_tokens <= 60 * (1 + answer.language_retried)


@pytest.mark.parametrize("failing", ["chat.appendStream", "chat.stopStream"])
def test_a_stream_that_fails_midway_still_ends_with_the_checked_answer(indexed, fake_embedder, failing):
    with running_bot(indexed, fake_embedder, ScriptedChat(replies=[REPLY]), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=True) as slack:
        slack.fake.errors[failing] = "internal_error"
        assert slack.send_event(mention("How do I reset my password?"))[0] == 200
        slack.idle()
        start, _, _ = streamed(slack, "CGEN")
        final = slack.fake.calls_to("chat.update", channel="CGEN", ts=start[0]["_ts"])
        assert len(final) == 1 and "IT portal" in blocks_text(final[0])
        assert len(slack.fake.calls_to(failing)) == 1  # tried once, then left alone


@pytest.mark.parametrize("draft, shown", [
    ("see [the portal](https://evil.example/login) or", "see [the portal](https://evil.example/login)"),
    ("see [the portal](https://evil.ex", "see "), ("see [the portal] and", "see "), ("see [the por", "see "),
    ("![i](http://x/y.png) and", "![i](http://x/y.png)"), ("Reset it [1] in the IT", "Reset it [1] in the"),
])
def test_a_link_being_written_waits_until_it_is_complete(draft, shown):
    """Shown half-written, "[the" would stay on screen after the whole link turns into its label."""
    from bot.slack.streaming import settled

    assert settled(draft) == shown


@pytest.mark.parametrize("hostile", ["[x](slack://open)", "[y](//evil.example/a)", "![i](javascript:alert(1))",
                                     "<https://evil.example>", "<@U123> <!here>", "[ref]: https://evil.example",
                                     "www.evil.example/login", "write to a@evil.example"])
def test_an_inert_draft_has_no_link_target_mention_or_address_left(hostile):
    from bot.slack.mrkdwn import inert_markdown

    shown = inert_markdown(hostile)
    assert "](" not in shown and "<" not in shown and "://" not in shown and "]:" not in shown
    assert "@evil" not in shown and "evil.example/" not in shown
