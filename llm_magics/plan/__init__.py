"""The plan language shared by ``%%mine`` and ``llm-mine run``.

``parse`` reads a plan, ``verbs`` and ``check`` say what each line may do (from the op specs),
``steps`` runs one step, ``runner`` runs a plan (``mine_plan``, ``run_mine``), ``estimate`` times
it on a few rows, ``results`` holds what a run gives back and ``views`` draws it as HTML.

Layer: the plan may import the op specs and ops (``llm_magics.ops``), the mining functions
(``llm_magics.mining``), the engine's job listing and the model manager; never an entry point
(magics, cli, widgets, comm, accessor). Inside it imports run one way: ``runner`` → ``estimate``
→ ``steps`` → ``results`` → ``parse``, and ``views`` imports nothing of the plan.
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
