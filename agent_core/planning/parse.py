"""The one validator every provider's answer goes through.

Code, not the model, owns the bounds. Rejections name the step, the field and what was
expected, because they are shown to people and sent back to the model as the repair hint.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent_core.plan import Plan
from agent_core.planning.prompt import CURRENT_PROMPT
from agent_core.tools import TOOLS

if TYPE_CHECKING:
    pass

MAX_ANSWER_CHARS = 100_000


@dataclass(frozen=True)
class PlanLimits:
    """The bounds a plan must respect; ``max_chars`` caps the raw answer the validator will read."""

    max_steps: int
    tools: tuple[str, ...] = CURRENT_PROMPT.offered
    max_chars: int = MAX_ANSWER_CHARS


@dataclass(frozen=True)
class PlanRejection:
    """Why an answer is not a plan, in words a person (and the model, on repair) can act on."""

    error: str


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
    spec = TOOLS.get(step["tool"])
    problem = spec.plan_problem(tool_input, earlier_ids) if spec is not None else None
    return f"{label}, field 'input': {problem}" if problem else None
