"""``llm_magics.learning.quality`` on real labels: the Amazon reviews' ``score`` against real predictions,
and probabilities from the embedding model's vectors."""

from __future__ import annotations

import html
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, f1_score, log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict

import llm_magics
from llm_magics.datasets import amazon_reviews
from llm_magics.engine import embed
from llm_magics.errors import InvalidArgumentError
from llm_magics.learning.quality import (
    Evaluation,
    calibrate,
    conformal_sets,
    evaluate,
    quality_text,
)
from llm_magics.runtime.loading import LoadedModel


@pytest.fixture(scope="module")
def test_reviews() -> pd.DataFrame:
    return amazon_reviews("test")


Embedded = tuple[np.ndarray, np.ndarray, list[str]]


def says_great(reviews: pd.Series) -> pd.Series:
    """A cheap real predictor: a review that says "great" is scored great."""
    return reviews.str.contains("great", case=False).map({True: "great", False: "other"})


def test_wilson_interval_matches_the_formula() -> None:
    # 8 of 10 right; Wilson (1927): (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    z, n, p = 1.959963984540054, 10, 0.8
    centre, half = p + z**2 / (2 * n), z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = (centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)

    found = evaluate(["a"] * 8 + ["b"] * 2, ["a"] * 10)
    assert found.accuracy == 0.8
    assert found.accuracy_interval == pytest.approx((low, high), abs=1e-9)


def test_f1_is_sklearns_macro_f1_inside_its_interval(test_reviews: pd.DataFrame) -> None:
    sample = test_reviews.head(60)
    predicted = says_great(sample["review"])
    found = evaluate(predicted, sample["score"])
    expected = f1_score(sample["score"], predicted, average="macro")
    assert found.f1_macro == pytest.approx(expected)
    assert found.f1_macro_interval[0] <= found.f1_macro <= found.f1_macro_interval[1]
    assert found.labels == ["great", "other"]
    assert found.n == 60
    # the same input gives the same interval (fixed seed)
    assert evaluate(predicted, sample["score"]).f1_macro_interval == found.f1_macro_interval


def test_the_interval_narrows_as_labels_grow(test_reviews: pd.DataFrame) -> None:
    widths, texts = [], []
    for n in (20, 80, 320):
        sample = test_reviews.head(n)
        found = evaluate(says_great(sample["review"]), sample["score"], source="held-out labels")
        widths.append((np.diff(found.accuracy_interval)[0], np.diff(found.f1_macro_interval)[0]))
        texts.append(str(found))
    accuracy_widths, f1_widths = zip(*widths, strict=True)
    assert accuracy_widths[0] > accuracy_widths[1] > accuracy_widths[2]
    assert f1_widths[0] > f1_widths[1] > f1_widths[2]
    assert accuracy_widths[0] > 0.2 and "label more rows to narrow it" in texts[0]
    assert accuracy_widths[2] < 0.2 and "wide" not in texts[2]
    assert texts[2].startswith("accuracy 0.") and "n=320, held-out labels" in texts[2]


def test_series_align_on_index_and_unlabelled_rows_drop(test_reviews: pd.DataFrame) -> None:
    sample = test_reviews.head(40)
    predicted = says_great(sample["review"])
    # the labelling panel's column: labels for a few rows, NaN elsewhere, in another order
    labels = sample["score"].where(sample.index % 3 == 0).sample(frac=1, random_state=1)
    found = evaluate(predicted, labels)
    kept = sample.index[sample.index % 3 == 0]
    assert found.n == len(kept) == 14
    assert found.accuracy == pytest.approx((predicted[kept] == sample["score"][kept]).mean())
    # a Series and a list compare by position
    assert evaluate(predicted[kept], list(sample["score"][kept])).accuracy == found.accuracy


def test_bool_categorical_and_integer_labels_compare_as_text(test_reviews: pd.DataFrame) -> None:
    sample = test_reviews.head(30)
    great = sample["score"] == "great"
    says = sample["review"].str.contains("great", case=False)
    as_bool = evaluate(says, great)
    as_cat = evaluate(says_great(sample["review"]).astype("category"), sample["score"])
    # an integer label column with a NaN becomes float: 1.0 still equals 1
    as_int = evaluate(says.astype(int), great.astype(int).where(sample.index != 0))
    assert as_bool.accuracy == as_cat.accuracy
    assert as_bool.labels == ["False", "True"] and as_int.labels == ["0", "1"]
    assert as_int.n == 29


