"""``embed``: sentence vectors from an encoder, pooled the way the model's own config says."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from llm_magics.engine.decoding import truncate_rows
from llm_magics.engine.models import batch_defaults, load_for
from llm_magics.engine.results import EmbedResult, Provenance
from llm_magics.engine.runner import RowTask, run_rows
from llm_magics.runtime.loading import LoadedModel, ModelHandle
from llm_magics.runtime.manager import ModelManager

__all__ = ["embed"]

_MAX_ENCODER_TOKENS = 512


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


def run_encoder(
    loaded: LoadedModel | ModelHandle,
    texts: Sequence[str],
    *,
    primitive: str,
    params: dict[str, Any],
    forward: Callable[[Any], torch.Tensor],
    width: int,
    batch_tokens: int | None,
    cache: bool,
    progress: bool,
    manager: ModelManager,
) -> tuple[np.ndarray, Provenance]:
    """Rows × ``width`` float32 values of ``forward(padded batch)`` for each text, through the
    runner (length-sorted batches, dedup, cache); texts are cut, with one warning, to what the
    encoder reads."""
    tokenizer = loaded.tokenizer
    limit = min(
        int(getattr(tokenizer, "model_max_length", _MAX_ENCODER_TOKENS)), _MAX_ENCODER_TOKENS
    )
    rows = tokenizer(list(texts), verbose=False)["input_ids"] if texts else []
    rows = truncate_rows(rows, limit, why="the most the encoder reads")
    default_tokens, max_rows = batch_defaults(loaded, "embed")

    def compute(indices: np.ndarray) -> list[np.ndarray]:
        batch = tokenizer.pad({"input_ids": [rows[i] for i in indices]}, return_tensors="pt")
        with torch.inference_mode():
            return list(forward(batch.to(loaded.device)).float().cpu().numpy())

    task = RowTask(
        primitive=primitive,
        loaded=loaded,
        params=params,
        items=list(texts),
        lengths=[len(r) for r in rows],
        compute=compute,
        encode=lambda vector: np.asarray(vector, dtype=np.float32).tobytes(),
        decode=lambda raw: np.frombuffer(raw, dtype=np.float32),
        batch_tokens=batch_tokens or default_tokens,
        max_rows=max_rows,
    )
    values, provenance = run_rows(task, cache=cache, progress=progress, manager=manager)
    if not values:
        return np.zeros((0, width), np.float32), provenance
    return np.stack(values).astype(np.float32, copy=False), provenance


def embed(
    texts: Sequence[str],
    *,
    model: str | LoadedModel | None = None,
    normalize: bool = True,
    batch_tokens: int | None = None,
    cache: bool = True,
    progress: bool = True,
    manager: ModelManager | None = None,
) -> EmbedResult:
    """One float32 vector per text, in input order; unit length when ``normalize``.

    Parameters
    ----------
    texts
        The texts (identical texts are computed once).
    model
        An embedding model name (default: ``LlmMagics.default_embed_model``) or a ``LoadedModel``.
    normalize
        Scale every vector to unit length, so dot products are cosine similarities (a model whose
        own config normalizes is normalized either way).
    batch_tokens, cache, progress, manager
        See ``llm_magics.engine`` (module docs).

    Examples
    --------
    >>> embed(["a cat", "a dog"]).vectors.shape      # doctest: +SKIP
    (2, 384)
    """
    manager, loaded = load_for(model, "embed", manager)
    mode = loaded.pooling.get("mode", "mean")
    unit = normalize or bool(loaded.pooling.get("normalize"))

    def forward(batch: Any) -> torch.Tensor:
        # Pooled and normalized in float32, so unit length holds to float32 precision whatever
        # the model's dtype (in bfloat16, norms were up to 1.002).
        hidden = loaded.load().model(**batch).last_hidden_state.float()
        pooled = _pool(hidden, batch["attention_mask"], mode)
        return torch.nn.functional.normalize(pooled, dim=-1) if unit else pooled

    # A chat model's file as an encoder: the text goes inside its PromptEOL template (see
    # ``llm_magics.runtime.loading.PROMPT_EOL``) and the last token's state is the vector.
    template = loaded.pooling.get("template")
    params: dict[str, Any] = {"normalize": unit}
    if template:
        params["template"] = template
    vectors, provenance = run_encoder(
        loaded,
        [template.format(text=str(t)) if template else str(t) for t in texts],
        primitive="embed",
        params=params,
        forward=forward,
        width=loaded.config.get_text_config().hidden_size,
        batch_tokens=batch_tokens,
        cache=cache,
        progress=progress,
        manager=manager,
    )
    return EmbedResult(vectors=vectors, provenance=provenance)
