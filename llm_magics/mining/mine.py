"""``mine``: from a DataFrame and a target to a tuned, evaluated and explained model.

The order keeps the test split honest: the rows are split once into training and test; every
choice (which model, which hyperparameters) is made by K-fold cross-validation inside the training
rows; the test rows are used once, at the end, to report the chosen model's figures and its
importances. The language-model features of each fold are computed once and shared by every
candidate and every tuning trial (the engine's cache makes the repeated texts free anyway).

``mine`` runs these stages, each a function (or ``_Search``) below, in this order:

1. ``_problem``: check the arguments, drop the rows without a target, infer the task, the metric
   and the feature columns;
2. ``_split``: the training and test rows, and the folds within training;
3. ``_fold_features``: the features of every fold, once per feature pipeline;
4. ``_Search``: cross-validate each candidate, tune the best two with Optuna, rank them;
5. ``_fitted`` and ``_TestFigures``: refit the chosen model and the baseline on the training
   rows, and measure both on the test rows;
6. ``_importance_by_column`` and ``_importance_by_feature``: permutation importance on the test
   rows;
7. ``MiningResult``: everything above, with the settings that reproduce it.

Every random draw takes ``seed`` (the split, the folds, the features, the samplers, the models,
the permutations), so the same seed gives the same result.
"""

from __future__ import annotations

import functools
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.inspection import permutation_importance
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    train_test_split,
)
from sklearn.pipeline import Pipeline

from llm_magics.engine.jobs import raise_if_cancelled
from llm_magics.errors import (
    InvalidArgumentError,
    checked_arguments,
    collected_warnings,
    did_you_mean,
    warn,
)
from llm_magics.learning import quality
from llm_magics.mining.candidates import BASELINE, Candidate, dense, feature_pipeline
from llm_magics.mining.candidates import candidates as candidates_for
from llm_magics.mining.columns import Columns, infer_columns, prepare_target
from llm_magics.mining.metrics import check_metric, evaluate, higher_is_better, scores_of
from llm_magics.mining.result import MiningResult, Splits
from llm_magics.ops.features import FEATURE_KINDS
from llm_magics.ops.spec import StepSpec, Uses, register_step

__all__ = ["STEP", "candidate_names", "mine"]

TUNED_CANDIDATES = 2

Figures = dict[str, list[float]]  # metric → its value on each fold
Fold = dict[str, Any]  # X_train, X_valid, y_train, y_valid of one fold, features computed


def _budget(budget: int | float | str) -> tuple[int | None, float | None]:
    """``(trials, seconds)`` from ``20`` (trials), ``"60s"`` or ``60.0`` (seconds)."""
    if isinstance(budget, str):
        text = budget.strip().lower()
        try:
            return None, float(text.removesuffix("s"))
        except ValueError:
            msg = f"budget must be a number of trials (20) or of seconds ('60s'), not {budget!r}."
            raise InvalidArgumentError(msg) from None
    if isinstance(budget, float):
        return None, budget
    if isinstance(budget, int) and budget >= 0:
        return budget, None
    msg = f"budget must be a number of trials (20) or of seconds ('60s'), not {budget!r}."
    raise InvalidArgumentError(msg)


def _folds(
    task: str, y: pd.Series, folds: int, seed: int, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    if groups is not None:  # copies of a row stay in one fold
        k = min(folds, len(np.unique(groups)))
        if task == "classification":
            smallest = int(pd.Series(groups).groupby(y.to_numpy()).nunique().min())
            grouped: Any = StratifiedGroupKFold(
                min(k, max(2, smallest)), shuffle=True, random_state=seed
            )
        else:
            grouped = GroupKFold(k, shuffle=True, random_state=seed)
        return list(grouped.split(np.zeros(len(y)), y, groups))
    if task == "classification":
        smallest = int(y.value_counts().min())
        splitter: Any = StratifiedKFold(
            min(folds, max(2, smallest)), shuffle=True, random_state=seed
        )
        return list(splitter.split(np.zeros(len(y)), y))
    return list(KFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y))))


