"""replay --all at CI speed: the in-memory scratch store, a shared scratch space and ``--workers`` change
nothing a verify answers. A divergent run is caught (early or only late), an error stays an error,
and the lines, counts, results, JSON and exit code are the same serial or parallel, on SQLite and
PostgreSQL."""

from __future__ import annotations

import io
import itertools
import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_core import events as ev
from agent_core.cli import main
from agent_core.errors import AgentError, ConcurrencyError, ReadOnlyRun
from agent_core.projections import open_store
from agent_core.replay import replay_all, scratch_space, verify
from agent_core.replay.memory import MemoryStore
from agent_core.store import IMPORTED, EventStore, StoredEvent
from agent_core.workbench import Workbench
from tests.replay.conftest import DEFAULT_POLICY, READ_GOAL, run_goal

# --- the memory store records what the durable store records --------------------------------------


class Raw:
    """A ``NewEvent`` with any payload: what the store is handed when a provider or a tool sent it."""

    def __init__(self, payload: dict[str, Any], event_type: str = "ToolExecuted", actor: str = "agent") -> None:
        self.type, self.schema_version, self.actor, self._payload = event_type, 1, actor, payload

    def to_payload(self) -> dict[str, Any]:
        return self._payload


def _json() -> st.SearchStrategy[Any]:
    token = st.sampled_from(["sk-ant-" + "a1B2" * 10, "ghp_" + "x9Y8" * 9, "AKIA" + "Q" * 16])
    text = st.one_of(st.text(max_size=40), token, st.builds(lambda a, b: f"{a} {b}", st.text(max_size=10), token))
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), text)
    return st.recursive(
        leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=12
    )


def _kept(store: EventStore, run_id: str, payload: dict[str, Any]) -> tuple[str, Any]:
    try:
        store.append(run_id, [Raw(payload)], 0)
    except AgentError as error:
        return "refused", type(error).__name__
    [row] = store.read_run(run_id)
    return "kept", (row.type, row.version, row.actor, row.payload, row.problem)


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[EventStore]:
    store = open_store(f"sqlite:///{tmp_path / 'durable.db'}", sqlite_synchronous="OFF")
    yield store
    store.close()


RUN_NUMBERS = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.dictionaries(st.text(max_size=12), _json(), max_size=5))
def test_the_memory_store_keeps_or_refuses_a_payload_exactly_as_the_durable_store(
    durable: EventStore, payload: dict[str, Any]
) -> None:
    run_id = f"run-{next(RUN_NUMBERS)}"
    assert _kept(MemoryStore(), run_id, payload) == _kept(durable, run_id, payload)


def test_the_memory_store_keeps_the_optimistic_lock_and_refuses_to_extend_an_imported_run() -> None:
    memory = MemoryStore()
    assert memory.append("r", [Raw({"a": 1}), Raw({"b": 2})], 0) == 2
    with pytest.raises(ConcurrencyError):
        memory.append("r", [Raw({"c": 3})], 1)
    assert [e.seq for e in memory.read_run("r")] == [1, 2] and memory.read_run("r", after_seq=1)[0].payload == {"b": 2}
    memory.append("imported", [Raw({"a": 1})], 0, times=[datetime(2026, 1, 1, tzinfo=UTC)], origin=IMPORTED)
    with pytest.raises(ReadOnlyRun):
        memory.append("imported", [Raw({"b": 2})], 1)
    row = memory.get_run("imported")
    assert row is not None and row.imported and row.last_seq == 1 and row.chain == "sha256"
    memory.append("keyed", [Raw({"a": 1})], 0, origin=IMPORTED, chain="hmac-sha256")
    keyed = memory.get_run("keyed")
    assert keyed is not None and keyed.chain == "hmac-sha256" and not memory.get_run("r").imported  # type: ignore[union-attr]
    memory.forget("r")
    assert memory.read_run("r") == [] and memory.get_run("r") is None


# --- a mixed batch: identical runs, an early and a late divergence, an error ---------------------


def _copy(bench: Workbench, run_id: str, new_id: str, change: Any) -> None:
    """Append a copy of ``run_id`` as ``new_id`` with ``change(index, event)`` applied to each event."""
    events = [change(i, e.event) for i, e in enumerate(bench.run_events(run_id))]
    bench.store.append(new_id, events, 0)


def _mixed_batch(bench: Workbench, tmp_path: Path) -> dict[str, str]:
    """Three runs that verify identical and three that must not; returns the tampered ids by kind."""
    first = run_goal(bench, READ_GOAL)
    for _ in range(2):
        run_goal(bench, READ_GOAL)
    events = bench.run_events(first)
    decision = next(i for i, e in enumerate(events) if e.type in ev.GUARD_DECISIONS)
    finalized = next(i for i, e in enumerate(events) if isinstance(e.event, ev.ResponseFinalized))
    assert finalized >= len(events) - 2  # the last event but one: a divergence only at the very end

    def early(i: int, e: ev.DomainEvent) -> ev.DomainEvent:
        return e.model_copy(update={"reason": "a reason this policy never gives"}) if i == decision else e

    def late(i: int, e: ev.DomainEvent) -> ev.DomainEvent:
        return e.model_copy(update={"summary": "a summary the code does not write"}) if i == finalized else e

    def lost_policy(i: int, e: ev.DomainEvent) -> ev.DomainEvent:
        return e.model_copy(update={"policy_path": str(tmp_path / "gone.yaml")}) if i == 0 else e

    ids = {"early": "tampered-early", "late": "tampered-late", "error": "tampered-policy"}
    _copy(bench, first, ids["early"], early)
    _copy(bench, first, ids["late"], late)
    _copy(bench, first, ids["error"], lost_policy)
    return ids | {"early_index": str(decision), "late_index": str(finalized)}


