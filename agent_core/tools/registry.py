"""The tool registry: one declaration per tool, and the executor that runs a step through it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent_core.plan import PlanStep
from agent_core.tools import layers, sandbox
from agent_core.tools.base import ToolContext, ToolResult, ToolSpec, failure, validation_message
from agent_core.tools.files import READ_FILE, WRITE_FILE
from agent_core.tools.list_files import LIST_FILES
from agent_core.tools.search import WEB_SEARCH
from agent_core.tools.summarize import SUMMARIZE

TOOLS: dict[str, ToolSpec] = {spec.name: spec for spec in (WEB_SEARCH, READ_FILE, SUMMARIZE, WRITE_FILE, LIST_FILES)}
"""Every tool, by name; registering a tool is one line here."""


def is_read_only(tool: str) -> bool:
    """True for tools without side effects (safe to re-run on resume); unknown tools are not read-only."""
    spec = TOOLS.get(tool)
    return spec is not None and spec.read_only


def calls_llm(tool: str) -> bool:
    """True for tools that call the run's LLM when it has one (a paid call, checked against the budget first)."""
    spec = TOOLS.get(tool)
    return spec is not None and spec.calls_llm


def resolve_input(step: PlanStep, prior_results: Mapping[str, ToolResult]) -> dict[str, Any]:
    """The step's input with earlier output filled in by the tool's own ``resolve`` (summarize ``from_steps`` ->
    ``text``, write ``from_step`` -> ``content``). Missing or failed sources give empty text, which the guard's
    required-fields rule rejects. Paths and the tool are never taken from earlier output."""
    spec = TOOLS.get(step.tool)
    resolved = dict(step.input)
    return spec.resolve(resolved, prior_results) if spec is not None and spec.resolve else resolved


def target_sha256(
    tool: str, resolved_input: dict[str, Any], workspace: Path, read_through: Path | None = None
) -> str | None:
    """The write target's sha256 now (recorded with the intent, compared on resume); None if absent or not a write.

    With a read-through layer, the target is the upper layer's file if it has one, else the lower one's.
    """
    spec = TOOLS.get(tool)
    if spec is None or not spec.writes or spec.path_field is None:
        return None
    try:
        rel = sandbox.check_relative(resolved_input.get(spec.path_field))
        return sandbox.file_sha256(layers.holder(workspace, read_through, rel), rel, None)
    except (sandbox.SandboxError, OSError):
        return None


def execute(tool: str, resolved_input: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Run one tool; never raises. Result: ``success``, ``output`` (text later steps may use), tool fields, and
    ``error`` when ``success`` is False."""
    spec = TOOLS.get(tool)
    if spec is None:
        return failure(f"unknown tool {tool!r}; known tools: {', '.join(sorted(TOOLS))}")
    try:
        params = spec.input_model.model_validate(resolved_input)
    except ValidationError as e:
        return failure(f"invalid input for {tool!r}: {validation_message(e, resolved_input)}")
    try:
        return spec.run(params, ctx)
    except sandbox.SandboxError as e:
        return failure(str(e))
    except OSError as e:
        return failure(f"{tool} could not use the file system: {e.strerror or e}")
    except Exception as e:  # a tool bug must become an observation, not a crashed run
        return failure(f"{tool} failed unexpectedly: {type(e).__name__}: {e}")
