from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from llm_magics.ops.words import is_stop, language, stop_words, words


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("包装破损，茶叶受潮发霉了，客服也不回复，非常失望", "zh"),
        ("我的iPhone屏幕坏了", "zh"),
        ("Ich kann mich seit heute Morgen nicht mehr im VPN anmelden.", "de"),
        ("Drucker druckt nicht", "de"),
        ("I cannot log in to the VPN since this morning.", "en"),
        ("VPN down", "en"),
        ("", "en"),
    ],
)
def test_the_language_of_a_text(text: str, lang: str) -> None:
    assert language(text) == lang


def test_each_language_has_its_stop_words() -> None:
    assert {"the", "and", "does", "really"} <= stop_words("en")
    assert {"ich", "das", "der", "im", "mehr", "obwohl", "leider"} <= stop_words("de")
    assert {"的", "了", "我们", "但是", "一个", "非常", "没有"} <= stop_words("zh")
    assert not {"drucker", "passwort", "akku"} & stop_words("de")
    assert not {"茶叶", "客服", "物流"} & stop_words("zh")


def test_chinese_is_cut_into_words_and_latin_words_stay_whole() -> None:
    assert [w for _, w in words("包装破损，茶叶受潮发霉了，客服也不回复，非常失望")] == [
        "包装",
        "破损",
        "茶叶",
        "受潮",
        "发霉",
        "了",
        "客服",
        "也",
        "不",
        "回复",
        "非常",
        "失望",
    ]
    assert words("my iphone屏幕 can't wi-fi") == [
        (" ", "my"),
        (" ", "iphone"),
        ("", "屏幕"),
        (" ", "can't"),
        (" ", "wi-fi"),
    ]


@pytest.mark.parametrize(
    ("word", "lang", "stop"),
    [
        ("mehr", "de", True),
        ("anmelden", "de", False),
        ("die", "de", True),
        ("die", "en", False),  # an English word in an English text, a German article elsewhere
        ("don't", "en", True),
        ("42", "de", True),
        ("三天", "zh", True),
        ("茶叶", "en", False),  # Han words are Chinese in any text
        ("的", "de", True),
        ("the", "zh", True),  # Latin words in a Chinese text are English
    ],
)
def test_stop_words_are_those_of_the_word_s_language(word: str, lang: str, stop: bool) -> None:
    assert is_stop(word, lang) is stop  # type: ignore[arg-type]


@pytest.mark.slow
def test_jieba_starts_quietly() -> None:
    """jieba logs "Building prefix dict ..." on its first cut: a fresh process shows none of it."""
    code = "from llm_magics.ops.words import words; print(words('第一次切词'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[(' ', '第一次'), ('', '切词')]\n"
    assert "prefix dict" not in done.stderr and "Loading model" not in done.stderr


def test_no_character_of_a_chinese_review_is_lost(chinese_reviews: pd.Series) -> None:
    for text in chinese_reviews:
        assert "".join(w for _, w in words(text)) == "".join(c for c in text if c.isalnum())
