"""Links are structural: an answer, a quoted passage, a source title, the notification text or a streamed
draft shows a live link only to a host the admins trust (LINK_DOMAINS), whatever a document or the model
wrote. Hostile addresses go through the pure block builders; one planted document goes through the real
bolt app over signed HTTP with the fake Slack API."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from answering.context import Source
from answering.evidence import Passage
from answering.types import Answer
from bot.settings import Settings
from bot.slack import blocks
from bot.slack.mrkdwn import inert_markdown
from core.links import TrustedHosts, host, source_hosts
from core.text import fold
from retrieval.chunking import ChunkingParams
from retrieval.ingest import Indexer, SourceItem
from tests.fakes import ScriptedChat
from tests.slack_harness import mention, running_bot

TRUSTED = TrustedHosts(("northwind.example",))
LOOKALIKE = "n\u043erthwind.example"  # a Cyrillic "о"
HOSTILE = [
    "http://evil.example/reset", "https://EVIL.EXAMPLE/reset", "HTTPS://evil.example", "https://evil.example:8443/x",
    "https://evil.example./reset", "evil-northwind.com/x", "evil.example", "sub.evil.co.kr/path",
    "www.evil.example/login",
    "evil.example:8080/login", "javascript:alert(document.cookie)", "[reset](javascript:alert(1))",
    "data:text/html;base64,PHNjcmlwdD4=", "[x](data:text/html,hi)", "file:///etc/passwd", "[x](file://evil.example/a)",
    "slack://open?team=T1", "[x](slack://app?id=A1)", "mailto:help@evil.example", "[mail](mailto:help@evil.example)",
    "help@evil.example", "HELP@EVIL.EXAMPLE", f"https://{LOOKALIKE}/reset", LOOKALIKE + "/reset",
    "https://" + LOOKALIKE.encode("idna").decode() + "/reset", "https://xn--northwind-.example/",
    "https://northwind.example@evil.example/reset", "[portal](https://northwind.example@evil.example/reset)",
    "https://evil.example@northwind.example/", "https://northwind.example\\@evil.example/",
    "https://evil.example\\@northwind.example/", "https://%65vil.example/reset",
    "https://evil.example/northwind.example/", "https://northwind.example.evil.example/reset",
    "northwind.example.evil.example", "https://evilnorthwind.example/", "http://192.168.0.1/admin",
    "http://[::1]:8080/x", "http://2130706433/", "ｅｖｉｌ．ｅｘａｍｐｌｅ/reset",  # full-width letters and dot
    "https://evil\u3002example/x", "evil\u200b.example/reset", "https://evil.example/\u202ereset",
    "<https://evil.example|the portal>", "//evil.example/a",
]


def autolinked(rendered: str) -> list[str]:
    """What Slack could link in ``rendered`` (mrkdwn or a fallback text), read as a browser reads an address
    (NFKC, invisible controls removed, look-alike letters folded): <…> links, anything with a scheme,
    e-mail addresses, and name.name ending in letters."""
    text = fold(rendered)
    schemes = r"\b(?:[a-z][a-z0-9+.-]*://|(?:mailto|javascript|vbscript|data|file|tel|sms|slack):)\S*"
    return (re.findall(r"<[^>]+>", text) + re.findall(schemes, text)
            + re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)
            + re.findall(r"[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}", text))


def shown(message: tuple[str, list[dict]]) -> str:
    """A message's fallback text and every mrkdwn/plain text of its blocks, one per line."""
    fallback, built = message
    texts = [fallback]

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(built)
    return "\n".join(texts)


def answer(text: str, **kw) -> Answer:
    values = {"route": "answer", "language": "en", "interaction_id": 42, "model": None, "latency_ms": {"total": 1.0}}
    return Answer(text, **{**values, **kw})


def source(text: str, url: str | None) -> Source:
    return Source(1, "Password reset", "How to reset", text, "/kb/reset.md", url, "it", 1, (1,), 0.1)


