"""Planning: the versioned prompt, the one plan validator, and the bounded request/repair loop.

``parse_plan`` is the one validator every provider's answer goes through; ``request_plan`` asks
a ``Planner`` at most ``max_attempts`` times and reports everything it does as events, in order.
"""

from agent_core.planning.parse import MAX_ANSWER_CHARS, PlanLimits, PlanRejection, parse_plan
from agent_core.planning.prompt import (
    CURRENT_PROMPT,
    LEGACY_PROMPT,
    PLAN_JSON_SCHEMA,
    PROMPT_VERSION,
    PROMPT_VERSIONS,
    SYSTEM_PROMPT,
    PromptVersion,
    build_repair_message,
    build_user_message,
    parse_goal,
    plan_json_schema,
    prompt_sha,
    prompt_version_for,
)
from agent_core.planning.request import (
    BUDGET_MARKER,
    PROVIDER_FAILURE_MARKER,
    TRUNCATED_MARKER,
    PlanOutcome,
    budget_left,
    request_plan,
)

__all__ = [
    "BUDGET_MARKER",
    "CURRENT_PROMPT",
    "LEGACY_PROMPT",
    "MAX_ANSWER_CHARS",
    "PLAN_JSON_SCHEMA",
    "PROMPT_VERSION",
    "PROMPT_VERSIONS",
    "PROVIDER_FAILURE_MARKER",
    "SYSTEM_PROMPT",
    "TRUNCATED_MARKER",
    "PlanLimits",
    "PlanOutcome",
    "PlanRejection",
    "PromptVersion",
    "budget_left",
    "build_repair_message",
    "build_user_message",
    "parse_goal",
    "parse_plan",
    "plan_json_schema",
    "prompt_sha",
    "prompt_version_for",
    "request_plan",
]
