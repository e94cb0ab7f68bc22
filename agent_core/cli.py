"""The command line: ``python -m agent_core COMMAND`` per DESIGN.md's CLI contract.

Exit codes: 0 ok; 1 the run failed (or a replay regressed); 2 bad usage or bad input, with a
one-line reason on stderr and nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, TextIO

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.describe import summarize_event
from agent_core.errors import AgentError, ConcurrencyError, RunNotFound, RunStateError
from agent_core.orchestrator import RunRequest, RunRequestError
from agent_core.projections import RunState
from agent_core.transfer import TransferError, export_lines, import_lines
from agent_core.workbench import Workbench

OK, FAILED, USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments: exit 2 with a one-line reason."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
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
    run.add_argument("--planner", default="auto", choices=["auto", "offline", "anthropic", "openai"])
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
    export = command("export", "print a run as JSON lines")
    export.add_argument("run_id")
    imp = command("import", "read a run exported as JSON lines (refuses an existing run id)")
    imp.add_argument("file")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        print(f"error: {error}", file=err)
        return USAGE
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    try:
        settings = Settings(**({"DATABASE_URL": args.db} if args.db else {}))
        bench = Workbench.open(settings)
    except AgentError as error:
        print(f"error: {error}", file=err)
        return USAGE
    try:
        return COMMANDS[args.command](bench, args, out, err)
    except (RunNotFound, RunRequestError, TransferError, RunStateError) as error:
        print(f"error: {error}", file=err)
        return USAGE
    except ConcurrencyError as error:
        print(f"error: another process is driving this run ({error})", file=err)
        return FAILED
    except AgentError as error:
        print(f"error: {error}", file=err)
        return FAILED
    finally:
        bench.close()


# --- commands -------------------------------------------------------------------------------


def _progress(out: TextIO) -> Callable[[ev.RecordedEvent], None]:
    def show(recorded: ev.RecordedEvent) -> None:
        print(
            f"{recorded.seq:>4}  {recorded.actor:<13} {recorded.type:<20} {summarize_event(recorded.event)}", file=out
        )
        out.flush()

    return show


def _finish(state: RunState, args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        print(json.dumps(state_document(state), indent=2, default=str), file=out)
    else:
        print(f"run {state.run_id}: {state.status}" + (f" — {state.failure_reason}" if state.failure_reason else ""),
              file=out)  # fmt: skip
        if state.pending_approval:
            step = state.pending_approval
            print(f"waiting: approve with 'python -m agent_core approve {state.run_id} {step.step_id}' "
                  f"(or --deny); held by rule {step.rule}: {step.reason}", file=out)  # fmt: skip
    return FAILED if state.status in ("failed", "cancelled") else OK


def cmd_run(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    request = RunRequest(args.goal, args.max_steps, args.budget, args.planner, args.model).validate()
    state = bench.run(request, on_event=_progress(err if args.json else out))
    return _finish(state, args, out)


def cmd_runs(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    runs = bench.list_runs(limit=args.limit)
    if args.json:
        print(json.dumps([_plain(r) for r in runs], indent=2, default=str), file=out)
        return OK
    if not runs:
        print('no runs yet: start one with python -m agent_core run "GOAL"', file=out)
    for r in runs:
        lineage = f"  replay of {r.replay_of[:8]}" if r.replay_of else ""
        print(f"{r.run_id[:12]:<12}  {r.status:<16} {r.started_at:%Y-%m-%d %H:%M:%S}  ${r.cost_usd:.4f}  "
              f"{r.steps_ok}/{r.steps_planned} ok  {r.goal[:60]}{lineage}", file=out)  # fmt: skip
    return OK


def cmd_events(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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
    run_id = bench.resolve_run_id(args.run_id)
    decide = bench.deny if args.deny else bench.approve
    decide(run_id, args.step_id, by=args.by, comment=args.comment)
    state = bench.advance(run_id, on_event=_progress(err if args.json else out))
    return _finish(state, args, out)


def cmd_resume(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    state = bench.advance(bench.resolve_run_id(args.run_id), on_event=_progress(err if args.json else out))
    return _finish(state, args, out)


def cmd_cancel(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    state = bench.cancel(bench.resolve_run_id(args.run_id), by="cli")
    _finish(state, args, out)
    return OK


def cmd_verify_log(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    run_id = bench.resolve_run_id(args.run_id) if args.run_id else None
    problem = bench.store.verify_chain(run_id)
    if problem is None:
        print(f"ok: the hash chain of {'run ' + run_id if run_id else 'every run'} verifies", file=out)
        return OK
    print(f"tampered: run {problem.run_id} seq {problem.seq} (position {problem.position}): {problem.reason}", file=out)
    return FAILED


def cmd_export(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    for line in export_lines(bench.store, bench.resolve_run_id(args.run_id)):
        print(line, file=out)
    return OK


def cmd_import(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise TransferError(f"no file {args.file!r}")
    with path.open(encoding="utf-8") as lines:
        run_id = import_lines(bench.store, lines)
    print(f"imported run {run_id}", file=out)
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
            {"step_id": s.step_id, "tool": s.tool, "outcome": s.outcome, "decision": s.decision, "rule": s.rule,
             "reason": s.reason, "input": s.input, "result": s.result}
            for s in state.steps
        ],
    }  # fmt: skip
    pending = state.pending_approval
    document["pending_step"] = pending.step_id if pending else None
    return document


def _event_document(e: ev.RecordedEvent) -> dict[str, Any]:
    return {"position": e.position, "seq": e.seq, "type": e.type, "version": e.version, "actor": e.actor,
            "at": e.at.isoformat(), "hash": e.hash, "payload": e.event.to_payload(), "problem": e.problem}  # fmt: skip
