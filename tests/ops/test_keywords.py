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
