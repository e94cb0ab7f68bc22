"""OpenAI and every OpenAI-compatible server (Ollama, vLLM, llama.cpp) through the official SDK."""

from __future__ import annotations

import time
from typing import Any

from pydantic import SecretStr

from agent_core.errors import ProviderError
from agent_core.events import Usage
from agent_core.planning import PlanLimits, plan_json_schema
from agent_core.providers.base import (
    MAX_OUTPUT_TOKENS,
    NO_KEY,
    SUMMARY_SYSTEM_PROMPT,
    Endpoint,
    Reply,
    ms_since,
    secret_value,
    translate_sdk_error,
    unreadable_response,
)


class OpenAIPlanner:
    """OpenAI or any OpenAI-compatible server (Ollama, vLLM, llama.cpp) through the official SDK.

    Asks for JSON-schema structured output; a server that answers 400/422 to that is asked again
    with plain JSON mode (and is not offered the schema again by this planner).
    """

    provider = "openai"

    def __init__(
        self,
        model: str,
        api_key: SecretStr | str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        max_tokens: int = MAX_OUTPUT_TOKENS,
    ) -> None:
        import openai

        self._sdk = openai
        self.model = model
        self.schema_supported = True
        # The official API wants max_completion_tokens; compatible servers reliably know max_tokens.
        self._limit = {"max_tokens" if base_url else "max_completion_tokens": max_tokens}
        self._client = openai.OpenAI(
            api_key=secret_value(api_key) or NO_KEY, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )
        name = "OpenAI-compatible server" if base_url else "OpenAI"
        self._where = Endpoint(name, "OPENAI", str(self._client.base_url).rstrip("/"), model, timeout_s, max_retries)

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        """Ask for JSON-schema output; a server that refuses the schema (400/422) is asked again in JSON mode."""
        messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": user_message}]
        if self.schema_supported:
            schema = {"type": "json_schema", "json_schema": {"name": "plan", "schema": plan_json_schema(limits.tools)}}
            try:
                return self._call(messages, response_format=schema)
            except (self._sdk.BadRequestError, self._sdk.UnprocessableEntityError):
                self.schema_supported = False
        return self._call(messages, response_format={"type": "json_object"})

    def summarize(self, text: str, instruction: str) -> Reply:
        """A plain-text summary from the same model (the summarize tool with an LLM)."""
        messages = [
            {"role": "system", "content": SUMMARY_SYSTEM_PROMPT},
            {"role": "user", "content": f"{instruction}\n\n{text}"},
        ]
        return self._call(messages)

    def _call(self, messages: list[dict[str, str]], **extra: Any) -> Reply:
        start = time.perf_counter()
        # The SDK's overloads want its TypedDict messages and literal options; ours are the same plain dicts.
        create: Any = self._client.chat.completions.create
        try:
            completion = create(model=self.model, messages=messages, **self._limit, **extra)
        except self._sdk.OpenAIError as error:
            refused = isinstance(error, (self._sdk.BadRequestError, self._sdk.UnprocessableEntityError))
            if refused and extra.get("response_format", {}).get("type") == "json_schema":
                raise  # plan() falls back to JSON mode
            raise translate_sdk_error(error, self._where) from error
        except (ValueError, RecursionError) as error:  # a body the SDK's JSON reader refuses (e.g. nested too deep)
            raise unreadable_response(self._where, error) from error
        try:
            choice = completion.choices[0] if completion.choices else None
            text = (choice.message.content or "") if choice else ""
            usage = completion.usage
            tokens = Usage(
                input_tokens=(usage.prompt_tokens or 0) if usage else 0,
                output_tokens=(usage.completion_tokens or 0) if usage else 0,
            )
            stop = (choice.finish_reason or "") if choice else ""
        except (AttributeError, TypeError, ValueError) as error:
            raise ProviderError(
                f"{self._where.name} at {self._where.url} sent a response this code cannot read: {error}"
            ) from error
        return Reply(text, tokens, completion.model or self.model, ms_since(start), stop)


# --- recorded --------------------------------------------------------------------------------
