"""Personal data is minimised and retention enforced: what the log stores, what a hosted model sees,
what a purge leaves, what an export takes. Real PostgreSQL, the real embedder, the real pipeline; the
hosted model is a real OpenAI-compatible HTTP server on localhost that keeps every request."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from answering.pipeline import Pipeline
from answering.types import Question
from bot.settings import Settings
from core.errors import InvalidInput
from core.text import fold
from feedback import votes
from feedback.exports import Selection
from feedback.log import Interaction, load, record
from feedback.retention import parse_age, purge
from models.chat import ChatModels
from retrieval.search import Searcher
from tests.fakes import ScriptedChat, ScriptedModels
from tests.slack_harness import running_bot
from tests.trickle import TrickleServer

ASKER_EMAIL, ASKER_PHONE = "minji.kim@example.com", "010-1234-5678"
QUESTION = f"How do I request vacation in Berlin? I'm on {ASKER_PHONE} and {ASKER_EMAIL}."
PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|RRN|MENTION)_\d+\]")


def pipeline(handbook_db, e5_embedder, models=None, **values) -> Pipeline:
    settings = Settings(_env_file=None, answer_mode="generate", **values)
    return Pipeline(settings.pipeline_config, Searcher(handbook_db[0], e5_embedder),
                    models or ChatModels(settings.chat_config), handbook_db[0])


def test_a_hosted_model_sees_placeholders_and_the_asker_gets_the_values_back(handbook_db, e5_embedder, smollm_path):
    def reply(request: dict) -> str:  # an obliging model: it names every placeholder it was given
        seen = sorted(set(PLACEHOLDER.findall(json.dumps(request))))
        return f"Request it in Northwind People [1]. Contacts: {', '.join(seen)}."

    with TrickleServer(0, reply=reply) as server:
        answer = pipeline(handbook_db, e5_embedder, model_policy="hosted", hosted_model="m",
                          hosted_base_url=server.url, local_model_path=smollm_path).answer(Question(QUESTION))
        sent = json.dumps(server.bodies, ensure_ascii=False)
    assert server.bodies and ASKER_EMAIL not in sent and "1234-5678" not in sent
    assert "@northwind.example" not in sent  # the sources' addresses too
    assert "[EMAIL_1]" in sent and "[PHONE_1]" in sent
    assert ASKER_EMAIL in answer.text and ASKER_PHONE in answer.text and not PLACEHOLDER.search(answer.text)

    row = load(handbook_db[0], answer.interaction_id)
    assert ASKER_EMAIL not in row["question"] and ASKER_PHONE not in row["question"]
    assert "[email]" in row["question"] and "[phone]" in row["question"]
    assert ASKER_EMAIL not in row["answer"] and ASKER_PHONE not in row["answer"]
    given = {m.group() for m in re.finditer(r"[\w.-]+@northwind\.example", row["context"])}
    assert given and all(address in row["answer"] for address in given)  # what the sources say stays


def test_hosted_redact_off_sends_the_text_as_it_is(handbook_db, e5_embedder, smollm_path):
    with TrickleServer(0, reply="Northwind People [1].") as server:
        pipeline(handbook_db, e5_embedder, model_policy="hosted", hosted_model="m", hosted_base_url=server.url,
                 local_model_path=smollm_path, hosted_redact=False).answer(Question(QUESTION))
    assert ASKER_EMAIL in json.dumps(server.bodies)


def test_the_log_keeps_neither_email_nor_phone_unless_told_to(handbook_db, e5_embedder):
    chat = ScriptedChat(replies=[f"Request it in Northwind People [1]; we will call {ASKER_PHONE}."])
    answer = pipeline(handbook_db, e5_embedder, ScriptedModels(chat), model_policy="local").answer(Question(QUESTION))
    assert ASKER_PHONE in answer.text  # the answer itself is given as written
    row = load(handbook_db[0], answer.interaction_id)
    stored = row["question"] + row["answer"]
    assert ASKER_EMAIL not in stored and ASKER_PHONE not in stored and "[phone]" in stored
    assert row["grounding"] and "5678" not in json.dumps(row["grounding"])  # nor its claims, in pieces
    kept = pipeline(handbook_db, e5_embedder, ScriptedModels(chat), model_policy="local",
                    redact_stored=False).answer(Question(QUESTION))
    assert ASKER_EMAIL in load(handbook_db[0], kept.interaction_id)["question"]


def test_everything_stored_about_a_question_is_redacted_in_any_form(handbook_db, e5_embedder):
    rrn, phone = "9001011234567", "０１０-２２２２-３３３３"  # no hyphen; typed full-width, as Korean input methods do
    chat = ScriptedChat(replies=[f"How do I request vacation in Berlin as {rrn} on {phone}?",
                                 f"Request it in Northwind People [1]; we will call {phone} about {rrn}."])
    history = (("user", "Where is the Berlin office?"), ("assistant", "Berlin is on Friedrichstraße [1]."))
    question = Question(f"How do I request vacation in Berlin? I'm {rrn}, phone {phone}.", history=history)
    answer = pipeline(handbook_db, e5_embedder, ScriptedModels(chat), model_policy="local").answer(question)
    row = load(handbook_db[0], answer.interaction_id)
    assert row["rewritten_question"] and row["grounding"] and row["answerability"]
    for column in ("question", "rewritten_question", "answer", "grounding", "answerability"):
        stored = fold(json.dumps(row[column], ensure_ascii=False))
        assert rrn not in stored and "2222" not in stored and "3333" not in stored, column
    assert row["question"] == "How do I request vacation in Berlin? I'm [id number], phone [phone]."


def test_the_answerability_record_keeps_no_personal_data(engine):
    verdict = {"answerable": False, "reason": "key_terms", "missing": ["minsu", "rrn:9001011234567",
                                                                       "０１０２２２２３３３３", "2222"]}
    interaction_id = record(engine, Interaction(question="Is Minsu on ０１０-２２２２-３３３３ (rrn:9001011234567)?",
                                                route="dont_know", answerability=verdict))
    stored = load(engine, interaction_id)["answerability"]
    assert stored["missing"] == ["minsu", "rrn:[id number]", "[phone]", "[redacted]"]  # 2222: a piece of the phone
    assert stored["reason"] == "key_terms"


def test_comments_are_stored_redacted_and_only_by_voters(engine):
    interaction_id = record(engine, Interaction(question="q", route="answer", answer="a"))
    assert not votes.comment(engine, interaction_id, "U1", "no vote, no comment")
    votes.vote(engine, interaction_id, "U1", -1, "button")
    assert votes.comment(engine, interaction_id, "U1", "Wrong: ask <@U0456> on +82 2 3456 7890 or 900101-1234567")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT comment FROM feedback WHERE interaction_id = :i"),
                              {"i": interaction_id}).scalar_one()
    assert stored == "Wrong: ask [user] on [phone] or [id number]"


def _age(engine, table: str, column: str, where: str, days: int, **bind) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = now() - make_interval(days => :d) WHERE {where}"),
                     {"d": days, **bind})


def _logged(engine, question: str, answer: str, **values) -> int:
    return record(engine, Interaction(question=question, origin="slack", asker="U1", channel="C1", thread_ts="1.1",
                                      route="answer", answer=answer, **values), redact_personal=False)


def _entry(engine, interaction_id: int, status: str = "active", curated_by: str | None = None) -> int:
    with engine.begin() as conn:
        return conn.execute(text("""
            INSERT INTO cached_answers (interaction_id, question, normalized, language, scope_key, embedding,
                                        embedding_model, answer, sources, status, curated_by)
            SELECT id, question, question, 'en', '*', '[1,0]', 'm', answer, '[]', :s, :by FROM interactions
            WHERE id = :i RETURNING id"""), {"i": interaction_id, "s": status, "by": curated_by}).scalar_one()


def test_purge_deletes_old_records_and_reduces_those_a_cached_answer_rests_on(engine):
    desk = "[1] desk 02-345-6789"
    old = _logged(engine, "old question", "old answer")
    recent = _logged(engine, "recent", "a")
    cached = _logged(engine, f"mine is {ASKER_PHONE}: help desk?", f"Call 02-345-6789, not {ASKER_PHONE} [1].",
                     context=desk, answerability={"reason": "relevant", "missing": ["mine"]})
    entry = _entry(engine, cached)
    served = _logged(engine, f"desk? I'm {ASKER_EMAIL}", "Call 02-345-6789 [1].", cached_answer_id=entry)
    curated = _logged(engine, "desk number?", "wrong", context=desk)
    _entry(engine, curated, curated_by="UADMIN")
    with engine.begin() as conn:
        conn.execute(text("UPDATE cached_answers SET answer = :a WHERE interaction_id = :i"),
                     {"a": f"Call 02-345-6789 or Jane on {ASKER_PHONE}.", "i": curated})
    stale = _logged(engine, "stale", "stale answer")
    _entry(engine, stale, status="stale")
    for i in (old, recent, cached, served):
        votes.vote(engine, i, "UV", 1, "button")
        assert votes.comment(engine, i, "UV", "a comment")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO slack_claims (channel, message_ts) VALUES ('C1', 'purge-old'), "
                          "('C1', 'purge-new')"))
        conn.execute(text("INSERT INTO admin_actions (user_id, action, allowed) VALUES ('UADMIN', 'purge-test', true)"))
    for i in (old, cached, served, curated, stale):
        _age(engine, "interactions", "created_at", "id = :i", 100, i=i)
        _age(engine, "feedback", "updated_at", "interaction_id = :i", 100, i=i)
    _age(engine, "slack_claims", "claimed_at", "message_ts = 'purge-old'", 100)
    _age(engine, "admin_actions", "created_at", "action = 'purge-test'", 100)

    report = purge(engine, parse_age("90d"))
    assert (report.interactions, report.reduced, report.claims, report.admin_actions) == (2, 3, 1, 1)
    with engine.connect() as conn:
        ids = [old, recent, cached, served, curated, stale]
        left = {r.id: r for r in conn.execute(text("SELECT * FROM interactions WHERE id = ANY(:ids)"), {"ids": ids})}
        comments = dict(conn.execute(text("SELECT interaction_id, comment FROM feedback "
                                          "WHERE interaction_id = ANY(:i)"), {"i": ids}).all())
        entries = {r.interaction_id: r for r in conn.execute(text("SELECT * FROM cached_answers"))}
        claims = set(conn.execute(text("SELECT message_ts FROM slack_claims "
                                       "WHERE message_ts LIKE 'purge-%'")).scalars())
    assert set(left) == {recent, cached, served, curated} and left[recent].asker == "U1"
    assert stale not in entries  # a stale entry goes with its interaction
    reduced = left[cached]
    assert (reduced.asker, reduced.channel, reduced.thread_ts, reduced.answerability) == (None, None, None, None)
    assert reduced.question == "mine is [phone]: help desk?" and reduced.answer == "Call 02-345-6789, not [phone] [1]."
    assert (entries[cached].question, entries[cached].answer) == (reduced.question, reduced.answer)
    assert left[served].question == "desk? I'm [email]" and left[served].asker is None  # its 👍 still counts
    assert entries[curated].answer == f"Call 02-345-6789 or Jane on {ASKER_PHONE}."  # an admin's words stay
    assert comments == {recent: "a comment", cached: None, served: None} and claims == {"purge-new"}
    assert purge(engine, parse_age("90d")).reduced == 0  # done once


@pytest.mark.parametrize("value", ["", "0d", "ninety days", "-5d", "5m", "99999999999d"])
def test_purge_ages_are_checked(value):
    with pytest.raises(InvalidInput):
        parse_age(value)


def test_exports_take_the_chosen_collections_and_leave_confidential_ones_out_unless_named():
    def row(*collections, asked=("handbook",)):
        return {"sources": [{"collection": c} for c in collections], "collections": list(asked)}

    default = Selection(confidential=frozenset({"hr"}))
    assert default.takes(row("handbook")) and not default.takes(row("handbook", "hr"))
    assert not default.takes(row(asked=("handbook", "hr")))  # no sources: judged by where it was asked
    named = Selection(collections=frozenset({"hr"}), confidential=frozenset({"hr"}))
    assert named.takes(row("hr")) and not named.takes(row("handbook", "hr")) and not named.takes(row())
    assert not Selection(excluded=frozenset({"legal"})).takes(row("handbook", "legal"))


def test_sql_errors_do_not_carry_their_parameters(engine):
    with pytest.raises(SQLAlchemyError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT question FROM no_such_table WHERE question = :q"), {"q": QUESTION})
    assert ASKER_EMAIL not in str(caught.value) and "parameters hidden" in str(caught.value)


def test_the_slack_server_purges_by_itself_with_retention_days(engine, fake_embedder):
    old = record(engine, Interaction(question="asked long ago", origin="slack", route="answer", answer="a"))
    _age(engine, "interactions", "created_at", "id = :i", 40, i=old)
    with running_bot(engine, fake_embedder, ScriptedChat(replies=["ok"]), retention_days=30) as slack:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _exists(engine, old):
            time.sleep(0.2)
        assert slack.bot.retention is not None
    assert not _exists(engine, old)


def _exists(engine, interaction_id: int) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT EXISTS (SELECT 1 FROM interactions WHERE id = :i)"),
                            {"i": interaction_id}).scalar_one()
