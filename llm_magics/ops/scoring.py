"""Scoring labels as the chat model's answer, calibrated: what classify, sentiment, filter,
extract and few-shot ``"llm"`` share (see ``llm_magics.ops.classify`` for the calibration).

With no model named, the answers come from the cascade (``llm_magics.ops.cascade``): the fast
model (``LlmMagics.fast_chat_model``) on every row, the quality model
(``LlmMagics.default_chat_model``) on a sample and on the rows the fast one is unsure of. Its
engine calls show as one job (the running plan step or op, else a job of their own) whose note
says how many rows went to the quality model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llm_magics.engine import score
from llm_magics.engine.jobs import step
from llm_magics.engine.results import Provenance
from llm_magics.ops.cascade import CascadeReport, cascade
from llm_magics.runtime.manager import get_manager

__all__ = ["CONTENT_FREE", "LabelScores", "cascade_models", "score_labels"]

CONTENT_FREE = ("N/A", "[MASK]", "")


@dataclass(frozen=True)
class LabelScores:
    """Calibrated probabilities (rows × labels) and the engine calls that produced them."""

    probs: np.ndarray
    labels: list[str]
    provenance: list[Provenance]
    cascade: CascadeReport | None = None


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
    ``batch_tokens``, ``manager``; see ``llm_magics.ops.spec.ENGINE_ARGUMENTS``). Without a
    ``model``, the cascade answers (module docs) and ``LabelScores.cascade`` says how.
    """
    models = cascade_models(engine)
    if models is None:
        return _score_labels(texts, labels, prompt, calibrate, engine)
    fast, quality = models
    manager = engine.get("manager") or get_manager()

    def scorer(rows: Sequence[str], model: str) -> tuple[np.ndarray, list[Provenance]]:
        scored = _score_labels(rows, labels, prompt, calibrate, engine | {"model": model})
        return scored.probs, scored.provenance

    # One listed job for the cascade's engine calls (the plan step's or the op's where one runs),
    # so that the sidebar shows what it did under that job.
    with step(f"cascade {fast} → {quality}", manager, rows=len(texts)) as job:
        probs, steps, report = cascade(
            list(texts),
            scorer,
            fast=fast,
            quality=quality,
            target=manager.config.cascade_target,
            confidence=manager.config.cascade_confidence,
        )
        job.note = report.brief()
        manager.notify(job)
    return LabelScores(probs, list(labels), steps, report)


def cascade_models(engine: dict[str, Any]) -> tuple[str, str] | None:
    """(fast, quality) model names when a scored call goes through the cascade, else ``None``.

    It does when no model is named, ``LlmMagics.cascade`` is on and the fast and quality
    models differ.
    """
    if engine.get("model") is not None:
        return None
    manager = engine.get("manager") or get_manager()
    quality = manager.model_for("chat")
    fast = manager.config.fast_chat_model
    if not manager.config.cascade or fast == quality:
        return None
    return fast, quality


def _score_labels(
    texts: Sequence[str],
    labels: Sequence[str],
    prompt: Callable[[str], str],
    calibrate: bool,
    engine: dict[str, Any],
) -> LabelScores:
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
