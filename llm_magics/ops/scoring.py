"""Scoring labels as the chat model's answer, calibrated: what classify, sentiment, filter,
extract and few-shot ``"llm"`` share (see ``llm_magics.ops.classify`` for the calibration)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llm_magics.engine import score
from llm_magics.engine.results import Provenance

__all__ = ["CONTENT_FREE", "LabelScores", "score_labels"]

CONTENT_FREE = ("N/A", "[MASK]", "")


@dataclass(frozen=True)
class LabelScores:
    """Calibrated probabilities (rows × labels) and the engine calls that produced them."""

    probs: np.ndarray
    labels: list[str]
    provenance: list[Provenance]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def _spellings(labels: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Every spelling scored (label, Label) and which label each one counts for."""
    candidates, owner = [], []
    for i, label in enumerate(labels):
        for spelling in dict.fromkeys([label, label[:1].upper() + label[1:]]):
            candidates.append(spelling)
            owner.append(i)
    return candidates, np.array(owner)


def score_labels(
    texts: Sequence[str],
    labels: Sequence[str],
    prompt: Callable[[str], str],
    *,
    calibrate: bool = True,
    **engine: Any,
) -> LabelScores:
    """Probability of each label as the chat model's answer to ``prompt(text)``, calibrated.

    ``engine`` holds the shared engine arguments (``model``, ``progress``, ``cache``,
    ``batch_tokens``, ``manager``; see ``llm_magics.ops.spec.ENGINE_ARGUMENTS``).
    """
    candidates, owner = _spellings(labels)
    rows = [prompt(t) for t in texts]
    free = [prompt(t) for t in CONTENT_FREE] if calibrate else []
    result = score(rows + free, candidates, **engine)
    spelled = np.exp(result.logprobs - result.logprobs.max(axis=1, keepdims=True))
    per_label = np.zeros((len(spelled), len(labels)))
    np.add.at(per_label.T, owner, spelled.T)
    logits = np.log(np.maximum(per_label, 1e-300))
    if calibrate:
        baseline = _softmax(logits[len(rows) :]).mean(axis=0)
        logits = logits[: len(rows)] - np.log(baseline)
    return LabelScores(_softmax(logits), list(labels), [result.provenance])
