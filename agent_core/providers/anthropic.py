"""Claude through the official Anthropic SDK."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import SecretStr

from agent_core.errors import ProviderError
from agent_core.events import Usage
from agent_core.jsontext import first_surrogate
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

PLAN_TOOL_NAME = "submit_plan"


def tool_input_text(tool_input: object) -> str:
    """The plan tool call's input as JSON text, the raw answer the validator reads.

    Readable characters stay as they are; text the SDK decoded into unpaired surrogates (a
    ``\\ud800`` escape without its pair) is written as the escape it came as, so the answer
    can be stored and the validator rejects it with a reason.
    """
    text = json.dumps(tool_input, ensure_ascii=False)
    return text if first_surrogate(text) is None else json.dumps(tool_input)


class AnthropicPlanner:
    """Claude through the official SDK; the plan is requested as the input of a forced tool call."""

    provider = "anthropic"

    def __init__(
        self,
        model: str,
        api_key: SecretStr | str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        max_tokens: int = MAX_OUTPUT_TOKENS,
    ) -> None:
        import anthropic

        self._sdk = anthropic
        self.model = model
        self.max_tokens = max_tokens
        self._client = anthropic.Anthropic(
            api_key=secret_value(api_key) or NO_KEY, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )
        self._where = Endpoint(
            "Anthropic", "ANTHROPIC", str(self._client.base_url).rstrip("/"), model, timeout_s, max_retries
        )

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        """Ask for the plan as the input of a forced ``submit_plan`` tool call; that input as JSON is the raw text."""
        tool = {
            "name": PLAN_TOOL_NAME,
            "description": f"Submit the plan: at most {limits.max_steps} steps using the listed tools.",
            "input_schema": plan_json_schema(limits.tools),
        }
        return self._call(
            system=system_prompt,
            messages=[{"role": "user", "content": user_message}],
            tools=[tool],
            tool_choice={"type": "tool", "name": PLAN_TOOL_NAME},
        )

    def summarize(self, text: str, instruction: str) -> Reply:
        """A plain-text summary from the same model (the summarize tool with an LLM)."""
        return self._call(
            system=SUMMARY_SYSTEM_PROMPT, messages=[{"role": "user", "content": f"{instruction}\n\n{text}"}]
        )

    def _call(self, **request: Any) -> Reply:
        start = time.perf_counter()
        try:
            message = self._client.messages.create(model=self.model, max_tokens=self.max_tokens, **request)
        except self._sdk.AnthropicError as error:
            raise translate_sdk_error(error, self._where) from error
        except (ValueError, RecursionError) as error:  # a body the SDK's JSON reader refuses (e.g. nested too deep)
            raise unreadable_response(self._where, error) from error
        try:
            tool_inputs = [b.input for b in message.content if b.type == "tool_use" and b.name == PLAN_TOOL_NAME]
            if tool_inputs:
                text = tool_input_text(tool_inputs[0])
            else:
                text = "".join(b.text for b in message.content if b.type == "text")
            usage = Usage(input_tokens=message.usage.input_tokens or 0, output_tokens=message.usage.output_tokens or 0)
        except (AttributeError, TypeError, ValueError, RecursionError) as error:
            raise ProviderError(
                f"Anthropic at {self._where.url} sent a response this code cannot read: {error}"
            ) from error
        return Reply(text, usage, message.model or self.model, ms_since(start), message.stop_reason or "")
