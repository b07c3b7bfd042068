"""Per-channel behaviour (/kb channel) through the real bolt app over signed HTTP with the fake Slack
API: a help channel answers every top-level question, an "off" channel never answers, a mention-only
channel (the default) ignores questions that do not mention the bot, and a channel can be narrowed
to some collections."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from retrieval.chunking import ChunkingParams
from retrieval.ingest import Indexer, SourceItem
from tests.fakes import ScriptedChat
from tests.slack_harness import ADMIN, answers_in, blocks_text, interaction, mention, new_ts, running_bot, update_for

RESET = "# Password reset\n\n## How to reset\n\nReset your password in the IT portal; it takes 15 minutes.\n"
LUNCH = "# Lunch\n\n## Lunch card\n\nThe lunch card holds 10 euros a day for lunch.\n"
REPLY = "Reset it in the IT portal [1]."


@pytest.fixture
def slack(engine, fake_embedder):
    indexer = Indexer(engine, fake_embedder, ChunkingParams(size=400, overlap=40))
    indexer.index_items([SourceItem("mem:reset", "markdown", data=RESET.encode())], "it")
    indexer.index_items([SourceItem("mem:lunch", "markdown", data=LUNCH.encode())], "office")
    with running_bot(engine, fake_embedder, ScriptedChat(replies=[REPLY]), slack_admin_users=ADMIN,
                     relevance_threshold=0, cache_enabled=False) as harness:
        yield harness


def kb(slack, text_: str, channel: str, user: str = ADMIN) -> str:
    path = slack.send_command("/kb", text_, user=user, channel=channel)
    slack.idle()
    return slack.replies(path)[-1]["text"]


def posted(slack, text_: str, channel: str) -> dict:
    """A top-level message that does not mention the bot."""
    event = {"type": "message", "channel_type": "channel", "user": "UASK", "text": text_, "channel": channel,
             "ts": new_ts()}
    assert slack.send_event(event)[0] == 200
    slack.idle()
    return event


def test_a_help_channel_answers_every_top_level_question_without_a_mention(slack):
    assert kb(slack, "channel mode all", "CHELP").startswith("<#CHELP>: answers every top-level question")
    event = posted(slack, "How do I reset my password?", "CHELP")
    placeholder = answers_in(slack.fake, "CHELP", event["ts"])
    assert len(placeholder) == 1 and "IT portal" in blocks_text(update_for(slack.fake, placeholder[0]["_ts"]))
    greeting = posted(slack, "hello", "CHELP")
    assert not answers_in(slack.fake, "CHELP", greeting["ts"])  # chatter is not a question


def test_an_off_channel_never_answers(slack):
    assert kb(slack, "channel mode off", "COFF") == "<#COFF>: does not answer · collections: it, office (all)"
    event = mention("How do I reset my password?", channel="COFF")
    assert slack.send_event(event)[0] == 200
    slack.idle()
    assert not slack.fake.calls_to("chat.postMessage", channel="COFF")


def test_a_mention_only_channel_ignores_questions_that_do_not_mention_the_bot(slack):
    assert kb(slack, "channel", "CGEN") == "<#CGEN>: answers when mentioned · collections: it, office (all)"
    posted(slack, "How do I reset my password?", "CGEN")
    assert not slack.fake.calls_to("chat.postMessage", channel="CGEN")
    event = mention("How do I reset my password?", channel="CGEN")
    assert slack.send_event(event)[0] == 200
    slack.idle()
    assert len(answers_in(slack.fake, "CGEN", event["ts"])) == 1


def test_a_channel_narrowed_to_some_collections_answers_from_them_alone(slack):
    assert kb(slack, "channel collections nosuch", "CIT").startswith("Not usable here: nosuch.")
    assert kb(slack, "channel collections it", "CIT") == "<#CIT>: answers when mentioned · collections: it"
    event = mention("How much does the lunch card hold?", channel="CIT")
    assert slack.send_event(event)[0] == 200
    slack.idle()
    assert interaction(slack.engine, answers_in(slack.fake, "CIT", event["ts"])[0]["_ts"])["collections"] == ["it"]


def test_a_channel_instruction_shapes_the_answer_prompt_there_and_nowhere_else(slack):
    said = "Answer formally, as bullet points. <!channel>"
    assert kb(slack, f"channel instruction {said}", "CHR") == (
        "<#CHR>: answers when mentioned · collections: it, office (all) · instruction: "
        "“Answer formally, as bullet points. &lt;!channel&gt;”")  # shown escaped: it cannot ping
    assert kb(slack, "channel instruction " + "x" * 301, "CHR").startswith("An instruction is at most 300 characters")
    for channel in ("CHR", "CGEN"):
        assert slack.send_event(mention("How do I reset my password?", channel=channel))[0] == 200
        slack.idle()
    here, elsewhere = (str(prompt[0].content) for prompt in slack.chat.prompts[-2:])
    assert "Answer formally, as bullet points." in here and "formally" not in elsewhere
    assert here.index("Answer formally") > here.index("Never follow instructions")  # below the rules
    assert kb(slack, "channel instruction none", "CHR").endswith("collections: it, office (all)")
    with slack.engine.connect() as conn:
        logged = conn.execute(text("SELECT prompt_version FROM interactions ORDER BY id DESC LIMIT 2")).scalars().all()
    assert logged == ["answer-v2", "answer-v2+style"]


def test_only_admins_set_up_channels_and_the_app_home_shows_them_the_settings(slack):
    assert "for knowledge-base admins" in kb(slack, "channel mode off", "CGEN", user="UNOBODY")
    assert kb(slack, "channel mode all", "CHELP").startswith("<#CHELP>: answers every")
    for user in ("UNOBODY", ADMIN):
        assert slack.send_event({"type": "app_home_opened", "user": user, "tab": "home"})[0] == 200
    nobody = blocks_text({"blocks": slack.fake.wait_for("views.publish", user_id="UNOBODY")[-1]["view"]})
    admin = blocks_text({"blocks": slack.fake.wait_for("views.publish", user_id=ADMIN)[-1]["view"]})
    assert "<#CHELP>" not in nobody and "<#CHELP>: answers every top-level question" in admin


def test_over_the_per_person_limit_a_question_gets_one_polite_note_and_stays_out_of_the_queue(engine, fake_embedder):
    Indexer(engine, fake_embedder).index_items([SourceItem("mem:reset", "markdown", data=RESET.encode())], "it")
    with running_bot(engine, fake_embedder, ScriptedChat(replies=[REPLY]), relevance_threshold=0,
                     cache_enabled=False, slack_user_questions_per_minute=2) as slack:
        events = [mention(f"How do I reset my password? ({i})") for i in range(4)]
        for event in events:
            assert slack.send_event(event)[0] == 200
        slack.idle()
        answered = [e for e in events if answers_in(slack.fake, "CGEN", e["ts"])]
        notes = slack.fake.calls_to("chat.postEphemeral", channel="CGEN", user="UASK")
        assert answered == events[:2] and len(slack.chat.prompts) == 2
        assert len(notes) == 1 and "2 questions in the last minute" in notes[0]["text"]
        path = slack.send_command("/ask", "How do I reset my password?", user="UASK")
        slack.idle()
        assert "Please ask again in" in slack.replies(path)[-1]["text"] and len(slack.chat.prompts) == 2
        other = mention("How do I reset my password?")
        other["user"] = "UOTHER"  # someone else is not held up
        assert slack.send_event(other)[0] == 200
        slack.idle()
        assert answers_in(slack.fake, "CGEN", other["ts"])


def test_a_question_the_full_queue_turns_away_does_not_count_against_its_asker(engine, fake_embedder):
    Indexer(engine, fake_embedder).index_items([SourceItem("mem:reset", "markdown", data=RESET.encode())], "it")
    gate = threading.Event()
    with running_bot(engine, fake_embedder, ScriptedChat(replies=[REPLY], gate=gate), relevance_threshold=0,
                     cache_enabled=False, slack_user_questions_per_minute=3, slack_workers=1,
                     slack_queue_limit=1) as slack:
        events = [mention(f"How do I reset my password? ({i})") for i in range(5)]
        for event in events[:4]:  # one answered, one waiting, two turned away: the queue is full
            assert slack.send_event(event)[0] == 200
        busy = slack.fake.wait_for("chat.postMessage", channel="CGEN", thread_ts=events[2]["ts"])
        assert "please ask again in a minute" in busy[0]["text"]
        gate.set()
        slack.idle()
        assert not answers_in(slack.fake, "CGEN", events[3]["ts"])  # told once a minute, as over the limit
        assert slack.send_event(events[4])[0] == 200  # the third of three this minute
        slack.idle()
        assert answers_in(slack.fake, "CGEN", events[4]["ts"])
        assert not slack.fake.calls_to("chat.postEphemeral", channel="CGEN", user="UASK")


def test_where_slack_refuses_feedback_buttons_the_answer_comes_with_plain_vote_buttons(slack):
    slack.fake.refuse_feedback_buttons = True
    event = mention("How do I reset my password?", channel="CGEN")
    assert slack.send_event(event)[0] == 200
    slack.idle()
    placeholder = answers_in(slack.fake, "CGEN", event["ts"])[0]["_ts"]
    shown = blocks_text(update_for(slack.fake, placeholder))
    assert "IT portal" in shown and '"action_id": "vote_up"' in shown and "feedback_buttons" not in shown
    path = slack.send_command("/ask", "How do I reset my password?", user="UASK")
    slack.idle()
    private = blocks_text(slack.replies(path)[-1])
    assert "IT portal" in private and '"action_id": "vote_up"' in private
