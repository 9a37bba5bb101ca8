"""Mining a target column: features, model selection, tuning, honest evaluation, explanation.

Beside ``ops`` in the layers: it may import ``ops``, ``engine``, ``runtime``, ``config`` and
``errors``, never ``plan`` or an entry point. ``MiningResult``'s charts and tuning panel come
late, through ``llm_magics.conveniences``.
"""

from llm_magics.mining.mine import candidate_names, mine
from llm_magics.mining.narrative import Narrative
from llm_magics.mining.result import MiningResult

__all__ = ["MiningResult", "Narrative", "candidate_names", "mine"]
