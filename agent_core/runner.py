"""Background execution for the dashboard: one small thread pool per process, no Streamlit imports.

Pages submit work and then only read the event store; nothing here calls back into the UI.
Whatever goes wrong in a background advance ends as an event (``RunFailed`` with the reason),
never as a lost exception in a thread.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from agent_core import events as ev
from agent_core.errors import ConcurrencyError, RunNotFound
from agent_core.orchestrator import RunRequest
from agent_core.workbench import Workbench

log = logging.getLogger(__name__)


class BackgroundRunner:
    """Starts and continues runs on worker threads; ``active`` tells which are being driven here."""

    def __init__(self, workbench: Workbench, workers: int = 2) -> None:
        self._workbench = workbench
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-run")
        self._lock = threading.Lock()
        self._futures: dict[str, Future[None]] = {}

    def submit(self, request: RunRequest) -> str:
        """Validate and record ``RunStarted`` now (errors reach the caller), then advance in the background."""
        run_id = self._workbench.start_run(request)
        self.continue_run(run_id)
        return run_id

    def continue_run(self, run_id: str) -> None:
        """Advance a run in the background (after an approval, or to resume it)."""
        with self._lock:
            running = self._futures.get(run_id)
            if running is not None and not running.done():
                return
            self._futures[run_id] = self._pool.submit(self._advance, run_id)

    def active(self, run_id: str) -> bool:
        """True while a worker of this process is advancing ``run_id`` (other processes are not seen)."""
        with self._lock:
            future = self._futures.get(run_id)
            return future is not None and not future.done()

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

    def _advance(self, run_id: str) -> None:
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
