"""Block Kit builders and mrkdwn conversion: pure functions, tested without Slack."""

from __future__ import annotations

import json

from answering import prompts
from answering.context import Source
from answering.types import Answer
from bot.slack import blocks
from bot.slack.mrkdwn import to_mrkdwn
from core.links import TrustedHosts


def src(number: int, url: str | None = "https://wiki.example/vpn", title: str = "VPN", section: str = "Errors"):
    return Source(number, title, section, "text", "/kb/vpn.md", url, "it", 1, (1,), 0.1)


def answer(text: str, **kw) -> Answer:
    values = {"route": "answer", "language": "en", "interaction_id": 42, "model": "llamacpp/x.gguf",
              "latency_ms": {"total": 1234.0}}
    values.update(kw)
    return Answer(text, **values)


def all_text(payload) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_model_output_can_never_ping_or_inject_links():
    hostile = "Hi <!channel> <!here|here> <!everyone> <@U123> <#C1> @channel @here <https://evil|click> & more"
    text, built = blocks.answer_message(answer(hostile))
    rendered = all_text(built) + text
    for bad in ("<!channel", "<!here", "<!everyone", "<@U", "<#C", "<https://evil", "@channel", "@here"):
        assert bad not in rendered
    assert "&lt;!channel&gt;" in rendered and "&amp; more" in rendered


def test_markdown_becomes_mrkdwn_and_code_stays_literal():
    got = to_mrkdwn("# Leave\n**Interns** get *1.25* days — see [policy](https://hr.example/p?a=1&b=2).\n"
                    "- one\n* two\n```\n<b>**raw**</b>\n```")
    assert got.startswith("*Leave*\n*Interns* get _1.25_ days")
    assert "<https://hr.example/p?a=1&amp;b=2|policy>" in got
    assert "• one\n• two" in got and "&lt;b&gt;**raw**&lt;/b&gt;" in got
    assert to_mrkdwn("[x](javascript:alert(1))") == "[x](javascript:alert(1))"


def test_long_answers_are_split_into_sections_within_slack_limits():
    long = "\n\n".join(f"Paragraph {i} " + "word & " * 120 for i in range(60))
    _, built = blocks.answer_message(answer(long, sources=[src(1)]))
    assert len(built) <= blocks.MAX_BLOCKS
    sections = [b["text"]["text"] for b in built if b["type"] == "section"]
    assert all(len(s) <= blocks.MAX_SECTION_CHARS for s in sections)
    assert not any(s.endswith("&am") or s.endswith("&") for s in sections)  # escapes never cut in half
    huge = "x " * 200_000
    text, built = blocks.answer_message(answer(huge))
    assert len(built) <= blocks.MAX_BLOCKS and len(text) <= blocks.MAX_FALLBACK_CHARS
    assert blocks.TRUNCATED["en"] in all_text(built)


def test_cited_sources_are_links_and_votes_carry_the_interaction():
    _, built = blocks.answer_message(answer("VPN-ERR-619 means the port is blocked [1].",
                                            sources=[src(1), src(2, url=None, title="Local <file>")]),
                                     TrustedHosts(("wiki.example",)))
    rendered = all_text(built)
    assert "[1] <https://wiki.example/vpn|VPN › Errors>" in rendered
    assert "[2] Local &lt;file&gt; › Errors" in rendered
    feedback = [b for b in built if b["type"] == "context_actions"][0]["elements"][0]
    assert (feedback["type"], feedback["action_id"]) == ("feedback_buttons", "feedback")
    assert (feedback["positive_button"]["value"], feedback["negative_button"]["value"]) == ("up:42", "down:42")
    assert "llamacpp/x.gguf · 1.2 s · ref #42" in rendered
    _, legacy = blocks.answer_message(answer("Blocked [1].", sources=[src(1)]), legacy_votes=True)
    actions = [b for b in legacy if b["type"] == "actions"][0]
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [("vote_up", "42"), ("vote_down", "42")]


def test_i_dont_know_lists_the_closest_documents_and_notices_show():
    _, built = blocks.answer_message(answer(prompts.DONT_KNOW["ko"], route="dont_know", language="ko",
                                            sources=[src(1)], model=None))
    rendered = all_text(built)
    assert prompts.CLOSEST["ko"] in rendered and "no model" in rendered
    _, built = blocks.answer_message(answer("x", notices=[prompts.FALLBACK["en"]]))
    assert "⚠️ " + prompts.FALLBACK["en"] in all_text(built)


def test_unverified_answer_lists_what_the_model_was_given():
    _, built = blocks.answer_message(answer("No citation here.", uncited=[src(1)], verified=False))
    assert blocks.UNCITED["en"] in all_text(built)


