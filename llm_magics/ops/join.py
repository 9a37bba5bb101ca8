"""``join``: pairs of rows from two tables whose texts satisfy a condition in plain words.

Asking the chat model about every pair is the nested loop: ``len(left) * len(right)`` calls.
As LOTUS ``sem_join`` and DocETL ``equijoin`` do, ``join`` blocks first: each left text is
embedded once, each right text once, and only the ``k`` right rows nearest each left row by
cosine similarity become candidates (``llm_magics.ops.pairs``), so the chat model scores
``len(left) * k`` pairs. Each candidate pair is shown to the chat model as one text (the
``join_pair`` prompt: each side under its column name) and scored as the calibrated probability
of "yes" to the condition (the ``join`` prompt; ``classify(method="llm")``'s scoring), so it is
batched, cached per pair and runs on a Ray backend when asked. A pair matches from
``threshold``. ``attrs["llm_magics"]`` counts the pairs scored against the nested loop's.

``method="embed"`` asks no chat model: a pair's probability is
``sigmoid((cos(left, right) - cos(left, mean right) - EMBED_MARGIN) / EMBED_TEMPERATURE)``,
how much closer the right text is to the left one than the average right text is, less a
margin. Recall is bounded by the blocking: a matching right row outside a left row's ``k``
nearest is never seen.

Measured (``bench/join.py``: 200 real reviews × 10 known issues, true pairs by keyword rules,
a sample judged by hand): the blocking keeps 76% of the true pairs at ``k=3`` (84% at
``k=5``) and the chat model then scores 3.3 times fewer pairs than the nested loop; on a
subset scored both ways, the blocked run found 14 of the nested loop's 16 true pairs. But the
default 135M chat model's P(yes) does not separate the pairs (0.607 for true pairs, 0.598 for
false ones: precision 0.14 at 0.5, the share of true pairs among the candidates), while the
similarity alone reaches precision 0.47 (0.35 on 40 pairs judged by hand) at recall 0.33
with ``EMBED_MARGIN`` 0.2; so ``"embed"`` is the default, as for ``filter``. With a larger
chat model, ``"llm"`` may pay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.errors import InvalidArgumentError, warn
from llm_magics.ops.base import TextColumn, one_job, operation, record_provenance, resolve_column
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

__all__ = ["EMBED_MARGIN", "EMBED_TEMPERATURE", "SPEC", "join"]

EMBED_MARGIN = 0.2
"""How much closer than the average right text a right text must be to match (``"embed"``):
of the margins measured (0.09 to 0.24), the one with the best F1 against the keyword labels."""

EMBED_TEMPERATURE = 0.05
"""Cosine similarities differ by a few hundredths: as ``filter`` and ``classify`` scale them."""


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
    uses=BLOCKING_USES,
    by_method=USES_BY_METHOD,
    outputs=("{column}_probability",),
    output_kind="frame",
    prompts=("join",),
    row_wise=False,
    input="frame",
    argument="condition",
    plan_argument="quoted",
    example='join ticket with {issues} "the ticket is about the known issue" right_on=issue  k=5',
    result_name="pairs",
    columns_after=_columns_after,
    note=lambda result: f"{len(result)} pairs",
    column_argument="left_on",
    cost="~ left rows·k candidate pairs; the right table is embedded whole",
    bounds={
        "k": Bound(1, whole=True, what="candidates per row"),
        "threshold": Bound(0, 1, open_low=True, open_high=True),
        "how": Bound(choices=("inner", "left")),
    },
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
    method: str = "embed",
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
        ``"embed"``: the similarity alone (the default: it measured better with the default
        models, see the module docs); ``"llm"``: the chat model scores each candidate pair.
    chat_model
        The chat model that scores the pairs.
    backend
        Where the embeddings and pair scores are computed (``"local"`` or ``"ray"``).

    Returns
    -------
    pandas.DataFrame
        One row per matching pair, as ``pandas.merge`` returns them (a new ``RangeIndex``; left
        rows in order, each one's matches by descending probability): the left's columns, the
        right's, and ``<left_on>_probability`` (float64). ``how="left"`` keeps every left row
        (NaN right columns and probability where none matches or the text is missing);
        ``"inner"`` drops those. ``attrs["llm_magics"]`` counts the candidate pairs, the pairs
        the chat model scored (``pairs_scored``; 0 for ``"embed"``), the nested loop's
        (``all_pairs``) and the ratio (``times_fewer``).

    Raises
    ------
    InvalidArgumentError
        For an empty condition, ``k`` below 1, a threshold outside (0, 1), an unknown ``how``
        or ``method``, ``suffixes`` that are not two strings, a column that is not there, or
        tables whose columns would give the output two columns of one name (a right column
        named like ``<left_on>_probability``, or a suffixed name that is already a column).

    Examples
    --------
    >>> tickets = pd.DataFrame({"ticket": ["My parcel came two weeks late.",
    ...                                    "The crackers were stale.", "Love it!"]})
    >>> issues = pd.DataFrame({"issue": ["late delivery", "stale food", "too sweet",
    ...                                  "damaged box"]})
    >>> tickets.llm.join(issues, "the ticket is about the issue", how="left")  # doctest: +SKIP
                               ticket          issue  ticket_probability
    0  My parcel came two weeks late.  late delivery               0.972
    1        The crackers were stale.     stale food               0.963
    2                        Love it!            NaN                 NaN
    """
    _check(condition, k, threshold, how, method, suffixes)
    left_frame, right_frame = _table(left), _table(right)
    left_texts = resolve_column(left_frame, left_on)
    right_texts = resolve_column(right_frame, right_on)
    lcol, rcol = TextColumn.of(left_texts, "join"), TextColumn.of(right_texts, "join")
    _check_columns(left_frame, right_frame, suffixes, f"{lcol.name}_probability")
    with one_job("join", left_texts, engine.get("manager")):
        blocking = blocking_engine([*lcol.texts, *rcol.texts], engine)
        lvec, steps = embed_rows(lcol.texts, backend=backend, **blocking)
        rvec, rsteps = embed_rows(rcol.texts, backend=backend, **(blocking | {"progress": False}))
        candidates, similarity = nearest(lvec, rvec, k)
        if method == "embed":
            if lcol.texts and len(set(rcol.texts)) == 1:
                warn(
                    "join(method='embed') matches a right text by how much closer it is than "
                    "the other right texts; the right table has one distinct text, so no pair "
                    "matches: pass method='llm', or more right rows."
                )
            probability = _embed_probability(lvec, rvec, similarity)
        else:
            names = _side_names(lcol.name, rcol.name, suffixes)
            pairs = [
                render(
                    "join_pair",
                    left_name=names[0],
                    left=lcol.texts[i],
                    right_name=names[1],
                    right=rcol.texts[j],
                )
                for i, row in enumerate(candidates)
                for j in row
            ]
            question = render("join", condition=condition.strip().rstrip("?."))
            yes, csteps = yes_probability(
                pairs, question, chat_model=chat_model, backend=backend, **engine
            )
            probability, steps = yes.reshape(candidates.shape), [*steps, *rsteps, *csteps]
    lpos, rpos, prob = _matches(lcol, rcol, candidates, probability, threshold, how)
    result = _merged(left_frame, right_frame, lpos, rpos, suffixes)
    result[f"{lcol.name}_probability"] = prob
    parameters = {
        "condition": condition,
        "k": k,
        "threshold": threshold,
        "how": how,
        "method": method,
    }
    record_provenance(result, "join", parameters, steps if method == "llm" else [*steps, *rsteps])
    scored, every = candidates.size, len(lcol.texts) * len(rcol.texts)
    result.attrs["llm_magics"] |= {
        "pairs_scored": int(scored) if method == "llm" else 0,
        "candidate_pairs": int(scored),
        "all_pairs": int(every),
        "times_fewer": round(every / scored, 2) if scored else None,
    }
    return result


