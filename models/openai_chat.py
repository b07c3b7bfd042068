"""The hosted chat backend: any OpenAI-compatible API, or Azure OpenAI when ``azure_endpoint`` is set.

The model talks through an httpx client of its own whose transport is a ``DeadlineTransport``:
``config.timeout_s`` (HOSTED_TIMEOUT_S) bounds each call as a whole, however slowly the server
trickles its answer.
"""

from __future__ import annotations

import httpx
from langchain_core.language_models import BaseChatModel

from core.errors import ModelError
from models.chat import ChatBackend, ChatConfig
from models.deadline import DeadlineTransport, environment_proxy


def _build(config: ChatConfig) -> BaseChatModel:
    if not config.model:
        raise ModelError("HOSTED_MODEL must name the hosted chat model (pin a dated version, e.g. gpt-4o-2024-08-06)")
    endpoint = config.azure_endpoint or config.base_url or "https://api.openai.com/v1"
    transport = DeadlineTransport(config.timeout_s, proxy=environment_proxy(endpoint))
    http = httpx.Client(transport=transport, timeout=config.timeout_s, follow_redirects=True)
    common = {"temperature": config.temperature, "max_tokens": config.max_tokens, "timeout": config.timeout_s,
              "max_retries": 0, "http_client": http, "stream_usage": True}  # token counts when streamed too
    if config.azure_endpoint:
        from langchain_openai import AzureChatOpenAI

        return AzureChatOpenAI(azure_deployment=config.model, azure_endpoint=config.azure_endpoint,
                               api_version=config.azure_api_version or None, api_key=config.api_key or None, **common)
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=config.model, base_url=config.base_url or None, api_key=config.api_key or "not-needed",
                      **common)


def _model_name(config: ChatConfig) -> str:
    return f"{'azure' if config.azure_endpoint else 'openai'}/{config.model}"


# No tokenizer here: ChatBackend's default, an upper estimate, counts tokens.
BACKEND = ChatBackend(build=_build, model_name=_model_name)
