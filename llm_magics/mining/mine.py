"""``mine``: from a DataFrame and a target to a tuned, evaluated and explained model.

The order keeps the test split honest: the rows are split once into training and test; every
choice (which model, which hyperparameters) is made by K-fold cross-validation inside the training
rows; the test rows are used once, at the end, to report the chosen model's figures and its
importances. The language-model features of each fold are computed once and shared by every
candidate and every tuning trial (the engine's cache makes the repeated texts free anyway).
"""

from __future__ import annotations

import functools
import re
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.inspection import permutation_importance
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from llm_magics.engine.jobs import raise_if_cancelled
from llm_magics.errors import InvalidArgumentError, collected_warnings, did_you_mean, warn
from llm_magics.mining.candidates import BASELINE, Candidate, dense, feature_pipeline
from llm_magics.mining.candidates import candidates as candidates_for
from llm_magics.mining.columns import infer_columns, prepare_target
from llm_magics.mining.metrics import check_metric, evaluate, higher_is_better, scores_of
from llm_magics.mining.result import MiningResult, Splits
from llm_magics.ops.features import FEATURE_KINDS

__all__ = ["candidate_names", "mine"]

TUNED_CANDIDATES = 2


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


def _folds(task: str, y: pd.Series, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
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
    fold: dict[str, Any],
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
        The column to predict. Rows where it is missing are left out (with a warning).
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
        ``metrics`` (test split), ``importances``, ``explain()``.
    """
    import optuna

    if not 0.05 <= test_size <= 0.5:
        msg = f"test_size must be between 0.05 and 0.5, not {test_size}."
        raise InvalidArgumentError(msg)
    if folds < 2:
        msg = f"folds must be at least 2, not {folds}."
        raise InvalidArgumentError(msg)
    started = time.perf_counter()
    frame, task = prepare_target(frame, target, task)
    metric = check_metric(metric, task)
    trials, seconds = _budget(budget)
    columns = infer_columns(frame, target, text)
    if not columns.features:
        msg = f"No column to learn {target!r} from: {columns.dropped or 'the frame has only the target'}."
        raise InvalidArgumentError(msg)
    X, y = frame[columns.features], frame[target]
    stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
    train_idx, test_idx = train_test_split(
        np.arange(len(frame)), test_size=test_size, random_state=seed, stratify=stratify
    )
    X_train, y_train = X.iloc[train_idx], y.iloc[train_idx]
    X_test, y_test = X.iloc[test_idx], y.iloc[test_idx]
    fold_positions = _folds(task, y_train, folds, seed)
    chosen = _chosen(task, candidates)
    settings = {
        "task": task,
        "kinds": kinds,
        "seed": seed,
        "model": model,
        "chat_model": chat_model,
        "finetuned": finetuned,
        "progress": progress,
    }

    # The features of every fold, once per feature pipeline.
    fold_data: dict[str, list[dict[str, Any]]] = {"llm": [], "tfidf": []}
    for kind in ("llm", "tfidf"):
        for inner_train, inner_valid in fold_positions:
            pipeline = feature_pipeline(columns, kind, **settings)
            fold_data[kind].append(
                {
                    "X_train": _maybe_dense(
                        pipeline.fit_transform(
                            X_train.iloc[inner_train], y_train.iloc[inner_train]
                        ),
                        kind,
                    ),
                    "X_valid": _maybe_dense(pipeline.transform(X_train.iloc[inner_valid]), kind),
                    "y_train": y_train.iloc[inner_train].to_numpy(),
                    "y_valid": y_train.iloc[inner_valid].to_numpy(),
                }
            )

    def cross_validate(
        candidate: Candidate, params: dict[str, Any]
    ) -> tuple[dict[str, list[float]], float]:
        figures: dict[str, list[float]] = {}
        spent = 0.0
        for fold in fold_data[candidate.features]:
            raise_if_cancelled("mine")
            scores, fit_seconds = _fit_score(candidate, params, fold, task, seed)
            spent += fit_seconds
            for name, value in scores.items():
                figures.setdefault(name, []).append(value)
        return figures, spent / len(fold_positions)

    rows, results = [], {}
    for candidate in chosen:
        figures, fit_seconds = cross_validate(candidate, {})
        results[candidate.name] = (candidate, {}, figures)
        rows.append(_leader_row(candidate.name, figures, fit_seconds, tuned=False))

    sign = 1 if higher_is_better(metric) else -1

    def mean_of(figures: dict[str, list[float]]) -> float:
        return float(np.nanmean(figures[metric]))

    ranked = sorted(results.values(), key=lambda r: -sign * mean_of(r[2]))
    to_tune = [r for r in ranked if r[0].name != BASELINE][:TUNED_CANDIDATES]
    tuning: dict[str, Any] = {}
    if trials != 0:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        per_candidate = None if seconds is None else seconds / max(1, len(to_tune))
        per_trials = None if trials is None else max(1, trials // max(1, len(to_tune)))
        for candidate, _, default_figures in to_tune:
            study = optuna.create_study(
                direction="maximize" if sign > 0 else "minimize",
                sampler=optuna.samplers.TPESampler(seed=seed),
            )

            def objective(trial: Any, candidate: Candidate = candidate) -> float:
                figures, _ = cross_validate(candidate, candidate.space(trial))
                trial.set_user_attr("figures", figures)
                return mean_of(figures)

            tuned_started = time.perf_counter()
            study.optimize(objective, n_trials=per_trials, timeout=per_candidate)
            best_trial = study.best_trial
            tuning[candidate.name] = {
                "trials": len(study.trials),
                "seconds": time.perf_counter() - tuned_started,
                "best_params": best_trial.params,
                "best_value": best_trial.value,
                "default_value": mean_of(default_figures),
            }
            if sign * best_trial.value > sign * mean_of(default_figures):
                name = f"{candidate.name} (tuned)"
                figures = best_trial.user_attrs["figures"]
                results[name] = (candidate, best_trial.params, figures)
                rows.append(_leader_row(name, figures, float("nan"), tuned=True))

    leaderboard = pd.DataFrame(rows)
    leaderboard = leaderboard.sort_values(
        f"{metric}_mean", ascending=sign < 0, kind="stable"
    ).reset_index(drop=True)
    best_name = str(leaderboard.iloc[0]["model"])
    candidate, params, _ = results[best_name]

    best = Pipeline(
        [
            ("features", feature_pipeline(columns, candidate.features, **settings)),
            ("dense", _densifier(candidate.features)),
            ("model", candidate.build(params, seed)),
        ]
    )
    best.fit(X_train, y_train)
    baseline_candidate, _, _ = results[BASELINE]
    baseline = Pipeline(
        [
            ("features", feature_pipeline(columns, "tfidf", **settings)),
            ("dense", _densifier("tfidf")),
            ("model", baseline_candidate.build({}, seed)),
        ]
    )
    baseline.fit(X_train, y_train)

    def test_figures(pipeline: Pipeline) -> dict[str, float]:
        predicted = pipeline.predict(X_test)
        classes = getattr(pipeline, "classes_", None)
        return evaluate(task, y_test, predicted, scores_of(pipeline, X_test), classes)

    metrics = test_figures(best)
    baseline_metrics = test_figures(baseline)
    confusion = None
    if task == "classification":
        from sklearn.metrics import confusion_matrix

        labels = list(best.classes_)
        confusion = pd.DataFrame(
            confusion_matrix(y_test, best.predict(X_test), labels=labels),
            index=pd.Index(labels, name="actual"),
            columns=pd.Index(labels, name="predicted"),
        )

    test_predictions = pd.DataFrame(
        {"actual": y_test.to_numpy(), "predicted": best.predict(X_test)}, index=X_test.index
    )
    if task == "classification":
        scores = scores_of(best, X_test)
        if scores is not None:
            scores = np.asarray(scores)
            if scores.ndim == 1:  # a binary decision function: the second class's score
                scores = np.column_stack([-scores, scores])
            for j, label in enumerate(best.classes_):
                test_predictions[f"score_{label}"] = scores[:, j]

    scoring = _scorer(metric, y.nunique() if task == "classification" else 0)
    by_column = permutation_importance(
        best, X_test, y_test, scoring=scoring, n_repeats=5, random_state=seed
    )
    importances_by_column = (
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
    transformed = dense(best[:-1].transform(X_test))
    feature_names = [str(n) for n in best.named_steps["features"].get_feature_names_out()]
    importance, spread = _feature_importance(best[-1], transformed, y_test, scoring, seed)
    importances_by_feature = (
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

    train_features = best[:-1].transform(X_train)
    return MiningResult(
        target=target,
        task=task,
        metric=metric,
        columns=columns,
        leaderboard=leaderboard,
        best=best,
        best_name=best_name,
        best_params=dict(params),
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        confusion=confusion,
        importances=importances_by_column,
        feature_importances=importances_by_feature,
        tuning=tuning,
        splits=Splits(
            train=list(frame.index[train_idx]),
            test=list(frame.index[test_idx]),
            folds=[
                (list(frame.index[train_idx][a]), list(frame.index[train_idx][b]))
                for a, b in fold_positions
            ],
        ),
        feature_means=np.asarray(dense(train_features).mean(axis=0)).ravel(),
        seed=seed,
        chat_model=chat_model,
        seconds=time.perf_counter() - started,
        test_predictions=test_predictions,
        settings={
            "target": target,
            "text": columns.text,
            "task": task,
            "metric": metric,
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
