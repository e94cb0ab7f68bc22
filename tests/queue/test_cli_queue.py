"""The CLI with ``AGENT_QUEUE=procrastinate``: ``run`` enqueues and prints what a worker appends; SQLite refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.queue.workers import Workers, worker_env


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.postgres
def test_run_is_driven_by_a_worker_and_followed_to_its_end(
    pg_schema_url: str, workspace: Path, workers: Workers, tmp_path: Path
) -> None:
    env = worker_env(pg_schema_url, workspace)
    worker = workers.start(env)
    done = cli(env, tmp_path, "run", "Summarize notes.txt")
    assert done.returncode == 0, done.stderr + workers.logs()
    lines = done.stdout.splitlines()
    assert "RunStarted" in lines[0] and "RunCompleted" in lines[-2] and lines[-1].endswith(": completed")
    run_id = lines[-1].split()[1].rstrip(":")
    assert str(worker.pid) in workers.logs() and run_id in workers.logs()  # the worker ran it, not the CLI


def test_on_sqlite_the_queue_is_a_one_line_error(tmp_path: Path) -> None:
    env = worker_env(f"sqlite:///{tmp_path / 'events.db'}", tmp_path / "workspace")
    for args in (("run", "Summarize notes.txt"), ("worker",)):
        refused = cli(env, tmp_path, *args)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.count("\n") == 1 and "needs the PostgreSQL store" in refused.stderr
