"""The one seam through which the dashboard, the CLI and the API get runs executed.

``dispatcher(workbench)`` returns the in-process ``BackgroundRunner`` (no ``AGENT_QUEUE``) or a
``QueueDispatcher`` (``AGENT_QUEUE=procrastinate``, PostgreSQL): both have the ``Dispatcher``
interface, so a caller never knows where a run executes. With the queue, making a run runnable
(start, approval, denial) and enqueuing its advance happen in one transaction; a resume only
enqueues; a cancel only appends ``RunCancelled`` (the worker driving the run stops at its next
append). Callers then read the store, which every process shares.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import psycopg

from agent_core import queue
from agent_core.errors import AgentError, StoreError
from agent_core.orchestrator import RunRequest
from agent_core.projections import RunState
from agent_core.runner import BackgroundRunner
from agent_core.workbench import Workbench

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    """Where runs execute, behind the ``BackgroundRunner``'s interface."""

    def submit(self, request: RunRequest) -> str:
        """Validate and record ``RunStarted`` now (errors reach the caller); the run advances elsewhere."""
        ...

    def continue_run(self, run_id: str, first: Callable[[], object] | None = None) -> None:
        """Advance a run after ``first`` (recording an approval or denial) or, without it, resume it."""
        ...

    def submit_rerun(self, run_id: str) -> str:
        """Start a new run like ``run_id`` (same goal, planner and policy); it advances elsewhere."""
        ...

    def continue_many(self, batch_id: str, batch: Sequence[tuple[str, Callable[[], object]]]) -> None:
        """For each (run id, record): record the decision, then advance that run; one decided elsewhere is skipped."""
        ...

    def active(self, run_id: str) -> bool:
        """True while the run is being advanced, or waits for a worker."""
        ...

    def waiting_ahead(self, run_id: str) -> int | None:
        """How many runs wait before ``run_id``; None when it is not waiting."""
        ...

    def load(self) -> tuple[int, int]:
        """(runs being driven, runs waiting for a worker) right now."""
        ...

    def shutdown(self) -> None:
        """Release what the dispatcher holds (threads, connections)."""
        ...


class QueueDispatcher:
    """Enqueues runs for Procrastinate workers (``python -m agent_core worker``) instead of running them here."""

    def __init__(self, workbench: Workbench) -> None:
        """``ConfigError`` in one line on a SQLite store; the queue's tables are created on first use."""
        self._workbench = workbench
        self._url = workbench.settings.database_url
        self._conninfo = queue.conninfo(self._url)
        queue.ensure_schema(self._url)
        self._app = queue.build_app(self._url)

    def submit(self, request: RunRequest) -> str:
        """Record ``RunStarted`` and enqueue its advance in the same transaction."""
        with queue.enqueued_with_next_append(self._app):
            return self._workbench.start_run(request)

    def continue_run(self, run_id: str, first: Callable[[], object] | None = None) -> None:
        """With ``first``: its append (an approval, a denial) enqueues the advance with it. Without: a resume."""
        if first is not None:
            with queue.enqueued_with_next_append(self._app):
                first()
            return
        try:
            with psycopg.connect(self._conninfo) as conn:
                queue.defer_advance(self._app, conn, run_id)
        except psycopg.Error as error:
            raise StoreError(f"could not enqueue run {run_id!r}: {_first_line(error)}") from error

    def submit_rerun(self, run_id: str) -> str:
        """Record the new run's ``RunStarted`` and enqueue its advance in the same transaction."""
        with queue.enqueued_with_next_append(self._app):
            return self._workbench.start_rerun(run_id)

    def continue_many(self, batch_id: str, batch: Sequence[tuple[str, Callable[[], object]]]) -> None:
        """Each decision is appended with its run's advance job, one transaction per step.

        A step decided meanwhile elsewhere (its ``record`` raises an ``AgentError``) is skipped and
        enqueues nothing; the queue, not this process, holds the rest, so nothing waits here.
        """
        for run_id, record in batch:
            try:
                self.continue_run(run_id, first=record)
            except AgentError as error:
                log.info("selection %s: run %s: %s; skipped", batch_id, run_id, error)

    def active(self, run_id: str) -> bool:
        """True while a job for the run waits or runs (on any worker)."""
        row = self._one(
            "SELECT count(*) FROM procrastinate_jobs WHERE lock = %s AND status IN ('todo', 'doing')", (run_id,)
        )
        return bool(row and row[0])

    def waiting_ahead(self, run_id: str) -> int | None:
        """Jobs queued before the run's waiting job; None when it has none waiting."""
        row = self._one(
            "SELECT (SELECT count(*) FROM procrastinate_jobs o WHERE o.status = 'todo' AND o.queue_name = j.queue_name "
            "AND o.id < j.id) FROM procrastinate_jobs j WHERE j.lock = %s AND j.status = 'todo' ORDER BY j.id LIMIT 1",
            (run_id,),
        )
        return int(row[0]) if row else None

    def load(self) -> tuple[int, int]:
        """(jobs running, jobs waiting) over all workers."""
        health = queue.queue_health(self._workbench.settings)
        return health.running, health.waiting

    def shutdown(self) -> None:
        """Nothing to release: every call opens and closes its own connection."""

    def wait(self, run_id: str, timeout: float | None = None) -> RunState:
        """Poll the store until the run ends or waits for a person (``TimeoutError`` after ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self._workbench.run_state(run_id)
            if state.is_terminal or state.pending_approval is not None:
                return state
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id!r} is still {state.status} after {timeout} s")
            time.sleep(0.2)

    def _one(self, sql: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        try:
            with psycopg.connect(self._conninfo) as conn:
                return conn.execute(sql, params).fetchone()  # type: ignore[arg-type]  # fixed SQL text
        except psycopg.Error as error:
            raise StoreError(f"could not read the queue: {_first_line(error)}") from error


def dispatcher(workbench: Workbench) -> Dispatcher:
    """The dispatcher the settings ask for: ``AGENT_QUEUE=procrastinate`` -> ``QueueDispatcher``, else in-process."""
    if workbench.settings.agent_queue == "procrastinate":
        return QueueDispatcher(workbench)
    return BackgroundRunner(workbench)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
