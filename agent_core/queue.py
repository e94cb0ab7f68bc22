"""Runs executed by Procrastinate workers on the PostgreSQL store (``AGENT_QUEUE=procrastinate``).

One job kind: "advance run R". It is enqueued in the same transaction as the event that makes R
runnable (``RunStarted``, an approval or a denial; ``store.also_in_next_append``), or alone for a
resume. ``lock=R`` lets one worker drive a run at a time; ``queueing_lock=R`` keeps at most one
such job waiting (a second enqueue finds it and does nothing). A worker killed mid-step stops
sending heartbeats; the stalled-job sweep (every worker runs it) puts its job back in the queue and
another worker resumes the run through ``StepInterrupted``. Delivery is at least once: a duplicate
or retried job meets the store's optimistic lock on ``(run_id, seq)`` and changes nothing.

The queue's tables are created on first use, idempotently, under an advisory lock (like the
store's): a user runs no migration.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import procrastinate
import psycopg
from procrastinate import exceptions as pq_errors
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from agent_core import events as ev
from agent_core.config import Settings, masked_url
from agent_core.errors import ConcurrencyError, ConfigError, RunNotFound, StoreError
from agent_core.store import also_in_next_append
from agent_core.workbench import Workbench

log = logging.getLogger(__name__)

QUEUE = "runs"
ADVANCE_TASK = "agent_core.advance_run"
SCHEMA_LOCK = 727275  # advisory lock id: one process creates the queue's tables, the others wait and see them
STORE_RETRY = procrastinate.RetryStrategy(max_attempts=20, wait=5, retry_exceptions={StoreError})
"""A job whose store went away (a database restart, a network blip) is tried again, for about two minutes."""
_SCHEMA_READY: set[str] = set()
STEP_ENDS = frozenset({"PlanGenerated", "ObservationCaptured", "ToolRejected"})
"""Events after which a run holds no step half done: where a stopping worker may let go of it."""


def conninfo(database_url: str) -> str:
    """The libpq connection string of a ``postgresql+psycopg://`` URL (its ``options``, e.g. a search_path, kept)."""
    try:
        url = make_url(database_url)
    except ArgumentError as error:
        raise ConfigError(f"DATABASE_URL {masked_url(database_url)} is not a database URL: {error}") from error
    if url.get_backend_name() != "postgresql":
        raise ConfigError(
            "AGENT_QUEUE=procrastinate needs the PostgreSQL store; DATABASE_URL is "
            f"{url.get_backend_name()!r} (unset AGENT_QUEUE to run in-process, or use postgresql+psycopg://...)"
        )
    options = url.query.get("options", "")
    options = options if isinstance(options, str) else " ".join(options)
    parts = {
        "host": url.host,
        "port": url.port,
        "dbname": url.database,
        "user": url.username,
        "password": url.password,
        "options": f"{options} -c timezone=UTC".strip(),
    }
    given = {k: str(v) for k, v in parts.items() if v not in (None, "")}
    try:
        info = psycopg.conninfo.make_conninfo(**given)
        intact = psycopg.conninfo.conninfo_to_dict(info) == given
    except psycopg.ProgrammingError:
        intact = False
    if not intact:  # e.g. a NUL character: libpq would connect somewhere else than the URL says
        raise ConfigError(
            f"DATABASE_URL {masked_url(database_url)} holds characters a PostgreSQL connection string cannot carry"
        )
    return info


def ensure_schema(database_url: str) -> None:
    """Create Procrastinate's tables once; concurrent first uses wait on one advisory lock.

    ``StoreError`` in one line when the database cannot be reached.
    """
    if database_url in _SCHEMA_READY:
        return
    try:
        with psycopg.connect(conninfo(database_url)) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
            if not (row and row[0]):
                conn.execute(SchemaManager.get_schema())  # type: ignore[arg-type]  # whole file, no parameters
    except psycopg.Error as error:
        raise StoreError(f"could not set up the queue: {_first_line(error)}") from error
    _SCHEMA_READY.add(database_url)


