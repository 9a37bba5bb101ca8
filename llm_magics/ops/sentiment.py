"""``sentiment``: positive, negative or neutral, and a score in [-1, 1], for every row."""

from __future__ import annotations

from typing import Any

import pandas as pd

from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.classify import score_labels
from llm_magics.ops.prompts import render
from llm_magics.ops.spec import OpSpec, Setting, Uses

__all__ = ["SENTIMENTS", "SPEC", "sentiment"]

SENTIMENTS = ("positive", "negative", "neutral")

SPEC = OpSpec(
    name="sentiment",
    uses=(Uses("chat", "score"),),
    outputs=("sentiment", "sentiment_score"),
    prompts=("sentiment",),
    example="sentiment review                  # adds sentiment, sentiment_score",
    tunable=(Setting("calibrate", "bool", "calibrate"),),
    tune_prompt="sentiment",
    result_name="sentiment",
    chart="sentiment",
)


@operation(SPEC)
def sentiment(
    texts: pd.Series,
    *,
    calibrate: bool = False,
    instruction: str | None = None,
    **engine: Any,
) -> pd.DataFrame:
    """The sentiment of each text, from the chat model's calibrated answer probabilities.

    Parameters
    ----------
    texts
        The text column.
    calibrate
        Contextual calibration against content-free inputs (see ``classify``). Off by default:
        on 1,000 real reviews (positive taken as "great") it lowered the default model's accuracy
        from 0.707 to 0.359 (``bench/quality.py``).
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
    scored = score_labels(
        column.texts,
        list(SENTIMENTS),
        (lambda t: f"{instruction}\n\n{t}")
        if instruction
        else (lambda t: render("sentiment", text=t)),
        calibrate=calibrate,
        **engine,
    )
    probs = scored.probs
    labels = [SENTIMENTS[i] for i in probs.argmax(axis=1)] if len(probs) else []
    values = probs[:, 0] - probs[:, 1] if len(probs) else []
    result = column.frame({"sentiment": (labels, "object"), "sentiment_score": (values, "float64")})
    record_provenance(
        result,
        "sentiment",
        {"calibrate": calibrate, "instruction": instruction},
        scored.provenance,
    )
    return result
