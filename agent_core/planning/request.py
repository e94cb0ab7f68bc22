"""The bounded request/repair loop: ask a planner at most ``max_attempts`` times, reporting it all as events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent_core.errors import ProviderError
from agent_core.events import (
    BudgetExceeded,
    CostRecorded,
    PlanGenerated,
    PlanRejected,
    PlanRequested,
    Usage,
    answer_digest,
)
from agent_core.jsontext import clean_text
from agent_core.plan import Plan
from agent_core.planning.parse import PlanLimits, PlanRejection, parse_plan
from agent_core.planning.prompt import SYSTEM_PROMPT, build_repair_message, build_user_message
from agent_core.redaction import Redactor

if TYPE_CHECKING:
    from agent_core.pricing import PriceTable
    from agent_core.providers import Planner, Reply

TRUNCATED_MARKER = "the answer was cut off"
PROVIDER_FAILURE_MARKER = "could not answer:"
"""In every ``PlanRejected.error`` written for a provider failure: how a recorded replay tells them apart."""
MAX_REASON_CHARS = 1000
"""The longest provider failure a ``PlanRejected`` records (SDK messages quote whole response bodies)."""
BUDGET_MARKER = "budget exceeded:"
"""How every ``RunFailed.reason`` written for a spent budget begins."""


def budget_left(spent_usd: float, budget_usd: float) -> bool:
    """True while a paid LLM call may still be made: something of the budget is left."""
    return spent_usd < budget_usd


@dataclass(frozen=True)
class PlanOutcome:
    """What ``request_plan`` ended with; ``reason`` (set when ``plan`` is None) goes into ``RunFailed``."""

    plan: Plan | None
    reason: str = ""
    spent_usd: float = 0.0
    attempts: int = 0


# --- the request / repair loop ---------------------------------------------------------------


def request_plan(
    planner: Planner,
    goal: str,
    limits: PlanLimits,
    *,
    workspace_files: list[str],
    emit: Callable[..., None],
    keep: Callable[..., None] | None = None,
    prices: PriceTable,
    spent_usd: float = 0.0,
    system_prompt: str | None = None,
    max_attempts: int = 3,
    redactor: Redactor | None = None,
    budget_usd: float | None = None,
) -> PlanOutcome:
    """Ask ``planner`` for a plan, repairing a rejected answer at most ``max_attempts - 1`` times.

    Emits, in order, for every attempt: ``PlanRequested`` (before the provider is called), then
    ``PlanGenerated`` + ``CostRecorded``, or ``PlanRejected`` (+ ``CostRecorded`` when tokens were
    used). ``emit(*events)`` records what must be stored before the provider is called (the request,
    a spent budget); ``keep(*events)`` (default ``emit``) the events of one answer, which record what
    already happened: the orchestrator holds them for the run's next append (``RunWriter.hold``),
    which is made before anything else happens outside the process (a tool, another call). A ``ProviderError``
    ends the loop at once with a non-retryable ``PlanRejected``, and so does any other exception
    the planner raises (a provider must not leave a run without its outcome). The goal is redacted
    before it is sent or stored.

    Every attempt is a paid call: with a ``budget_usd``, an attempt is made only while
    ``spent_usd`` (carried on with each answer's cost) is below it; otherwise ``BudgetExceeded``
    is emitted and the outcome's ``reason`` (for ``RunFailed``) says so.
    """
    prompt = SYSTEM_PROMPT if system_prompt is None else system_prompt
    keep = keep or emit
    clean_goal = (redactor or Redactor()).text(goal)
    total = spent_usd
    error = ""
    for attempt in range(1, max_attempts + 1):
        if budget_usd is not None and not budget_left(total, budget_usd):
            emit(BudgetExceeded(spent_usd=total, budget_usd=budget_usd))
            reason = (
                f"{BUDGET_MARKER} spent ${total:.4f} of ${budget_usd:.2f} before plan attempt {attempt} "
                "(each attempt is a paid LLM call); raise the budget or try a simpler goal"
            )
            return PlanOutcome(None, reason=reason, spent_usd=total, attempts=attempt - 1)
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
        except Exception as failure:  # a ProviderError, or a provider bug: either way the attempt ends in an event
            detail = str(failure) if isinstance(failure, ProviderError) else f"{type(failure).__name__}: {failure}"
            reason = clean_text(f"the {planner.provider} planner ({planner.model}) {PROVIDER_FAILURE_MARKER} {detail}")
            keep(PlanRejected(error=reason[:MAX_REASON_CHARS], attempt=attempt, retryable=False))
            return PlanOutcome(None, reason=reason[:MAX_REASON_CHARS], spent_usd=total, attempts=attempt)
        last = attempt == max_attempts
        if reply.replayed_rejection is not None:
            recorded = reply.replayed_rejection
            error = recorded.error
            digest = {k: getattr(recorded, k) for k in ("raw_chars", "raw_sha256", "raw_excerpt")}
        else:
            parsed = _judge(reply, limits)
            if isinstance(parsed, Plan):
                generated = PlanGenerated(
                    plan=parsed, raw_text=reply.text, usage=reply.usage, latency_ms=reply.latency_ms, attempt=attempt
                )
                total, cost = _cost(prices, reply, total, always=True)
                keep(generated, *cost)  # one transaction: both describe the answer already received
                return PlanOutcome(parsed, spent_usd=total, attempts=attempt)
            error, digest = parsed.error, answer_digest(reply.text)
        rejected = PlanRejected(
            error=error,
            **digest,
            usage=reply.usage,
            latency_ms=reply.latency_ms,
            attempt=attempt,
            retryable=not last,
        )
        total, cost = _cost(prices, reply, total, always=False)
        keep(rejected, *cost)
    reason = (
        f"no valid plan after {max_attempts} attempts from the {planner.provider} planner ({planner.model}); "
        f"last problem: {error}. Try a simpler goal, a larger max_steps, or another model."
    )
    return PlanOutcome(None, reason=reason, spent_usd=total, attempts=max_attempts)


def _judge(reply: Reply, limits: PlanLimits) -> Plan | PlanRejection:
    if reply.truncated:  # a truncated reply's stop reason is one of two known words (``Reply.truncated``)
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
