"""The plan language shared by ``%%mine`` and ``llm-mine run``."""

from llm_magics.plan.parse import Plan, PlanSyntaxError, Step, parse_plan

__all__ = ["Plan", "PlanSyntaxError", "Step", "parse_plan"]
