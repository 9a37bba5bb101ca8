from __future__ import annotations

import numpy as np

from llm_magics.engine import embed
from llm_magics.runtime.loading import LoadedModel


def test_paraphrases_embed_closer_than_unrelated_sentences(embedder: LoadedModel) -> None:
    texts = [
        "The delivery was late and the box was damaged.",
        "My package arrived late and its box was broken.",
        "This green tea has a lovely fresh taste.",
        "I really enjoy the fresh flavour of this green tea.",
    ]
    vectors = embed(embedder, texts)
    similarity = vectors @ vectors.T
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert similarity[0, 1] > 0.6 and similarity[2, 3] > 0.6
    assert max(similarity[0, 2], similarity[0, 3], similarity[1, 2], similarity[1, 3]) < 0.3


def test_matches_sentence_transformers_in_input_order(embedder: LoadedModel) -> None:
    from sentence_transformers import SentenceTransformer

    texts = [
        "short",
        "a much longer sentence about coffee beans and grinders and espresso",
        "mid length text",
        "ünïcödé tëxt ☕",
    ]
    reference = SentenceTransformer(embedder.spec.location, device="cpu").encode(
        texts, normalize_embeddings=True
    )
    assert np.allclose(embed(embedder, texts, batch_size=2), reference, atol=1e-5)
