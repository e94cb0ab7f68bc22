"""The address bar as page state: parse and write the query parameters a copied link carries.

Every value from the URL is untrusted. Parsers never raise on bad input: a value that does not
fit is dropped with a one-line message saying what was ignored and why, and the page shows that
message beside its default view. Pure Python (no Streamlit), so hypothesis can hammer it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

RUN_STATUSES = ("running", "waiting_approval", "completed", "failed", "cancelled")
LINEAGES = ("all", "originals", "replays")
SORTS = ("newest", "oldest")
TEXT_MAX_CHARS = 200
MAX_PAGE = 10_000_000
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_SHOWN_CHARS = 40


def _shown(value: str) -> str:
    """A hostile value, quoted short and printable, for a message."""
    clipped = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"
    return repr("".join(c if c.isprintable() else "?" for c in clipped))


def _clean_text(value: str) -> str | None:
    """Searchable text: at most TEXT_MAX_CHARS, no control or format characters; None if it has some."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in value):
        return None
    return value.strip()[:TEXT_MAX_CHARS]


def run_id(value: str | None, name: str = "run_id") -> tuple[str, list[str]]:
    """A run id (or an id prefix) from the URL: ('', [why]) when it cannot be one."""
    if value is None or value == "":
        return "", []
    value = value.strip()
    if _RUN_ID.fullmatch(value):
        return value, []
    return "", [f"Ignored {name}={_shown(value)}: a run id is letters, digits and _ . : - (at most 100)."]


def positive_int(value: str | None, name: str, limit: int = MAX_PAGE) -> tuple[int | None, list[str]]:
    """A whole number from 1 to ``limit``, or (None, [why])."""
    if value is None or value == "":
        return None, []
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) <= len(str(limit)) and 1 <= int(text) <= limit:
        return int(text), []
    return None, [f"Ignored {name}={_shown(value)}: expected a whole number from 1 to {limit:,}."]


def _day(value: str | None, name: str) -> tuple[date | None, list[str]]:
    if value is None or value == "":
        return None, []
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value), []
    except ValueError:
        return None, [f"Ignored {name}={_shown(value)}: expected a day as YYYY-MM-DD."]


@dataclass(frozen=True, slots=True)
class RunsView:
    """What the Runs page shows: filters, sort and page. ``params()`` is its address; defaults are left out."""

    statuses: tuple[str, ...] = ()
    text: str = ""
    first_day: date | None = None
    last_day: date | None = None
    lineage: str = "all"
    sort: str = "newest"
    page: int = 1
    problems: tuple[str, ...] = field(default=(), compare=False)

    def params(self) -> dict[str, str]:
        """The query parameters for this view (only those that differ from the default)."""
        found = {
            "status": ",".join(self.statuses),
            "q": self.text,
            "from": self.first_day.isoformat() if self.first_day else "",
            "to": self.last_day.isoformat() if self.last_day else "",
            "show": "" if self.lineage == "all" else self.lineage,
            "sort": "" if self.sort == "newest" else self.sort,
            "page": "" if self.page == 1 else str(self.page),
        }
        return {k: v for k, v in found.items() if v}


def runs_view(params: Mapping[str, str]) -> RunsView:
    """The Runs view a URL asks for; what does not fit is dropped and explained in ``problems``."""
    problems: list[str] = []
    statuses: list[str] = []
    for word in (params.get("status") or "").split(","):
        word = word.strip()
        if word and word in RUN_STATUSES and word not in statuses:
            statuses.append(word)
        elif word and word not in RUN_STATUSES:
            problems.append(f"Ignored status {_shown(word)}: expected one of {', '.join(RUN_STATUSES)}.")
    text = _clean_text(params.get("q") or "")
    if text is None:
        problems.append("Ignored q: the search text has control characters.")
        text = ""
    first, why_first = _day(params.get("from"), "from")
    last, why_last = _day(params.get("to"), "to")
    problems += why_first + why_last
    if first and last and last < first:
        problems.append(f"Swapped from={first} and to={last}: the range ends before it starts.")
        first, last = last, first
    lineage = params.get("show") or "all"
    if lineage not in LINEAGES:
        problems.append(f"Ignored show={_shown(lineage)}: expected one of {', '.join(LINEAGES)}.")
        lineage = "all"
    sort = params.get("sort") or "newest"
    if sort not in SORTS:
        problems.append(f"Ignored sort={_shown(sort)}: expected one of {', '.join(SORTS)}.")
        sort = "newest"
    page, why_page = positive_int(params.get("page"), "page")
    problems += why_page
    return RunsView(tuple(statuses), text, first, last, lineage, sort, page or 1, tuple(problems))


@dataclass(frozen=True, slots=True)
class TimelineView:
    """A run and the event selected on its Timeline (``?run_id=&event=SEQ``)."""

    run_id: str = ""
    event: int | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)

    def params(self) -> dict[str, str]:
        """The query parameters for this view."""
        found = {"run_id": self.run_id, "event": str(self.event) if self.event else ""}
        return {k: v for k, v in found.items() if v}


def timeline_view(params: Mapping[str, str]) -> TimelineView:
    """The Timeline view a URL asks for."""
    run, why_run = run_id(params.get("run_id"))
    event, why_event = positive_int(params.get("event"), "event")
    return TimelineView(run, event, tuple(why_run + why_event))


@dataclass(frozen=True, slots=True)
class CompareView:
    """The two runs the Compare page sets side by side (``?a=&b=``), ``a`` as the baseline."""

    a: str = ""
    b: str = ""
    problems: tuple[str, ...] = field(default=(), compare=False)

    def params(self) -> dict[str, str]:
        """The query parameters for this view."""
        return {k: v for k, v in (("a", self.a), ("b", self.b)) if v}


def compare_view(params: Mapping[str, str]) -> CompareView:
    """The Compare view a URL asks for."""
    a, why_a = run_id(params.get("a"), "a")
    b, why_b = run_id(params.get("b"), "b")
    return CompareView(a, b, tuple(why_a + why_b))
