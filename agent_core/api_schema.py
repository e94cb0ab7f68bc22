"""What the HTTP API takes and gives: request bodies, responses and the rules for text from the network.

Limits are derived from the engine's own (``RunRequest``'s, the orchestrator's control characters), so
the OpenAPI schema says what the engine will accept; ``RunRequest.validate`` still checks a launch.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from agent_core import events as ev
from agent_core.jsontext import first_surrogate
from agent_core.orchestrator import (
    BUDGET_RANGE,
    CONTROL_CHARS,
    GOAL_MAX_CHARS,
    MAX_STEPS_RANGE,
    RunRequest,
)
from agent_core.projections import CANCELLED, COMPLETED, FAILED, RUNNING, WAITING, RunState, RunSummary, StepState
from agent_core.providers import planner_choices

RUN_STATUSES = (RUNNING, WAITING, COMPLETED, FAILED, CANCELLED)
TEXT_FILTER_MAX_CHARS = 200  # the Runs page's "Goal contains" box
MODEL_MAX_CHARS = 200
PROMPT_MAX_CHARS = 20_000  # the Replay page's system prompt box
COMMENT_MAX_CHARS = 2000
BY_MAX_CHARS = 100


# --- text from the network -------------------------------------------------------------------


_CONTROL = re.compile(f"[{CONTROL_CHARS}]")


def plain_text(value: str) -> str:
    """Refuse what the store cannot keep alike on every engine: NUL and other controls, unpaired surrogates."""
    control = _CONTROL.search(value)
    if control is not None:
        raise ValueError(f"holds the control character U+{ord(control.group()):04X} at position {control.start() + 1}")
    where = first_surrogate(value)
    if where is not None:
        raise ValueError(f"holds U+{ord(value[where]):04X} at position {where + 1}, which is not valid text")
    return value


TEXT_PATTERN = f"^[^{CONTROL_CHARS}]*$"
"""Text without the characters a goal may not hold, as a JSON Schema pattern (so the schema says it)."""
GOAL_PATTERN = f"^[^{CONTROL_CHARS}]*[^\\s{CONTROL_CHARS}][^{CONTROL_CHARS}]*$"
"""... and with something besides white space: what ``RunRequest.validate`` accepts as a goal."""
PlainText = Annotated[str, Field(pattern=TEXT_PATTERN), AfterValidator(plain_text)]


# --- request bodies --------------------------------------------------------------------------


class _Body(BaseModel):
    """Request bodies take JSON types as they are (``"5"`` is no integer) and refuse unknown fields (typos)."""

    model_config = ConfigDict(strict=True, extra="forbid")


_LAUNCH_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(RunRequest)}


class LaunchBody(_Body):
    """The Launch form's fields; limits derived from ``RunRequest``'s, which checks them again (``validate``)."""

    goal: Annotated[str, AfterValidator(plain_text)] = Field(
        max_length=GOAL_MAX_CHARS, pattern=GOAL_PATTERN, description="what the agent should do"
    )
    max_steps: int = Field(default=_LAUNCH_DEFAULTS["max_steps"], ge=MAX_STEPS_RANGE[0], le=MAX_STEPS_RANGE[1])
    budget_usd: float = Field(default=_LAUNCH_DEFAULTS["budget_usd"], ge=BUDGET_RANGE[0], le=BUDGET_RANGE[1])
    planner: str = Field(default=_LAUNCH_DEFAULTS["planner"], json_schema_extra={"enum": list(planner_choices())})
    model: PlainText | None = Field(default=None, max_length=MODEL_MAX_CHARS)

    def request(self) -> RunRequest:
        """The validated ``RunRequest`` (``RunRequestError`` names the field to fix)."""
        return RunRequest(self.goal, self.max_steps, self.budget_usd, self.planner, self.model).validate()


class DecisionBody(_Body):
    """A person's answer to a held step."""

    decision: Literal["approve", "deny"]
    comment: PlainText = Field(default="", max_length=COMMENT_MAX_CHARS)
    by: PlainText = Field(default="api", min_length=1, max_length=BY_MAX_CHARS, description="recorded as the decider")


