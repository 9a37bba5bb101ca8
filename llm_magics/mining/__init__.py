"""Mining a target column: features, model selection, tuning, honest evaluation, explanation.

Mining may import ``ops``, ``engine``, ``runtime`` and the bottom layer; its results reach
charts and panels only through the late imports of ``llm_magics.conveniences``.
"""

from llm_magics.mining.mine import candidate_names, mine
from llm_magics.mining.narrative import Narrative
from llm_magics.mining.result import MiningResult

__all__ = ["MiningResult", "Narrative", "candidate_names", "mine"]
