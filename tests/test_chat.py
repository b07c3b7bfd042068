"""Chat backends for real: the local GGUF in-process, and llama-cpp-python's OpenAI-compatible server."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from models.chat import ChatConfig, LlamaCppChat, ModelUnavailable, invoke_chat, make_chat_model
from tests import servers

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
