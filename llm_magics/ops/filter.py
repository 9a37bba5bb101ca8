"""``filter`` and ``query``: which rows match a condition in plain words.

``method="llm"`` (the default) asks the chat model yes or no and reads the calibrated
probability of "yes" (``classify``'s scoring, through the cascade when no model is named).
``method="embed"`` matches a row when its embedding is closer to the condition than to
``baseline``, a description of an ordinary row: P(match) = sigmoid((cos(text, condition) -
cos(text, baseline)) / 0.05); the baseline sets the bar, so set it for your data ("A routine
support ticket."). It is fast but English only: on 150 reviews asked "the review is positive"
it agreed with the stars on 0.51 of them, ``llm`` on 0.65 (``bench/multilingual.py``), and with
the 135M model alone the chat's answers barely depended on the text.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine import embed
from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError
from llm_magics.learning.methods import FewShot, Probabilities
from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.classify import EMBED_TEMPERATURE, score_labels
from llm_magics.ops.from_examples import from_examples
from llm_magics.ops.prompts import render
from llm_magics.ops.spec import Bound, OpSpec, Setting, Uses

__all__ = ["SPEC", "filter", "query"]


def parse_condition(value: str) -> str:
    """A panel's condition text, stripped; an empty one is an error that says what to type."""
    if not value.strip():
        msg = "Describe the rows to keep: mentions late delivery, is a complaint ..."
        raise InvalidArgumentError(msg)
    return value.strip()


def _share(result: pd.Series) -> str:
    share = float(result.mean()) if result.notna().any() else 0.0
    return f"{share:.0%} of rows match"


SPEC = OpSpec(
    name="filter",
    uses=(Uses("chat", "score"),),
    by_method={"embed": (Uses("embed", "embed"),), "llm": (Uses("chat", "score"),)},
    outputs=("{column}_match",),
    prompts=("filter",),
    argument="condition",
    frame_arguments=("examples",),
    plan_argument="quoted",
    example='filter review "mentions delivery" -> about_delivery',
    tunable=(
        Setting(
            "condition",
            "text",
            "condition",
            placeholder="mentions late delivery",
            parse=parse_condition,
            required=True,
        ),
        Setting("method", "choice", "method", choices=("embed", "llm")),
        Setting("threshold", "float", "threshold", low=0.0, high=1.0, step=0.05),
    ),
    result_name="match",
    note=_share,
    bounds={
        "threshold": Bound(0, 1, open_low=True, open_high=True),
    },
)


@operation(SPEC)
def filter(
    texts: pd.Series,
    condition: str,
    *,
    examples: Any = None,
    method: str | None = None,
    baseline: str = "An ordinary review of a product.",
    threshold: float = 0.5,
    calibrate: bool = True,
    **engine: Any,
) -> pd.Series:
    """Whether each text matches ``condition`` ("mentions shipping", "is a complaint" ...).

    Parameters
    ----------
    texts
        The text column.
    condition
        What a matching text does or is, in plain words.
    examples
        Rows known to match or not (True/False or yes/no), as for ``classify``: a label column on
        the texts' index (NaN where unknown), a DataFrame of (text, label) or a dict. The result
        then learns from them (``method``, ``None``: ``"auto"``) and carries the quality
        estimated on them in ``attrs["llm_magics"]["quality"]``.
    method
        ``"llm"`` (the default: the chat model's calibrated "yes") or ``"embed"`` (similarity to
        the condition against similarity to ``baseline``; English only); with ``examples``, one of
        ``classify``'s methods for examples.
    baseline
        What an ordinary, non-matching row is like (``method="embed"``).
    threshold
        The probability above which a row matches.
    calibrate
        Contextual calibration (``method="llm"``).

    Returns
    -------
    pandas.Series
        A nullable boolean Series on the same index (missing texts give ``<NA>``); the
        probability of each row, in order, is in ``attrs["llm_magics"]["probability"]``.
    """
    if not isinstance(condition, str) or not condition.strip():
        msg = f"condition must be a non-empty description, not {condition!r}."
        raise InvalidArgumentError(msg)
    column = TextColumn.of(texts, "filter")
    if examples is not None:
        return _from_examples(
            column, condition, examples, method or "auto", baseline, threshold, calibrate, engine
        )
    method = method or "llm"
    if method not in ("llm", "embed"):
        msg = f"method must be 'embed' or 'llm', not {method!r}."
        raise InvalidArgumentError(msg)
    routed = None
    if method == "embed":
        # The rows in one call, the condition in another: progress and counts are the user's rows.
        out = embed(column.texts, **engine)
        anchors = embed([condition, baseline], **(engine | {"progress": False}))
        margin = out.vectors @ anchors.vectors[0] - out.vectors @ anchors.vectors[1]
        yes = 1 / (1 + np.exp(-margin / EMBED_TEMPERATURE))
        steps = [out.provenance, anchors.provenance]
    else:
        scored = score_labels(
            column.texts,
            ["yes", "no"],
            lambda t: render("filter", condition=condition.strip().rstrip("?."), text=t),
            calibrate=calibrate,
            **engine,
        )
        yes, steps = scored.probs[:, 0] if len(scored.probs) else np.zeros(0), scored.provenance
        routed = scored.cascade
    result = column.series(list(yes > threshold), name=f"{column.name}_match", dtype="boolean")
    parameters = {"condition": condition, "method": method, "threshold": threshold}
    parameters |= {"baseline": baseline} if method == "embed" else {"calibrate": calibrate}
    record_provenance(result, "filter", parameters, steps, cascade=routed)
    probability = column.series(yes, name="p_yes", dtype="float64")
    result.attrs["llm_magics"]["probability"] = probability.tolist()
    return result


