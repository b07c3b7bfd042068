"""Nothing crosses a channel boundary: the visibility rule (bot.slack.visibility) on every surface,
through the real bolt app over signed HTTP with the fake Slack API.

The "secret" collection is bound to #secret (CSECRET), a public channel whose members are UMEMBER and UASK
and whose up-voted questions may be examples (/kb channel promote on). A question asked and up-voted there
must not show up as an example anywhere its collection cannot be seen; a vote, comment or "ask the model
instead" from elsewhere is refused; in a DM, members get the bound documents and others do not.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from bot.slack.visibility import Audience, Visibility
from tests.fakes import ScriptedChat
from tests.slack_harness import (
    ADMIN,
    answers_in,
    ask_and_wait,
    blocks_text,
    click,
    interaction,
    mention,
    new_ts,
    running_bot,
    submit,
    update_for,
    with_secret,
)

QUESTION = "What is the budget of Project Falcon?"
REPLY = "Project Falcon's budget for 2027 is 2.4 million euros [1]."


@pytest.fixture(scope="module")
def bound_db(handbook_db, server_url, e5_embedder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("secret")
    with with_secret(handbook_db[0], server_url, e5_embedder, folder, "kb_visibility") as engine:
        yield engine, folder


@pytest.fixture(scope="module")
def slack(bound_db, e5_embedder):
    engine, folder = bound_db
    with running_bot(engine, e5_embedder, ScriptedChat(replies=[REPLY]), channel_collections="secret=CSECRET",
                     slack_admin_users=ADMIN, kb_sources=json.dumps({"secret": [str(folder)]})) as harness:
        harness.fake.members["CSECRET"] = ["UMEMBER", "UASK"]
        harness.fake.members["CGEN"] = ["UMEMBER", "UASK", "UOUT", ADMIN]
        harness.fake.channels["CSECRET"] = {"is_channel": True, "is_private": False}
        yield harness


@pytest.fixture(scope="module")
def upvoted(slack):
    """The secret question, answered in #secret and up-voted there: (interaction row, answer ts)."""
    _, ts, update = ask_and_wait(slack, QUESTION, reply=REPLY, channel="CSECRET")
    assert "2.4 million euros" in blocks_text(update)
    row = interaction(slack.engine, ts)
    assert row["place"] == "public"
    click(slack, "UMEMBER", "vote_up", row["id"], channel="CSECRET")
    slack.send_command("/kb", "channel promote on", user=ADMIN, channel="CSECRET")
    slack.idle()
    assert _votes(slack.engine, row["id"]) == {"UMEMBER": 1}
    return row, ts


def _votes(engine, interaction_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT user_id, vote FROM feedback WHERE interaction_id = :i"),
                                 {"i": interaction_id}).all())


def _help_in(slack, channel: str) -> str:
    event = mention("", channel=channel)
    assert slack.send_event(event)[0] == 200
    slack.idle()
    return blocks_text(update_for(slack.fake, answers_in(slack.fake, channel, event["ts"])[0]["_ts"]))


def _home(slack, user: str) -> str:
    assert slack.send_event({"type": "app_home_opened", "user": user, "tab": "home", "channel": "D" + user})[0] == 200
    view = slack.fake.wait_for("views.publish", user_id=user)[-1]["view"]
    return view if isinstance(view, str) else json.dumps(view, ensure_ascii=False)


def _dm(slack, user: str, question: str) -> dict:
    """``question`` in ``user``'s DM with the bot; the logged interaction."""
    channel = "D" + user
    event = {"type": "message", "channel_type": "im", "user": user, "text": question, "channel": channel,
             "ts": new_ts()}
    assert slack.send_event(event)[0] == 200
    slack.idle()
    with slack.engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM interactions WHERE channel = :c AND message_ts = :ts"),
                                 {"c": channel, "ts": event["ts"]}).mappings().one())


def test_an_upvoted_bound_question_is_shown_only_where_its_collection_is_visible(slack, upvoted):
    assert QUESTION in _help_in(slack, "CSECRET")  # where it was asked, it is an example
    assert QUESTION not in _help_in(slack, "CGEN")
    outsider = _home(slack, "UOUT")
    assert QUESTION not in outsider and "*secret*" not in outsider and "*handbook*" in outsider
    member = _home(slack, "UMEMBER")  # the App Home is the member's own: their channels' questions count
    assert QUESTION in member and "*secret*" in member

    path = slack.send_command("/ask", "help", user="UOUT", channel="DUOUT")
    slack.idle()
    assert QUESTION not in blocks_text(slack.replies(path)[-1])
    path = slack.send_command("/ask", "help", user="UMEMBER", channel="DUMEMBER")
    slack.idle()
    assert QUESTION in blocks_text(slack.replies(path)[-1])


