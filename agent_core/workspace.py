"""The sample workspace: short documents shipped with the project so a first offline run means something.

``seed_workspace`` copies ``sample_workspace/`` into the configured workspace folder once, when
that folder does not exist yet; it never touches a workspace a person already has.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from agent_core.jsontext import first_surrogate

SAMPLE_WORKSPACE = Path(__file__).resolve().parent.parent / "sample_workspace"


def seed_workspace(target: Path, source: Path = SAMPLE_WORKSPACE) -> bool:
    """Copy the sample documents into ``target`` if it does not exist; True when it copied.

    The copy is made beside ``target`` and renamed into place: two processes starting at once on a
    new folder (a worker and the CLI) leave one copy, and neither fails.
    """
    if target.exists() or not source.is_dir():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-seeding-", dir=target.parent))
    try:
        shutil.copytree(source, staging, dirs_exist_ok=True)
        staging.rename(target)
    except OSError:
        if not target.is_dir():
            raise
        return False  # another process seeded it first
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def list_workspace(root: Path, limit: int = 200) -> list[str]:
    """Relative paths of the files under ``root`` (sorted, hidden ones skipped): what the planner is shown.

    A name that is not valid UTF-8 (``caf\\xe9.txt`` from another system) is left out: no plan can
    name it (a plan is UTF-8 JSON), and it could not be stored in the request event either.
    """
    if not root.is_dir():
        return []
    names = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            name = rel.as_posix()
            if first_surrogate(name) is None:
                names.append(name)
    return sorted(names)[:limit]
