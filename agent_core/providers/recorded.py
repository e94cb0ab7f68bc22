"""The recorded planner: serves a run's recorded answers again, for replay."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent_core.errors import ProviderError
from agent_core.events import CostRecorded, PlanGenerated, PlanRejected, PlanRequested, RecordedEvent, Usage
from agent_core.planning import PROVIDER_FAILURE_MARKER, TRUNCATED_MARKER, PlanLimits
from agent_core.providers.base import (
    Reply,
)


@dataclass
class _RecordedAnswer:
    text: str
    usage: Usage
    latency_ms: float
    model: str
    stop_reason: str = ""
    failure: str | None = None
    rejection: PlanRejected | None = None


class RecordedPlanner:
    """Serves the planner answers recorded in a run's events, in attempt order (for replay).

    It takes the recorded provider and model names (or those given, for a replay whose
    ``RunStarted`` must match the original), so a verify-replay writes the same ``PlanRequested``
    events; a recorded provider failure is raised again as a ``ProviderError``. A rejected answer
    is served as text when its excerpt is the whole answer (so the current validator judges it
    again), else as the recorded rejection (``Reply.replayed_rejection``): an excerpt cannot be
    parsed into the rejection the whole answer got.
    """

    def __init__(
        self, events: Sequence[RecordedEvent], *, provider: str | None = None, model: str | None = None
    ) -> None:
        self.provider = "recorded"
        self.model = "recorded"
        self._answers: list[_RecordedAnswer] = []
        current_model = ""
        for recorded in events:
            event = recorded.event
            if isinstance(event, PlanRequested):
                if not self._answers:
                    self.provider, self.model = event.provider, event.model
                current_model = event.model
            elif isinstance(event, PlanGenerated):
                self._answers.append(_RecordedAnswer(event.raw_text, event.usage, event.latency_ms, current_model))
            elif isinstance(event, PlanRejected):
                self._answers.append(_from_rejection(event, current_model))
            elif isinstance(event, CostRecorded) and event.source == "planner" and self._answers and event.model:
                self._answers[-1].model = event.model
        self._served = 0
        if provider is not None:  # a replay writes the original's names, so its RunStarted matches
            self.provider, self.model = provider, model or self.model

    @property
    def remaining(self) -> int:
        """How many recorded answers are left to serve."""
        return len(self._answers) - self._served

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        """The next recorded answer; a recorded provider failure is raised again as ``ProviderError``."""
        if self._served >= len(self._answers):
            raise ProviderError(
                f"the recorded run holds only {len(self._answers)} planner answer(s) and all were used; "
                "replay with a live planner (--planner) to ask for more"
            )
        answer = self._answers[self._served]
        self._served += 1
        if answer.failure is not None:
            raise ProviderError(answer.failure)
        return Reply(answer.text, answer.usage, answer.model, answer.latency_ms, answer.stop_reason, answer.rejection)

    def summarize(self, text: str, instruction: str) -> Reply | None:
        """None: recorded summaries are served with the tool's recorded observation."""
        return None


def _from_rejection(event: PlanRejected, model: str) -> _RecordedAnswer:
    answer = _RecordedAnswer(event.raw_excerpt, event.usage, event.latency_ms, model)
    if not event.retryable and PROVIDER_FAILURE_MARKER in event.error:
        answer.failure = event.error.split(PROVIDER_FAILURE_MARKER, 1)[1].strip()
    elif not event.replays_whole_answer:
        answer.rejection = event
    elif event.error.startswith(TRUNCATED_MARKER):
        recorded = re.search(r"\(stop reason '([^']*)'\)", event.error)
        answer.stop_reason = recorded.group(1) if recorded else "max_tokens"
    return answer


# --- offline ---------------------------------------------------------------------------------