def _check(condition: Any, k: Any, threshold: Any, how: Any, method: Any, suffixes: Any) -> None:
    if not isinstance(condition, str) or not condition.strip():
        msg = f"condition must describe a matching pair in words, not {condition!r}."
        raise InvalidArgumentError(msg)
    if method not in ("llm", "embed"):
        msg = f"method must be 'llm' or 'embed', not {method!r}."
        raise InvalidArgumentError(msg)
    if len(suffixes) != 2 or not all(isinstance(s, str) for s in suffixes):
        msg = f"suffixes must be two strings, as in pandas.merge, not {suffixes!r}."
        raise InvalidArgumentError(msg)


def _table(side: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """A side as a table: a Series is one column (``"text"`` when it has no name)."""
    if isinstance(side, pd.Series):
        return side.to_frame("text" if side.name is None else side.name)
    if isinstance(side, pd.DataFrame):
        return side
    msg = f"join() takes a pandas DataFrame or Series on each side, not {type(side).__name__}."
    raise InvalidArgumentError(msg)


def _side_names(left: str, right: str, suffixes: tuple[str, str]) -> tuple[str, str]:
    """How the pair text names each side: its column, suffixed if both have the same name."""
    if left != right:
        return left, right
    return f"{left}{suffixes[0]}", f"{right}{suffixes[1]}"


def _embed_probability(lvec: np.ndarray, rvec: np.ndarray, similarity: np.ndarray) -> np.ndarray:
    """The probability of each candidate pair from similarity alone (module docs)."""
    if similarity.size == 0:
        return similarity
    typical = lvec @ rvec.mean(axis=0)  # the mean of cos(left, r) over every right text r
    margin = similarity - typical[:, None] - EMBED_MARGIN
    return 1.0 / (1.0 + np.exp(-margin / EMBED_TEMPERATURE))


def _matches(
    lcol: TextColumn,
    rcol: TextColumn,
    candidates: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    how: str,
) -> tuple[list[int], list[int], list[float]]:
    """Positions of the output's left and right rows (-1: none) and each pair's probability."""
    lrows, rrows = np.flatnonzero(lcol.present), np.flatnonzero(rcol.present)
    lpos: list[int] = []
    rpos: list[int] = []
    prob: list[float] = []
    text_row = {int(p): i for i, p in enumerate(lrows)}
    for position in range(len(lcol.present)):
        found: list[tuple[float, int]] = []
        if position in text_row:
            i = text_row[position]
            found = [
                (float(p), int(rrows[j]))
                for j, p in zip(candidates[i], probability[i], strict=True)
                if p >= threshold
            ]
            found.sort(key=lambda pair: -pair[0])
        if not found and how == "left":
            found = [(np.nan, -1)]
        for p, j in found:
            lpos.append(position)
            rpos.append(j)
            prob.append(p)
    return lpos, rpos, prob


def _check_columns(
    left: pd.DataFrame, right: pd.DataFrame, suffixes: tuple[str, str], probability: str
) -> None:
    """Raise if the output would have two columns of one name (``pandas.merge`` raises too)."""
    clash = set(left.columns) & set(right.columns)
    names = [f"{c}{suffixes[0]}" if c in clash else c for c in left.columns]
    names += [f"{c}{suffixes[1]}" if c in clash else c for c in right.columns]
    names.append(probability)
    twice = sorted({str(n) for n in names if names.count(n) > 1})
    if twice:
        msg = (
            f"join() would make two columns named {', '.join(map(repr, twice))}; rename the "
            "column in one table, or pass other suffixes=."
        )
        raise InvalidArgumentError(msg)


def _merged(
    left: pd.DataFrame,
    right: pd.DataFrame,
    lpos: list[int],
    rpos: list[int],
    suffixes: tuple[str, str],
) -> pd.DataFrame:
    """The left rows at ``lpos`` beside the right rows at ``rpos`` (-1: NaN), ``pd.merge``'s way."""
    clash = set(left.columns) & set(right.columns)
    lpart = left.iloc[lpos].reset_index(drop=True)
    rpart = right.reset_index(drop=True).reindex(rpos).reset_index(drop=True)
    lpart.columns = [f"{c}{suffixes[0]}" if c in clash else c for c in left.columns]
    rpart.columns = [f"{c}{suffixes[1]}" if c in clash else c for c in right.columns]
    result = pd.concat([lpart, rpart], axis=1)
    result.attrs = {}
    return result
