"""Chinese and German texts are blocked by the quality model's vectors (``ops.pairs``)."""

from __future__ import annotations

import pandas as pd
import pytest

from llm_magics.config import LlmMagics
from llm_magics.ops.pairs import blocking_engine
from llm_magics.runtime.manager import ModelManager

CHINESE = [
    "包装破损，茶叶受潮发霉了，客服也不回复，非常失望",
    "茶叶很香，包装也很好，下次还会买",
    "物流太慢了，等了两个星期才到",
    "价格便宜，质量不错",
    "快递很快，第二天就到了",
    "味道一般，有点苦",
    "包装破了，茶叶发霉，客服不理人，太失望了",
]


def test_english_and_named_models_keep_their_encoder(quality_manager: ModelManager) -> None:
    engine = {"manager": quality_manager}
    assert blocking_engine(["The box was broken.", "Great tea."], engine) is engine
    named = {"manager": quality_manager, "model": "default-embed"}
    assert blocking_engine(CHINESE, named) is named


def test_chinese_and_german_texts_use_the_chat_models_vectors(
    quality_manager: ModelManager,
) -> None:
    engine = {"manager": quality_manager}
    assert blocking_engine(CHINESE, engine)["model"] == "quality-chat"
    german = ["Der Drucker im dritten Stock druckt nicht.", "Seit heute früh kein VPN möglich."]
    assert blocking_engine(german, engine)["model"] == "quality-chat"


def test_the_english_only_chat_model_is_not_used_as_an_encoder(isolated_config: LlmMagics) -> None:
    isolated_config.default_chat_model = "default-chat"
    engine = {"manager": ModelManager(isolated_config)}
    assert blocking_engine(CHINESE, engine) is engine


@pytest.mark.slow
def test_chinese_dedup_merges_the_paraphrase_and_nothing_else(
    quality_manager: ModelManager,
) -> None:
    texts = pd.Series(CHINESE, name="review")
    clusters = texts.llm.dedup(manager=quality_manager, cache=False, progress=False)
    # With the English-only encoder the first complaint merged with "cheap and good quality"
    # and not with its own paraphrase (the last row).
    assert clusters["review_cluster"].tolist() == [0, 1, 2, 3, 4, 5, 0]


@pytest.mark.slow
def test_chinese_top_k_finds_the_slow_delivery(quality_manager: ModelManager) -> None:
    texts = pd.Series(CHINESE, name="review")
    top = texts.llm.top_k("物流慢", k=1, manager=quality_manager, cache=False, progress=False)
    assert top["review"].tolist() == ["物流太慢了，等了两个星期才到"]
