"""Labelled examples: read from a label column, a (text, label) frame or a dict, checked, and
copies of one text counted once.

``parse_examples`` is the one reader of ``examples=`` (classify, sentiment, filter) and of the
labelling panel's labels; what it refuses is one ``InvalidArgumentError`` line that says what to
label next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.cells import text_of
from llm_magics.errors import InvalidArgumentError, warn

__all__ = ["Examples", "parse_examples", "same_text", "user_value"]


@dataclass(frozen=True)
class Examples:
    """Labelled texts: ``texts``, ``y`` (int indices into ``labels``), ``labels`` (names), and
    ``values``: each label as the user wrote it (``1``, ``True``, ``"great"``), which the op's
    label column returns (``label_values``)."""

    texts: list[str]
    y: np.ndarray
    labels: list[str]
    values: list[Any] = field(default_factory=list)
    repeats: int = 0  # examples dropped as copies of an earlier text (``parse_examples``)

    @property
    def folds(self) -> int:
        """k of the stratified k-fold cross-validation: min(5, the smallest class's count)."""
        return int(min(5, np.bincount(self.y, minlength=len(self.labels)).min()))


def _pairs(examples: Any, texts: pd.Series | None) -> tuple[list[Any], list[Any]]:
    """(texts, labels) of the labelled rows of a Series, a two-column DataFrame or a dict."""
    if isinstance(examples, Mapping):
        return list(examples.keys()), list(examples.values())
    if isinstance(examples, pd.DataFrame):
        if examples.shape[1] != 2:
            msg = (
                f"examples as a DataFrame needs two columns (text, label), not "
                f"{examples.shape[1]}: pass frame[[TEXT, LABEL]]."
            )
            raise InvalidArgumentError(msg)
        return examples.iloc[:, 0].tolist(), examples.iloc[:, 1].tolist()
    if isinstance(examples, pd.Series):
        if texts is not None and examples.index.equals(texts.index):  # the same frame's column
            labelled = examples.notna().to_numpy()
            return texts[labelled].tolist(), examples[labelled].tolist()
        if not examples.index.is_unique or (texts is not None and not texts.index.is_unique):
            msg = (
                "examples on an index with repeated values can't be matched to the texts: pass "
                "a column of the same frame, or a DataFrame of (text, label)."
            )
            raise InvalidArgumentError(msg)
        if texts is None or not examples.index.isin(texts.index).all():
            msg = (
                "examples as a Series must be a column of the same frame (labels on the texts' "
                "index, NaN where unlabelled); otherwise pass a DataFrame of (text, label)."
            )
            raise InvalidArgumentError(msg)
        labelled = examples[examples.notna()]
        return texts.loc[labelled.index].tolist(), labelled.tolist()
    msg = (
        "examples must be a label column (a Series on the texts' index), a DataFrame of "
        f"(text, label) or a dict of text: label, not {type(examples).__name__}."
    )
    raise InvalidArgumentError(msg)


def _warn_conflicts(texts: list[str], names: list[str], op: str) -> None:
    """One warning counting the texts labelled two ways (they teach nothing, lower the estimate)."""
    seen: dict[str, set[str]] = {}
    for text, name in zip(texts, names, strict=True):
        seen.setdefault(text, set()).add(name)
    conflicting = sum(len(labels) > 1 for labels in seen.values())
    if conflicting:
        warn(
            f"{op}(): {conflicting} example text(s) carry more than one label; each counts "
            "once with its most frequent label, and is left out where its labels tie. Check "
            "those labels."
        )


def same_text(text: str) -> str:
    """The key under which two example texts are one (case and spacing aside)."""
    return " ".join(text.casefold().split())


def _collapse(texts: list[str], names: list[str]) -> tuple[list[str], list[str], int]:
    """One example per text (equal up to case and spacing), labelled by its copies' majority
    (left out on a tie: it teaches nothing), and how many copies were dropped.

    Copies of one text in two folds let the fold that holds one be predicted from the other:
    16 coin-flip labelled texts, each 4 times, were estimated at 1.00 accuracy (0.56 once each).
    Collapsed, every text counts once in the folds and in the interval's n.
    """
    groups: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        groups.setdefault(same_text(text), []).append(i)
    if len(groups) == len(texts):
        return texts, names, 0
    kept, labels = [], []
    for rows in groups.values():
        votes = pd.Series([names[i] for i in rows]).value_counts()
        if len(votes) > 1 and votes.iloc[0] == votes.iloc[1]:
            continue
        kept.append(texts[rows[0]])
        labels.append(str(votes.index[0]))
    return kept, labels, len(texts) - len(kept)


def user_value(label: Any) -> Any:
    """The label as the user means it: a whole float is an int that NaN gaps made float."""
    if isinstance(label, bool | np.bool_):
        return bool(label)
    if isinstance(label, float | np.floating) and float(label).is_integer():
        return int(label)
    if isinstance(label, np.generic):
        return label.item()
    return label.strip() if isinstance(label, str) else label


def _label_name(label: Any) -> str:
    """A label's name: ``str``, stripped; a whole float is an int label that NaN made float
    (``1.0`` → ``"1"``, as a column of 0/1 labels with NaN gaps holds them)."""
    if isinstance(label, float | np.floating) and float(label).is_integer():
        return str(int(label))
    return str(label).strip()


def parse_examples(
    examples: Any,
    texts: pd.Series | None = None,
    labels: Sequence[str] | None = None,
    *,
    op: str = "classify",
    normalise: Callable[[Any], str | None] | None = None,
) -> Examples:
    """The labelled examples, checked, with labels as indices into ``labels``.

    Parameters
    ----------
    examples
        A Series on ``texts``' index with a label where labelled and NaN elsewhere (the column
        the labelling panel writes), a DataFrame of two columns (text, label), or a dict
        ``{text: label}``.
    texts
        The op's text column (for a Series of labels).
    labels
        The labels to learn; ``None``: the examples' sorted distinct labels.
    op
        The op's name, for messages.
    normalise
        Label value → label name (``filter``'s True/"yes" → "yes"); ``None``: ``str``.

    Raises
    ------
    InvalidArgumentError
        No labelled rows, labels not among ``labels`` (named), a single class, or a class with
        one example (cross-validation needs two). Examples whose text is missing are dropped with
        a warning; copies of one text count once (``_collapse``), and ``repeats`` says how many
        were left out.
    """
    raw_texts, raw_labels = _pairs(examples, texts)
    kept, values, dropped, seen = [], [], 0, {}
    for text, label in zip(raw_texts, raw_labels, strict=True):
        if label is None or (np.ndim(label) == 0 and pd.isna(label)):
            continue
        name = normalise(label) if normalise is not None else _label_name(label)
        seen.setdefault(name, user_value(label))
        clean = text_of(text)
        if clean is None:
            dropped += 1
            continue
        kept.append(clean)
        values.append(name)
    if dropped:
        warn(f"{op}(): {dropped} example(s) without text were left out.")
    _warn_conflicts(kept, values, op)
    kept, values, repeats = _collapse(kept, values)
    if not values:
        msg = f"{op}(): examples has no labelled rows; label some rows first (df.llm.label(...))."
        raise InvalidArgumentError(msg)
    names = [_label_name(n) for n in labels] if labels is not None else sorted(set(values))
    users = [user_value(n) for n in labels] if labels is not None else [seen[n] for n in names]
    unknown = sorted({v for v in values if v not in names})
    if unknown:
        msg = f"{op}(): example labels {unknown} are not among the labels {names}; fix or add them."
        raise InvalidArgumentError(msg)
    y = np.array([names.index(v) for v in values])
    counts = np.bincount(y, minlength=len(names))
    present = [n for n, c in zip(names, counts, strict=True) if c]
    if len(present) < 2:
        msg = f"{op}(): every example is {present[0]!r}; label rows of at least one other class."
        raise InvalidArgumentError(msg)
    single = [n for n, c in zip(names, counts, strict=True) if c == 1]
    if single:
        msg = (
            f"{op}(): {single} have one example each; label at least two per class "
            "(cross-validation needs two)."
        )
        raise InvalidArgumentError(msg)
    if counts.min() == 0:
        missing = [n for n, c in zip(names, counts, strict=True) if not c]
        msg = f"{op}(): no example of {missing}; label some, or leave them out of labels."
        raise InvalidArgumentError(msg)
    return Examples(kept, y, names, users, repeats)
