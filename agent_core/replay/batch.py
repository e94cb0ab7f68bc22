"""replay-all: verify or what-if every original run; what CI calls before a prompt or policy ships."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.errors import AgentError
from agent_core.projections import RUNNING
from agent_core.replay.diff import DEFAULT_COST_SHARE
from agent_core.replay.driver import Overrides, ReplayError
from agent_core.replay.parallel import Outcome, verify_in_workers
from agent_core.replay.verify import VerifyResult
from agent_core.replay.whatif import WhatIfResult, whatif
from agent_core.store import EventStore, RunRow

_PAGE = 200


# --- replay-all ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayAllReport:
    """A line per run and the counts CI gates on (``failed`` is true on any regression or divergence)."""

    mode: str
    lines: tuple[str, ...]
    counts: Mapping[str, int]
    results: tuple[VerifyResult | WhatIfResult, ...] = ()
    skipped: int = 0

    @property
    def failed(self) -> bool:
        """True on any regression, divergence or error: what CI gates on."""
        return bool(self.counts.get("regression") or self.counts.get("diverged") or self.counts.get("error"))

    @property
    def run_statuses(self) -> dict[str, int]:
        """How the replayed runs themselves had ended (verify: as recorded; what-if: the replays)."""
        ended: dict[str, int] = {}
        for result in self.results:
            status = result.run_status if isinstance(result, VerifyResult) else result.state.status
            if status:
                ended[status] = ended.get(status, 0) + 1
        return ended

    def summary(self) -> str:
        """One line: how many runs replayed and how they came out (and how those runs had ended)."""
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()) if n)
        skipped = f"; {self.skipped} still running, skipped" if self.skipped else ""
        which = "recorded runs" if self.mode == "verify" else "replays"
        ended = ", ".join(f"{n} {k}" for k, n in sorted(self.run_statuses.items()))
        ended = f"; {which}: {ended}" if ended else ""
        return (
            f"{self.mode}: {sum(self.counts.values())} runs replayed — {counts or 'nothing to replay'}{skipped}{ended}"
        )


def original_rows(store: EventStore, limit: int | None = None) -> list[RunRow]:
    """Index rows of original (non-replay) runs that have ended or wait, newest first."""
    rows: list[RunRow] = []
    offset = 0
    while limit is None or len(rows) < limit:
        page = store.list_runs(originals_only=True, limit=_PAGE, offset=offset)
        rows.extend(r for r in page if r.status not in (RUNNING, "new"))
        if len(page) < _PAGE:
            break
        offset += _PAGE
    return rows[:limit] if limit is not None else rows


def originals(store: EventStore, limit: int | None = None) -> list[str]:
    """Ids of original (non-replay) runs, newest first."""
    return [row.run_id for row in original_rows(store, limit)]


def replay_all(
    store: EventStore,
    settings: Settings,
    mode: ev.ReplayMode = "verify",
    overrides: Overrides | None = None,
    *,
    limit: int | None = None,
    cost_share: float = DEFAULT_COST_SHARE,
    on_result: Callable[[str], None] | None = None,
    workers: int = 1,
) -> ReplayAllReport:
    """Verify or what-if-replay every original run (newest first); ``on_result`` gets each line as it is ready.

    ``workers`` > 1 verifies in that many processes (``parallel``): the same lines in the same
    order. What-ifs write replay runs to the store, so they run in this process only.
    """
    overrides = overrides or Overrides()
    if workers > 1 and mode != "verify":
        raise ReplayError("--workers parallelises verify only: what-if replays write to the store one at a time")
    rows = original_rows(store, limit)
    skipped = store.count_runs(originals_only=True, status=[RUNNING])
    lines: list[str] = []
    results: list[VerifyResult | WhatIfResult] = []
    counts: dict[str, int] = {}
    outcomes = (
        verify_in_workers(store, settings, rows, overrides, workers)
        if mode == "verify"
        else (_whatif_outcome(store, settings, row, overrides, cost_share) for row in rows)
    )
    for outcome in outcomes:
        if outcome.result is not None:
            results.append(outcome.result)
        counts[outcome.key] = counts.get(outcome.key, 0) + 1
        lines.append(outcome.line)
        if on_result:
            on_result(outcome.line)
    return ReplayAllReport(mode, tuple(lines), counts, tuple(results), skipped)


def _whatif_outcome(
    store: EventStore, settings: Settings, row: RunRow, overrides: Overrides, cost_share: float
) -> Outcome:
    try:
        result = whatif(store, settings, row.run_id, overrides, cost_share=cost_share)
    except AgentError as error:
        return Outcome("error", f"{row.run_id}  ERROR: {error}", None)
    return Outcome(result.diff.verdict, result.line(), result)
