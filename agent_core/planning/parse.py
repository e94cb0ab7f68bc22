"""The one validator every provider's answer goes through.

Code, not the model, owns the bounds. Rejections name the step, the field and what was
expected, because they are shown to people and sent back to the model as the repair hint.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent_core.jsontext import first_surrogate
from agent_core.plan import Plan
from agent_core.planning.prompt import CURRENT_PROMPT
from agent_core.tools import TOOLS

MAX_ANSWER_CHARS = 100_000
MAX_PLAN_DEPTH = 16
"""How deeply a plan may nest objects and arrays (a plan needs 4: plan, steps, step, input)."""
MAX_INTEGER_DIGITS = 18
"""The longest integer a plan may hold (plans count steps, words and results: small numbers)."""
MAX_ERROR_CHARS = 1000
"""The longest rejection message: it is stored, shown and sent back to the model."""


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
    """Raw LLM text -> a valid ``Plan``, or a ``PlanRejection`` saying what to fix; never raises.

    Strips one Markdown fence around the whole answer, reads exactly one JSON object, and
    checks the bounds: step count, known tools, non-empty unique ids and fields, tool inputs,
    and that ``from_step(s)`` only name earlier steps. Unknown extra fields are ignored.
    Whatever the text, what a plan holds can be stored on every engine: no unpaired surrogate
    or NUL in any string, no ``NaN``/``Infinity``, integers of at most ``MAX_INTEGER_DIGITS``
    digits, at most ``MAX_PLAN_DEPTH`` levels of nesting.
    """
    rejection = _check_text(raw, limits)
    if rejection is not None:
        return rejection
    fenced = _FENCE.match(raw)
    text = (fenced.group(1) if fenced else raw).strip()
    data = _one_json_object(text)
    if isinstance(data, PlanRejection):
        return data
    problem = _check_values(data) or _check_plan(data, limits)
    if problem is not None:
        return PlanRejection(_bounded(problem))
    try:
        return Plan.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return PlanRejection(_bounded(f"field {where!r}: {first['msg']}"))


def _check_text(raw: str, limits: PlanLimits) -> PlanRejection | None:
    if not isinstance(raw, str):  # a provider that sent something else than text
        return PlanRejection(f"the answer is not text; expected one JSON object like {_EXAMPLE}")
    if not raw or not raw.strip():
        return PlanRejection(f"the answer was empty; expected one JSON object like {_EXAMPLE}")
    if len(raw) > limits.max_chars:
        return PlanRejection(
            f"the answer is {len(raw):,} characters, more than the {limits.max_chars:,} a plan may take; "
            f"return a short plan of at most {limits.max_steps} steps"
        )
    where = first_surrogate(raw)
    if where is not None:
        return PlanRejection(
            f"the answer holds an unpaired surrogate U+{ord(raw[where]):04X} at character {where:,}, "
            "which is not valid Unicode text; answer with valid UTF-8 JSON"
        )
    return None


class _Unacceptable(ValueError):
    """A JSON literal a plan may not hold; the message says which."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _Unacceptable(
            f"the answer holds a {len(text.lstrip('-')):,}-digit integer; "
            f"numbers in a plan have at most {MAX_INTEGER_DIGITS} digits"
        )
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Unacceptable(f"the answer holds the number {text[:40]}, too large for a plan; use a small number")
    return value


def _parse_constant(name: str) -> Any:
    raise _Unacceptable(f"the answer holds {name}, which is not JSON; use a number or null")


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)


def _one_json_object(text: str) -> dict[str, Any] | PlanRejection:
    try:
        data, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError as error:
        return PlanRejection(
            f"the answer is not JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
            f"expected one JSON object like {_EXAMPLE}, without any text around it"
        )
    except _Unacceptable as error:
        return PlanRejection(str(error))
    except RecursionError:  # the scanner's stack ran out before the nesting check could run
        return PlanRejection(_TOO_DEEP)
    except ValueError as error:  # any other literal the decoder refuses
        return PlanRejection(_bounded(f"the answer is not JSON this validator can read ({error})"))
    rest = text[end:].strip()
    if rest:
        try:
            _DECODER.raw_decode(rest)
        except (RecursionError, ValueError):
            return PlanRejection(
                f"there is text after the JSON object (starting {rest[:40]!r}); answer with the JSON object only"
            )
        return PlanRejection("the answer holds more than one JSON value; expected exactly one JSON object")
    if not isinstance(data, dict):
        return PlanRejection(f"the answer is a JSON {_json_kind(data)}, expected one JSON object like {_EXAMPLE}")
    return data


_TOO_DEEP = (
    f"the answer nests objects or arrays more than {MAX_PLAN_DEPTH} levels deep; "
    "a plan is an object of steps whose inputs are flat objects"
)


def _check_values(data: dict[str, Any]) -> str | None:
    """The first value no engine could store alike: nesting, unpaired surrogates or NUL in strings and keys."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            where = first_surrogate(item)
            if where is not None:
                return (
                    f"a string in the answer ({_quote(item[:where])}...) holds an unpaired surrogate "
                    f"U+{ord(item[where]):04X} (a JSON escape like \\ud800 without its pair); use valid Unicode"
                )
            if "\x00" in item:
                return f"a string in the answer ({_quote(item.split(chr(0))[0])}...) holds a NUL character (\\u0000)"
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_PLAN_DEPTH:
            return _TOO_DEEP
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((value, depth + 1) for value in item.values())
        else:
            stack.extend((value, depth + 1) for value in item)
    return None


def _quote(value: Any, limit: int = 60) -> str:
    """``repr`` of a value from the answer, shortened: rejections quote the model, never at length."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]}...{text[-1]}"


def _bounded(message: str) -> str:
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"


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
    label = f"step {number}" + (f" ({_quote(step['id'])})" if isinstance(step.get("id"), str) and step["id"] else "")
    for name in (*_STEP_TEXT_FIELDS, "tool"):
        value = step.get(name)
        if not isinstance(value, str) or not value.strip():
            state = "missing" if value is None else "empty" if isinstance(value, str) else f"a {_json_kind(value)}"
            return f"{label}, field {name!r}: {state}; expected a non-empty string"
    if step["id"] in earlier_ids:
        return f"{label}, field 'id': {_quote(step['id'])} is used by an earlier step; ids must be unique"
    if step["tool"] not in limits.tools:
        return f"{label}, field 'tool': unknown tool {_quote(step['tool'])}; expected one of {', '.join(limits.tools)}"
    tool_input = step.get("input")
    if not isinstance(tool_input, dict):
        state = "missing" if tool_input is None else f"a {_json_kind(tool_input)}"
        return f"{label}, field 'input': {state}; expected an object with the tool's input"
    spec = TOOLS.get(step["tool"])
    problem = spec.plan_problem(tool_input, earlier_ids) if spec is not None else None
    return f"{label}, field 'input': {problem}" if problem else None
