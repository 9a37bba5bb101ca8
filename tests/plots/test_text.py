"""Text charts on real op outputs: valid Vega-Lite, the expected encodings and data, sampling."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pytest

from llm_magics.errors import InvalidArgumentError
from llm_magics.ops import TopicModel
from llm_magics.plots import THEME, confidence_histogram, keyword_frequency
from llm_magics.plots._data import MAX_POINTS


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    return chart.to_dict(validate=True)


def _values(spec: dict[str, Any], layer: int | None = None) -> list[dict[str, Any]]:
    part = spec["layer"][layer] if layer is not None else spec
    return spec["datasets"][part.get("data", spec.get("data"))["name"]]


@pytest.fixture(scope="module")
def enriched(chart_reviews: pd.DataFrame) -> pd.DataFrame:
    frame = chart_reviews.head(40).copy()
    frame["review_keywords"] = frame.llm.keywords("review", top=4, progress=False)
    frame[["label", "probability"]] = frame.llm.classify(
        "review", ["great", "bad"], progress=False
    )[["label", "probability"]]
    frame[["sentiment", "sentiment_score"]] = frame.head(12).llm.sentiment("review", progress=False)
    frame["summary"] = frame.head(6).llm.summarize("review", max_words=8, progress=False)
    return frame


@pytest.fixture(scope="module")
def topic_model(chart_reviews: pd.DataFrame) -> TopicModel:
    return chart_reviews.head(40).llm.topics("review", k=3, label=False, progress=False)


def test_topic_map_colours_rows_by_topic_with_text_tooltips(
    topic_model: TopicModel, chart_reviews: pd.DataFrame
) -> None:
    spec = _spec(topic_model.plot("map", texts=chart_reviews["review"]))
    assert spec["mark"]["type"] == "circle"
    assert spec["encoding"]["color"]["field"] == "topic_label"
    assert [t["field"] for t in spec["encoding"]["tooltip"]] == ["text", "topic_label", "keywords"]
    values = _values(spec)
    assert len(values) == 40 and all(len(v["text"]) <= 120 for v in values)
    first = values[0]
    topic = topic_model.rows["topic"].iloc[0]
    assert first["keywords"] == ", ".join(topic_model.keywords(int(topic))[:6])


def test_topic_sizes_sum_to_the_rows(topic_model: TopicModel) -> None:
    spec = _spec(topic_model.plot("sizes"))
    assert sum(v["size"] for v in _values(spec)) == 40
    assert spec["encoding"]["x"]["field"] == "size"
    with pytest.raises(InvalidArgumentError, match="'map' or 'sizes'"):
        topic_model.plot("bars")


@pytest.mark.slow
def test_keyword_frequency_counts_rows(enriched: pd.DataFrame) -> None:
    spec = _spec(enriched.llm.plot("keywords", "review_keywords", top=5))
    values = _values(spec)
    assert len(values) == 5
    top = values[0]
    named = enriched["review_keywords"].dropna().map(lambda k: top["keyword"] in k).sum()
    assert top["rows"] == named
    assert [v["rows"] for v in values] == sorted((v["rows"] for v in values), reverse=True)
    assert spec["encoding"]["x"]["axis"]["format"] == "d"  # counts: whole numbers on the axis


def test_keywords_read_back_from_parquet_are_counted_too(enriched: pd.DataFrame) -> None:
    as_arrays = enriched["review_keywords"].map(lambda k: np.array(k) if isinstance(k, list) else k)
    from_lists = _values(_spec(enriched.llm.plot("keywords", "review_keywords", top=5)))
    from_arrays = _values(_spec(keyword_frequency(as_arrays, top=5)))
    assert from_arrays == from_lists


def test_sentiment_distribution_overall_and_by_category(enriched: pd.DataFrame) -> None:
    overall = _spec(enriched.llm.plot("sentiment", "sentiment"))
    assert sum(v["share"] for v in _values(overall)) == pytest.approx(1.0)
    assert sum(v["rows"] for v in _values(overall)) == enriched["sentiment"].notna().sum()
    by_score = _spec(enriched.llm.plot("sentiment", "sentiment", by="score"))
    groups = {v["group"] for v in _values(by_score)}
    assert groups <= {"great", "other"}
    for group in groups:
        shares = [v["share"] for v in _values(by_score) if v["group"] == group]
        assert sum(shares) == pytest.approx(1.0)
    assert by_score["encoding"]["color"]["scale"]["range"][0] in ("#e15759", "#bab0ac", "#59a14f")


def test_sentiment_chart_names_the_columns_it_wants_for_numbers(enriched: pd.DataFrame) -> None:
    # The README once drew the numeric score, one colour per float (~47 colours).
    with pytest.raises(InvalidArgumentError, match=r"'sentiment_score' holds numbers.*'sentiment'"):
        enriched.llm.plot("sentiment", "sentiment_score", by="score")
    with pytest.raises(
        InvalidArgumentError, match=r"by='length' holds \d+ different numbers.*pd\.cut"
    ):
        enriched.llm.plot("sentiment", "sentiment", by="length")
    stars = enriched.assign(stars=np.arange(len(enriched)) % 5 + 1)
    by_stars = _spec(stars.llm.plot("sentiment", "sentiment", by="stars"))
    assert {v["group"] for v in _values(by_stars)} <= {"1", "2", "3", "4", "5"}


def test_confidence_histogram_bins_probabilities_per_label(enriched: pd.DataFrame) -> None:
    spec = _spec(enriched.llm.plot("confidence", "probability", label="label"))
    assert spec["encoding"]["x"]["bin"]["maxbins"] == 20
    assert spec["encoding"]["color"]["field"] == "label"
    assert len(_values(spec)) == 40


def test_summary_length_against_text_length(enriched: pd.DataFrame) -> None:
    spec = _spec(enriched.llm.plot("summary", "summary", source="review"))
    values = _values(spec, 0)
    assert len(values) == 6
    assert all(v["summary_words"] <= 8 + 1 for v in values)
    assert "median" in spec["title"]
    with pytest.raises(InvalidArgumentError, match="needs the text column"):
        enriched.llm.plot("summary", "summary")
    with pytest.raises(InvalidArgumentError, match="Did you mean 'keywords'"):
        enriched.llm.plot("keywrods", "review_keywords")
    with pytest.raises(InvalidArgumentError, match="No column 'sumary'"):
        enriched.llm.plot("summary", "sumary", source="review")


def test_large_inputs_are_sampled_with_a_note() -> None:
    rng = np.random.default_rng(0)
    probabilities = pd.Series(rng.uniform(size=MAX_POINTS + 2345))
    spec = _spec(confidence_histogram(probabilities))
    assert len(_values(spec)) == MAX_POINTS
    assert (
        spec["title"]
        == f"Classification confidence ({MAX_POINTS:,} of {MAX_POINTS + 2345:,} rows shown)"
    )


def test_the_theme_is_registered_and_readable_on_dark_and_light() -> None:
    assert THEME in alt.theme.names()
    with alt.theme.enable(THEME):
        config = alt.Chart(pd.DataFrame({"a": [1]})).mark_point().encode(x="a").to_dict()["config"]
    assert config["background"] == "transparent"
    assert config["axis"]["labelColor"] == config["title"]["color"] == "#7f7f7f"
