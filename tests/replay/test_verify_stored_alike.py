"""verify first compares the rows a re-execution stored with the recording's rows, without decoding either.

Rows found alike must mean equal normalised streams (the full comparison's answer), whatever changed
in them; a re-execution that wrote the recording again, durations and redaction count aside, must be
found alike (else the short cut is dead code).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_core.normalize import VOLATILE_PAYLOAD_FIELDS, normalize
from agent_core.projections import decode
from agent_core.redaction import REDACTIONS_FIELD
from agent_core.replay import load_recording
from agent_core.replay.recording import Recording
from agent_core.replay.verify import _reproducible, _stored_alike
from agent_core.store import StoredEvent
from agent_core.workbench import Workbench
from tests.replay.conftest import run_goal

Path = tuple[Any, ...]
leaf_values = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=6)


def leaf_paths(value: Any, path: Path = ()) -> list[Path]:
    """Every path to a value inside a payload (dict keys, list indexes), the containers' own paths included."""
    inner: list[Path] = []
    if isinstance(value, dict):
        for key, item in value.items():
            inner += leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            inner += leaf_paths(item, (*path, i))
    return [path, *inner] if path else inner


def set_at(payload: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


@st.composite
def rewritten(draw: st.DrawFn, recording: Recording, kept: list[int]) -> list[StoredEvent]:
    """The recording's kept rows as a re-execution might have stored them: some rows changed in one way each."""
    rows = [recording.rows[i] for i in kept]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(rows) - 1))
        row = rows[at]
        change = draw(st.sampled_from(["leaf", "volatile", "redactions", "version", "actor", "drop"]))
        if change == "leaf" and (paths := leaf_paths(row.payload)):
            row = dataclasses.replace(row, payload=set_at(row.payload, draw(st.sampled_from(paths)), draw(leaf_values)))
        elif change == "volatile":
            row = dataclasses.replace(
                row,
                payload={
                    **row.payload,
                    draw(st.sampled_from(sorted(VOLATILE_PAYLOAD_FIELDS))): draw(st.floats(0, 1e6)),
                },
            )
        elif change == "redactions":
            row = dataclasses.replace(row, payload={**row.payload, REDACTIONS_FIELD: draw(st.integers(1, 5))})
        elif change == "version":
            row = dataclasses.replace(row, version=row.version + draw(st.sampled_from([-1, 1])))
        elif change == "actor":
            row = dataclasses.replace(row, actor=draw(st.sampled_from(["orchestrator", "planner", "guard", "human"])))
        elif change == "drop":
            del rows[at]
            continue
        rows[at] = row
    return rows


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_rows_found_alike_normalise_to_equal_streams(bench: Workbench, data: st.DataObject) -> None:
    run_id = run_goal(bench) if not bench.list_runs() else bench.list_runs()[0].run_id
    recording = load_recording(bench.store, run_id)
    kept, _notes = _reproducible(recording)
    got = data.draw(rewritten(recording, kept))
    if _stored_alike(recording, kept, got):
        assert normalize(decode(row) for row in got) == normalize(recording.events[i] for i in kept)


def test_a_rewrite_that_differs_only_in_durations_and_the_redaction_count_is_found_alike(bench: Workbench) -> None:
    recording = load_recording(bench.store, run_goal(bench))
    kept, _notes = _reproducible(recording)
    rows = [recording.rows[i] for i in kept]
    timed = [i for i, row in enumerate(rows) if VOLATILE_PAYLOAD_FIELDS & set(row.payload)]
    assert timed, "the demo run records durations"
    for i in timed:
        rows[i] = dataclasses.replace(
            rows[i],
            payload={**rows[i].payload, REDACTIONS_FIELD: 2}
            | {key: 12345.0 for key in VOLATILE_PAYLOAD_FIELDS & set(rows[i].payload)},
        )
    assert _stored_alike(recording, kept, rows)
    changed = dataclasses.replace(rows[0], payload={**rows[0].payload, "goal": "another goal"})
    assert not _stored_alike(recording, kept, [changed, *rows[1:]])
    assert not _stored_alike(recording, kept, rows[:-1])
