"""How a replay's outcome looks: the verdict banner, the step table original | replay with changed
cells highlighted, the coloured plan diff, per-step text diffs, and a verify result.

Every value that came from a run (step ids, inputs, outputs, reasons) is shown through
``st.text``, ``st.code``, ``st.json`` or dataframe cells; Markdown only carries our own words.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

import pandas as pd
import streamlit as st

from agent_core import RunDiff, StepDiff, StepState, VerifyResult
from ui.format import md_escape, money, plural

CHANGED_CSS = "background-color: rgba(242, 183, 5, 0.28); font-weight: 600"
COLUMNS = ["step", "original", "replay", "change"]
INPUT_CHARS = 48
VERDICT_OUTCOME = {"regression": "failed", "improvement": "ok", "unchanged": "info"}
VERDICT_BADGE = {"regression": "red", "improvement": "green", "unchanged": "gray"}
_MARKS = {"succeeded": "✓", "failed": "✗", "rejected": "✗", "denied": "✗", "held": "‖", "interrupted": "↯"}


def unified(before: str, after: str, before_name: str = "original", after_name: str = "replay") -> str:
    """A unified diff of two texts ('' when they are equal): what ``st.code(language="diff")`` colours."""
    return "\n".join(
        difflib.unified_diff(before.splitlines(), after.splitlines(), before_name, after_name, lineterm="")
    )


def _brief_input(step: StepState) -> str:
    value = step.input.get("path") or step.input.get("query")
    text = value if isinstance(value, str) else json.dumps(step.input, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= INPUT_CHARS else text[: INPUT_CHARS - 1] + "…"


def step_cell(step: StepState | None) -> str:
    """``✗ rejected (no_overwrite) · write_file report.md``: the outcome first, so a narrow cell still shows it;
    ``—`` for a step that run did not have."""
    if step is None:
        return "—"
    outcome = step.outcome
    mark = _MARKS.get(outcome, "·")
    why = f" ({step.rule})" if outcome in ("rejected", "held", "denied") and step.rule else ""
    return f"{mark} {outcome}{why} · {step.tool} {_brief_input(step)}"


def change_text(row: StepDiff) -> str:
    """What changed in an aligned step, in one line ("" when nothing did)."""
    parts = [
        "" if row.plan_change == "same" else f"plan {row.plan_change}",
        row.decision_change,
        row.approval_change,
        row.observation_change,
    ]
    return "; ".join(p for p in parts if p)


def diff_frame(diff: RunDiff) -> pd.DataFrame:
    """One row per aligned step, then outcome, steps ok, tokens and cost rows."""
    rows: list[dict[str, str]] = [
        {"step": r.key, "original": step_cell(r.original), "replay": step_cell(r.replay), "change": change_text(r)}
        for r in diff.rows
    ]
    (ok_a, ok_b), (tok_a, tok_b), (usd_a, usd_b) = diff.steps_ok, diff.tokens, diff.cost_usd
    status_a, status_b = diff.original_status, diff.replay_status
    rows += [
        {"step": "outcome", "original": status_a, "replay": status_b, "change": f"{status_a} -> {status_b}"},
        {"step": "steps ok", "original": str(ok_a), "replay": str(ok_b), "change": f"{ok_b - ok_a:+d}"},
        {"step": "tokens", "original": f"{tok_a:,}", "replay": f"{tok_b:,}", "change": f"{diff.token_delta:+,d}"},
        {"step": "cost", "original": money(usd_a), "replay": money(usd_b), "change": f"{diff.cost_delta_usd:+.4f}"},
    ]
    for row in rows[len(diff.rows) :]:
        if row["original"] == row["replay"]:
            row["change"] = ""
    return pd.DataFrame(rows, columns=COLUMNS)


def changed_rows(frame: pd.DataFrame) -> list[int]:
    """Positions of the rows where something changed (a non-empty ``change`` cell)."""
    return [i for i, change in enumerate(frame["change"]) if change]


def highlighted(frame: pd.DataFrame) -> Any:
    """The frame as a Styler: in every changed row the original, replay and change cells stand out."""
    changed = set(changed_rows(frame))

    def css(column: pd.Series) -> list[str]:
        marked = column.name in ("original", "replay", "change")
        return [CHANGED_CSS if marked and i in changed else "" for i in range(len(column))]

    return frame.style.apply(css)


def verdict_banner(diff: RunDiff, second: str = "replay") -> None:
    """The verdict and why, on top: red for a regression, green for an improvement, grey otherwise."""
    headline = f"**{diff.verdict.upper()}** · {plural(len(diff.reasons), 'reason')}"
    with st.container(border=True):
        if diff.verdict == "regression":
            st.error(headline, icon=":material/trending_down:")
        elif diff.verdict == "improvement":
            st.success(headline, icon=":material/trending_up:")
        else:
            st.info(headline, icon=":material/drag_handle:")
        st.text("\n".join(f"• {reason}" for reason in diff.reasons))
        if diff.failure_reasons[1]:
            st.caption(f"Why the {second} stopped")
            st.code(diff.failure_reasons[1], language=None, wrap_lines=True)


def steps_table(diff: RunDiff) -> None:
    frame = diff_frame(diff)
    st.dataframe(
        highlighted(frame),
        hide_index=True,
        key=f"diff_table_{diff.replay_id}",
        column_config={
            "step": st.column_config.TextColumn("step", width="small"),
            "original": st.column_config.TextColumn(f"original {diff.original_id[:8]}", width="large"),
            "replay": st.column_config.TextColumn(f"replay {diff.replay_id[:8]}", width="large"),
            "change": st.column_config.TextColumn("change", width="medium"),
        },
    )
    changed = changed_rows(frame)
    st.caption(f"{plural(len(changed), 'row')} changed (highlighted)." if changed else "No row changed.")


def plan_diff(diff: RunDiff) -> None:
    st.caption("Plan diff")
    if diff.plan_diff:
        st.code(diff.plan_diff, language="diff")
    else:
        st.text("The two plans are the same.")


def _result_text(step: StepState | None) -> str:
    if step is None or step.result is None:
        return ""
    return json.dumps(step.result, ensure_ascii=False, indent=2, sort_keys=True)


def step_details(diff: RunDiff, names: tuple[str, str] = ("original", "replay"), limit: int = 50) -> None:
    """One expander per changed step (the first ``limit``): both sides as JSON and a text diff of their outputs."""
    changed = [r for r in diff.rows if r.changed]
    if not changed:
        return
    st.caption("Changed steps" + (f" (the first {limit} of {len(changed)})" if len(changed) > limit else ""))
    for row in changed[:limit]:
        with st.expander(f"{md_escape(row.key)} · {md_escape(row.tool)} · {md_escape(change_text(row)[:120])}"):
            left, right = st.columns(2)
            for column, name, step in ((left, names[0], row.original), (right, names[1], row.replay)):
                with column:
                    st.caption(name)
                    if step is None:
                        st.text(f"(no such step in the {name})")
                    else:
                        st.json(_step_view(step), expanded=False)
            text_diff = row.output_diff or unified(_result_text(row.original), _result_text(row.replay), *names)
            if text_diff:
                st.code(text_diff, language="diff")


def _step_view(step: StepState) -> dict[str, Any]:
    return {
        "step_id": step.step_id,
        "tool": step.tool,
        "input": step.input,
        "objective": step.objective,
        "decision": step.decision,
        "rule": step.rule,
        "reason": step.reason,
        "outcome": step.outcome,
        "result": step.result,
    }


def run_diff(diff: RunDiff, *, banner: bool = True) -> None:
    """Everything about a replay against its original, in the order a reviewer reads it.

    ``banner=False`` when the page already put the verdict on top (with its own notes under it).
    """
    if banner:
        verdict_banner(diff)
    steps_table(diff)
    plan_diff(diff)
    step_details(diff)
    if diff.notes:
        st.caption("Notes")
        st.text("\n".join(f"• {note}" for note in diff.notes))


def _event_text(event: dict[str, Any] | None) -> str:
    return "" if event is None else json.dumps(event, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def verify_result(result: VerifyResult) -> None:
    """Identical, or where the re-execution diverged from the recording: both events and their diff."""
    with st.container(border=True):
        if result.status == "identical":
            st.success(
                f"**IDENTICAL** · the current code re-executed {plural(result.compared, 'event')} "
                "from the recording and wrote the same stream",
                icon=":material/verified:",
            )
        elif result.status == "diverged":
            st.error(f"**DIVERGED** at event {result.index}", icon=":material/call_split:")
            st.text(result.why)
        else:
            st.error("**ERROR** · the verify could not run", icon=":material/error:")
            st.text(result.why)
            st.caption("Fix what the message names (often the policy file), then run the verify again.")
    if result.status == "diverged":
        left, right = st.columns(2)
        with left:
            st.caption("recorded event")
            st.json(result.expected or {})
        with right:
            st.caption("re-executed event")
            st.json(result.got or {})
        text_diff = unified(_event_text(result.expected), _event_text(result.got), "recorded", "re-executed")
        if text_diff:
            st.code(text_diff, language="diff")
    if result.notes:
        st.caption("Notes")
        st.text("\n".join(f"• {note}" for note in result.notes))
