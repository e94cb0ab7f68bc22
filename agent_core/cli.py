"""The command line: ``python -m agent_core COMMAND`` per DESIGN.md's CLI contract.

Exit codes: 0 ok; 1 the run failed (or a replay regressed); 2 bad usage or bad input, with a
one-line reason on stderr and nothing written.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

from agent_core import events as ev
from agent_core.config import Settings, load_settings
from agent_core.describe import summarize_event
from agent_core.errors import AgentError, ConcurrencyError, ConfigError, PolicyError, RunNotFound, RunStateError
from agent_core.orchestrator import RunRequest, RunRequestError
from agent_core.otel import cli as otel_cli
from agent_core.policy import Policy
from agent_core.projections import RunState
from agent_core.providers import planner_choices
from agent_core.replay import Overrides, ReplayError, VerifyResult
from agent_core.replay.bundle import write_recording
from agent_core.replay.diff import DEFAULT_COST_SHARE
from agent_core.store import SHA256
from agent_core.transfer import TransferError, export_lines, import_lines
from agent_core.workbench import Workbench

if TYPE_CHECKING:
    from agent_core.dispatch import QueueDispatcher

OK, FAILED, USAGE = 0, 1, 2
FOLLOW_POLL_S = 0.2  # how often run/approve/resume re-read a queued run's log
MAX_WORKER_CONCURRENCY = 64
READ_ONLY_COMMANDS = frozenset({"runs", "events", "verify-log", "export"})
"""Commands that never create a store: on a missing one they say so and exit 2."""
DEMO_GOAL = "Research the latest developments in AI agent frameworks and summarize the key findings"


class UsageError(Exception):
    """Bad arguments: exit 2 with a one-line reason."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Bad arguments become a ``UsageError`` (one line, exit 2) instead of argparse's exit."""
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command in DESIGN.md's CLI contract."""
    parser = _Parser(prog="python -m agent_core", description="The event-sourced agent workbench.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--db", help="database URL (default: DATABASE_URL or sqlite:///data/agent.db)")
        return sub

    run = command("run", "plan and run GOAL until it ends or waits for an approval")
    run.add_argument("goal")
    run.add_argument("--max-steps", type=int, default=4)
    run.add_argument("--budget", type=float, default=0.50, help="USD")
    run.add_argument("--planner", default="auto", choices=planner_choices())
    run.add_argument("--model")
    run.add_argument("--json", action="store_true")

    for name, help_text in (("runs", "list runs, newest first"), ("events", "print a run's event log")):
        sub = command(name, help_text)
        if name == "events":
            sub.add_argument("run_id")
        else:
            sub.add_argument("--limit", type=int, default=50)
        sub.add_argument("--json", action="store_true")

    approve = command("approve", "grant (or --deny) a held step, then continue the run")
    approve.add_argument("run_id")
    approve.add_argument("step_id")
    approve.add_argument("--deny", action="store_true")
    approve.add_argument("--comment", default="")
    approve.add_argument("--by", default="cli")
    approve.add_argument("--json", action="store_true")

    for name, help_text in (("resume", "continue a run (after a crash or an approval)"), ("cancel", "cancel a run")):
        sub = command(name, help_text)
        sub.add_argument("run_id")
        sub.add_argument("--json", action="store_true")

    verify = command("verify-log", "check the hash chain of one run or of all runs")
    verify.add_argument("run_id", nargs="?")
    export = command("export", "print a run as JSON lines, or runs as OpenTelemetry traces (otlp-json, --otlp)")
    export.add_argument("run_id", nargs="?")
    otel_cli.add_export_options(export)
    otel_cli.add_follow_options(command("otel-follow", "export each run to OTEL_EXPORTER_OTLP_ENDPOINT as it ends"))
    imp = command("import", "read a run exported as JSON lines (refuses an existing run id)")
    imp.add_argument("file")

    rep = command("replay", "verify a run against the current code, or replay it with overrides (what-if)")
    rep.add_argument("run_id", nargs="?")
    rep.add_argument("--all", action="store_true", help="every original run (for CI: exit 1 on any regression)")
    rep.add_argument("--mode", choices=["verify", "whatif"], help="default: whatif with overrides, else verify")
    rep.add_argument("--planner", choices=planner_choices(auto=False))
    rep.add_argument("--model")
    rep.add_argument("--system-prompt", metavar="FILE", help="a file holding the system prompt text")
    rep.add_argument("--policy", metavar="FILE")
    rep.add_argument("--tools", choices=["recorded", "live"], default="recorded")
    rep.add_argument(
        "--max-cost-rise",
        type=float,
        default=DEFAULT_COST_SHARE,
        metavar="SHARE",
        help="a cost rise above this share of the original's is a regression (default 0.2)",
    )
    rep.add_argument("--save", action="store_true", help="verify: keep the re-execution as a run")
    rep.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="with --all (verify): verify in N processes; the same lines in the same order (default 1)",
    )
    rep.add_argument("--list", action="store_true", help="list RUN_ID's replays with their verdicts")
    rep.add_argument(
        "--counterfactual",
        type=int,
        metavar="N",
        help="with --policy: the decisions it would change on the last N runs (nothing runs)",
    )
    rep.add_argument(
        "--arm",
        action="append",
        default=[],
        metavar="ARM",
        help="compare arms on the recording: PROVIDER:MODEL, PROVIDER or prompt=FILE (repeat; with --all: "
        "win/tie/loss per arm, exit 1 when an arm regresses)",
    )
    rep.add_argument("--judge", choices=["offline", "llm"], help="with --arm: score each arm's final response")
    rep.add_argument("--json", action="store_true")

    fork = command("fork", "start a new run from STEP of RUN_ID: the steps before it inherited, the rest live")
    fork.add_argument("run_id")
    fork.add_argument("--at", required=True, metavar="STEP", help="the first step the fork runs itself")
    fork.add_argument("--input", metavar="JSON", help="the fork step's edited input (a JSON object)")
    fork.add_argument("--replan", action="store_true", help="ask the planner for a new plan for the rest")
    fork.add_argument("--planner", choices=planner_choices(auto=False))
    fork.add_argument("--model")
    fork.add_argument("--system-prompt", metavar="FILE", help="a file holding the system prompt text")
    fork.add_argument("--policy", metavar="FILE")
    fork.add_argument("--json", action="store_true")

    record = command("record", "write RUN_ID as a recording folder (for the pytest plugin: --agent-recordings DIR)")
    record.add_argument("run_id")
    record.add_argument("--to", required=True, metavar="DIR")

    api = command("api", "serve the HTTP API (FastAPI, uvicorn); beyond loopback only with AGENT_API_TOKEN set")
    api.add_argument("--host", default="127.0.0.1", help="the interface to listen on (default 127.0.0.1)")
    api.add_argument("--port", type=int, default=8000)
    worker = command("worker", "advance queued runs (AGENT_QUEUE=procrastinate, PostgreSQL) until SIGTERM")
    worker.add_argument("--concurrency", type=int, default=1, help="runs driven at once by this process")

    demo = command("demo", "the newcomer's walkthrough: run the demo goal, show its log, replay it, verdict")
    demo.add_argument("--goal", default=DEMO_GOAL)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 run failed or replay regressed, 2 bad usage or input)."""
    out, err = terminal(out or sys.stdout), terminal(err or sys.stderr)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        return _refuse(err, error)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    try:
        settings = load_settings(**({"DATABASE_URL": args.db} if args.db else {}))
        if args.command == "api":  # refused before a store is opened or created
            _check_api_bind(args, settings)
        bench = Workbench.open(settings, create=args.command not in READ_ONLY_COMMANDS)
    except (AgentError, UsageError) as error:
        return _refuse(err, error)
    try:
        return COMMANDS[args.command](bench, args, out, err)
    except BAD_INPUT as error:
        return _refuse(err, error)
    except ConcurrencyError as error:
        print(f"error: another process is driving this run ({one_line(str(error))})", file=err)
        return FAILED
    except AgentError as error:
        print(f"error: {one_line(str(error))}", file=err)
        return FAILED
    finally:
        bench.close()


BAD_INPUT: tuple[type[Exception], ...] = (
    RunNotFound,
    RunRequestError,
    TransferError,
    RunStateError,
    ReplayError,
    UsageError,
    ConfigError,
    PolicyError,
)
"""Errors that mean the command or its input (arguments, files, settings, the run's state) is wrong: exit 2."""


def _refuse(err: TextIO, error: Exception) -> int:
    print(f"error: {one_line(str(error))}", file=err)
    return USAGE


def one_line(message: str) -> str:
    """The message on one line (the contract: a one-line reason on stderr), whatever the error put in it."""
    return " ".join(message.split()) or "unknown error"


# --- the terminal -----------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 controls except tab and newline, DEL, and C1 controls: what can move the cursor, clear the
screen, set the title or start an escape sequence once it reaches a terminal."""


def terminal_safe(text: str) -> str:
    """``text`` with every control character but newline and tab shown as ``\\xNN`` (ESC -> ``\\x1b``)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def json_safe(text: str) -> str:
    """JSON text with DEL and C1 characters written as ``\\u00NN`` escapes: the same JSON value.

    ``json.dumps`` escapes C0 itself; those two ranges can only occur inside strings, where the
    escape means the same character: an exported line keeps its values, so import checks the same hashes.
    """
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _Terminal:
    """A text stream that passes everything through ``terminal_safe``: goals, file text and LLM
    text printed by any command cannot drive the terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(terminal_safe(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def terminal(stream: TextIO) -> TextIO:
    """``stream`` wrapped so that control characters are escaped (once: wrapping twice is a no-op)."""
    return stream if isinstance(stream, _Terminal) else cast(TextIO, _Terminal(stream))


# --- commands -------------------------------------------------------------------------------


def _progress(out: TextIO) -> Callable[[ev.RecordedEvent], None]:
    def show(recorded: ev.RecordedEvent) -> None:
        print(f"{recorded.seq:>4}  {recorded.actor:<13} {recorded.type:<20} {summarize_event(recorded)}", file=out)
        out.flush()

    return show


def _finish(state: RunState, args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        print(json.dumps(state_document(state), indent=2, default=str), file=out)
    else:
        print(
            f"run {state.run_id}: {state.status}" + (f" — {state.failure_reason}" if state.failure_reason else ""),
            file=out,
        )
        if state.pending_approval:
            step = state.pending_approval
            print(
                f"waiting: approve with 'python -m agent_core approve {state.run_id} {step.step_id}' "
                f"(or --deny); held by rule {step.rule}: {step.reason}",
                file=out,
            )
    return FAILED if state.status in ("failed", "cancelled") else OK


def _queue(bench: Workbench) -> QueueDispatcher | None:
    """The queue when ``AGENT_QUEUE`` names one (workers advance runs), else None (this process does)."""
    if not bench.settings.agent_queue:
        return None
    from agent_core.dispatch import QueueDispatcher  # Procrastinate loads only where a queue is used

    return QueueDispatcher(bench)


def _follow(bench: Workbench, run_id: str, show: Callable[[ev.RecordedEvent], None]) -> RunState:
    """Show a queued run's events as workers append them, until it ends or waits for a person."""
    shown = 0
    while True:
        state = bench.run_state(run_id)  # first: every event it saw is shown below
        for recorded in bench.run_events(run_id)[shown : state.event_count]:
            show(recorded)
        shown = state.event_count
        if state.is_terminal or state.pending_approval is not None:
            return state
        time.sleep(FOLLOW_POLL_S)


def cmd_run(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``run GOAL``: start a run and drive it (or let a worker drive it) until it ends or waits for a person."""
    request = RunRequest(args.goal, args.max_steps, args.budget, args.planner, args.model).validate()
    show = _progress(err if args.json else out)
    queued = _queue(bench)
    state = _follow(bench, queued.submit(request), show) if queued else bench.run(request, on_event=show)
    return _finish(state, args, out)


def cmd_runs(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``runs``: the newest runs from the index."""
    runs = bench.list_runs(limit=args.limit)
    if args.json:
        print(json.dumps([_plain(r) for r in runs], indent=2, default=str), file=out)
        return OK
    if not runs:
        print('no runs yet: start one with python -m agent_core run "GOAL"', file=out)
    for r in runs:
        lineage = f"  replay of {r.replay_of[:8]}" + (f" ({r.verdict})" if r.verdict else "") if r.replay_of else ""
        origin = "  [imported]" if r.imported else ""
        print(
            f"{r.run_id[:12]:<12}  {r.status:<16} {r.started_at:%Y-%m-%d %H:%M:%S}  ${r.cost_usd:.4f}  "
            f"{r.steps_ok}/{r.steps_planned} ok  {r.goal[:60]}{lineage}{origin}",
            file=out,
        )
    return OK


def cmd_events(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``events RUN_ID``: the run's log, one line (or JSON document) per event."""
    run_id = bench.resolve_run_id(args.run_id)
    events = bench.run_events(run_id)
    if args.json:
        print(json.dumps([_event_document(e) for e in events], indent=2, default=str), file=out)
        return OK
    show = _progress(out)
    for recorded in events:
        show(recorded)
    return OK


def cmd_approve(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``approve RUN_ID STEP_ID [--deny]``: record a person's decision and continue the run."""
    run_id = bench.resolve_run_id(args.run_id)
    decide = bench.deny if args.deny else bench.approve
    show, queued = _progress(err if args.json else out), _queue(bench)
    if queued:
        queued.continue_run(run_id, first=lambda: decide(run_id, args.step_id, by=args.by, comment=args.comment))
        return _finish(_follow(bench, run_id, _after(bench, run_id, show)), args, out)
    decide(run_id, args.step_id, by=args.by, comment=args.comment)
    state = bench.advance(run_id, on_event=show)
    return _finish(state, args, out)


def cmd_resume(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``resume RUN_ID``: continue a run from its log (also after a crash); with a queue, a worker continues it."""
    run_id, show, queued = bench.resolve_run_id(args.run_id), _progress(err if args.json else out), _queue(bench)
    if queued:
        queued.continue_run(run_id)
        time.sleep(FOLLOW_POLL_S)  # a run waiting for nothing but the queue: give a worker a moment to claim it
        return _finish(_follow(bench, run_id, _after(bench, run_id, show)), args, out)
    state = bench.advance(run_id, on_event=show)
    return _finish(state, args, out)


def _after(
    bench: Workbench, run_id: str, show: Callable[[ev.RecordedEvent], None]
) -> Callable[[ev.RecordedEvent], None]:
    """``show`` for the events appended from now on (the ones before were printed by an earlier command)."""
    known = bench.run_state(run_id).event_count
    return lambda recorded: show(recorded) if recorded.seq > known else None


def cmd_worker(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``worker [--concurrency N]``: a Procrastinate worker; SIGTERM lets each run finish its current step."""
    if not 1 <= args.concurrency <= MAX_WORKER_CONCURRENCY:
        raise UsageError(f"--concurrency must be between 1 and {MAX_WORKER_CONCURRENCY}, not {args.concurrency}")
    from agent_core.queue import run_worker  # Procrastinate loads only where a queue is used

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    run_worker(bench, args.concurrency)
    return OK


def cmd_cancel(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``cancel RUN_ID``: end a run that has not ended."""
    state = bench.cancel(bench.resolve_run_id(args.run_id), by="cli")
    _finish(state, args, out)
    return OK


def cmd_verify_log(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``verify-log [RUN_ID]``: check the hash chain; exit 1 names the first bad event."""
    run_id = bench.resolve_run_id(args.run_id) if args.run_id else None
    problem = bench.store.verify_chain(run_id)
    if problem is None:
        print(f"ok: the hash chain of {'run ' + run_id if run_id else 'every run'} verifies", file=out)
        return OK
    where = f"run {problem.run_id} seq {problem.seq} (position {problem.position})"
    print(f"{problem.kind}: {where}: {problem.reason}", file=out)
    return FAILED


def cmd_export(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``export RUN_ID``: the run as JSON lines on stdout."""
    if otel_cli.wants_traces(args):
        return otel_cli.cmd_export_traces(bench, args, out, err)
    if not args.run_id or otel_cli.selects_many(args) or args.include_content:
        raise UsageError(
            "export RUN_ID prints one run's events; --all, filters and --include-content are for "
            "traces: add --format otlp-json or --otlp URL"
        )
    for line in export_lines(bench.store, bench.resolve_run_id(args.run_id)):
        print(json_safe(line), file=out)
    return OK


def cmd_import(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``import FILE``: read an export back (refuses an existing id or an altered file)."""
    path = Path(args.file)
    if not path.is_file():
        raise TransferError(f"no file {args.file!r}")
    try:
        with path.open(encoding="utf-8") as lines:
            run_id = import_lines(bench.store, lines)
    except UnicodeDecodeError as error:
        raise TransferError(f"{args.file!r} is not UTF-8 text ({error.reason}); is it a file from 'export'?") from None
    print(f"imported run {run_id}", file=out)
    row = bench.store.get_run(run_id)
    if bench.store.keyed and row is not None and row.chain == SHA256:
        print(
            f"note: run {run_id} has a plain SHA-256 chain, so AGENT_LOG_KEY cannot vouch for it; "
            "verify-log will report it (it was exported without a key, or edited by someone without it)",
            file=err,
        )
    return OK


def _overrides(args: argparse.Namespace) -> Overrides:
    prompt = None
    if args.system_prompt:
        path = Path(args.system_prompt)
        if not path.is_file():
            raise UsageError(f"no system prompt file {args.system_prompt!r}")
        prompt = path.read_text(encoding="utf-8")
    if args.policy:
        if not Path(args.policy).exists():
            raise UsageError(f"no policy file {args.policy!r} (not found)")
        Policy.load(Path(args.policy))  # a folder or an invalid file: PolicyError (exit 2) before anything runs
    return Overrides(args.planner, args.model, prompt, Path(args.policy) if args.policy else None, args.tools)


def cmd_replay(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``replay``: verify, what-if, replay --all, lineage and the policy counterfactual."""
    overrides = _overrides(args)
    if args.counterfactual is not None:
        if not args.policy:
            raise UsageError("--counterfactual needs --policy FILE")
        counterfactual = bench.policy_counterfactual(args.policy, args.counterfactual)
        if args.json:
            print(json.dumps(_plain(counterfactual), indent=2, default=str), file=out)
        else:
            print(
                f"{args.policy}: {len(counterfactual.changes)} of {counterfactual.decisions} recorded decisions "
                f"in the last {counterfactual.runs} runs would change",
                file=out,
            )
            for change in counterfactual.changes:
                print(f"  {change.line()}", file=out)
        return OK
    if args.all == bool(args.run_id):
        raise UsageError("name one RUN_ID or --all")
    if args.workers < 1 or (args.workers > 1 and not args.all):
        raise UsageError(f"--workers {args.workers}: give a count of at least 1, with --all")
    if args.arm and args.workers > 1:
        raise UsageError("--workers parallelises verify --all only (what-ifs and arms write runs one at a time)")
    if args.arm:
        return _replay_arms(bench, args, out)
    mode: ev.ReplayMode = (
        "verify" if (args.mode or ("verify" if overrides.empty else "whatif")) == "verify" else "whatif"
    )
    if args.workers > 1 and mode != "verify":
        raise UsageError("--workers parallelises verify --all only (what-ifs and arms write runs one at a time)")
    if args.all:
        show = None if args.json else (lambda line: print(line, file=out, flush=True))
        report = bench.replay_all(mode, overrides, on_result=show, workers=args.workers)
        if args.json:
            print(
                json.dumps(
                    {
                        "mode": mode,
                        "failed": report.failed,
                        "counts": dict(report.counts),
                        "runs": report.run_statuses,
                        "lines": list(report.lines),
                    },
                    indent=2,
                ),
                file=out,
            )
        else:
            print(report.summary(), file=out)
        return FAILED if report.failed else OK
    run_id = bench.resolve_run_id(args.run_id)
    if args.list:
        replays = bench.replays_of(run_id)
        if args.json:
            print(json.dumps([_plain(r) for r in replays], indent=2, default=str), file=out)
        for r in [] if args.json else replays:
            print(f"{r.run_id[:12]}  {r.replay_mode or '':<7} {r.status:<16} {r.verdict or '-'}", file=out)
        if not replays and not args.json:
            print(f"run {run_id} has no replays yet", file=out)
        return OK
    if mode == "verify":
        result = bench.verify(run_id, overrides, save=args.save)
        _print_verify(result, args, out)
        return OK if result.identical else FAILED
    outcome = bench.whatif(run_id, overrides, on_event=None if args.json else _progress(out))
    diff = bench.diff(run_id, outcome.replay_id, cost_share=args.max_cost_rise)
    if args.json:
        print(
            json.dumps({**diff.to_document(), "replay_status": outcome.state.status}, indent=2, default=str), file=out
        )
    else:
        print(f"what-if replay {outcome.replay_id} of {run_id}: {outcome.state.status}", file=out)
        print("\n".join(diff.summary_lines()), file=out)
    return FAILED if diff.verdict == "regression" else OK


def _replay_arms(bench: Workbench, args: argparse.Namespace, out: TextIO) -> int:
    if args.all:
        show = None if args.json else (lambda line: print(line, file=out, flush=True))
        tallies = bench.compare_arms_all(args.arm, tools=args.tools, on_result=show)
        regressed = any(t.regressed for t in tallies)
        if args.json:
            arms = [
                {"arm": t.arm, "wins": t.wins, "ties": t.ties, "losses": t.losses, "errors": t.errors} for t in tallies
            ]
            print(json.dumps({"arms": arms, "failed": regressed}, indent=2), file=out)
        else:
            for t in tallies:
                errors = f", {len(t.errors)} errors" if t.errors else ""
                print(f"{t.arm}: {t.wins} win, {t.ties} tie, {t.losses} loss{errors}", file=out)
        return FAILED if regressed else OK
    report = bench.compare_arms(bench.resolve_run_id(args.run_id), args.arm, tools=args.tools, judge=args.judge)
    if args.json:
        print(
            json.dumps({"run_id": report.run_id, "arms": [r.to_document() for r in report.results]}, indent=2), file=out
        )
    else:
        print(f"arms on {report.run_id} (tools {args.tools}):", file=out)
        print("\n".join(report.table()), file=out)
    return FAILED if any(r.diff.verdict == "regression" for r in report.results) else OK


def _print_verify(result: VerifyResult, args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        print(json.dumps(result.to_document(), indent=2, default=str), file=out)
        return
    print(f"verify {result.line()}", file=out)
    if result.index is not None:
        print(f"  expected: {json.dumps(result.expected, default=str)[:400]}", file=out)
        print(f"  got:      {json.dumps(result.got, default=str)[:400]}", file=out)
    for note in result.notes:
        print(f"  note: {note}", file=out)


def cmd_fork(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fork RUN_ID --at STEP``: a new run inheriting the steps before STEP, continuing live from it."""
    edited = None
    if args.input is not None:
        try:
            edited = json.loads(args.input)
        except json.JSONDecodeError as error:
            raise UsageError(f"--input is not JSON ({error.msg}); give the step's input as a JSON object") from error
        if not isinstance(edited, dict):
            raise UsageError("--input must be a JSON object (the step's tool input)")
    args.tools = "recorded"
    result = bench.fork(
        bench.resolve_run_id(args.run_id),
        args.at,
        input=edited,
        replan=args.replan,
        overrides=_overrides(args),
        on_event=_progress(err if args.json else out),
    )
    if args.json:
        document = {
            **state_document(result.state),
            "forked_from": {"run_id": result.original_id, "step_id": result.step_id},
            "inherited_events": result.inherited,
            "verdict": result.diff.verdict if result.diff else None,
            "diff": result.diff.to_document() if result.diff else None,
        }
        print(json.dumps(document, indent=2, default=str), file=out)
    else:
        print(result.line(), file=out)
        if result.diff:
            print("\n".join(result.diff.summary_lines()), file=out)
        if result.state.pending_approval:
            _finish(result.state, args, out)
    return FAILED if result.state.status in ("failed", "cancelled") else OK


def cmd_record(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``record RUN_ID --to DIR``: a self-contained recording for the pytest plugin."""
    folder = write_recording(bench.store, bench.settings, bench.resolve_run_id(args.run_id), Path(args.to))
    print(f"recorded {folder}", file=out)
    return OK


def _check_api_bind(args: argparse.Namespace, settings: Settings) -> None:
    from agent_core import api  # FastAPI and uvicorn are loaded only for this command

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    api.check_bind(args.host, settings)


def cmd_api(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``api [--host H --port P]``: serve the HTTP API until interrupted; exit 2 beyond loopback without a token."""
    from agent_core import api

    api.serve(bench, args.host, args.port)
    return OK


def cmd_demo(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run, show the log, verify, what-if under the strict policy, verdict: the tour of the product."""
    print(f"== 1. running the demo goal with the {bench.planner_label()}\n   goal: {args.goal}", file=out)
    state = bench.run(RunRequest(args.goal), on_event=_progress(out))
    print(f"run {state.run_id}: {state.status}", file=out)
    print(f"\n== 2. the run's event log (python -m agent_core events {state.run_id[:8]})", file=out)
    show = _progress(out)
    for recorded in bench.run_events(state.run_id):
        show(recorded)
    print("\n== 3. verify: re-execute it with the current code from its recording alone", file=out)
    _print_verify(bench.verify(state.run_id), argparse.Namespace(json=False), out)
    strict = Path(__file__).resolve().parent.parent / "policies" / "strict.yaml"
    print(f"\n== 4. what-if: replay it with recorded tools under {strict.name}", file=out)
    outcome = bench.whatif(state.run_id, Overrides(policy_path=strict, tools="recorded"))
    print(f"replay {outcome.replay_id}: {outcome.state.status}", file=out)
    print("\n".join(outcome.diff.summary_lines()), file=out)
    print(
        f"\nnext: python -m agent_core replay {state.run_id[:8]} --list   |   "
        "python -m agent_core replay --all   (exit 1 on any regression: gate CI with it)",
        file=out,
    )
    return OK


COMMANDS: dict[str, Callable[[Workbench, argparse.Namespace, TextIO, TextIO], int]] = {
    "run": cmd_run,
    "runs": cmd_runs,
    "events": cmd_events,
    "approve": cmd_approve,
    "resume": cmd_resume,
    "cancel": cmd_cancel,
    "verify-log": cmd_verify_log,
    "export": cmd_export,
    "import": cmd_import,
    "replay": cmd_replay,
    "demo": cmd_demo,
    "otel-follow": otel_cli.cmd_follow,
    "fork": cmd_fork,
    "record": cmd_record,
    "api": cmd_api,
    "worker": cmd_worker,
}


# --- JSON documents ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def state_document(state: RunState) -> dict[str, Any]:
    """The run's state as plain JSON-able data (``--json`` output)."""
    document = {
        "run_id": state.run_id,
        "status": state.status,
        "goal": state.goal,
        "failure_reason": state.failure_reason,
        "final_summary": state.final_summary,
        "cost_usd": state.cost_usd,
        "input_tokens": state.input_tokens,
        "output_tokens": state.output_tokens,
        "replay_of": state.replay_of,
        "events": state.event_count,
        "steps": [
            {
                "step_id": s.step_id,
                "tool": s.tool,
                "outcome": s.outcome,
                "decision": s.decision,
                "rule": s.rule,
                "reason": s.reason,
                "input": s.input,
                "result": s.result,
            }
            for s in state.steps
        ],
    }
    pending = state.pending_approval
    document["pending_step"] = pending.step_id if pending else None
    return document


def _event_document(e: ev.RecordedEvent) -> dict[str, Any]:
    return {
        "position": e.position,
        "seq": e.seq,
        "type": e.type,
        "version": e.version,
        "actor": e.actor,
        "at": e.at.isoformat(),
        "hash": e.hash,
        "payload": e.event.to_payload(),
        "problem": e.problem,
    }
