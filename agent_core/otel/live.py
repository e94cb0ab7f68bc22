"""Live export: a background thread follows the store's live feed and exports each run once it ends.

It only reads (``read_all`` after the last position it saw, then the ended run's events), so the
processes that append never wait for it. An unreachable collector is logged once, the ended runs
are kept (as ids) and retried with exponential backoff; it never raises into anyone's run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opentelemetry.sdk.trace import ReadableSpan

from agent_core import events as ev
from agent_core.errors import AgentError
from agent_core.otel.encode import OtlpSender
from agent_core.otel.spans import run_spans
from agent_core.projections import load_events
from agent_core.redaction import Redactor
from agent_core.store import EventStore

log = logging.getLogger(__name__)

Send = Callable[[Sequence[ReadableSpan]], bool]


@dataclass(frozen=True, slots=True)
class LiveStats:
    """What the exporter has done so far (for the CLI's status line and tests)."""

    position: int
    exported_runs: int
    exported_spans: int
    pending_runs: int
    failed_attempts: int
    reachable: bool


class LiveExporter:
    """Follows ``store`` from ``start_position`` (default: its current end) on a daemon thread.

    A run is exported when its terminal event (or a replay's ``ReplayDiffed``) has been seen and
    no further event of it arrived for ``settle_s`` (so a replay's verdict, appended just after
    it ends, is in its trace). A run that is not ended by then waits for its terminal event.
    """

    def __init__(
        self,
        store: EventStore,
        endpoint: str | None = None,
        *,
        send: Send | None = None,
        include_content: bool = False,
        redactor: Redactor | None = None,
        start_position: int | None = None,
        poll_s: float = 0.5,
        settle_s: float = 1.0,
        timeout_s: float = 5.0,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        batch_runs: int = 20,
        max_pending: int = 100_000,
    ) -> None:
        if send is None and endpoint is None:
            raise ValueError("LiveExporter needs an endpoint or a send function")
        self.store = store
        self._sender = OtlpSender(endpoint, timeout_s=timeout_s) if send is None and endpoint else None
        self.endpoint = self._sender.endpoint if self._sender else (endpoint or "<custom sender>")
        self._send: Send = send if send is not None else self._sender.send  # type: ignore[union-attr]  # set above when send is None
        self._include_content = include_content
        self._redactor = redactor
        self._start_position = start_position
        self._poll_s, self._settle_s = poll_s, settle_s
        self._backoff_s, self._max_backoff_s = backoff_s, max_backoff_s
        self._batch_runs, self._max_pending = batch_runs, max_pending
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ended: dict[str, float] = {}  # run id -> monotonic time of its last event seen
        self._position = 0
        self._exported_runs = self._exported_spans = self._failed = 0
        self._reachable = True
        self._retry_at = 0.0
        self._delay = backoff_s
        self._store_problem = False

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LiveExporter:
        """Begin following the live feed in a background thread (from now, or the given position)."""
        if self._thread is not None:
            return self
        self._position = self.store.last_position() if self._start_position is None else self._start_position
        self._thread = threading.Thread(target=self._loop, name="otel-live-export", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop following; ended runs still pending get one last export attempt (within ``timeout_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._sender is not None:
            self._sender.close()

    def __enter__(self) -> LiveExporter:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stats(self) -> LiveStats:
        """How far it has read and what it has exported, for logs and tests."""
        with self._lock:
            return LiveStats(
                self._position,
                self._exported_runs,
                self._exported_spans,
                len(self._ended),
                self._failed,
                self._reachable,
            )

    # --- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._read_feed()
                self._export_due(final=False)
            except Exception:  # the follower must survive anything; the next round tries again
                log.exception("OpenTelemetry live export: unexpected error; continuing")
            self._stop.wait(self._poll_s)
        try:
            self._read_feed()
            self._export_due(final=True)
        except Exception:
            log.exception("OpenTelemetry live export: unexpected error while stopping")

    def _read_feed(self) -> None:
        while True:
            try:
                batch = self.store.read_all(self._position, 1000)
            except AgentError as error:
                if not self._store_problem:
                    log.warning("OpenTelemetry live export cannot read the event store (%s); retrying", error)
                    self._store_problem = True
                return
            self._store_problem = False
            if not batch:
                return
            now = time.monotonic()
            with self._lock:
                for stored in batch:
                    if (
                        stored.type in ev.TERMINAL_TYPES
                        or stored.type == "ReplayDiffed"
                        or stored.run_id in self._ended
                    ):
                        self._ended[stored.run_id] = now
                self._position = batch[-1].position
                self._trim()
            if len(batch) < 1000:
                return

    def _trim(self) -> None:
        if len(self._ended) > self._max_pending:
            dropped = len(self._ended) - self._max_pending
            for run_id in list(self._ended)[:dropped]:
                del self._ended[run_id]
            log.warning(
                "OpenTelemetry live export: %d ended runs dropped (more than %d waiting)", dropped, self._max_pending
            )

    def _export_due(self, *, final: bool) -> None:
        now = time.monotonic()
        if not final and now < self._retry_at:
            return
        with self._lock:
            due = [r for r, seen in self._ended.items() if final or now - seen >= self._settle_s]
        for start in range(0, len(due), self._batch_runs):
            chunk = due[start : start + self._batch_runs]
            spans, runs = self._spans_of(chunk)
            if spans and not self._deliver(spans):
                return
            with self._lock:
                for run_id in chunk:
                    self._ended.pop(run_id, None)
                self._exported_runs += runs
                self._exported_spans += len(spans)

    def _spans_of(self, run_ids: list[str]) -> tuple[list[ReadableSpan], int]:
        spans: list[ReadableSpan] = []
        runs = 0
        for run_id in run_ids:
            events = load_events(self.store, run_id)
            if not any(e.type in ev.TERMINAL_TYPES for e in events):
                continue  # not ended (a replay waiting for approval): its terminal event brings it back
            spans.extend(run_spans(events, include_content=self._include_content, redactor=self._redactor))
            runs += 1
            time.sleep(0)  # let the threads that append take the GIL between runs
        return spans, runs

    def _deliver(self, spans: list[ReadableSpan]) -> bool:
        try:
            ok = self._send(spans)
        except Exception as error:  # a custom sender may raise; the built-in one returns False
            log.debug("OpenTelemetry send raised %r", error)
            ok = False
        with self._lock:
            if ok:
                if not self._reachable:
                    log.warning(
                        "OpenTelemetry export to %s works again; sending the runs that ended meanwhile", self.endpoint
                    )
                self._reachable, self._delay, self._retry_at = True, self._backoff_s, 0.0
                return True
            self._failed += 1
            if self._reachable:
                log.warning(
                    "OpenTelemetry export to %s failed; ended runs are kept and retried with backoff "
                    "(up to every %.0f s). Logged once until it works again.",
                    self.endpoint,
                    self._max_backoff_s,
                )
            self._reachable = False
            self._retry_at = time.monotonic() + self._delay
            self._delay = min(self._delay * 2, self._max_backoff_s)
            return False
