"""Planning: the plan schema and prompt, the validator, and the bounded request/repair loop.

Code, not the model, owns the bounds. ``parse_plan`` is the one validator every provider's
answer goes through; its rejections name the step, the field and what was expected, because
they are shown to people and sent back to the model as the repair hint. ``request_plan`` asks a
``Planner`` at most ``max_attempts`` times and reports everything it does as events, in order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent_core.errors import ProviderError
from agent_core.events import CostRecorded, PlanGenerated, PlanRejected, PlanRequested, Usage
from agent_core.plan import TOOL_NAMES, Plan
from agent_core.redaction import Redactor
from agent_core.workspace import seed_workspace

if TYPE_CHECKING:
    from agent_core.pricing import PriceTable
    from agent_core.providers import Planner, Reply

__all__ = [
    "MAX_ANSWER_CHARS",
    "PLAN_JSON_SCHEMA",
    "PROMPT_VERSION",
    "PROVIDER_FAILURE_MARKER",
    "SYSTEM_PROMPT",
    "TRUNCATED_MARKER",
    "PlanLimits",
    "PlanOutcome",
    "PlanRejection",
    "build_repair_message",
    "build_user_message",
    "parse_goal",
    "parse_plan",
    "prompt_sha",
    "request_plan",
    "seed_workspace",
]

PROMPT_VERSION = "plan-prompt-v1"
MAX_ANSWER_CHARS = 100_000
TRUNCATED_MARKER = "the answer was cut off"
PROVIDER_FAILURE_MARKER = "could not answer:"
"""In every ``PlanRejected.error`` written for a provider failure: how a recorded replay tells them apart."""

SYSTEM_PROMPT = f"""You are the planner of a careful research agent ({PROMPT_VERSION}).
Turn the user's goal into a short plan of tool calls. You do not run the tools; you only plan.

Answer with exactly one JSON object and nothing else:
{{"steps": [{{"id": "step_1", "objective": "...", "tool": "...", "input": {{...}}, "success_criteria": "..."}}],
 "stop_conditions": ["..."]}}

Tools and their inputs:
- web_search: {{"query": str, "max_results": int (optional, default 5)}}
- read_file: {{"path": str}}  (relative to the workspace)
- summarize: {{"from_steps": ["step_1", ...]}} to summarize earlier steps' results, or {{"text": str}};
  optional "max_words": int
- write_file: {{"path": str, "from_step": "step_3"}} to write an earlier step's result,
  or {{"path": str, "content": str}}

Rules:
- Use only these tools, and no more steps than the limit given in the request.
- Step ids are "step_1", "step_2", ... in order; from_steps and from_step may name earlier steps only.
- Every field is required and must not be empty; objective and success_criteria are one sentence each.
- Prefer a new file under reports/ for written results; do not overwrite files unless the goal asks for it.
- stop_conditions say when the agent should stop early (for example: a step failed, nothing was found).
"""


def prompt_sha(system_prompt: str) -> str:
    """sha256 hex of the prompt text: recorded in ``RunStarted`` so a replay can tell prompts apart."""
    return hashlib.sha256(system_prompt.encode("utf-8")).hexdigest()


PLAN_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "description": "step_1, step_2, ..."},
                    "objective": {"type": "string"},
                    "tool": {"type": "string", "enum": list(TOOL_NAMES)},
                    "input": {"type": "object", "description": "the tool's input, as listed in the system prompt"},
                    "success_criteria": {"type": "string"},
                },
                "required": ["id", "objective", "tool", "input", "success_criteria"],
            },
        },
        "stop_conditions": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["steps", "stop_conditions"],
}
"""The schema given to providers' structured-output features; ``parse_plan`` checks the same and more."""


@dataclass(frozen=True)
class PlanLimits:
    """The bounds a plan must respect; ``max_chars`` caps the raw answer the validator will read."""

    max_steps: int
    tools: tuple[str, ...] = TOOL_NAMES
    max_chars: int = MAX_ANSWER_CHARS


@dataclass(frozen=True)
class PlanRejection:
    """Why an answer is not a plan, in words a person (and the model, on repair) can act on."""

    error: str