def build_app(database_url: str, *, worker: bool = False) -> procrastinate.App:
    """The Procrastinate app with the advance task: async connector in a worker, sync in clients."""
    info = conninfo(database_url)
    connector: Any = (
        procrastinate.PsycopgConnector(conninfo=info) if worker else procrastinate.SyncPsycopgConnector(conninfo=info)
    )
    app = procrastinate.App(connector=connector)
    app.task(name=ADVANCE_TASK, queue=QUEUE, pass_context=True, retry=STORE_RETRY)(_advance_job)
    return app


def defer_advance(app: procrastinate.App, connection: Any, run_id: str) -> bool:
    """Enqueue "advance ``run_id``" on ``connection``, in the caller's transaction; False when one already waits.

    A savepoint keeps the caller's transaction alive when the queueing lock refuses a second job.
    """
    try:
        with connection.transaction():
            app.configure_task(ADVANCE_TASK, lock=run_id, queueing_lock=run_id, connection=connection).defer(
                run_id=run_id
            )
        return True
    except pq_errors.AlreadyEnqueued:
        return False


@contextmanager
def enqueued_with_next_append(app: procrastinate.App) -> Iterator[None]:
    """The next append of this thread also enqueues its run's advance, in the same transaction."""

    def enqueue(connection: Any, run_id: str) -> None:
        defer_advance(app, connection, run_id)  # False (one already waits) is as good as True

    with also_in_next_append(enqueue):
        yield


# --- the worker ----------------------------------------------------------------------------------


class _LetGo(Exception):
    """Raised at a step's end while the worker shuts down: the run is handed back to the queue."""


@dataclass
class _Driver:
    """What the advance job needs in a worker process (Procrastinate's ``additional_context``)."""

    workbench: Workbench
    client: procrastinate.App
    stopping: threading.Event

    def advance(self, run_id: str) -> None:
        def at_step_end(recorded: ev.RecordedEvent) -> None:
            if self.stopping.is_set() and recorded.type in STEP_ENDS:
                raise _LetGo(run_id)

        def let_go_apart(_seq: int) -> bool:  # a step's end that would go with the next step's start
            return self.stopping.is_set()

        try:
            self.workbench.advance(run_id, on_event=at_step_end, commit_apart=let_go_apart)
        except _LetGo:
            self.requeue(run_id)
            log.info("worker stopping: run %s goes back to the queue after its step", run_id)
        except ConcurrencyError:
            log.info("run %s was advanced by someone else meanwhile; this delivery stops", run_id)
        except RunNotFound:
            log.warning("advance of unknown run %s ignored", run_id)
        except StoreError:
            raise  # the database is unreachable: the job fails, the sweep or a retry hands the run on
        except Exception as error:  # a failure must end in the log as RunFailed, not only in a worker's stderr
            log.exception("advance of run %s failed", run_id)
            self._record_failure(run_id, f"the run stopped on an internal error: {type(error).__name__}: {error}")

    def requeue(self, run_id: str) -> None:
        """Enqueue the run again (a resume): a worker that is not stopping continues it."""
        with psycopg.connect(conninfo(self.workbench.settings.database_url)) as conn:
            defer_advance(self.client, conn, run_id)

    def _record_failure(self, run_id: str, reason: str) -> None:
        try:
            state = self.workbench.run_state(run_id)
            if not state.is_terminal:
                self.workbench.store.append(run_id, [ev.RunFailed(reason=reason)], state.last_seq)
        except (RunNotFound, ConcurrencyError):
            pass


def _advance_job(context: Any, run_id: str) -> None:
    """Procrastinate task: drive ``run_id`` until it ends, waits for a person, or the worker stops."""
    driver: _Driver = context.additional_context["driver"]
    driver.advance(run_id)


