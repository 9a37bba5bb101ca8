"""Sentence embeddings with an encoder, pooled the way the model's own config says."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from llm_magics.engine.batching import length_sorted_batches
from llm_magics.runtime.loading import LoadedModel

__all__ = ["embed"]


def _pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "max":
        return hidden.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).amax(dim=1)
    if mode == "last":
        last = mask.sum(dim=1) - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def embed(
    loaded: LoadedModel,
    texts: Sequence[str],
    *,
    normalize: bool = True,
    batch_size: int = 64,
) -> np.ndarray:
    """Return one float32 vector per text (rows in input order), unit length when ``normalize``.

    Examples
    --------
    >>> from llm_magics import get_manager
    >>> vectors = embed(get_manager().load("default-embed"), ["a cat", "a dog"])  # doctest: +SKIP
    >>> vectors.shape                                                              # doctest: +SKIP
    (2, 384)
    """
    tokenizer, model = loaded.tokenizer, loaded.model
    limit = min(getattr(tokenizer, "model_max_length", 512), 512)
    encoded = tokenizer(list(texts), truncation=True, max_length=limit)["input_ids"]
    width = model.config.hidden_size
    out = np.zeros((len(encoded), width), dtype=np.float32)
    mode = loaded.pooling.get("mode", "mean")
    with torch.inference_mode():
        for rows in length_sorted_batches([len(ids) for ids in encoded], batch_size):
            batch = tokenizer.pad(
                {"input_ids": [encoded[i] for i in rows]}, return_tensors="pt", padding=True
            ).to(loaded.device)
            hidden = model(**batch).last_hidden_state
            pooled = _pool(hidden, batch["attention_mask"], mode)
            if normalize or loaded.pooling.get("normalize"):
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[rows] = pooled.float().cpu().numpy()
    return out