def test_evaluation_round_trips_through_json(test_reviews: pd.DataFrame) -> None:
    sample = test_reviews.head(32)
    found = llm_magics.evaluate(says_great(sample["review"]), sample["score"], source="5-fold CV")
    values = json.loads(json.dumps(found.to_dict()))
    assert isinstance(found, llm_magics.Evaluation)
    assert Evaluation.from_dict(values) == found
    assert values["text"] == str(found)
    assert "<table>" in found._repr_html_() and "n=32, 5-fold CV" in found._repr_html_()
    assert quality_text({"quality": values, "method": "setfit"}) == f"{found} · method setfit"
    assert quality_text({"method": "setfit"}) is None


def test_evaluate_errors_are_one_line() -> None:
    with pytest.raises(InvalidArgumentError, match="share no index labels"):
        evaluate(pd.Series(["a"], index=[1]), pd.Series(["a"], index=[2]))
    with pytest.raises(InvalidArgumentError, match="predicted has 2 values and truth 3"):
        evaluate(["a", "b"], ["a", "b", "a"])
    with pytest.raises(InvalidArgumentError, match="repeats index labels"):
        evaluate(pd.Series(["a", "b"], index=[1, 1]), pd.Series(["a"], index=[1]))
    with pytest.raises(InvalidArgumentError, match="label some rows first"):
        evaluate(["a", "b"], [None, np.nan])
    with pytest.raises(InvalidArgumentError, match="between 0 and 1"):
        evaluate(["a"], ["a"], confidence=95)


def test_one_row_gives_the_widest_f1_interval_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = evaluate(["a"], ["a"])
        perfect = evaluate(["a"] * 5, ["a"] * 5)
    assert found.f1_macro_interval == (0.0, 1.0)
    assert perfect.f1_macro_interval == (1.0, 1.0)


@pytest.fixture(scope="module")
def embedded(embedder: LoadedModel) -> Embedded:
    """Out-of-fold probabilities of 240 real reviews from a logistic regression on the embedding
    model's vectors, and their labels (column numbers)."""
    frame = amazon_reviews("train").head(240)
    # the first 1,500 characters: under the encoder's 512 tokens, so nothing is cut
    vectors = embed(
        frame["review"].str.slice(0, 1500).tolist(), model=embedder, progress=False
    ).vectors
    labels = sorted(frame["score"].unique())
    y = frame["score"].map({label: i for i, label in enumerate(labels)}).to_numpy()
    # C=100: little regularisation, so the probabilities are overconfident, as a model's often are
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    probs = cross_val_predict(
        LogisticRegression(C=100, max_iter=2000), vectors, y, cv=folds, method="predict_proba"
    )
    return probs, y, labels


def test_calibrate_keeps_rows_summing_to_one_and_improves_held_out_loss(embedded: Embedded) -> None:
    probs, y, _ = embedded
    half = len(y) // 2
    before = log_loss(y[half:], probs[half:]), brier_score_loss(y[half:], probs[half:, 1])
    for method, rows in (("auto", half), ("sigmoid", half), ("isotonic", half)):
        out = calibrate(probs[:rows], y[:rows], probs[half:], method=method)
        assert out.shape == probs[half:].shape
        assert np.allclose(out.sum(axis=1), 1.0) and (out >= 0).all()
        after = log_loss(y[half:], out), brier_score_loss(y[half:], out[:, 1])
        assert after[0] < before[0] or after[1] < before[1], (method, before, after)
    # auto is sigmoid under 100 labelled rows
    small = calibrate(probs[:80], y[:80], probs[half:])
    assert np.allclose(small, calibrate(probs[:80], y[:80], probs[half:], method="sigmoid"))


