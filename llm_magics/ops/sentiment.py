"""``sentiment``: positive, negative or neutral, and a score in [-1, 1], for every row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.classify import SENTIMENTS, score_labels
from llm_magics.ops.prompts import render
from llm_magics.ops.spec import COVERAGE, OpSpec, Setting, Uses

__all__ = ["SENTIMENTS", "SPEC", "sentiment"]


SPEC = OpSpec(
    name="sentiment",
    uses=(Uses("chat", "score"),),
    outputs=("sentiment", "sentiment_score"),
    prompts=("sentiment",),
    frame_arguments=("examples",),
    example="sentiment review                  # adds sentiment, sentiment_score",
    tunable=(Setting("calibrate", "bool", "calibrate"),),
    tune_prompt="sentiment",
    result_name="sentiment",
    chart="sentiment",
    bounds={
        "coverage": COVERAGE,
    },
)


@operation(SPEC)
def sentiment(
    texts: pd.Series,
    *,
    examples: Any = None,
    coverage: float | None = None,
    method: str | None = None,
    calibrate: bool = False,
    instruction: str | None = None,
    **engine: Any,
) -> pd.DataFrame:
    """The sentiment of each text, from the chat model's calibrated answer probabilities.

    Parameters
    ----------
    texts
        The text column.
    examples
        Labelled examples (positive/negative/neutral) to learn from, as for ``classify``; the
        quality estimated on them goes in ``attrs["llm_magics"]["quality"]``. Other labels:
        use ``classify(examples=...)``.
    coverage
        With ``examples``: conformal ``label_set`` and ``abstain`` columns (see ``classify``).
    method
        With ``examples``: as ``classify``'s (``None``: ``"auto"``); ``"zero-shot llm"`` keeps
        the chat model's answer and only measures it. Without: leave it out.
    calibrate
        Contextual calibration against content-free inputs (see ``classify``). Off by default:
        on 1,000 real reviews (positive taken as "great") it lowered the default model's accuracy
        from 0.707 to 0.359 (``bench/quality.py``). With ``examples``: recalibration of the
        probabilities on the examples.
    instruction
        Your own question instead of the shipped one (the text follows it); the answer is still
        scored as positive, negative or neutral.

    Returns
    -------
    pandas.DataFrame
        ``sentiment`` (positive/negative/neutral) and ``sentiment_score`` = P(positive) -
        P(negative), in [-1, 1], on the same index; missing texts give NaN.
    """
    column = TextColumn.of(texts, "sentiment")
    prompt = (
        (lambda t: f"{instruction}\n\n{t}")
        if instruction
        else (lambda t: render("sentiment", text=t))
    )
    if examples is not None:
        return _from_examples(
            column, examples, method or "auto", prompt, calibrate, coverage, engine
        )
    if method is not None or coverage is not None:
        msg = "sentiment(): method= and coverage= go with examples= (labelled rows); pass them too."
        raise InvalidArgumentError(msg)
    scored = score_labels(column.texts, list(SENTIMENTS), prompt, calibrate=calibrate, **engine)
    result = _frame(column, scored.probs)
    record_provenance(
        result,
        "sentiment",
        {"calibrate": calibrate, "instruction": instruction},
        scored.provenance,
        cascade=scored.cascade,
    )
    return result


def _frame(column: TextColumn, probs: np.ndarray) -> pd.DataFrame:
    """``sentiment`` and ``sentiment_score`` from probabilities over ``SENTIMENTS``."""
    labels = [SENTIMENTS[i] for i in probs.argmax(axis=1)] if len(probs) else []
    values = probs[:, 0] - probs[:, 1] if len(probs) else []
    return column.frame({"sentiment": (labels, "object"), "sentiment_score": (values, "float64")})


def _normalise(value: Any) -> str:
    name = str(value).strip().lower()
    if name not in SENTIMENTS:
        msg = (
            f"sentiment(examples=...) takes positive, negative or neutral, not {value!r}; for "
            "other labels use classify(examples=...)."
        )
        raise InvalidArgumentError(msg)
    return name


def _from_examples(
    column: TextColumn,
    examples: Any,
    method: str,
    prompt: Any,
    calibrate: bool,
    coverage: float | None,
    engine: dict[str, Any],
) -> pd.DataFrame:
    """``sentiment`` learning from ``examples`` (``llm_magics.ops.fewshot``)."""
    from llm_magics.ops import fewshot

    ex = fewshot.parse_examples(examples, column.source, op="sentiment", normalise=_normalise)
    at = [SENTIMENTS.index(n) for n in ex.labels]
    problem = fewshot.problem(
        ex,
        column.texts,
        method=method,
        question=render("sentiment", text="").strip(),
        zero_shot={},
        engine=engine,
    )

    def chat(rows: list[str]) -> tuple[np.ndarray, list[Provenance]]:
        scored = score_labels(rows, list(SENTIMENTS), prompt, calibrate=False, **problem.chat)
        kept = scored.probs[:, at]
        return kept / kept.sum(axis=1, keepdims=True), scored.provenance

    problem.zero_shot = {"zero-shot llm": chat}
    learned = fewshot.learn(problem, method)
    probs = np.zeros((len(learned.probs), len(SENTIMENTS)))
    result = _frame(column, probs)
    record_provenance(
        result, "sentiment", {"method": learned.method, "examples": len(ex.texts)}, learned.steps
    )
    fitted = fewshot.attach_quality(result, learned, calibrate=calibrate)
    probs[:, at] = fitted
    made = _frame(column, probs)
    for name in made.columns:
        result[name] = made[name]
    fewshot.add_label_sets(result, column, learned, fitted, coverage)
    return result
