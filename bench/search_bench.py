"""Search benchmark: the offline web_search over generated workspaces, its persistent index against rebuild-per-call.

For workspaces of 100, 1,000 and 10,000 documents (about 1, 6.5 and 30 MB of text, the sizes of the
issue's table; generated here, cached in bench/results/), each measured in a fresh process so its
peak memory (max RSS) is its own:
  cold      the first search with an empty index folder: the index is built, then queried
  warm      later searches (other queries) with the index up to date: what every search after the first costs
  edited    a search after 10 documents were edited, one added and one deleted: the incremental update
  rebuild   today's search before the index (bench/_rebuild_search.py: walk, read, tokenize, bm25s), run over
            every document (equal coverage; the baseline of the ratios) and as shipped (its first 2,000 only)
  bm25s     bm25s indexing and scoring the already-tokenized corpus: the least any rebuild-per-call bm25s
            design could cost, whatever it caches (why the index is FTS5 and not bm25s)
Figures are medians of ``--repeats`` rounds; contenders take turns within a round.

    python bench/search_bench.py [--sizes 100,1000,10000] [--repeats N] [--quick] [--fresh] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from any folder

from bench import _common as c

TEXT_BYTES = {100: 1_000_000, 1_000: 6_500_000, 10_000: 30_000_000}
"""Documents -> text bytes, as in the issue's table (other sizes get 3 kB a document)."""
GENERATOR = "2"  # bump when the generated text changes: cached workspaces are rebuilt
VOCABULARY = 30_000
QUERIES = (  # vocabulary ranks: mid-frequency words, and one common pair (many matching paragraphs)
    (120, 950),
    (300, 1_500, 60),
    (75, 2_400),
    (33, 3_000),
    (8, 15),
)
EDITED = 10
TARGET_WARM_S = 0.3
TARGET_PEAK_MB = 200.0


# --- generated workspaces ------------------------------------------------------------------------


def _vocabulary() -> list[str]:
    rng = random.Random(7)
    syllables = [a + b for a in "bcdfghjklmnprstvwz" for b in ("a", "e", "i", "o", "u", "ai", "ou", "ea")]
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(syllables) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def query_texts() -> list[str]:
    words = _vocabulary()
    return [" ".join(words[rank] for rank in ranks) for ranks in QUERIES]


def build_workspace(documents: int, fresh: bool) -> Path:
    """``documents`` Markdown and text files in nested folders, Zipf-distributed words; cached."""
    root = c.RESULTS_DIR / f"search-{documents}"
    marker = root / ".generated"  # hidden: never walked
    if not fresh and marker.is_file() and marker.read_text() == GENERATOR:
        return root
    shutil.rmtree(root, ignore_errors=True)
    c.progress(f"generating a workspace of {documents:,} documents")
    rng = random.Random(documents)
    words = _vocabulary()
    weights = [1 / (rank + 1) ** 1.05 for rank in range(len(words))]
    cumulative: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    per_file = TEXT_BYTES.get(documents, 3_000 * documents) / documents
    for i in range(documents):
        folder = root / f"area-{i % 17:02d}" / f"topic-{(i // 17) % 23:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        target = max(200, int(rng.lognormvariate(0, 0.6) * per_file / 1.2))
        parts = [f"# {' '.join(rng.choices(words, cum_weights=cumulative, k=rng.randint(2, 6))).capitalize()}\n"]
        size = len(parts[0])
        while size < target:
            if rng.random() < 0.12:
                heading = f"## {' '.join(rng.choices(words, cum_weights=cumulative, k=rng.randint(2, 5)))}\n"
                parts.append(heading)
                size += len(heading)
            sentences = []
            for _ in range(rng.randint(2, 6)):
                sentence = rng.choices(words, cum_weights=cumulative, k=rng.randint(6, 22))
                sentences.append(" ".join(sentence).capitalize() + ".")
            paragraph = " ".join(sentences) + "\n"
            parts.append(paragraph)
            size += len(paragraph)
        suffix = ".txt" if i % 5 == 4 else ".md"
        (folder / f"doc-{i:05d}{suffix}").write_text("\n".join(parts), encoding="utf-8")
    marker.write_text(GENERATOR)
    return root