@pytest.mark.parametrize("address", HOSTILE)
def test_no_hostile_address_is_live_in_an_answer_its_evidence_sources_or_fallback(address):
    """The model writes it, the document quoted under the answer says it, and the document's own url names it."""
    text = f"Reset your password at {address} [1]."
    planted = source(text, url=address if address.startswith("http") else None)
    message = blocks.answer_message(answer(text, sources=[planted], evidence=[Passage(1, text, 1.0)]), TRUSTED)
    rendered = shown(message)
    assert autolinked(rendered) == [], rendered
    assert "\u202e" not in rendered and "\u200b." not in rendered
    assert "Reset your password at" in rendered  # the sentence stays; only its address is inert


@pytest.mark.parametrize("address", HOSTILE)
def test_no_hostile_address_is_live_in_a_streamed_draft(address):
    assert autolinked(inert_markdown(f"Reset your password at {address} [1].")) == []


def test_a_live_link_only_where_the_host_is_trusted():
    text = ("Reset it at [the portal](https://it.northwind.example/reset?a=1&b=2) [1], see "
            "https://northwind.example/help, docs.northwind.example/faq or write to it@northwind.example.")
    planted = source("Reset it at https://it.northwind.example/reset.", url="https://wiki.northwind.example/reset")
    rendered = shown(blocks.answer_message(answer(text, sources=[planted], evidence=[Passage(1, text, 1.0)]),
                                           TRUSTED))
    assert "<https://it.northwind.example/reset?a=1&amp;b=2|the portal>" in rendered
    assert "[1] <https://wiki.northwind.example/reset|Password reset › How to reset>" in rendered
    for kept in ("https://northwind.example/help,", "docs.northwind.example/faq", "it@northwind.example."):
        assert kept in rendered
    untrusted = shown(blocks.answer_message(answer(text, sources=[planted]), TrustedHosts()))
    assert autolinked(untrusted) == [] and "the portal [1]" in untrusted
    assert "docs[.]northwind[.]example/faq" in untrusted


def test_an_admin_written_answer_keeps_its_links_but_not_its_sources_untrusted_ones():
    text = "Use [the form](https://forms.example/leave)."
    planted = source("text", url="https://evil.example/wiki")
    rendered = shown(blocks.answer_message(answer(text, route="cached", curated=True, sources=[planted]), TRUSTED))
    assert "<https://forms.example/leave|the form>" in rendered
    assert "<https://evil" not in rendered and "[1] Password reset › How to reset" in rendered


def test_right_to_left_overrides_and_invisible_controls_never_reach_slack():
    text = "Pay at \u202eelpmaxe.live\u202c or \u2066here\u2069 \u200b@\u200bchannel [1]."
    rendered = shown(blocks.answer_message(answer(text, sources=[source(text, None)],
                                                  evidence=[Passage(1, text, 1.0)]), TRUSTED))
    assert not re.search("[\u200b-\u200f\u202a-\u202e\u2066-\u2069]", rendered.replace("@\u200b", "@"))
    assert "elpmaxe[.]live" in rendered and "@channel" not in rendered
    assert "\u202e" not in inert_markdown(text)


@pytest.mark.parametrize(("address", "expected"), [
    ("https://Docs.Example.COM./a", "docs.example.com"), ("docs.example.com:8443/x", "docs.example.com"),
    ("https://%64ocs.example.com/", "docs.example.com"), ("mailto:it@Example.com?subject=x", "example.com"),
    ("it@example.com", "example.com"), ("https://xn--bcher-kva.example/", "bücher.example"),
    ("https://BÜCHER.example/", "bücher.example"), ("ｅｘａｍｐｌｅ．com", "example.com"),
    ("http://127.0.0.1:80/", "127.0.0.1"), ("https://trusted.example@evil.example/", None),
    ("https://evil.example\\@trusted.example/", None), ("javascript:alert(1)", None), ("slack://open", None),
    ("https://xn--example-.com/", None), ("http://0x7f.1/", None), ("https://a..b/", None), ("//evil.example/", None),
    ("mailto:a@example.com,b@evil.example", None),
])
def test_the_host_an_address_really_leads_to(address, expected):
    assert host(address) == expected


