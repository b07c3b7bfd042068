"""The real bolt App in HTTP mode (uvicorn on localhost), correctly signed requests, a local fake
Slack Web API that records calls, real PostgreSQL and the real embedder. The chat model is scripted
so each test can choose the reply (and hold it back, for the slow-model test)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import text

from tests.fake_slack import BOT_USER, event_body, post, sign
from tests.fakes import ScriptedChat
from tests.slack_harness import (
    ADMIN,
    SECRET,
    VPN_REPLY,
    answers_in,
    ask_and_wait,
    blocks_text,
    click,
    interaction,
    mention,
    new_ts,
    opened_view,
    running_bot,
    submit,
    update_for,
    with_secret,
)


@pytest.fixture(scope="module")
def slack_db(handbook_db, server_url, e5_embedder, tmp_path_factory):
    """A copy of the handbook database plus a collection bound to one channel."""
    secret = tmp_path_factory.mktemp("secret")
    with with_secret(handbook_db[0], server_url, e5_embedder, secret, "kb_slack") as engine:
        yield engine, secret


@pytest.fixture(scope="module")
def slack(slack_db, e5_embedder):
    engine, secret = slack_db
    chat = ScriptedChat(replies=[VPN_REPLY])
    with running_bot(engine, e5_embedder, chat, channel_collections="secret=CSECRET",
                     kb_sources=json.dumps({"secret": [str(secret)]}), slack_workers=2) as harness:
        harness.fake.members["CSECRET"] = [ADMIN]  # the admin may name and reindex the bound collection
        yield harness


@pytest.fixture
def ask(slack):
    """Mention the bot with a scripted reply; returns (event, placeholder ts, final chat.update)."""

    def ask(question: str, reply: str = VPN_REPLY, channel: str = "CGEN"):
        return ask_and_wait(slack, question, reply, channel)

    return ask


def test_mention_gets_one_threaded_answer_with_citations_and_buttons(slack, ask):
    event, ts, update = ask("What does VPN-ERR-619 mean?")
    rendered = blocks_text(update)
    assert update["channel"] == "CGEN" and "UDP port 51820 is blocked [1]" in rendered
    assert "[1] VPN and Wi-Fi Setup" in rendered and '"type": "feedback_buttons"' in rendered
    row = interaction(slack.engine, ts)
    assert (row["channel"], row["thread_ts"], row["asker"], row["origin"]) == ("CGEN", event["ts"], "UASK", "slack")


def test_a_retried_event_is_answered_once(slack):
    slack.chat.replies = ["Answer [1]."]
    event = mention("What does VPN-ERR-619 mean?")
    body = event_body(event, event_id="EvRetry1")
    assert slack.send_event(event, body=body)[0] == 200
    assert slack.send_event(event, body=body, retry=1)[0] == 200
    assert slack.send_event(event, body=body, retry=2)[0] == 200
    slack.idle()
    assert len(answers_in(slack.fake, "CGEN", event["ts"])) == 1


def test_mention_and_message_events_for_one_message_give_one_answer(slack, ask):
    first, _, _ = ask("What does VPN-ERR-619 mean?")
    follow_up = mention("and what about VPN-ERR-401?", thread_ts=first["ts"])
    as_message = {**follow_up, "type": "message", "channel_type": "channel"}
    slack.chat.replies = ["Rewritten question?", "It means authentication failed [1]."]
    assert slack.send_event(follow_up)[0] == 200
    assert slack.send_event(as_message)[0] == 200
    slack.idle()
    assert len(answers_in(slack.fake, "CGEN", first["ts"])) == 2  # the first answer and this one


def test_forged_or_stale_signatures_are_rejected(slack):
    event = mention("What does VPN-ERR-619 mean?")
    body = event_body(event)
    forged = {**sign("wrong-secret", body)}
    assert post(slack.url, body, forged, "application/json")[0] == 401
    stale = sign(SECRET, body, timestamp=int(time.time()) - 3600)
    assert post(slack.url, body, stale, "application/json")[0] == 401
    slack.idle()
    assert answers_in(slack.fake, "CGEN", event["ts"]) == []


def test_the_http_response_returns_before_a_slow_model_finishes(slack):
    gate = threading.Event()
    slack.chat.gate = gate
    slack.chat.replies = ["Slow answer [1]."]
    try:
        event = mention("What does VPN-ERR-619 mean?")
        assert slack.send_event(event)[0] == 200  # returned while the model is still held back
        placeholder = slack.fake.wait_for("chat.postMessage", thread_ts=event["ts"])[0]
        assert "⏳" in placeholder["text"] and not slack.fake.calls_to("chat.update", ts=placeholder["_ts"])
    finally:
        gate.set()
        slack.chat.gate = None
    slack.idle()
    assert "Slow answer" in blocks_text(update_for(slack.fake, placeholder["_ts"]))


def test_a_model_answer_cannot_ping_the_channel(slack, ask):
    _, _, update = ask("What does VPN-ERR-619 mean?", reply="Hey <!channel> and <@U999>, @here: it is blocked [1].")
    rendered = blocks_text(update)
    assert "<!channel>" not in rendered and "<@U999>" not in rendered and "@here" not in rendered
    assert "&lt;!channel&gt;" in rendered


def test_votes_by_button_and_reaction_are_stored_and_the_latest_wins(slack, ask):
    _, ts, update = ask("What does VPN-ERR-619 mean?")
    interaction_id = interaction(slack.engine, ts)["id"]
    click(slack, "UV", "vote_up", interaction_id, trigger_id="trig1")
    assert _votes(slack.engine, interaction_id) == {"UV": (1, "button")}
    reaction = {"type": "reaction_added", "user": "UV", "reaction": "-1", "item_user": BOT_USER,
                "item": {"type": "message", "channel": "CGEN", "ts": ts}, "event_ts": new_ts()}
    assert slack.send_event(reaction)[0] == 200
    assert _votes(slack.engine, interaction_id) == {"UV": (-1, "reaction")}
    assert slack.send_event({**reaction, "type": "reaction_removed"})[0] == 200
    assert _votes(slack.engine, interaction_id) == {"UV": (0, "reaction")}
    other = {**reaction, "user": "UW", "reaction": "thumbsup::skin-tone-3"}
    assert slack.send_event(other)[0] == 200
    click(slack, "UV", "feedback", f"up:{interaction_id}")  # Slack's feedback buttons
    assert _votes(slack.engine, interaction_id) == {"UV": (1, "button"), "UW": (1, "reaction")}
    click(slack, "UV", "feedback", f"down:{interaction_id}", trigger_id="trig2")
    assert _votes(slack.engine, interaction_id) == {"UV": (-1, "button"), "UW": (1, "reaction")}
    submit(slack, "UV", opened_view(slack, "trig2"), {"comment": {"comment": {"type": "plain_text_input",
                                                        "value": "It is port 443, not 51820."}}})
    with slack.engine.connect() as conn:
        comment = conn.execute(text("SELECT comment FROM feedback WHERE interaction_id = :i AND user_id = 'UV'"),
                               {"i": interaction_id}).scalar_one()
    assert comment == "It is port 443, not 51820."


def test_kb_reindex_is_for_admins_and_posts_a_summary(slack):
    assert "for knowledge-base admins" in _kb(slack, "reindex", "UNOBODY")["text"]
    slack.fake.admins.add(ADMIN)
    done = slack.send_command("/kb", "reindex secret", user=ADMIN)
    slack.idle()
    slack.bot.admin.background.submit(lambda: None).result(120)  # the reindex ran on its own thread
    texts = [r["text"] for r in slack.replies(done)]
    assert texts[0].startswith("Reindexing secret") and texts[-1].startswith("Reindex finished")
    assert "*secret*: 0 added, 0 updated, 1 unchanged, 0 removed, 0 failed" in texts[-1]
    with slack.engine.connect() as conn:
        logged = conn.execute(text("SELECT user_id, action, allowed FROM admin_actions ORDER BY id")).all()
    assert ("UNOBODY", "kb reindex", False) in logged and ("UADMIN", "kb reindex", True) in logged
    assert "*handbook*: 20 documents" in _kb(slack, "status", ADMIN)["text"]


def test_a_channel_never_cites_a_collection_bound_elsewhere(slack, ask):
    _, _, elsewhere = ask("What is the budget of Project Falcon?", reply="It is [1] [2] [3] [4] [5].")
    assert "Project Falcon" not in blocks_text(elsewhere)
    _, _, bound = ask("What is the budget of Project Falcon?", reply="2.4 million euros [1].", channel="CSECRET")
    assert "[1] Project Falcon" in blocks_text(bound)


def test_rate_limited_calls_are_retried_after_retry_after(slack, ask):
    slack.fake.rate_limited["chat.update"] = 1
    _, ts, update = ask("What does VPN-ERR-619 mean?")
    assert slack.fake.calls_to("chat.update:429") and "[1]" in blocks_text(update)


def test_thread_follow_up_without_a_mention_uses_the_thread_history(slack, ask):
    first, ts, _ = ask("What does VPN-ERR-619 mean?")
    slack.fake.threads[("CGEN", first["ts"])] = [
        {"ts": first["ts"], "user": "UASK", "text": first["text"]},
        {"ts": ts, "user": BOT_USER, "bot_id": "BBOT", "text": "It means UDP is blocked [1]."},
    ]
    slack.chat.replies = ["What does VPN-ERR-401 mean?", "Authentication failed [1]."]
    slack.chat.prompts.clear()
    follow = {"type": "message", "channel_type": "channel", "user": "UASK", "text": "and 401?", "channel": "CGEN",
              "ts": new_ts(), "thread_ts": first["ts"]}
    slack.fake.threads[("CGEN", first["ts"])].append(follow)
    assert slack.send_event(follow)[0] == 200
    slack.idle()
    rewrite_prompt = slack.chat.prompts[0][-1].content
    assert "User: What does VPN-ERR-619 mean?" in rewrite_prompt and "Assistant: It means UDP" in rewrite_prompt
    assert len(answers_in(slack.fake, "CGEN", first["ts"])) == 2


def test_own_messages_other_bots_and_edits_are_ignored(slack):
    thread = new_ts()
    for event in ({"type": "message", "channel_type": "im", "user": BOT_USER, "text": "hi", "channel": "DX"},
                  {"type": "message", "channel_type": "im", "bot_id": "BOTHER", "text": "hi", "channel": "DX"},
                  {"type": "message", "channel_type": "im", "subtype": "message_changed", "channel": "DX",
                   "message": {"text": "edited"}}):
        assert slack.send_event({**event, "ts": new_ts(), "thread_ts": thread})[0] == 200
    slack.idle()
    assert not slack.fake.calls_to("chat.postMessage", channel="DX")


def test_first_dm_gets_a_welcome_and_the_answer(slack):
    slack.chat.replies = ["It means the port is blocked [1]."]
    event = {"type": "message", "channel_type": "im", "user": "UNEW", "text": "What does VPN-ERR-619 mean?",
             "channel": "DNEW", "ts": new_ts()}
    assert slack.send_event(event)[0] == 200
    slack.idle()
    posted = slack.fake.calls_to("chat.postMessage", channel="DNEW")
    assert any("👋" in p["text"] for p in posted) and "thread_ts" not in posted[0]
    assert "port is blocked" in blocks_text(update_for(slack.fake, posted[0]["_ts"]))


def test_bare_mention_gets_help_with_example_buttons(slack):
    event = mention("")
    assert slack.send_event(event)[0] == 200
    slack.idle()
    placeholder = answers_in(slack.fake, "CGEN", event["ts"])[0]
    rendered = blocks_text(update_for(slack.fake, placeholder["_ts"]))
    assert "ask_example_0" in rendered and "VPN-ERR-619" in rendered


def test_app_home_shows_sources_and_examples(slack):
    assert slack.send_event({"type": "app_home_opened", "user": "UHOME", "tab": "home", "channel": "DH"})[0] == 200
    view = slack.fake.wait_for("views.publish", user_id="UHOME")[-1]["view"]
    rendered = view if isinstance(view, str) else json.dumps(view, ensure_ascii=False)
    assert "handbook" in rendered and "20 documents" in rendered and "ask_example_0" in rendered


def test_slash_ask_answers_privately(slack):
    slack.chat.replies = ["Privately: blocked port [1]."]
    path = slack.send_command("/ask", "What does VPN-ERR-619 mean?", user="UASK")
    slack.idle()
    reply = slack.replies(path)[-1]
    assert reply["response_type"] == "ephemeral" and "Privately" in blocks_text(reply)


def _kb(slack, text_: str, user: str) -> dict:
    """``/kb TEXT`` as ``user``; the last private reply once the command has run."""
    path = slack.send_command("/kb", text_, user=user)
    slack.idle()
    return slack.replies(path)[-1]


def test_an_approved_answer_is_served_from_the_cache_and_the_model_can_be_asked_instead(slack, ask):
    # votes share only a public channel's questions (one of its own: what is known of CGEN is cached a while)
    where = "CPUBCACHE"
    slack.fake.channels[where] = {"is_channel": True, "is_private": False}
    _, ts, _ = ask("How many vacation days do interns get?", reply="Interns get 1.5 days a month [1].", channel=where)
    click(slack, "UV1", "vote_up", interaction(slack.engine, ts)["id"], channel=where)
    calls = len(slack.chat.prompts)
    event, ts2, update = ask("how many days of paid vacation does an intern receive?", reply="From the model [1].",
                             channel=where)
    rendered = blocks_text(update)
    assert "Interns get 1.5 days a month [1]" in rendered and "approved by 1 person · cached" in rendered
    assert '"action_id": "ask_model"' in rendered and len(slack.chat.prompts) == calls  # no model call
    served = interaction(slack.engine, ts2)
    assert served["route"] == "cached" and served["cached_answer_id"]

    click(slack, "UASK", "ask_model", served["id"], channel=where)
    click(slack, "UASK", "ask_model", served["id"], channel=where)  # a double click asks once
    slack.idle()
    posted = answers_in(slack.fake, where, event["ts"])
    assert len(posted) == 2
    assert "From the model [1]" in blocks_text(update_for(slack.fake, posted[1]["_ts"]))
    assert len(slack.chat.prompts) == calls + 1

    reaction = {"type": "reaction_added", "user": "UV2", "reaction": "thumbsdown", "item_user": BOT_USER,
                "item": {"type": "message", "channel": where, "ts": ts2}, "event_ts": new_ts()}
    assert slack.send_event(reaction)[0] == 200  # 👎 on the cached answer demotes it
    _, _, update = ask("How many vacation days do interns get?", reply="Model again [1].", channel=where)
    assert "Model again" in blocks_text(update)


def test_kb_feedback_lists_downvoted_answers_and_a_curated_answer_is_served(slack, ask):
    question = "How many approvals does a pull request with a database migration need?"
    _, ts, _ = ask(question, reply="The intern approves them [1].")
    interaction_id = interaction(slack.engine, ts)["id"]
    click(slack, "UV3", "vote_down", interaction_id, trigger_id="trig-down")
    submit(slack, "UV3", opened_view(slack, "trig-down"),
            {"comment": {"comment": {"type": "plain_text_input", "value": "It's the CFO, see <@U777>."}}})

    assert "for knowledge-base admins" in _kb(slack, "feedback", "UNOBODY")["text"]
    slack.fake.admins.add(ADMIN)
    rendered = blocks_text(_kb(slack, "feedback", ADMIN))
    assert question in rendered and "The intern approves them" in rendered
    assert "It's the CFO, see [user]." in rendered and '"action_id": "curate"' in rendered  # stored redacted

    click(slack, "UNOBODY", "curate", interaction_id, trigger_id="trig-nobody")
    click(slack, ADMIN, "curate", interaction_id, trigger_id="trig-curate")
    view = opened_view(slack, "trig-curate")
    assert slack.fake.calls_to("views.open", trigger_id="trig-nobody") == []
    assert view["callback_id"] == "curate_answer" and "The intern approves them" in json.dumps(view)
    submit(slack, ADMIN, view, {"answer": {"answer": {"type": "plain_text_input",
                                                       "value": "Two approvals, one from Platform."}}})
    calls = len(slack.chat.prompts)
    _, _, update = ask(question, reply="The intern again [1].")
    rendered = blocks_text(update)
    assert "Two approvals, one from Platform." in rendered and "curated by an admin · cached" in rendered
    assert len(slack.chat.prompts) == calls
    with slack.engine.connect() as conn:
        actions = conn.execute(text("SELECT user_id, action, allowed FROM admin_actions WHERE action LIKE 'kb curate%'"
                                    " ORDER BY id")).all()
    assert actions == [("UNOBODY", "kb curate open", False), (ADMIN, "kb curate open", True),
                       (ADMIN, "kb curate", True)]


def _votes(engine, interaction_id: int) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT user_id, vote, via FROM feedback WHERE interaction_id = :i"),
                            {"i": interaction_id}).all()
    return {u: (v, via) for u, v, via in rows}
