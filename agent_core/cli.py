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
from agent_core.config import load_settings
from agent_core.describe import summarize_event
from agent_core.errors import AgentError, ConcurrencyError, RunNotFound, RunStateError
from agent_core.orchestrator import RunRequest, RunRequestError
from agent_core.projections import RunState
from agent_core.providers import planner_choices
from agent_core.replay import Overrides, ReplayError, VerifyResult
from agent_core.replay.diff import DEFAULT_COST_SHARE
from agent_core.transfer import TransferError, export_lines, import_lines
from agent_core.workbench import Workbench

OK, FAILED, USAGE = 0, 1, 2
DEMO_GOAL = "Research the latest developments in AI agent frameworks and summarize the key findings"


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
    export = command("export", "print a run as JSON lines")
    export.add_argument("run_id")
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
    rep.add_argument("--list", action="store_true", help="list RUN_ID's replays with their verdicts")
    rep.add_argument(
        "--counterfactual",
        type=int,
        metavar="N",
        help="with --policy: the decisions it would change on the last N runs (nothing runs)",
    )
    rep.add_argument("--json", action="store_true")

    demo = command("demo", "the newcomer's walkthrough: run the demo goal, show its log, replay it, verdict")
    demo.add_argument("--goal", default=DEMO_GOAL)
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
        settings = load_settings(**({"DATABASE_URL": args.db} if args.db else {}))
        bench = Workbench.open(settings)
    except AgentError as error:
        print(f"error: {error}", file=err)
        return USAGE
    try:
        return COMMANDS[args.command](bench, args, out, err)
    except (RunNotFound, RunRequestError, TransferError, RunStateError, ReplayError, UsageError) as error:
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
        lineage = f"  replay of {r.replay_of[:8]}" + (f" ({r.verdict})" if r.verdict else "") if r.replay_of else ""
        print(
            f"{r.run_id[:12]:<12}  {r.status:<16} {r.started_at:%Y-%m-%d %H:%M:%S}  ${r.cost_usd:.4f}  "
            f"{r.steps_ok}/{r.steps_planned} ok  {r.goal[:60]}{lineage}",
            file=out,
        )
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


def _overrides(args: argparse.Namespace) -> Overrides:
    prompt = None
    if args.system_prompt:
        path = Path(args.system_prompt)
        if not path.is_file():
            raise UsageError(f"no system prompt file {args.system_prompt!r}")
        prompt = path.read_text(encoding="utf-8")
    if args.policy and not Path(args.policy).is_file():
        raise UsageError(f"no policy file {args.policy!r}")
    return Overrides(args.planner, args.model, prompt, Path(args.policy) if args.policy else None, args.tools)


def cmd_replay(bench: Workbench, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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
    mode = args.mode or ("verify" if overrides.empty else "whatif")
    if args.all:
        show = None if args.json else (lambda line: print(line, file=out, flush=True))
        report = bench.replay_all(mode, overrides, on_result=show)
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
