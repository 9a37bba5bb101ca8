"""``MiningResult``: what ``mine`` found, ready to read, predict with, explain and pickle.

The result holds data. Its charts and tuning panel come from ``llm_magics.conveniences`` (the one
place a result reaches the layers above it, late), its narrative from ``mining.narrative``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from llm_magics import conveniences
from llm_magics.learning.quality import quality_text
from llm_magics.mining import narrative
from llm_magics.mining.columns import Columns
from llm_magics.mining.narrative import Narrative
from llm_magics.ops.spec import StepSpec, Uses, register_step

__all__ = ["STEP", "MiningResult", "Splits"]


def _response(model: Any, X: np.ndarray, task: str) -> np.ndarray:
    """Rows × outputs: class probabilities (or decision scores), or the one predicted value."""
    if task == "regression":
        return np.ravel(model.predict(X)).astype(float)[:, None]
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    scores = model.decision_function(X)
    return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores


@dataclass(frozen=True)
class Splits:
    """The index labels of the training rows, the test rows, and each cross-validation fold."""

    train: list[Any]
    test: list[Any]
    folds: list[tuple[list[Any], list[Any]]]  # (fit rows, validation rows), all within train


@dataclass
class MiningResult:
    """The outcome of ``mine``.

    Attributes
    ----------
    quality
        Classification: the chosen model's accuracy and macro-F1 on the test rows with their
        intervals (``llm_magics.Evaluation.to_dict()``); ``None`` for regression.
    rows, unlabelled
        The rows of the frame given, and the chosen model's predictions for those without a
        target (a labelling panel's column labels a few rows of many): ``labelled`` of ``rows``
        were used.
    leaderboard
        One row per candidate (and tuned variant): mean and std of every metric over the folds,
        and the mean fit time; best first.
    best
        The chosen model, fitted on the training rows: a scikit-learn ``Pipeline`` whose first
        step computes the text features with the language models.
    metrics, baseline_metrics
        The chosen model's and the TF-IDF baseline's figures on the held-out test rows.
    importances, feature_importances
        Permutation importance on the test rows, by input column and by model feature.
    """

    target: str
    task: str
    metric: str
    columns: Columns
    leaderboard: pd.DataFrame
    best: Pipeline
    best_name: str
    best_params: dict[str, Any]
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    confusion: pd.DataFrame | None
    importances: pd.DataFrame
    feature_importances: pd.DataFrame
    tuning: dict[str, Any]
    splits: Splits
    feature_means: np.ndarray = field(repr=False)
    seed: int = 0
    chat_model: str | None = None
    seconds: float = 0.0
    test_predictions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
    quality: dict[str, Any] | None = None
    rows: int = 0
    unlabelled: pd.Series = field(default_factory=pd.Series, repr=False)

    @property
    def labelled(self) -> int:
        """The rows that had a target: the training and test rows."""
        return len(self.splits.train) + len(self.splits.test)

    def quality_text(self) -> str | None:
        """The chosen model's test accuracy with its interval, in one line (classification)."""
        return quality_text({"quality": self.quality}) if self.quality else None

    def plot(self, kind: str = "importance", **kwargs: Any) -> Any:
        """A chart of this result (``altair.Chart``).

        ``kind``: ``"importance"`` (by input column), ``"features"`` (by feature),
        ``"leaderboard"``, ``"confusion"``, ``"roc"``, ``"pr"`` (classification),
        ``"predicted"`` (regression), ``"contributions"`` (pass ``row=`` a one-row frame).
        """
        return conveniences.plot_mining(self, kind, **kwargs)

    def charts(self) -> list[Any]:
        """The charts that fit this task, in reading order (``%%mine`` shows these)."""
        return conveniences.mining_charts(self)

    def tune(self, frame: pd.DataFrame, **kwargs: Any) -> Any:
        """A panel to re-run the model selection on ``frame`` (the frame this was mined from)
        with other candidates, metric, folds or budget (see ``llm_magics.widgets.MiningTunePanel``).
        """
        return conveniences.mining_tune_panel(self, frame, **kwargs)

    def predict(self, frame: pd.DataFrame) -> pd.Series:
        """Predictions for new rows (unseen categories and missing text are fine)."""
        missing = [c for c in self.columns.features if c not in frame.columns]
        if missing:
            from llm_magics.errors import InvalidArgumentError

            msg = f"predict() needs the columns the model learned from; missing: {', '.join(map(str, missing))}."
            raise InvalidArgumentError(msg)
        values = self.best.predict(frame[self.columns.features])
        return pd.Series(values, index=frame.index, name=f"{self.target}_predicted")

    def predict_proba(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities for new rows (classification with a probabilistic model)."""
        probabilities = self.best.predict_proba(frame[self.columns.features])
        return pd.DataFrame(
            probabilities, index=frame.index, columns=[f"p_{c}" for c in self.best.classes_]
        )

    def contributions(self, frame: pd.DataFrame, top: int = 5) -> pd.DataFrame:
        """For each row, the features that moved its prediction most.

        A feature's contribution is the change in the prediction (the probability of the predicted
        class, for classification) when that feature alone is set to its training mean.
        """
        transformed = np.asarray(
            self.best[:-1].transform(frame[self.columns.features]), dtype=float
        )
        model = self.best[-1]
        names = [str(n) for n in self.best.named_steps["features"].get_feature_names_out()]
        rows = []
        for i, label in enumerate(frame.index):
            x = transformed[i : i + 1]
            variants = np.repeat(x, len(names), axis=0)
            variants[np.arange(len(names)), np.arange(len(names))] = self.feature_means
            base, changed = _response(model, x, self.task), _response(model, variants, self.task)
            chosen = int(np.argmax(base[0]))
            delta = base[0, chosen] - changed[:, chosen]
            for j in np.argsort(-np.abs(delta), kind="stable")[:top]:
                rows.append({"row": label, "feature": names[j], "contribution": float(delta[j])})
        return pd.DataFrame(rows)

    def explain(
        self, *, use_model: bool = True, timeout: float | None = narrative.EXPLAIN_TIMEOUT
    ) -> Narrative:
        """A short narrative of the result; the chat model's, if every number in it checks out
        and it answers within ``timeout`` seconds (loading it included; ``None``: no limit), else
        the template's. ``Narrative.reason`` says why the template was used."""
        return narrative.narrate(self, use_model=use_model, timeout=timeout)

    def check_narrative(self, answer: str, *, fallback: str | None = None) -> Narrative:
        """``answer`` if it states only the figures (see ``claims_check``), else the template."""
        return narrative.check_answer(self, answer, fallback=fallback)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the fitted model, as plain Python values."""
        return {
            "target": self.target,
            "task": self.task,
            "metric": self.metric,
            "columns": {
                "text": self.columns.text,
                "numeric": self.columns.numeric,
                "categorical": self.columns.categorical,
                "dropped": self.columns.dropped,
            },
            "best": self.best_name,
            "best_params": self.best_params,
            "metrics": self.metrics,
            "baseline_metrics": self.baseline_metrics,
            "confusion": None if self.confusion is None else self.confusion.to_dict(),
            "leaderboard": self.leaderboard.to_dict(orient="records"),
            "importances": self.importances.to_dict(orient="records"),
            "tuning": self.tuning,
            "rows": {
                "train": len(self.splits.train),
                "test": len(self.splits.test),
                "unlabelled": len(self.unlabelled),
            },
            "quality": self.quality,
            "seconds": self.seconds,
        }

    def __repr__(self) -> str:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in self.metrics.items() if np.isfinite(v))
        unlabelled = (
            f"; {self.labelled} labelled rows, {len(self.unlabelled)} predicted"
            if len(self.unlabelled)
            else ""
        )
        found = (
            f"MiningResult({self.task} of {self.target!r}: best {self.best_name}; test {shown}; "
            f"baseline {self.metric} {self.baseline_metrics[self.metric]:.3f}{unlabelled})"
        )
        return f"{found}\n{self.quality_text()}" if self.quality else found

    def _repr_html_(self) -> str:
        board_columns = (
            ["model"]
            + [c for c in self.leaderboard.columns if c.startswith(self.metric)]
            + ["fit_seconds"]
        )
        board = self.leaderboard[board_columns].to_html(
            index=False, float_format=lambda v: f"{v:.3f}"
        )
        metrics = pd.DataFrame({"best": self.metrics, "baseline": self.baseline_metrics}).to_html(
            float_format=lambda v: f"{v:.3f}"
        )
        drivers = self.importances.head(5).to_html(index=False, float_format=lambda v: f"{v:.3f}")
        return (
            f"<h4>{html.escape(self.task)} of <code>{html.escape(str(self.target))}</code>: "
            f"best {html.escape(self.best_name)}</h4>"
            f"<b>Cross-validation (training rows)</b>{board}"
            f"<b>Held-out test ({len(self.splits.test)} rows)</b>{metrics}"
            f"{self._quality_html()}"
            f"<b>Top drivers</b>{drivers}"
        )

    def _quality_html(self) -> str:
        found = f"<p>{html.escape(self.quality_text() or '')}</p>" if self.quality else ""
        if len(self.unlabelled):
            found += (
                f"<p>Learned from the {self.labelled} labelled rows of {self.rows}; "
                f"<code>unlabelled</code> predicts the other {len(self.unlabelled)}.</p>"
            )
        return found


STEP = register_step(
    StepSpec(
        name="explain",
        function=MiningResult.explain,
        example="explain                           # after predict: a checked narrative",
        uses=(Uses("chat", "generate", "chat_model", when=lambda o: o["use_model"]),),
        given=frozenset({"self"}),
        columns=(0, 0),
        usage="explain takes no column: it explains the predict step before it",
        arrow=None,
        after="predict",
        estimate="generation",
    )
)
"""``MiningResult.explain`` as a plan step, on the result of the ``predict`` step before it."""
