from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import llm_magics  # noqa: F401  (the .llm accessor)
from llm_magics.datasets import amazon_reviews
from llm_magics.errors import InvalidArgumentError, LlmMagicsWarning
from llm_magics.ops import TopicModel, topics
from llm_magics.ops.topics import class_tfidf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sixty() -> pd.Series:
    return amazon_reviews("test")["review"].iloc[100:160]


def test_the_same_seed_gives_the_same_topics(sixty: pd.Series) -> None:
    first = topics(sixty, seed=3, label=False, progress=False)
    second = topics(sixty, seed=3, label=False, progress=False)
    assert isinstance(first, TopicModel)
    assert first.topic.equals(second.topic)
    assert first.info["keywords"].tolist() == second.info["keywords"].tolist()
    assert 2 <= first.k <= 12 and set(first.silhouette) == set(range(2, 13))
    assert first.info["size"].sum() == 60
    assert first.info["size"].is_monotonic_decreasing
    assert first.rows.columns.tolist() == ["topic", "topic_label", "x", "y"]


def test_a_given_k_and_model_labels(sixty: pd.Series) -> None:
    model = topics(sixty, k=3, progress=False)
    assert model.k == 3 and model.topic.nunique() == 3
    assert model.info["label"].map(lambda s: isinstance(s, str) and 0 < len(s.split()) <= 6).all()
    assert set(model.info["label_source"]) <= {"model", "keywords"}
    assert "3 topics" in model._repr_html_()


def test_a_k_above_the_distinct_texts_finds_one_topic_per_text_with_a_warning() -> None:
    with pytest.warns(LlmMagicsWarning, match="k=2 but the texts hold only 1 distinct text"):
        model = pd.Series(["No comment"] * 3).llm.topics(k=2, label=False, progress=False)
    assert model.k == 1 and model.topic.tolist() == [0, 0, 0]
    assert model.info["size"].tolist() == [3] and model.keywords(0) == ["comment"]
    with pytest.raises(InvalidArgumentError, match="k must be a whole number of topics"):
        topics(pd.Series(["a", "b"]), k=0, progress=False)


def test_survey_answers_of_stop_words_get_named_topics() -> None:
    answers = pd.Series(["None", "n/a", "None", "Other", "42", "n/a", "none", "Other"])
    model = topics(answers, label=False, progress=False)
    assert model.info["keywords"].map(len).gt(0).all()
    assert not model.info["label"].str.startswith("topic ").any()
    named = dict(zip(model.rows["topic_label"], answers.str.lower(), strict=True))
    assert set(model.info["label"]) == set(named)


def test_keywords_of_a_topic_are_its_own() -> None:
    docs = ["green tea leaves", "green tea taste", "dark roast coffee", "coffee beans roast"]
    assert class_tfidf(docs, np.array([0, 0, 1, 1]), top=2) == [
        ["green", "green tea"],
        ["coffee", "roast"],
    ]
