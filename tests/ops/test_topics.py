from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import llm_magics  # noqa: F401  (the .llm accessor)
from llm_magics.datasets import amazon_reviews
from llm_magics.errors import InvalidArgumentError, LlmMagicsWarning
from llm_magics.ops import TopicModel, topics
from llm_magics.ops.topics import _topic_name, class_tfidf
from llm_magics.ops.words import HAN, stop_words, words

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


@pytest.mark.parametrize(
    ("answer", "keywords", "lang", "name"),
    [
        (
            "Laptop, New, Batteries, Batteries,",
            ["laptop", "new", "batteries"],
            "en",
            "Laptop, New, Batteries",
        ),
        ("Ich, das, der, im, mehr,", ["ich", "das", "der", "im", "mehr"], "de", None),
        ("Drucker, der, Toner,", ["drucker", "toner"], "de", "Drucker, Toner"),
        ("Green tea, tea, green", ["green tea", "green"], "en", "Green tea"),
        ("茶叶质量, 茶叶", ["茶叶", "发霉"], "zh", "茶叶质量"),
    ],
)
def test_a_model_s_name_is_distinct_words_without_stop_words(
    answer: str, keywords: list[str], lang: str, name: str | None
) -> None:
    assert _topic_name(answer, keywords, lang) == name  # type: ignore[arg-type]


def test_chinese_topics_are_described_by_words() -> None:
    docs = [
        "包装破损，茶叶受潮发霉了",
        "收到的茶叶有一股霉味，茶叶发霉",
        "快递太慢了，等了一个星期才到",
        "物流很快，快递第二天就到了",
    ]
    assert class_tfidf(docs, np.array([0, 0, 1, 1]), top=3) == [
        ["茶叶", "发霉", "包装"],
        ["快递", "太慢", "很快"],
    ]


def _stop_words_in(phrase: str) -> set[str]:
    every = stop_words("en") | stop_words("de") | stop_words("zh")
    return {w for _, w in words(phrase.lower())} & every


@pytest.mark.parametrize("label", [False, True])
def test_topics_of_mixed_languages_are_named_by_words(
    chinese_reviews: pd.Series,
    german_tickets: pd.Series,
    english_tickets: pd.Series,
    label: bool,
) -> None:
    mixed = pd.concat([chinese_reviews, german_tickets, english_tickets], ignore_index=True)
    model = topics(mixed, k=3, label=label, progress=False)
    assert model.info["size"].tolist() == [8, 8, 8]
    for name, found in zip(model.info["label"], model.info["keywords"], strict=True):
        parts = name.split(", ")
        assert parts and all(parts) and not name.endswith(",")
        assert len({p.lower() for p in parts}) == len(parts), name
        assert not set().union(*map(_stop_words_in, parts)), name
        assert not set().union(*map(_stop_words_in, found[:8])), found
        assert all(len(HAN.findall(k)) <= 4 for k in found), found
    # Before: the German topic was "das, der, im" and the Chinese one "会回购的, 冲泡了三次还有味道, …".
    german = model.info.loc[model.topic.iloc[8], "keywords"]
    chinese = model.info.loc[model.topic.iloc[0], "keywords"]
    assert german[:4] == ["neu", "akku", "anmelden", "bricht"]
    assert chinese[:3] == ["味道", "客服", "茶叶"]
