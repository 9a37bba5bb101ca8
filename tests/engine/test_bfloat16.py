"""The default models in bfloat16, what ``dtype="auto"`` loads on CPUs with AMX or AVX-512 BF16."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from llm_magics.engine import embed, generate, score
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager

CLEAR = [
    "I love this tea, it is delicious and I will buy it again.",
    "Terrible. The box arrived crushed and the cookies were stale.",
    "Best coffee I have had in years, smooth and rich.",
    "Awful taste, I threw the whole bag away.",
]


@pytest.fixture(scope="module")
def half(manager: ModelManager) -> Iterator[tuple[LoadedModel, LoadedModel]]:
    chat = manager.load("default-chat", dtype="bfloat16")
    embedder = manager.load("default-embed", dtype="bfloat16")
    yield chat, embedder
    manager.unload_key(chat.key)
    manager.unload_key(embedder.key)


def test_bfloat16_weights_are_loaded_as_asked(half: tuple[LoadedModel, LoadedModel]) -> None:
    for loaded in half:
        assert loaded.dtype is torch.bfloat16
        assert next(loaded.model.parameters()).dtype is torch.bfloat16


def test_bfloat16_answers_agree_with_float32(
    half: tuple[LoadedModel, LoadedModel], chat: LoadedModel, embedder: LoadedModel
) -> None:
    questions = [
        f"Is this review positive or negative? Answer with one word.\n\n{t}" for t in CLEAR
    ]
    labels = ["positive", "negative"]
    half_labels = score(questions, labels, model=half[0], cache=False, progress=False).best
    full_labels = score(questions, labels, model=chat, cache=False, progress=False).best
    assert half_labels == full_labels == ["positive", "negative", "positive", "negative"]

    vectors = embed(CLEAR, model=half[1], cache=False, progress=False).vectors
    reference = embed(CLEAR, model=embedder, cache=False, progress=False).vectors
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)  # unit length in float32
    assert float((vectors * reference).sum(axis=1).min()) > 0.99

    texts = generate(
        ["Name a fruit that is yellow."], model=half[0], max_new_tokens=12, progress=False
    ).texts
    assert texts[0].strip()
