"""The plan an LLM must return: the data shape only (parsing and prompting live in ``planning``).

Kept apart so that events, policy and tools can name a ``PlanStep`` without importing the
planner machinery.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PlanStep(BaseModel):
    """One tool call the agent intends to make, fixed before any tool output exists."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    objective: str = Field(min_length=1, max_length=1000)
    tool: str = Field(min_length=1, max_length=64)
    input: dict[str, Any]
    success_criteria: str = Field(min_length=1, max_length=1000)


class Plan(BaseModel):
    """A bounded list of steps and the conditions under which the agent should stop early."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    steps: list[PlanStep] = Field(min_length=1)
    stop_conditions: list[str] = Field(default_factory=list)

    def tools(self) -> list[str]:
        """The tool of each step, in order."""
        return [step.tool for step in self.steps]
