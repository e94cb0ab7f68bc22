"""The policy guard: rules are data (policies/*.yaml), their implementations a fixed set in code.

A policy file lists rules in order; each names a ``kind`` from ``RULE_KINDS``, the tools it
``applies_to``, a description and its ``params``. ``Policy.evaluate`` runs them in file order:
the first rejection wins, else the first hold ("a person must approve"), else the step is
approved. Every decision names the rule that made it, and an error inside a rule rejects the
step (fail closed) with rule ``guard_error``. The file's sha256 goes into ``RunStarted``.
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent_core.config import sqlite_file
from agent_core.errors import ConfigError, PolicyError
from agent_core.plan import PlanStep
from agent_core.redaction import Redactor
from agent_core.tools import TOOLS, layers, sandbox
from agent_core.tools.base import validation_message

Outcome = Literal["approve", "reject", "hold"]
ALLOWED_RULE = "allowed"
GUARD_ERROR_RULE = "guard_error"
MAX_ENV_SCAN_ENTRIES = 20_000


@dataclass(frozen=True)
class Decision:
    """The guard's verdict on one step; ``rule`` is the rule that made it (``allowed`` when none objected)."""

    outcome: Outcome
    rule: str
    reason: str


@dataclass(frozen=True)
class PolicyContext:
    """What the guard knows about the run besides the step: built by the orchestrator from the projection."""

    workspace: Path
    database_path: Path | None
    tool_calls_so_far: int
    spent_usd: float
    budget_usd: float
    read_through: Path | None = None
    """A read-only layer below the workspace (a what-if with live tools): paths are checked in both layers."""
    redactor: Redactor | None = None
    """The run's redactor (built once per orchestrator); None builds one from the environment."""
    inspected: dict[PurePosixPath, sandbox.Target | sandbox.SandboxError] = field(
        default_factory=dict, compare=False, repr=False
    )
    """The workspace as one evaluation saw it (``evaluate`` starts each with an empty one): the path rules
    inspect a path once per decision, not once each."""


@dataclass(frozen=True)
class RuleInfo:
    """One rule as the dashboard's "rules in force" table shows it."""

    name: str
    applies_to: str
    effect: str
    description: str


# --- rule implementations: (params, step, ctx) -> violation reason or None ---------------------


class _Params(BaseModel):
    # Strict: in a policy, ``limit: true`` or ``max_bytes: "100"`` is a mistake to report, not a number.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class NoParams(_Params):
    """A rule kind that takes no parameters."""

    pass


class ToolAllowlistParams(_Params):
    """``tools``: the tools that may run."""

    tools: list[str] = Field(default_factory=lambda: list(TOOLS))
    """Default: every registered tool."""


class RequiredFieldsParams(_Params):
    """``fields``: per tool, the input fields that must be non-empty."""

    fields: dict[str, list[str]] = Field(default_factory=lambda: {n: list(s.required) for n, s in TOOLS.items()})
    """Default: each tool's declared ``ToolSpec.required``."""


class PathFieldParams(_Params):
    """``field``: the input field holding the workspace path."""

    field: str = "path"


class SecretNamesParams(_Params):
    """``patterns``: file name globs no tool may touch."""

    field: str = "path"
    patterns: list[str] = Field(default_factory=lambda: list(sandbox.DEFAULT_SECRET_PATTERNS))


class SizeCapParams(_Params):
    """``max_bytes``: the most a write may carry."""

    field: str = "content"
    max_bytes: int = Field(gt=0)


class MaxToolCallsParams(_Params):
    """``limit``: tool calls per run."""

    limit: int = Field(ge=1)


class RequireApprovalParams(_Params):
    """``reason``: what the person approving is told."""

    reason: str = "this policy requires a person to approve this tool"


def _path_of(step: PlanStep, field: str) -> PurePosixPath:
    return sandbox.check_relative(step.input.get(field))


