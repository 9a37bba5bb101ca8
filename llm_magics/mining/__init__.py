"""Mining a target column: features, model selection, tuning, honest evaluation, explanation."""

from llm_magics.mining.mine import candidate_names, mine
from llm_magics.mining.narrative import Narrative
from llm_magics.mining.result import MiningResult

__all__ = ["MiningResult", "Narrative", "candidate_names", "mine"]
