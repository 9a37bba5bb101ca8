"""The batched inference engine: ``generate``, ``score`` and ``embed`` on the manager's models.

Every call sorts rows by length into token-budget batches, computes identical rows once, reuses
the prompt prefix all rows share, keeps finished rows in a persistent cache (re-runs and
interrupted runs resume), shows progress, and can be cancelled between batches.
"""

from llm_magics.engine.cache import ResultCache, get_result_cache
from llm_magics.engine.embed import embed
from llm_magics.engine.generate import generate
from llm_magics.engine.jobs import Job
from llm_magics.engine.results import EmbedResult, GenerateResult, Provenance, ScoreResult
from llm_magics.engine.score import score

__all__ = [
    "EmbedResult",
    "GenerateResult",
    "Job",
    "Provenance",
    "ResultCache",
    "ScoreResult",
    "embed",
    "generate",
    "get_result_cache",
    "score",
]
