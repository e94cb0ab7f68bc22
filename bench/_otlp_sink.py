"""A minimal OTLP/HTTP traces sink for benchmarks: answers 200 to every POST, prints its port first.

Run as its own process (``python bench/_otlp_sink.py``) so that receiving spans costs the
benchmarked process nothing; it counts requests and bytes, and prints them when it is stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = {"requests": 0, "bytes": 0}


class Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        received["requests"] += 1
        received["bytes"] += len(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _exit_with_parent(parent: int) -> None:
    """A sink left behind by a killed bench stops by itself."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def main() -> None:
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    print(server.server_address[1], flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.05)
    print(f"{received['requests']} {received['bytes']}", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