@dataclass(frozen=True)
class PlanOutcome:
    """What ``request_plan`` ended with; ``reason`` (set when ``plan`` is None) goes into ``RunFailed``."""

    plan: Plan | None
    reason: str = ""
    spent_usd: float = 0.0
    attempts: int = 0


# --- the user message ------------------------------------------------------------------------

_GOAL_OPEN, _GOAL_CLOSE = "<goal>", "</goal>"
_FILES_HEADER = "Workspace files (paths for read_file and write_file):"
_REPAIR_HEADER = "Your previous answer was rejected:"


def build_user_message(goal: str, limits: PlanLimits, workspace_files: list[str]) -> str:
    """The request text. Its format is also what the offline planner reads back (``parse_goal``)."""
    files = "\n".join(f"- {name}" for name in sorted(workspace_files)) or "- (the workspace is empty)"
    return (
        f"{_GOAL_OPEN}\n{goal.strip()}\n{_GOAL_CLOSE}\n\n"
        f"Limits: at most {limits.max_steps} steps; tools: {', '.join(limits.tools)}.\n\n"
        f"{_FILES_HEADER}\n{files}\n\n"
        "Answer with the JSON plan object only."
    )


def build_repair_message(goal: str, limits: PlanLimits, workspace_files: list[str], error: str) -> str:
    """The request again, plus the validation error of the previous attempt."""
    return (
        f"{build_user_message(goal, limits, workspace_files)}\n\n"
        f"{_REPAIR_HEADER}\n{error}\n"
        "Return a corrected plan: one JSON object, nothing else."
    )


def parse_goal(user_message: str) -> tuple[str, list[str] | None]:
    """(goal, workspace files) from a ``build_user_message`` text; files None when not listed.

    A message in another format is taken as the goal itself.
    """
    match = re.search(re.escape(_GOAL_OPEN) + r"\n(.*?)\n" + re.escape(_GOAL_CLOSE), user_message, re.DOTALL)
    if match is None:
        return user_message.strip(), None
    goal = match.group(1).strip()
    after = user_message[match.end() :]
    if _FILES_HEADER not in after:
        return goal, None
    block = after.split(_FILES_HEADER, 1)[1].split("\n\n", 1)[0]
    files = [line[2:].strip() for line in block.strip().splitlines() if line.startswith("- ")]
    return goal, [f for f in files if f and f != "(the workspace is empty)"]


# --- the validator ---------------------------------------------------------------------------

_FENCE = re.compile(r"\A\s*```[A-Za-z0-9_-]*[ \t]*\n(.*?)\n?[ \t]*```\s*\Z", re.DOTALL)
_EXAMPLE = '{"steps": [{"id": "step_1", "objective": ..., "tool": ..., "input": {...}, "success_criteria": ...}]}'
_STEP_TEXT_FIELDS = ("id", "objective", "success_criteria")


def parse_plan(raw: str, limits: PlanLimits) -> Plan | PlanRejection:
    """Raw LLM text -> a valid ``Plan``, or a ``PlanRejection`` saying what to fix.

    Strips one Markdown fence around the whole answer, reads exactly one JSON object, and
    checks the bounds: step count, known tools, non-empty unique ids and fields, tool inputs,
    and that ``from_step(s)`` only name earlier steps. Unknown extra fields are ignored.
    """
    if not raw or not raw.strip():
        return PlanRejection(f"the answer was empty; expected one JSON object like {_EXAMPLE}")
    if len(raw) > limits.max_chars:
        return PlanRejection(
            f"the answer is {len(raw):,} characters, more than the {limits.max_chars:,} a plan may take; "
            f"return a short plan of at most {limits.max_steps} steps"
        )
    fenced = _FENCE.match(raw)
    text = (fenced.group(1) if fenced else raw).strip()
    data = _one_json_object(text)
    if isinstance(data, PlanRejection):
        return data
    problem = _check_plan(data, limits)
    if problem is not None:
        return PlanRejection(problem)
    try:
        return Plan.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return PlanRejection(f"field {where!r}: {first['msg']}")


