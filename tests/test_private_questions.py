"""A question is private to where it was asked, through the real bolt app over signed HTTP with the fake Slack
API: a question asked in a DM, a private channel, a group DM or the assistant panel and up-voted there is never
shown to anyone else (App Home, a public channel's help, the panel's suggested prompts), nor to its asker
elsewhere; a public channel's up-voted questions become examples only once an admin lets them
(/kb channel promote on). A channel that is off answers an old example button privately, and a help channel
answers questions, not chatter, in English and Korean."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from bot.slack.asking import asks
from retrieval.chunking import ChunkingParams
from retrieval.ingest import Indexer, SourceItem
from tests.fake_slack import TEAM
from tests.fakes import ScriptedChat
from tests.slack_harness import ADMIN, answers_in, blocks_text, click, mention, new_ts, running_bot, update_for

LEAVE = ("# Paid leave\n\n## Interns\n\nInterns get 1.25 paid vacation days for every month worked; "
         "employees get 25 days a year.\n")
REPLY = "Interns get 1.25 paid vacation days a month [1]."
EXAMPLE = "What does VPN-ERR-619 mean?"
# what conversations.info says of each channel (anything else: channel_not_found)
CHANNELS = {
    "CPUBLIC": {"is_channel": True, "is_private": False},
    "CPUBHELP": {"is_channel": True, "is_private": False},
    "CPRIVATE": {"is_channel": True, "is_private": True},
    "GGROUPDM": {"is_channel": False, "is_mpim": True, "is_private": True},
}


@pytest.fixture
def slack(engine, fake_embedder):
    with engine.begin() as conn:  # approved answers of other tests would answer these questions (route "cached")
        conn.execute(text("DELETE FROM cached_answers"))
    Indexer(engine, fake_embedder, ChunkingParams(size=400, overlap=40)).index_items(
        [SourceItem("mem:leave", "markdown", data=LEAVE.encode())], "hr")
    with running_bot(engine, fake_embedder, ScriptedChat(replies=[REPLY]), graded=False, relevance_threshold=0,
                     cache_enabled=False, example_questions=EXAMPLE, slack_admin_users=ADMIN) as harness:
        harness.fake.channels.update(CHANNELS)
        yield harness


def logged(slack, channel: str, message_ts: str) -> dict:
    with slack.engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM interactions WHERE channel = :c AND message_ts = :ts"),
                                 {"c": channel, "ts": message_ts}).mappings().one())


def ask_and_upvote(slack, event: dict) -> dict:
    """Send ``event`` (a question), wait for its answer and up-vote it where it was answered; its log row."""
    slack.chat.replies = [REPLY]
    assert slack.send_event(event)[0] == 200
    slack.idle()
    row = logged(slack, event["channel"], event["ts"])
    assert row["route"] == "answer" and row["reply_ts"]
    click(slack, event["user"], "vote_up", row["id"], channel=event["channel"])
    with slack.engine.connect() as conn:
        assert conn.execute(text("SELECT sum(vote) FROM feedback WHERE interaction_id = :i"),
                            {"i": row["id"]}).scalar_one() == 1
    return row


def in_dm(question: str, user: str) -> dict:
    return {"type": "message", "channel_type": "im", "user": user, "text": question, "channel": f"D{user}",
            "ts": new_ts()}


def in_panel(question: str, user: str) -> dict:
    return {**in_dm(question, user), "channel": f"DPANEL{user}", "thread_ts": new_ts()}


def mentioned(question: str, channel: str, user: str) -> dict:
    return {**mention(question, channel=channel), "user": user}


def home(slack, user: str) -> str:
    """``user``'s App Home, as published."""
    before = len(slack.fake.calls_to("views.publish", user_id=user))
    assert slack.send_event({"type": "app_home_opened", "user": user, "tab": "home", "channel": f"D{user}"})[0] == 200
    view = slack.fake.wait_for("views.publish", count=before + 1, user_id=user)[-1]["view"]
    return view if isinstance(view, str) else json.dumps(view, ensure_ascii=False)


def help_in(slack, channel: str, user: str) -> str:
    """The help a bare mention gets in ``channel``, with its example buttons."""
    event = mentioned("", channel, user)
    assert slack.send_event(event)[0] == 200
    slack.idle()
    shown = blocks_text(update_for(slack.fake, answers_in(slack.fake, channel, event["ts"])[0]["_ts"]))
    assert EXAMPLE in shown  # the configured examples are there: the help did list examples
    return shown


