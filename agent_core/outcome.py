"""How a run that finished its plan ends: the outcome rules, versioned because recorded runs must replay alike.

A run records the rules it is judged by (``RunStarted.outcome_rules``); a run recorded before they
were recorded is read as rules 1. Verify and resume judge a run by its own rules.

- Rules 1: a run that finished its plan ends ``completed`` (``RunCompleted``), whatever its steps did.
- Rules 2 (current): it ends ``failed`` (``ResponseFinalized`` with the answer, then ``RunFailed``
  naming why; exit code 1) when no step succeeded (each failed, or the policy or a person refused
  it), or when every lookup (web_search, read_file, list_files: the tools that declare
  ``found_nothing``) failed or found nothing, so the answer can only be "no results".
  Otherwise it ends ``completed``, and the summary counts the steps that failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_core.tools import TOOLS

if TYPE_CHECKING:
    from agent_core.projections import RunState, StepState

LEGACY_RULES = 1
CURRENT_RULES = 2
_REASON_CHARS = 1500


def unanswered(state: RunState, rules: int = CURRENT_RULES) -> str | None:
    """Why the run, its plan done, has no answer under ``rules`` (the ``RunFailed`` reason); None when it has one."""
    if rules < 2 or not state.steps:
        return None
    if not any(s.outcome == "succeeded" for s in state.steps):
        return _cap("no step succeeded: " + "; ".join(_what_happened(s) for s in state.steps))
    lookups = [s for s in state.steps if _looks_up(s.tool)]
    if lookups and all(not _found(s) for s in lookups):
        return _cap(
            "nothing was found: "
            + "; ".join(_what_happened(s) for s in lookups)
            + ". Check the query or the file names, or the folder the agent searched"
        )
    return None


def _looks_up(tool: str) -> bool:
    spec = TOOLS.get(tool)
    return spec is not None and spec.found_nothing is not None


def _found(step: StepState) -> bool:
    spec = TOOLS[step.tool]
    result = step.result
    return (
        result is not None and bool(result.get("success")) and not (spec.found_nothing and spec.found_nothing(result))
    )


def _what_happened(step: StepState) -> str:
    label = f"{step.step_id} {step.tool}"
    result = step.result or {}
    if step.outcome == "failed":
        return f"{label} failed ({str(result.get('error') or 'no reason given')[:200]})"
    if step.outcome in ("rejected", "denied"):
        by = f"rule {step.rule!r}" if step.outcome == "rejected" else f"{step.decided_by or 'a person'}"
        return f"{label} was {step.outcome} by {by} ({(step.reason or step.comment)[:200]})"
    if step.outcome == "succeeded" and _looks_up(step.tool) and not _found(step):
        said = str(result.get("output") or "").strip().splitlines()
        return f"{label} found nothing ({said[0][:200] if said else 'empty'})"
    return f"{label} {step.outcome}"


def _cap(text: str) -> str:
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"
