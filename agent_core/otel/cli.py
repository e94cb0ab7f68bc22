"""The OpenTelemetry commands of ``python -m agent_core``: ``export --format otlp-json | --otlp URL``
and ``otel-follow``.

``agent_core.cli`` adds their options and dispatches here; the SDK is imported only when they run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from agent_core.workbench import Workbench

OK, FAILED, USAGE = 0, 1, 2
SEND_BATCH_RUNS = 50
PAGE = 1000


def add_export_options(export: argparse.ArgumentParser) -> None:
    """``export`` learns OpenTelemetry output and run selection (``--all`` and filters need it)."""
    export.add_argument(
        "--format",
        choices=["events", "otlp-json"],
        default="events",
        help="events: the run's JSON lines (default); otlp-json: OpenTelemetry traces, one line per run",
    )
    export.add_argument("--otlp", metavar="URL", help="send the traces over OTLP/HTTP, e.g. http://HOST:4318/v1/traces")
    export.add_argument(
        "--include-content",
        action="store_true",
        help="traces carry prompts, plans and tool input/output (always redacted)",
    )
    export.add_argument("--all", action="store_true", help="every run (traces only)")
    export.add_argument(
        "--status", action="append", metavar="STATUS", help="runs with this status (repeatable; traces only)"
    )
    export.add_argument(
        "--since", metavar="DATE", help="runs started at or after this ISO date/time, UTC (traces only)"
    )
    export.add_argument("--match", metavar="TEXT", help="runs whose goal contains TEXT (traces only)")
    export.add_argument("--limit", type=int, help="at most the newest N selected runs (traces only)")


def add_follow_options(follow: argparse.ArgumentParser) -> None:
    """The options of ``otel-follow``."""
    follow.add_argument(
        "--endpoint", metavar="URL", help="OTLP/HTTP endpoint (default: OTEL_EXPORTER_OTLP_ENDPOINT, plus /v1/traces)"
    )
    follow.add_argument(
        "--include-content", action="store_true", help="traces carry prompts and tool content (redacted)"
    )
    follow.add_argument("--from-start", action="store_true", help="first export every run that has already ended")
    follow.add_argument("--poll", type=float, default=0.5, metavar="SECONDS", help="how often to read the live feed")
    follow.add_argument(
        "--settle",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="wait this long after a run's last event before exporting it (a replay's verdict)",
    )
    follow.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long (default: Ctrl-C)")


def wants_traces(args: argparse.Namespace) -> bool:
    """True when ``export`` asks for OpenTelemetry traces rather than JSON lines."""
    return args.format == "otlp-json" or bool(args.otlp)


def selects_many(args: argparse.Namespace) -> bool:
    """True when ``export`` selects runs by a filter or ``--all`` (traces only)."""
    return bool(args.all or args.status or args.since or args.match or args.limit is not None)


def _usage(err: TextIO, message: str) -> int:
    print(f"error: {message}", file=err)
    return USAGE


def cmd_export_traces(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """One trace per selected run: OTLP/JSON lines on ``out`` and/or OTLP/HTTP to ``--otlp``."""
    from agent_core.otel.encode import OtlpSender, otlp_json
    from agent_core.otel.spans import run_spans

    if args.run_id and selects_many(args):
        return _usage(err, "name one RUN_ID, or select runs with --all/--status/--since/--match, not both")
    if not args.run_id and not selects_many(args):
        return _usage(err, "name a RUN_ID, or select runs with --all, --status, --since or --match")
    try:
        since = _utc(args.since) if args.since else None
    except ValueError:
        return _usage(err, f"--since {args.since!r} is not an ISO date or date-time (e.g. 2026-01-31)")
    run_ids = [bench.resolve_run_id(args.run_id)] if args.run_id else _selected(bench, args, since)
    sender = OtlpSender(args.otlp) if args.otlp else None
    batch: list = []
    sent_runs = sent_spans = 0

    def flush() -> bool:
        nonlocal sent_runs, sent_spans
        if sender is None or not batch:
            return True
        spans = [span for run in batch for span in run]
        if not sender.send(spans):
            return False
        sent_runs, sent_spans = sent_runs + len(batch), sent_spans + len(spans)
        batch.clear()
        return True

    try:
        for run_id in run_ids:
            spans = run_spans(bench.run_events(run_id), include_content=args.include_content)
            if args.format == "otlp-json":
                print(otlp_json(spans), file=out)
            if sender is not None:
                batch.append(spans)
                if len(batch) >= SEND_BATCH_RUNS and not flush():
                    break
        else:
            flush()
    finally:
        if sender is not None:
            sender.close()
    if sender is None:
        return OK
    if batch:
        print(
            f"error: could not send traces to {sender.endpoint} (is the collector running?); "
            f"{sent_runs} of {len(run_ids)} runs were sent",
            file=err,
        )
        return FAILED
    print(f"sent {sent_runs} run(s), {sent_spans} spans, to {sender.endpoint}", file=err)
    return OK


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _selected(bench: Workbench, args: argparse.Namespace, since: datetime | None) -> list[str]:
    """The selected run ids, oldest first (the list reads newest first, a page at a time)."""
    filters: dict[str, object] = {}
    if args.status:
        filters["status"] = args.status
    if args.match:
        filters["text_in_title"] = args.match
    if since is not None:
        filters["started_after"] = since
    newest_first: list[str] = []
    for run_id in _pages(bench, filters):
        newest_first.append(run_id)
        if args.limit is not None and len(newest_first) >= args.limit:
            break
    return newest_first[::-1]


def _pages(bench: Workbench, filters: dict[str, object]) -> Iterator[str]:
    offset = 0
    while True:
        rows = bench.list_runs(limit=PAGE, offset=offset, **filters)
        yield from (r.run_id for r in rows)
        if len(rows) < PAGE:
            return
        offset += PAGE


def cmd_follow(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Export each run as it ends, until interrupted (or ``--duration`` passes)."""
    from agent_core.otel.live import LiveExporter

    endpoint = args.endpoint or bench.settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return _usage(err, "set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:4318) or pass --endpoint URL")
    exporter = LiveExporter(
        bench.store,
        endpoint,
        include_content=args.include_content,
        poll_s=args.poll,
        settle_s=args.settle,
        start_position=0 if args.from_start else None,
    )
    exporter.start()
    print(
        f"following {bench.store_label()}: each run is exported to {exporter.endpoint} as it ends "
        f"({'from the first event' if args.from_start else 'from now'}; Ctrl-C stops)",
        file=out,
        flush=True,
    )
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())) if deadline else 0.2)
    except KeyboardInterrupt:
        pass
    exporter.stop()
    stats = exporter.stats()
    print(
        f"exported {stats.exported_runs} run(s), {stats.exported_spans} spans; "
        f"{stats.pending_runs} ended run(s) not delivered",
        file=out,
    )
    return OK if stats.pending_runs == 0 else FAILED
