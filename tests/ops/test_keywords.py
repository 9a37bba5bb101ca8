from __future__ import annotations

import re

import pandas as pd
import pytest

from llm_magics.ops import keywords
from llm_magics.ops.keywords import phrases
from llm_magics.ops.words import HAN, stop_words, words


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
    for text, found in zip(reviews["review"], out, strict=True):
        if not isinstance(text, str) or not text.strip():
            assert not isinstance(found, list)
            continue
        assert 1 <= len(found) <= 4
        flat = (
            " "
            + " ".join(re.findall(r"\w(?:[\w'-]*\w)?", text.lower().replace("\u2019", "'")))
            + " "
        )
        for word in found:
            assert f" {word} " in flat


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (
            "包装破损，茶叶受潮发霉了，客服也不回复，非常失望",
            [
                *("包装", "破损", "包装破损", "茶叶", "受潮", "茶叶受潮", "发霉", "受潮发霉"),
                *("客服", "回复", "失望"),
            ],
        ),
        (
            "物流很快，味道不错，性价比高，会回购的",
            ["物流", "很快", "物流很快", "味道", "不错", "味道不错", "性价比", "性价比高", "回购"],
        ),
        (
            "Der Drucker im zweiten Stock druckt nur leere Seiten, obwohl der Toner neu ist.",
            [
                *("drucker", "stock", "druckt", "stock druckt", "leere", "seiten", "leere seiten"),
                *("toner", "neu", "toner neu"),
            ],
        ),
        ("我的iPhone屏幕坏了", ["iphone", "屏幕", "iphone屏幕", "屏幕坏"]),
        ("没有", ["没有"]),  # only a stop word: the word itself
    ],
)
def test_phrases_are_words_of_the_text_s_language(text: str, found: list[str]) -> None:
    assert list(phrases(text, (1, 2))) == found


def _word_like(keyword: str, text: str) -> bool:
    """A jieba word of the text, or a short run of them: no clause between two commas."""
    return keyword in {w for _, w in words(text)} or len(HAN.findall(keyword)) <= 4


def _stop_words_in(keyword: str) -> set[str]:
    every = stop_words("en") | stop_words("de") | stop_words("zh")
    return {w for _, w in words(keyword)} & every


@pytest.mark.slow
def test_chinese_keywords_are_words_not_clauses(chinese_reviews: pd.Series) -> None:
    out = keywords(chinese_reviews, top=5, progress=False)
    for text, found in zip(chinese_reviews, out, strict=True):
        assert len(found) == 5
        for keyword in found:
            assert keyword in text
            assert _word_like(keyword, text), keyword
            assert not _stop_words_in(keyword), keyword
    # Before: the clauses "茶叶受潮发霉了", "客服也不回复", "非常失望".
    assert {"发霉", "包装破损", "受潮发霉"} <= set(out.iloc[0])
    assert {"性价比高", "物流很快"} <= set(out.iloc[1])


@pytest.mark.slow
def test_german_keywords_hold_no_function_words(german_tickets: pd.Series) -> None:
    out = keywords(german_tickets, top=5, progress=False)
    for found in out:
        assert len(found) == 5
        assert not set().union(*map(_stop_words_in, found)), found
    # Before: "das passwort", "nicht mehr", "ich kann", "der toner", "und das".
    assert {"passwort", "vpn anmelden", "abgelehnt"} <= set(out.iloc[0])
    assert {"leere seiten", "toner"} <= set(out.iloc[1])


@pytest.mark.slow
def test_a_column_of_mixed_languages_gets_each_text_s_own_keywords(
    chinese_reviews: pd.Series, german_tickets: pd.Series, english_tickets: pd.Series
) -> None:
    alone = [keywords(s, top=4, progress=False) for s in (chinese_reviews, german_tickets)]
    alone.append(keywords(english_tickets, top=4, progress=False))
    mixed = pd.concat([chinese_reviews, german_tickets, english_tickets], ignore_index=True)
    out = keywords(mixed, top=4, progress=False)
    assert out.tolist() == [row for found in alone for row in found.tolist()]
