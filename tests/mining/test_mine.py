from __future__ import annotations

import pickle
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from llm_magics import MiningResult, get_manager, mine
from llm_magics.datasets import amazon_reviews, loans
from llm_magics.engine.cache import get_result_cache
from llm_magics.errors import InvalidArgumentError, LlmMagicsWarning
from llm_magics.mining import candidate_names
from llm_magics.mining.candidates import BASELINE
from llm_magics.mining.columns import infer_columns, infer_task

pytestmark = pytest.mark.slow

FAST = {"budget": 2, "folds": 3, "progress": False}


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    frame = amazon_reviews("train").iloc[:160].copy()
    frame["length"] = frame["review"].str.len()
    frame.index = frame.index + 10_000
    return frame


@pytest.fixture(scope="module")
def classified(reviews: pd.DataFrame) -> MiningResult:
    return reviews.llm.mine("score", seed=1, **FAST)


def test_classification_leaderboard_metrics_and_importances(classified: MiningResult) -> None:
    r = classified
    assert r.task == "classification" and r.metric == "f1_macro"
    assert r.columns.text == ["review"] and r.columns.numeric == ["length"]
    assert r.columns.dropped["product"].startswith("1")  # many distinct values: left out
    assert BASELINE in set(r.leaderboard["model"])
    assert {"f1_macro_mean", "f1_macro_std", "accuracy_mean", "roc_auc_mean", "fit_seconds"} <= set(
        r.leaderboard.columns
    )
    assert r.leaderboard["f1_macro_mean"].is_monotonic_decreasing
    assert r.best_name == r.leaderboard.iloc[0]["model"]
    assert set(r.metrics) == {
        "accuracy",
        "f1_macro",
        "f1_weighted",
        "precision_macro",
        "recall_macro",
        "roc_auc",
    }
    assert all(0 <= v <= 1 for v in r.metrics.values())
    assert r.confusion is not None and r.confusion.to_numpy().sum() == len(r.splits.test)
    assert set(r.importances["column"]) == {"review", "length"}
    assert r.feature_importances["column"].isin(["review", "length"]).all()
    assert "review_sentiment" in set(r.feature_importances["feature"])
    assert "<table" in r._repr_html_() and r.to_dict()["best"] == r.best_name


def test_the_test_rows_never_reach_selection_or_tuning(
    classified: MiningResult, reviews: pd.DataFrame
) -> None:
    splits = classified.splits
    assert set(splits.train).isdisjoint(splits.test)
    assert sorted(splits.train + splits.test) == sorted(reviews.index)
    for fit, valid in splits.folds:
        assert set(fit) | set(valid) <= set(splits.train)
        assert set(fit).isdisjoint(valid)
    assert sorted(v for _, valid in splits.folds for v in valid) == sorted(splits.train)


def test_the_same_seed_gives_the_same_result(
    classified: MiningResult, reviews: pd.DataFrame
) -> None:
    again = reviews.llm.mine("score", seed=1, **FAST)
    assert again.splits == classified.splits
    pd.testing.assert_frame_equal(
        again.leaderboard.drop(columns="fit_seconds"),
        classified.leaderboard.drop(columns="fit_seconds"),
    )
    assert again.metrics == classified.metrics


def test_predict_on_new_rows_with_missing_text_and_a_pickle_round_trip(
    classified: MiningResult,
) -> None:
    new = pd.DataFrame(
        {"review": ["Wonderful tea, will buy again!", None, ""], "length": [30, np.nan, 0]},
        index=["a", "b", "c"],
    )
    predicted = classified.predict(new)
    assert predicted.index.tolist() == ["a", "b", "c"]
    assert set(predicted) <= {"great", "other"}
    restored = pickle.loads(pickle.dumps(classified))
    assert restored.predict(new).equals(predicted)
    contributions = classified.contributions(new.head(1), top=3)
    assert len(contributions) == 3 and contributions["row"].eq("a").all()


def test_a_narrative_with_a_wrong_number_is_replaced_by_the_template(
    classified: MiningResult,
) -> None:
    f1 = classified.metrics["f1_macro"]
    right = classified.check_narrative(f"The model reaches a macro-F1 of {f1:.2f} on test rows.")
    assert right.source == "model"
    wrong = classified.check_narrative(f"The model reaches a macro-F1 of {f1 + 0.2:.2f}.")
    assert wrong.source == "template" and wrong.rejected is not None
    assert f"{f1:.3f}" in wrong.text and "template" in repr(wrong)
    baseline = classified.baseline_metrics["f1_macro"]
    assert round(baseline, 3) != round(f1, 3)
    swapped = classified.check_narrative(f"The model reaches a macro-F1 of {baseline:.3f}.")
    assert swapped.source == "template" and "as the test f1_macro" in (swapped.reason or "")
    told = classified.explain()
    assert told.source in ("model", "template") and told.text


def test_explain_falls_back_to_the_template_at_its_time_limit_and_says_so(
    classified: MiningResult,
) -> None:
    # A user waited 152 s, then got the template without a word of why. A cached narrative
    # comes at once whatever the limit, so the chat model's cached answers go first.
    manager = get_manager()
    chat = manager.load(classified.chat_model, role="chat")
    get_result_cache(manager.config.cache_path).clear(primitive="generate", model=chat.fingerprint)
    started = time.monotonic()
    told = classified.explain(timeout=0.01)
    assert time.monotonic() - started < 30
    assert told.source == "template" and "had not finished after 0.01 s" in (told.reason or "")
    assert "timeout=" in repr(told)
    assert told.text == classified.explain(use_model=False).text
    # The chat model's partial answer was not kept: asked again with time, it answers whole.
    assert classified.explain(timeout=None).text


