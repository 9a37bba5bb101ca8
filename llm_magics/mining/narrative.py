"""A short narrative of a mining result, with every number in it checked against the figures.

The chat model writes a few sentences from the computed figures. A number in its text passes
only if it is one of the figures as written at that precision (``0.83``, ``83%``, ``83.4%``) or a
count the figures hold (rows, folds, classes); a number written after a metric's name ("macro-F1
of 0.62") must be that metric's figure, the test one unless the sentence names the baseline; and
"perfect" is allowed only for a perfect score; a sentence that says the model beats the baseline
must name the metric it beats it on, and hold there. One claim that fails sends the reader the
deterministic template instead, and ``Narrative.source`` says which they got.

The template compares with the baseline on the chosen metric and on every other metric where the
model ties or loses: "better" is said only where the test figure is better as printed (3
decimals), and a tie or a loss is said as one.

``narrate`` (what ``MiningResult.explain`` returns) asks the chat model through the engine and
checks its answer with ``check_answer``; the result object itself never calls a model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from llm_magics import engine
from llm_magics.errors import RunInterruptedError

__all__ = [
    "NARRATIVE_PROMPT",
    "Explained",
    "Narrative",
    "check_answer",
    "claims_check",
    "figures_of",
    "narrate",
    "numbers_check",
    "template",
]

# How long ``explain()`` waits for the chat model, in seconds, loading included. A user waited
# 152 s (a first load of the quality model converts its GGUF) and got the template anyway.
EXPLAIN_TIMEOUT = 60.0

NARRATIVE_PROMPT = (
    "Explain these model results to a data analyst in three short sentences. Use only the numbers "
    "given here, written exactly as given.\n\n{facts}"
)

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
_BASELINE = re.compile(r"baseline|tf-idf", re.IGNORECASE)
# Words that say the model does better; "above" or "higher" are left out: for an error metric
# (rmse, mae) they say the opposite.
_BEATS = re.compile(
    r"\b(?:better|outperform\w*|beat(?:s|ing)?|exceed\w*|surpass\w*|improv\w*|superior|stronger)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|no|never|fails?|failed|n't)\b\W+(?:\w+\W+){0,2}$", re.IGNORECASE)
_LOWER_IS_BETTER = ("rmse", "mae")


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
    >>> claims_check("It does better than the TF-IDF baseline.", figures)
    'it says the model beats the baseline without naming the metric it holds on'
    >>> claims_check("Its macro-F1 beats the baseline.", figures)
    'it says the model beats the baseline on f1_macro, where it scores 0.556 against 0.625'
    """
    wrong = numbers_check(text, figures.values())
    if wrong is not None:
        return f"it writes {wrong}, which is not in the figures"
    wrong = _comparison_check(text, figures)
    if wrong is not None:
        return wrong
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


def _comparison_check(text: str, figures: Mapping[str, float]) -> str | None:
    """Why a sentence's "better than the baseline" does not hold, or None when every one does."""
    start = 0
    for end in [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]:
        sentence, start = text[start:end], end
        if not _BASELINE.search(sentence):
            continue
        claims = [
            m for m in _BEATS.finditer(sentence) if not _NEGATION.search(sentence[: m.start()])
        ]
        if not claims:
            continue
        metrics = {k for m in _MENTION.finditer(sentence) for k, v in m.groupdict().items() if v}
        if not metrics:
            return "it says the model beats the baseline without naming the metric it holds on"
        for metric in sorted(metrics):
            test = next((k for k in figures if k.startswith(f"test {metric}")), None)
            baseline = f"baseline {test}"
            if test is None or baseline not in figures:
                continue
            if not _better(test.removeprefix("test "), figures[test], figures[baseline]):
                return (
                    f"it says the model beats the baseline on {test.removeprefix('test ')}, where "
                    f"it scores {figures[test]:.3g} against {figures[baseline]:.3g}"
                )
    return None


