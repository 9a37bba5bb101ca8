"""The figures a mining run reports: scikit-learn's metrics, in one place, by name."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from llm_magics.errors import InvalidArgumentError, did_you_mean

__all__ = [
    "CLASSIFICATION",
    "REGRESSION",
    "check_metric",
    "evaluate",
    "higher_is_better",
    "scores_of",
]

CLASSIFICATION = (
    "accuracy",
    "f1_macro",
    "f1_weighted",
    "precision_macro",
    "recall_macro",
    "roc_auc",
)
REGRESSION = ("rmse", "mae", "r2")
DEFAULT_METRIC = {"classification": "f1_macro", "regression": "rmse"}


def check_metric(metric: str | None, task: str) -> str:
    """The metric that ranks candidates: ``metric`` if valid for ``task``, else its default."""
    if metric is None:
        return DEFAULT_METRIC[task]
    valid = CLASSIFICATION if task == "classification" else REGRESSION
    if metric not in valid:
        msg = (
            f"{metric!r} is not a {task} metric.{did_you_mean(metric, valid)} "
            f"Choose one of: {', '.join(valid)}."
        )
        raise InvalidArgumentError(msg)
    return metric


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (False for the errors ``rmse``, ``mae``)."""
    return metric not in ("rmse", "mae")


def scores_of(model: Any, X: Any) -> np.ndarray | None:
    """Class scores for ROC-AUC: probabilities, else the decision function, else None."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    if hasattr(model, "decision_function"):
        return model.decision_function(X)
    return None


def evaluate(
    task: str, y_true: Any, y_pred: Any, scores: np.ndarray | None = None, classes: Any = None
) -> dict[str, float]:
    """Every metric of ``task`` for one set of predictions."""
    if task == "regression":
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            "r2": float(skm.r2_score(y_true, y_pred)),
        }
    out = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "f1_macro": float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "f1_weighted": float(skm.f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "precision_macro": float(
            skm.precision_score(y_true, y_pred, average="macro", zero_division=0)
        ),
        "recall_macro": float(skm.recall_score(y_true, y_pred, average="macro", zero_division=0)),
        "roc_auc": float("nan"),
    }
    if scores is not None and classes is not None and len(set(np.asarray(y_true))) > 1:
        scores = np.asarray(scores)
        if len(classes) == 2:
            positive = scores[:, 1] if scores.ndim == 2 else scores
            out["roc_auc"] = float(skm.roc_auc_score(np.asarray(y_true) == classes[1], positive))
        elif scores.ndim == 2 and set(np.asarray(y_true)) == set(classes):
            out["roc_auc"] = float(
                skm.roc_auc_score(y_true, _softmax(scores), multi_class="ovr", labels=list(classes))
            )
    return out


def _softmax(scores: np.ndarray) -> np.ndarray:
    if np.allclose(scores.sum(axis=1), 1.0) and (scores >= 0).all():
        return scores
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
