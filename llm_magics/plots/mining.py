"""Charts of a ``MiningResult``: what matters, how well it predicts, and why one row came out so.

Every function returns an ``altair.Chart`` (or a layer of them) and displays nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import altair as alt
import numpy as np
import pandas as pd
from sklearn.metrics import auc, precision_recall_curve, roc_curve

from llm_magics.errors import InvalidArgumentError, did_you_mean
from llm_magics.plots._data import limit

if TYPE_CHECKING:
    from llm_magics.mining.result import MiningResult

__all__ = [
    "MINING_CHARTS",
    "confusion_chart",
    "contribution_chart",
    "importance_chart",
    "leaderboard_chart",
    "mining_chart",
    "pr_chart",
    "predicted_actual_chart",
    "roc_chart",
]


def _bars_with_error(
    data: pd.DataFrame, label: str, value: str, title: str, x_title: str
) -> alt.LayerChart:
    data = data.assign(lo=data[value] - data["std"], hi=data[value] + data["std"])
    order = alt.SortField(field=value, order="descending")
    y = alt.Y(f"{label}:N", sort=order, title=None)
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=y,
            x=alt.X(f"{value}:Q", title=x_title),
            tooltip=[
                alt.Tooltip(f"{label}:N"),
                alt.Tooltip(f"{value}:Q", format=".3f"),
                alt.Tooltip("std:Q", format=".3f"),
            ],
        )
    )
    errors = alt.Chart(data).mark_rule().encode(y=y, x="lo:Q", x2="hi:Q")
    return alt.layer(bars, errors).properties(title=title)


def importance_chart(result: MiningResult, *, by: str = "column", top: int = 15) -> alt.LayerChart:
    """Permutation importance (drop in the metric when shuffled), mean ± std over repeats."""
    if by not in ("column", "feature"):
        msg = f"by must be 'column' or 'feature', not {by!r}."
        raise InvalidArgumentError(msg)
    source = result.importances if by == "column" else result.feature_importances
    data = source.head(top)[[by, "importance", "std"]].copy()
    data[by] = data[by].astype(str)
    return _bars_with_error(
        data,
        by,
        "importance",
        f"What drives {result.target!r}: importance by {by}",
        f"drop in test {result.metric} when shuffled",
    )


def leaderboard_chart(result: MiningResult, *, metric: str | None = None) -> alt.LayerChart:
    """Cross-validated mean ± std of ``metric`` (default: the ranking metric) per candidate."""
    metric = metric or result.metric
    if f"{metric}_mean" not in result.leaderboard:
        known = [c.removesuffix("_mean") for c in result.leaderboard if c.endswith("_mean")]
        msg = f"No metric {metric!r} in the leaderboard.{did_you_mean(metric, known)} Metrics: {', '.join(known)}."
        raise InvalidArgumentError(msg)
    data = pd.DataFrame(
        {
            "model": result.leaderboard["model"].astype(str),
            metric: result.leaderboard[f"{metric}_mean"],
            "std": result.leaderboard[f"{metric}_std"].fillna(0.0),
        }
    )
    return _bars_with_error(
        data,
        "model",
        metric,
        f"Candidates by cross-validated {metric} (mean ± std over folds)",
        f"{metric}",
    )


def confusion_chart(result: MiningResult) -> alt.LayerChart:
    """Held-out test rows by actual × predicted class: counts, and the share of each actual row."""
    if result.confusion is None:
        msg = "A confusion matrix needs a classification result."
        raise InvalidArgumentError(msg)
    counts = result.confusion
    long = counts.stack().rename("count").reset_index()
    long.columns = ["actual", "predicted", "count"]
    totals = long.groupby("actual")["count"].transform("sum").replace(0, 1)
    long["rate"] = long["count"] / totals
    long["label"] = [f"{c} ({r:.0%})" for c, r in zip(long["count"], long["rate"], strict=True)]
    long[["actual", "predicted"]] = long[["actual", "predicted"]].astype(str)
    size = len(counts)
    base = alt.Chart(long).encode(
        x=alt.X("predicted:N", title="predicted", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("actual:N", title="actual"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("rate:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="share"),
        tooltip=["actual:N", "predicted:N", "count:Q", alt.Tooltip("rate:Q", format=".1%")],
    )
    text = base.mark_text(fontSize=12).encode(
        text="label:N",
        color=alt.condition(alt.datum.rate > 0.5, alt.value("white"), alt.value("#333")),
    )
    return alt.layer(cells, text).properties(
        title=f"Confusion matrix, {len(result.splits.test)} test rows",
        width=max(200, 80 * size),
        height=max(160, 50 * size),
    )


def _class_curves(result: MiningResult, kind: str) -> pd.DataFrame:
    frame = result.test_predictions
    scores = [c for c in frame.columns if c.startswith("score_")]
    if result.task != "classification" or not scores:
        msg = f"A {kind.upper()} curve needs a classification result with class scores."
        raise InvalidArgumentError(msg)
    classes = [c.removeprefix("score_") for c in scores]
    if len(classes) == 2:
        classes, scores = classes[1:], scores[1:]  # one curve: the positive (second) class
    parts = []
    actual = frame["actual"].astype(str).to_numpy()
    for label, column in zip(classes, scores, strict=True):
        truth = actual == label
        if truth.all() or not truth.any():
            continue
        if kind == "roc":
            x, y, _ = roc_curve(truth, frame[column].to_numpy())
            area = float(auc(x, y))
        else:
            y, x, _ = precision_recall_curve(truth, frame[column].to_numpy())
            area = float(auc(x, y))
        parts.append(pd.DataFrame({"x": x, "y": y, "class": f"{label} (area {area:.3f})"}))
    if not parts:
        msg = "The test rows hold a single class: there is no curve to draw."
        raise InvalidArgumentError(msg)
    return pd.concat(parts, ignore_index=True)


def roc_chart(result: MiningResult) -> alt.LayerChart:
    """ROC curve per class (one-vs-rest; one curve for two classes) on the test rows."""
    data = _class_curves(result, "roc")
    curves = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("x:Q", title="false positive rate", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("y:Q", title="true positive rate", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("class:N", title="class (AUC)"),
        )
    )
    chance = (
        alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="#999")
        .encode(x="x:Q", y="y:Q")
    )
    return alt.layer(curves, chance).properties(title="ROC on the test rows")


def pr_chart(result: MiningResult) -> alt.Chart:
    """Precision against recall per class on the test rows."""
    data = _class_curves(result, "pr")
    return (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("x:Q", title="recall", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("y:Q", title="precision", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("class:N", title="class (area under the curve)"),
        )
        .properties(title="Precision-recall on the test rows")
    )


def predicted_actual_chart(result: MiningResult) -> alt.LayerChart:
    """Predicted against actual values of the test rows, with the line of perfect predictions."""
    if result.task != "regression":
        msg = "Predicted vs actual is for regression; use kind='confusion' for classes."
        raise InvalidArgumentError(msg)
    data, title = limit(
        result.test_predictions[["actual", "predicted"]].astype(float),
        f"Predicted vs actual {result.target!r}, {len(result.test_predictions)} test rows",
    )
    points = (
        alt.Chart(data)
        .mark_circle(opacity=0.6)
        .encode(
            x=alt.X("actual:Q", title=f"actual {result.target}"),
            y=alt.Y("predicted:Q", title=f"predicted {result.target}"),
            tooltip=[
                alt.Tooltip("actual:Q", format=".3g"),
                alt.Tooltip("predicted:Q", format=".3g"),
            ],
        )
    )
    low = float(min(data["actual"].min(), data["predicted"].min()))
    high = float(max(data["actual"].max(), data["predicted"].max()))
    ideal = (
        alt.Chart(pd.DataFrame({"actual": [low, high], "predicted": [low, high]}))
        .mark_line(strokeDash=[4, 4], color="#999")
        .encode(x="actual:Q", y="predicted:Q")
    )
    return alt.layer(points, ideal).properties(title=title)


def contribution_chart(result: MiningResult, row: pd.DataFrame, *, top: int = 8) -> alt.Chart:
    """The features that moved one row's prediction most (see ``MiningResult.contributions``)."""
    if not isinstance(row, pd.DataFrame) or len(row) != 1:
        msg = "Pass row= a one-row DataFrame, e.g. frame.loc[[label]]."
        raise InvalidArgumentError(msg)
    data = result.contributions(row, top=top)[["feature", "contribution"]]
    data["direction"] = np.where(data["contribution"] >= 0, "raises", "lowers")
    predicted = result.predict(row).iloc[0]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y(
                "feature:N", sort=alt.SortField("contribution", order="descending"), title=None
            ),
            x=alt.X("contribution:Q", title="change in the prediction from this feature"),
            color=alt.Color(
                "direction:N",
                scale=alt.Scale(domain=["raises", "lowers"], range=["#4e79a7", "#e15759"]),
                title=None,
            ),
            tooltip=["feature:N", alt.Tooltip("contribution:Q", format=".3f")],
        )
        .properties(title=f"Why row {row.index[0]!r} is predicted {predicted!r}")
    )


MINING_CHARTS: dict[str, Any] = {
    "importance": importance_chart,
    "features": lambda result, **kw: importance_chart(result, by="feature", **kw),
    "leaderboard": leaderboard_chart,
    "confusion": confusion_chart,
    "roc": roc_chart,
    "pr": pr_chart,
    "predicted": predicted_actual_chart,
    "contributions": contribution_chart,
}
"""Every chart of a mining result, by the ``kind`` that ``MiningResult.plot`` takes."""


def mining_chart(result: MiningResult, kind: str, **kwargs: Any) -> alt.TopLevelMixin:
    """The chart ``kind`` of ``result`` (see ``MINING_CHARTS``)."""
    if kind not in MINING_CHARTS:
        msg = f"Unknown chart {kind!r}.{did_you_mean(kind, MINING_CHARTS)} Kinds: {', '.join(MINING_CHARTS)}."
        raise InvalidArgumentError(msg)
    return MINING_CHARTS[kind](result, **kwargs)
