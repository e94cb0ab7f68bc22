"""The dependency rule of DESIGN.md, checked on the source: pages -> ui -> agent_core, never back."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI_LIBRARIES = {"streamlit", "plotly"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def top(module: str) -> str:
    return module.split(".")[0]


def test_agent_core_never_imports_the_dashboard_or_its_libraries() -> None:
    for path in (ROOT / "agent_core").rglob("*.py"):
        tops = {top(m) for m in imported_modules(path)}
        assert not tops & (UI_LIBRARIES | {"ui", "pages", "app"}), f"{path.relative_to(ROOT)} imports {tops}"


def test_events_and_store_know_nothing_about_agents() -> None:
    agent_parts = {"orchestrator", "planning", "providers", "policy", "tools", "replay", "workbench", "runner"}
    for name in ("store.py", "events.py", "clock.py", "redaction.py"):
        modules = imported_modules(ROOT / "agent_core" / name)
        assert not {m.split(".")[-1] for m in modules if m.startswith("agent_core")} & agent_parts, name


def test_pages_use_agent_core_only_through_its_public_facade() -> None:
    forbidden = {"sqlalchemy", "anthropic", "openai", "psycopg", "sqlite3"}
    for path in (ROOT / "pages").glob("*.py"):
        modules = imported_modules(path)
        assert not {top(m) for m in modules} & forbidden, f"{path.name} imports {modules & forbidden}"
        deep = {m for m in modules if m.startswith("agent_core.") and m.split(".")[1] in {"store", "projections"}}
        assert not deep, f"{path.name} reaches into {deep}: go through agent_core.workbench"


def test_the_files_in_pages_are_exactly_the_pages_registered_for_navigation() -> None:
    registered = {
        node.value
        for name in ("app.py", "ui/nav.py")
        for node in ast.walk(ast.parse((ROOT / name).read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"pages/\w+\.py", node.value)
    }
    on_disk = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}
    assert registered == on_disk
