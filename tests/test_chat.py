"""Chat backends for real: the local GGUF in-process, llama-cpp-python's OpenAI-compatible server, and a
server that trickles its answer a byte at a time (tests/trickle.py)."""

from __future__ import annotations

import time

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from core.errors import ModelUnavailable
from models.chat import ChatConfig, invoke_chat, make_chat_model
from models.llamacpp_chat import LlamaCppChat
from tests import servers, trickle
from tests.trickle import TrickleServer

PROMPT = [SystemMessage("You are terse."), HumanMessage("Say hello to the new intern.")]


def test_config_is_validated():
    with pytest.raises(ValueError, match="local, hosted"):
        ChatConfig(backend="gpt")
    with pytest.raises(ValueError, match="max_tokens"):
        ChatConfig(context_tokens=1024, max_tokens=2048)


def test_local_model_answers_and_is_loaded_once(smollm_path):
    config = ChatConfig(backend="local", model_path=smollm_path, context_tokens=2048, max_tokens=24)
    model = make_chat_model(config)
    reply = invoke_chat(model, PROMPT)
    assert isinstance(reply.content, str) and reply.content.strip()
    assert reply.usage_metadata["input_tokens"] > 5 and 0 < reply.usage_metadata["output_tokens"] <= 24
    again = make_chat_model(config)
    assert isinstance(again, LlamaCppChat) and again._model() is model._model()
    assert config.name == "llamacpp/SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.parametrize("max_tokens", [24, 200])  # cut at max_tokens, and ended by the model
def test_a_streamed_local_answer_reports_the_usage_of_the_same_answer_unstreamed(smollm_path, max_tokens):
    model = LlamaCppChat(model_path=smollm_path, max_tokens=max_tokens)
    for question in ("서울 오피스 주차는 몇 시간 무료인가요? 한국어로 답하세요.", "What is the capital of France?"):
        whole = model.invoke([HumanMessage(question)])
        pieces = list(model.stream([HumanMessage(question)]))
        streamed = pieces[0]
        for piece in pieces[1:]:
            streamed += piece
        assert streamed.content == whole.content and streamed.usage_metadata == whole.usage_metadata


def test_a_local_model_past_its_time_limit_ends_its_answer(smollm_path):
    """A model stuck writing on a busy machine must not hold the question, or the lock, for good."""
    question = [HumanMessage("Write a very long story about the sea, with many chapters.")]
    late = LlamaCppChat(model_path=smollm_path, max_tokens=400, timeout_s=1e-6).invoke(question)
    assert late.usage_metadata["output_tokens"] <= 2 and late.response_metadata["finish_reason"] == "stop"
    streamed = list(LlamaCppChat(model_path=smollm_path, max_tokens=400, timeout_s=1e-6).stream(question))
    assert len("".join(str(c.content) for c in streamed)) < 20
    in_time = LlamaCppChat(model_path=smollm_path, max_tokens=40).invoke(question)
    assert in_time.usage_metadata["output_tokens"] == 40  # the default limit leaves a short answer alone


def test_hosted_model_answers_through_an_openai_compatible_server(hosted_url):
    config = ChatConfig(backend="hosted", model="smollm2", base_url=hosted_url, max_tokens=24, timeout_s=60)
    reply = invoke_chat(make_chat_model(config), PROMPT)
    assert isinstance(reply.content, str) and reply.content.strip()
    assert reply.usage_metadata["output_tokens"] > 0
    assert config.name == "openai/smollm2"


def test_unreachable_hosted_model_is_reported_as_unavailable():
    dead = f"http://127.0.0.1:{servers.free_port()}/v1"
    model = make_chat_model(ChatConfig(backend="hosted", model="m", base_url=dead, timeout_s=2))
    with pytest.raises(ModelUnavailable, match="HOSTED_BASE_URL"):
        invoke_chat(model, PROMPT)


@pytest.mark.parametrize("flavour, headers_at_once", [("openai", False), ("openai", True), ("azure", True)],
                         ids=["openai-trickled-headers", "openai-trickled-body", "azure-trickled-body"])
def test_a_trickling_hosted_model_is_cut_off_at_its_total_deadline(flavour, headers_at_once):
    with TrickleServer(interval_s=0.5, headers_at_once=headers_at_once) as server:
        # Every byte comes well within a 2 s read timeout; the whole answer would take minutes.
        assert len(trickle.completion()) * 0.5 > 60
        model = make_chat_model(hosted(server.url, flavour, timeout_s=2))
        started = time.monotonic()
        with pytest.raises(ModelUnavailable, match=r"2 s deadline \(HOSTED_TIMEOUT_S=2\)"):
            invoke_chat(model, PROMPT)
        assert time.monotonic() - started < 15
        assert server.wait_for_hang_up(10)  # the connection was closed, not left trickling
    assert server.threads_alive() == []


@pytest.mark.parametrize("flavour", ["openai", "azure"])
def test_a_trickle_that_ends_within_the_deadline_is_answered(flavour):
    with TrickleServer(interval_s=0.002) as server:
        reply = invoke_chat(make_chat_model(hosted(server.url, flavour, timeout_s=30)), PROMPT)
    assert reply.content == trickle.REPLY and server.requests == 1
    assert server.threads_alive() == []


def test_the_hosted_model_is_reached_through_the_environment_proxy_under_the_deadline(monkeypatch):
    """A client with its own transport must still honour HTTP(S)_PROXY, as httpx does by default."""
    with TrickleServer(interval_s=0.002) as server, _RecordingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        reply = invoke_chat(make_chat_model(hosted(server.url, "openai", timeout_s=30)), PROMPT)
        assert reply.content == trickle.REPLY
        assert proxy.seen == [f"{server.url}/chat/completions"]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        invoke_chat(make_chat_model(hosted(server.url, "openai", timeout_s=30)), PROMPT)
        assert len(proxy.seen) == 1 and server.requests == 2  # NO_PROXY: straight to the server


class _RecordingProxy:
    """A forward HTTP proxy on localhost that records the absolute URLs it forwards."""

    def __init__(self) -> None:
        import threading
        import urllib.request
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen: list[str] = []
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                seen.append(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                forwarded = urllib.request.Request(self.path, data=body, method="POST",
                                                   headers={"Content-Type": self.headers.get("Content-Type", "")})
                with direct.open(forwarded, timeout=30) as upstream:
                    data = upstream.read()
                self.send_response(upstream.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.seen = seen
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "_RecordingProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def hosted(url: str, flavour: str, timeout_s: float) -> ChatConfig:
    if flavour == "azure":
        return ChatConfig(backend="hosted", model="gpt-4o", azure_endpoint=url.removesuffix("/v1"), api_key="k",
                          azure_api_version="2024-06-01", timeout_s=timeout_s)
    return ChatConfig(backend="hosted", model="m", base_url=url, timeout_s=timeout_s)
