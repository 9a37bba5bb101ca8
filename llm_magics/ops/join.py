"""``join``: pairs of rows from two tables whose texts satisfy a condition in plain words.

Candidates come from embedding similarity (the ``k`` nearest right rows of each left row:
blocking), then the chat model scores each candidate pair; the model calls saved against the
nested loop over all pairs are counted. (Implementation and its measured figures: issue 21.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from llm_magics.ops.base import operation
from llm_magics.ops.spec import OpSpec, Setting, Uses

__all__ = ["SPEC", "join"]


def _columns_after(
    available: Sequence[str],
    columns: Sequence[str],
    outputs: Sequence[str],
    options: Mapping[str, Any],
) -> list[str]:
    """A plan's frame after ``join``: the left columns, the right's (suffixed where they clash),
    then the probability."""
    right = options.get("right")
    right_columns = [str(c) for c in getattr(right, "columns", [getattr(right, "name", None)])]
    left_suffix, right_suffix = options.get("suffixes", ("_left", "_right"))
    clash = set(available) & set(right_columns)
    return [
        *(f"{c}{left_suffix}" if c in clash else c for c in available),
        *(f"{c}{right_suffix}" if c in clash else c for c in right_columns if c != "None"),
        *outputs,
    ]


SPEC = OpSpec(
    name="join",
    uses=(Uses("embed", "embed"), Uses("chat", "score", argument="chat_model")),
    by_method={
        "embed": (Uses("embed", "embed"),),
        "llm": (Uses("embed", "embed"), Uses("chat", "score", argument="chat_model")),
    },
    outputs=("{column}_probability",),
    output_kind="frame",
    prompts=("join",),
    row_wise=False,
    input="frame",
    argument="condition",
    plan_argument="quoted",
    example='join ticket with {issues} "the ticket is about the known issue" right_on=issue  k=5',
    tunable=(
        Setting("k", "int", "candidates per row", low=1, high=50, step=1),
        Setting("threshold", "float", "threshold", low=0.0, high=1.0, step=0.05),
    ),
    result_name="pairs",
    columns_after=_columns_after,
    note=lambda result: f"{len(result)} pairs",
    column_argument="left_on",
    cost="~ left rows·k candidate pairs; the right table is embedded whole",
)


@operation(SPEC)
def join(
    left: pd.DataFrame | pd.Series,
    right: pd.DataFrame | pd.Series,
    condition: str,
    *,
    left_on: Any = None,
    right_on: Any = None,
    k: int = 5,
    threshold: float = 0.5,
    how: str = "inner",
    suffixes: tuple[str, str] = ("_left", "_right"),
    method: str = "llm",
    chat_model: str | None = None,
    backend: Any = "local",
    **engine: Any,
) -> pd.DataFrame:
    """The pairs of a ``left`` row and a ``right`` row whose texts satisfy ``condition``.

    Parameters
    ----------
    left, right
        The two tables (a Series is a one-column table).
    condition
        What a matching pair is, in plain words ("the ticket is about the known issue").
    left_on, right_on
        The text column of each table (``None``: its one text column).
    k
        Candidate right rows per left row, by embedding similarity.
    threshold
        The probability from which a candidate pair matches.
    how
        ``"inner"`` (the matching pairs) or ``"left"`` (every left row; one without a match
        has NaN for the right's columns), as in ``pandas.merge``.
    suffixes
        Added to the column names both tables have, as in ``pandas.merge``.
    method
        ``"llm"``: the chat model scores each candidate pair; ``"embed"``: the similarity alone.
    chat_model
        The chat model that scores the pairs.
    backend
        Where the embeddings and pair scores are computed (``"local"`` or ``"ray"``).

    Returns
    -------
    pandas.DataFrame
        One row per matching pair, as ``pandas.merge`` returns them (a new ``RangeIndex``; left
        rows in order, each one's matches by descending probability): the left's columns, the
        right's, and ``<left_on>_probability`` (float64). ``attrs["llm_magics"]`` counts the
        pairs scored and the pairs a nested loop would have scored.
    """
    raise NotImplementedError
