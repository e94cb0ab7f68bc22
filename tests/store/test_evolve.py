"""``evolve`` is ``dataclasses.replace`` for the fold's state classes: the same copies, the same refusals."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_core.evolve import evolve
from agent_core.projections import RunState, StepState

STEP = StepState(step_id="step_1", tool="read_file")
RUN = RunState(run_id="r1", steps=(STEP,), goal="Summarize notes.txt")
VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))


def changes_of(instance: Any) -> st.SearchStrategy[dict[str, Any]]:
    names = [f.name for f in dataclasses.fields(instance)]
    return st.dictionaries(st.sampled_from(names), VALUES, max_size=len(names))


@given(changes_of(RUN))
def test_a_run_state_evolves_as_dataclasses_replace_copies_it(changes: dict[str, Any]) -> None:
    assert evolve(RUN, **changes) == dataclasses.replace(RUN, **changes)


@given(changes_of(STEP))
def test_a_step_state_evolves_as_dataclasses_replace_copies_it(changes: dict[str, Any]) -> None:
    copy = evolve(STEP, **changes)
    assert copy == dataclasses.replace(STEP, **changes)
    assert type(copy) is StepState and copy is not STEP


def test_the_original_is_untouched_and_an_unknown_field_is_refused_like_replace() -> None:
    before = RUN.status
    changed = evolve(RUN, status="completed")
    assert changed.status == "completed" and RUN.status == before != "completed"
    assert changed.steps is RUN.steps  # a shallow copy, as replace makes
    with pytest.raises(TypeError, match="no field 'stauts'"):
        evolve(RUN, stauts="completed")
    with pytest.raises(TypeError):
        dataclasses.replace(RUN, stauts="completed")  # type: ignore[call-arg]


@dataclasses.dataclass(frozen=True)
class Checked:
    value: int
    doubled: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "doubled", self.value * 2)


def test_a_class_whose_init_does_more_than_copy_takes_dataclasses_replace() -> None:
    assert evolve(Checked(1), value=5).doubled == 10
