"""How far to trust a column of labels: accuracy and macro-F1 with intervals, calibrated
probabilities, and conformal label sets.

- :func:`evaluate` compares predicted labels with the user's labels and gives an
  :class:`Evaluation`: accuracy with a Wilson score interval (Wilson 1927; through
  ``scipy.stats.binomtest``), which keeps its coverage with twenty or thirty labels where the
  normal approximation does not, and macro-F1 with a paired bootstrap percentile interval
  (``scipy.stats.bootstrap``: F1 has no closed-form interval). With few labels the interval is
  wide and the text says so, because a point estimate from 20 rows invites more trust than it
  deserves.
- :func:`calibrate` recalibrates an op's probabilities on labelled (out-of-fold) rows with
  scikit-learn's ``CalibratedClassifierCV`` (Platt's sigmoid or isotonic regression) around a
  frozen estimator that passes the probabilities through, so scikit-learn's tested code does the
  fitting rather than ours.
- :func:`conformal_sets` gives split-conformal prediction sets (Vovk et al. 2005; Angelopoulos &
  Bates 2021, "A Gentle Introduction to Conformal Prediction") with MAPIE's
  ``SplitConformalClassifier`` and the LAC score, on the same pass-through estimator: a row whose
  set is not a single label is one to abstain on.

The results are plain values (an ``Evaluation`` round-trips through ``to_dict`` /
``from_dict``), so an op can put them in ``result.attrs["llm_magics"]["quality"]`` and every
display (``%%mine`` output, the report) shows them with :func:`quality_text`.

This module imports nothing above ``llm_magics.errors`` (numpy, scipy, pandas, scikit-learn and
MAPIE only).
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin

from llm_magics.errors import InvalidArgumentError, checked_arguments, warn

__all__ = [
    "WIDE",
    "Evaluation",
    "calibrate",
    "conformal_sets",
    "evaluate",
    "quality_text",
]

WIDE = 0.2
"""An interval wider than this (in accuracy or macro-F1) is called wide in the text."""

_RESAMPLES = 2000
_SEED = 0
_SIGMOID_BELOW = (
    100  # labelled rows; isotonic regression overfits fewer (Niculescu-Mizil & Caruana 2005)
)


@dataclass(frozen=True)
class Evaluation:
    """Accuracy and macro-F1 of predicted labels against the user's labels, with intervals.

    Attributes
    ----------
    n
        The labelled rows compared.
    accuracy, accuracy_interval
        The share of rows whose prediction equals the label, and its Wilson score interval
        (Wilson 1927) at ``confidence``.
    f1_macro, f1_macro_interval
        The unweighted mean over labels of each label's F1 (labels seen in either column), and
        its paired bootstrap percentile interval (2000 resamples, fixed seed).
    confidence
        The intervals' confidence level (0.95: 95%).
    labels
        The labels seen in the truth or the predictions, as text, sorted.
    source
        Where the figures come from: "held-out labels", "5-fold CV on 32 labelled rows" ...
    majority
        The share of the compared rows whose label is the most frequent one: the accuracy of
        always guessing that label, the floor a method must beat. ``None`` in an ``Evaluation``
        read from a dict made before this field existed.
    predicted_labels
        The labels seen in the predictions, as text, sorted. One label means a constant
        prediction, whose accuracy is just that label's share and whose macro-F1 interval is
        narrow only because nothing varies; the text says so. ``None`` in an older dict.
    """

    n: int
    accuracy: float
    accuracy_interval: tuple[float, float]
    f1_macro: float
    f1_macro_interval: tuple[float, float]
    confidence: float
    labels: list[str]
    source: str
    majority: float | None = None
    predicted_labels: list[str] | None = None

    @property
    def wide(self) -> bool:
        """Whether either interval is wider than ``WIDE`` (0.2): more labels would narrow it."""
        return any(hi - lo > WIDE for lo, hi in (self.accuracy_interval, self.f1_macro_interval))

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON-able values (what goes in ``attrs["llm_magics"]["quality"]``),
        with the one-line ``text`` too.

        Examples
        --------
        >>> e = evaluate(["a", "b", "a", "a"], ["a", "b", "b", "a"])
        >>> Evaluation.from_dict(e.to_dict()) == e
        True
        """
        found = asdict(self)
        found["accuracy_interval"] = list(self.accuracy_interval)
        found["f1_macro_interval"] = list(self.f1_macro_interval)
        found["labels"] = list(self.labels)
        if self.predicted_labels is not None:
            found["predicted_labels"] = list(self.predicted_labels)
        found["text"] = str(self)
        return found

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Evaluation:
        """The ``Evaluation`` that ``to_dict`` gave ``values`` (extra keys such as ``text`` are
        ignored; a dict without ``majority`` or ``predicted_labels``, from an older version,
        gives ``None`` for them)."""
        majority, predicted = values.get("majority"), values.get("predicted_labels")
        return cls(
            n=int(values["n"]),
            accuracy=float(values["accuracy"]),
            accuracy_interval=_pair(values["accuracy_interval"]),
            f1_macro=float(values["f1_macro"]),
            f1_macro_interval=_pair(values["f1_macro_interval"]),
            confidence=float(values["confidence"]),
            labels=[str(label) for label in values["labels"]],
            source=str(values["source"]),
            majority=None if majority is None else float(majority),
            predicted_labels=None if predicted is None else [str(label) for label in predicted],
        )

    @property
    def constant(self) -> str | None:
        """The one label every prediction is, or ``None`` when the predictions vary (or the
        dict this came from predates ``predicted_labels``)."""
        found = self.predicted_labels
        return found[0] if found is not None and len(found) == 1 else None

    def _notes(self) -> str:
        notes = ""
        if self.constant is not None:
            notes += f"; predicts one label only: {self.constant!r}"
        if self.wide:
            notes += "; the interval is wide: label more rows to narrow it"
        return notes

    def __str__(self) -> str:
        (alo, ahi), (flo, fhi) = self.accuracy_interval, self.f1_macro_interval
        majority = "" if self.majority is None else f" · majority rate {self.majority:.2f}"
        return (
            f"accuracy {self.accuracy:.2f} ({_percent(self.confidence)} CI {alo:.2f}-{ahi:.2f})"
            f" · macro-F1 {self.f1_macro:.2f} ({flo:.2f}-{fhi:.2f}){majority}"
            f" · n={self.n}, {self.source}{self._notes()}"
        )

    def _repr_html_(self) -> str:
        ci = f"{_percent(self.confidence)} interval"
        rows = [
            ("accuracy", f"{self.accuracy:.3f}", "{:.3f} – {:.3f}".format(*self.accuracy_interval)),
            ("macro-F1", f"{self.f1_macro:.3f}", "{:.3f} – {:.3f}".format(*self.f1_macro_interval)),
        ]
        if self.majority is not None:
            rows.append(("majority rate", f"{self.majority:.3f}", ""))
        body = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows)
        return (
            f"<table><tr><th></th><th>estimate</th><th>{ci}</th></tr>{body}</table>"
            f"<p>n={self.n}, {html.escape(self.source + self._notes())}</p>"
        )


