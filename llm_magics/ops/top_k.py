"""``top_k``: the rows that best match a query, best first.

Embedding retrieval picks a candidate pool (the ``pool`` rows most similar to the query, by
cosine similarity), which ``method="llm"`` re-ranks with the chat model's scored relevance
(LOTUS ``sem_topk``; here each pool row is scored on its own, the calibrated probability of
"yes" to the ``top_k`` prompt, rather than compared in a tournament: batched, cached per row,
one call per pool row, so the cost is ``pool`` chat scores whatever the table's size).

What measured best decides the rest (``bench/join.py``: three queries over 1,000 real reviews,
the 40 nearest rows of each judged by hand). The chat model's P(yes) alone ranked worse than the
similarity alone (mean precision@10 0.37 with a pool of 20, 0.20 with 30, against 0.40), so
``"llm"`` ranks by a blend: the mean of P(yes) and the similarity, each scaled to [0, 1] over the
pool (0.40 with a pool of 20, 0.37 with 30 or 40). The blend did not beat the similarity alone,
which costs no chat call, so ``"embed"`` is the default and its score is the cosine similarity;
with a larger chat model ``"llm"`` may pay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.base import TextColumn, one_job, operation, record_provenance
from llm_magics.ops.pairs import (
    BLOCKING_USES,
    USES_BY_METHOD,
    blocking_engine,
    embed_rows,
    nearest,
    yes_probability,
)
from llm_magics.ops.prompts import render
from llm_magics.ops.spec import Bound, OpSpec

__all__ = ["SPEC", "default_pool", "top_k"]


def _rows(frame: pd.DataFrame, result: pd.DataFrame) -> pd.DataFrame:
    """The chosen rows of ``frame``, best first, with all their columns and the score."""
    score = result.columns[-1]
    positions = result.attrs.get("llm_magics", {}).get("positions")
    rows = frame.loc[result.index] if positions is None else frame.iloc[positions]
    return rows.assign(**{score: result[score].to_numpy()})


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
    uses=BLOCKING_USES,
    by_method=USES_BY_METHOD,
    outputs=("{column}_score",),
    output_kind="frame",
    prompts=("top_k",),
    row_wise=False,
    argument="query",
    plan_argument="quoted",
    example='top_k review "broken packaging"  k=20',
    result_name="top",
    reshape=_rows,
    columns_after=_columns_after,
    cost="~ rows (the embedding), plus a candidate pool scored that grows with k, not the rows",
    bounds={
        "k": Bound(1, whole=True, what="rows"),
        "pool": Bound(1, whole=True, what="rows", optional=True),
    },
)


@operation(SPEC)
def top_k(
    texts: pd.Series,
    query: str,
    *,
    k: int = 10,
    pool: int | None = None,
    method: str = "embed",
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
        ``"embed"``: the cosine similarity to the query; ``"llm"``: the pool re-ranked by the
        mean of the chat model's P(yes) and the similarity, each scaled to [0, 1] over the pool
        (module docs: with the default models it did not rank better, hence the default).
    chat_model
        The chat model that re-ranks.
    backend
        Where the embeddings and relevance scores are computed (``"local"`` or ``"ray"``).

    Returns
    -------
    pandas.DataFrame
        At most ``k`` rows, best first, indexed by their labels in ``texts``: the text column
        and ``<column>_score`` (float64, descending: the cosine similarity, or the blend in
        [0, 1]). Rows without text are never chosen. On a DataFrame (``df.llm.top_k``), the
        rows with all their columns. With ``"llm"``, ``attrs["llm_magics"]["p_yes"]`` holds the
        chat model's P(yes) of every pool row, by label.

    Raises
    ------
    InvalidArgumentError
        For an empty query, ``k`` or ``pool`` below 1, or an unknown method.

    Examples
    --------
    >>> from llm_magics.datasets import amazon_reviews
    >>> reviews = amazon_reviews("test")  # doctest: +SKIP
    >>> top = reviews.llm.top_k("review", "broken packaging", k=3)  # doctest: +SKIP
    >>> top[["product", "score", "review_score"]].round(3)  # doctest: +SKIP
            product  score  review_score
    387  B001SAWSKQ  other         0.519
    502  B004B9GNSY  other         0.485
    304  B002UMBIL6  other         0.469
    """
    _check(query, k, pool, method)
    column = TextColumn.of(texts, "top_k")
    size = min(default_pool(k) if pool is None else max(pool, k), len(column.texts))
    with one_job("top_k", texts, engine.get("manager")):
        blocking = blocking_engine(column.texts, engine)
        vectors, steps = embed_rows(column.texts, backend=backend, **blocking)
        anchor, qsteps = embed_rows([query], backend=backend, **(blocking | {"progress": False}))
        chosen, similarity = nearest(anchor, vectors, size)
        chosen, score = chosen[0], similarity[0]
        steps, relevance = [*steps, *qsteps], {}
        if method == "llm":
            question = render("top_k", query=query.strip().rstrip("?."))
            yes, csteps = yes_probability(
                [column.texts[i] for i in chosen],
                question,
                chat_model=chat_model,
                backend=backend,
                **engine,
            )
            score, steps = (_scaled(yes) + _scaled(score)) / 2, [*steps, *csteps]
            relevance = dict(
                zip(
                    column.source.index[np.flatnonzero(column.present)[chosen]],
                    yes.tolist(),
                    strict=True,
                )
            )
    order = np.argsort(-score, kind="stable")[:k]
    positions = np.flatnonzero(column.present)[chosen[order]]
    labels = column.source.index[positions]
    result = pd.DataFrame(
        {
            column.name: [column.texts[i] for i in chosen[order]],
            f"{column.name}_score": np.asarray(score, dtype=np.float64)[order],
        },
        index=labels,
    )
    if column.source.name is not None and column.name != column.source.name:
        result = result.rename(columns={column.name: column.source.name})
    parameters = {"query": query, "k": k, "pool": size, "method": method}
    record_provenance(result, "top_k", parameters, steps)
    result.attrs["llm_magics"] |= {
        "rows_scored": len(chosen) if method == "llm" else 0,
        "positions": positions.tolist(),  # of the chosen rows: their labels may repeat
    }
    if method == "llm":
        result.attrs["llm_magics"]["p_yes"] = relevance
    return result


def default_pool(k: int) -> int:
    """Candidates the re-ranking reads for ``k`` rows: twice ``k``, 20 at least (of the pools
    of 20, 30 and 40 for ``k=10``, 20 ranked best, ``bench/join.py``)."""
    return max(2 * k, 20)


def _scaled(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to [0, 1] (all zero when they are all equal)."""
    if len(values) == 0:
        return np.asarray(values, dtype=np.float64)
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros(len(values))


def _check(query: Any, k: Any, pool: Any, method: Any) -> None:
    if not isinstance(query, str) or not query.strip():
        msg = f"query must say in words what the rows should be about, not {query!r}."
        raise InvalidArgumentError(msg)
    if method not in ("llm", "embed"):
        msg = f"method must be 'llm' or 'embed', not {method!r}."
        raise InvalidArgumentError(msg)
