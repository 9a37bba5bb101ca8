"""The batched inference engine: ``generate``, ``score`` and ``embed`` on the manager's models.

Every call sorts rows by length into token-budget batches, computes identical rows once, reuses
the prompt prefix all rows share, keeps finished rows in a persistent cache (re-runs and
interrupted runs resume), shows progress, and can be cancelled between batches.

The engine may import ``runtime``, the bottom layer (``config``, ``errors``, ``units``), torch and
transformers; never ``ops`` or anything above it: it knows nothing of DataFrames or operations.

Arguments every primitive takes
-------------------------------
``generate``, ``score``, ``embed`` and ``predict`` share these keyword arguments (their docstrings
refer here):

batch_tokens
    Token budget of a batch, padding included (for ``generate``, the generated tokens too).
    ``None``: a default that depends on the primitive and the device (``engine.models``).
cache
    Use the persistent result cache: rows computed before with the same model and parameters are
    read back, and an interrupted run resumes.
progress
    Show a progress bar.
manager
    The ``ModelManager`` that loads the model and records the job (default: the kernel's,
    ``get_manager()``).
"""

from llm_magics.engine.cache import ResultCache, get_result_cache
from llm_magics.engine.embed import embed
from llm_magics.engine.generate import generate
from llm_magics.engine.jobs import Job
from llm_magics.engine.results import EmbedResult, GenerateResult, Provenance, ScoreResult
from llm_magics.engine.runner import time_limit
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
    "time_limit",
]
