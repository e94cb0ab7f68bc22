"""replay-all: verify or what-if every original run; what CI calls before a prompt or policy ships."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.errors import AgentError
from agent_core.projections import RUNNING
from agent_core.replay.diff import DEFAULT_COST_SHARE
from agent_core.replay.driver import Overrides
from agent_core.replay.scratch import scratch_space
from agent_core.replay.verify import VerifyResult, verify
from agent_core.replay.whatif import WhatIfResult, whatif
from agent_core.store import EventStore

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


def originals(store: EventStore, limit: int | None = None) -> list[str]:
    """Ids of original (non-replay) runs, newest first."""
    ids: list[str] = []
    offset = 0
    while limit is None or len(ids) < limit:
        page = store.list_runs(originals_only=True, limit=_PAGE, offset=offset)
        ids.extend(r.run_id for r in page if r.status not in (RUNNING, "new"))
        if len(page) < _PAGE:
            break
        offset += _PAGE
    return ids[:limit] if limit is not None else ids


def replay_all(
    store: EventStore,
    settings: Settings,
    mode: ev.ReplayMode = "verify",
    overrides: Overrides | None = None,
    *,
    limit: int | None = None,
    cost_share: float = DEFAULT_COST_SHARE,
    on_result: Callable[[str], None] | None = None,
) -> ReplayAllReport:
    """Verify or what-if-replay every original run (newest first); ``on_result`` gets each line as it is ready."""
    overrides = overrides or Overrides()
    ids = originals(store, limit)
    skipped = store.count_runs(originals_only=True, status=[RUNNING])
    lines: list[str] = []
    results: list[VerifyResult | WhatIfResult] = []
    counts: dict[str, int] = {}
    with scratch_space() as scratch:
        for run_id in ids:
            key: str
            try:
                result: VerifyResult | WhatIfResult
                if mode == "verify":
                    result = verify(store, settings, run_id, overrides, scratch=scratch)
                    key = result.status
                else:
                    result = whatif(store, settings, run_id, overrides, cost_share=cost_share)
                    key = result.diff.verdict
                line = result.line()
                results.append(result)
            except AgentError as error:
                key, line = "error", f"{run_id}  ERROR: {error}"
            counts[key] = counts.get(key, 0) + 1
            lines.append(line)
            if on_result:
                on_result(line)
    return ReplayAllReport(mode, tuple(lines), counts, tuple(results), skipped)