def _pair(values: Any) -> tuple[float, float]:
    low, high = values
    return float(low), float(high)


def _percent(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def quality_text(meta: Mapping[str, Any] | None) -> str | None:
    """The one-line quality of a result from its ``attrs["llm_magics"]`` (``meta``), or ``None``.

    The line is the ``Evaluation``'s text, followed by the method when ``meta["method"]`` says
    which one made the result.

    Examples
    --------
    >>> e = evaluate([True, False, True], [True, True, True], source="held-out labels")
    >>> quality_text({"quality": e.to_dict(), "method": "embedding"})
    'accuracy 0.67 (95% CI 0.21-0.94) · macro-F1 0.40 (0.00-1.00) · majority rate 1.00 · n=3, held-out labels; the interval is wide: label more rows to narrow it · method embedding'
    """
    if not isinstance(meta, Mapping) or not isinstance(meta.get("quality"), Mapping):
        return None
    text = str(Evaluation.from_dict(meta["quality"]))
    method = meta.get("method")
    return f"{text} · method {method}" if method else text


@checked_arguments
def evaluate(
    predicted: Any,
    truth: Any,
    *,
    confidence: float = 0.95,
    source: str = "labelled rows",
    folds: int | None = None,
) -> Evaluation:
    """Accuracy and macro-F1 of ``predicted`` against ``truth``, with intervals.

    Parameters
    ----------
    predicted, truth
        Labels: two Series (compared on their shared index) or array-likes of one length (or a
        Series and an array-like, by position). Booleans, text, categoricals and integers are
        compared as text, so ``1`` and ``1.0`` (an integer column that held NaN) agree. Rows
        NaN in either are dropped: the unlabelled rows of a mostly-unlabelled column. Not a
        DataFrame: an op's result frame holds several columns, so pass the one with the labels
        (``evaluate(result["label"], truth)``); guessing a column could score the wrong one.
    confidence
        The intervals' confidence level, between 0 and 1.
    source
        Where the comparison comes from, shown in the text ("held-out labels", "5-fold CV on
        32 labelled rows").
    folds
        k, where ``predicted`` are k-fold cross-validation's out-of-fold predictions: the
        intervals are then widened for what k models trained on overlapping rows share, which a
        binomial interval leaves out, by Nadeau & Bengio's (2003) variance correction, 1 +
        k/(k-1) (2.25 for 5 folds): accuracy's Wilson interval is that of n / 2.25 rows, and
        macro-F1's bootstrap interval is 1.5 times as wide about its estimate. Without it, the
        stated 95% interval held the accuracy on new rows in 82–92% of draws of 8–32 labels;
        with it, 92–100% (``bench/fewshot_interval.py``).

    Returns
    -------
    Evaluation
        Accuracy with a Wilson score interval (Wilson 1927), macro-F1 with a paired bootstrap
        percentile interval (2000 resamples, seed 0, so the same input gives the same interval).

    Raises
    ------
    InvalidArgumentError
        A DataFrame for either argument, no labelled row in common, lengths that differ,
        predicted and true label sets with no label in common (the predictions are in other
        words, or another column), or a confidence outside (0, 1).

    Warns
    -----
    LlmMagicsWarning
        When two Series are given and some predicted (non-NaN) rows have no row in ``truth``'s
        index: only the overlap is scored, and the warning says how many rows of how many.
        (Rows whose label is NaN are not warned about: that is a mostly-unlabelled column.)

    Examples
    --------
    >>> print(evaluate(["pos", "neg", "pos", "pos"], ["pos", "neg", "neg", "pos"]))
    accuracy 0.75 (95% CI 0.30-0.95) · macro-F1 0.73 (0.20-1.00) · majority rate 0.50 · n=4, labelled rows; the interval is wide: label more rows to narrow it

    A method that always says one label scores that label's share, and the text says so:

    >>> print(evaluate(["pos"] * 4, ["pos", "neg", "pos", "pos"]))
    accuracy 0.75 (95% CI 0.30-0.95) · macro-F1 0.43 (0.20-1.00) · majority rate 0.75 · n=4, labelled rows; predicts one label only: 'pos'; the interval is wide: label more rows to narrow it
    """
    if not 0 < confidence < 1:
        msg = f"confidence must be between 0 and 1 (0.95 for 95%), not {confidence!r}."
        raise InvalidArgumentError(msg)
    pred, gold = _paired(predicted, truth)
    if not set(pred) & set(gold) and len(set(pred) | set(gold)) > 2:
        # Two labels apart can be a real miss on a tiny sample (all "great" called "other");
        # more look like two different vocabularies, which would score 0 for nothing.
        msg = (
            f"the predicted labels {sorted(set(pred))} and the true labels {sorted(set(gold))} "
            "have none in common: compare the column of predicted labels with labels in the "
            "same words."
        )
        raise InvalidArgumentError(msg)
    labels = sorted(set(pred) | set(gold))
    codes = {label: i for i, label in enumerate(labels)}
    pred_codes = np.array([codes[v] for v in pred])
    gold_codes = np.array([codes[v] for v in gold])
    n = len(gold_codes)
    correct = int((pred_codes == gold_codes).sum())
    f1 = float(_macro_f1(gold_codes, pred_codes, len(labels)))
    f1_low, f1_high = _f1_interval(gold_codes, pred_codes, len(labels), confidence)
    if folds is None:
        low, high = stats.binomtest(correct, n).proportion_ci(confidence, method="wilson")
    else:
        if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
            msg = f"folds must be the k of k-fold cross-validation, 2 or more, not {folds!r}."
            raise InvalidArgumentError(msg)
        factor = 1 + folds / (folds - 1)
        low, high = _wilson(correct / n, n / factor, confidence)
        spread = np.sqrt(factor)
        f1_low, f1_high = (
            max(0.0, f1 - spread * (f1 - f1_low)),
            min(1.0, f1 + spread * (f1_high - f1)),
        )
    return Evaluation(
        n=n,
        accuracy=correct / n,
        accuracy_interval=(float(low), float(high)),
        f1_macro=f1,
        f1_macro_interval=(float(f1_low), float(f1_high)),
        confidence=confidence,
        labels=labels,
        source=source,
        majority=max(gold.count(label) for label in set(gold)) / n,
        predicted_labels=sorted(set(pred)),
    )


def _wilson(share: float, n: float, confidence: float) -> tuple[float, float]:
    """Wilson's score interval of a share observed on ``n`` rows (``n`` may be fractional: an
    effective sample size)."""
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    scale = 1 + z * z / n
    centre = (share + z * z / (2 * n)) / scale
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / scale
    return max(0.0, centre - half), min(1.0, centre + half)


def _paired(predicted: Any, truth: Any) -> tuple[list[str], list[str]]:
    """The labelled rows of both, as text, in one order."""
    for name, labels in (("predicted", predicted), ("truth", truth)):
        if isinstance(labels, pd.DataFrame):
            columns = ", ".join(repr(str(c)) for c in labels.columns[:5])
            column = "label" if "label" in labels.columns else str(labels.columns[0])
            msg = (
                f"{name} is a DataFrame (columns {columns}): pass its column of labels, e.g. "
                f"evaluate(result[{column!r}], truth)."
            )
            raise InvalidArgumentError(msg)
    if isinstance(predicted, pd.Series) and isinstance(truth, pd.Series):
        if not (predicted.index.is_unique and truth.index.is_unique):
            msg = (
                "predicted or truth repeats index labels, so rows cannot be matched: pass "
                "Series with a unique index, or arrays (.to_numpy()) in the same order."
            )
            raise InvalidArgumentError(msg)
        common = predicted.index.intersection(truth.index)
        if common.empty:
            msg = (
                "predicted and truth share no index labels: pass Series taken from the same "
                "frame, or arrays in the same order."
            )
            raise InvalidArgumentError(msg)
        _warn_unmatched(predicted, common)
        pred, gold = predicted.loc[common], truth.loc[common]
    else:
        pred, gold = pd.Series(list(_values(predicted))), pd.Series(list(_values(truth)))
        if len(pred) != len(gold):
            msg = (
                f"predicted has {len(pred)} values and truth {len(gold)}: pass one label per "
                "row in the same order (or two Series to compare on their index)."
            )
            raise InvalidArgumentError(msg)
    keep = ~(pd.isna(pred.to_numpy()) | pd.isna(gold.to_numpy()))
    if not keep.any():
        msg = "no row has both a prediction and a label: label some rows first."
        raise InvalidArgumentError(msg)
    return _text(pred.to_numpy()[keep]), _text(gold.to_numpy()[keep])


def _warn_unmatched(predicted: pd.Series, common: pd.Index) -> None:
    """Warn when predicted rows (not NaN) have no row in truth's index: only the overlap counts."""
    rows = predicted.index[predicted.notna().to_numpy()]
    compared = int(rows.isin(common).sum())
    if compared < len(rows):
        warn(
            f"compared {compared} of the {len(rows)} predicted rows: the other "
            f"{len(rows) - compared} have no row in truth's index; pass Series from the same "
            "frame to score them all."
        )


def _values(labels: Any) -> Any:
    return labels.to_numpy() if isinstance(labels, pd.Series) else np.asarray(labels, dtype=object)


def _text(values: np.ndarray) -> list[str]:
    # Integral floats are integers a NaN turned into floats: 1.0 is the label "1".
    return [
        str(int(v)) if isinstance(v, float | np.floating) and float(v).is_integer() else str(v)
        for v in values
    ]


def _macro_f1(gold: np.ndarray, pred: np.ndarray, k: int, axis: int = -1) -> np.ndarray:
    """Macro-F1 over the labels seen in either (scikit-learn's ``f1_score(average="macro")``),
    along ``axis`` so the bootstrap can score all resamples at once."""
    tp = np.stack([((gold == c) & (pred == c)).sum(axis) for c in range(k)])
    fp = np.stack([((gold != c) & (pred == c)).sum(axis) for c in range(k)])
    fn = np.stack([((gold == c) & (pred != c)).sum(axis) for c in range(k)])
    seen = (tp + fp + fn) > 0
    f1 = np.where(seen, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    return f1.sum(axis=0) / np.maximum(seen.sum(axis=0), 1)


def _f1_interval(
    gold: np.ndarray, pred: np.ndarray, k: int, confidence: float
) -> tuple[float, float]:
    if len(gold) < 2:  # one row says nothing about the spread
        return 0.0, 1.0
    found = stats.bootstrap(
        (gold, pred),
        lambda g, p, axis=-1: _macro_f1(g, p, k, axis),
        paired=True,
        vectorized=True,
        n_resamples=_RESAMPLES,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(_SEED),
    ).confidence_interval
    return float(found.low), float(found.high)


class _PassThrough(ClassifierMixin, BaseEstimator):
    """A classifier whose probabilities are its input: lets scikit-learn's calibration and
    MAPIE's conformal code work on probabilities an op already computed."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> _PassThrough:
        self.classes_ = np.arange(np.asarray(X).shape[1])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=float)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X).argmax(axis=1)


def _frozen(k: int) -> Any:
    from sklearn.frozen import FrozenEstimator

    return FrozenEstimator(_PassThrough().fit(np.eye(k)))


def _checked(
    calibration_probs: Any, calibration_labels: Any, probs: Any, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cal = np.asarray(calibration_probs, dtype=float)
    labels = np.asarray(calibration_labels)
    new = np.asarray(probs, dtype=float)
    if cal.ndim != 2 or new.ndim != 2 or cal.shape[1] != new.shape[1] or cal.shape[1] < 2:
        msg = (
            f"{what} needs probabilities as rows x labels arrays with the same 2 or more "
            f"columns; got {cal.shape} and {new.shape}."
        )
        raise InvalidArgumentError(msg)
    if labels.shape != (len(cal),) or len(cal) == 0:
        msg = f"{what} needs one label per calibration row: {len(cal)} rows, {labels.size} labels."
        raise InvalidArgumentError(msg)
    if (
        not np.issubdtype(labels.dtype, np.integer)
        or labels.min() < 0
        or labels.max() >= cal.shape[1]
    ):
        msg = (
            f"{what} takes calibration labels as column numbers 0-{cal.shape[1] - 1} of the "
            "probabilities (labels.index(name)), not label names."
        )
        raise InvalidArgumentError(msg)
    return cal, labels, new


def calibrate(
    calibration_probs: np.ndarray,
    calibration_labels: np.ndarray,
    probs: np.ndarray,
    *,
    method: str = "auto",
) -> np.ndarray:
    """``probs`` recalibrated on labelled rows whose probabilities were not fitted on them.

    Parameters
    ----------
    calibration_probs
        float, rows x labels: an op's probabilities of the labelled rows, out-of-fold (from
        cross-validation) so they are as over- or under-confident as those of new rows.
    calibration_labels
        int, rows: each labelled row's label as a column number of ``calibration_probs``.
    probs
        float, rows x labels: the probabilities to recalibrate.
    method
        ``"sigmoid"`` (Platt scaling), ``"isotonic"`` (isotonic regression, which needs more
        rows not to overfit), or ``"auto"``: sigmoid under 100 labelled rows, isotonic from 100.

    Returns
    -------
    numpy.ndarray
        float, the shape of ``probs``, each row summing to 1: scikit-learn's
        ``CalibratedClassifierCV`` around a frozen estimator that passes the probabilities
        through, one-vs-rest for more than two labels. Each label's map is increasing, so the
        rows keep their order: where a fitted map would decrease (out-of-fold probabilities
        that rank the rows the wrong way round, a sigmoid with a negative slope), ``probs`` is
        returned as it is (rows scaled to sum to 1) with a warning.

    Raises
    ------
    InvalidArgumentError
        Mismatched shapes, labels that are not column numbers, a label no calibration row has,
        or an unknown method.

    Examples
    --------
    >>> cal = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.4, 0.6], [0.3, 0.7]])
    >>> out = calibrate(cal, np.array([0, 1, 0, 1, 1, 1]), np.array([[0.5, 0.5]]))
    >>> out.shape, bool(np.isclose(out.sum(), 1.0))
    ((1, 2), True)
    """
    from sklearn.calibration import CalibratedClassifierCV

    cal, labels, new = _checked(calibration_probs, calibration_labels, probs, "calibrate")
    if method not in ("auto", "sigmoid", "isotonic"):
        msg = f"calibrate's method is 'auto', 'sigmoid' or 'isotonic', not {method!r}."
        raise InvalidArgumentError(msg)
    missing = sorted(set(range(cal.shape[1])) - set(labels.tolist()))
    if missing:
        msg = (
            f"calibrate needs labelled rows of every label; none for column(s) {missing}: "
            "label some rows of each."
        )
        raise InvalidArgumentError(msg)
    if method == "auto":
        method = "sigmoid" if len(cal) < _SIGMOID_BELOW else "isotonic"
    # The frozen estimator predicts the same in any fold: one split (fit on all rows, predict
    # all rows) fits the calibrator on every row, without k-fold's k rows per label.
    every = np.arange(len(cal))
    model = CalibratedClassifierCV(_frozen(cal.shape[1]), method=method, cv=[(every, every)])
    model.fit(cal, labels)
    grid = np.linspace(0.0, 1.0, 101)
    if any(
        np.diff(c.predict(grid)).min() < -1e-9 for c in model.calibrated_classifiers_[0].calibrators
    ):
        # A sigmoid fitted with a negative slope turns the ranking around (12 labels: 4 draws in
        # 12 had 98% of the labels flipped). The out-of-fold probabilities did not rank the rows
        # the right way round, so there is nothing to calibrate on: leave them as they are.
        warn(
            f"calibrate: on these {len(cal)} labelled rows the out-of-fold probabilities rank "
            "the labels the wrong way round, which a calibration would turn around; the "
            "probabilities are left as they are. Label more rows."
        )
        return new / new.sum(axis=1, keepdims=True)
    out = np.clip(model.predict_proba(new), 0.0, None)
    totals = out.sum(axis=1, keepdims=True)
    # A row isotonic regression sends to 0 everywhere carries no information: uniform.
    return np.where(totals > 0, out / np.where(totals > 0, totals, 1.0), 1.0 / out.shape[1])


def conformal_sets(
    calibration_probs: np.ndarray,
    calibration_labels: np.ndarray,
    probs: np.ndarray,
    *,
    coverage: float = 0.9,
) -> np.ndarray:
    """Split-conformal label sets that hold the true label of a row with probability ``coverage``.

    Parameters
    ----------
    calibration_probs
        float, rows x labels: probabilities of labelled rows not used to fit the model that
        made them (out-of-fold), exchangeable with the new rows.
    calibration_labels
        int, rows: each labelled row's label as a column number.
    probs
        float, rows x labels: the new rows' probabilities.
    coverage
        The share of rows whose set should hold the true label, between 0 and 1.

    Returns
    -------
    numpy.ndarray
        bool, the shape of ``probs``: ``True`` where a label is in the row's set. A set of one
        label is a confident answer; a row whose set has several labels (or none) is one to
        abstain on. Made by MAPIE's ``SplitConformalClassifier`` with the LAC score (Vovk et al.
        2005; Angelopoulos & Bates 2021): the guarantee is marginal, over rows, and needs the
        calibration rows to be drawn like the new ones.

    Raises
    ------
    InvalidArgumentError
        Mismatched shapes, labels that are not column numbers, a coverage outside (0, 1), or
        too few calibration rows: finite sets need at least ``1 / (1 - coverage)`` (10 for 0.9).

    Examples
    --------
    >>> cal = np.tile([[0.9, 0.1], [0.2, 0.8]], (10, 1))
    >>> conformal_sets(cal, np.tile([0, 1], 10), np.array([[0.95, 0.05], [0.5, 0.5]])).tolist()
    [[True, False], [False, False]]

    The second row's set is empty: no label is as likely as the calibration rows' true labels
    were, so abstain on it.
    """
    from mapie.classification import SplitConformalClassifier

    cal, labels, new = _checked(calibration_probs, calibration_labels, probs, "conformal_sets")
    if not 0 < coverage < 1:
        msg = f"coverage must be between 0 and 1 (0.9 for 90% of rows), not {coverage!r}."
        raise InvalidArgumentError(msg)
    needed = math.ceil(max(1 / (1 - coverage), 1 / coverage) - 1e-9)
    if len(cal) < needed:
        msg = (
            f"conformal sets at coverage {coverage:g} need at least {needed} labelled rows "
            f"(about 1/(1 - coverage)); got {len(cal)}: label more rows or lower the coverage."
        )
        raise InvalidArgumentError(msg)
    model = SplitConformalClassifier(
        _frozen(cal.shape[1]), confidence_level=coverage, conformity_score="lac", prefit=True
    )
    with warnings.catch_warnings():
        # Expected and harmless with LAC: a label no calibration row has only lacks scores.
        warnings.filterwarnings("ignore", message=".*conformalization dataset has less labels")
        model.conformalize(cal, labels)
    return np.asarray(model.predict_set(new)[1][:, :, 0], dtype=bool)
