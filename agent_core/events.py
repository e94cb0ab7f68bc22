"""The event catalogue: one frozen pydantic model per event type, one discriminated union.

An event model holds only its payload; the envelope (position, run id, seq, time, actor,
hash) is added by the store. Payloads are never rewritten: when a type's schema changes, its
``VERSION`` goes up and a small ``upcast`` function lifts old payloads on read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agent_core.plan import Plan

Actor = Literal["orchestrator", "planner", "policy_guard", "tool_executor", "human"]
ReplayMode = Literal["verify", "whatif"]
DecisionEffect = Literal["run", "skip", "wait"]


@dataclass(frozen=True, slots=True)
class Decides:
    """What a decision event decides about its step: the decision vocabulary, declared on the event class.

    ``word`` is the step's decision as the fold records it and every screen shows it
    (``approved | rejected | held | granted | denied``). ``effect`` is what it means for the
    step: ``run`` (its tool may run), ``skip`` (it never runs), ``wait`` (a person must decide).
    ``policy_outcome`` is the policy's own word for a guard's decision (``approve | reject |
    hold``, see ``policy.Decision``); empty for a person's.
    """

    word: str
    effect: DecisionEffect
    policy_outcome: str = ""


class DomainEvent(BaseModel):
    """Base of every event: frozen, extra fields ignored (newer writers may add some)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    VERSION: ClassVar[int] = 1
    ACTOR: ClassVar[Actor] = "orchestrator"
    DECIDES: ClassVar[Decides | None] = None
    """Set on the decision events only: what the event decides about its step."""
    TERMINAL: ClassVar[bool] = False
    """True for the events that end a run."""
    type: str

    @property
    def schema_version(self) -> int:
        return self.VERSION

    @property
    def actor(self) -> str:
        return self.ACTOR

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"type"})


class PlannerInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    provider: str
    model: str
    prompt_sha: str


class Usage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    input_tokens: int = 0
    output_tokens: int = 0


class RunStarted(DomainEvent):
    """v2: ``planner`` became an object {provider, model, prompt_sha} (v1 held the provider name)."""

    VERSION: ClassVar[int] = 2
    type: Literal["RunStarted"] = "RunStarted"
    goal: str
    max_steps: int
    budget_usd: float
    planner: PlannerInfo
    policy_sha: str
    policy_path: str = ""
    replay_of: str | None = None
    replay_mode: ReplayMode | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)


class PlanRequested(DomainEvent):
    ACTOR: ClassVar[Actor] = "planner"
    type: Literal["PlanRequested"] = "PlanRequested"
    provider: str
    model: str
    system_prompt: str
    user_message: str
    attempt: int = 1


class PlanGenerated(DomainEvent):
    ACTOR: ClassVar[Actor] = "planner"
    type: Literal["PlanGenerated"] = "PlanGenerated"
    plan: Plan
    raw_text: str
    usage: Usage = Usage()
    latency_ms: float = 0.0
    attempt: int = 1


class PlanRejected(DomainEvent):
    ACTOR: ClassVar[Actor] = "planner"
    type: Literal["PlanRejected"] = "PlanRejected"
    error: str
    raw_text: str = ""
    usage: Usage = Usage()
    latency_ms: float = 0.0
    attempt: int = 1
    retryable: bool = True


class CostRecorded(DomainEvent):
    ACTOR: ClassVar[Actor] = "planner"
    type: Literal["CostRecorded"] = "CostRecorded"
    source: str
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0
    total_usd: float = 0.0
    priced: bool = True

    @property
    def actor(self) -> str:
        return "planner" if self.source == "planner" else "tool_executor"


class _Decision(DomainEvent):
    ACTOR: ClassVar[Actor] = "policy_guard"
    step_id: str
    tool: str
    rule: str
    reason: str


class ToolApproved(_Decision):
    DECIDES: ClassVar[Decides] = Decides("approved", "run", policy_outcome="approve")
    type: Literal["ToolApproved"] = "ToolApproved"


class ToolRejected(_Decision):
    DECIDES: ClassVar[Decides] = Decides("rejected", "skip", policy_outcome="reject")
    type: Literal["ToolRejected"] = "ToolRejected"


class ApprovalRequested(DomainEvent):
    ACTOR: ClassVar[Actor] = "policy_guard"
    DECIDES: ClassVar[Decides] = Decides("held", "wait", policy_outcome="hold")
    type: Literal["ApprovalRequested"] = "ApprovalRequested"
    step_id: str
    tool: str
    input: dict[str, Any]
    rule: str
    reason: str


class _HumanDecision(DomainEvent):
    ACTOR: ClassVar[Actor] = "human"
    step_id: str
    by: str
    comment: str = ""


class ApprovalGranted(_HumanDecision):
    DECIDES: ClassVar[Decides] = Decides("granted", "run")
    type: Literal["ApprovalGranted"] = "ApprovalGranted"


class ApprovalDenied(_HumanDecision):
    DECIDES: ClassVar[Decides] = Decides("denied", "skip")
    type: Literal["ApprovalDenied"] = "ApprovalDenied"


class ToolExecuted(DomainEvent):
    """The intent, written before the tool runs; ``target_sha256`` is the write target's hash then."""

    ACTOR: ClassVar[Actor] = "tool_executor"
    type: Literal["ToolExecuted"] = "ToolExecuted"
    step_id: str
    tool: str
    input: dict[str, Any]
    target_sha256: str | None = None


class ObservationCaptured(DomainEvent):
    ACTOR: ClassVar[Actor] = "tool_executor"
    type: Literal["ObservationCaptured"] = "ObservationCaptured"
    step_id: str
    tool: str
    result: dict[str, Any]
    duration_ms: float = 0.0

    @property
    def success(self) -> bool:
        return bool(self.result.get("success"))


