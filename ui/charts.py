"""The run's step waterfall (rows from ``agent_core.step_waterfall``) as escaped HTML, and the overview's
bar charts as Vega-Lite specs; colours by outcome, the same as everywhere else (ui.format).

Bar specs are written here and drawn with ``st.vega_lite_chart`` rather than ``st.bar_chart``:
Streamlit's chart helpers build each chart with Altair, which validates it against Vega-Lite's JSON
schema, about 40 ms of script per chart here (the Runs page's four charts were 190 of its 280 ms).

Hover text is plain text either way: the waterfall's is a ``title`` attribute (escaped), Vega's
tooltips show values as text; summaries quoting untrusted text cannot inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import pandas as pd

from agent_core import Waterfall, WaterfallRow, WaterfallSpan
from agent_core import events as ev
from ui.format import OUTCOME_COLOURS, human_duration, outcome_of

LEGEND = {
    "ok": "ok / approved",
    "rejected": "rejected / denied",
    "failed": "failed",
    "waiting": "held for approval",
    "running": "running",
    "interrupted": "interrupted / cancelled",
    "info": "other",
    "unreadable": "unreadable event",
}
# A decision event is coloured like the decision it records; a few others have a colour of their own.
_EVENT_OUTCOME: dict[type[ev.DomainEvent], str] = {
    **{ev.EVENT_TYPES[name]: outcome_of(decides.word) for name, decides in ev.DECISIONS.items()},
    ev.PlanGenerated: "ok",
    ev.RunCompleted: "ok",
    ev.PlanRejected: "rejected",
    ev.RunFailed: "failed",
    ev.BudgetExceeded: "failed",
    ev.StepInterrupted: "interrupted",
    ev.RunCancelled: "interrupted",
}
MIN_SPAN_FRACTION = 0.004  # so an instant decision is still a visible tick


def event_outcome(recorded: ev.RecordedEvent) -> str:
    """The colour class of one event."""
    if recorded.problem:
        return "unreadable"
    if isinstance(recorded.event, ev.ObservationCaptured):
        return "ok" if recorded.event.success else "failed"
    return _EVENT_OUTCOME.get(type(recorded.event), "info")


KIND_LEGEND = {
    "llm": "planner (LLM)",
    "decision": "policy decision",
    "waiting": "waiting for a person",
    "tool": "tool",
    "answer": "final answer",
}
ROW_PX = 30  # one lane's height
LABEL_PX = 320  # the lane labels' column
LABEL_GREY = "#8b8f99"  # span labels and the axis: readable on the light and the dark theme alike (the viewer picks)
# How each kind of span looks (wf-<kind>): decisions thin and pale, a person's wait pale with a dashed
# outline (in the span's colour), tools solid. Lane text inherits the theme's colour.
_STYLE = f"""<style>
.wf {{font-size:12px}}
.wf-row {{display:flex;height:{ROW_PX}px;border-bottom:1px solid rgba(139,143,153,.25)}}
.wf-lane {{width:{LABEL_PX}px;flex:none;line-height:{ROW_PX}px;overflow:hidden;white-space:nowrap;
  text-overflow:ellipsis;padding-right:8px}}
.wf-track {{position:relative;flex:1;overflow:hidden}}
.wf-span {{position:absolute;min-width:2px;top:5px;bottom:5px;border-radius:2px;opacity:.9}}
.wf-decision {{opacity:.45}}
.wf-waiting {{opacity:.3;outline:1.5px dashed;outline-offset:-1.5px}}
.wf-label {{position:absolute;top:0;line-height:{ROW_PX}px;font-size:11px;white-space:nowrap;color:{LABEL_GREY};
  pointer-events:none;padding-left:4px}}
.wf-now {{position:absolute;top:0;bottom:0;border-left:1px dashed {OUTCOME_COLOURS["running"]}}}
.wf-axis {{display:flex;height:18px;font-size:11px;color:{LABEL_GREY}}}
.wf-axis > div {{position:relative;flex:1}}
.wf-tick {{position:absolute;transform:translateX(-50%)}}
.wf-note {{padding-left:{LABEL_PX}px;font-size:11px;color:{LABEL_GREY}}}
.wf-key {{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 12px;vertical-align:-1px}}
</style>"""


def _ticks(total: float, wanted: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) from 0 up to ``total``."""
    raw = total / wanted
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(int(total / step + 1e-9) + 1)]


class _Scale:
    """Seconds to a percentage of the time track; room is left right of the run's end for span labels."""

    def __init__(self, total: float) -> None:
        self.low, self.high = -0.01 * total, 1.25 * total

    def at(self, seconds: float) -> float:
        return round(100 * (seconds - self.low) / (self.high - self.low), 3)


