"""What ``dedup``, ``join`` and ``top_k`` share: embed, take the nearest candidates, score them.

These ops block before they ask the chat model (LOTUS ``sem_join``/``sem_topk``, DocETL's
blocking in ``equijoin``): embeddings are cheap (one call per row), so each row's ``k`` nearest
neighbours by cosine similarity (scikit-learn ``NearestNeighbors``, brute force: exact, and on
unit vectors a matrix product) are the only candidates the chat model scores. The chat model's
score is the calibrated probability of "yes" (``classify(method="llm")`` with two labels), so
candidates are scored in the engine's batches, cached per candidate, and on a Ray backend when
one is asked for. This module is not an operation: it registers nothing.

The default encoder (all-MiniLM-L6-v2) reads English only: on Chinese it merged a complaint about
mouldy tea with "cheap and good quality" and missed its paraphrase. When no embedding model is
named and most texts are Chinese or German, ``blocking_engine`` makes the vectors the chat
model's own (``default_chat_model``, its PromptEOL state, ``llm_magics.runtime.loading``): on 150
reviews in English, Chinese and German, the 20 rows nearest "a great review" were great for 90%,
90% and 85% of them, against 45%, 40% and 35% with all-MiniLM-L6-v2 (``bench/multilingual.py``).
One model embeds both sides of a call, so the vectors compare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine.results import Provenance
from llm_magics.ops.classify import classify
from llm_magics.ops.embed import embed
from llm_magics.ops.spec import Uses

__all__ = [
    "BLOCKING_USES",
    "USES_BY_METHOD",
    "blocking_engine",
    "embed_rows",
    "nearest",
    "steps_of",
    "yes_probability",
]

BLOCKING_USES: tuple[Uses, ...] = (Uses("embed", "embed"),)
"""The models of an op that blocks by embeddings and judges by similarity (``method="embed"``)."""

USES_BY_METHOD: Mapping[str, tuple[Uses, ...]] = MappingProxyType(
    {
        "embed": BLOCKING_USES,
        "llm": (*BLOCKING_USES, Uses("chat", "score", argument="chat_model")),
    }
)
"""``OpSpec.by_method`` of ``dedup``, ``join`` and ``top_k``: the chat model scores the
candidates only with ``method="llm"``."""


def blocking_engine(texts: Sequence[str], engine: dict[str, Any]) -> dict[str, Any]:
    """``engine`` with the embedding model for ``texts`` chosen (see the module docs).

    A named ``model`` is kept. Otherwise, when at least half of (up to 200 of) ``texts`` are
    Chinese or German (``llm_magics.ops.words.language``), the settings' embedding model is the
    default one and ``default_chat_model`` can be loaded offline, ``model`` becomes that chat
    model; where it cannot, one warning says the vectors are English-only.
    """
    from llm_magics.config import get_config
    from llm_magics.errors import warn
    from llm_magics.ops.words import language_shares
    from llm_magics.runtime import published

    config = engine.get("manager").config if engine.get("manager") else get_config()
    if engine.get("model") is not None or config.default_embed_model != "default-embed":
        return engine
    if language_shares(texts).get("en", 1.0) > 0.5:
        return engine
    chat = config.default_chat_model
    if chat == "default-chat":  # the 135M model reads English as little as the encoder does
        return engine
    if chat in published.PUBLISHED and not published.available(chat, config):
        warn(
            "Most of these texts are Chinese or German, which the default embedding model "
            f"(English only) cannot tell apart; install the quality model (`llm-mine models install {chat}`) "
            "or pass model= a multilingual embedding model."
        )
        return engine
    return engine | {"model": chat}


def steps_of(result: pd.Series | pd.DataFrame) -> list[Provenance]:
    """The engine calls recorded in an op's result (``attrs["llm_magics"]["steps"]``)."""
    return [Provenance(**s) for s in result.attrs.get("llm_magics", {}).get("steps", [])]


def embed_rows(
    texts: Sequence[str], *, backend: Any = "local", **engine: Any
) -> tuple[np.ndarray, list[Provenance]]:
    """Unit-length vectors of ``texts`` (rows × dimensions, float32) and the engine calls."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), []
    out = embed(pd.Series(list(texts), dtype=object), backend=backend, **engine)
    return out.to_numpy(dtype=np.float32), steps_of(out)


def nearest(queries: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` candidates nearest each query, best first: indices and cosine similarities.

    Both arrays are queries × ``min(k, len(candidates))`` (no columns when either side is
    empty); the vectors are unit length, so cosine similarity is ``1 - cosine distance``.
    """
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(candidates))
    if k == 0 or len(queries) == 0:
        return np.zeros((len(queries), 0), dtype=int), np.zeros((len(queries), 0))
    index = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(candidates)
    distances, indices = index.kneighbors(queries)
    return indices, 1.0 - distances


def yes_probability(
    texts: Sequence[str],
    question: str,
    *,
    chat_model: str | None = None,
    backend: Any = "local",
    **engine: Any,
) -> tuple[np.ndarray, list[Provenance]]:
    """The chat model's calibrated P("yes") to ``question`` about each text (float64 array)."""
    if not texts:
        return np.zeros(0), []
    scored = classify(
        pd.Series(list(texts), dtype=object),
        ["yes", "no"],
        method="llm",
        instruction=question,
        calibrate=True,
        backend=backend,
        **(engine | {"model": chat_model}),
    )
    return scored["p_yes"].to_numpy(dtype=np.float64), steps_of(scored)