class StepInterrupted(DomainEvent):
    type: Literal["StepInterrupted"] = "StepInterrupted"
    step_id: str
    tool: str = ""
    next_action: str = ""


class BudgetExceeded(DomainEvent):
    type: Literal["BudgetExceeded"] = "BudgetExceeded"
    spent_usd: float
    budget_usd: float


class ResponseFinalized(DomainEvent):
    type: Literal["ResponseFinalized"] = "ResponseFinalized"
    summary: str
    step_count: int


class RunCompleted(DomainEvent):
    TERMINAL: ClassVar[bool] = True
    type: Literal["RunCompleted"] = "RunCompleted"
    status: str = "completed"


class RunFailed(DomainEvent):
    TERMINAL: ClassVar[bool] = True
    type: Literal["RunFailed"] = "RunFailed"
    reason: str


class RunCancelled(DomainEvent):
    TERMINAL: ClassVar[bool] = True
    type: Literal["RunCancelled"] = "RunCancelled"
    by: str = "human"
    reason: str = ""


class ReplayDiffed(DomainEvent):
    """A what-if replay's verdict against its original, appended to the replay when it stops.

    An annotation, not a step of the run: verify-replay ignores it, and a later one (after the
    replay was continued) supersedes an earlier one.
    """

    type: Literal["ReplayDiffed"] = "ReplayDiffed"
    original_run_id: str
    verdict: Literal["regression", "improvement", "unchanged"]
    reasons: list[str] = Field(default_factory=list)


class UnknownEvent(DomainEvent):
    """An event this code cannot read as its catalogue type: kept whole, never a crash."""

    type: str
    data: dict[str, Any] = Field(default_factory=dict)
    problem: str = ""


AnyEvent = Annotated[
    RunStarted
    | PlanRequested
    | PlanGenerated
    | PlanRejected
    | CostRecorded
    | ToolApproved
    | ToolRejected
    | ApprovalRequested
    | ApprovalGranted
    | ApprovalDenied
    | ToolExecuted
    | ObservationCaptured
    | StepInterrupted
    | BudgetExceeded
    | ResponseFinalized
    | RunCompleted
    | RunFailed
    | RunCancelled
    | ReplayDiffed,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)

# Everything below is derived from the union: a new event type is one class and one line in it.
EVENT_CLASSES: tuple[type[DomainEvent], ...] = get_args(get_args(AnyEvent)[0])
EVENT_TYPES: dict[str, type[DomainEvent]] = {cls.model_fields["type"].default: cls for cls in EVENT_CLASSES}
TERMINAL_TYPES = frozenset(name for name, cls in EVENT_TYPES.items() if cls.TERMINAL)

# --- the decision vocabulary (declared on the decision classes, see ``Decides``) ----------------

DECISIONS: dict[str, Decides] = {name: cls.DECIDES for name, cls in EVENT_TYPES.items() if cls.DECIDES}
"""Decision event type -> what it decides, in catalogue order."""
DECISION_OUTCOMES: tuple[str, ...] = tuple(d.word for d in DECISIONS.values())
"""The step decisions, in catalogue order: approved, rejected, held, granted, denied."""
DECISION_EFFECTS: dict[str, DecisionEffect] = {d.word: d.effect for d in DECISIONS.values()}
"""Step decision word -> its effect on the step (run, skip, wait)."""
GUARD_DECISIONS: dict[str, str] = {name: d.policy_outcome for name, d in DECISIONS.items() if d.policy_outcome}
"""The policy guard's decision event types -> the policy outcome each records (approve, reject, hold)."""


# --- upcasting -------------------------------------------------------------------------------

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def upcast_run_started_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 stored ``planner`` as the provider name and ``model`` beside it; v2 nests both."""
    lifted = dict(payload)
    provider = lifted.pop("planner", "offline")
    model = lifted.pop("model", "")
    lifted["planner"] = {"provider": provider, "model": model, "prompt_sha": lifted.pop("prompt_sha", "")}
    return lifted


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("RunStarted", 1): upcast_run_started_v1_v2,
}


def upcast(event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """Apply the chain of upcasters from ``version`` to the type's current version."""
    target = EVENT_TYPES[event_type].VERSION
    while version < target:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise ValueError(f"no upcaster for {event_type} v{version} -> v{version + 1}")
        payload = step(payload)
        version += 1
    return payload


# --- the decoded envelope --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as read back: the store's envelope around the decoded payload model."""

    position: int
    run_id: str
    seq: int
    type: str
    version: int
    actor: str
    at: datetime
    hash: str
    event: DomainEvent

    @property
    def problem(self) -> str:
        return self.event.problem if isinstance(self.event, UnknownEvent) else ""


def decode_payload(event_type: str, version: int, payload: dict[str, Any]) -> DomainEvent:
    """Payload dict -> the catalogue model; an unknown type or a broken payload -> ``UnknownEvent``."""
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        return UnknownEvent(type=event_type, data=payload, problem=f"unknown event type {event_type!r}")
    if version > cls.VERSION:
        return UnknownEvent(
            type=event_type,
            data=payload,
            problem=f"{event_type} v{version} is newer than this code (v{cls.VERSION}); upgrade agent_core",
        )
    try:
        lifted = upcast(event_type, version, payload) if version < cls.VERSION else payload
        return EVENT_ADAPTER.validate_python({**lifted, "type": event_type})
    except (ValidationError, ValueError, TypeError) as error:
        return UnknownEvent(type=event_type, data=payload, problem=f"cannot decode {event_type}: {error}")
