"""A model cascade for scored answers: the fast model on every row, the quality model where unsure.

The fast chat model scores every row. A uniform random sample of rows is also scored by the
quality model; on it we choose the confidence threshold below which rows go to the quality model,
so that the answers agree with what the quality model alone would answer on at least ``target``
of the rows, with probability ``confidence`` (a guarantee over the random sample, as SUPG's, Kang
et al., VLDB 2020, and BARGAIN's, Zeighami et al., SIGMOD 2026).

How the threshold is chosen: the candidate thresholds are quantiles of the fast model's
confidence over all rows (fixed before any quality answer is seen) and are tested from the most
cautious (every row routed) downwards. At each one the rows kept with the fast answer that
disagree with the quality model are counted in the sample, and the threshold passes when the
Clopper-Pearson upper bound of that share is at most ``1 - target``; the first failure stops the
walk (fixed-sequence testing, as BARGAIN does, so the error level holds without a union bound over
thresholds). Rows of the sample keep the quality model's answer. A column no larger than the sample
is answered by the quality model alone.

Why our own code: the published implementations (SUPG, BARGAIN in DocETL, LOTUS's cascades) call
cloud models and, in LOTUS, need the provider's log-probabilities; ours reads the calibrated label
probabilities the engine already computes for both local models, in-process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from llm_magics.engine.results import Provenance

__all__ = ["CascadeReport", "cascade", "choose_threshold"]

SAMPLE_ROWS = 200
"""Rows the quality model also answers to set the threshold (the sample)."""
_GRID = 50


@dataclass(frozen=True)
class CascadeReport:
    """What a cascade did, for ``attrs["llm_magics"]["cascade"]`` and the displays.

    Attributes
    ----------
    fast, quality
        The two models' names.
    rows, sampled, routed
        Rows answered; rows in the random sample; rows the quality model answered in all
        (the sample included).
    threshold
        Fast-model confidence (its top label's probability) below which a row is routed.
    target, confidence
        The agreement asked for and the probability with which it is guaranteed.
    agreement, agreement_low
        Estimated share of rows whose answer equals the quality model's alone, and its one-sided
        lower bound at ``confidence`` (Clopper-Pearson on the sample).
    seconds, quality_alone_seconds
        Seconds the cascade took (both models), and the quality model's seconds per row on the
        rows it scored times all rows: what running it alone would have cost.
    quality_rows
        Positions (0-based, in input order) of the rows the quality model answered.
    """

    fast: str
    quality: str
    rows: int
    sampled: int
    routed: int
    threshold: float
    target: float
    confidence: float
    agreement: float
    agreement_low: float
    seconds: float
    quality_alone_seconds: float
    quality_rows: list[int]

    def to_dict(self) -> dict[str, Any]:
        """The report as a plain, JSON-serializable dict."""
        return asdict(self)

    def summary(self) -> str:
        """One line: how many rows were routed, the agreement and the time saved.

        Examples
        --------
        >>> CascadeReport("fast", "quality", 1000, 200, 350, 0.9, 0.95, 0.95, 0.98, 0.96,
        ...               120.0, 300.0, []).summary()
        '350 of 1000 rows answered by quality (200 sampled); agreement with quality alone 0.98 (≥ 0.96 at 95% confidence; target 0.95); 120 s against about 300 s for quality alone'
        """
        return (
            f"{self.routed} of {self.rows} rows answered by {self.quality} ({self.sampled} sampled); "
            f"agreement with {self.quality} alone {self.agreement:.2f} (≥ {self.agreement_low:.2f} "
            f"at {self.confidence:.0%} confidence; target {self.target:.2f}); "
            f"{self.seconds:.0f} s against about {self.quality_alone_seconds:.0f} s for "
            f"{self.quality} alone"
        )

    def brief(self) -> str:
        """``summary()`` in short, for the note under the sidebar's job.

        Examples
        --------
        >>> CascadeReport("fast", "quality", 1000, 200, 350, 0.9, 0.95, 0.95, 0.98, 0.96,
        ...               120.0, 300.0, []).brief()
        '350 of 1,000 rows to quality · agreement 0.98 (≥ 0.96) · 120 s, quality alone ~300 s'
        """
        return (
            f"{self.routed:,} of {self.rows:,} rows to {self.quality} · agreement "
            f"{self.agreement:.2f} (≥ {self.agreement_low:.2f}) · {self.seconds:,.0f} s, "
            f"{self.quality} alone ~{self.quality_alone_seconds:,.0f} s"
        )


def upper_bound(errors: int, n: int, confidence: float) -> float:
    """One-sided Clopper-Pearson upper bound of a binomial share (``errors`` of ``n``).

    Examples
    --------
    >>> round(upper_bound(0, 100, 0.95), 4)
    0.0295
    """
    from scipy.stats import beta

    if errors >= n:
        return 1.0
    return float(beta.ppf(confidence, errors + 1, n - errors))


def choose_threshold(
    confidence_all: np.ndarray,
    sample: np.ndarray,
    disagrees: np.ndarray,
    *,
    target: float,
    confidence: float,
) -> tuple[float, int]:
    """The lowest routing threshold that passes, and the sample's disagreements kept at it.

    Parameters
    ----------
    confidence_all
        The fast model's confidence for every row, shape (rows,).
    sample
        Positions of the sampled rows, shape (n,).
    disagrees
        Whether the fast and quality answers differ on each sampled row, shape (n,), bool.
    target, confidence
        Agreement to guarantee, and the probability of the guarantee.

    Returns
    -------
    (threshold, errors)
        Rows with confidence below ``threshold`` are routed (``inf``: all of them); ``errors``
        is the number of sampled rows kept with a disagreeing fast answer.

    Examples
    --------
    The fast answer is wrong exactly below confidence 0.7: the threshold stops just under it,
    where the 4 wrong answers it keeps still bound the disagreement under 5%.

    >>> conf = np.linspace(0.5, 1.0, 1000)
    >>> sample = np.arange(0, 1000, 5)
    >>> choose_threshold(conf, sample, conf[sample] < 0.7, target=0.95, confidence=0.95)
    (0.69, 4)
    """
    grid = np.unique(np.quantile(confidence_all, np.linspace(0, 1, _GRID + 1)))[::-1]
    chosen, chosen_errors = np.inf, 0
    sampled_confidence = confidence_all[sample]
    for threshold in grid:
        errors = int((disagrees & (sampled_confidence >= threshold)).sum())
        if upper_bound(errors, len(sample), confidence) > 1 - target:
            break
        chosen, chosen_errors = float(threshold), errors
    return chosen, chosen_errors


Scorer = Callable[[Sequence[str], str], tuple[np.ndarray, list[Provenance]]]


def cascade(
    texts: Sequence[str],
    scorer: Scorer,
    *,
    fast: str,
    quality: str,
    target: float,
    confidence: float,
    seed: int = 0,
) -> tuple[np.ndarray, list[Provenance], CascadeReport]:
    """Probabilities (rows × labels) from the cascade of ``fast`` and ``quality``.

    ``scorer(rows, model)`` returns the calibrated probabilities of ``rows`` under ``model`` and
    the provenance of the engine calls (see the module docs for the method). Both models score
    the sample first; where the threshold chosen on it would route so many rows that the fast
    pass costs more than it saves (at the seconds per row measured on the sample), the quality
    model answers the remaining rows alone.
    """
    started = time.perf_counter()
    n_rows = len(texts)
    if n_rows <= SAMPLE_ROWS:
        probs, steps = scorer(list(texts), quality)
        return probs, steps, _report(fast, quality, n_rows, n_rows, np.arange(n_rows), np.inf,
                                     0, target, confidence, started, time.perf_counter() - started)  # fmt: skip
    sample = np.sort(np.random.default_rng(seed).choice(n_rows, size=SAMPLE_ROWS, replace=False))
    rest = np.setdiff1d(np.arange(n_rows), sample)
    tick = time.perf_counter()
    sample_fast, steps = scorer([texts[i] for i in sample], fast)
    fast_per_row = (time.perf_counter() - tick) / len(sample)
    tick = time.perf_counter()
    sample_quality, more = scorer([texts[i] for i in sample], quality)
    quality_seconds = time.perf_counter() - tick
    steps += more
    sure = sample_fast.max(axis=1)
    disagrees = sample_fast.argmax(axis=1) != sample_quality.argmax(axis=1)
    threshold, errors = choose_threshold(
        sure, np.arange(len(sample)), disagrees, target=target, confidence=confidence
    )
    routed_share = float((sure < threshold).mean())
    probs = np.zeros((n_rows, sample_quality.shape[1]))
    probs[sample] = sample_quality
    if fast_per_row >= (1 - routed_share) * quality_seconds / len(sample):
        routed, threshold, errors = rest, np.inf, 0  # the fast pass would cost more than it saves
    else:
        rest_fast, more = scorer([texts[i] for i in rest], fast)
        steps += more
        probs[rest] = rest_fast
        routed = rest[rest_fast.max(axis=1) < threshold]
    if len(routed):
        tick = time.perf_counter()
        routed_probs, more = scorer([texts[i] for i in routed], quality)
        quality_seconds += time.perf_counter() - tick
        probs[routed], steps = routed_probs, steps + more
    answered = np.sort(np.concatenate([sample, routed]))
    report = _report(fast, quality, n_rows, len(sample), answered, threshold, errors, target,
                     confidence, started, quality_seconds)  # fmt: skip
    return probs, steps, report


def _report(
    fast: str,
    quality: str,
    n_rows: int,
    sampled: int,
    answered: np.ndarray,
    threshold: float,
    errors: int,
    target: float,
    confidence: float,
    started: float,
    quality_seconds: float,
) -> CascadeReport:
    # Every row the quality model did not answer was kept with a fast answer at or above the
    # threshold: the sample's disagreements there bound the share that differs.
    kept_errors = errors if len(answered) < n_rows else 0
    return CascadeReport(
        fast=fast,
        quality=quality,
        rows=n_rows,
        sampled=sampled,
        routed=len(answered),
        threshold=float(threshold),
        target=target,
        confidence=confidence,
        agreement=round(1 - kept_errors / max(sampled, 1), 4),
        agreement_low=round(1 - upper_bound(kept_errors, sampled, confidence), 4)
        if len(answered) < n_rows
        else 1.0,
        seconds=round(time.perf_counter() - started, 3),
        quality_alone_seconds=round(quality_seconds / max(len(answered), 1) * n_rows, 3),
        quality_rows=answered.tolist(),
    )
