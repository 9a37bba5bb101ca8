"""``sentiment``: positive, negative or neutral, and a score in [-1, 1], for every row."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.classify import score_labels
from llm_magics.ops.prompts import render
from llm_magics.runtime.manager import ModelManager

if TYPE_CHECKING:
    from llm_magics.distributed import RayEngine

__all__ = ["SENTIMENTS", "sentiment"]

SENTIMENTS = ("positive", "negative", "neutral")


@operation
def sentiment(
    texts: pd.Series,
    *,
    calibrate: bool = False,
    instruction: str | None = None,
    model: str | None = None,
    progress: bool = True,
    cache: bool = True,
    batch_tokens: int | None = None,
    manager: ModelManager | None = None,
    engine: str | RayEngine = "local",
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
    model, progress, cache, batch_tokens, manager
        The chat model and engine settings.
    engine
        ``"local"`` runs here; ``"ray"`` or a ``RayEngine`` runs the same rows on a Ray cluster,
        one model per worker (see ``llm_magics.distributed``).

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
        model=model,
        progress=progress,
        cache=cache,
        batch_tokens=batch_tokens,
        manager=manager,
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
