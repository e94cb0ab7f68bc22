"""What every provider shares: the ``Planner`` protocol, the ``Reply`` shape and SDK error translation.

A planner turns (system prompt, user message) into raw text plus usage; it never validates —
``planning.parse_plan`` does that for every provider alike. SDK errors are translated here, once,
into ``ProviderError`` messages that say what happened and what to do. Keys are handed to the
SDK clients and go nowhere else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from agent_core.errors import ProviderError
from agent_core.events import PlanRejected, Usage
from agent_core.planning import PlanLimits

MAX_OUTPUT_TOKENS = 4096
SUMMARY_SYSTEM_PROMPT = (
    "You summarize source text for a short research report. Be faithful to the text: no facts that are "
    "not in it. Use plain prose or short bullet points."
)
NO_KEY = "no-key"  # local OpenAI-compatible servers ignore the key, but the SDK insists on one


@dataclass(frozen=True)
class Reply:
    """One provider answer: the raw text as received, its usage, and who answered."""

    text: str
    usage: Usage
    model: str
    latency_ms: float
    stop_reason: str = ""
    replayed_rejection: PlanRejected | None = None
    """Set only by the recorded planner, for a rejected answer recorded as an excerpt (``PlanRejected``
    v2): the excerpt cannot be parsed into the same rejection, so the recorded one is written again."""

    @property
    def truncated(self) -> bool:
        """The model stopped at its token limit: the text is incomplete."""
        return self.stop_reason in ("max_tokens", "length")


class Planner(Protocol):
    """What ``request_plan`` and the summarize tool need from an LLM provider."""

    provider: str
    model: str

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        """Raw plan text for the request; raises ``ProviderError`` when the provider cannot answer."""
        ...

    def summarize(self, text: str, instruction: str) -> Reply | None:
        """An LLM summary of ``text``; None when this planner has no LLM (the tool summarizes offline)."""
        ...


# --- SDK error translation -------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where a provider is reached and how patiently: what an error message needs to say."""

    name: str  # "Anthropic" / "OpenAI-compatible server"
    env: str  # ANTHROPIC / OPENAI
    url: str
    model: str
    timeout_s: float
    max_retries: int


def translate_sdk_error(error: Exception, where: Endpoint) -> ProviderError:
    """Any SDK exception -> one ``ProviderError`` saying what happened and what to do."""
    kind = type(error).__name__
    status = getattr(error, "status_code", None)
    detail = str(getattr(error, "message", "") or error)[:300]
    tries = f"{where.max_retries + 1} attempt{'s' if where.max_retries else ''}"
    if kind == "APITimeoutError":
        return ProviderError(
            f"{where.name} at {where.url} did not answer within {where.timeout_s:g} s ({tries}); "
            "try again, raise AGENT_LLM_TIMEOUT, or run with --planner offline"
        )
    if kind == "APIConnectionError":
        cause = str(error.__cause__ or error)[:200]
        return ProviderError(
            f"cannot connect to {where.name} at {where.url} ({cause}); check that the server is running and "
            f"{where.env}_BASE_URL is right, or run with --planner offline"
        )
    if status == 401:
        return ProviderError(f"{where.name} rejected the API key (401 Unauthorized); check {where.env}_API_KEY")
    if status == 403:
        return ProviderError(
            f"{where.name} refused access (403): {detail}; check that {where.env}_API_KEY may use {where.model!r}"
        )
    if status == 404:
        return ProviderError(
            f"{where.name} at {where.url} does not know model {where.model!r} or the endpoint (404); "
            f"set AGENT_MODEL to a model it serves, or check {where.env}_BASE_URL"
        )
    if status == 429:
        return ProviderError(
            f"{where.name} is rate limiting (429) and still was after {where.max_retries} retries with backoff; "
            "wait a minute and try again"
        )
    if isinstance(status, int) and status >= 500:
        return ProviderError(
            f"{where.name} had a server error ({status}) that persisted after {where.max_retries} retries: "
            f"{detail}; try again later or run with --planner offline"
        )
    if isinstance(status, int):
        return ProviderError(f"{where.name} refused the request ({status}): {detail}")
    return ProviderError(f"{where.name} failed ({kind}): {detail}")


def unreadable_response(where: Endpoint, error: BaseException) -> ProviderError:
    """A response the SDK (or this code) could not read, e.g. JSON nested beyond Python's recursion limit."""
    detail = str(error)[:200] or type(error).__name__
    return ProviderError(f"{where.name} at {where.url} sent a response this code cannot read: {detail}")


def secret_value(value: SecretStr | str | None) -> str | None:
    """The plain value of a key given as a SecretStr or a string."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def ms_since(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter`` reading), rounded for the event."""
    return round((time.perf_counter() - start) * 1000, 1)