def text_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


# --- the measured side: one fresh process per measurement ----------------------------------------


def _child(mode: str, workspace: Path, index_dir: Path, queries: list[str]) -> dict[str, Any]:
    from agent_core.tools import ToolContext
    from agent_core.tools.search import workspace_search

    def ours(query: str) -> float:
        ctx = ToolContext(workspace=workspace, prior_results={}, index_dir=index_dir)
        start = time.perf_counter()
        result = workspace_search(query, 5, ctx)
        elapsed = time.perf_counter() - start
        assert result["success"] and result["coverage"]["files_searched"] > 0, result
        return elapsed

    out: dict[str, Any] = {}
    if mode == "cold":
        out["times"] = [ours(queries[0])]
        out["index_bytes"] = sum(p.stat().st_size for p in index_dir.iterdir() if p.is_file())
    elif mode == "warm":
        ours(queries[0])  # brings the index up to date after the other processes' rounds
        out["times"] = [ours(q) for q in queries[1:]]
    elif mode == "edited":
        ours(queries[0])
        originals = _edit(workspace)
        try:
            out["times"] = [ours(queries[1])]
        finally:
            _restore(workspace, originals)
    elif mode in ("rebuild", "shipped"):
        from bench._rebuild_search import bm25_search

        start = time.perf_counter()
        kept: list[list[str]] = []
        bm25_search(queries[0], 5, workspace, None, max_files=10**9 if mode == "rebuild" else 2_000, keep_tokens=kept)
        out["times"] = [time.perf_counter() - start]
        if mode == "rebuild":
            out["bm25s_times"] = [_bm25s_only(kept, queries[0])]
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _bm25s_only(corpus: list[list[str]], query: str) -> float:
    import bm25s

    from agent_core.tools.text import tokens

    start = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    retriever.get_scores(tokens(query))
    return time.perf_counter() - start


def _edit(workspace: Path) -> dict[Path, bytes | None]:
    docs = sorted(workspace.rglob("doc-*.md"))
    originals: dict[Path, bytes | None] = {}
    for path in docs[:: max(1, len(docs) // EDITED)][:EDITED]:
        originals[path] = path.read_bytes()
        path.write_bytes(originals[path] + b"\nAn added paragraph about benchmarks.\n")
    added = workspace / "area-00" / "added.md"
    originals[added] = None
    added.write_text("# Added\n\nA new document about benchmarks.\n")
    removed = docs[-1]
    originals[removed] = removed.read_bytes()
    removed.unlink()
    return originals


def _restore(workspace: Path, originals: dict[Path, bytes | None]) -> None:
    for path, data in originals.items():
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)


def run_child(mode: str, workspace: Path, index_dir: Path) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", mode, "--workspace", str(workspace), "--index-dir", str(index_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {mode} measurement failed:\n{done.stderr}")
    return dict(json.loads(done.stdout))


# --- the bench -----------------------------------------------------------------------------------


def measure(documents: int, repeats: int, fresh: bool) -> dict[str, Any]:
    workspace = build_workspace(documents, fresh)
    scratch = Path(tempfile.mkdtemp(prefix="search-bench-"))
    shared = scratch / "warm-index"
    run_child("cold", workspace, shared)  # the index the warm and edited measurements start from
    samples: dict[str, list[float]] = {}
    peaks: dict[str, list[float]] = {}
    index_bytes: list[int] = []

    def record(name: str, got: dict[str, Any]) -> None:
        samples.setdefault(name, []).extend(got["times"])
        peaks.setdefault(name, []).append(got["peak_mb"])
        if "bm25s_times" in got:
            samples.setdefault("bm25s", []).extend(got["bm25s_times"])

    try:
        for round_ in range(repeats):
            c.progress(f"{documents:,} documents: round {round_ + 1}/{repeats}")
            cold_dir = scratch / f"cold-{round_}"
            got = run_child("cold", workspace, cold_dir)
            index_bytes.append(got["index_bytes"])
            record("cold", got)
            shutil.rmtree(cold_dir, ignore_errors=True)
            record("warm", run_child("warm", workspace, shared))
            record("edited", run_child("edited", workspace, shared))
            record("rebuild", run_child("rebuild", workspace, shared))
            record("shipped", run_child("shipped", workspace, shared))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "documents": documents,
        "text_bytes": text_bytes(workspace),
        "index_bytes": max(index_bytes),
        "seconds": {name: c.Sample(tuple(v)).median for name, v in samples.items()},
        "spread": {name: round(c.Sample(tuple(v)).spread, 3) for name, v in samples.items()},
        "peak_mb": {name: max(v) for name, v in peaks.items()},
    }