def test_a_vote_comment_or_ask_the_model_from_another_channel_is_refused(slack, upvoted):
    row, _ = upvoted
    click(slack, "UOUT", "vote_down", row["id"], trigger_id="trig-forged", channel="CGEN")
    assert _votes(slack.engine, row["id"]) == {"UMEMBER": 1}  # the forged 👎 is not recorded
    assert not slack.fake.calls_to("views.open", trigger_id="trig-forged")  # and no comment modal opens
    view = {"callback_id": "vote_comment", "private_metadata": str(row["id"])}
    submit(slack, "UOUT", view, {"comment": {"comment": {"type": "plain_text_input", "value": "forged"}}})
    with slack.engine.connect() as conn:
        comments = conn.execute(text("SELECT count(*) FROM feedback WHERE comment IS NOT NULL AND "
                                     "interaction_id = :i"), {"i": row["id"]}).scalar_one()
    assert comments == 0

    asked_before = len(slack.chat.prompts)
    click(slack, "UOUT", "ask_model", row["id"], channel="CGEN")
    slack.idle()
    assert len(slack.chat.prompts) == asked_before and len(answers_in(slack.fake, "CSECRET", row["thread_ts"])) == 1

    click(slack, "UASK", "vote_down", row["id"], channel="CSECRET")  # from #secret itself: counted
    assert _votes(slack.engine, row["id"]) == {"UMEMBER": 1, "UASK": -1}


def test_a_member_gets_the_bound_documents_in_a_dm_and_a_non_member_does_not(slack):
    slack.chat.replies = [REPLY]
    member = _dm(slack, "UMEMBER", QUESTION)
    assert "secret" in member["collections"] and "2.4 million euros" in member["answer"]
    outsider = _dm(slack, "UOUT", QUESTION)
    assert "secret" not in outsider["collections"]
    assert not any("falcon" in json.dumps(s).lower() for s in outsider["sources"] + outsider["retrieved"])


def test_kb_output_and_curation_follow_the_admins_own_visibility(slack, upvoted):
    row, _ = upvoted
    click(slack, "UASK", "vote_down", row["id"], channel="CSECRET")
    path = slack.send_command("/kb", "feedback", user=ADMIN)
    slack.idle()
    assert QUESTION not in blocks_text(slack.replies(path)[-1])  # the admin is not in #secret
    path = slack.send_command("/kb", "sources", user=ADMIN)
    slack.idle()
    shown = slack.replies(path)[-1]["text"]
    assert "Project Falcon" not in shown and "*secret*" not in shown and "*handbook*" in shown
    click(slack, ADMIN, "curate", row["id"], trigger_id="trig-curate-secret", channel="CGEN")
    slack.idle()
    assert not slack.fake.calls_to("views.open", trigger_id="trig-curate-secret")


def test_when_slack_cannot_tell_membership_nobody_is_a_member(slack):
    rule = Visibility({"secret": ("CGONE",)}, slack.bot.answerer.visibility.members)
    assert rule.collections(Audience.alone("UMEMBER", "DUMEMBER"), ["handbook", "secret"]) == ("handbook",)
    assert slack.fake.calls_to("conversations.members", channel="CGONE")  # asked, and refused: channel_not_found


def test_an_example_from_a_private_help_is_answered_privately(slack, upvoted):
    click(slack, "UASK", "vote_up", upvoted[0]["id"], channel="CSECRET")  # popular again after the 👎 tests
    path = slack.send_command("/ask", "help", user="UMEMBER", channel="CGEN")  # private: the member's examples
    slack.idle()
    assert QUESTION in blocks_text(slack.replies(path)[-1])
    name = "example-private"
    payload = {"type": "block_actions", "user": {"id": "UMEMBER"}, "team": {"id": "T0001"}, "trigger_id": "trig-ex",
               "channel": {"id": "CGEN"}, "response_url": slack.fake.response_url(name),
               "container": {"type": "message", "is_ephemeral": True, "channel_id": "CGEN"},
               "actions": [{"action_id": "ask_example_0", "value": QUESTION, "type": "button", "block_id": "b"}]}
    slack.chat.replies = [REPLY]
    assert slack.send_payload(payload)[0] == 200
    slack.idle()
    assert not [p for p in slack.fake.calls_to("chat.postMessage", channel="CGEN") if QUESTION in p.get("text", "")]
    private = slack.replies(f"/respond/{name}")[-1]
    assert private["response_type"] == "ephemeral" and "2.4 million euros" in blocks_text(private)


def test_a_reindex_names_only_the_collections_the_admin_may_see(slack):
    path = slack.send_command("/kb", "reindex secret", user=ADMIN)
    slack.idle()
    assert slack.replies(path)[-1]["text"] == "Unknown source `secret`. Known: none you can see."
    path = slack.send_command("/kb", "reindex", user=ADMIN)
    slack.idle()
    slack.bot.admin.background.submit(lambda: None).result(120)  # the reindex ran on its own thread
    said = [r["text"] for r in slack.replies(path)]
    assert said[0] == "Reindexing 1 you cannot see in the background…" and said[-1].startswith("Reindex finished")
    assert not any("secret" in t or "falcon" in t for t in said)
