"""The feature pipelines and the candidate models ``mine`` compares.

Two feature pipelines, both scikit-learn ``ColumnTransformer``s fitted on training rows only:

- ``llm``: for each text column ``TextFeatures`` (the language models' features, imputed and
  scaled), the TF-IDF baseline's out-of-fold predictions (``BaselineScore``: stacking, so no
  candidate knows less than the baseline), numbers imputed and scaled, categories one-hot encoded
  (unseen ones ignored);
- ``tfidf``: TF-IDF of each text column, plus the same numbers and categories: the baseline
  features, always with a linear model among the candidates.

Each candidate has a search space for tuning, written for Optuna.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC, LinearSVR

from llm_magics.mining.columns import Columns
from llm_magics.ops.features import FEATURE_KINDS, TextFeatures

__all__ = ["BASELINE", "BaselineScore", "Candidate", "candidates", "feature_pipeline"]

BASELINE = "tfidf + linear (baseline)"


def _as_strings(X: Any) -> Any:
    return X.astype(str)


def _text_or_empty(X: Any) -> Any:
    series = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(X)
    return series.where(series.map(lambda v: isinstance(v, str)), "").astype(str)


def _tabular(columns: Columns) -> list[tuple[str, Any, list[str]]]:
    parts: list[tuple[str, Any, list[str]]] = []
    if columns.numeric:
        numbers = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        parts.append(("numeric", numbers, columns.numeric))
    if columns.categorical:
        categories = Pipeline(
            [
                ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
                ("strings", FunctionTransformer(_as_strings, feature_names_out="one-to-one")),
                (
                    "onehot",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        min_frequency=5,
                        sparse_output=False,
                    ),
                ),
            ]
        )
        parts.append(("categorical", categories, columns.categorical))
    return parts


class BaselineScore(TransformerMixin, BaseEstimator):
    """The TF-IDF baseline's predictions on the text columns, as features.

    Stacking, as scikit-learn's ``StackingClassifier`` does it: on the rows it is fitted on, the
    features are out-of-fold predictions (so a model on top cannot learn from leaked labels); on
    other rows, the predictions of the baseline fitted on all of them. Every language-model
    candidate so starts from what the baseline knows.
    """

    def __init__(
        self, text: Sequence[str] = (), task: str = "classification", seed: int = 0
    ) -> None:
        self.text = text
        self.task = task
        self.seed = seed

    def _pipeline(self) -> Pipeline:
        columns = Columns("", list(self.text), [], [], {})
        model = candidates(self.task)[0].build({}, self.seed)
        return Pipeline([("features", feature_pipeline(columns, "tfidf")), ("model", model)])

    def _predict(self, pipeline: Pipeline, X: Any) -> np.ndarray:
        if self.task == "classification":
            return pipeline.predict_proba(X)
        return np.asarray(pipeline.predict(X), dtype=float)[:, None]

    def fit(self, X: Any, y: Any) -> BaselineScore:
        """Fit the TF-IDF baseline on every row of ``X`` (and remember ``y``'s classes)."""
        self.pipeline_ = self._pipeline().fit(X, y)
        self.classes_ = list(getattr(self.pipeline_, "classes_", []))
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit on ``X``, then return out-of-fold predictions for its rows, shape ``[rows, k]``.

        ``k`` is the number of classes (probabilities) or 1 (a regression's prediction). A
        class with fewer than 2 rows cannot be split, so then the fitted baseline predicts.
        """
        from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

        self.fit(X, y)
        if self.task == "classification":
            smallest = int(pd.Series(y).value_counts().min())
            if smallest < 2:  # too rare to split: the fitted baseline's own predictions
                return self.transform(X)
            cv: Any = StratifiedKFold(min(5, smallest), shuffle=True, random_state=self.seed)
            return cross_val_predict(self._pipeline(), X, y, cv=cv, method="predict_proba")
        cv = KFold(5, shuffle=True, random_state=self.seed)
        return np.asarray(cross_val_predict(self._pipeline(), X, y, cv=cv), dtype=float)[:, None]

    def transform(self, X: Any) -> np.ndarray:
        """The fitted baseline's predictions for new rows, shape ``[rows, k]``."""
        return self._predict(self.pipeline_, X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns: one per class probability, or one prediction."""
        prefix = "+".join(map(str, self.text))
        if self.task == "classification":
            return np.array([f"{prefix}_tfidf_p_{c}" for c in self.classes_], dtype=object)
        return np.array([f"{prefix}_tfidf_prediction"], dtype=object)


def feature_pipeline(
    columns: Columns,
    kind: str,
    *,
    task: str | None = None,
    kinds: Sequence[str] = FEATURE_KINDS,
    seed: int = 0,
    model: str | None = None,
    chat_model: str | None = None,
    finetuned: str | None = None,
    progress: bool = True,
) -> ColumnTransformer:
    """The ``"llm"`` or ``"tfidf"`` feature pipeline for ``columns``."""
    parts: list[tuple[str, Any, Any]] = []
    for name in columns.text:
        if kind == "llm":
            text = Pipeline(
                [
                    (
                        "llm",
                        TextFeatures(
                            kinds,
                            seed=seed,
                            model=model,
                            chat_model=chat_model,
                            finetuned=finetuned,
                            progress=progress,
                        ),
                    ),
                    ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                    ("scale", StandardScaler()),
                ]
            )
            parts.append((f"text:{name}", text, [name]))
        else:
            tfidf = Pipeline(
                [
                    ("fill", FunctionTransformer(_text_or_empty, feature_names_out="one-to-one")),
                    (
                        "tfidf",
                        TfidfVectorizer(
                            ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=20_000
                        ),
                    ),
                ]
            )
            parts.append((f"tfidf:{name}", tfidf, [name]))
    if kind == "llm" and task is not None and columns.text:
        parts.append(("baseline", BaselineScore(columns.text, task, seed), columns.text))
    parts += _tabular(columns)
    # TF-IDF words of two text columns may coincide: there the names keep their part's prefix.
    return ColumnTransformer(parts, verbose_feature_names_out=kind == "tfidf", sparse_threshold=0.3)


@dataclass(frozen=True)
class Candidate:
    """A model to compare: how to build it, which features it reads, how to tune it."""

    name: str
    features: str  # "llm" or "tfidf"
    build: Callable[[dict[str, Any], int], Any]
    space: Callable[[Any], dict[str, Any]]  # an Optuna trial → parameters


def candidates(task: str) -> list[Candidate]:
    """The candidates for ``task``, the baseline first."""
    classification = task == "classification"
    forest = RandomForestClassifier if classification else RandomForestRegressor
    boosting = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
    trees = [
        Candidate(
            "random forest",
            "llm",
            lambda p, s: forest(
                n_estimators=p.get("n_estimators", 200),
                max_depth=p.get("max_depth"),
                min_samples_leaf=p.get("min_samples_leaf", 1),
                random_state=s,
                n_jobs=-1,
            ),
            _forest_space,
        ),
        Candidate(
            "gradient boosting", "llm", lambda p, s: boosting(random_state=s, **p), _boosting_space
        ),
    ]
    if classification:
        return [
            Candidate(
                BASELINE,
                "tfidf",
                lambda p, s: LogisticRegression(max_iter=2000, C=p.get("C", 1.0)),
                lambda t: {"C": t.suggest_float("C", 1e-2, 1e2, log=True)},
            ),
            Candidate(
                "logistic regression",
                "llm",
                lambda p, s: LogisticRegression(max_iter=2000, C=p.get("C", 1.0)),
                lambda t: {"C": t.suggest_float("C", 1e-3, 1e2, log=True)},
            ),
            Candidate(
                "linear SVM",
                "llm",
                lambda p, s: LinearSVC(C=p.get("C", 1.0), random_state=s),
                lambda t: {"C": t.suggest_float("C", 1e-3, 1e1, log=True)},
            ),
            *trees,
        ]
    return [
        Candidate(
            BASELINE,
            "tfidf",
            lambda p, s: Ridge(alpha=p.get("alpha", 1.0)),
            lambda t: {"alpha": t.suggest_float("alpha", 1e-2, 1e2, log=True)},
        ),
        Candidate(
            "ridge regression",
            "llm",
            lambda p, s: Ridge(alpha=p.get("alpha", 1.0)),
            lambda t: {"alpha": t.suggest_float("alpha", 1e-3, 1e3, log=True)},
        ),
        Candidate(
            "linear SVM",
            "llm",
            lambda p, s: LinearSVR(C=p.get("C", 1.0), random_state=s, max_iter=5000),
            lambda t: {"C": t.suggest_float("C", 1e-3, 1e1, log=True)},
        ),
        *trees,
    ]


def _forest_space(trial: Any) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, 400, step=100),
        "max_depth": trial.suggest_categorical("max_depth", [None, 4, 8, 16]),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 10),
    }


def _boosting_space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 64, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 50, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-4, 10, log=True),
    }


def dense(matrix: Any) -> np.ndarray:
    """A dense array of a feature matrix (HistGradientBoosting and friends need one)."""
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