@pytest.mark.parametrize("labels", [12, 32])
def test_calibrate_never_turns_the_ranking_around(embedded: Embedded, labels: int) -> None:
    """Out-of-fold probabilities that rank a few labelled rows the wrong way round (as 12 labels
    did in 4 draws of 12: Spearman -1, 98% of labels flipped) leave the probabilities alone, with
    a warning; an increasing map never reorders the rows."""
    from scipy.stats import spearmanr

    probs, y, _ = embedded
    rng = np.random.default_rng(labels)
    rows = np.concatenate([rng.choice(np.flatnonzero(y == c), labels // 2, False) for c in (0, 1)])
    new = probs[len(y) // 2 :]
    with pytest.warns(llm_magics.LlmMagicsWarning, match="the wrong way round"):
        left = calibrate(probs[rows], 1 - y[rows], new, method="sigmoid")  # reversed labels
    assert np.allclose(left, new / new.sum(axis=1, keepdims=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right way round: calibrated, no warning
        out = calibrate(probs[rows], y[rows], new, method="sigmoid")
    assert spearmanr(out[:, 1], new[:, 1]).statistic > 0.999


def test_conformal_sets_cover_held_out_rows(embedded: Embedded) -> None:
    probs, y, labels = embedded
    half = len(y) // 2
    sets = conformal_sets(probs[:half], y[:half], probs[half:], coverage=0.9)
    assert sets.shape == probs[half:].shape and sets.dtype == bool
    covered = sets[np.arange(len(sets)), y[half:]].mean()
    assert covered >= 0.85
    abstain = sets.sum(axis=1) != 1
    confident = ~abstain
    assert 0 < confident.sum() < len(sets)
    # the rows kept are the easier ones: their single label is right more often than argmax overall
    right = probs[half:].argmax(axis=1) == y[half:]
    assert right[confident].mean() >= right.mean()
    # higher coverage gives sets at least as large
    wider = conformal_sets(probs[:half], y[:half], probs[half:], coverage=0.95)
    assert (wider >= sets).all()
    assert len(labels) == 2


def test_calibration_and_conformal_errors(embedded: Embedded) -> None:
    probs, y, _ = embedded
    with pytest.raises(InvalidArgumentError, match="need at least 10 labelled rows"):
        conformal_sets(probs[:6], y[:6], probs, coverage=0.9)
    with pytest.raises(InvalidArgumentError, match="need at least 20 labelled rows"):
        conformal_sets(probs[:12], y[:12], probs, coverage=0.95)
    with pytest.raises(InvalidArgumentError, match="column numbers"):
        calibrate(probs[:20], np.array(["great", "other"] * 10), probs)
    with pytest.raises(InvalidArgumentError, match="none for column"):
        calibrate(probs[y == 0][:20], y[y == 0][:20], probs)
    with pytest.raises(InvalidArgumentError, match="same 2 or more columns"):
        calibrate(probs[:20], y[:20], probs[:, :1])
    with pytest.raises(InvalidArgumentError, match="'auto', 'sigmoid' or 'isotonic'"):
        calibrate(probs[:20], y[:20], probs, method="platt")
    with pytest.raises(InvalidArgumentError, match="one label per calibration row"):
        conformal_sets(probs[:0], y[:0], probs)
    with pytest.raises(InvalidArgumentError, match="coverage must be between 0 and 1"):
        conformal_sets(probs[:20], y[:20], probs, coverage=90)


def always_great(reviews: pd.Series) -> pd.Series:
    """A constant real predictor: every review (all have text) is scored great."""
    return reviews.str.len().gt(0).map({True: "great", False: "other"})


def test_a_constant_prediction_shows_the_majority_rate_and_says_so(
    test_reviews: pd.DataFrame,
) -> None:
    # the tester's case: 16 labelled reviews, 12 of them great, and a method that always says great
    great, other = test_reviews[test_reviews["score"] == "great"], test_reviews["score"] != "great"
    sample = pd.concat([great.head(12), test_reviews[other].head(4)])
    found = evaluate(always_great(sample["review"]), sample["score"])
    text = str(found)
    assert found.accuracy == found.majority == 0.75
    assert found.predicted_labels == ["great"] and found.constant == "great"
    assert "majority rate 0.75" in text and "predicts one label only: 'great'" in text
    assert "\n" not in text
    shown = html.unescape(found._repr_html_())
    assert "predicts one label only: 'great'" in shown and "majority rate" in shown
    values = json.loads(json.dumps(found.to_dict()))
    assert values["majority"] == 0.75 and values["predicted_labels"] == ["great"]
    assert Evaluation.from_dict(values) == found
    # a real predictor that varies is not called constant; the majority is the truth's, not its
    varied = evaluate(says_great(sample["review"]), sample["score"])
    assert varied.majority == 0.75 and varied.constant is None
    assert "one label only" not in str(varied)


def test_a_dict_from_before_majority_still_reads(test_reviews: pd.DataFrame) -> None:
    sample = test_reviews.head(32)
    values = evaluate(says_great(sample["review"]), sample["score"]).to_dict()
    older = {k: v for k, v in values.items() if k not in ("majority", "predicted_labels", "text")}
    found = Evaluation.from_dict(older)
    assert found.majority is None and found.predicted_labels is None
    assert "majority" not in str(found) and str(found).startswith("accuracy 0.")
    assert quality_text({"quality": older}) == str(found)


def test_a_result_frame_is_refused_with_the_column_to_pass(test_reviews: pd.DataFrame) -> None:
    sample = test_reviews.head(20)
    result = sample.assign(label=says_great(sample["review"]))
    with pytest.raises(InvalidArgumentError, match=r"pass its column of labels") as caught:
        evaluate(result, sample["score"])
    assert "evaluate(result['label'], truth)" in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(InvalidArgumentError, match="truth is a DataFrame"):
        evaluate(result["label"], sample[["score"]])
    assert evaluate(result["label"], sample["score"]).n == 20


def test_partly_overlapping_indexes_score_the_overlap_and_warn(test_reviews: pd.DataFrame) -> None:
    sample = test_reviews.head(6)
    predicted = says_great(sample["review"]).iloc[2:6]  # rows 2..5
    truth = sample["score"].iloc[0:4]  # rows 0..3
    with pytest.warns(llm_magics.errors.LlmMagicsWarning, match="compared 2 of the 4 predicted"):
        found = evaluate(predicted, truth)
    assert found.n == 2
    assert found.accuracy == (predicted.loc[[2, 3]] == truth.loc[[2, 3]]).mean()
    # truth NaN on most rows (a mostly-unlabelled column) is no reason to warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(says_great(sample["review"]), sample["score"].where(sample.index < 3))


def test_disjoint_label_sets_are_an_error_naming_both(test_reviews: pd.DataFrame) -> None:
    sample = test_reviews.head(10)
    says = sample["review"].str.contains("great", case=False).map({True: "x", False: "y"})
    with pytest.raises(InvalidArgumentError) as caught:
        evaluate(says, sample["score"])
    message = str(caught.value)
    assert "['x', 'y']" in message and "['great', 'other']" in message and "\n" not in message


def test_a_single_miss_between_two_labels_is_scored_not_refused(test_reviews: pd.DataFrame) -> None:
    great = test_reviews[test_reviews["score"] == "great"].head(3)
    called_other = pd.Series("other", index=great.index)
    assert evaluate(called_other, great["score"]).accuracy == 0.0


def test_a_cross_validated_estimate_gets_the_wider_interval_it_needs() -> None:
    """Out-of-fold predictions of k models trained on overlapping rows vary more than a
    binomial sample: with folds=k the intervals widen by Nadeau & Bengio's 1 + k/(k-1)."""
    predicted = ["a"] * 20 + ["b"] * 12
    truth = ["a"] * 16 + ["b"] * 4 + ["b"] * 10 + ["a"] * 2
    plain = evaluate(predicted, truth)
    folded = evaluate(predicted, truth, folds=5)
    assert folded.accuracy == plain.accuracy and folded.f1_macro == plain.f1_macro
    (low, high), (wide_low, wide_high) = plain.accuracy_interval, folded.accuracy_interval
    assert wide_low < low and wide_high > high
    # the Wilson interval of n / 2.25 rows: about 1.5 times as wide
    assert 1.3 < (wide_high - wide_low) / (high - low) < 1.7
    f1_low, f1_high = folded.f1_macro_interval
    assert f1_low < plain.f1_macro_interval[0] and f1_high >= plain.f1_macro_interval[1]
    with pytest.raises(InvalidArgumentError, match="folds must be the k of k-fold"):
        evaluate(predicted, truth, folds=1)