def panel_prompts(slack, user: str) -> list[str]:
    """The suggested prompts of a new assistant thread ``user`` opens."""
    channel = f"DPANEL{user}"
    started = {"type": "assistant_thread_started", "event_ts": new_ts(),
               "assistant_thread": {"user_id": user, "channel_id": channel, "thread_ts": new_ts(),
                                    "context": {"channel_id": "CPUBLIC", "team_id": TEAM}}}
    assert slack.send_event(started)[0] == 200
    slack.idle()
    prompts = [p["message"] for p in slack.fake.calls_to("assistant.threads.setSuggestedPrompts",
                                                         channel_id=channel)[-1]["prompts"]]
    assert EXAMPLE in prompts
    return prompts


def kb(slack, text_: str, channel: str) -> str:
    path = slack.send_command("/kb", text_, user=ADMIN, channel=channel)
    slack.idle()
    return slack.replies(path)[-1]["text"]


@pytest.mark.parametrize("where", ["dm", "private channel", "group dm", "assistant panel"])
def test_a_question_asked_privately_and_upvoted_is_never_shown_to_anyone_else(slack, where):
    question = f"Minsu is my intern ({where}): how many paid vacation days does he get?"
    event = {"dm": lambda: in_dm(question, "UMINSUBOSS"),
             "private channel": lambda: mentioned(question, "CPRIVATE", "UMINSUBOSS"),
             "group dm": lambda: mentioned(question, "GGROUPDM", "UMINSUBOSS"),
             "assistant panel": lambda: in_panel(question, "UMINSUBOSS")}[where]()
    row = ask_and_upvote(slack, event)
    assert row["place"] == "private"
    kb(slack, "channel promote on", "CPUBHELP")  # even where a public channel shares its own questions

    for user in ("UOTHER", "UMINSUBOSS"):  # nor to its asker, on another surface
        assert question not in home(slack, user)
        assert question not in help_in(slack, "CPUBHELP", user)
        assert question not in panel_prompts(slack, user)


def test_a_public_channels_upvoted_question_is_shown_only_once_the_channel_opts_in(slack):
    question = "How many paid vacation days do interns get in a public channel?"
    row = ask_and_upvote(slack, mentioned(question, "CPUBLIC", "UASKER"))
    assert row["place"] == "public" and slack.fake.calls_to("conversations.info", channel="CPUBLIC")
    assert question not in home(slack, "UOTHER")  # off by default: nothing up-voted is shown anywhere
    assert question not in help_in(slack, "CPUBHELP", "UOTHER")
    assert question not in panel_prompts(slack, "UOTHER")

    assert kb(slack, "channel promote on", "CPUBLIC") == (
        "<#CPUBLIC>: answers when mentioned · collections: hr (all) · up-voted questions shown as examples")
    assert question in home(slack, "UOTHER")
    assert question in help_in(slack, "CPUBHELP", "UOTHER")
    assert question in panel_prompts(slack, "UOTHER")

    assert kb(slack, "channel promote off", "CPUBLIC") == "<#CPUBLIC>: answers when mentioned · collections: hr (all)"
    assert question not in home(slack, "UOTHER")


def test_a_channel_slack_cannot_tell_about_counts_as_private(slack):
    question = "How many paid vacation days do interns get, asked where Slack cannot say?"
    row = ask_and_upvote(slack, mentioned(question, "CUNKNOWN", "UASKER"))  # conversations.info: channel_not_found
    assert slack.fake.calls_to("conversations.info", channel="CUNKNOWN") and row["place"] == "private"
    kb(slack, "channel promote on", "CUNKNOWN")
    assert question not in home(slack, "UOTHER")


def test_an_old_example_button_in_an_off_channel_is_answered_privately(slack):
    assert kb(slack, "channel mode off", "CWASHELP").startswith("<#CWASHELP>: does not answer")
    name = "example-off"
    payload = {"type": "block_actions", "user": {"id": "UCLICK"}, "team": {"id": TEAM}, "trigger_id": "trig-off",
               "channel": {"id": "CWASHELP"}, "response_url": slack.fake.response_url(name),
               "container": {"type": "message", "channel_id": "CWASHELP", "message_ts": "1.000001"},
               "actions": [{"action_id": "ask_example_0", "value": "How many paid vacation days do interns get?",
                            "type": "button", "block_id": "b"}]}
    slack.chat.replies = [REPLY]
    assert slack.send_payload(payload)[0] == 200
    slack.idle()
    assert not slack.fake.calls_to("chat.postMessage", channel="CWASHELP")  # nothing said there for everyone
    private = slack.replies(f"/respond/{name}")[-1]
    assert private["response_type"] == "ephemeral" and private["replace_original"] is False  # the help message stays
    assert "1.25 paid vacation days" in blocks_text(private)


