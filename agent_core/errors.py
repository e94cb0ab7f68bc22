"""One exception root for everything agent_core raises on purpose.

SDK and driver errors are translated once, at the edge, with ``raise X(...) from e``; messages
quote names with ``!r`` and say how to fix the problem, because the dashboard and the CLI show
them to people as they are.
"""

from __future__ import annotations


class AgentError(Exception):
    """Root of every error agent_core raises deliberately."""


class ConfigError(AgentError):
    """A setting is missing, malformed, or points at something that cannot be opened."""


class StoreError(AgentError):
    """The event store could not be opened, read or written."""


class ConcurrencyError(StoreError):
    """Another writer appended to the run first (optimistic lock lost)."""

    def __init__(self, run_id: str, expected_seq: int, actual_seq: int | None = None) -> None:
        self.run_id = run_id
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq
        found = f"it is at seq {actual_seq}" if actual_seq is not None else "another writer got there first"
        super().__init__(
            f"run {run_id!r} changed under us: expected it at seq {expected_seq}, but {found}; "
            "read the run again and retry"
        )


class PayloadRejected(StoreError):
    """The store refused to write an event: nothing of the append was written.

    ``run_id`` and ``event_type`` name the event; the message says what is wrong with it.
    """

    def __init__(self, run_id: str, event_type: str, message: str) -> None:
        self.run_id = run_id
        self.event_type = event_type
        super().__init__(message)


class PayloadTooLarge(PayloadRejected):
    """An event's JSON payload is larger than the store's cap (``store.MAX_PAYLOAD_BYTES``)."""

    def __init__(self, run_id: str, event_type: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            run_id,
            event_type,
            f"{event_type} of run {run_id!r} is {size:,} bytes of JSON, more than the store's cap of {limit:,} "
            "bytes per event; nothing was written (the caps are listed in the README, 'Limits')",
        )


class InvalidPayload(PayloadRejected):
    """An event holds a value no engine can store and hash alike (see ``jsontext.storable_problem``)."""

    def __init__(self, run_id: str, event_type: str, problem: str) -> None:
        self.problem = problem
        super().__init__(run_id, event_type, f"{event_type} of run {run_id!r} cannot be stored: {problem}")


class RunNotFound(AgentError):
    """No run with this id exists in the store."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run {run_id!r} in this store; list runs with 'python -m agent_core runs'")


class ProviderError(AgentError):
    """An LLM provider could not answer (auth, rate limit, server error, timeout, network)."""


class PolicyError(AgentError):
    """A policy file is malformed or a rule could not be evaluated."""


class ToolError(AgentError):
    """A tool's input was invalid or the tool could not run."""


class RunStateError(AgentError):
    """The requested transition is not allowed in the run's current state."""


class RunnerBusy(AgentError):
    """The background runner is full: every worker is driving a run and its queue is at its bound."""

    def __init__(self, running: int, queued: int) -> None:
        self.running = running
        self.queued = queued
        super().__init__(
            f"the background runner is full: {running} run(s) in progress and {queued} waiting in its queue; "
            "nothing was started. Try again when a run finishes, or raise AGENT_MAX_ACTIVE_RUNS / "
            "AGENT_MAX_QUEUED_RUNS and restart the dashboard"
        )


class ReadOnlyRun(RunStateError):
    """The run was imported: history, not authority. It can be read, verified and replayed, never changed."""

    def __init__(self, run_id: str, action: str = "changed") -> None:
        self.run_id = run_id
        super().__init__(
            f"run {run_id!r} was imported, so it is history, not authority: it can be read, verified and replayed, "
            f"never {action}; to run it again under local policy, replay it: "
            f"python -m agent_core replay {run_id} --mode whatif"
        )