def test_a_mixed_batch_gets_the_same_verdicts_serial_parallel_and_one_by_one(bench: Workbench, tmp_path: Path) -> None:
    tampered = _mixed_batch(bench, tmp_path)

    serial = replay_all(bench.store, bench.settings, workers=1)
    parallel = replay_all(bench.store, bench.settings, workers=2)

    assert dict(serial.counts) == {"identical": 3, "diverged": 2, "error": 1}
    assert (parallel.lines, dict(parallel.counts), parallel.results) == (
        serial.lines,
        dict(serial.counts),
        serial.results,
    )
    assert serial.failed and parallel.failed
    alone = [verify(bench.store, bench.settings, r.run_id) for r in serial.results]  # no shared scratch space
    assert alone == list(serial.results)

    by_id = {r.run_id: r for r in serial.results}
    early, late, error = by_id[tampered["early"]], by_id[tampered["late"]], by_id[tampered["error"]]
    assert (early.status, early.index) == ("diverged", int(tampered["early_index"]))
    assert "reason" in early.why and early.expected is not None
    assert early.expected["payload"]["reason"] == "a reason this policy never gives"
    assert (late.status, late.index) == ("diverged", int(tampered["late_index"]))
    assert "ResponseFinalized differs in summary" in late.why
    assert error.status == "error" and "cannot load the run's policy" in error.why


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_the_cli_prints_the_same_json_and_exits_the_same_with_workers(
    bench: Workbench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mixed_batch(bench, tmp_path)
    monkeypatch.setenv("AGENT_WORKSPACE", str(bench.settings.agent_workspace))
    monkeypatch.setenv("AGENT_POLICY", str(DEFAULT_POLICY))
    db = bench.settings.database_url

    serial = _cli("replay", "--all", "--db", db, "--json")
    parallel = _cli("replay", "--all", "--db", db, "--json", "--workers", "3")

    assert parallel == serial
    assert serial[0] == 1 and json.loads(serial[1])["counts"] == {"identical": 3, "diverged": 2, "error": 1}
    lines = _cli("replay", "--all", "--db", db, "--workers", "2")
    assert lines[0] == 1 and lines[1] == _cli("replay", "--all", "--db", db)[1]


@pytest.mark.parametrize(
    "argv",
    [["--all", "--workers", "0"], ["RUN", "--workers", "2"], ["--all", "--mode", "whatif", "--workers", "2"]],
)
def test_workers_outside_verify_all_is_a_usage_error(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setenv("AGENT_WORKSPACE", str(bench.settings.agent_workspace))
    code, out, err = _cli("replay", *argv, "--db", bench.settings.database_url)
    assert code == 2 and out == "" and "--workers" in err and "Traceback" not in err


def test_a_verify_leaves_nothing_in_the_scratch_store(bench: Workbench) -> None:
    run_id = run_goal(bench, READ_GOAL)
    with scratch_space() as scratch:
        for _ in range(3):
            assert verify(bench.store, bench.settings, run_id, scratch=scratch).identical
        assert scratch.store.last_position() > 0 and scratch.store.run_ids_starting_with("") == []
        assert len(scratch.orchestrators) == 1  # built once, served three times
        writer = run_goal(bench)  # the demo goal writes a file: its shadow is its own, so is its orchestrator
        for _ in range(2):
            assert verify(bench.store, bench.settings, writer, scratch=scratch).identical
        assert len(scratch.orchestrators) == 1 and len(scratch.shadows) == 1


def test_stored_event_payloads_are_decoded_copies_not_the_redacted_dict() -> None:
    memory = MemoryStore()
    payload = {"items": (1, 2), "nested": {"k": "v"}}
    memory.append("r", [Raw(payload)], 0)
    [row] = memory.read_run("r")
    assert isinstance(row, StoredEvent) and row.payload == {"items": [1, 2], "nested": {"k": "v"}}
    assert row.payload["nested"] is not payload["nested"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_batch_leaves_no_scratch_folder_behind(
    bench: Workbench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    for goal in (READ_GOAL, READ_GOAL, "Summarize event-sourcing.md"):
        run_goal(bench, goal)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # forked workers inherit it

    report = replay_all(bench.store, bench.settings, workers=workers)

    assert dict(report.counts) == {"identical": 3}
    assert list(temp.iterdir()) == []  # the shadow workspaces are removed (by each worker when it exits)


def test_the_memory_stores_fold_handed_back_is_the_fold_of_the_stored_run(bench: Workbench) -> None:
    """After the perf-run merge the orchestrator takes the indexer's fold instead of reading the run back."""
    from agent_core.projections import fold, load_events

    recorded = [e.event for e in bench.run_events(run_goal(bench, READ_GOAL))]
    memory = MemoryStore()
    state = None
    for seq, event in enumerate(recorded):
        appended = memory.append_indexed("r", [event], seq, state=state if seq % 3 else None)  # now and then none
        state = appended.index.state
        assert appended.last_seq == seq + 1 and state == fold(load_events(memory, "r"))
