"""What every tool shares: the context a step runs in, the input base class and the declaration shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict


class Reply(Protocol):
    """What ``summarize_llm`` returns: the provider's text, token usage and model name."""

    text: str
    usage: Any
    model: str


SummarizeLLM = Callable[[str, str], "Reply | None"]
"""``summarize_llm(text, instruction)`` (the shape of ``Planner.summarize``); None means "no LLM after all"."""


@dataclass(frozen=True)
class ToolContext:
    """Everything a tool may use; built by the orchestrator per step."""

    workspace: Path
    prior_results: Mapping[str, dict[str, Any]]
    brave_api_key: str | None = None
    summarize_llm: SummarizeLLM | None = None
    database_path: Path | None = None
    max_read_bytes: int = 200_000
    max_write_bytes: int = 100_000
    http_timeout_s: float = 10
    brave_base_url: str = "https://api.search.brave.com"


class ToolInput(BaseModel):
    """Base of every tool's input model: frozen, unknown keys ignored (plans may carry extra fields)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


ToolResult = dict[str, Any]
"""``success``, ``output`` (text later steps may use), tool fields, and ``error`` when ``success`` is False."""


@dataclass(frozen=True)
class ToolSpec:
    """One tool, declared once: everything else (names, schema enum, prompt, checks) is derived from these."""

    name: str
    input_model: type[ToolInput]
    run: Callable[[Any, ToolContext], ToolResult]
    read_only: bool
    description: str


def failure(error: str, **fields: Any) -> dict[str, Any]:
    """A failed result: an observation the orchestrator records, never an exception."""
    return {"success": False, "output": "", "error": error, **fields}