def test_ask_the_model_instead_in_a_channel_now_off_is_answered_privately(slack):
    event = mentioned("How many paid vacation days do interns get?", "CNOWOFF", "UASKER")
    assert slack.send_event(event)[0] == 200
    slack.idle()
    row = logged(slack, "CNOWOFF", event["ts"])
    kb(slack, "channel mode off", "CNOWOFF")
    name = "model-off"
    payload = {"type": "block_actions", "user": {"id": "UASKER"}, "team": {"id": TEAM}, "trigger_id": "trig-m",
               "channel": {"id": "CNOWOFF"}, "response_url": slack.fake.response_url(name),
               "container": {"type": "message", "channel_id": "CNOWOFF", "message_ts": row["reply_ts"]},
               "actions": [{"action_id": "ask_model", "value": str(row["id"]), "type": "button", "block_id": "b"}]}
    slack.chat.replies = [REPLY]
    assert slack.send_payload(payload)[0] == 200
    slack.idle()
    assert len(answers_in(slack.fake, "CNOWOFF", event["ts"])) == 1  # only the first answer, none after
    private = slack.replies(f"/respond/{name}")[-1]
    assert private["response_type"] == "ephemeral" and private["replace_original"] is False
    assert "1.25 paid vacation days" in blocks_text(private)


QUESTIONS = [
    "How do I reset my password",
    "how many vacation days do interns get",
    "What does VPN-ERR-619 mean",
    "what's the wifi password policy",
    "where is the lunch card policy",
    "can I expense a taxi after 10pm",
    "is the VPN down",
    "does anyone know who approves travel",
    "Have you got the travel policy",
    "tell me about the expense policy",
    "please explain the travel policy",
    "I need the VPN setup guide",
    "vacation policy?",
    "VPN-ERR-619？",  # a full-width question mark
    "ok thanks, one more: who approves expenses",
    "Thanks! How long does reimbursement take",
    "경비 정산은 며칠 안에 해야 하나요",
    "휴가는 몇 일이에요",
    "VPN 오류는 왜 생기나요",
    "누가 경비를 승인해요",
    "비밀번호는 어떻게 바꿔요",
    "점심 식대는 얼마예요",
    "출장 규정 알려 주세요",
    "재택근무 규정 알려줘",
    "연차 신청은 어디서 해요",
    "휴가 신청은 언제까지 해야 합니까",
    "인턴도 연차가 있나요",
    "이게 맞는 건가요 ㅎㅎ",
    "VPN 설정 방법이 궁금합니다",
    "법인카드 써도 되나요",
    "얼마나 걸려요",
]
CHATTER = [
    "lol ok thanks everyone",
    "ok",
    "thanks!",
    "👍",
    "thank you so much",
    "sounds good",
    "got it, thanks",
    "nvm I found it",
    "How cool!",
    "What a relief!",
    "will do, thanks",
    "can't wait for Friday",
    "Have a nice weekend everyone",
    "+1",
    "haha same here",
    "that worked, thanks a lot",
    "good morning team",
    "고마워요",
    "감사합니다!",
    "ㅋㅋㅋ",
    "네 알겠습니다",
    "좋아요 👍",
    "확인했어요",
    "수고하셨습니다",
    "해결됐어요 감사합니다",
    "언제나 감사합니다",
    "누구나 실수하죠",
    "저 먼저 가요",
    "어느새 금요일이네요",
    "무엇보다 빨라서 좋네요",
]


@pytest.mark.parametrize("message", QUESTIONS)
def test_a_question_asks(message):
    assert asks(message)


@pytest.mark.parametrize("message", CHATTER)
def test_chatter_asks_nothing(message):
    assert not asks(message)


def test_a_help_channel_answers_questions_and_leaves_chatter_alone(slack):
    assert kb(slack, "channel mode all", "CHELPDESK").startswith("<#CHELPDESK>: answers every top-level question")
    sent = {}
    for message in ("lol ok thanks everyone", "thanks!", "👍", "고마워요", "How many vacation days do interns get",
                    "인턴 휴가는 며칠인가요"):
        event = {"type": "message", "channel_type": "channel", "user": "UASKER", "text": message,
                 "channel": "CHELPDESK", "ts": new_ts()}
        slack.chat.replies = [REPLY]
        assert slack.send_event(event)[0] == 200
        slack.idle()
        sent[message] = event["ts"]
    answered = {m for m, ts in sent.items() if answers_in(slack.fake, "CHELPDESK", ts)}
    assert answered == {"How many vacation days do interns get", "인턴 휴가는 며칠인가요"}
    # the event said it is a public channel: no need to ask Slack
    assert logged(slack, "CHELPDESK", sent["인턴 휴가는 며칠인가요"])["place"] == "public"
    assert not slack.fake.calls_to("conversations.info", channel="CHELPDESK")