_YES = {"true": "yes", "yes": "yes", "1": "yes", "false": "no", "no": "no", "0": "no"}


def _normalise(value: Any) -> str:
    name = _YES.get(str(value).strip().lower())
    if name is None:
        msg = f"filter(examples=...) takes True/False or yes/no, not {value!r}."
        raise InvalidArgumentError(msg)
    return name


def _from_examples(
    column: TextColumn,
    condition: str,
    examples: Any,
    method: str,
    baseline: str,
    threshold: float,
    calibrate: bool,
    engine: dict[str, Any],
) -> pd.Series:
    """``filter`` learning from ``examples`` (``ops.from_examples``, ``llm_magics.learning``);
    P(yes) per row."""
    condition = condition.strip().rstrip("?.")

    def scores(problem: FewShot) -> dict[str, Probabilities]:
        def chat(rows: list[str]) -> tuple[np.ndarray, list[Provenance]]:
            prompt = lambda t: render("filter", condition=condition, text=t)  # noqa: E731
            scored = score_labels(rows, ["yes", "no"], prompt, calibrate=calibrate, **problem.chat)
            return scored.probs, scored.provenance

        def embedded(rows: list[str]) -> tuple[np.ndarray, list[Provenance]]:
            out = embed(rows, **problem.encoder)
            anchors = embed([condition, baseline], **(problem.encoder | {"progress": False}))
            margin = out.vectors @ anchors.vectors[0] - out.vectors @ anchors.vectors[1]
            yes = 1 / (1 + np.exp(-margin / EMBED_TEMPERATURE))
            return np.column_stack([yes, 1 - yes]), [out.provenance, anchors.provenance]

        return {"zero-shot llm": chat, "zero-shot embed": embedded}

    # ``calibrate`` is the chat model's own (``score_labels``), as without examples.
    result, probs = from_examples(
        column,
        examples,
        op="filter",
        method=method,
        question=lambda ex: render("filter_question", condition=condition),
        scores=scores,
        frame=lambda ex, probs: column.series(
            list(probs[:, 0] > threshold), name=f"{column.name}_match", dtype="boolean"
        ),
        parameters=lambda ex: {"condition": condition, "threshold": threshold},
        labels=["yes", "no"],
        normalise=_normalise,
        engine=engine,
    )
    probability = column.series(probs[:, 0], name="p_yes", dtype="float64")
    result.attrs["llm_magics"]["probability"] = probability.tolist()
    return result


def query(frame: pd.DataFrame, condition: str, texts: pd.Series, **kwargs: object) -> pd.DataFrame:
    """The rows of ``frame`` whose text matches ``condition`` (see ``filter``)."""
    matches = filter(texts, condition, **kwargs)
    selected = frame.loc[matches.fillna(False).to_numpy(dtype=bool)].copy()
    selected.attrs["llm_magics"] = matches.attrs["llm_magics"] | {"op": "query"}
    return selected
