"""Few-shot classify/sentiment/filter from labelled examples, on real Amazon reviews and models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_magics.datasets import amazon_reviews
from llm_magics.errors import InvalidArgumentError
from llm_magics.learning import methods
from llm_magics.learning.examples import parse_examples
from llm_magics.ops.classify import classify
from llm_magics.ops.filter import filter as filter_op
from llm_magics.ops.sentiment import sentiment
from llm_magics.plan import parse_plan
from llm_magics.plan.runner import mine_plan


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    """30 real reviews, the first 24 labelled (12 great, 12 other), the rest unlabelled."""
    frame = amazon_reviews("train")
    great = frame[frame.score == "great"].head(15)
    other = frame[frame.score == "other"].head(15)
    rows = pd.concat([great.head(12), other.head(12), great.tail(3), other.tail(3)])
    rows = rows.reset_index(drop=True)
    rows.index = rows.index + 100
    rows["label"] = rows["score"].where(rows.index < 124)
    return rows


def test_parse_examples_forms_agree(labelled: pd.DataFrame) -> None:
    series = parse_examples(labelled["label"], labelled["review"])
    first = labelled.head(24)
    frame = parse_examples(first[["review", "score"]])
    mapping = parse_examples(dict(zip(first.review, first.score, strict=True)))
    assert series.labels == frame.labels == mapping.labels == ["great", "other"]
    assert series.texts == frame.texts == mapping.texts
    assert series.y.tolist() == frame.y.tolist() == [0] * 12 + [1] * 12
    assert series.folds == 5


@pytest.mark.parametrize(
    ("examples", "labels", "says"),
    [
        (pd.Series([np.nan, np.nan]), None, "no labelled rows"),
        (pd.Series(["great", "bad"]), ["great", "other"], "['bad'] are not among"),
        (pd.Series(["great", "great"]), None, "every example is 'great'"),
        (pd.Series(["great", "great", "other"]), None, "['other'] have one example"),
    ],
)
def test_parse_examples_errors(examples: pd.Series, labels: list[str] | None, says: str) -> None:
    texts = pd.Series(["good tea", "bad tea", "fine tea"])[: len(examples)]
    with pytest.raises(InvalidArgumentError, match=says.replace("[", r"\[").replace("]", r"\]")):
        parse_examples(examples, texts, labels)


def test_examples_without_text_are_dropped_with_a_warning() -> None:
    texts = pd.Series(["good", None, "bad", "fine", "awful"])
    labels = pd.Series(["great", "great", "other", "great", "other"])
    with pytest.warns(UserWarning, match="1 example"):
        ex = parse_examples(labels, texts)
    assert ex.texts == ["good", "bad", "fine", "awful"]


def _check(result: pd.DataFrame, labels: list[str], method: str) -> None:
    probs = result[[f"p_{n}" for n in labels]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    meta = result.attrs["llm_magics"]
    assert meta["method"] == method
    quality = meta["quality"]
    assert quality["n"] == 24
    low, high = quality["accuracy_interval"]
    assert 0.0 <= low <= quality["accuracy"] <= high <= 1.0
    assert "cross-validation on 24 labelled rows" in quality["source"]


@pytest.mark.parametrize("method", ["recalibrated", "linear", "stack"])
@pytest.mark.slow
def test_classify_fitted_methods(labelled: pd.DataFrame, method: str) -> None:
    result = classify(labelled["review"], examples=labelled["label"], method=method, progress=False)
    assert result.shape == (30, 4)
    assert set(result["label"]) <= {"great", "other"}
    _check(result, ["great", "other"], method)
    assert list(result.attrs["llm_magics"]["methods"]) == [method]


@pytest.mark.slow
def test_classify_auto_reports_every_method_and_conformal_sets(labelled: pd.DataFrame) -> None:
    result = classify(
        labelled["review"],
        ["great", "other"],
        examples=labelled["label"],
        coverage=0.9,
        calibrate=True,
        progress=False,
    )
    table = result.attrs["llm_magics"]["methods"]
    assert set(table) == {"recalibrated", "linear"}
    chosen = result.attrs["llm_magics"]["method"]
    assert table[chosen]["f1_macro"] == max(row["f1_macro"] for row in table.values())
    _check(result, ["great", "other"], chosen)
    assert f"choice among {len(table)} methods" in result.attrs["llm_magics"]["quality"]["source"]
    for labels, abstain in zip(result["label_set"], result["abstain"], strict=True):
        assert set(labels) <= {"great", "other"}
        assert abstain == (len(labels) != 1)


@pytest.mark.slow
def test_llm_with_examples_scores_once_per_fit(labelled: pd.DataFrame) -> None:
    result = classify(labelled["review"], examples=labelled["label"], method="llm", progress=False)
    _check(result, ["great", "other"], "llm")
    # five folds and the final fit: one scoring call each, so one shared prefix each
    scores = [s for s in result.attrs["llm_magics"]["steps"] if s["primitive"] == "score"]
    assert len(scores) == 6
    assert scores[-1]["rows"] == 30 + 3  # every row and the content-free inputs
    assert [s["rows"] for s in scores[:5]] == [5 + 3] * 4 + [4 + 3]  # each fold's held-out rows


@pytest.mark.slow
def test_voting_is_the_mean_of_llm_and_recalibrated(labelled: pd.DataFrame) -> None:
    texts, labels = labelled["review"], labelled["label"]
    voted = classify(texts, examples=labels, method="voting", progress=False)
    _check(voted, ["great", "other"], "voting")
    columns = ["p_great", "p_other"]
    parts = [
        classify(texts, examples=labels, method=m, progress=False)[columns].to_numpy()
        for m in ("llm", "recalibrated")
    ]
    np.testing.assert_allclose(voted[columns].to_numpy(), np.mean(parts, axis=0), atol=1e-9)


def test_zero_shot_with_examples_is_measured_not_fitted(labelled: pd.DataFrame) -> None:
    result = classify(
        labelled["review"], ["great", "other"], examples=labelled["label"], method="embed"
    )
    meta = result.attrs["llm_magics"]
    assert meta["method"] == "zero-shot embed"
    assert meta["quality"]["source"] == "24 labelled rows (not used for fitting)"


def test_method_names_and_coverage_need_examples(labelled: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgumentError, match="With examples, method must be one of"):
        classify(labelled["review"], examples=labelled["label"], method="magic")
    with pytest.raises(InvalidArgumentError, match="coverage= needs labelled rows"):
        classify(labelled["review"], ["great", "other"], coverage=0.9)


@pytest.mark.slow
def test_sentiment_with_examples(labelled: pd.DataFrame) -> None:
    names = labelled["label"].map({"great": "positive", "other": "negative"})
    result = sentiment(labelled["review"], examples=names, method="stack", progress=False)
    assert list(result.columns) == ["sentiment", "sentiment_score"]
    assert set(result["sentiment"]) <= {"positive", "negative"}
    assert result["sentiment_score"].between(-1, 1).all()
    assert result.attrs["llm_magics"]["method"] == "stack"
    sets = sentiment(
        labelled["review"], examples=names, method="linear", coverage=0.9, progress=False
    )
    assert list(sets.columns) == ["sentiment", "sentiment_score", "label_set", "abstain"]
    assert all(set(s) <= {"positive", "negative"} for s in sets["label_set"])
    assert (sets["abstain"] == (sets["label_set"].map(len) != 1)).all()
    with pytest.raises(InvalidArgumentError, match=r"use classify\(examples=...\)"):
        sentiment(labelled["review"], examples=labelled["label"])


def test_filter_with_examples(labelled: pd.DataFrame) -> None:
    matches = labelled["label"].map({"great": True, "other": False})
    result = filter_op(
        labelled["review"], "loves the product", examples=matches, method="linear", progress=False
    )
    assert result.dtype == "boolean"
    assert len(result.attrs["llm_magics"]["probability"]) == 30
    assert result.attrs["llm_magics"]["method"] == "linear"
    assert result.attrs["llm_magics"]["quality"]["n"] == 24


@pytest.mark.slow
def test_plan_step_takes_an_examples_column(labelled: pd.DataFrame) -> None:
    plan = parse_plan("classify review -> guess labels=[great, other] examples=label method=linear")
    run = mine_plan(labelled, plan, progress=False)
    assert run.frame["guess"].isin(["great", "other"]).all()
    assert run.outputs[plan.steps[0].line].attrs["llm_magics"]["method"] == "linear"


@pytest.mark.slow
def test_setfit_with_tiny_settings(labelled: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(methods.SETFIT, "num_iterations", 1)
    first = labelled.head(24).iloc[::2]  # 6 + 6 examples
    examples = dict(zip(first.review, first.score, strict=True))
    result = classify(labelled["review"].tail(6), examples=examples, method="setfit")
    assert result.attrs["llm_magics"]["method"] == "setfit"
    np.testing.assert_allclose(result[["p_great", "p_other"]].sum(axis=1), 1.0, atol=1e-6)


def test_int_labels_with_nan_gaps_are_the_ints_and_repeated_index_values_work(
    labelled: pd.DataFrame,
) -> None:
    ints = (labelled["score"] == "great").astype(int).where(labelled["label"].notna())
    assert ints.dtype == float  # NaN made the 0/1 labels floats
    ex = parse_examples(ints, labelled["review"], [0, 1])
    assert ex.labels == ["0", "1"] and sorted(set(ex.y.tolist())) == [0, 1]
    repeated = labelled.set_axis([i // 2 for i in range(len(labelled))])
    same = parse_examples(repeated["label"], repeated["review"])
    assert same.texts == parse_examples(labelled["label"], labelled["review"]).texts
    with pytest.raises(InvalidArgumentError, match="repeated values"):
        parse_examples(repeated["label"].head(10), repeated["review"])


def test_labels_come_back_in_the_users_dtype(labelled: pd.DataFrame) -> None:
    """0/1 labels come back as 0/1 (not '0'/'1'), True/False as booleans, so that
    ``result.label == truth`` compares like with like (it said 0.00 where evaluate() said 1.00)."""
    great = labelled["score"] == "great"
    known = labelled["label"].notna()
    for truth, dtype in ((great.astype(int), "Int64"), (great, "boolean")):
        examples = truth.astype(object).where(known)  # NaN where unlabelled, as the panel leaves it
        result = classify(
            labelled["review"], examples=examples, method="linear", coverage=0.9, progress=False
        )
        assert result["label"].dtype == dtype
        assert set(result["label"].dropna().tolist()) <= set(truth.tolist())
        agree = (result["label"] == truth)[known]
        assert agree.mean() > 0.9  # fitted on these rows: the comparison must work at all
        assert all(set(s) <= set(truth.tolist()) for s in result["label_set"])
    floats = great.astype(int).where(known)  # NaN gaps made them 0.0/1.0: still the ints
    learned = classify(labelled["review"], examples=floats, method="linear", progress=False)
    assert learned["label"].dtype == "Int64"
    zero_shot = classify(labelled["review"].head(4), [5, 1], method="embed", progress=False)
    assert zero_shot["label"].dtype == "Int64" and set(zero_shot["label"]) <= {1, 5}
    assert list(zero_shot.columns) == ["label", "probability", "p_5", "p_1"]


def test_copies_of_a_text_do_not_leak_across_folds() -> None:
    """16 real reviews with coin-flip labels, each 4 times (spacing and case varied): the
    estimate was 1.00 (95% CI 0.94-1.00); each text must count once, in one fold."""
    reviews = amazon_reviews("train").review.head(16).tolist()
    coins = np.random.default_rng(3).permutation(["a"] * 8 + ["b"] * 8).tolist()
    texts = [t for t in reviews for t in (t, t.upper(), f"  {t} ", t)]
    labels = [c for c in coins for _ in range(4)]
    result = classify(
        pd.Series(["Some new review."]),
        examples=pd.DataFrame({"text": texts, "label": labels}),
        method="linear",
        progress=False,
    )
    quality = result.attrs["llm_magics"]["quality"]
    assert quality["n"] == 16
    assert "16 labelled rows with distinct texts (48 copies left out)" in quality["source"]
    low, high = quality["accuracy_interval"]
    assert quality["accuracy"] < 0.9 and low < 0.5 < high, quality["text"]


def test_conflicting_examples_warn_and_a_dict_goes_through_the_accessor(
    labelled: pd.DataFrame,
) -> None:
    first = labelled.head(24)
    clash = pd.DataFrame({
        "t": [*first.review.head(4)] * 2 + [*first.review.head(3)] + [*first.review.tail(4)],
        "l": ["great"] * 4 + ["other"] * 4 + ["great"] * 3 + ["great", "great", "other", "other"],
    })  # fmt: skip
    with pytest.warns(UserWarning, match="4 example text.*left out where its labels tie"):
        parsed = parse_examples(clash)
    # The first three come three times (2 great, 1 other): great; the fourth ties: left out.
    assert parsed.texts == [*first.review.head(3), *first.review.tail(4)]
    assert parsed.y.tolist() == [0, 0, 0, 0, 0, 1, 1] and parsed.repeats == 8
    mapping = dict(zip(first.review, first.score, strict=True))
    result = labelled.llm.classify("review", examples=mapping, method="linear", progress=False)
    assert result.attrs["llm_magics"]["quality"]["n"] == 24


def test_plan_checks_few_shot_steps_before_any_model(labelled: pd.DataFrame) -> None:
    from llm_magics.plan.check import check_plan

    ok = parse_plan("classify review -> guess examples=label method=linear")
    check_plan(ok, list(labelled.columns))  # no labels= needed: the examples bring them
    wrong = parse_plan("classify review -> guess examples=label method=liner")
    with pytest.raises(InvalidArgumentError, match=r"method=liner is not one of .*'linear'"):
        check_plan(wrong, list(labelled.columns))
    with pytest.raises(InvalidArgumentError, match="coverage must be a number"):
        classify(labelled["review"], examples=labelled["label"], method="linear", coverage="x")


def test_the_readings_come_from_one_model_not_the_cascade(quality_manager) -> None:
    # The readings are features of a regression: the cascade's mix of the fast model's flat
    # probabilities and the quality model's sure ones can't be weighed by one coefficient.
    ex = parse_examples({"good": "great", "fine": "great", "bad": "other", "meh": "other"})
    engine = {"model": None, "manager": quality_manager}
    made = methods.problem(ex, ["ok"], method="auto", question="?", zero_shot={}, engine=engine)
    assert made.chat["model"] == "quality-chat" and made.encoder["model"] is None
    named = engine | {"model": "default-chat"}
    made = methods.problem(ex, ["ok"], method="auto", question="?", zero_shot={}, engine=named)
    assert made.chat["model"] == "default-chat"


@pytest.mark.slow
def test_recalibrated_learns_what_the_readings_hold(quality_manager) -> None:
    # 16 short real reviews labelled great (five stars) / other, 24 held out. The quality model
    # asked "great or other?" reads many 4-star reviews as great; its sentiment reading
    # separates them better, and "recalibrated" learns how from the examples.
    frame = amazon_reviews("test").iloc[600:]
    frame = frame[frame.review.str.split().str.len() <= 40]
    train = pd.concat([frame[frame.score == s].head(8) for s in ("great", "other")])
    test = frame.drop(train.index).head(24)
    rows = pd.concat([train, test])
    labels = rows["score"].where(rows.index.isin(train.index))
    engine = {"manager": quality_manager, "cache": False, "progress": False}
    result = classify(rows["review"], examples=labels, method="recalibrated", **engine)
    scored = [s for s in result.attrs["llm_magics"]["steps"] if s["primitive"] == "score"]
    assert scored and {s["model"] for s in scored} == {"quality-chat"}
    held = (result["label"].loc[test.index] == test["score"]).mean()
    zero_shot = classify(test["review"], ["great", "other"], **engine)
    assert held >= 0.75 and held >= (zero_shot["label"] == test["score"]).mean()
