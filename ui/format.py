"""How values look on every page: short ids, relative times, human durations, outcome colours.

One table of colours so a status reads the same in a badge, a table cell and a chart.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from agent_core import events as ev

# One colour per outcome (shared/UX.md): completed/approved green, rejected/denied orange,
# failed red, waiting/held amber, running blue, interrupted/cancelled grey.
OUTCOME_COLOURS: dict[str, str] = {
    "ok": "#2e9d49",
    "rejected": "#f57c00",
    "failed": "#d32f2f",
    "waiting": "#f2b705",
    "running": "#1e88e5",
    "interrupted": "#9e9e9e",
    "info": "#7b8794",
    "unreadable": "#8e24aa",
}

# A decision is coloured by what it does to its step (events.Decides.effect).
_EFFECT_OUTCOME: dict[str, str] = {"run": "ok", "skip": "rejected", "wait": "waiting"}

STATUS_OUTCOME: dict[str, str] = {
    "completed": "ok",
    "succeeded": "ok",
    "failed": "failed",
    "waiting_approval": "waiting",
    "running": "running",
    "new": "running",
    "pending": "info",
    "cancelled": "interrupted",
    "interrupted": "interrupted",
    **{word: _EFFECT_OUTCOME[effect] for word, effect in ev.DECISION_EFFECTS.items()},
}

# st.badge only knows named colours; these are the closest to OUTCOME_COLOURS.
_BADGE_COLOURS = {
    "ok": "green",
    "rejected": "orange",
    "failed": "red",
    "waiting": "yellow",
    "running": "blue",
    "interrupted": "gray",
    "info": "gray",
    "unreadable": "violet",
}


def outcome_of(status: str) -> str:
    """The colour class of a run status, step outcome or decision."""
    return STATUS_OUTCOME.get(status, "info")


def colour(status: str) -> str:
    return OUTCOME_COLOURS[outcome_of(status)]


def badge_colour(status: str) -> str:
    return _BADGE_COLOURS[outcome_of(status)]


def status_label(status: str) -> str:
    """``● completed``: a status for table cells and select boxes (tables colour it, see ui.tables)."""
    return f"● {status.replace('_', ' ')}"


def short_id(value: str | None, length: int = 8) -> str:
    """The first characters of an id (hex run ids are unique long before 32 characters)."""
    if not value:
        return ""
    return value if len(value) <= length else value[:length]


def human_duration(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``3 min``, ``2 h 5 min``; empty for unknown."""
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min" if minutes >= 10 or rest == 0 else f"{minutes} min {rest} s"
    hours, rest = divmod(round(seconds) // 60, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """``12 s ago``, ``3 min ago``, ``2 d ago``; the exact time is ``exact_time``."""
    if moment is None:
        return ""
    now = now or datetime.now(UTC)
    delta = (now - moment).total_seconds()
    if delta < 0:
        return "just now" if delta > -5 else "in " + human_duration(-delta)
    if delta < 1:
        return "just now"
    if delta < 86400:
        return human_duration(delta) + " ago"
    days = int(delta // 86400)
    return f"{days} d ago"


def exact_time(moment: datetime | None) -> str:
    """``2026-01-01 12:00:03 UTC``: the hover text behind a relative time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def money(usd: float | None) -> str:
    return "" if usd is None else f"${usd:.4f}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown so a stored value can sit inside a caption or label as plain text."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)