class CancelBody(_Body):
    """Who cancels, and why (both optional)."""

    by: PlainText = Field(default="api", min_length=1, max_length=BY_MAX_CHARS)
    reason: PlainText = Field(default="", max_length=COMMENT_MAX_CHARS)


def _a_provider(value: str | None) -> str | None:
    if value is not None and value not in planner_choices(auto=False):
        raise ValueError(f"unknown provider {value!r}; choose one of {', '.join(planner_choices(auto=False))}")
    return value


class ReplayBody(_Body):
    """A verify or a what-if, with the overrides of the CLI's ``replay`` and the Replay page."""

    mode: Literal["verify", "whatif"] = "verify"
    provider: Annotated[str | None, AfterValidator(_a_provider)] = Field(
        default=None, json_schema_extra={"enum": [*planner_choices(auto=False), None]}
    )
    model: PlainText | None = Field(default=None, max_length=MODEL_MAX_CHARS)
    system_prompt: PlainText | None = Field(default=None, max_length=PROMPT_MAX_CHARS)
    policy: str | None = Field(
        default=None, max_length=255, description="a policy file's name beside the one in force (GET /policies)"
    )
    tools: Literal["recorded", "live"] = "recorded"
    save: bool = Field(default=False, description="verify: keep the re-execution as a run")


def iso_moment(value: object) -> datetime:
    """An ISO 8601 date or date-time (``2026-11-30``, ``2026-11-30T12:00:00Z``) as UTC; no zone means UTC.

    Stricter than pydantic's lax datetime, which also takes a bare number as a Unix time.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError("an ISO 8601 date or date-time, like 2026-11-30 or 2026-11-30T12:00:00Z") from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("a date-time out of range once converted to UTC") from None


IsoMoment = Annotated[datetime, BeforeValidator(iso_moment)]


# --- responses -------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    """One invalid field of a request: where it is and what is wrong."""

    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """An error, as RFC 9457 describes it; ``errors`` lists the invalid fields of a refused request."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


class RunCreated(BaseModel):
    """A run recorded and handed to the runner: where to read it."""

    run_id: str
    href: str
    events: str
    stream: str


class RunPage(BaseModel):
    """One page of the run list (newest first) and how many runs match the filters."""

    total: int
    limit: int
    offset: int
    next_offset: int | None
    runs: list[RunSummary]


class RunView(BaseModel):
    """A run's state, folded from its events, and the step waiting for a person (if any)."""

    run: RunState
    pending_step: StepState | None
    terminal: bool


class EventOut(BaseModel):
    """One recorded event: the envelope and its payload as stored (``problem`` when it could not be decoded)."""

    position: int
    run_id: str
    seq: int
    type: str
    version: int
    actor: str
    at: datetime
    hash: str
    payload: dict[str, Any]
    problem: str

    @classmethod
    def of(cls, e: ev.RecordedEvent) -> EventOut:
        """The API's view of a decoded event."""
        return cls(
            position=e.position,
            run_id=e.run_id,
            seq=e.seq,
            type=e.type,
            version=e.version,
            actor=e.actor,
            at=e.at,
            hash=e.hash,
            payload=e.event.to_payload(),
            problem=e.problem,
        )


class EventPage(BaseModel):
    """The run's events after ``after`` (a seq), in order; ``last_seq`` is where to continue from."""

    run_id: str
    after: int
    last_seq: int
    events: list[EventOut]


class ReplayOut(BaseModel):
    """A verify (identical or the first divergence) or a what-if (the new run, its verdict and diff)."""

    mode: Literal["verify", "whatif"]
    run_id: str
    line: str
    identical: bool | None = None
    replay_id: str | None = None
    replay_status: str | None = None
    verdict: str | None = None
    result: dict[str, Any]


class Health(BaseModel):
    """The store answered; what the runner of this process holds."""

    status: Literal["ok"]
    store: str
    runs_active: int
    runs_queued: int


class PolicyFiles(BaseModel):
    """The policy files a what-if may name: the one in force first."""

    in_force: str
    files: list[str]
