"""Mining charts: valid Vega-Lite (``to_dict`` validates against the schema), right encodings, right data."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pytest

from llm_magics import MiningResult
from llm_magics.errors import InvalidArgumentError
from llm_magics.plots import MINING_CHARTS


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    return chart.to_dict(validate=True)


def _values(spec: dict[str, Any], layer: int | None = None) -> list[dict[str, Any]]:
    """The rows a chart (or one of its layers) draws; Altair lifts shared data to the top."""
    part = spec["layer"][layer] if layer is not None else spec
    return spec["datasets"][part.get("data", spec.get("data"))["name"]]


@pytest.mark.slow
def test_importance_by_column_has_bars_and_error_bars(classified: MiningResult) -> None:
    spec = _spec(classified.plot("importance"))
    bars, errors = spec["layer"]
    assert bars["mark"]["type"] == "bar" and errors["mark"]["type"] == "rule"
    assert bars["encoding"]["x"]["field"] == "importance"
    assert bars["encoding"]["y"]["field"] == "column"
    values = _values(spec, 0)
    assert [v["column"] for v in values] == classified.importances["column"].astype(str).tolist()
    for v in values:
        assert v["lo"] == pytest.approx(v["importance"] - v["std"])
    assert "score" in spec["title"]


def test_importance_by_feature_is_capped(classified: MiningResult) -> None:
    spec = _spec(classified.plot("features", top=7))
    assert len(_values(spec, 0)) == 7
    assert spec["layer"][0]["encoding"]["y"]["field"] == "feature"


def test_leaderboard_shows_mean_and_std_per_candidate(classified: MiningResult) -> None:
    spec = _spec(classified.plot("leaderboard"))
    values = _values(spec, 0)
    board = classified.leaderboard
    assert [v["model"] for v in values] == board["model"].tolist()
    assert [v["f1_macro"] for v in values] == pytest.approx(board["f1_macro_mean"].tolist())
    with pytest.raises(InvalidArgumentError, match="Did you mean 'accuracy'"):
        classified.plot("leaderboard", metric="acuracy")


def test_confusion_matrix_counts_and_rates(classified: MiningResult) -> None:
    spec = _spec(classified.plot("confusion"))
    values = _values(spec, 0)
    assert sum(v["count"] for v in values) == len(classified.splits.test)
    for actual in {v["actual"] for v in values}:
        assert sum(v["rate"] for v in values if v["actual"] == actual) == pytest.approx(1.0)
    cell = values[0]
    assert cell["label"] == f"{cell['count']} ({cell['rate']:.0%})"
    assert spec["layer"][0]["encoding"]["color"]["field"] == "rate"
    assert spec["layer"][1]["encoding"]["text"]["field"] == "label"


def test_roc_area_matches_the_test_auc(classified: MiningResult) -> None:
    spec = _spec(classified.plot("roc"))
    values = _values(spec, 0)
    classes = {v["class"] for v in values}
    assert len(classes) == 1  # two classes: one curve
    assert f"area {classified.metrics['roc_auc']:.3f}" in next(iter(classes))
    assert values[0]["x"] == 0 and values[-1]["y"] == 1


@pytest.mark.slow
def test_multiclass_curves_are_one_vs_rest(three_classes: MiningResult) -> None:
    roc, pr = _spec(three_classes.plot("roc")), _spec(three_classes.plot("pr"))
    present = set(map(str, three_classes.test_predictions["actual"]))
    assert len({v["class"] for v in _values(roc, 0)}) == len(present)
    assert {v["class"].split(" (")[0] for v in _values(pr)} == present
    assert all(0 <= v["y"] <= 1 for v in _values(pr))


def test_predicted_vs_actual_for_regression(
    regressed: MiningResult, classified: MiningResult
) -> None:
    spec = _spec(regressed.plot("predicted"))
    values = _values(spec, 0)
    assert len(values) == len(regressed.splits.test)
    frame = regressed.test_predictions
    assert [v["actual"] for v in values] == pytest.approx(frame["actual"].astype(float).tolist())
    with pytest.raises(InvalidArgumentError, match="use kind='confusion'"):
        MINING_CHARTS["predicted"](classified)


def test_contributions_of_one_row(classified: MiningResult, chart_reviews: pd.DataFrame) -> None:
    row = chart_reviews.loc[[classified.splits.test[0]]]
    spec = _spec(classified.plot("contributions", row=row, top=5))
    values = _values(spec)
    assert len(values) == 5
    assert {v["direction"] for v in values} <= {"raises", "lowers"}
    assert all((v["contribution"] >= 0) == (v["direction"] == "raises") for v in values)
    with pytest.raises(InvalidArgumentError, match="one-row DataFrame"):
        classified.plot("contributions", row=chart_reviews.head(2))


def test_charts_fit_the_task(classified: MiningResult, regressed: MiningResult) -> None:
    assert len(classified.charts()) == 4 and len(regressed.charts()) == 3
    for chart in [*classified.charts(), *regressed.charts()]:
        _spec(chart)
    with pytest.raises(InvalidArgumentError, match="Did you mean 'roc'"):
        classified.plot("rco")
    with pytest.raises(InvalidArgumentError, match="classification"):
        regressed.plot("confusion")


def test_test_predictions_are_the_test_rows(classified: MiningResult) -> None:
    frame = classified.test_predictions
    assert frame.index.tolist() == classified.splits.test
    scores = frame[[c for c in frame.columns if c.startswith("score_")]]
    assert np.allclose(scores.sum(axis=1), 1.0) or scores.shape[1] == 2
    assert (frame["actual"] == frame["predicted"]).mean() == pytest.approx(
        classified.metrics["accuracy"]
    )