def _one_json_object(text: str) -> dict[str, Any] | PlanRejection:
    decoder = json.JSONDecoder()
    try:
        data, end = decoder.raw_decode(text)
    except json.JSONDecodeError as error:
        return PlanRejection(
            f"the answer is not JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
            f"expected one JSON object like {_EXAMPLE}, without any text around it"
        )
    rest = text[end:].strip()
    if rest:
        try:
            decoder.raw_decode(rest)
        except json.JSONDecodeError:
            return PlanRejection(
                f"there is text after the JSON object (starting {rest[:40]!r}); answer with the JSON object only"
            )
        return PlanRejection("the answer holds more than one JSON value; expected exactly one JSON object")
    if not isinstance(data, dict):
        return PlanRejection(f"the answer is a JSON {_json_kind(data)}, expected one JSON object like {_EXAMPLE}")
    return data


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _check_plan(data: dict[str, Any], limits: PlanLimits) -> str | None:
    steps = data.get("steps")
    if not isinstance(steps, list):
        got = "missing" if steps is None else f"a {_json_kind(steps)}"
        return f"field 'steps' is {got}; expected a list of step objects"
    if not steps:
        return "field 'steps' is empty; expected at least one step"
    if len(steps) > limits.max_steps:
        return (
            f"the plan has {len(steps)} steps but at most {limits.max_steps} are allowed; "
            f"combine or drop steps (or raise max_steps)"
        )
    stops = data.get("stop_conditions", [])
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        return "field 'stop_conditions' must be a list of strings"
    seen: list[str] = []
    for number, step in enumerate(steps, start=1):
        problem = _check_step(number, step, limits, seen)
        if problem is not None:
            return problem
        seen.append(step["id"])
    return None


def _check_step(number: int, step: Any, limits: PlanLimits, earlier_ids: list[str]) -> str | None:
    if not isinstance(step, dict):
        return f"step {number} is a JSON {_json_kind(step)}; expected an object with id, objective, tool, input"
    label = f"step {number}" + (f" ({step['id']!r})" if isinstance(step.get("id"), str) and step["id"] else "")
    for name in (*_STEP_TEXT_FIELDS, "tool"):
        value = step.get(name)
        if not isinstance(value, str) or not value.strip():
            state = "missing" if value is None else "empty" if isinstance(value, str) else f"a {_json_kind(value)}"
            return f"{label}, field {name!r}: {state}; expected a non-empty string"
    if step["id"] in earlier_ids:
        return f"{label}, field 'id': {step['id']!r} is used by an earlier step; ids must be unique"
    if step["tool"] not in limits.tools:
        return f"{label}, field 'tool': unknown tool {step['tool']!r}; expected one of {', '.join(limits.tools)}"
    tool_input = step.get("input")
    if not isinstance(tool_input, dict):
        state = "missing" if tool_input is None else f"a {_json_kind(tool_input)}"
        return f"{label}, field 'input': {state}; expected an object with the tool's input"
    problem = _check_input(step["tool"], tool_input, earlier_ids)
    return f"{label}, field 'input': {problem}" if problem else None


def _check_input(tool: str, data: dict[str, Any], earlier_ids: list[str]) -> str | None:
    """The required keys of each known tool's input (the tools module validates the rest)."""

    def text(key: str) -> bool:
        return isinstance(data.get(key), str) and bool(data[key].strip())

    if tool == "web_search" and not text("query"):
        return "web_search needs a non-empty 'query' string"
    if tool == "read_file" and not text("path"):
        return "read_file needs a non-empty 'path' string (relative to the workspace)"
    if tool == "summarize":
        sources = data.get("from_steps")
        if sources is not None:
            if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
                return "summarize 'from_steps' must be a non-empty list of earlier step ids"
            unknown = [s for s in sources if s not in earlier_ids]
            if unknown:
                return f"summarize 'from_steps' names {unknown[0]!r}, which is not an earlier step"
        elif not text("text"):
            return "summarize needs 'from_steps' (earlier step ids) or a non-empty 'text'"
    if tool == "write_file":
        if not text("path"):
            return "write_file needs a non-empty 'path' string (relative to the workspace)"
        if "from_step" in data:
            if data["from_step"] not in earlier_ids:
                return f"write_file 'from_step' names {data['from_step']!r}, which is not an earlier step"
        elif not isinstance(data.get("content"), str):
            return "write_file needs 'content' (a string) or 'from_step' (an earlier step id)"
    return None


