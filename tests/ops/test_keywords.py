from __future__ import annotations

import re

import pandas as pd
import pytest

from llm_magics.ops import keywords
from llm_magics.ops.keywords import phrases


def test_phrases_never_cross_stop_words_or_punctuation() -> None:
    found = list(phrases("I can't stop eating the gummy fruits, sweet and sour.", (1, 2)))
    assert found == [
        "stop",
        "eating",
        "stop eating",
        "gummy",
        "fruits",
        "gummy fruits",
        "sweet",
        "sour",
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Name", ["name"]),
        ("Other", ["other"]),
        ("None.", ["none"]),
        ("n/a", ["n/a"]),
        ("42", ["42"]),
        ("Not at all!", ["not", "at", "not at", "all", "at all"]),
        ("???", ["???"]),
    ],
)
def test_a_text_of_stop_words_or_numbers_has_its_own_words_as_candidates(
    text: str, found: list[str]
) -> None:
    assert list(phrases(text, (1, 2))) == found


@pytest.mark.slow
def test_one_word_survey_answers_get_that_word() -> None:
    answers = pd.Series(["Name", "Other", "None", "n/a", "42", None], name="answer")
    out = keywords(answers, top=3, progress=False)
    assert out.tolist()[:5] == [["name"], ["other"], ["none"], ["n/a"], ["42"]]
    assert pd.isna(out.iloc[5])


@pytest.mark.slow
def test_keywords_occur_in_their_text(reviews: pd.DataFrame) -> None:
    out = keywords(reviews["review"], top=4, progress=False)
    assert out.name == "review_keywords"
    assert out.index.equals(reviews.index)
    for text, words in zip(reviews["review"], out, strict=True):
        if not isinstance(text, str) or not text.strip():
            assert not isinstance(words, list)
            continue
        assert 1 <= len(words) <= 4
        flat = (
            " "
            + " ".join(re.findall(r"\w(?:[\w'-]*\w)?", text.lower().replace("\u2019", "'")))
            + " "
        )
        for word in words:
            assert f" {word} " in flat
