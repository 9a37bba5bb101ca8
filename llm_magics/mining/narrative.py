"""A short narrative of a mining result, with every number in it checked against the figures.

The chat model writes a few sentences from the computed figures. A number in its text passes
only if it is one of the figures as written at that precision (``0.83``, ``83%``, ``83.4%``) or a
count the figures hold (rows, folds, classes); a number written after a metric's name ("macro-F1
of 0.62") must be that metric's figure, the test one unless the sentence names the baseline; and
"perfect" is allowed only for a perfect score. One claim that fails sends the reader the
deterministic template instead, and ``Narrative.source`` says which they got.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Narrative", "claims_check", "numbers_check", "template"]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?%?")
_SENTENCE_END = re.compile(r"[.!?;](?:\s|$)")
_METRIC_NAMES = {
    "f1_macro": r"f1[_ -]macro|macro[- ]?(?:averaged )?f1",
    "f1_weighted": r"f1[_ -]weighted|weighted[- ]?(?:averaged )?f1",
    "f1": r"f1(?:[- ]score)?",
    "accuracy": r"accuracy",
    "precision_macro": r"precision(?:[_ ]macro)?",
    "recall_macro": r"recall(?:[_ ]macro)?",
    "roc_auc": r"roc[_ -]?auc|auc",
    "rmse": r"rmse|root mean squared error",
    "mae": r"mae|mean absolute error",
    "r2": r"r2|r²|r-squared",
}
_MENTION = re.compile(
    "|".join(f"(?P<{key}>\\b(?:{names})\\b)" for key, names in _METRIC_NAMES.items()),
    re.IGNORECASE,
)
_PERFECT = re.compile(r"\b(?:perfect(?:ly)?|flawless(?:ly)?)\b", re.IGNORECASE)


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


def _matches(token: str, value: float) -> bool:
    percent = token.endswith("%")
    raw = token.rstrip("%").replace(",", "")
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    number = float(raw)
    candidates = [100 * value, value] if percent else [value]
    return any(round(c, decimals) == round(number, decimals) for c in candidates)


def claims_check(text: str, figures: Mapping[str, float]) -> str | None:
    """None if ``text`` states only the ``figures`` (see the module docstring), else why not.

    ``figures`` are named ``"test <metric>"``, ``"baseline test <metric>"`` and anything else
    (counts, importances).

    Examples
    --------
    >>> figures = {"test f1_macro": 0.556, "baseline test f1_macro": 0.625, "test rows": 12}
    >>> claims_check("Its macro-F1 is 0.556 on 12 rows; the baseline's is 0.625.", figures)
    >>> claims_check("Its macro-F1 is 0.625.", figures)
    'it gives 0.625 as the test f1_macro, which is 0.556'
    >>> claims_check("The TF-IDF baseline reaches a macro-F1 of 0.625.", figures)
    >>> claims_check("A perfect classifier: macro-F1 0.556.", figures)
    "it says 'perfect' of scores below 1"
    """
    wrong = numbers_check(text, figures.values())
    if wrong is not None:
        return f"it writes {wrong}, which is not in the figures"
    scores = [v for k, v in figures.items() if k.startswith("test ") and "rows" not in k]
    perfect = _PERFECT.search(text)
    if perfect and not any(v == 1.0 for v in scores):
        return f"it says {perfect.group(0)!r} of scores below 1"
    start = 0
    for number in _NUMBER.finditer(text):
        boundary = [m.end() for m in _SENTENCE_END.finditer(text, start, number.start())]
        window = text[boundary[-1] if boundary else start : number.start()]
        start = number.end()
        mentions = list(_MENTION.finditer(window))
        if not mentions or "importance" in window[mentions[-1].end() :].lower():
            continue
        importances = [
            v
            for k, v in figures.items()
            if k.startswith("importance of ") and k.removeprefix("importance of ") in window
        ]
        if any(_matches(number.group(0), v) for v in importances):
            continue  # "shuffling review lowers accuracy by 0.118"
        metric = next(k for k, v in mentions[-1].groupdict().items() if v)
        prefix = (
            "baseline test " if re.search(r"baseline|tf-idf", window, re.IGNORECASE) else "test "
        )
        named = {
            k: v
            for k, v in figures.items()
            if k.startswith(prefix) and k[len(prefix) :].startswith(metric)
        }
        if named and not any(_matches(number.group(0), v) for v in named.values()):
            name, value = next(iter(named.items()))
            return f"it gives {number.group(0)} as the {name}, which is {value:.3g}"
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
