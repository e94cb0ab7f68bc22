"""The event catalogue: one frozen pydantic model per event type, one discriminated union.

An event model holds only its payload; the envelope (position, run id, seq, time, actor,
hash) is added by the store. Payloads are never rewritten: when a type's schema changes, its
``VERSION`` goes up and a small ``upcast`` function lifts old payloads on read.

The union is the one list of types: ``EVENT_TYPES``, ``TERMINAL_TYPES`` and the decision
vocabulary (``DECISIONS``: what each decision event means for its step) are derived from it and
from what each class declares. Every field says what it holds (``Field(description=...)``);
``docs/events.md`` is generated from this module (``python -m agent_core.catalogue_docs``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agent_core.jsontext import clean_text
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
    ANNOTATION: ClassVar[bool] = False
    """True for the events that annotate a run (a verdict, a judge's score) rather than being a step of it:
    verify ignores them, and a re-execution never writes them."""
    type: str
    redactions: int = Field(
        default=0,
        ge=0,
        description="How many secrets were replaced by `[REDACTED:<what>]` marks in this payload before it was "
        "stored; absent (0) when none.",
    )

    @property
    def schema_version(self) -> int:
        """The payload's schema version, stored beside it so old rows can be upcast on read."""
        return self.VERSION

    @property
    def actor(self) -> str:
        """Who writes this type of event (the catalogue's actor column)."""
        return self.ACTOR

    OPTIONAL_IN_PLACE: ClassVar[frozenset[str]] = frozenset({"redactions"})
    """Fields added without a version bump: left out of the payload while unset (0, None), so an event
    that does not use them stores exactly what it stored before they existed."""

    def to_payload(self) -> dict[str, Any]:
        """The payload as stored: every field but ``type`` and the unset optional-in-place ones."""
        unset = {name for name in self.OPTIONAL_IN_PLACE if not getattr(self, name)}
        return self.model_dump(mode="json", exclude={"type", *unset})


class PlannerInfo(BaseModel):
    """Which planner a run uses: recorded in ``RunStarted`` so a replay can ask for the same one."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    provider: str = Field(description="The planner's provider, e.g. `offline`, `anthropic`, `openai`.")
    model: str = Field(description="The model the provider is asked for (the offline planner names its own).")
    prompt_sha: str = Field(description="sha256 (hex) of the system prompt the run plans with.")


class Usage(BaseModel):
    """Tokens one LLM answer used, as the provider reported them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    input_tokens: int = Field(default=0, description="Tokens sent to the model (prompt and message).")
    output_tokens: int = Field(default=0, description="Tokens the model answered with.")


class ForkPoint(BaseModel):
    """Where a fork branched off: the run and step it continues from, and how it continues.

    The fork's events ``2 .. inherited + 1`` are the original's events ``2 .. inherited + 1``,
    copied byte for byte (the plan and every step before ``step_id``): its inherited prefix.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    run_id: str = Field(description="The run this one was forked from.")
    step_id: str = Field(description="The first step the fork runs itself (every step before it is inherited).")
    inherited: int = Field(
        default=0, description="How many events after `RunStarted` were copied from the original (the prefix)."
    )
    inputs: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Step id -> the input it runs with instead of the planned one: the fork step's edited input, "
        "and the edits a forked parent had made to the steps this fork inherits.",
    )
    replan: bool = Field(
        default=False, description="True when the planner was asked for a new plan for the rest after the prefix."
    )


class RunStarted(DomainEvent):
    """A run began: what was asked, within which limits, with which planner and policy.

    v2: ``planner`` became an object {provider, model, prompt_sha} (v1 held the provider name).
    v3: ``outcome_rules`` (older runs are read as rules 1).
    """

    VERSION: ClassVar[int] = 3
    type: Literal["RunStarted"] = "RunStarted"
    goal: str = Field(description="What the person asked for, with secrets redacted.")
    max_steps: int = Field(description="The most steps a plan may have.")
    budget_usd: float = Field(description="The most the run may spend on LLM calls, in USD.")
    planner: PlannerInfo = Field(description="The planner the run plans with.")
    policy_sha: str = Field(description="sha256 (hex) of the policy file: a run fails when advanced after it changed.")
    policy_path: str = Field(
        default="", description="The policy file the run is guarded by, as given (often relative)."
    )
    replay_of: str | None = Field(default=None, description="The run this one replays; null for an original run.")
    replay_mode: ReplayMode | None = Field(
        default=None, description="How this run replays `replay_of`; null for an original run."
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="What a replay changed (provider, model, policy_path, tools, workspace, read_through, "
        "system_prompt), and a custom system prompt of any run.",
    )
    outcome_rules: int = Field(
        default=2,
        description="The rules that decide how the run ends once its plan is done (`agent_core/outcome.py`): "
        "1 = `completed` whatever its steps did (runs recorded before v3); 2 = `failed` when no step succeeded "
        "or every lookup found nothing.",
    )
    forked_from: ForkPoint | None = Field(
        default=None,
        description="Set on a fork: the run and step it branched off, and how much of the original it inherited. "
        "Absent (not null) from the payload of a run that is not a fork.",
    )

    # ``forked_from`` was added in place: a run that is not a fork stores what it stored before forks.
    OPTIONAL_IN_PLACE: ClassVar[frozenset[str]] = frozenset({"redactions", "forked_from"})


class PlanRequested(DomainEvent):
    """The planner is about to be asked for a plan: written before the provider is called."""

    ACTOR: ClassVar[Actor] = "planner"
    type: Literal["PlanRequested"] = "PlanRequested"
    provider: str = Field(description="The provider asked.")
    model: str = Field(description="The model asked.")
    system_prompt: str = Field(description="The system prompt sent, in full.")
    user_message: str = Field(
        description="The message sent: the goal, the limits, the workspace files (and, on a "
        "repair attempt, what was wrong with the previous answer)."
    )
    attempt: int = Field(
        default=1, description="1 for the first request; each repair of a rejected answer counts one more."
    )


class PlanGenerated(DomainEvent):
    """The planner's answer parsed into a valid plan: the run's steps from now on."""

    ACTOR: ClassVar[Actor] = "planner"
    type: Literal["PlanGenerated"] = "PlanGenerated"
    plan: Plan = Field(description="The validated plan: its steps in order, and its stop conditions.")
    raw_text: str = Field(description="The model's answer exactly as received (a replay re-parses it).")
    usage: Usage = Field(default=Usage(), description="Tokens the answer used.")
    latency_ms: float = Field(default=0.0, description="How long the provider took to answer, in milliseconds.")
    attempt: int = Field(default=1, description="The attempt (see `PlanRequested.attempt`) that produced the plan.")


class PlanRejected(DomainEvent):
    """The planner's answer was not a valid plan, or the provider failed; a retryable one is repaired.

    v2: the answer is kept as its length, sha256 and first ``REJECTED_EXCERPT_CHARS`` characters
    (v1 stored it whole, so a long invalid answer grew the store by its full size). A replay
    parses the excerpt again when it is the whole answer, and replays the recorded ``error``
    otherwise (``replays_whole_answer``).
    """

    VERSION: ClassVar[int] = 2
    ACTOR: ClassVar[Actor] = "planner"
    type: Literal["PlanRejected"] = "PlanRejected"
    error: str = Field(description="What was wrong, in words a person (and the repair prompt) can act on.")
    raw_chars: int = Field(
        default=0, description="The answer's length in characters; 0 when the provider failed or answered nothing."
    )
    raw_sha256: str = Field(
        default="", description="sha256 (hex) of the whole answer's UTF-8 text; empty when there was no answer."
    )
    raw_excerpt: str = Field(
        default="",
        description="The answer's first characters (at most `REJECTED_EXCERPT_CHARS`, 2,000): the whole "
        "answer when it is no longer. Text that is not valid UTF-8 is replaced by U+FFFD.",
    )
    usage: Usage = Field(default=Usage(), description="Tokens the answer used.")
    latency_ms: float = Field(default=0.0, description="How long the provider took to answer, in milliseconds.")
    attempt: int = Field(default=1, description="The attempt (see `PlanRequested.attempt`) that was rejected.")
    retryable: bool = Field(
        default=True, description="False when no further attempt follows (the last attempt, or a provider failure)."
    )

    @property
    def replays_whole_answer(self) -> bool:
        """True when ``raw_excerpt`` is the whole answer exactly (so a replay can parse it again)."""
        return len(self.raw_excerpt) == self.raw_chars and answer_sha256(self.raw_excerpt) == self.raw_sha256


REJECTED_EXCERPT_CHARS = 2000
"""How much of a rejected answer ``PlanRejected`` keeps (its length and sha256 describe the rest)."""


def answer_sha256(text: str) -> str:
    """sha256 (hex) of an answer's text; empty for no answer. Unpaired surrogates are hashed as they came."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() if text else ""


def answer_digest(text: str) -> dict[str, Any]:
    """``raw_chars``, ``raw_sha256`` and ``raw_excerpt`` of a rejected answer: how ``PlanRejected`` keeps it."""
    return {
        "raw_chars": len(text),
        "raw_sha256": answer_sha256(text),
        "raw_excerpt": clean_text(text[:REJECTED_EXCERPT_CHARS]),
    }


class CostRecorded(DomainEvent):
    """An LLM call's tokens and price, and the run's running total.

    Written by the planner for a plan answer and by the tool executor for a tool's LLM call
    (``summarize``): the actor follows ``source``. A call that answers after the run ended (it
    was in flight when the run was cancelled) is still recorded, after the terminal event.
    """

    ACTOR: ClassVar[Actor] = "planner"
    type: Literal["CostRecorded"] = "CostRecorded"
    source: str = Field(description="Who called the LLM: `planner`, or the tool's name.")
    model: str = Field(default="", description="The model that answered (the price table's key).")
    input_tokens: int = Field(default=0, description="Tokens sent to the model.")
    output_tokens: int = Field(default=0, description="Tokens the model answered with.")
    usd: float = Field(
        default=0.0, description="This call's price in USD (0 when the model is not in the price table)."
    )
    total_usd: float = Field(default=0.0, description="The run's spend so far, this call included, in USD.")
    priced: bool = Field(default=True, description="False when the model is not in the price table (`usd` is then 0).")

    @property
    def actor(self) -> str:
        """The planner for planning costs, the tool executor for tool (LLM summary) costs."""
        return "planner" if self.source == "planner" else "tool_executor"


class _Decision(DomainEvent):
    """The fields the policy guard's approve and reject decisions share."""

    ACTOR: ClassVar[Actor] = "policy_guard"
    step_id: str = Field(description="The plan step decided on.")
    tool: str = Field(description="The step's tool.")
    rule: str = Field(description="The policy rule that made the decision (`allowed` when no rule objected).")
    reason: str = Field(description="Why, in words a person can check.")


class ToolApproved(_Decision):
    """The policy guard let a step's tool run; the intent (``ToolExecuted``) follows in the same append."""

    DECIDES: ClassVar[Decides] = Decides("approved", "run", policy_outcome="approve")
    type: Literal["ToolApproved"] = "ToolApproved"


class ToolRejected(_Decision):
    """The policy guard refused a step: it never runs, and the run goes on with the next step."""

    DECIDES: ClassVar[Decides] = Decides("rejected", "skip", policy_outcome="reject")
    type: Literal["ToolRejected"] = "ToolRejected"


class ApprovalRequested(DomainEvent):
    """The policy guard held a step for a person: the run waits until it is granted or denied."""

    ACTOR: ClassVar[Actor] = "policy_guard"
    DECIDES: ClassVar[Decides] = Decides("held", "wait", policy_outcome="hold")
    type: Literal["ApprovalRequested"] = "ApprovalRequested"
    step_id: str = Field(description="The plan step held.")
    tool: str = Field(description="The step's tool.")
    input: dict[str, Any] = Field(description="The tool input the person approves, as resolved from earlier steps.")
    rule: str = Field(
        description="The policy rule that held the step (`resume_target_changed` after a crash "
        "when the write target changed)."
    )
    reason: str = Field(description="Why, in words a person can check.")


class _HumanDecision(DomainEvent):
    """The fields a person's grant and denial share."""

    ACTOR: ClassVar[Actor] = "human"
    step_id: str = Field(description="The held step decided on.")
    by: str = Field(description="Who decided.")
    comment: str = Field(default="", description="What they said about it (may be empty).")


class ApprovalGranted(_HumanDecision):
    """A person let a held step run; the run moves on when it is advanced."""

    DECIDES: ClassVar[Decides] = Decides("granted", "run")
    type: Literal["ApprovalGranted"] = "ApprovalGranted"


class ApprovalDenied(_HumanDecision):
    """A person refused a held step: it never runs, and the run goes on with the next step."""

    DECIDES: ClassVar[Decides] = Decides("denied", "skip")
    type: Literal["ApprovalDenied"] = "ApprovalDenied"


class ToolExecuted(DomainEvent):
    """The intent, written before the tool runs; ``target_sha256`` is the write target's hash then.

    An intent without its ``ObservationCaptured`` means the process died inside the tool, or after
    it before the observation was committed (it goes with the run's next transition): a resume
    writes ``StepInterrupted`` and re-runs or holds the step.
    """

    ACTOR: ClassVar[Actor] = "tool_executor"
    type: Literal["ToolExecuted"] = "ToolExecuted"
    step_id: str = Field(description="The plan step about to run.")
    tool: str = Field(description="The tool about to run.")
    input: dict[str, Any] = Field(description="The tool input, with references to earlier steps' output resolved.")
    target_sha256: str | None = Field(
        default=None,
        description="sha256 (hex) of the file a write is about to replace; null "
        "for a new file or a tool that does not write.",
    )


class ObservationCaptured(DomainEvent):
    """What a tool did: its result, also when it failed (a tool never takes the run down).

    v2: the result keeps its text once: a field that only repeated ``output`` (``read_file``'s
    ``content``, ``summarize``'s ``summary``) is dropped (``result_once``).
    """

    VERSION: ClassVar[int] = 2
    ACTOR: ClassVar[Actor] = "tool_executor"
    type: Literal["ObservationCaptured"] = "ObservationCaptured"
    step_id: str = Field(description="The plan step that ran.")
    tool: str = Field(description="The tool that ran.")
    result: dict[str, Any] = Field(
        description="`success`, `output` (text later steps may use), the tool's own "
        "fields, and `error` when `success` is false. A field that would only repeat `output` is not stored."
    )
    duration_ms: float = Field(default=0.0, description="How long the tool took, in milliseconds.")

    @property
    def success(self) -> bool:
        """Whether the tool reported success."""
        return bool(self.result.get("success"))


def result_once(result: dict[str, Any]) -> dict[str, Any]:
    """A tool result as ``ObservationCaptured`` stores it: without the fields that repeat a non-empty ``output``."""
    output = result.get("output")
    if not isinstance(output, str) or not output:
        return result
    return {key: value for key, value in result.items() if key == "output" or value != output}


class StepInterrupted(DomainEvent):
    """A resumed run found a step's intent without its observation: the process died inside the tool."""

    type: Literal["StepInterrupted"] = "StepInterrupted"
    step_id: str = Field(description="The step whose tool was interrupted.")
    tool: str = Field(default="", description="Its tool.")
    next_action: str = Field(
        default="",
        description="What the resume does about it: re-run the step, hold it for a person when its write "
        "target changed, or fail the run when the step was interrupted `AGENT_MAX_INTERRUPTIONS` times.",
    )


class BudgetExceeded(DomainEvent):
    """The run's budget is spent: written instead of its next step or paid LLM call; ``RunFailed`` follows."""

    type: Literal["BudgetExceeded"] = "BudgetExceeded"
    spent_usd: float = Field(description="What the run had spent, in USD.")
    budget_usd: float = Field(description="The run's budget, in USD.")


class ResponseFinalized(DomainEvent):
    """The run's answer, written once every step is done, just before the final event: ``RunCompleted``, or
    ``RunFailed`` when the run's outcome rules find it has no answer."""

    type: Literal["ResponseFinalized"] = "ResponseFinalized"
    summary: str = Field(
        description="The answer a person reads first: step counts, the files written, the last summary or output."
    )
    step_count: int = Field(description="The number of planned steps.")


class RunCompleted(DomainEvent):
    """The run ended after its last step with an answer (some steps may have failed or been refused; under
    outcome rules 1, even all of them)."""

    TERMINAL: ClassVar[bool] = True
    type: Literal["RunCompleted"] = "RunCompleted"
    status: str = Field(default="completed", description="Always `completed`.")


class RunFailed(DomainEvent):
    """The run ended without an answer: no valid plan, the budget, a policy file that changed, or (outcome
    rules 2) a finished plan whose steps all failed or were refused, or whose lookups all found nothing."""

    TERMINAL: ClassVar[bool] = True
    type: Literal["RunFailed"] = "RunFailed"
    reason: str = Field(description="Why, and what to change to succeed.")


class RunCancelled(DomainEvent):
    """A person ended the run; a process still advancing it stops at its next append."""

    TERMINAL: ClassVar[bool] = True
    type: Literal["RunCancelled"] = "RunCancelled"
    by: str = Field(default="human", description="Who cancelled the run.")
    reason: str = Field(default="", description="Why (may be empty).")


class ReplayDiffed(DomainEvent):
    """A what-if replay's (or a fork's) verdict against its original, appended when it stops.

    An annotation, not a step of the run: verify-replay ignores it, and a later one (after the
    replay was continued) supersedes an earlier one. A fork is compared from its fork point on.
    """

    ANNOTATION: ClassVar[bool] = True
    type: Literal["ReplayDiffed"] = "ReplayDiffed"
    original_run_id: str = Field(description="The run this replay was compared with.")
    verdict: Literal["regression", "improvement", "unchanged"] = Field(description="The replay against the original.")
    reasons: list[str] = Field(default_factory=list, description="Why, one sentence each.")


class CriterionScore(BaseModel):
    """One criterion a judge checked: the goal, or a step's success criteria."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    criterion: str = Field(description="What was checked, as the goal or the plan states it.")
    met: bool = Field(description="Whether the final response (and the step's observation) meets it.")
    note: str = Field(default="", description="Why, in a few words.")


class ResponseJudged(DomainEvent):
    """A judge's score of the run's final response against its goal and the steps' success criteria.

    An annotation appended to a replay arm (or any finished run) when asked for: an LLM judge
    through the configured provider, or the deterministic offline scorer. Verify ignores it.
    """

    ANNOTATION: ClassVar[bool] = True
    type: Literal["ResponseJudged"] = "ResponseJudged"
    judge: str = Field(description="Who scored: `offline` (the deterministic scorer) or the provider of an LLM judge.")
    model: str = Field(default="", description="The judge's model (empty for the offline scorer).")
    score: float = Field(description="From 0 (fails the goal) to 1 (meets the goal and every criterion).")
    criteria: list[CriterionScore] = Field(default_factory=list, description="Each criterion checked, in order.")
    reasons: list[str] = Field(default_factory=list, description="The judge's reasons, one sentence each.")
    input_tokens: int = Field(default=0, description="Tokens the LLM judge was sent (0 offline).")
    output_tokens: int = Field(default=0, description="Tokens the LLM judge answered with (0 offline).")


class UnknownEvent(DomainEvent):
    """An event this code cannot read as its catalogue type: kept whole, never a crash."""

    type: str
    data: dict[str, Any] = Field(default_factory=dict, description="The payload as stored.")
    problem: str = Field(default="", description="Why it cannot be read.")


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
    | ReplayDiffed
    | ResponseJudged,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)

# Everything below is derived from the union: a new event type is one class and one line in it.
EVENT_CLASSES: tuple[type[DomainEvent], ...] = get_args(get_args(AnyEvent)[0])
EVENT_TYPES: dict[str, type[DomainEvent]] = {cls.model_fields["type"].default: cls for cls in EVENT_CLASSES}
TERMINAL_TYPES = frozenset(name for name, cls in EVENT_TYPES.items() if cls.TERMINAL)
ANNOTATION_TYPES = frozenset(name for name, cls in EVENT_TYPES.items() if cls.ANNOTATION)
"""The event types that annotate a run (verdicts, scores): not steps of it, so verify and forks skip them."""

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


def upcast_plan_rejected_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 stored the answer whole in ``raw_text``; v2 keeps its length, sha256 and excerpt (``answer_digest``)."""
    lifted = dict(payload)
    raw = lifted.pop("raw_text", "")
    return {**lifted, **answer_digest(raw if isinstance(raw, str) else "")}


def upcast_observation_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 results repeated their text (``content`` or ``summary`` beside ``output``); v2 keeps it once."""
    result = payload.get("result")
    return {**payload, "result": result_once(result)} if isinstance(result, dict) else payload


def upcast_run_started_v2_v3(payload: dict[str, Any]) -> dict[str, Any]:
    """v3 records the outcome rules a run is judged by; runs recorded before were judged by rules 1."""
    return {**payload, "outcome_rules": 1}


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("RunStarted", 1): upcast_run_started_v1_v2,
    ("PlanRejected", 1): upcast_plan_rejected_v1_v2,
    ("ObservationCaptured", 1): upcast_observation_v1_v2,
    ("RunStarted", 2): upcast_run_started_v2_v3,
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
        """Why the stored payload could not be decoded ("" when it was)."""
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