def _tool_allowlist(p: ToolAllowlistParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    if step.tool in p.tools:
        return None
    return f"tool {step.tool!r} is not allowed; allowed tools: {', '.join(p.tools)}"


def _input_schema(p: NoParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    spec = TOOLS.get(step.tool)
    if spec is None:
        return f"tool {step.tool!r} has no input schema; known tools: {', '.join(sorted(TOOLS))}"
    try:
        spec.input_model.model_validate(step.input)
    except ValidationError as e:
        return f"invalid input for {step.tool!r}: {validation_message(e, step.input)}"
    return None


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict | tuple) and not value


def _required_fields(p: RequiredFieldsParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    missing = [f for f in p.fields.get(step.tool, []) if _blank(step.input.get(f))]
    if not missing:
        return None
    reason = f"{step.tool} needs non-empty {', '.join(repr(f) for f in missing)} in its input"
    sources = step.input.get("from_steps") or step.input.get("from_step")
    if sources:
        reason += f" (the earlier steps it draws on, {sources!r}, produced no output)"
    return reason


def _no_secrets(p: NoParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    # The log keeps a step's input redacted and the run acts on the log: a secret in the input
    # (or a mark where one was redacted on the way in) means the step would run altered.
    redactor = ctx.redactor or Redactor()
    held = {field: found for field, value in step.input.items() if (found := redactor.secrets_in(value))}
    if not held:
        return None
    fields = ", ".join(repr(f) for f in held)
    kinds = ", ".join(sorted({label for found in held.values() for label in found}))
    return (
        f"the input's {fields} {'holds' if len(held) == 1 else 'hold'} a secret ({kinds}); the log keeps only its "
        "redacted form, so the step is refused rather than run with an altered input; take the secret out of the "
        "goal or of the file it came from"
    )


def _inspect(step: PlanStep, field_name: str, ctx: PolicyContext) -> sandbox.Target:
    """``layers.inspect`` of the step's path, or its ``SandboxError``, once per evaluation (``ctx.inspected``)."""
    rel = _path_of(step, field_name)
    seen = ctx.inspected.get(rel)
    if seen is None:
        try:
            seen = layers.inspect(ctx.workspace, ctx.read_through, rel, ctx.database_path)
        except sandbox.SandboxError as error:
            seen = error
        ctx.inspected[rel] = seen
    if isinstance(seen, sandbox.SandboxError):
        raise seen
    return seen


def _workspace_paths(p: PathFieldParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    try:
        _inspect(step, p.field, ctx)
    except sandbox.SandboxError as e:
        return str(e)
    return None


def _lexical_path(step: PlanStep, field: str) -> PurePosixPath | None:
    """The path if it is well-formed; a malformed one is the ``workspace_paths`` rule's to name."""
    try:
        return _path_of(step, field)
    except sandbox.SandboxError:
        return None


def _secret_names(p: SecretNamesParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    rel = _lexical_path(step, p.field)
    try:
        if rel is not None:
            sandbox.check_name(rel, p.patterns)
    except sandbox.SandboxError as e:
        return str(e)
    return None


def _event_database(p: PathFieldParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    rel = _lexical_path(step, p.field)
    if rel is None:
        return None
    candidate = Path(os.path.realpath(ctx.workspace)) / rel
    if sandbox.is_database_path(candidate, ctx.database_path):
        return f"{str(rel)!r} is the event database; no tool may touch it"
    return None


def _write_size_cap(p: SizeCapParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    size = len(str(step.input.get(p.field) or "").encode("utf-8"))
    if size <= p.max_bytes:
        return None
    return f"{p.field!r} is {size} bytes; this policy's limit is {p.max_bytes} bytes per write"


def _no_overwrite(p: PathFieldParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    try:
        target = _inspect(step, p.field, ctx)
    except sandbox.SandboxError as e:
        return str(e)
    if not target.exists:
        return None
    return overwrite_reason(str(target.rel), target.size)


_OVERWRITE_TAIL = " bytes); overwriting it needs a person's approval"


def overwrite_reason(path: str, size: int | None) -> str:
    """What ``no_overwrite`` says of an existing file: its path and size at the time of the decision."""
    return f"{path!r} exists ({size}{_OVERWRITE_TAIL}"


def overwritten_file(reason: str) -> tuple[str, int] | None:
    """The path and size an ``overwrite_reason`` names, or None for any other text (recorded reasons may come
    from an imported log: nothing in them is evaluated). Verify rebuilds the file's size from it: the
    size is in the recorded reason, and the run may never have read the file."""
    head, found, tail = reason.rpartition(" exists (")
    if not found or not tail.endswith(_OVERWRITE_TAIL):
        return None
    size = tail.removesuffix(_OVERWRITE_TAIL)
    try:
        path = ast.literal_eval(head) if head[:1] in ("'", '"') and head[-1:] == head[:1] else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(path, str) or not (size.isascii() and size.isdigit() and len(size) <= 18):
        return None
    return (path, int(size)) if overwrite_reason(path, int(size)) == reason else None


def _max_tool_calls(p: MaxToolCallsParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    if ctx.tool_calls_so_far < p.limit:
        return None
    return f"the run already made {ctx.tool_calls_so_far} tool calls; this policy allows {p.limit} per run"


def _budget(p: NoParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    if ctx.spent_usd < ctx.budget_usd:
        return None
    return (
        f"the run has spent ${ctx.spent_usd:.4f} of its ${ctx.budget_usd:.2f} budget; start it with a larger --budget"
    )


def _require_approval(p: RequireApprovalParams, step: PlanStep, ctx: PolicyContext) -> str | None:
    return p.reason


Scope = Literal["all", "paths", "writes"]


def tools_in_scope(scope: Scope) -> tuple[str, ...]:
    """The tools a rule applies to when its file names none: all, those taking a workspace path, or writers."""
    if scope == "paths":
        return tuple(n for n, s in TOOLS.items() if s.path_field)
    if scope == "writes":
        return tuple(n for n, s in TOOLS.items() if s.writes)
    return ("*",)


@dataclass(frozen=True)
class RuleKind:
    """A rule kind: its params model, its check and its effect; ``scope`` is its default ``applies_to``."""

    params: type[_Params]
    check: Callable[[Any, PlanStep, PolicyContext], str | None]
    effect: Literal["reject", "hold"]
    scope: Scope = "all"


RULE_KINDS: dict[str, RuleKind] = {
    "tool_allowlist": RuleKind(ToolAllowlistParams, _tool_allowlist, "reject"),
    "input_schema": RuleKind(NoParams, _input_schema, "reject"),
    "required_fields": RuleKind(RequiredFieldsParams, _required_fields, "reject"),
    "no_secrets": RuleKind(NoParams, _no_secrets, "reject", "all"),  # any input can carry one
    "event_database": RuleKind(PathFieldParams, _event_database, "reject", "paths"),
    "secret_names": RuleKind(SecretNamesParams, _secret_names, "reject", "paths"),
    "workspace_paths": RuleKind(PathFieldParams, _workspace_paths, "reject", "paths"),
    "write_size_cap": RuleKind(SizeCapParams, _write_size_cap, "reject", "writes"),
    "no_overwrite": RuleKind(PathFieldParams, _no_overwrite, "hold", "writes"),
    "max_tool_calls": RuleKind(MaxToolCallsParams, _max_tool_calls, "reject"),
    "budget": RuleKind(NoParams, _budget, "reject"),
    "require_approval": RuleKind(RequireApprovalParams, _require_approval, "hold"),
}


# --- the policy file -------------------------------------------------------------------------


class _RuleSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    kind: str
    applies_to: list[str] | None = Field(default=None, min_length=1)
    description: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class _PolicySpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "policy"
    description: str = ""
    rules: list[_RuleSpec] = Field(min_length=1)


@dataclass(frozen=True)
class _Rule:
    name: str
    applies_to: tuple[str, ...]
    kind: RuleKind
    params: _Params

    def applies(self, tool: str) -> bool:
        return "*" in self.applies_to or tool in self.applies_to


_LOADED: dict[tuple[str, bytes], Policy] = {}


class Policy:
    """A loaded policy file: its text and sha (recorded with the run) and its ordered rules."""

    def __init__(self, path: Path, text: str, sha: str, spec: _PolicySpec) -> None:
        self.path = path
        self.text = text
        self.sha = sha
        self.name = spec.name
        self.description = spec.description
        self._rules = [_build_rule(r, path) for r in spec.rules]
        self.rules = [
            RuleInfo(
                r.name,
                "all tools" if "*" in r.applies_to else ", ".join(r.applies_to),
                r.kind.effect,
                d.description,
            )
            for r, d in zip(self._rules, spec.rules, strict=True)
        ]

    @classmethod
    def load(cls, path: Path) -> Policy:
        """Read and validate a policy file; ``PolicyError`` says which line or rule to fix."""
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise PolicyError(f"policy file {str(path)!r} not found; set AGENT_POLICY to an existing file") from None
        except IsADirectoryError:
            raise PolicyError(
                f"policy file {str(path)!r} is a folder; name a policy file such as policies/default.yaml"
            ) from None
        except OSError as e:
            raise PolicyError(f"cannot read policy file {str(path)!r}: {e.strerror or e}") from e
        # Parsing YAML costs more than a whole tool step; a policy is immutable, so reuse it while the bytes match.
        key = (str(path), hashlib.sha256(raw).digest())
        cached = _LOADED.get(key)
        if cached is None:
            if len(_LOADED) >= 64:
                _LOADED.clear()
            cached = _LOADED[key] = cls.from_bytes(raw, Path(path))
        return cached

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path) -> Policy:
        """Parse and validate a policy file's bytes; ``PolicyError`` says which line or rule to fix."""
        try:
            text = raw.decode("utf-8")
            data = yaml.safe_load(text)
        except UnicodeDecodeError:
            raise PolicyError(f"policy file {str(path)!r} is not UTF-8 text") from None
        except yaml.YAMLError as e:
            raise PolicyError(f"policy file {str(path)!r} is not valid YAML{_yaml_problem(e)}") from None
        if not isinstance(data, dict):
            raise PolicyError(f"policy file {str(path)!r} must be a mapping with a 'rules' list")
        try:
            spec = _PolicySpec.model_validate(data)
        except ValidationError as e:
            raise PolicyError(f"policy file {str(path)!r}: {_errors(e)}") from None
        names = [r.name for r in spec.rules]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise PolicyError(f"policy file {str(path)!r}: rule name {duplicate!r} is used twice; names must be unique")
        reserved = {ALLOWED_RULE, GUARD_ERROR_RULE} & set(names)
        if reserved:
            raise PolicyError(f"policy file {str(path)!r}: rule name {reserved.pop()!r} is reserved; rename the rule")
        return cls(path, text, hashlib.sha256(raw).hexdigest(), spec)

    def evaluate(self, step: PlanStep, ctx: PolicyContext) -> Decision:
        """Run the rules in file order on the step's *resolved* input; first reject wins, else first hold."""
        hold: Decision | None = None
        checked = 0
        ctx = replace(ctx, inspected={})
        for rule in self._rules:
            if not rule.applies(step.tool):
                continue
            try:
                reason = rule.kind.check(rule.params, step, ctx)
            except Exception as e:  # fail closed: a broken rule must not let a step through
                return Decision(
                    "reject", GUARD_ERROR_RULE, f"rule {rule.name!r} failed ({type(e).__name__}: {e}); step rejected"
                )
            checked += 1
            if reason is None:
                continue
            if rule.kind.effect == "reject":
                return Decision("reject", rule.name, reason)
            hold = hold or Decision("hold", rule.name, reason)
        return hold or Decision("approve", ALLOWED_RULE, f"{checked} rules checked, none objected")


def _yaml_problem(error: yaml.YAMLError) -> str:
    """Where and what, on one line (the parser's own message spans several lines with a code excerpt)."""
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    return f"{where}: {' '.join(str(problem).split())}; fix the file (see policies/default.yaml for the format)"


def _errors(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, x['loc'])) or 'file'}: {x['msg']}" for x in error.errors())


def _build_rule(spec: _RuleSpec, path: Path) -> _Rule:
    kind = RULE_KINDS.get(spec.kind)
    if kind is None:
        raise PolicyError(
            f"policy file {str(path)!r}: rule {spec.name!r} has unknown kind {spec.kind!r}; "
            f"known kinds: {', '.join(RULE_KINDS)}"
        )
    applies_to = tuple(spec.applies_to) if spec.applies_to is not None else tools_in_scope(kind.scope)
    unknown = [t for t in applies_to if t != "*" and t not in TOOLS]
    if unknown:
        raise PolicyError(
            f"policy file {str(path)!r}: rule {spec.name!r} applies to unknown tool {unknown[0]!r}; "
            f"use '*' or one of {', '.join(TOOLS)}"
        )
    try:
        params = kind.params.model_validate(spec.params)
    except ValidationError as e:
        raise PolicyError(f"policy file {str(path)!r}: rule {spec.name!r} params: {_errors(e)}") from None
    return _Rule(spec.name, applies_to, kind, params)


# --- start-up check --------------------------------------------------------------------------


def check_database_outside(workspace: Path, database_url: str) -> None:
    """Refuse an event database inside the workspace (``ConfigError``), whether or not either exists yet.

    Called before the store is opened, so that nothing is created in the wrong place; a SQLite
    URL that cannot be resolved is refused too (fail closed).
    """
    db = sqlite_file(database_url)
    if db is not None and sandbox.is_inside(Path(os.path.realpath(workspace)), db):
        raise ConfigError(
            f"the event database {str(db)!r} is inside the workspace {str(workspace)!r}, where file tools could "
            "read or overwrite it; move DATABASE_URL outside the workspace or choose another AGENT_WORKSPACE"
        )


def check_workspace(workspace: Path, database_url: str) -> None:
    """Refuse a workspace that holds the event database or a ``.env``, or is a file (``ConfigError``)."""
    check_database_outside(workspace, database_url)
    root = Path(os.path.realpath(workspace))
    if not root.exists():
        return  # nothing inside it yet; the file tools report a missing workspace when they run
    if not root.is_dir():
        raise ConfigError(f"workspace {str(workspace)!r} is not a folder; set AGENT_WORKSPACE to a folder")
    found = _find_env_file(root)
    if found is not None:
        raise ConfigError(
            f"the workspace {str(workspace)!r} contains {found!r}, a secrets file; move it out of the workspace "
            "or choose another AGENT_WORKSPACE"
        )


def _find_env_file(root: Path) -> str | None:
    seen = 0
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(filenames + dirnames):
            seen += 1
            if name == ".env" or name.startswith(".env."):
                return Path(folder, name).relative_to(root).as_posix()
        if seen > MAX_ENV_SCAN_ENTRIES:
            return None
        dirnames.sort()
    return None
