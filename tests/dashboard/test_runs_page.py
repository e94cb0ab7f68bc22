"""The Runs page on a seeded store, an empty store, with filters, paging and a chosen run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent_core import events as ev
from agent_core.projections import open_store
from tests.dashboard.conftest import OpenPage, no_exceptions, texts
from tests.dashboard.seed import PLANNER, POLICY_SHA
from ui.format import short_id


def table(at):  # type: ignore[no-untyped-def]
    return at.dataframe[0].value


def test_lists_every_run_newest_first_with_metrics(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("runs")
    no_exceptions(at)
    frame = table(at)
    assert list(frame["run"]) == [short_id(i) for i in reversed(ids.all())]
    assert set(frame["status"]) >= {"● completed", "● failed", "● waiting approval", "● cancelled", "● running"}
    assert frame.loc[frame["run"] == short_id(ids.replay), "replay of"].item() == short_id(ids.completed)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Runs in view"] == "7"
    assert metrics["Pending approvals"] == "1"
    assert metrics["Completion rate"] == "60%"  # 3 completed of 5 finished


def test_filters_by_status_text_and_lineage(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("runs")
    at.multiselect(key="runs_status").set_value(["failed", "cancelled"]).run()
    assert set(table(at)["run"]) == {short_id(ids.failed), short_id(ids.cancelled)}

    at.multiselect(key="runs_status").set_value([]).run()
    at.text_input(key="runs_text").input("agent frameworks").run()
    assert set(table(at)["run"]) == {short_id(ids.completed), short_id(ids.replay)}

    at.session_state["runs_lineage"] = "replays"
    at.run()
    assert list(table(at)["run"]) == [short_id(ids.replay)]
    no_exceptions(at)


def test_date_range_keeps_runs_started_in_it(seeded, open_page: OpenPage) -> None:
    at = open_page("runs")
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    at.date_input(key="runs_dates").set_value((tomorrow, tomorrow + timedelta(days=2))).run()
    no_exceptions(at)
    assert not at.dataframe
    assert "No run matches these filters" in texts(at)


def test_choosing_a_row_offers_its_timeline_and_a_replay(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("runs")
    at.session_state["runs_table"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    at.run()
    no_exceptions(at)
    links = [link.proto for link in at.main.get("page_link")]
    assert [(link.label, link.query_string) for link in links] == [
        ("Open timeline", f"run_id={ids.replay}"),
        ("Replay", f"run_id={ids.replay}"),
    ]


def test_a_chosen_failed_run_says_why(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("runs")
    row = list(table(at)["run"]).index(short_id(ids.failed))
    at.session_state["runs_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    no_exceptions(at)
    assert "Why it failed: step_3 write_file failed: disk full; free space in the workspace and resume" in texts(at)


def test_pages_through_many_runs(seeded, open_page: OpenPage) -> None:
    url, _ = seeded
    store = open_store(url)
    base = datetime.now(UTC) - timedelta(days=3)
    for i in range(60):
        started = ev.RunStarted(goal=f"bulk {i}", max_steps=1, budget_usd=0.1, planner=PLANNER, policy_sha=POLICY_SHA)
        store.append(f"bulk-{i:03d}", [started], 0, times=[base + timedelta(seconds=i)])
    store.close()
    at = open_page("runs")
    assert len(table(at)) == 50
    assert "Runs 1–50 of 67, newest first" in texts(at)
    at.session_state["runs_page"] = 2
    at.run()
    no_exceptions(at)
    assert len(table(at)) == 17
    assert table(at)["goal"].iloc[-1] == "bulk 0"


def test_an_empty_store_says_how_to_launch_a_first_run(empty_store, open_page: OpenPage) -> None:
    at = open_page("runs")
    no_exceptions(at)
    assert not at.dataframe
    assert 'python -m agent_core run "' in at.info[0].value


def test_filters_sort_and_page_come_from_the_address_bar_and_go_back_into_it(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("runs", status="failed,cancelled", sort="oldest")
    no_exceptions(at)
    assert list(table(at)["run"]) == [short_id(ids.failed), short_id(ids.cancelled)]  # oldest first
    assert at.multiselect(key="runs_status").value == ["failed", "cancelled"]
    assert at.selectbox(key="runs_sort").value == "oldest"

    at.text_input(key="runs_text").input("notes").run()
    assert at.query_params["q"] == "notes" and at.query_params["status"] == "failed,cancelled"
    at.selectbox(key="runs_sort").select("newest").run()
    assert "sort" not in at.query_params  # the default is left out of the address


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"status": "exploded"}, "Ignored status 'exploded': expected one of running"),
        ({"page": "0"}, "Ignored page='0'"),
        ({"page": "1e99"}, "Ignored page='1e99'"),
        ({"from": "2026-13-45"}, "Ignored from='2026-13-45': expected a day as YYYY-MM-DD"),
        ({"show": "<img src=x>"}, "Ignored show='<img src=x>'"),
        ({"q": "a\x00b"}, "Ignored q: the search text has control characters"),
        ({"sort": "cost; DROP TABLE runs"}, "Ignored sort='cost; DROP TABLE runs'"),
    ],
)
def test_hostile_address_bar_values_are_explained_and_the_default_view_shown(
    seeded, open_page: OpenPage, query: dict[str, str], message: str
) -> None:
    at = open_page("runs", **query)
    no_exceptions(at)
    assert message in texts(at)
    assert len(table(at)) == 7


def test_a_page_past_the_end_falls_back_to_the_first(seeded, open_page: OpenPage) -> None:
    at = open_page("runs", page="40")
    no_exceptions(at)
    assert len(table(at)) == 7
    assert "page" not in at.query_params


def test_two_selected_rows_offer_a_comparison_older_run_first(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("runs")
    rows = list(table(at)["run"])
    picked = [rows.index(short_id(ids.replay)), rows.index(short_id(ids.completed))]
    at.session_state["runs_table"] = {"selection": {"rows": picked, "columns": [], "cells": []}}
    at.run()
    no_exceptions(at)
    links = [(p.proto.label, p.proto.query_string) for p in at.main.get("page_link")]
    assert links == [("Compare", f"a={ids.completed}&b={ids.replay}")]
