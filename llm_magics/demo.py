"""The main job, for now: summarize real reviews and check each summary against its review."""

from __future__ import annotations

import numpy as np
import pandas as pd

from llm_magics.datasets import amazon_reviews
from llm_magics.engine import embed, generate
from llm_magics.runtime.manager import ModelManager, get_manager

__all__ = ["SUMMARY_INSTRUCTION", "run_demo"]

SUMMARY_INSTRUCTION = "Summarize this review in one sentence."


def run_demo(
    rows: int = 5,
    *,
    chat_model: str | None = None,
    embed_model: str | None = None,
    manager: ModelManager | None = None,
) -> pd.DataFrame:
    """Summarize the first ``rows`` Amazon fine-food reviews and score each summary.

    Returns a frame with ``review``, ``score`` (the data set's label), ``summary`` (one sentence by
    the chat model) and ``similarity`` (cosine similarity of the review's and the summary's
    embeddings: a faithful summary scores high).

    Examples
    --------
    >>> run_demo(2).columns.tolist()      # doctest: +SKIP
    ['review', 'score', 'summary', 'similarity']
    """
    manager = manager or get_manager()
    reviews = amazon_reviews("train").head(rows)
    texts = reviews["review"].astype(str).tolist()
    prompts = [f"{SUMMARY_INSTRUCTION}\n\n{t}" for t in texts]
    summaries = generate(prompts, model=chat_model, max_new_tokens=48, manager=manager).texts
    vectors = embed(texts + summaries, model=embed_model, manager=manager).vectors
    similarity = np.sum(vectors[: len(texts)] * vectors[len(texts) :], axis=1)
    return pd.DataFrame(
        {
            "review": texts,
            "score": reviews["score"].to_numpy(),
            "summary": summaries,
            "similarity": similarity.round(3),
        },
        index=reviews.index,
    )
