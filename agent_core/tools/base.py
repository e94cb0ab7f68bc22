"""What every tool shares: the context a step runs in, the input base class and the declaration shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

ToolResult = dict[str, Any]
"""``success``, ``output`` (text later steps may use), tool fields, and ``error`` when ``success`` is False."""


class Reply(Protocol):
    """What ``summarize_llm`` returns: the provider's text, token usage and model name."""

    text: str
    usage: Any
    model: str


SummarizeLLM = Callable[[str, str], "Reply | None"]
"""``summarize_llm(text, instruction)`` (the shape of ``Planner.summarize``); None means "no LLM after all"."""


@dataclass(frozen=True)
class ToolCaps:
    """The limits settings give the tools (``AGENT_READ_MAX_BYTES``, ``AGENT_SEARCH_MAX_FILES``,
    ``AGENT_SEARCH_MAX_FILE_BYTES``); observations say when one was reached."""

    max_read_bytes: int = 200_000
    """read_file returns at most this many bytes of a file (and says it truncated)."""
    search_max_files: int = 20_000
    """The offline search indexes at most this many documents, in walk order; the rest are skipped."""
    search_max_file_bytes: int = 10_000_000
    """The offline search indexes a document's first this many bytes (and says which it truncated)."""


@dataclass(frozen=True)
class ToolContext:
    """Everything a tool may use; built by the orchestrator per step."""

    workspace: Path
    prior_results: Mapping[str, dict[str, Any]]
    brave_api_key: str | None = None
    summarize_llm: SummarizeLLM | None = None
    database_path: Path | None = None
    max_read_bytes: int = ToolCaps.max_read_bytes
    max_write_bytes: int = 100_000
    http_timeout_s: float = 10
    brave_base_url: str = "https://api.search.brave.com"
    search_max_files: int = ToolCaps.search_max_files
    search_max_file_bytes: int = ToolCaps.search_max_file_bytes
    index_dir: Path | None = None
    """Where the offline search keeps its index (beside the event store); None: a throw-away index in memory."""
    read_through: Path | None = None
    """A read-only layer below ``workspace`` (a what-if with live tools): files ``workspace`` lacks are read
    from here, writes land in ``workspace``; nothing is copied up front."""

    @classmethod
    def with_caps(cls, caps: ToolCaps, **fields: Any) -> ToolContext:
        """A context carrying ``caps``."""
        return cls(
            max_read_bytes=caps.max_read_bytes,
            search_max_files=caps.search_max_files,
            search_max_file_bytes=caps.search_max_file_bytes,
            **fields,
        )


class ToolInput(BaseModel):
    """Base of every tool's input model: frozen, unknown keys ignored (plans may carry extra fields).

    Strict: a value must already have its field's JSON type. A boolean is not an integer, and
    ``"5"`` or ``5.0`` is not ``max_results``: a plan saying so is a mistake to report, not to guess at.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)


PlanCheck = Callable[[Mapping[str, Any], Sequence[str]], "str | None"]
"""``check(input, earlier_step_ids)``: a plan-time problem with a step's input, or None."""

Resolve = Callable[[dict[str, Any], Mapping[str, ToolResult]], dict[str, Any]]
"""``resolve(input, prior_results)``: the input with earlier steps' output filled in."""


