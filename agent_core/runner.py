"""Background execution for the dashboard: one bounded thread pool per process, no Streamlit imports.

Pages submit work and then only read the event store; nothing here calls back into the UI.
Whatever goes wrong in a background advance ends as an event (``RunFailed`` with the reason),
never as a lost exception in a thread.

Capacity is bounded twice: ``workers`` threads drive runs (``AGENT_MAX_ACTIVE_RUNS``), and at
most ``queue`` more wait for a free thread (``AGENT_MAX_QUEUED_RUNS``). Past that, ``submit`` and
``continue_run`` raise ``RunnerBusy`` before anything is recorded, so a refused launch leaves no
run behind and a refused approval is not recorded for a run nobody would continue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Protocol

from agent_core import events as ev
from agent_core.errors import AgentError, ConcurrencyError, RunnerBusy, RunNotFound
from agent_core.orchestrator import RunRequest
from agent_core.workbench import Workbench

log = logging.getLogger(__name__)


class _HandOver(Protocol):
    def __call__(self, handed_id: str, job: Callable[[], None] | None = None) -> None: ...


class BackgroundRunner:
    """Starts and continues runs on worker threads; ``active`` tells which are being driven here.

    ``workers`` and ``queue`` default to the settings' ``max_active_runs`` and ``max_queued_runs``.
    """

    def __init__(self, workbench: Workbench, workers: int | None = None, queue: int | None = None) -> None:
        self._workbench = workbench
        self.workers = workbench.settings.max_active_runs if workers is None else workers
        self.queue = workbench.settings.max_queued_runs if queue is None else queue
        if self.workers < 1 or self.queue < 0:
            raise ValueError(f"a runner needs at least one worker and a queue of 0 or more, not {workers}/{queue}")
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="agent-run")
        self._lock = threading.Lock()
        self._futures: dict[str, Future[None]] = {}  # not done: running or waiting for a worker
        self._waiting: list[str] = []  # submitted, no worker yet: oldest first
        self._claimed: set[str] = set()  # runs a continue_run holds a place for, not handed over yet
        self._anonymous = 0  # places held by submits whose run id is not known yet

    @property
    def capacity(self) -> int:
        """How many runs this runner holds at once: driven plus queued."""
        return self.workers + self.queue

    def submit(self, request: RunRequest) -> str:
        """Validate and record ``RunStarted`` now (errors reach the caller), then advance in the background.

        ``RunnerBusy`` when the runner is full, before anything is recorded.
        """
        with self._slot() as hand_over:
            run_id = self._workbench.start_run(request)
            hand_over(run_id)
        return run_id

    def submit_rerun(self, run_id: str) -> str:
        """Start a new run like ``run_id`` (``Workbench.start_rerun``) and advance it in the background.

        ``RunnerBusy`` when the runner is full, before anything is recorded.
        """
        with self._slot() as hand_over:
            new_id = self._workbench.start_rerun(run_id)
            hand_over(new_id)
        return new_id

    def continue_run(self, run_id: str, first: Callable[[], object] | None = None) -> None:
        """Advance a run in the background (after an approval, or to resume it).

        ``first`` (recording an approval, say) runs only once a slot is held, so it is never done
        for a run this runner has no room to continue; ``RunnerBusy`` says so and nothing happens.
        A run already driven here is not driven twice (``first`` still runs).
        """
        with self._slot(run_id) as hand_over:
            if first is not None:
                first()
            hand_over(run_id)

    def continue_many(self, batch_id: str, batch: Sequence[tuple[str, Callable[[], object]]]) -> None:
        """Work through ``batch`` in one place of the runner: for each (run id, record), record the
        decision, then advance that run, one after another.

        A person's decision on a filtered selection of a thousand held steps takes one place, not a
        thousand, so it never meets ``RunnerBusy`` halfway. A step decided meanwhile elsewhere (its
        ``record`` raises an ``AgentError``) is skipped and stays as that other decision left it;
        if the process stops halfway, the steps not reached are still held, not lost.
        """
        with self._slot(batch_id) as hand_over:
            hand_over(batch_id, partial(self._work_through, batch_id, list(batch)))

    def active(self, run_id: str) -> bool:
        """True while a worker of this process advances ``run_id``, or it waits for one (other processes unseen)."""
        with self._lock:
            future = self._futures.get(run_id)
            return future is not None and not future.done()

    def waiting_ahead(self, run_id: str) -> int | None:
        """How many runs wait before ``run_id`` for a free worker: None if it is not waiting (running, or unknown)."""
        with self._lock:
            return self._waiting.index(run_id) if run_id in self._waiting else None

    def load(self) -> tuple[int, int]:
        """(runs being driven, runs waiting for a worker) right now."""
        with self._lock:
            return self._load()

    def wait(self, run_id: str, timeout: float | None = None) -> None:
        """Block until the background work on ``run_id`` is done (``TimeoutError`` after ``timeout`` seconds).

        A failure inside the run is not raised here: it ends in the log as ``RunFailed``.
        """
        with self._lock:
            future = self._futures.get(run_id)
        if future is not None:
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        """Wait for the runs in progress to stop advancing, then release the worker threads."""
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _load(self) -> tuple[int, int]:
        live = sum(1 for f in self._futures.values() if not f.done())
        waiting = len(self._waiting)
        return live - waiting, waiting

    @contextmanager
    def _slot(self, run_id: str | None = None) -> Iterator[_HandOver]:
        """Hold one place in the runner (``RunnerBusy`` if none is free); the block hands a run id over to it.

        With ``run_id`` of a run already driven or being handed over here, no place is taken and
        handing over does nothing.
        """
        with self._lock:
            for done in [r for r, f in self._futures.items() if f.done()]:
                del self._futures[done]  # forget finished work: the dict stays as small as the capacity
            if run_id is not None and (run_id in self._futures or run_id in self._claimed):
                already = True
            else:
                already = False
                taken = sum(self._load()) + len(self._claimed) + self._anonymous
                if taken >= self.capacity:
                    in_progress = min(self.workers, taken)  # as it is about to be: a free worker starts at once
                    raise RunnerBusy(in_progress, taken - in_progress)
                if run_id is None:
                    self._anonymous += 1
                else:
                    self._claimed.add(run_id)
        if already:
            yield lambda _run_id, _job=None: None
            return
        handed = False

        def hand_over(handed_id: str, job: Callable[[], None] | None = None) -> None:
            nonlocal handed
            with self._lock:
                self._release(run_id)
                self._waiting.append(handed_id)
                self._futures[handed_id] = self._pool.submit(job or partial(self._advance, handed_id))
                handed = True

        try:
            yield hand_over
        finally:
            if not handed:
                with self._lock:
                    self._release(run_id)

    def _release(self, claimed: str | None) -> None:
        if claimed is None:
            self._anonymous -= 1
        else:
            self._claimed.discard(claimed)

    def _work_through(self, batch_id: str, batch: list[tuple[str, Callable[[], object]]]) -> None:
        with self._lock:
            if batch_id in self._waiting:
                self._waiting.remove(batch_id)
        for run_id, record in batch:
            try:
                record()
            except AgentError as error:
                log.info("batch %s: %s; skipped", batch_id, error)
                continue
            self._drive(run_id)

    def _advance(self, run_id: str) -> None:
        with self._lock:
            if run_id in self._waiting:
                self._waiting.remove(run_id)
        self._drive(run_id)

    def _drive(self, run_id: str) -> None:
        try:
            self._workbench.advance(run_id)
        except ConcurrencyError:
            log.info("run %s is being driven by another process; this worker stops", run_id)
        except Exception as error:  # a background failure must end in the log, not in a thread's stderr
            log.exception("background advance of run %s failed", run_id)
            self._record_failure(run_id, f"the run stopped on an internal error: {type(error).__name__}: {error}")

    def _record_failure(self, run_id: str, reason: str) -> None:
        try:
            state = self._workbench.run_state(run_id)
            if not state.is_terminal:
                self._workbench.store.append(run_id, [ev.RunFailed(reason=reason)], state.last_seq)
        except (RunNotFound, ConcurrencyError):
            pass
