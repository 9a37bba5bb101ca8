from __future__ import annotations

import pytest

from llm_magics.mining.narrative import claims_check, numbers_check

FIGURES = {
    "test accuracy": 0.8123,
    "test f1_macro": 0.556,
    "test f1_weighted": 0.63,
    "baseline test accuracy": 0.7634,
    "baseline test f1_macro": 0.625,
    "importance of review": 0.118,
    "test rows": 200,
    "training rows": 800,
    "folds": 5,
}


@pytest.mark.parametrize(
    "text",
    [
        "The model is right on 81% of 200 test rows (accuracy 0.812).",
        "Accuracy reaches 0.81; the TF-IDF baseline's accuracy is 0.76.",
        "Its macro-F1 is 0.556, below the baseline's macro-F1 of 0.625.",
        "Shuffling review lowers accuracy by 0.118.",
        "Trained on 800 rows with 5 folds, its F1 is 0.63.",
    ],
)
def test_true_statements_pass(text: str) -> None:
    assert claims_check(text, FIGURES) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Accuracy is 0.91.", "writes 0.91"),
        ("The test f1_macro is 0.625.", "0.625 as the test f1_macro"),
        ("Accuracy is 0.76 on test rows.", "0.76 as the test accuracy"),
        ("The baseline's accuracy is 0.81.", "0.81 as the baseline test accuracy"),
        ("A perfect classifier with accuracy 0.81.", "'perfect'"),
    ],
)
def test_wrong_or_misattributed_numbers_fail(text: str, reason: str) -> None:
    assert reason in (claims_check(text, FIGURES) or "")


def test_numbers_check_reads_percent_and_precision() -> None:
    assert numbers_check("81.2% and 0.8", [0.8123]) is None
    assert numbers_check("0.813", [0.8123]) == "0.813"