@dataclass(frozen=True)
class ToolSpec:
    """One tool, declared once: names, the plan schema's enum, the prompt's tool section, the plan
    validator, the guard's schema and required-field checks and the path rules are derived from it.
    """

    name: str
    input_model: type[ToolInput]
    run: Callable[[Any, ToolContext], ToolResult]
    description: str
    prompt: str
    """The tool's entry in the planner prompt, after ``- name: ``; continuation lines start with two spaces."""
    writes: bool = False
    """True when the tool changes the workspace: not re-run blindly on resume, write rules apply."""
    path_field: str | None = None
    """The input field naming a workspace file; the guard's path rules apply to it."""
    plan_text_fields: tuple[str, ...] = ()
    """Fields a plan must give as non-empty strings (checked before anything runs)."""
    required: tuple[str, ...] = ()
    """Fields that must be non-empty once earlier output is filled in (the guard's ``required_fields``)."""
    check_plan: PlanCheck | None = None
    """Plan-time checks beyond ``plan_text_fields``, e.g. that referenced steps come earlier."""
    resolve: Resolve | None = None
    """Fills in earlier steps' output (``from_steps`` -> ``text``); None when the input is used as given."""
    calls_llm: bool = False
    """True when the tool calls the run's LLM if it has one (a paid call): it runs only while budget is left."""
    found_nothing: Callable[[ToolResult], bool] | None = None
    """Set on the tools that look things up (search, read, list): True when a successful result found nothing.
    A run whose lookups all failed or found nothing ends ``failed`` (``outcome.unanswered``)."""

    @property
    def read_only(self) -> bool:
        """No side effects: safe to re-run on resume."""
        return not self.writes

    def plan_problem(self, data: Mapping[str, Any], earlier_ids: Sequence[str]) -> str | None:
        """The first problem a plan's input for this tool has, in words the model can act on.

        Checked at plan time: the text fields, the JSON type of every declared field (a wrong type
        is never coerced), then the tool's own ``check_plan``. Ranges and other limits are left to
        the guard's ``input_schema`` rule, which sees the input once earlier output is filled in.
        """
        for key in self.plan_text_fields:
            value = data.get(key)
            if not isinstance(value, str) or not value.strip():
                where = " (relative to the workspace)" if key == self.path_field else ""
                return f"{self.name} needs a non-empty {key!r} string{where}"
        wrong_type = type_problem(self.input_model, data)
        if wrong_type is not None:
            return f"{self.name}: {wrong_type}"
        return self.check_plan(data, earlier_ids) if self.check_plan else None


# --- validation messages a person (or the model, on repair) can act on --------------------------

_EXPECTED = {
    "int_type": "an integer (like 5)",
    "string_type": "a string",
    "list_type": "a list",
    "bool_type": "true or false",
    "dict_type": "an object",
    "float_type": "a number",
}


def type_problem(model: type[ToolInput], data: Mapping[str, Any]) -> str | None:
    """The first field of ``data`` whose JSON type is wrong for ``model``; None when every type is right."""
    try:
        model.model_validate(data)
    except ValidationError as error:
        for item in error.errors():
            if item["type"] in _EXPECTED and item["loc"]:
                return _phrase(item, data)
    return None


def validation_message(error: ValidationError, data: Mapping[str, Any]) -> str:
    """Every problem of a validation error on one line: wrong types named with the value given."""
    return "; ".join(_phrase(item, data) for item in error.errors())


def _phrase(item: Any, data: Mapping[str, Any]) -> str:
    loc = tuple(item["loc"])
    where = "input"  # a check of the whole input (e.g. "give 'text' or 'from_steps'") has no field
    if loc:
        where = repr(str(loc[0])) + "".join(f" item {part + 1}" for part in loc[1:] if isinstance(part, int))
    if item["type"] in _EXPECTED:
        return f"{where} must be {_EXPECTED[item['type']]}, not {_shown(_at(data, loc))}"
    return f"{where}: {item['msg']}"


def _at(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _shown(value: Any) -> str:
    """A value as a message quotes it, briefly, naming its JSON type."""
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if value is None:
        return "null"
    if isinstance(value, str):
        text = repr(value)
        return f"the string {text if len(text) <= 40 else text[:39] + '…'}"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, int):
        return "an integer"  # never str(): an integer of thousands of digits cannot be printed
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else f"a {type(value).__name__}"


def output_of(prior_results: Mapping[str, ToolResult], step_id: object) -> str | None:
    """The text an earlier step produced, or None when it failed or gave none."""
    result = prior_results.get(str(step_id))
    if not isinstance(result, Mapping) or not result.get("success"):
        return None
    output = result.get("output")
    return output if isinstance(output, str) else None


def failure(error: str, **fields: Any) -> dict[str, Any]:
    """A failed result: an observation the orchestrator records, never an exception."""
    return {"success": False, "output": "", "error": error, **fields}
