"""Replay: verify a recorded run against the current code, what-if replays, replay-all, policy counterfactuals.

- ``verify`` re-executes with the current orchestrator into a scratch store and compares the
  normalised streams: identical, or the first diverging event and why.
- ``whatif`` writes a new run (``replay_of``/``replay_mode`` set) with overrides, records its
  verdict against the original as ``ReplayDiffed``, and never touches the real workspace.
- ``replay_all`` runs either over every original: what CI calls before a prompt or policy ships.
- ``policy_counterfactual`` re-decides the recorded plans of recent runs under another policy
  file without executing anything.
- ``diff_runs`` aligns two runs step by step and gives a verdict with reasons.
- ``compare_runs`` does the same for any two runs and adds per-step cost, tokens and latency.
- ``compare_arms`` replays one recording per arm (models, providers, prompts), judged on request.
- ``fork`` starts a new run from a step of a recorded one: the prefix inherited, the rest live.
"""

from agent_core.replay.arms import Arm, ArmResult, ArmsReport, ArmTally, compare_arms, compare_arms_all, parse_arm
from agent_core.replay.batch import ReplayAllReport, originals, replay_all
from agent_core.replay.compare import RunComparison, StepFigures, compare_runs
from agent_core.replay.counterfactual import CounterfactualReport, DecisionChange, policy_counterfactual
from agent_core.replay.diff import DEFAULT_COST_SHARE, RunDiff, StepDiff, diff_runs
from agent_core.replay.driver import Overrides, ReplayError, ToolsMode
from agent_core.replay.fork import ForkResult, fork, record_fork_verdict
from agent_core.replay.judge import JudgeKind
from agent_core.replay.recording import (
    NO_RECORDING_ERROR,
    RecordedCall,
    RecordedTools,
    Recording,
    load_recording,
    shadow_workspace,
)
from agent_core.replay.scratch import Scratch, scratch_space, scratch_store
from agent_core.replay.verify import VerifyResult, expected_stream, verify
from agent_core.replay.whatif import WhatIfResult, continue_replay, whatif

__all__ = [
    "DEFAULT_COST_SHARE",
    "NO_RECORDING_ERROR",
    "Arm",
    "ArmResult",
    "ArmTally",
    "ArmsReport",
    "CounterfactualReport",
    "DecisionChange",
    "ForkResult",
    "JudgeKind",
    "Overrides",
    "RecordedCall",
    "RecordedTools",
    "Recording",
    "ReplayAllReport",
    "ReplayError",
    "RunComparison",
    "RunDiff",
    "Scratch",
    "StepDiff",
    "StepFigures",
    "ToolsMode",
    "VerifyResult",
    "WhatIfResult",
    "compare_arms",
    "compare_arms_all",
    "compare_runs",
    "continue_replay",
    "diff_runs",
    "expected_stream",
    "fork",
    "load_recording",
    "originals",
    "parse_arm",
    "policy_counterfactual",
    "record_fork_verdict",
    "replay_all",
    "scratch_space",
    "scratch_store",
    "shadow_workspace",
    "verify",
    "whatif",
]
