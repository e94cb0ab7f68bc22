"""Small helpers every bench shares: timing, medians, ratios, verdicts and a plain-text table.

Benches print their table on stdout and progress on stderr, so ``--json`` output and the table
stay clean when piped. Nothing here knows about the store, runs or the dashboard.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"  # gitignored: cached fixtures and scratch databases


def ensure_import_path() -> None:
    """Let ``python bench/x.py`` import ``agent_core`` without installing the project."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def progress(message: str) -> None:
    """A progress line on stderr (stdout is reserved for the table or the JSON document)."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Sample:
    """Repeated measurements of one quantity; ``median`` is what tables report."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> float:
        """Max minus min, as a fraction of the median: a quick check that repeats agree."""
        return (max(self.values) - min(self.values)) / self.median if self.median else 0.0


def seconds(fn: Callable[[], Any]) -> float:
    """Wall time of one call, in seconds (perf_counter)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat(measure: Callable[[int], float], repeats: int, warmup: int = 1) -> Sample:
    """Call ``measure(i)`` ``warmup`` times unrecorded, then ``repeats`` times; ``i`` counts from 0."""
    for i in range(warmup):
        measure(-1 - i)
    return Sample(tuple(measure(i) for i in range(repeats)))


def interleaved(measures: dict[str, Callable[[int], float]], repeats: int, warmup: int = 1) -> dict[str, Sample]:
    """Like ``repeat`` for several contenders, taking turns each round: on a shared, busy machine
    load drifts over seconds, and alternating keeps that drift out of the ratios between them."""
    values: dict[str, list[float]] = {name: [] for name in measures}
    for i in range(-warmup, repeats):
        for name, measure in measures.items():
            value = measure(i)
            if i >= 0:
                values[name].append(value)
    return {name: Sample(tuple(v)) for name, v in values.items()}


def per_second(count: int, elapsed_s: float) -> float:
    return count / elapsed_s if elapsed_s > 0 else float("inf")


def ratio(ours: float | None, baseline: float | None, *, higher_is_better: bool) -> float | None:
    """How many times better ``ours`` is than ``baseline`` (>1 means ours wins), whatever the unit."""
    if not ours or not baseline:
        return None
    return ours / baseline if higher_is_better else baseline / ours


def fmt_number(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "MISS")


@dataclass
class Table:
    """A plain-text table with right-aligned numbers; ``render`` returns it as one string."""

    headers: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self) -> str:
        widths = [max(len(str(h)), *(len(r[i]) for r in self.rows)) for i, h in enumerate(self.headers)]

        def line(cells: Sequence[str]) -> str:
            out = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
            return "  ".join(out).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([line(self.headers), rule, *(line(r) for r in self.rows)])


def machine_line() -> str:
    """One line naming what the figures were measured on (they mean little without it)."""
    return f"python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