async def sweep_stalled(app: procrastinate.App, stalled_after_s: float) -> int:
    """Put the jobs of workers silent for ``stalled_after_s`` back in the queue; how many were."""
    retried = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_s):
        try:
            await app.job_manager.retry_job(job)
            retried += 1
            log.warning("job %s (run %s) of a silent worker goes back to the queue", job.id, job.lock)
        except (pq_errors.ConnectorException, pq_errors.ProcrastinateException):
            pass  # another worker's sweep took it first
    await app.job_manager.prune_stalled_workers(stalled_after_s)
    return retried


async def _sweep_forever(app: procrastinate.App, settings: Settings) -> None:
    while True:
        try:
            await sweep_stalled(app, settings.worker_stalled_s)
        except Exception:  # a sweep that fails once (database restarting) tries again next time
            log.exception("stalled-job sweep failed")
        await asyncio.sleep(settings.worker_heartbeat_s)


def run_worker(workbench: Workbench, concurrency: int = 1) -> None:
    """Claim and advance runs until SIGTERM or SIGINT; a run in progress finishes its current step first."""
    settings = workbench.settings
    ensure_schema(settings.database_url)  # ConfigError in one line on SQLite, before anything else opens
    _warm_up(workbench)
    app = build_app(settings.database_url, worker=True)
    driver = _Driver(workbench, build_app(settings.database_url), threading.Event())
    asyncio.run(_serve(app, driver, settings, concurrency))


def _warm_up(workbench: Workbench) -> None:
    """Build the orchestrator and the configured planner once, so a worker's first run does not wait
    for SDK imports (about a second). A planner that cannot be built is the runs' problem to report."""
    from agent_core.providers.registry import make_planner

    try:
        _ = workbench.orchestrator
        make_planner(workbench.settings)
    except Exception as error:  # each run records why it cannot plan; the worker keeps serving
        log.warning("warm-up: %s", error)


async def _serve(app: procrastinate.App, driver: _Driver, settings: Settings, concurrency: int) -> None:
    async with app.open_async():
        work = asyncio.create_task(
            app.run_worker_async(
                queues=[QUEUE],
                concurrency=concurrency,
                install_signal_handlers=False,
                additional_context={"driver": driver},
                update_heartbeat_interval=settings.worker_heartbeat_s,
                stalled_worker_timeout=settings.worker_stalled_s,
                delete_jobs="successful",
                fetch_job_polling_interval=1.0,
            )
        )
        sweep = asyncio.create_task(_sweep_forever(app, settings))

        def stop() -> None:
            driver.stopping.set()
            sweep.cancel()  # its heartbeat stops now: its own sweep must not take its jobs for a dead worker's
            work.cancel()  # Procrastinate then waits for the jobs in progress (they let go at a step's end)

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        try:
            await work
        except asyncio.CancelledError:
            pass
        finally:
            sweep.cancel()


# --- operations ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueHealth:
    """What the sidebar shows of the queue: workers alive, jobs waiting and running, the oldest wait."""

    workers_alive: int
    workers_silent: int
    waiting: int
    running: int
    oldest_waiting_s: float | None
    stalled_after_s: float


def queue_health(settings: Settings) -> QueueHealth:
    """Read the queue's state (one query); ``StoreError`` when the database cannot be reached."""
    ensure_schema(settings.database_url)
    sql = """
        SELECT
          (SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat >= now() - make_interval(secs => %(s)s)),
          (SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat < now() - make_interval(secs => %(s)s)),
          (SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' AND queue_name = %(q)s),
          (SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing' AND queue_name = %(q)s),
          (SELECT min(e.at) FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id
            WHERE j.status = 'todo' AND j.queue_name = %(q)s AND e.type = 'deferred')
    """
    try:
        with psycopg.connect(conninfo(settings.database_url)) as conn:
            row = conn.execute(sql, {"s": settings.worker_stalled_s, "q": QUEUE}).fetchone()
    except psycopg.Error as error:
        raise StoreError(f"could not read the queue: {_first_line(error)}") from error
    assert row is not None  # an aggregate query always answers one row
    alive, silent, waiting, running, oldest = row
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else None
    return QueueHealth(int(alive), int(silent), int(waiting), int(running), age, settings.worker_stalled_s)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
