"""``dedup``: which rows hold the same thing written differently (near duplicates, one entity).

Candidate pairs come from embedding neighbours (blocking: k per row, so the cost grows ~n·k,
never n²), confirmed by similarity or by the chat model's scored yes/no; the confirmed pairs join
rows into clusters. (Implementation and its measured figures: issue 21.)
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from llm_magics.ops.base import operation
from llm_magics.ops.spec import OpSpec, Setting, Uses

__all__ = ["SPEC", "dedup"]

SPEC = OpSpec(
    name="dedup",
    uses=(Uses("embed", "embed"),),
    by_method={
        "embed": (Uses("embed", "embed"),),
        "llm": (Uses("embed", "embed"), Uses("chat", "score", argument="chat_model")),
    },
    outputs=("{column}_cluster", "{column}_canonical"),
    prompts=("dedup",),
    row_wise=False,
    example="dedup emp_title -> title_group",
    tunable=(
        Setting("method", "choice", "method", choices=("embed", "llm")),
        Setting("threshold", "float", "threshold", low=0.5, high=1.0, step=0.01),
        Setting("k", "int", "neighbours", low=1, high=50, step=1),
    ),
    result_name="groups",
    note=lambda result: f"{result.iloc[:, 0].nunique()} clusters",
    cost="~ rows·k candidate pairs (k neighbours per row; a probe of few rows has fewer)",
)


@operation(SPEC)
def dedup(
    texts: pd.Series,
    *,
    method: str = "embed",
    threshold: float | None = None,
    k: int = 10,
    canonical: bool = False,
    chat_model: str | None = None,
    backend: Any = "local",
    **engine: Any,
) -> pd.DataFrame:
    """Which rows are near duplicates or the same entity ("Teacher", "teacher ", "TEACHER").

    Parameters
    ----------
    texts
        The text column.
    method
        ``"embed"``: a candidate pair is the same when its cosine similarity is at least
        ``threshold``; ``"llm"``: the chat model's scored yes/no decides each candidate pair.
    threshold
        Cosine similarity (``"embed"``) or probability of "yes" (``"llm"``) from which a pair is
        the same; ``None``: the measured default of the method.
    k
        Embedding neighbours per row that become candidate pairs.
    canonical
        Add ``<column>_canonical``: each cluster's chosen text.
    chat_model
        The chat model of ``method="llm"``.
    backend
        Where the embeddings and pair scores are computed (``"local"`` or ``"ray"``).

    Returns
    -------
    pandas.DataFrame
        On the same index: ``<column>_cluster`` (Int64: rows with the same id are one cluster;
        ids number clusters in order of first appearance; missing texts give ``<NA>``) and, with
        ``canonical=True``, ``<column>_canonical`` (object).
    """
    raise NotImplementedError
