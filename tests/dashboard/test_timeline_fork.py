"""The Timeline's 'Fork from here' (with an input editor) and the lineage tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_core import Workbench, load_settings
from tests.dashboard.conftest import OpenPage, no_exceptions, texts
from ui.format import short_id


@pytest.fixture
def forkable(seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The seeded store with a workspace of its own: a fork runs live, never in the repository's folder."""
    monkeypatch.setenv("AGENT_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("AGENT_PLANNER", "offline")
    return seeded


def test_each_step_offers_fork_from_here_and_the_edited_input_reaches_the_fork(forkable, open_page: OpenPage) -> None:
    _, ids = forkable
    at = open_page("timeline", run_id=ids.completed, tab="Plan")
    no_exceptions(at)
    picker = at.selectbox(key=f"fork_{ids.completed}_step")
    assert picker.options == [
        "step_1 · web_search",
        "step_2 · summarize",
        "step_3 · write_file",
    ]
    picker.select("step_1").run()
    at.text_area(key=f"fork_{ids.completed}_step_1_input").set_value('{"query": "event sourcing", "max_results": 2}')
    at.button(key=f"fork_{ids.completed}_step_1_go").click().run()
    no_exceptions(at)
    assert "fork " in texts(at) and f"of {ids.completed} at step_1" in texts(at)

    bench = Workbench(load_settings())
    try:
        [fork] = [r for r in bench.list_runs(parent_id=ids.completed) if r.forked_from]
        step = bench.run_state(fork.run_id).step("step_1")
        assert step is not None and step.input == {"query": "event sourcing", "max_results": 2}
    finally:
        bench.close()

    tree = open_page("timeline", run_id=fork.run_id)
    no_exceptions(tree)
    shown = texts(tree)
    assert f"fork of {short_id(ids.completed)} at step_1 (edited input" in shown
    assert any(e.label.startswith("Lineage (") for e in tree.expander)
    assert f"{short_id(fork.run_id)} · fork at step_1 · " in shown and "this run" in shown


def test_a_bad_input_says_what_to_fix_and_forks_nothing(forkable, open_page: OpenPage) -> None:
    _, ids = forkable
    at = open_page("timeline", run_id=ids.completed, tab="Plan")
    at.selectbox(key=f"fork_{ids.completed}_step").select("step_2").run()
    at.text_area(key=f"fork_{ids.completed}_step_2_input").set_value("{not json")
    at.button(key=f"fork_{ids.completed}_step_2_go").click().run()
    assert any("The input is not JSON" in e.value for e in at.error)