def test_trusted_hosts_match_exactly_or_as_subdomains_compared_in_one_form():
    trusted = TrustedHosts(("Example.com.", "xn--bcher-kva.example", "10.0.0.1"))
    assert trusted.hosts == ("example.com", "bücher.example", "10.0.0.1")
    for ok in ("https://example.com/x", "https://docs.example.com/x", "wiki.docs.example.com", "a@example.com",
               "https://bücher.example/", "https://www.xn--bcher-kva.example/", "http://10.0.0.1:8080/"):
        assert trusted.trusts(ok), ok
    for bad in ("https://\u0435xample.com/", "https://notexample.com/", "https://example.com.evil.example/",
                "https://evil.example/example.com", "http://1.10.0.0.1/", "https://bucher.example/", "example.co"):
        assert not trusted.trusts(bad), bad
    with pytest.raises(ValueError, match="not a host name"):
        TrustedHosts(("https://user@example.com",))


def test_link_domains_default_to_the_hosts_of_the_sources_own_addresses(monkeypatch):
    assert source_hosts(["./handbook", "https://Wiki.Northwind.example/space/HR", "http://wiki.northwind.example/x",
                         "/srv/kb"]) == ("wiki.northwind.example",)
    settings = Settings(_env_file=None, kb_sources="hr=./handbook;wiki=https://wiki.northwind.example/space")
    assert settings.slack_config.link_hosts == TrustedHosts(("wiki.northwind.example",))
    assert Settings(_env_file=None).slack_config.link_hosts == TrustedHosts()
    monkeypatch.setenv("LINK_DOMAINS", "northwind.example, docs.example.com")
    listed = Settings(_env_file=None, kb_sources="wiki=https://wiki.other.example/")
    assert listed.slack_config.link_hosts.hosts == ("northwind.example", "docs.example.com")
    monkeypatch.setenv("LINK_DOMAINS", "northwind.example,https://a@b.example")
    with pytest.raises(ValidationError, match="LINK_DOMAINS"):
        Settings(_env_file=None)


PLANTED = ("# Password reset (new)\n\n## Reset\n\nReset your password at http://evil.example/reset. "
           "It takes effect within 15 minutes.\n")
OFFICIAL = "# IT portal\n\n## Portal\n\nThe IT portal is at https://it.northwind.example/portal.\n"
REPEATS = ("Reset your password at http://evil.example/reset [1]. "
           "The IT portal is https://it.northwind.example/portal [2].")


@pytest.mark.parametrize("streaming", [False, True])
def test_a_planted_link_a_model_repeats_is_never_live_in_slack(engine, fake_embedder, streaming):
    Indexer(engine, fake_embedder, ChunkingParams(size=400, overlap=40)).index_items(
        [SourceItem("mem:planted", "markdown", data=PLANTED.encode()),
         SourceItem("mem:official", "markdown", data=OFFICIAL.encode())], "kb")
    with running_bot(engine, fake_embedder, ScriptedChat(replies=[REPEATS]), relevance_threshold=0,
                     cache_enabled=False, slack_streaming=streaming, link_domains="northwind.example") as slack:
        event = mention("How do I reset my password?")
        assert slack.send_event(event)[0] == 200
        slack.idle()
        sent = [(method, params) for method, params in slack.fake.calls
                if method.startswith("chat.") and params.get("channel") == "CGEN"]
    texts = [json.dumps(params.get("blocks", ""), ensure_ascii=False) + str(params.get("text", ""))
             + str(params.get("markdown_text", "")) for _, params in sent]
    final = [t for (method, _), t in zip(sent, texts) if method == "chat.update"][-1]
    assert "evil[.]example/reset" in final  # the answer or its evidence says where, inert
    for text in texts:
        assert not [found for found in autolinked(text) if "evil" in found], text
    assert "https://it.northwind.example/portal" in final  # a trusted host stays live
