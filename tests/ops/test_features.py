from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_magics.ops import TextFeatures, features

pytestmark = pytest.mark.slow


def test_features_are_numeric_and_prefixed(reviews: pd.DataFrame) -> None:
    frame = reviews.assign(title=["Tea"] * 12)
    out = features(
        frame, "review", topics_k=2, keyword_features=5, embedding_dims=3, progress=False
    )
    assert out.index.equals(reviews.index)
    assert all(c.startswith("review_") for c in out.columns)
    assert {
        "review_chars",
        "review_words",
        "review_sentiment",
        "review_topic_0",
        "review_emb_2",
    } <= set(out.columns)
    assert sum(c.startswith("review_kw_") for c in out.columns) == 5
    assert (out.dtypes == "float64").all()
    present = out["review_chars"].notna()
    assert present.sum() == 10
    assert (out.loc[present, ["review_topic_0", "review_topic_1"]].sum(axis=1) == 1).all()
    first = reviews["review"].dropna().iloc[0]
    row = out.loc[reviews["review"] == first].iloc[0]
    assert row["review_chars"] == len(first) and row["review_words"] == len(first.split())


def test_a_fitted_featurizer_transforms_new_rows(reviews: pd.DataFrame) -> None:
    train, new = reviews["review"].iloc[:8], pd.Series(["Lovely tea, fast delivery."], index=[1])
    fitted = TextFeatures(
        ("stats", "topics", "embedding"), topics_k=2, embedding_dims=2, progress=False
    ).fit(train)
    out = fitted.transform(new)
    assert out.columns.tolist() == list(fitted.get_feature_names_out())
    assert out.shape == (1, 5 + 2 + 2) and np.isfinite(out.to_numpy()).all()


def test_an_empty_frame_gives_the_per_row_columns() -> None:
    out = features(pd.DataFrame({"review": pd.Series([], dtype=object)}), "review")
    assert out.shape == (0, 6) and out.columns[0] == "review_chars"