def _fit_score(
    candidate: Candidate,
    params: dict[str, Any],
    fold: Fold,
    task: str,
    seed: int,
) -> tuple[dict[str, float], float]:
    model = candidate.build(params, seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        # A trial's iteration cap is part of its cost: not converging is expected, not news.
        # Other warnings (deprecations of the arguments we pass among them) still show.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(fold["X_train"], fold["y_train"])
    seconds = time.perf_counter() - started
    predicted = model.predict(fold["X_valid"])
    classes = getattr(model, "classes_", None)
    figures = evaluate(task, fold["y_valid"], predicted, scores_of(model, fold["X_valid"]), classes)
    return figures, seconds


def _warn_once(fn: Any) -> Any:
    """Say each warning of ``fn`` once: the features of every fold repeat the same ones."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with collected_warnings() as notes:
            result = fn(*args, **kwargs)
        seen = set()
        for note in notes:
            kind = re.sub(r"\d+", "N", note)
            if kind not in seen:
                seen.add(kind)
                warn(note)
        return result

    return wrapper


@_warn_once
@checked_arguments
def mine(
    frame: pd.DataFrame,
    target: str,
    *,
    text: str | Sequence[str] | None = None,
    task: str = "auto",
    metric: str | None = None,
    budget: int | float | str = 20,
    candidates: Sequence[str] | None = None,
    folds: int = 5,
    test_size: float = 0.2,
    kinds: Sequence[str] = FEATURE_KINDS,
    seed: int = 0,
    model: str | None = None,
    chat_model: str | None = None,
    finetuned: str | None = None,
    progress: bool = True,
) -> MiningResult:
    """Predict ``target`` from the other columns, with language-model features for text.

    Parameters
    ----------
    frame
        The data: text, numeric and categorical columns, and the target.
    target
        The column to predict. Rows where it is missing (the rows a labelling panel has not
        reached yet) are left out of training and testing, with a warning that says how many
        rows are labelled, and ``result.unlabelled`` holds their predictions.
    text
        The text column(s); ``None`` finds them (columns of mostly distinct, several-word text).
    task
        ``"auto"`` (numbers with 20 or more distinct values: regression), ``"classification"``
        or ``"regression"``.
    metric
        What ranks the candidates: ``f1_macro`` (default), ``accuracy``, ``f1_weighted``,
        ``precision_macro``, ``recall_macro``, ``roc_auc``; or ``rmse`` (default), ``mae``, ``r2``.
    budget
        Tuning of the best two candidates: a number of trials (``20``) or of seconds (``"60s"``).
    candidates
        The candidate models to compare, by name (``None``: all of them; see
        ``candidate_names(task)``); the TF-IDF baseline always runs.
    folds, test_size
        K of the cross-validation, and the share of rows held out for the final test.
    kinds
        The text features (see ``llm_magics.ops.features``).
    seed
        The same seed gives the same split, folds, features, tuning and model.
    model, chat_model
        The embedding and chat models of the text features (and of ``explain()``).
    finetuned
        A classifier from ``finetune`` whose class probabilities join the text features.
    progress
        Progress bars of the engine.

    Returns
    -------
    MiningResult
        ``leaderboard``, ``best`` (a fitted Pipeline: ``predict(new_frame)`` and pickle work),
        ``metrics`` (test split), ``quality`` (test accuracy with intervals, for
        classification), ``importances``, ``unlabelled``, ``explain()``.
    """
    started = time.perf_counter()
    problem = _problem(frame, target, text, task, metric, budget, folds=folds, test_size=test_size)
    split = _split(problem, folds, test_size, seed)
    chosen = _chosen(problem.task, candidates)
    settings = {
        "task": problem.task,
        "kinds": kinds,
        "seed": seed,
        "model": model,
        "chat_model": chat_model,
        "finetuned": finetuned,
        "progress": progress,
    }
    search = _Search(_fold_features(problem.columns, split, settings), problem, seed)
    search.compare(chosen)
    tuning = search.tune(problem.trials, problem.seconds)
    leaderboard, best_name = search.leaderboard()
    candidate, params, _ = search.results[best_name]
    best = _fitted(problem.columns, candidate, params, settings, seed, split)
    baseline = _fitted(problem.columns, search.results[BASELINE][0], {}, settings, seed, split)
    test = _TestFigures.of(best, baseline, split, problem.task)
    scoring = _scorer(problem.metric, problem.classes)
    importances = _importance_by_column(best, split, problem.columns, scoring, seed)
    feature_importances = _importance_by_feature(best, split, problem.columns, scoring, seed)
    train_features = best[:-1].transform(split.X_train)
    unlabelled = frame.loc[frame[target].isna(), problem.columns.features]
    return MiningResult(
        target=target,
        task=problem.task,
        metric=problem.metric,
        columns=problem.columns,
        leaderboard=leaderboard,
        best=best,
        best_name=best_name,
        best_params=dict(params),
        metrics=test.metrics,
        baseline_metrics=test.baseline_metrics,
        confusion=test.confusion,
        importances=importances,
        feature_importances=feature_importances,
        tuning=tuning,
        splits=split.labels(problem.frame.index),
        feature_means=np.asarray(dense(train_features).mean(axis=0)).ravel(),
        seed=seed,
        chat_model=chat_model,
        seconds=time.perf_counter() - started,
        test_predictions=test.predictions,
        quality=test.quality,
        rows=len(frame),
        unlabelled=_predicted(best, unlabelled, problem),
        settings={
            "target": target,
            "text": problem.columns.text,
            "task": problem.task,
            "metric": problem.metric,
            "budget": budget,
            "candidates": None if candidates is None else [c.name for c in chosen[1:]],
            "folds": folds,
            "test_size": test_size,
            "kinds": list(kinds),
            "seed": seed,
            "model": model,
            "chat_model": chat_model,
            "finetuned": finetuned,
        },
    )


# Stage 1: the problem.


@dataclass(frozen=True)
class _Problem:
    """What ``mine`` learns: the rows that have a target, the task, its metric, the columns to
    learn from and the tuning budget."""

    frame: pd.DataFrame
    target: str
    task: str
    metric: str
    columns: Columns
    trials: int | None
    seconds: float | None

    @property
    def y(self) -> pd.Series:
        return self.frame[self.target]

    @property
    def classes(self) -> int:
        """The number of classes (0 for regression): which ROC AUC scorer to use."""
        return self.y.nunique() if self.task == "classification" else 0


def _problem(
    frame: pd.DataFrame,
    target: str,
    text: str | Sequence[str] | None,
    task: str,
    metric: str | None,
    budget: int | float | str,
    *,
    folds: int,
    test_size: float,
) -> _Problem:
    """Check the arguments, drop the rows without a target, infer the task, metric and columns."""
    if not 0.05 <= test_size <= 0.5:
        msg = f"test_size must be between 0.05 and 0.5, not {test_size}."
        raise InvalidArgumentError(msg)
    if folds < 2:
        msg = f"folds must be at least 2, not {folds}."
        raise InvalidArgumentError(msg)
    frame, task = prepare_target(frame, target, task)
    metric = check_metric(metric, task)
    trials, seconds = _budget(budget)
    columns = infer_columns(frame, target, text)
    if not columns.features:
        msg = f"No column to learn {target!r} from: {columns.dropped or 'the frame has only the target'}."
        raise InvalidArgumentError(msg)
    return _Problem(frame, target, task, metric, columns, trials, seconds)


# Stage 2: the split.


@dataclass(frozen=True)
class _Split:
    """The training and test rows (by position), and the cross-validation folds within training
    (positions within the training rows)."""

    train: np.ndarray
    test: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series

    def labels(self, index: pd.Index) -> Splits:
        """The same split by the frame's index labels."""
        train = index[self.train]
        return Splits(
            train=list(train),
            test=list(index[self.test]),
            folds=[(list(train[a]), list(train[b])) for a, b in self.folds],
        )


def _copies(X: pd.DataFrame) -> np.ndarray | None:
    """A group id per row, equal for rows whose features are equal; ``None`` when none repeat."""
    hashed = pd.util.hash_pandas_object(X.astype(str), index=False).to_numpy()
    groups = pd.factorize(hashed)[0]
    return groups if groups.max(initial=-1) + 1 < len(groups) else None


def _split(problem: _Problem, folds: int, test_size: float, seed: int) -> _Split:
    """Hold out the test rows (stratified when every class has two rows), then fold the rest.

    Rows whose features are equal (copies: a review pasted twice, a ticket re-sent) stay on one
    side of every split, the holdout's and the folds', with one warning: a copy on both sides is
    scored on a row the model was trained on (few-shot learning's 16 texts each 4 times were
    estimated at 1.00 for coin-flip labels).
    """
    X, y = problem.frame[problem.columns.features], problem.y
    stratify = y if problem.task == "classification" and y.value_counts().min() >= 2 else None
    rows = np.arange(len(problem.frame))
    groups = _copies(X)
    if groups is None:
        train, test = train_test_split(
            rows, test_size=test_size, random_state=seed, stratify=stratify
        )
    else:
        copies = len(groups) - len(np.unique(groups))
        warn(
            f"mine(): {copies} of {len(groups)} rows repeat another row's features; each row's "
            "copies are kept on one side of every split (training or test, one fold)."
        )
        parts = max(2, round(1 / test_size))
        splitter = (
            StratifiedGroupKFold(parts, shuffle=True, random_state=seed)
            if stratify is not None
            else GroupKFold(parts, shuffle=True, random_state=seed)
        )
        train, test = next(splitter.split(rows, y, groups))
    y_train = y.iloc[train]
    return _Split(
        train=train,
        test=test,
        folds=_folds(problem.task, y_train, folds, seed, None if groups is None else groups[train]),
        X_train=X.iloc[train],
        y_train=y_train,
        X_test=X.iloc[test],
        y_test=y.iloc[test],
    )


# Stage 3: the features of every fold.


def _fold_features(
    columns: Columns, split: _Split, settings: dict[str, Any]
) -> dict[str, list[Fold]]:
    """The features of every fold, once per feature pipeline (``"llm"``, then ``"tfidf"``)."""
    return {
        kind: [
            _fold(columns, kind, settings, split, inner_train, inner_valid)
            for inner_train, inner_valid in split.folds
        ]
        for kind in ("llm", "tfidf")
    }


def _fold(
    columns: Columns,
    kind: str,
    settings: dict[str, Any],
    split: _Split,
    inner_train: np.ndarray,
    inner_valid: np.ndarray,
) -> Fold:
    """One fold's features: the pipeline fitted on the fold's training rows only."""
    pipeline = feature_pipeline(columns, kind, **settings)
    X, y = split.X_train, split.y_train
    return {
        "X_train": _maybe_dense(
            pipeline.fit_transform(X.iloc[inner_train], y.iloc[inner_train]), kind
        ),
        "X_valid": _maybe_dense(pipeline.transform(X.iloc[inner_valid]), kind),
        "y_train": y.iloc[inner_train].to_numpy(),
        "y_valid": y.iloc[inner_valid].to_numpy(),
    }


# Stage 4: the search.


class _Search:
    """Cross-validate candidates on the features of the folds, tune the best, rank them all.

    ``rows`` are the leaderboard's rows, in the order they were measured; ``results`` maps each
    row's name to its candidate, its parameters and its figures on the folds.
    """

    def __init__(self, folds: dict[str, list[Fold]], problem: _Problem, seed: int) -> None:
        self.folds = folds
        self.task = problem.task
        self.metric = problem.metric
        self.seed = seed
        self.sign = 1 if higher_is_better(problem.metric) else -1
        self.rows: list[dict[str, Any]] = []
        self.results: dict[str, tuple[Candidate, dict[str, Any], Figures]] = {}

    def cross_validate(self, candidate: Candidate, params: dict[str, Any]) -> tuple[Figures, float]:
        """Every metric on every fold, and the mean fit time."""
        figures: Figures = {}
        spent = 0.0
        folds = self.folds[candidate.features]
        for fold in folds:
            raise_if_cancelled("mine")
            scores, fit_seconds = _fit_score(candidate, params, fold, self.task, self.seed)
            spent += fit_seconds
            for name, value in scores.items():
                figures.setdefault(name, []).append(value)
        return figures, spent / len(folds)

    def mean_of(self, figures: Figures) -> float:
        """The mean of the ranking metric over the folds."""
        return float(np.nanmean(figures[self.metric]))

    def compare(self, chosen: Sequence[Candidate]) -> None:
        """Cross-validate each candidate with its default parameters."""
        for candidate in chosen:
            figures, fit_seconds = self.cross_validate(candidate, {})
            self.results[candidate.name] = (candidate, {}, figures)
            self.rows.append(_leader_row(candidate.name, figures, fit_seconds, tuned=False))

    def tune(self, trials: int | None, seconds: float | None) -> dict[str, Any]:
        """Tune the best ``TUNED_CANDIDATES`` (never the baseline), sharing the budget; a tuned
        variant that beats its defaults joins the leaderboard. Returns each study's summary."""
        if trials == 0:
            return {}
        import optuna  # slow to import: only when tuning

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        ranked = sorted(self.results.values(), key=lambda r: -self.sign * self.mean_of(r[2]))
        to_tune = [r for r in ranked if r[0].name != BASELINE][:TUNED_CANDIDATES]
        share = max(1, len(to_tune))
        per_seconds = None if seconds is None else seconds / share
        per_trials = None if trials is None else max(1, trials // share)
        return {
            candidate.name: self._study(candidate, figures, per_trials, per_seconds)
            for candidate, _, figures in to_tune
        }

    def _study(
        self,
        candidate: Candidate,
        default_figures: Figures,
        trials: int | None,
        seconds: float | None,
    ) -> dict[str, Any]:
        """Tune one candidate with Optuna's TPE sampler (seeded)."""
        import optuna

        study = optuna.create_study(
            direction="maximize" if self.sign > 0 else "minimize",
            sampler=optuna.samplers.TPESampler(seed=self.seed),
        )

        def objective(trial: Any) -> float:
            figures, _ = self.cross_validate(candidate, candidate.space(trial))
            trial.set_user_attr("figures", figures)
            return self.mean_of(figures)

        started = time.perf_counter()
        study.optimize(objective, n_trials=trials, timeout=seconds)
        best_trial = study.best_trial
        default = self.mean_of(default_figures)
        summary = {
            "trials": len(study.trials),
            "seconds": time.perf_counter() - started,
            "best_params": best_trial.params,
            "best_value": best_trial.value,
            "default_value": default,
        }
        if self.sign * best_trial.value > self.sign * default:
            name = f"{candidate.name} (tuned)"
            figures = best_trial.user_attrs["figures"]
            self.results[name] = (candidate, best_trial.params, figures)
            self.rows.append(_leader_row(name, figures, float("nan"), tuned=True))
        return summary

    def leaderboard(self) -> tuple[pd.DataFrame, str]:
        """The rows ranked by the metric (ties keep their order), and the best row's name."""
        board = (
            pd.DataFrame(self.rows)
            .sort_values(f"{self.metric}_mean", ascending=self.sign < 0, kind="stable")
            .reset_index(drop=True)
        )
        return board, str(board.iloc[0]["model"])


# Stage 5: the chosen model and the baseline on the test rows.


def _fitted(
    columns: Columns,
    candidate: Candidate,
    params: dict[str, Any],
    settings: dict[str, Any],
    seed: int,
    split: _Split,
) -> Pipeline:
    """``candidate`` with ``params`` and its features, fitted on all the training rows."""
    pipeline = Pipeline(
        [
            ("features", feature_pipeline(columns, candidate.features, **settings)),
            ("dense", _densifier(candidate.features)),
            ("model", candidate.build(params, seed)),
        ]
    )
    return pipeline.fit(split.X_train, split.y_train)


def _predicted(best: Pipeline, rows: pd.DataFrame, problem: _Problem) -> pd.Series:
    """The chosen model's predictions for ``rows`` (the rows without a target)."""
    name = f"{problem.target}_predicted"
    if rows.empty:
        return pd.Series([], index=rows.index, name=name, dtype=problem.y.dtype)
    return pd.Series(best.predict(rows), index=rows.index, name=name)


@dataclass(frozen=True)
class _TestFigures:
    """The chosen model's and the baseline's figures on the test rows, the confusion matrix
    (classification) and each test row's prediction (with class scores, when the model has
    them)."""

    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    confusion: pd.DataFrame | None
    predictions: pd.DataFrame = field(repr=False)
    quality: dict[str, Any] | None = None

    @classmethod
    def of(cls, best: Pipeline, baseline: Pipeline, split: _Split, task: str) -> _TestFigures:
        metrics = _test_metrics(best, split, task)
        baseline_metrics = _test_metrics(baseline, split, task)
        classification = task == "classification"
        confusion = _confusion(best, split) if classification else None
        predictions = _test_predictions(best, split, classification)
        found = None
        if classification:  # accuracy with its interval: a few test rows give a wide one
            predicted, actual = predictions["predicted"], predictions["actual"]
            found = quality.evaluate(predicted, actual, source="held-out test rows").to_dict()
        return cls(metrics, baseline_metrics, confusion, predictions, found)


def _test_metrics(pipeline: Pipeline, split: _Split, task: str) -> dict[str, float]:
    predicted = pipeline.predict(split.X_test)
    classes = getattr(pipeline, "classes_", None)
    return evaluate(task, split.y_test, predicted, scores_of(pipeline, split.X_test), classes)


def _confusion(best: Pipeline, split: _Split) -> pd.DataFrame:
    from sklearn.metrics import confusion_matrix

    labels = list(best.classes_)
    return pd.DataFrame(
        confusion_matrix(split.y_test, best.predict(split.X_test), labels=labels),
        index=pd.Index(labels, name="actual"),
        columns=pd.Index(labels, name="predicted"),
    )


def _test_predictions(best: Pipeline, split: _Split, classification: bool) -> pd.DataFrame:
    predictions = pd.DataFrame(
        {"actual": split.y_test.to_numpy(), "predicted": best.predict(split.X_test)},
        index=split.X_test.index,
    )
    scores = scores_of(best, split.X_test) if classification else None
    if scores is not None:
        scores = np.asarray(scores)
        if scores.ndim == 1:  # a binary decision function: the second class's score
            scores = np.column_stack([-scores, scores])
        for j, label in enumerate(best.classes_):
            predictions[f"score_{label}"] = scores[:, j]
    return predictions


# Stage 6: importances on the test rows.


def _importance_by_column(
    best: Pipeline, split: _Split, columns: Columns, scoring: str, seed: int
) -> pd.DataFrame:
    """Permutation importance of each input column (its whole set of features at once)."""
    by_column = permutation_importance(
        best, split.X_test, split.y_test, scoring=scoring, n_repeats=5, random_state=seed
    )
    return (
        pd.DataFrame(
            {
                "column": columns.features,
                "importance": by_column.importances_mean,
                "std": by_column.importances_std,
            }
        )
        .sort_values("importance", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


def _importance_by_feature(
    best: Pipeline, split: _Split, columns: Columns, scoring: str, seed: int
) -> pd.DataFrame:
    """Permutation importance of each model feature, with the input column it comes from."""
    transformed = dense(best[:-1].transform(split.X_test))
    feature_names = [str(n) for n in best.named_steps["features"].get_feature_names_out()]
    importance, spread = _feature_importance(best[-1], transformed, split.y_test, scoring, seed)
    return (
        pd.DataFrame(
            {
                "feature": feature_names,
                "column": [_source_of(n, columns) for n in feature_names],
                "importance": importance,
                "std": spread,
            }
        )
        .dropna(subset=["importance"])
        .sort_values("importance", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


# Helpers.


def candidate_names(task: str) -> list[str]:
    """The candidate models ``mine`` can compare for ``task``, without the baseline.

    Examples
    --------
    >>> candidate_names("regression")
    ['ridge regression', 'linear SVM', 'random forest', 'gradient boosting']
    """
    return [c.name for c in candidates_for(task) if c.name != BASELINE]


def _chosen(task: str, names: Sequence[str] | None) -> list[Candidate]:
    """The baseline, then the candidates named (all when ``names`` is None)."""
    every = candidates_for(task)
    if names is None:
        return every
    if isinstance(names, str):
        names = [names]
    known = [c.name for c in every if c.name != BASELINE]
    for name in names:
        if name not in known and name != BASELINE:
            msg = (
                f"No candidate model {name!r} for {task}.{did_you_mean(str(name), known)} "
                f"Candidates: {', '.join(known)}."
            )
            raise InvalidArgumentError(msg)
    return [c for c in every if c.name == BASELINE or c.name in names]


def _maybe_dense(matrix: Any, kind: str) -> Any:
    return matrix if kind == "tfidf" else dense(matrix)


def _densifier(kind: str) -> Any:
    from sklearn.preprocessing import FunctionTransformer

    return "passthrough" if kind == "tfidf" else FunctionTransformer(dense)


def _leader_row(
    name: str, figures: dict[str, list[float]], fit_seconds: float, *, tuned: bool
) -> dict[str, Any]:
    row: dict[str, Any] = {"model": name, "tuned": tuned}
    for metric, values in figures.items():
        row[f"{metric}_mean"] = (
            float(np.nanmean(values)) if not np.isnan(values).all() else float("nan")
        )
        row[f"{metric}_std"] = (
            float(np.nanstd(values)) if not np.isnan(values).all() else float("nan")
        )
    row["fit_seconds"] = fit_seconds
    return row


_SCORERS = {
    "accuracy": "accuracy",
    "f1_macro": "f1_macro",
    "f1_weighted": "f1_weighted",
    "precision_macro": "precision_macro",
    "recall_macro": "recall_macro",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}


def _scorer(metric: str, classes: int) -> str:
    """scikit-learn's scorer name for ``metric`` (greater is better, as permutation importance wants)."""
    if metric == "roc_auc":
        return "roc_auc" if classes == 2 else "roc_auc_ovr"
    return _SCORERS[metric]


MAX_PERMUTED_FEATURES = 200


def _feature_importance(
    model: Any, X: np.ndarray, y: pd.Series, scoring: str, seed: int, repeats: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Permutation importance of each feature; with TF-IDF's thousands of columns, only of the
    ``MAX_PERMUTED_FEATURES`` that weigh most in the model (|coefficient| x spread), NaN for the
    rest."""
    from sklearn.metrics import get_scorer

    score = get_scorer(scoring)
    weight = X.std(axis=0)
    coef = getattr(model, "coef_", None)
    if coef is not None:
        weight = weight * np.abs(np.atleast_2d(coef)).sum(axis=0)
    chosen = np.argsort(-weight, kind="stable")[:MAX_PERMUTED_FEATURES]
    rng = np.random.default_rng(seed)
    base = score(model, X, y)
    mean, std = np.full(X.shape[1], np.nan), np.full(X.shape[1], np.nan)
    X = X.copy()
    for j in chosen:
        original, drops = X[:, j].copy(), []
        for _ in range(repeats):
            X[:, j] = rng.permutation(original)
            drops.append(base - score(model, X, y))
        X[:, j] = original
        mean[j], std[j] = np.mean(drops), np.std(drops)
    return mean, std


def _source_of(feature: str, columns: Any) -> str:
    if "__" in feature:  # "tfidf:review__word", "numeric__income"
        part, feature = feature.split("__", 1)
        if part.startswith("tfidf:"):
            return part.removeprefix("tfidf:")
    for name in sorted(columns.features, key=lambda n: -len(str(n))):
        if feature == str(name) or feature.startswith(f"{name}_"):
            return str(name)
    return feature


STEP = register_step(
    StepSpec(
        name="predict",
        function=mine,
        example="predict score from review, product  budget=10",
        uses=(
            Uses("embed", "embed"),
            Uses("chat", "score", "chat_model", when=lambda o: "sentiment" in o["kinds"]),
        ),
        given=frozenset({"frame", "target", "text", "progress"}),
        columns=(0, None),
        target=True,
        outputs=("{target}_predicted",),
        estimate="features",
    )
)
"""``mine`` as a plan step: ``predict TARGET from COLUMN, ... -> NAME  KEY=VALUE ...``."""