def render(results: list[dict[str, Any]]) -> str:
    table = c.Table(["workspace", "measure", "index", "rebuild per call", "ratio", "target"])
    for r in results:
        s, peak = r["seconds"], r["peak_mb"]
        label = f"{r['documents']:,} docs, {r['text_bytes'] / 1e6:.1f} MB"
        big = r["documents"] >= 10_000
        cold_ratio = c.ratio(s["cold"], s["rebuild"], higher_is_better=False)
        table.add(
            label,
            "first search, cold index (s)",
            c.fmt_number(s["cold"]),
            c.fmt_number(s["rebuild"]),
            c.fmt_ratio(cold_ratio),
            c.verdict(cold_ratio is not None and cold_ratio >= 1),
        )
        table.add(
            "",
            "later searches, warm (s)",
            c.fmt_number(s["warm"]),
            c.fmt_number(s["rebuild"]),
            c.fmt_ratio(c.ratio(s["warm"], s["rebuild"], higher_is_better=False)),
            c.verdict(s["warm"] < TARGET_WARM_S) if big else "-",
        )
        table.add(
            "",
            f"after {EDITED} edits, 1 add, 1 delete (s)",
            c.fmt_number(s["edited"]),
            c.fmt_number(s["rebuild"]),
            c.fmt_ratio(c.ratio(s["edited"], s["rebuild"], higher_is_better=False)),
            "-",
        )
        table.add(
            "",
            "peak memory, cold (MB)",
            c.fmt_number(peak["cold"]),
            c.fmt_number(peak["rebuild"]),
            c.fmt_ratio(c.ratio(peak["cold"], peak["rebuild"], higher_is_better=False)),
            c.verdict(peak["cold"] < TARGET_PEAK_MB) if big else "-",
        )
        table.add(
            "",
            "peak memory, warm (MB)",
            c.fmt_number(peak["warm"]),
            c.fmt_number(peak["rebuild"]),
            c.fmt_ratio(c.ratio(peak["warm"], peak["rebuild"], higher_is_better=False)),
            c.verdict(peak["warm"] < TARGET_PEAK_MB) if big else "-",
        )
        table.add(
            "",
            "index size (MB) / text",
            c.fmt_number(r["index_bytes"] / 1e6),
            "-",
            f"{r['index_bytes'] / r['text_bytes']:.2f}x text",
            "-",
        )
        table.add("", "rebuild as shipped: first 2,000 docs (s)", "-", c.fmt_number(s["shipped"]), "-", "-")
        table.add("", "bm25s alone on cached tokens (s)", "-", c.fmt_number(s["bm25s"]), "-", "-")
    notes = [
        "ratio: how many times better the index is than rebuilding per call over the same documents",
        f"targets (10,000 docs): warm < {TARGET_WARM_S} s, peak memory < {TARGET_PEAK_MB:.0f} MB; "
        "every size: cold index no slower than one rebuild",
        "'bm25s alone' is only bm25s.index + get_scores on an already tokenized corpus: the floor of any "
        "bm25s design that rebuilds per call (a bm25s matrix cannot be updated in place)",
    ]
    return "\n".join([c.machine_line(), "", table.render(), "", *notes])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="documents per workspace, comma separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one small workspace, one round (a smoke test)")
    parser.add_argument("--fresh", action="store_true", help="generate the workspaces again")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, Path(args.workspace), Path(args.index_dir), query_texts())))
        return 0
    sizes = [60] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    os.environ.setdefault("PYTHONHASHSEED", "0")
    results = [measure(n, repeats, args.fresh) for n in sizes]
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
