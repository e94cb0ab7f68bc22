"""The workspace walk that listing and search share: what a file tool could open, in a fixed order, lazily.

Skips links, hidden and secret-looking names (``sandbox.check_name``'s rules, checked once per
folder rather than once per file), names a plan could not spell (control characters, bytes that
are not UTF-8), anything but regular files, and the event database. Order: a folder's files by
name, then its folders by name, depth first (``os.walk`` top-down, sorted).

With ``read_through`` the walk is of two layers, as a what-if replay with live tools sees them:
the scratch ``workspace`` over the real workspace, read-only below it; a name in the upper
layer hides the same name below.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from agent_core.tools import sandbox


class Entry(NamedTuple):
    """One file: its path relative to the workspace (POSIX), size, mtime and the layer that holds it."""

    rel: str
    size: int
    mtime_ns: int
    root: Path

    @property
    def depth(self) -> int:
        """How many folders deep the file lies (0 at the workspace root)."""
        return self.rel.count("/")


@lru_cache(maxsize=1)
def _secret_name() -> re.Pattern[str]:
    patterns = (fnmatch.translate(p.lower()) for p in sandbox.DEFAULT_SECRET_PATTERNS)
    return re.compile("|".join(patterns))


def usable_name(name: str) -> bool:
    """True when a file tool may name this path component (not hidden, not secret-looking, spellable)."""
    if not name or name.startswith(".") or _secret_name().match(name.lower()):
        return False
    if not name.isprintable() and any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in name):
        return False  # control characters break listings; lone surrogates are bytes that are not UTF-8
    return len(name) <= sandbox.MAX_COMPONENT_CHARS


def walk(workspace: Path, database_path: Path | None = None, read_through: Path | None = None) -> Iterator[Entry]:
    """Every file a file tool could open, in the fixed order; ``SandboxError`` when the workspace is missing."""
    layers = [sandbox.workspace_root(workspace)]
    if read_through is not None:
        layers.append(sandbox.workspace_root(read_through))
    stack: list[tuple[str, list[Path]]] = [("", layers)]
    while stack:
        prefix, roots = stack.pop()
        files: dict[str, Entry] = {}
        folders: dict[str, list[Path]] = {}
        for root in roots:
            layer_files, layer_folders = _scan(root, prefix, database_path)
            for name, entry in layer_files.items():
                if name not in files and name not in folders:
                    files[name] = entry
            for name in layer_folders:
                if name not in files:
                    folders.setdefault(name, []).append(root)
        for name in sorted(files):
            yield files[name]
        stack.extend((f"{prefix}{name}/", folders[name]) for name in sorted(folders, reverse=True))


def _scan(root: Path, prefix: str, database_path: Path | None) -> tuple[dict[str, Entry], list[str]]:
    files: dict[str, Entry] = {}
    folders: list[str] = []
    try:
        entries = list(os.scandir(root / prefix if prefix else root))
    except OSError:
        return files, folders  # vanished or unreadable: what cannot be listed is not listed
    for item in entries:
        name = item.name
        if not usable_name(name):
            continue
        try:
            if item.is_symlink():
                continue
            if item.is_dir(follow_symlinks=False):
                folders.append(name)
                continue
            info = item.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        if (
            database_path is not None
            and name.startswith(database_path.name)
            and sandbox.is_database_path(Path(item.path), database_path)
        ):
            continue
        files[name] = Entry(prefix + name, info.st_size, info.st_mtime_ns, root)
    return files, folders
