"""``predict``: class probabilities from a sequence-classification model (a fine-tuned encoder).

Batched, deduplicated, cached and resumable like ``embed``, on a model of the ``classifier`` role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from llm_magics.engine.embed import encoder_rows
from llm_magics.engine.models import batch_defaults, resolve_model
from llm_magics.engine.results import Provenance
from llm_magics.engine.runner import RowTask, run_rows
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager, get_manager

__all__ = ["PredictResult", "predict"]


@dataclass(frozen=True)
class PredictResult:
    """Class probabilities (rows × labels) in input order."""

    probs: np.ndarray
    labels: list[str]
    provenance: Provenance

    def __len__(self) -> int:
        return len(self.probs)


def predict(
    texts: Sequence[str],
    *,
    model: str | LoadedModel,
    batch_tokens: int | None = None,
    cache: bool = True,
    progress: bool = True,
    manager: ModelManager | None = None,
) -> PredictResult:
    """Probability of each of a classifier's labels for each text.

    Examples
    --------
    >>> predict(["Great tea!"], model="my-finetuned").labels      # doctest: +SKIP
    ['great', 'other']
    """
    manager = manager or get_manager()
    loaded = resolve_model(model, "classifier", manager)
    config = loaded.model.config
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]
    texts = [str(t) for t in texts]
    rows = encoder_rows(loaded, texts)
    default_tokens, max_rows = batch_defaults(loaded, "embed")

    def compute(indices: np.ndarray) -> list[np.ndarray]:
        batch = loaded.tokenizer.pad({"input_ids": [rows[i] for i in indices]}, return_tensors="pt")
        with torch.inference_mode():
            logits = loaded.model(**batch.to(loaded.device)).logits.float()
            return list(torch.softmax(logits, dim=-1).cpu().numpy())

    task = RowTask(
        primitive="predict",
        loaded=loaded,
        params={"labels": labels},
        items=texts,
        lengths=[len(r) for r in rows],
        compute=compute,
        encode=lambda vector: np.asarray(vector, dtype=np.float32).tobytes(),
        decode=lambda raw: np.frombuffer(raw, dtype=np.float32),
        batch_tokens=batch_tokens or default_tokens,
        max_rows=max_rows,
    )
    values, provenance = run_rows(task, cache=cache, progress=progress, manager=manager)
    probs = np.stack(values) if values else np.zeros((0, len(labels)), np.float32)
    return PredictResult(probs=probs.astype(np.float64), labels=labels, provenance=provenance)
