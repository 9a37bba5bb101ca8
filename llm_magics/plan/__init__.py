"""The plan language shared by ``%%mine`` and ``llm-mine run``."""

from llm_magics.plan.check import VERBS, check_plan
from llm_magics.plan.parse import Plan, PlanSyntaxError, Step, parse_plan

__all__ = ["VERBS", "Plan", "PlanSyntaxError", "Step", "check_plan", "parse_plan"]
