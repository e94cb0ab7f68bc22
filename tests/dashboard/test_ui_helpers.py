"""ui helpers without Streamlit: formatting, event summaries, the waterfall and the chart's hover text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from agent_core import RunOverview, step_waterfall
from agent_core import events as ev
from agent_core.overview import DayFigures
from agent_core.projections import load_events, open_store
from tests.dashboard.seed import seed
from tests.dashboard.waterfall_html import parse_waterfall
from tests.store.catalogue import example
from ui import charts, overview, tables
from ui.format import OUTCOME_COLOURS, human_duration, md_escape, outcome_of, relative_time, short_id, status_label


def test_formats_read_like_the_ux_sketch() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert [human_duration(s) for s in (0.04, 1.44, 12.2, 180, 200, 7500)] == [
        "0.0 s",
        "1.4 s",
        "12 s",
        "3 min",
        "3 min 20 s",
        "2 h 5 min",
    ]
    assert relative_time(now - timedelta(seconds=12), now) == "12 s ago"
    assert relative_time(now - timedelta(days=3), now) == "3 d ago"
    assert short_id("3f2a91c0deadbeef") == "3f2a91c0"
    assert status_label("waiting_approval") == "● waiting approval"
    assert md_escape("**a** [b](c)") == r"\*\*a\*\* \[b\]\(c\)"


def test_events_are_summarized_and_spans_pair_intent_with_outcome(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    ids = seed(url)
    store = open_store(url)
    failed, cancelled, running = (load_events(store, i) for i in (ids.failed, ids.cancelled, ids.running))
    store.close()

    summaries = [tables.summarize(e) for e in failed]
    assert "step_2 summarize — rule no_untrusted_input: input from <b>the web</b>" in summaries
    chart = step_waterfall(failed)
    assert [(r.key, r.outcome) for r in chart.rows] == [
        ("planning", "succeeded"),
        ("step_1", "succeeded"),
        ("step_2", "rejected"),
        ("step_3", "failed"),
        ("answer", "failed"),
    ]
    assert step_waterfall(cancelled).rows[1].outcome == "interrupted"
    assert step_waterfall(running, now=running[-1].at + timedelta(seconds=3)).waiting_on == "a tool"

    drawn = parse_waterfall(charts.waterfall_html(chart, chart.rows))
    assert drawn.lanes == [r.label for r in chart.rows]  # in order, each lane labelled
    # Hover text is a title attribute: the reason is kept as written, as text, never as markup.
    assert any("detail: rule no_untrusted_input: input from <b>the web</b>" in t for t in drawn.titles)
    assert "b" not in drawn.tags
    assert {"step_2 · summarize · rejected", "answer · failed"} <= set(drawn.lanes)
    assert all(w > 0 for w in drawn.widths)  # an instant decision is still a visible tick


def test_decisions_are_coloured_from_the_one_decision_vocabulary() -> None:
    words = {word: outcome_of(word) for word in ev.DECISION_OUTCOMES}
    assert words == {"approved": "ok", "rejected": "rejected", "held": "waiting", "granted": "ok", "denied": "rejected"}
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for name, decides in ev.DECISIONS.items():
        event = example(ev.EVENT_TYPES[name])
        recorded = ev.RecordedEvent(1, "r" * 32, 1, name, event.schema_version, event.actor, at, "", event)
        assert charts.event_outcome(recorded) == outcome_of(decides.word), name


def test_overview_tables_keep_days_in_order_and_colour_columns_by_outcome() -> None:
    days = (
        DayFigures(day=date(2026, 12, 31), by_status={"failed": 1, "completed": 2}, cost_usd=0.5, p50_s=2.0, p95_s=9.0),
        DayFigures(day=date(2027, 1, 1), by_status={"running": 1}, cost_usd=0.0, p50_s=None, p95_s=None),
    )
    figures = RunOverview(
        since=datetime(2026, 12, 2, tzinfo=UTC),
        days=days,
        p50_s=2.0,
        p95_s=9.0,
        decisions_by_rule={("allowed", "approved"): 3, ("no_overwrite", "held"): 5, ("no_overwrite", "approved"): 1},
    )
    runs, colours = overview.runs_per_day(figures)
    assert list(runs.index) == ["Dec 31", "Jan 01"]  # the days' order, which the charts keep
    assert list(runs.columns) == [status_label(s) for s in ("completed", "failed", "running")]  # STATUS_ORDER
    assert runs.loc["Dec 31"].tolist() == [2, 1, 0]
    assert runs.loc["Jan 01"].tolist() == [0, 0, 1]
    assert colours == [OUTCOME_COLOURS["ok"], OUTCOME_COLOURS["failed"], OUTCOME_COLOURS["running"]]
    assert list(overview.duration_per_day(figures).index) == ["Dec 31"]  # only days with ended runs
    rules, colours = overview.decisions_by_rule(figures.decisions_by_rule)
    assert list(rules.index) == ["no_overwrite", "allowed"]  # most decisions first
    assert rules.loc["no_overwrite"].to_dict() == {"approved": 1, "held": 5}
    assert colours == [OUTCOME_COLOURS["ok"], OUTCOME_COLOURS["waiting"]]
