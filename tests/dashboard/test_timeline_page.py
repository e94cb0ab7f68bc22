"""The Timeline page for runs in every state, a live run, the picker, and its error states."""

from __future__ import annotations

import json

import pytest

from tests.dashboard.conftest import OpenPage, no_exceptions, texts
from tests.dashboard.seed import HOSTILE_GOAL, continue_running
from ui.format import short_id


def badge(at) -> str:  # type: ignore[no-untyped-def]
    return next(m.value for m in at.markdown if "-badge[" in m.value)


@pytest.mark.parametrize(
    ("run", "status"),
    [
        ("completed", "green-badge[completed]"),
        ("failed", "red-badge[failed]"),
        ("waiting", "yellow-badge[waiting approval]"),
        ("cancelled", "gray-badge[cancelled]"),
        ("replay", "green-badge[completed]"),
        ("broken", "green-badge[completed]"),
        ("running", "blue-badge[running]"),
    ],
)
def test_every_run_state_renders_header_chart_and_tabs(seeded, open_page: OpenPage, run: str, status: str) -> None:
    _, ids = seeded
    run_id = getattr(ids, run)
    at = open_page("timeline", run_id=run_id)
    no_exceptions(at)
    assert status in badge(at)
    assert run_id in [c.value for c in at.code]
    assert len(at.get("plotly_chart")) == 1
    assert [t.label for t in at.tabs] == ["Events", "Plan", "Observations", "Export"]
    assert list(at.dataframe[0].value.columns) == ["seq", "time", "at", "actor", "event", "summary"]
    assert at.dataframe[0].value["event"].iloc[0] == "RunStarted"


def test_untrusted_goal_is_shown_as_code_never_as_markdown(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("timeline", run_id=ids.failed)
    assert HOSTILE_GOAL in [c.value for c in at.code]
    assert not any("<script>" in m.value or "notes.txt" in m.value for m in at.markdown)


def test_failed_run_shows_its_reason_and_step_outcomes(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("timeline", run_id=ids.failed)
    assert "Run failed. Reason:" in texts(at)
    assert any("disk full; free space" in c.value for c in at.code)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Steps ok / rejected / failed"] == "1 / 1 / 1"
    plan = at.dataframe[1].value
    assert list(plan["outcome"]) == ["● succeeded", "● rejected", "● failed"]


def test_waiting_run_names_the_held_step_and_how_to_approve_it(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("timeline", run_id=ids.waiting)
    shown = texts(at)
    assert "step_3 write_file — rule confirm_overwrite: report.md exists and would be overwritten" in shown
    assert f"python -m agent_core approve {ids.waiting} step_3" in shown


def test_unreadable_events_are_listed_not_fatal(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("timeline", run_id=ids.broken)
    no_exceptions(at)
    assert "2 events could not be read" in texts(at)
    events = at.dataframe[0].value
    assert list(events.loc[events["event"].str.endswith("⚠"), "event"]) == ["MysteryHappened ⚠", "ToolApproved ⚠"]


def test_lineage_links_a_replay_and_its_original_both_ways(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    replay = open_page("timeline", run_id=ids.replay)
    assert f"whatif replay of {short_id(ids.completed)}" in texts(replay)
    links = [(p.proto.label, p.proto.query_string) for p in replay.get("page_link")]
    assert [link for link in links if link[0] != "Replay"] == [  # the run controls' Replay link aside
        ("Open the original", f"run_id={ids.completed}"),
        ("Open", f"run_id={ids.completed}"),  # the lineage tree
    ]
    original = open_page("timeline", run_id=ids.completed)
    assert next(e.label for e in original.expander) == "Lineage (2 runs: original, replays and forks)"
    assert [p.proto.query_string for p in original.get("page_link") if p.proto.label != "Replay"] == [
        f"run_id={ids.replay}"
    ]
    assert f"{short_id(ids.replay)} · whatif · " in texts(original)


def test_selecting_an_event_shows_its_payload(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("timeline", run_id=ids.completed)
    assert "Select an event to see its payload." in texts(at)
    at.session_state["timeline_events"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    no_exceptions(at)
    payload = json.loads(at.json[0].value)
    assert payload["goal"] == "Research agent frameworks and write a short report"
    assert payload["planner"]["provider"] == "offline"


def test_export_offers_the_run_as_json_lines(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("timeline", run_id=ids.completed)
    assert [b.label for b in at.get("download_button")] == ["Download the run as JSON lines"]


def test_a_live_run_shows_new_events_and_stops_polling_when_it_ends(seeded, open_page: OpenPage) -> None:
    url, ids = seeded
    at = open_page("timeline", run_id=ids.running)
    assert "Live: refreshing every 1 s" in texts(at)
    before = len(at.dataframe[0].value)

    continue_running(url, ids.running, finish_run=False)
    at.run()  # AppTest does not fire run_every timers: one run() is one tick
    assert len(at.dataframe[0].value) == before + 1
    assert "step_1 · web_search · succeeded · 0.9 s" in texts(at)

    continue_running(url, ids.running, finish_run=True)
    at.run()
    no_exceptions(at)
    assert "green-badge[completed]" in badge(at)
    assert "Live: refreshing" not in texts(at)


def test_without_a_run_id_it_offers_the_latest_runs(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("timeline")
    picker = at.selectbox[0]
    assert picker.options[0].startswith(short_id(ids.running))
    picker.set_value(ids.failed).run()
    no_exceptions(at)
    assert at.query_params["run_id"] == ids.failed
    assert HOSTILE_GOAL in [c.value for c in at.code]


def test_an_unknown_run_id_is_a_message_with_what_to_do(seeded, open_page: OpenPage) -> None:
    at = open_page("timeline", run_id="no-such-run")
    no_exceptions(at)
    shown = texts(at)
    assert "RunNotFound" in shown
    assert "no run 'no-such-run' in this store" in shown
    assert "Runs page" in shown
    assert not at.get("plotly_chart")


def test_an_empty_store_says_what_to_do(empty_store, open_page: OpenPage) -> None:
    at = open_page("timeline")
    no_exceptions(at)
    assert "No runs in this store yet" in at.info[0].value
