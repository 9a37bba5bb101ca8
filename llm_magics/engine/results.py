"""What the engine primitives return: values in input order, plus where they came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["EmbedResult", "GenerateResult", "Provenance", "ScoreResult"]


@dataclass(frozen=True)
class Provenance:
    """Which model computed a result, with which parameters, and how much came from the cache."""

    primitive: str
    model: str
    fingerprint: str
    parameters: dict[str, Any]
    rows: int
    unique_rows: int
    cache_hits: int
    computed: int
    seconds: float
    job_id: str

    def to_dict(self) -> dict[str, Any]:
        """The provenance as a plain, JSON-serializable dict of its fields."""
        return asdict(self)


@dataclass(frozen=True)
class GenerateResult:
    """Generated texts in input order, with token counts per row."""

    texts: list[str]
    prompt_tokens: np.ndarray
    generated_tokens: np.ndarray
    provenance: Provenance

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class ScoreResult:
    """Log-probabilities of each candidate continuation of each prompt (rows × candidates)."""

    logprobs: np.ndarray
    candidates: list[str]
    provenance: Provenance

    @property
    def probs(self) -> np.ndarray:
        """Probabilities over the candidates of each row (a softmax of ``logprobs``; rows sum to 1)."""
        shifted = self.logprobs - self.logprobs.max(axis=1, keepdims=True)
        weights = np.exp(shifted)
        return weights / weights.sum(axis=1, keepdims=True)

    @property
    def best(self) -> list[str]:
        """The most likely candidate of each row."""
        return [self.candidates[i] for i in self.logprobs.argmax(axis=1)]

    def __len__(self) -> int:
        return len(self.logprobs)


@dataclass(frozen=True)
class EmbedResult:
    """One float32 vector per input text, in input order."""

    vectors: np.ndarray
    provenance: Provenance

    def __len__(self) -> int:
        return len(self.vectors)
