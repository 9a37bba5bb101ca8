"""``aggregate``: one answer per group of rows (or for the whole column), however many rows.

LOTUS ``sem_agg``, DocETL ``reduce`` and fenic ``semantic.reduce`` call a remote model per fold;
here every chunk of every group goes through the engine's batches together. (Implementation and
its measured figures: issue 21.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from llm_magics.ops.base import operation
from llm_magics.ops.spec import OpSpec, Setting, Uses

__all__ = ["SPEC", "aggregate"]


def _columns_after(
    available: Sequence[str],
    columns: Sequence[str],
    outputs: Sequence[str],
    options: Mapping[str, Any],
) -> list[str]:
    """A plan's frame after ``aggregate``: the group keys, then the answer and the row count."""
    by = options.get("by") or []
    by = [by] if isinstance(by, str) else list(by)
    return [*by, *outputs]


SPEC = OpSpec(
    name="aggregate",
    uses=(Uses("chat", "generate"),),
    outputs=("{column}_aggregate", "{column}_rows"),
    output_kind="frame",
    prompts=("aggregate", "aggregate_combine"),
    row_wise=False,
    argument="instruction",
    argument_required=False,
    plan_argument="quoted",
    frame_arguments=("by",),
    example='aggregate review by product -> complaints "What do customers complain about?"',
    tunable=(Setting("max_words", "int", "max words", low=5, high=300, step=5),),
    tune_prompt="aggregate",
    result_name="groups",
    columns_after=_columns_after,
    cost="~ the rows' tokens (chunks), then a fold of a few levels per group",
)


@operation(SPEC)
def aggregate(
    texts: pd.Series,
    instruction: str | None = None,
    *,
    by: Any = None,
    dropna: bool = True,
    sort: bool = True,
    max_words: int = 60,
    chunk_tokens: int | None = None,
    backend: Any = "local",
    **engine: Any,
) -> pd.DataFrame:
    """One answer per group: a summary of the group's texts, or the answer to ``instruction``.

    Parameters
    ----------
    texts
        The text column.
    instruction
        The question to answer over each group's texts ("What do customers complain about?");
        ``None``: summarize them.
    by
        The group keys, as ``Series.groupby(by)`` takes them: a Series or array on the same
        index, or a list of them (on a DataFrame, column names). ``None``: one answer for the
        whole column.
    dropna
        As in pandas: rows whose key is NaN are left out; ``False`` makes them a group.
    sort
        Sort the groups by key (pandas' default); ``False`` keeps the order they first appear.
    max_words
        The longest answer, in words.
    chunk_tokens
        Tokens of text per chunk of a group (``None``: what fits the model's context with the
        prompt and the answer).
    backend
        Where the chunk answers are computed (``"local"`` or ``"ray"``); the fold that combines
        them runs in this process.

    Returns
    -------
    pandas.DataFrame
        Indexed by the group keys (a ``MultiIndex`` for several), in pandas' group order:
        ``<column>_aggregate`` (object: the answer; NaN for a group without text) and
        ``<column>_rows`` (int64: the rows with text the answer read).
    """
    raise NotImplementedError
