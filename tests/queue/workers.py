"""Real worker processes for the queue tests: start ``python -m agent_core worker``, kill, cut its network."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_S, STALLED_S = "0.5", "3"


def worker_env(database_url: str, workspace: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker (and of a client enqueuing for it): fast heartbeats, the test's store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "OPENAI_", "ANTHROPIC_"))}
    env.update(
        DATABASE_URL=database_url,
        AGENT_QUEUE="procrastinate",
        AGENT_WORKSPACE=str(workspace),
        AGENT_WORKER_HEARTBEAT=HEARTBEAT_S,
        AGENT_WORKER_STALLED_AFTER=STALLED_S,
        AGENT_PLANNER="offline",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


@dataclass
class Workers:
    """Worker processes started by a test, each in its own process group; all killed at teardown."""

    cwd: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, env: dict[str, str], concurrency: int = 1) -> subprocess.Popen[bytes]:
        log = open(self.cwd / f"worker-{len(self.procs)}.log", "wb")  # noqa: SIM115  # closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent_core", "worker", "--concurrency", str(concurrency)],
            env=env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """``kill -9`` of the worker's whole process group: no shutdown code runs."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.cwd.glob("worker-*.log")))


def wait_for(check: Callable[[], Any], timeout: float, what: str, poll: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; ``AssertionError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class CuttableProxy:
    """A TCP proxy to PostgreSQL on a loopback port; ``cut()`` drops every connection and refuses new ones.

    It stands for one worker's network: cutting it is that machine losing the database.
    """

    def __init__(self, target_port: int = 5432) -> None:
        self._target = target_port
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.AbstractServer | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0))
        ready.set()
        self._loop.run_forever()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        """Close the listening socket and every open connection, both ways."""

        async def _cut() -> None:
            assert self._server is not None
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()

        asyncio.run_coroutine_threadsafe(_cut(), self._loop).result(10)

    def close(self) -> None:
        if self._server is not None and self._server.is_serving():
            self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
