"""``predict``: class probabilities from a sequence-classification model (a fine-tuned encoder).

Batched, deduplicated, cached and resumable like ``embed`` (the same ``run_encoder``), on a model of
the ``classifier`` role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from llm_magics.engine.embed import run_encoder
from llm_magics.engine.models import load_for
from llm_magics.engine.results import Provenance
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager

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

    Parameters
    ----------
    texts
        The texts (identical texts are computed once).
    model
        A model name or ``LoadedModel`` of the ``classifier`` role (a fine-tuned encoder).
    batch_tokens, cache, progress, manager
        See ``llm_magics.engine`` (module docs).

    Examples
    --------
    >>> predict(["Great tea!"], model="my-finetuned").labels      # doctest: +SKIP
    ['great', 'other']
    """
    manager, loaded = load_for(model, "classifier", manager)
    config = loaded.config
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]
    probs, provenance = run_encoder(
        loaded,
        [str(t) for t in texts],
        primitive="predict",
        params={"labels": labels},
        forward=lambda batch: torch.softmax(loaded.load().model(**batch).logits.float(), dim=-1),
        width=len(labels),
        batch_tokens=batch_tokens,
        cache=cache,
        progress=progress,
        manager=manager,
    )
    return PredictResult(probs=probs.astype(np.float64), labels=labels, provenance=provenance)
