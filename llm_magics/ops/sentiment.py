"""``sentiment``: positive, negative or neutral, and a score in [-1, 1], for every row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError
from llm_magics.learning.examples import Examples
from llm_magics.learning.methods import FewShot, Probabilities
from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.classify import SENTIMENTS, score_labels
from llm_magics.ops.from_examples import from_examples
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
    """``sentiment`` learning from ``examples`` (``ops.from_examples``, ``llm_magics.learning``)."""

    def at(ex: Examples) -> list[int]:
        return [SENTIMENTS.index(n) for n in ex.labels]

    def scores(problem: FewShot) -> dict[str, Probabilities]:
        kept_at = at(problem.examples)

        def chat(rows: list[str]) -> tuple[np.ndarray, list[Provenance]]:
            scored = score_labels(rows, list(SENTIMENTS), prompt, calibrate=False, **problem.chat)
            kept = scored.probs[:, kept_at]
            return kept / kept.sum(axis=1, keepdims=True), scored.provenance

        return {"zero-shot llm": chat}

    def frame(ex: Examples, learned: np.ndarray) -> pd.DataFrame:
        probs = np.zeros((len(learned), len(SENTIMENTS)))
        probs[:, at(ex)] = learned
        return _frame(column, probs)

    result, _ = from_examples(
        column,
        examples,
        op="sentiment",
        method=method,
        question=lambda ex: render("sentiment", text="").strip(),
        scores=scores,
        frame=frame,
        parameters=lambda ex: {},
        normalise=_normalise,
        calibrate=calibrate,
        coverage=coverage,
        engine=engine,
    )
    return result
