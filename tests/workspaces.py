"""Workspaces generated for tests: many small documents, a few large ones, binaries, Latin-1, odd names.

Nothing bulky is committed: ``generate`` writes a folder like a user's (deterministic for a seed)
and says where it planted the words tests look for.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
WORDS = [
    "ledger",
    "replay",
    "policy",
    "sandbox",
    "planner",
    "index",
    "paragraph",
    "budget",
    "approval",
    "workspace",
    "tool",
    "observation",
    "summary",
    "report",
    "search",
    "event",
    "fold",
    "projection",
    "store",
    "cache",
    "folder",
    "document",
]
LATIN1_TEXT = "Le café est très bon. Où est la bibliothèque? À bientôt, garçon! Les élèves étudient l'économie.\n"


@dataclass(frozen=True)
class Generated:
    """A generated workspace and what tests look for in it."""

    root: Path
    documents: list[str]
    """Every searchable document (.md/.txt), in walk order."""
    planted: dict[str, str]
    """A word found in one file only -> that file."""
    large: str
    binaries: list[str]
    latin1: str


def generate(root: Path, documents: int = 200, seed: int = 0, large_bytes: int = 300_000) -> Generated:
    """``documents`` small documents in nested folders plus the odd files a real folder has."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    docs: list[str] = []
    planted: dict[str, str] = {}
    for i in range(documents):
        rel = f"area-{i % 7}/topic-{i % 5}/note-{i:04d}.{'txt' if i % 4 == 3 else 'md'}"
        word = f"zq{i:04d}marker"
        planted[word] = rel
        body = "\n\n".join(
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "."
            for _ in range(rng.randint(1, 4))
        )
        write(root / rel, f"# Note {i}\n\n{body}\n\nThis note mentions {word} once.\n")
        docs.append(rel)
    large = "big/manual.md"
    paragraph = "The manual explains every ledger and replay in detail, at length.\n\n"
    write(root / large, "# Manual\n\n" + paragraph * (large_bytes // len(paragraph)) + "The zqendmarker closes it.\n")
    binaries = ["images/logo.png", "archive/notes.txt.gz", "images/disguised.md"]
    write_bytes(root / binaries[0], PNG)
    write_bytes(root / binaries[1], gzip.compress(b"ledger replay " * 200, mtime=0))
    write_bytes(root / binaries[2], PNG)  # a PNG with a document's name
    latin1 = "lettres/café-latin1.txt"
    write_bytes(root / latin1, ("# Lettre\n\n" + LATIN1_TEXT + "Le mot zqlatinmarker est ici.\n").encode("latin-1"))
    planted["zqlatinmarker"] = latin1
    write(root / "Résumé notes.md", "# Résumé\n\nThe résumé mentions zqresumemarker.\n")
    planted["zqresumemarker"] = "Résumé notes.md"
    write(root / "LICENSE", "Permission is granted, zqlicensemarker, free of charge.\n")
    planted["zqlicensemarker"] = "LICENSE"
    write_bytes(root / "utf16.txt", "UTF-16 text with zqutf16marker.\n".encode("utf-16"))  # with a BOM
    planted["zqutf16marker"] = "utf16.txt"
    write(root / "reports/earlier-report.md", "# An earlier report\n\nIt repeats zqreportmarker and ledger.\n")
    write(root / ".hidden/secret.md", "zqhiddenmarker\n")
    write(root / "secrets.txt", "zqsecretmarker\n")
    write(root / "data/table.csv", "ledger,replay\n1,2\n")
    return Generated(root, docs, planted, large, binaries, latin1)


def write(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