# --- the request / repair loop ---------------------------------------------------------------


def request_plan(
    planner: Planner,
    goal: str,
    limits: PlanLimits,
    *,
    workspace_files: list[str],
    emit: Callable[..., None],
    prices: PriceTable,
    spent_usd: float = 0.0,
    system_prompt: str | None = None,
    max_attempts: int = 3,
    redactor: Redactor | None = None,
) -> PlanOutcome:
    """Ask ``planner`` for a plan, repairing a rejected answer at most ``max_attempts - 1`` times.

    Emits, in order, for every attempt: ``PlanRequested`` (before the provider is called), then
    ``PlanGenerated`` + ``CostRecorded``, or ``PlanRejected`` (+ ``CostRecorded`` when tokens were
    used); ``emit(*events)`` stores the events of one call in one transaction. A ``ProviderError``
    ends the loop at once with a non-retryable ``PlanRejected``. The goal is redacted before it is
    sent or stored.
    """
    prompt = SYSTEM_PROMPT if system_prompt is None else system_prompt
    clean_goal = (redactor or Redactor()).text(goal)
    total = spent_usd
    error = ""
    for attempt in range(1, max_attempts + 1):
        if attempt == 1:
            message = build_user_message(clean_goal, limits, workspace_files)
        else:
            message = build_repair_message(clean_goal, limits, workspace_files, error)
        emit(
            PlanRequested(
                provider=planner.provider,
                model=planner.model,
                system_prompt=prompt,
                user_message=message,
                attempt=attempt,
            )
        )
        try:
            reply = planner.plan(prompt, message, limits)
        except ProviderError as failure:
            reason = f"the {planner.provider} planner ({planner.model}) {PROVIDER_FAILURE_MARKER} {failure}"
            emit(PlanRejected(error=reason, attempt=attempt, retryable=False))
            return PlanOutcome(None, reason=reason, spent_usd=total, attempts=attempt)
        parsed = _judge(reply, limits)
        last = attempt == max_attempts
        if isinstance(parsed, Plan):
            generated = PlanGenerated(
                plan=parsed, raw_text=reply.text, usage=reply.usage, latency_ms=reply.latency_ms, attempt=attempt
            )
            total, cost = _cost(prices, reply, total, always=True)
            emit(generated, *cost)  # one transaction: both describe the answer already received
            return PlanOutcome(parsed, spent_usd=total, attempts=attempt)
        error = parsed.error
        rejected = PlanRejected(
            error=error,
            raw_text=reply.text,
            usage=reply.usage,
            latency_ms=reply.latency_ms,
            attempt=attempt,
            retryable=not last,
        )
        total, cost = _cost(prices, reply, total, always=False)
        emit(rejected, *cost)
    reason = (
        f"no valid plan after {max_attempts} attempts from the {planner.provider} planner ({planner.model}); "
        f"last problem: {error}. Try a simpler goal, a larger max_steps, or another model."
    )
    return PlanOutcome(None, reason=reason, spent_usd=total, attempts=max_attempts)


def _judge(reply: Reply, limits: PlanLimits) -> Plan | PlanRejection:
    if reply.truncated:
        return PlanRejection(
            f"{TRUNCATED_MARKER} at the model's token limit after {reply.usage.output_tokens} output tokens "
            f"(stop reason {reply.stop_reason!r}); return a shorter plan with fewer, briefer steps"
        )
    return parse_plan(reply.text, limits)


def _cost(prices: PriceTable, reply: Reply, total: float, *, always: bool) -> tuple[float, list[CostRecorded]]:
    """The running total after this answer, and its ``CostRecorded`` (none for a free, token-less answer)."""
    usage: Usage = reply.usage
    if not always and usage.input_tokens == 0 and usage.output_tokens == 0:
        return total, []
    event = prices.cost_event("planner", reply.model, usage, total)
    return event.total_usd, [event]
