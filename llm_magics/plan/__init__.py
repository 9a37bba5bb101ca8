"""The plan language shared by ``%%mine`` and ``llm-mine run``.

The plan may import ``backends``, ``plots``, ``mining``, ``ops`` and the layers below them; never an
entry point (``magics``, ``cli``, ``widgets``, ``comm``, ``accessor``).
"""

from llm_magics.plan.check import check_plan
from llm_magics.plan.parse import Plan, PlanSyntaxError, Step, parse_plan
from llm_magics.plan.verbs import EXAMPLES, VERBS, describe

__all__ = [
    "EXAMPLES",
    "VERBS",
    "Plan",
    "PlanSyntaxError",
    "Step",
    "check_plan",
    "describe",
    "parse_plan",
]
