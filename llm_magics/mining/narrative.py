"""A short narrative of a mining result, with every number in it checked against the figures.

The chat model writes a few sentences from the computed figures. A number in its text passes
only if it is one of the figures as written at that precision (``0.83``, ``83%``, ``83.4%``) or a
count the figures hold (rows, folds, classes); one number that fails sends the reader the
deterministic template instead, and ``Narrative.source`` says which they got.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Narrative", "numbers_check", "template"]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?%?")


@dataclass(frozen=True)
class Narrative:
    """What ``MiningResult.explain()`` returns: the text, and who wrote it."""

    text: str
    source: str  # "model" or "template"
    rejected: str | None = None  # the model's text, when it failed the check
    reason: str | None = None

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        note = (
            "written by the chat model; every number checked against the figures"
            if self.source == "model"
            else f"from the template ({self.reason or 'no model text'})"
        )
        return f"{self.text}\n\n[{note}]"


def numbers_check(text: str, figures: Iterable[float]) -> str | None:
    """None if every number in ``text`` is one of ``figures`` at its precision, else the first
    number that is not.

    Examples
    --------
    >>> numbers_check("Accuracy is 0.83 (83%) over 200 rows.", [0.8312, 200])
    >>> numbers_check("Accuracy is 0.91.", [0.8312])
    '0.91'
    """
    values = [float(f) for f in figures]
    for token in _NUMBER.findall(text):
        percent = token.endswith("%")
        raw = token.rstrip("%").replace(",", "")
        number = float(raw)
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        candidates = [100 * v for v in values] if percent else values
        if percent:
            candidates += values  # "83%" of a figure already in percent
        if not any(round(c, decimals) == round(number, decimals) for c in candidates):
            return token
    return None


def template(
    *,
    target: str,
    task: str,
    best: str,
    metric: str,
    test_value: float,
    baseline_value: float,
    rows: int,
    drivers: list[tuple[str, float]],
) -> str:
    """The deterministic narrative."""
    kind = "classifying" if task == "classification" else "predicting"
    comparison = "better than" if _better(metric, test_value, baseline_value) else "not better than"
    lines = [
        f"For {kind} {target!r}, the best model was {best}: on {rows} held-out test rows its "
        f"{metric} is {test_value:.3f}, {comparison} the TF-IDF baseline's {baseline_value:.3f}.",
    ]
    if drivers:
        named = ", ".join(f"{column} ({value:.3f})" for column, value in drivers)
        lines.append(
            f"The columns that matter most (the drop in {metric} when a column is shuffled) are "
            f"{named}."
        )
    return " ".join(lines)


def _better(metric: str, value: float, baseline: float) -> bool:
    return value < baseline if metric in ("rmse", "mae") else value > baseline
