from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_magics.errors import InvalidArgumentError
from llm_magics.ops import classify, sentiment

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("method", ["llm", "embed"])
def test_every_row_gets_a_label_and_probabilities(reviews: pd.DataFrame, method: str) -> None:
    out = classify(reviews["review"], ["great", "other"], method=method, progress=False)
    assert out.columns.tolist() == ["label", "probability", "p_great", "p_other"]
    assert out.index.equals(reviews.index)
    present = out["label"].notna()
    assert present.sum() == 10
    assert set(out.loc[present, "label"]) <= {"great", "other"}
    assert np.allclose(out.loc[present, ["p_great", "p_other"]].sum(axis=1), 1.0)
    assert (
        out.loc[present, "probability"] == out.loc[present, ["p_great", "p_other"]].max(axis=1)
    ).all()
    assert out.loc[~present].isna().all().all()


def test_sentiment_of_clear_reviews(clear_reviews: pd.Series) -> None:
    texts = pd.concat([clear_reviews, pd.Series([None], index=[1])])
    out = sentiment(texts, progress=False)
    assert out.columns.tolist() == ["sentiment", "sentiment_score"]
    assert out["sentiment"].tolist()[:4] == ["positive", "positive", "negative", "negative"]
    assert (out["sentiment_score"].iloc[:2] > 0).all() and (
        out["sentiment_score"].iloc[2:4] < 0
    ).all()
    assert out["sentiment_score"].between(-1, 1).iloc[:4].all()
    assert out.iloc[4].isna().all()


def test_sentiment_with_an_instruction_of_ones_own(clear_reviews: pd.Series) -> None:
    shipped = sentiment(clear_reviews, progress=False)
    asked = sentiment(
        clear_reviews,
        instruction="How does the buyer feel about the product? Positive, negative or neutral?",
        progress=False,
    )
    assert asked.attrs["llm_magics"]["parameters"]["instruction"].startswith("How does")
    assert not asked["sentiment_score"].equals(shipped["sentiment_score"])  # another prompt
    assert set(asked["sentiment"].dropna()) <= {"positive", "negative", "neutral"}


def test_the_embed_method_ranks_clear_reviews(clear_reviews: pd.Series) -> None:
    texts = clear_reviews
    labels = {"positive": "I love it, great product.", "negative": "I hate it, terrible product."}
    out = classify(texts, labels, method="embed", progress=False)
    assert out.attrs["llm_magics"]["parameters"]["method"] == "embed"
    assert out["label"].tolist() == ["positive", "positive", "negative", "negative"]


def test_multi_label_gives_a_list_per_row() -> None:
    texts = pd.Series(["The box arrived crushed and the tea tasted stale.", "Lovely tea."])
    out = classify(texts, ["shipping", "taste"], multi_label=True, method="llm", progress=False)
    assert all(isinstance(v, list) for v in out["label"])
    assert out[["p_shipping", "p_taste"]].stack().between(0, 1).all()


def test_a_label_that_begins_another_is_not_favoured() -> None:
    out = classify(
        pd.Series(["I rate this 4.5 stars"]), ["4", "4.5", "5"], method="llm", calibrate=False
    )
    assert out["label"].tolist() == ["4.5"]
    assert out["p_4.5"].iloc[0] > out["p_4"].iloc[0]


def test_labels_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="at least two distinct"):
        classify(pd.Series(["x"]), ["only"])
    with pytest.raises(InvalidArgumentError, match="method must be 'embed', 'llm' or 'finetuned'"):
        classify(pd.Series(["x"]), ["a", "b"], method="knn")