def template(
    *,
    target: str,
    task: str,
    best: str,
    metric: str,
    metrics: Mapping[str, float],
    baseline_metrics: Mapping[str, float],
    rows: int,
    drivers: list[tuple[str, float]],
) -> str:
    """The deterministic narrative.

    Examples
    --------
    >>> print(template(target="score", task="classification", best="logistic regression",
    ...     metric="f1_macro", metrics={"f1_macro": 0.62, "accuracy": 0.7, "roc_auc": 0.41},
    ...     baseline_metrics={"f1_macro": 0.6, "accuracy": 0.6, "roc_auc": 0.55}, rows=40,
    ...     drivers=[]))
    For classifying 'score', the best model was logistic regression, tested on 40 held-out rows. \
On f1_macro it scores 0.620 against the TF-IDF baseline's 0.600: better. On roc_auc it scores \
0.410 against the TF-IDF baseline's 0.550: not better.
    >>> print(template(target="score", task="classification", best="tfidf + linear (baseline)",
    ...     metric="f1_macro", metrics={"f1_macro": 0.62, "accuracy": 0.7},
    ...     baseline_metrics={"f1_macro": 0.62, "accuracy": 0.7}, rows=12, drivers=[]))
    For classifying 'score', the best model was tfidf + linear (baseline), tested on 12 held-out \
rows. No candidate beat the TF-IDF baseline; on f1_macro it scores 0.620.
    """
    kind = "classifying" if task == "classification" else "predicting"
    shared = [
        m
        for m in metrics
        if m in baseline_metrics
        and math.isfinite(metrics[m])
        and math.isfinite(baseline_metrics[m])
    ]
    shared = [metric] + [m for m in shared if m != metric] if metric in shared else shared
    lines = [f"For {kind} {target!r}, the best model was {best}, tested on {rows} held-out rows."]
    if "baseline" in best and all(
        round(metrics[m], 3) == round(baseline_metrics[m], 3) for m in shared
    ):
        # The baseline itself won: comparing it with itself, metric by metric, says nothing.
        if metric in shared:
            lines.append(
                f"No candidate beat the TF-IDF baseline; on {metric} it scores "
                f"{metrics[metric]:.3f}."
            )
        shared = []
    # The chosen metric, then every other one where the model ties or loses, so that a win on
    # one metric never hides a loss on another. One sentence each, the figure right after the
    # metric's name, as the claims check reads it.
    for m in shared:
        better = _better(m, metrics[m], baseline_metrics[m])
        if m == metric or not better:
            lines.append(
                f"On {m} it scores {metrics[m]:.3f} against the TF-IDF baseline's "
                f"{baseline_metrics[m]:.3f}: {'better' if better else 'not better'}."
            )
    if drivers:
        named = ", ".join(f"{column} ({value:.3f})" for column, value in drivers)
        lines.append(
            f"The columns that matter most (the drop in {metric} when a column is shuffled) are "
            f"{named}."
        )
    return " ".join(lines)


class Explained(Protocol):
    """What a narrative reads of a ``MiningResult`` (named here so the two modules don't import
    each other: the result imports the narrative)."""

    target: str
    task: str
    best_name: str
    metric: str
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    importances: pd.DataFrame
    splits: Any
    chat_model: str | None


def _better(metric: str, value: float, baseline: float) -> bool:
    """Better as the reader sees it: figures equal at 3 decimals are a tie, not a win."""
    value, baseline = round(value, 3), round(baseline, 3)
    return value < baseline if metric in _LOWER_IS_BETTER else value > baseline


def figures_of(result: Explained) -> dict[str, float]:
    """The figures a narrative of ``result`` may state: the test metrics of the model and of the
    baseline, the top three importances, and the row and fold counts."""
    figures = {f"test {k}": v for k, v in result.metrics.items() if math.isfinite(v)}
    figures |= {
        f"baseline test {k}": v for k, v in result.baseline_metrics.items() if math.isfinite(v)
    }
    for _, row in result.importances.head(3).iterrows():
        figures[f"importance of {row['column']}"] = float(row["importance"])
    figures["test rows"] = len(result.splits.test)
    figures["training rows"] = len(result.splits.train)
    figures["folds"] = len(result.splits.folds)
    return figures


def narrate(
    result: Explained, *, use_model: bool = True, timeout: float | None = EXPLAIN_TIMEOUT
) -> Narrative:
    """A short narrative of ``result``: the chat model's (``result.chat_model``), if every number
    in it checks out and it comes within ``timeout`` seconds (loading the model included; ``None``:
    no limit), else (or with ``use_model=False``) the template's, with the reason."""
    text = template(
        target=result.target,
        task=result.task,
        best=result.best_name,
        metric=result.metric,
        metrics=result.metrics,
        baseline_metrics=result.baseline_metrics,
        rows=len(result.splits.test),
        drivers=[
            (str(r["column"]), float(r["importance"]))
            for _, r in result.importances.head(3).iterrows()
        ],
    )
    if not use_model:
        return Narrative(text, "template", reason="use_model=False")
    facts = "\n".join(
        [f"target: {result.target} ({result.task})", f"best model: {result.best_name}"]
        + [
            f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}"
            for name, value in figures_of(result).items()
        ]
    )
    try:
        with engine.time_limit(timeout):
            answer = engine.generate(
                [NARRATIVE_PROMPT.format(facts=facts)],
                model=result.chat_model,
                max_new_tokens=120,
                progress=False,
            ).texts[0]
    except RunInterruptedError as err:
        if err.reason != "time limit":
            raise
        reason = (
            f"the chat model had not finished after {timeout:g} s (loading it included); "
            "pass timeout= to wait longer"
        )
        return Narrative(text, "template", reason=reason)
    return check_answer(result, answer.strip(), fallback=text)


def check_answer(result: Explained, answer: str, *, fallback: str | None = None) -> Narrative:
    """``answer`` if it states only the figures of ``result`` (see ``claims_check``), else the
    template (or ``fallback``), with the reason."""
    fallback = fallback or narrate(result, use_model=False).text
    if not answer:
        return Narrative(fallback, "template", reason="the chat model wrote nothing")
    wrong = claims_check(answer, figures_of(result))
    if wrong is not None:
        return Narrative(
            fallback,
            "template",
            rejected=answer,
            reason=f"the chat model's text failed: {wrong}",
        )
    return Narrative(answer, "model")