def test_errors_get_no_vote_buttons_and_help_has_example_buttons():
    _, built = blocks.answer_message(answer("Sorry", route="error"))
    assert not [b for b in built if b["type"] == "actions"]
    text, built = blocks.help_message(answer("", route="help"), ["What is SEC-104?", "q" * 100], welcome=True)
    buttons = built[-1]["elements"]
    assert [b["value"] for b in buttons] == ["What is SEC-104?", "q" * 100]
    assert len(buttons[1]["text"]["text"]) <= 75 and text.startswith(blocks.WELCOME["en"])


def test_home_view_lists_collections_and_questions():
    import datetime as dt

    view = blocks.home_view([{"name": "handbook", "documents": 20, "last_indexed_at": dt.datetime(2026, 11, 1, 9, 30)}],
                            ["Q1"], ["Popular <q>"])
    rendered = all_text(view)
    assert view["type"] == "home" and "20 documents, last reindex 2026-11-01 09:30" in rendered
    assert [e["value"] for e in view["blocks"][-2]["elements"]] == ["Popular <q>", "Q1"]


def test_the_app_manifest_subscribes_to_what_the_bot_handles():
    from pathlib import Path

    import yaml

    manifest = yaml.safe_load((Path(__file__).parent.parent / "slack" / "manifest.yml").read_text())
    settings = manifest["settings"]
    assert {c["command"] for c in manifest["features"]["slash_commands"]} == {"/ask", "/kb"}
    assert set(settings["event_subscriptions"]["bot_events"]) >= {
        "app_mention", "app_home_opened", "message.channels", "message.im", "reaction_added", "reaction_removed",
        "assistant_thread_started", "assistant_thread_context_changed"}
    assert "assistant_view" in manifest["features"]
    assert settings["interactivity"]["is_enabled"] and manifest["features"]["app_home"]["home_tab_enabled"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {
        "app_mentions:read", "chat:write", "commands", "im:history", "reactions:read", "users:read", "assistant:write"}


def test_an_answer_links_only_to_trusted_hosts_not_to_what_its_sources_contain():
    given = Source(1, "Time off", "", "Request leave at https://people.northwind.example/time-off.",
                   "/kb/leave.md", "https://wiki.example/leave", "hr", 1, (1,), 0.1)
    written = ("Reset it at [the official reset portal](https://evil.example/login) or https://evil.example/x. "
               "Request leave at [the portal](https://people.northwind.example/time-off/) [1], see "
               "https://wiki.example/leave.")
    text, built = blocks.answer_message(answer(written, sources=[given]), TrustedHosts(("northwind.example",)))
    rendered = all_text(built) + text
    assert "evil.example" not in rendered and "<https://evil" not in rendered
    assert "the official reset portal" in rendered and "evil[.]example/x." in rendered
    assert "<https://people.northwind.example/time-off/|the portal>" in rendered
    assert "wiki[.]example/leave." in rendered and "<https://wiki" not in rendered  # a source's url is no trust
    _, built = blocks.answer_message(answer(written, sources=[given]))  # nothing trusted: the source's text lends none
    assert "<https://people" not in all_text(built) and "the portal [1]" in all_text(built)


def test_an_admin_written_answer_keeps_its_links():
    curated = answer("See [the form](https://forms.example/leave).", route="cached", curated=True, sources=[src(1)])
    assert "<https://forms.example/leave|the form>" in all_text(blocks.answer_message(curated)[1])
    approved = answer("See [the form](https://forms.example/leave).", route="cached", sources=[src(1)])
    assert "<https://forms.example" not in all_text(blocks.answer_message(approved)[1])


def test_the_downvote_review_shows_answers_without_live_links():
    item = {"id": 7, "question": "How do I reset my password?", "route": "answer", "up": 0, "down": 2,
            "answer": "Use [the reset portal](https://evil.example/login) or https://evil.example/x.",
            "citations": [], "comments": []}
    rendered = all_text(blocks.feedback_review([item]))
    assert "<https://evil" not in rendered and "evil.example" not in rendered
    assert "the reset portal" in rendered and "evil[.]example/x" in rendered


def test_a_thread_title_is_one_plain_line_without_markup_controls_or_personal_data():
    typed = "<!channel> ask <@U123|minsu> about\u202e\u200b my 010-2222-3333\nphone <https://evil.example|here>"
    title = blocks.title(typed)
    assert title == "ask minsu about my [phone] phone here"
    assert len(blocks.title("word " * 60)) <= 100 and blocks.title("word " * 60).endswith("…")
