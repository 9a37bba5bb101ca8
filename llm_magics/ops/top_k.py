"""``top_k``: the rows that best match a query, best first.

Embedding retrieval picks a candidate pool, which the chat model's scored relevance re-ranks
(LOTUS ``sem_topk``). (Implementation and its measured figures: issue 21.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from llm_magics.ops.base import operation
from llm_magics.ops.spec import OpSpec, Setting, Uses

__all__ = ["SPEC", "top_k"]


def _rows(frame: pd.DataFrame, result: pd.DataFrame) -> pd.DataFrame:
    """The chosen rows of ``frame``, best first, with all their columns and the score."""
    score = result.columns[-1]
    return frame.loc[result.index].assign(**{score: result[score]})


def _columns_after(
    available: Sequence[str],
    columns: Sequence[str],
    outputs: Sequence[str],
    options: Mapping[str, Any],
) -> list[str]:
    """A plan's frame after ``top_k``: its columns, then the score."""
    return [*available, *outputs]


SPEC = OpSpec(
    name="top_k",
    uses=(Uses("embed", "embed"), Uses("chat", "score", argument="chat_model")),
    by_method={
        "embed": (Uses("embed", "embed"),),
        "llm": (Uses("embed", "embed"), Uses("chat", "score", argument="chat_model")),
    },
    outputs=("{column}_score",),
    output_kind="frame",
    prompts=("top_k",),
    row_wise=False,
    argument="query",
    plan_argument="quoted",
    example='top_k review "broken packaging"  k=20',
    tunable=(
        Setting("k", "int", "rows", low=1, high=100, step=1),
        Setting("method", "choice", "method", choices=("llm", "embed")),
    ),
    result_name="top",
    reshape=_rows,
    columns_after=_columns_after,
    cost="~ rows (the embedding), plus a candidate pool scored that grows with k, not the rows",
)


@operation(SPEC)
def top_k(
    texts: pd.Series,
    query: str,
    *,
    k: int = 10,
    pool: int | None = None,
    method: str = "llm",
    chat_model: str | None = None,
    backend: Any = "local",
    **engine: Any,
) -> pd.DataFrame:
    """The ``k`` texts that best match ``query``, best first.

    Parameters
    ----------
    texts
        The text column.
    query
        What the rows should be about ("broken packaging").
    k
        How many rows to return (fewer when fewer rows have text).
    pool
        Candidates the embedding retrieval passes to the re-ranking (``None``: a measured default
        from ``k``).
    method
        ``"llm"``: the chat model re-ranks the pool; ``"embed"``: the similarity alone.
    chat_model
        The chat model that re-ranks.
    backend
        Where the embeddings and relevance scores are computed (``"local"`` or ``"ray"``).

    Returns
    -------
    pandas.DataFrame
        At most ``k`` rows, best first, indexed by their labels in ``texts``: the text column
        and ``<column>_score`` (float64, descending). On a DataFrame (``df.llm.top_k``), the
        rows with all their columns.
    """
    raise NotImplementedError