def _span_html(row: WaterfallRow, span: WaterfallSpan, scale: _Scale, total: float) -> str:
    """One bar, and its label right of it. Hovering shows the span, its kind, duration and detail (the
    ``title``: plain text); a screen reader reads the same (``aria-label``)."""
    colour = OUTCOME_COLOURS[outcome_of(span.outcome)]
    left = scale.at(span.start_s)
    width = max(scale.at(span.start_s + max(span.duration_s, total * MIN_SPAN_FRACTION)) - left, 0.2)
    what, kind = f"{row.key} · {span.label}", KIND_LEGEND[span.kind]
    took = human_duration(span.duration_s) + (f" so far, waiting on {span.waits_on}" if span.open else "")
    detail = " · ".join(line[:200] for line in span.detail.splitlines())
    hover = [f"span: {what}", f"kind: {kind}", f"duration: {took}"] + ([f"detail: {detail}"] if detail else [])
    bar = (
        f'<div class="wf-span wf-{span.kind}" role="img" title="{escape(chr(10).join(hover))}"'
        f' aria-label="{escape(f"{what}, {kind}, {took}. {detail}")}"'
        f' style="left:{left}%;width:{width}%;background:{colour};color:{colour}"></div>'
    )
    if span.kind == "decision":
        return bar
    text = span.label if not span.open else f"{span.label} · waiting on {span.waits_on}"
    return bar + f'<span class="wf-label" style="left:{left + width}%">{escape(text)}</span>'


def _legend(rows: Sequence[WaterfallRow]) -> str:
    """What the colours (and the dashed outline) on these rows mean."""
    spans = [span for row in rows for span in row.spans]
    shown = {outcome_of(span.outcome) for span in spans}
    keys = [
        f'<span class="wf-key" style="background:{OUTCOME_COLOURS[outcome]}"></span>{escape(label)}'
        for outcome, label in LEGEND.items()
        if outcome in shown
    ]
    if any(span.kind == "waiting" for span in spans):
        keys.append(f'<span class="wf-key wf-waiting"></span>{escape(KIND_LEGEND["waiting"])}')
    return f'<div class="wf-note" style="padding-top:6px">{"".join(keys)}</div>'


def waterfall_html(chart: Waterfall, rows: Sequence[WaterfallRow], now_label: str = "") -> str:
    """The step waterfall as HTML for ``st.html``: one lane per given row (top to bottom in order), spans
    coloured by outcome on a shared time axis, and a legend. Every text in it is escaped.

    Instant spans get a minimum width so a decision is still a visible tick; open spans end at the
    waterfall's ``end_s`` (now, on a live run), are labelled with what they wait on, and a dashed
    rule marks now. Plain HTML rather than a chart library: Vega-Lite's runtime took ~0.15 s of a new
    tab's main thread on every Timeline (plotly's before it ~0.6 s); these lanes take ~0.01 s
    (bench/README).
    """
    total = max(chart.end_s, 1e-3)
    scale = _Scale(total)
    now = f'<div class="wf-now" style="left:{scale.at(chart.end_s)}%"></div>' if chart.live else ""
    lanes = "".join(
        f'<div class="wf-row"><div class="wf-lane" title="{escape(r.label)}">{escape(r.label)}</div>'
        f'<div class="wf-track">{now}{"".join(_span_html(r, span, scale, total) for span in r.spans)}</div></div>'
        for r in rows
    )
    ticks = "".join(f'<span class="wf-tick" style="left:{scale.at(t)}%">{t:g} s</span>' for t in _ticks(total))
    if chart.live and now_label:
        ticks += f'<span class="wf-tick wf-now-label" style="left:{scale.at(chart.end_s)}%">{escape(now_label)}</span>'
    axis = f'<div class="wf-axis"><span style="width:{LABEL_PX}px;flex:none"></span><div>{ticks}</div></div>'
    spoken = escape(f"Step waterfall: {len(rows)} rows over {human_duration(chart.end_s)}")
    return (
        f'{_STYLE}<div class="wf" role="figure" aria-label="{spoken}">{lanes}{axis}'
        f'<div class="wf-note">seconds since the run started</div>{_legend(rows)}</div>'
    )


def bars_spec(
    frame: pd.DataFrame,
    colours: Sequence[str],
    *,
    value_title: str,
    stack: bool = True,
    horizontal: bool = False,
    height: int = 240,
) -> dict[str, Any]:
    """Bars from a wide frame: one bar group per index label (in the frame's order), one series per column
    (stacked, or side by side when ``stack`` is false) in ``colours``; hover shows the label, series and value."""
    category = str(frame.index.name or "category")
    labels = [str(label) for label in frame.index]
    series = [str(column) for column in frame.columns]
    records = [
        {category: label, "series": name, "value": float(value)}
        for label, row in zip(labels, frame.itertuples(index=False), strict=True)
        for name, value in zip(series, row, strict=True)
        if pd.notna(value)
    ]
    where = {"field": category, "type": "nominal", "sort": labels, "axis": {"title": None, "labelLimit": 240}}
    amount = {"field": "value", "type": "quantitative", "title": value_title, "stack": "zero" if stack else None}
    across, along = ("y", "x") if horizontal else ("x", "y")
    encoding: dict[str, Any] = {
        across: where,
        along: amount,
        "color": {
            "field": "series",
            "type": "nominal",
            "sort": series,
            "scale": {"domain": series, "range": list(colours)},
            "legend": {"title": None, "orient": "bottom"},
        },
        "tooltip": [
            {"field": category, "type": "nominal"},
            {"field": "series", "type": "nominal", "title": " "},
            {"field": "value", "type": "quantitative", "title": value_title, "format": ",.4~f"},
        ],
    }
    if not stack:
        encoding[f"{across}Offset"] = {"field": "series", "sort": series}
    return {"data": {"values": records}, "mark": {"type": "bar"}, "height": height, "encoding": encoding}