def test_regression_on_loans_with_unseen_categories() -> None:
    frame = loans()[
        ["emp_title", "annual_income", "homeownership", "debt_to_income", "interest_rate"]
    ]
    train = frame.iloc[:200]
    result = mine(train, "interest_rate", text="emp_title", kinds=("stats", "embedding"), **FAST)
    assert result.task == "regression" and result.metric == "rmse"
    assert set(result.metrics) == {"rmse", "mae", "r2"}
    assert result.leaderboard["rmse_mean"].is_monotonic_increasing
    new = frame.iloc[200:203].assign(
        homeownership=["CASTLE", None, "RENT"], emp_title=[None, "nurse", ""]
    )
    assert np.isfinite(result.predict(new).to_numpy(dtype=float)).all()


def test_only_the_candidates_asked_for_run_with_the_baseline() -> None:
    frame = loans()[["emp_title", "annual_income", "interest_rate"]].iloc[:120]
    result = mine(frame, "interest_rate", kinds=("stats",), candidates=["ridge regression"], **FAST)
    assert set(result.leaderboard["model"]) - {"ridge regression (tuned)"} == {
        BASELINE,
        "ridge regression",
    }
    assert result.settings["candidates"] == ["ridge regression"]
    assert candidate_names("regression") == [
        "ridge regression",
        "linear SVM",
        "random forest",
        "gradient boosting",
    ]
    with pytest.raises(InvalidArgumentError, match="Did you mean 'random forest'"):
        mine(frame, "interest_rate", candidates=["random forests"], **FAST)


def test_bad_targets_are_explained(reviews: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgumentError, match="single class"):
        mine(reviews.assign(score="great"), "score", **FAST)
    with pytest.raises(InvalidArgumentError, match="Did you mean 'score'"):
        mine(reviews, "scores", **FAST)
    with pytest.raises(InvalidArgumentError, match="not a classification metric"):
        mine(reviews, "score", metric="rmse", **FAST)


def test_rows_without_a_target_are_dropped_with_a_warning(reviews: pd.DataFrame) -> None:
    frame = reviews.head(40).copy()
    frame.loc[frame.index[:5], "score"] = None
    with pytest.warns(LlmMagicsWarning, match="5 of 40 rows have no 'score'"):
        result = mine(
            frame, "score", text="review", kinds=("stats",), budget=0, folds=2, progress=False
        )
    assert len(result.splits.train) + len(result.splits.test) == 35


def test_task_and_columns_are_inferred() -> None:
    assert infer_task(pd.Series(np.arange(100) * 1.5)) == "regression"
    assert infer_task(pd.Series([1, 2, 3] * 10)) == "classification"
    frame = pd.DataFrame(
        {
            "id": range(30),
            "note": [f"words number {i} here" for i in range(30)],
            "kind": ["a", "b"] * 15,
            "y": [0, 1] * 15,
        }
    )
    columns = infer_columns(frame, "y")
    assert columns.text == ["note"] and columns.categorical == ["kind"] and "id" in columns.dropped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert infer_columns(frame, "y", text="note").text == ["note"]


def test_a_mostly_unlabelled_target_learns_from_the_labelled_rows_and_predicts_the_rest() -> None:
    # what the labelling panel leaves: labels for 30 rows of 120, NaN elsewhere
    frame = amazon_reviews("train").iloc[:120][["review", "score"]].copy()
    frame["label"] = frame["score"].where(frame.index < 30)
    frame = frame.drop(columns="score")
    with pytest.warns(LlmMagicsWarning, match="90 of 120 rows have no 'label'.*the 30 labelled"):
        result = mine(
            frame, "label", text="review", kinds=("stats",), budget=0, folds=3, progress=False
        )
    assert (result.labelled, result.rows) == (30, 120)
    assert result.unlabelled.index.equals(frame.index[30:])
    assert set(result.unlabelled) <= {"great", "other"}
    assert result.quality is not None and result.quality["n"] == len(result.splits.test) == 6
    assert result.quality["source"] == "held-out test rows"
    text = repr(result)
    assert "30 labelled rows, 90 predicted" in text
    assert "label more rows to narrow it" in text  # 6 test rows: a wide interval
    assert "Learned from the 30 labelled rows of 120" in result._repr_html_()
    assert result.to_dict()["rows"]["unlabelled"] == 90


def test_copies_of_a_row_stay_on_one_side_of_every_split() -> None:
    """40 loan rows with coin-flip targets, each 3 times: a copy in training and one in the test
    (or in two folds) scored the model on rows it had learned."""
    frame = loans()[["annual_income", "debt_to_income", "homeownership"]].iloc[:40]
    frame = frame.assign(coin=np.random.default_rng(0).permutation(["yes", "no"] * 20))
    copies = pd.concat([frame, frame, frame], ignore_index=True)
    with pytest.warns(LlmMagicsWarning, match="80 of 120 rows repeat another row's features"):
        result = mine(copies, "coin", kinds=("stats",), candidates=["random forest"], **FAST)
    splits = result.splits
    key = copies.drop(columns="coin").astype(str).agg("|".join, axis=1)
    assert set(key[splits.train]).isdisjoint(key[splits.test])
    for fit, valid in splits.folds:
        assert set(key[fit]).isdisjoint(key[valid])
    assert result.metrics["accuracy"] < 0.8  # coin flips (a forest scored 1.00 on copies)
