"""What each column of a mining frame is: the target, text, numbers, categories, or left out.

The task follows the target: numbers with many distinct values are regression, anything else is
classification. Text columns are found as object/string columns whose cells are mostly words
(at least three on average) and mostly distinct; other object columns with few distinct values are
categories; identifiers and dates are left out, and the result says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from llm_magics.errors import InvalidArgumentError, did_you_mean, warn
from llm_magics.ops.base import looks_like_text

__all__ = ["Columns", "infer_columns", "infer_task", "is_free_text", "prepare_target"]

MAX_CATEGORIES = 50
REGRESSION_MIN_DISTINCT = 20


@dataclass(frozen=True)
class Columns:
    """The columns a mining run uses, by kind, and those it left out with the reason."""

    target: str
    text: list[str]
    numeric: list[str]
    categorical: list[str]
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """Every feature column: text, then numeric, then categorical (not the target)."""
        return [*self.text, *self.numeric, *self.categorical]


def infer_task(y: pd.Series, task: str = "auto") -> str:
    """``"classification"`` or ``"regression"`` for the target ``y``."""
    if task not in ("auto", "classification", "regression"):
        msg = f"task must be 'auto', 'classification' or 'regression', not {task!r}."
        raise InvalidArgumentError(msg)
    if task != "auto":
        if task == "regression" and not pd.api.types.is_numeric_dtype(y):
            msg = f"A regression target must be numeric; {y.name!r} is {y.dtype}."
            raise InvalidArgumentError(msg)
        return task
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if numeric and y.nunique() >= REGRESSION_MIN_DISTINCT:
        return "regression"
    return "classification"


def prepare_target(frame: pd.DataFrame, target: str, task: str) -> tuple[pd.DataFrame, str]:
    """``frame`` without rows whose target is missing (one warning), and the task."""
    if target not in frame.columns:
        names = [str(c) for c in frame.columns]
        msg = f"No target column {target!r}.{did_you_mean(str(target), names)} Columns: {', '.join(names)}."
        raise InvalidArgumentError(msg)
    missing = frame[target].isna()
    if missing.any():
        warn(
            f"mine(): {int(missing.sum())} of {len(frame)} rows have no {target!r} and were left "
            f"out: it learns from and tests on the {int((~missing).sum())} labelled rows, and "
            "result.unlabelled predicts the others."
        )
        frame = frame.loc[~missing]
    if len(frame) < 10:
        msg = f"mine() needs at least 10 rows with a {target!r}; there are {len(frame)}."
        raise InvalidArgumentError(msg)
    task = infer_task(frame[target], task)
    if task == "classification":
        counts = frame[target].value_counts()
        if len(counts) < 2:
            msg = (
                f"The target {target!r} has a single class ({counts.index[0]!r}): there is nothing "
                "to predict. Pick another target or add rows of other classes."
            )
            raise InvalidArgumentError(msg)
    return frame, task


def is_free_text(series: pd.Series) -> bool:
    """Free text rather than a category: strings of several words, mostly distinct."""
    if not looks_like_text(series):
        return False
    values = series.dropna()
    values = values[values.map(lambda v: isinstance(v, str))]
    if values.empty:
        return False
    words = values.str.split().str.len().mean()
    return bool(words >= 3 and values.nunique() > 0.5 * len(values))


def infer_columns(
    frame: pd.DataFrame, target: str, text: str | Sequence[str] | None = None
) -> Columns:
    """Sort the columns of ``frame`` (other than ``target``) into text, numeric and categorical."""
    others = [c for c in frame.columns if c != target]
    if text is None:
        text_columns = [c for c in others if is_free_text(frame[c])]
    else:
        text_columns = [text] if isinstance(text, str) else list(text)
        for name in text_columns:
            if name not in others:
                msg = (
                    f"No text column {name!r}.{did_you_mean(str(name), map(str, others))} "
                    f"Columns: {', '.join(map(str, others))}."
                )
                raise InvalidArgumentError(msg)
    numeric, categorical, dropped = [], [], {}
    for name in others:
        if name in text_columns:
            continue
        series = frame[name]
        if pd.api.types.is_integer_dtype(series) and len(series) >= 20 and series.is_unique:
            dropped[name] = "every value distinct: an identifier"
        elif pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            numeric.append(name)
        elif pd.api.types.is_datetime64_any_dtype(series):
            dropped[name] = "a date (derive numbers from it to use it)"
        elif series.nunique() <= MAX_CATEGORIES:
            categorical.append(name)
        else:
            dropped[name] = (
                f"{series.nunique()} distinct values: an identifier, or text to name in text="
            )
    return Columns(target, text_columns, numeric, categorical, dropped)
