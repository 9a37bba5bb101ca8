from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from llm_magics.mining.narrative import (
    check_answer,
    claims_check,
    figures_of,
    narrate,
    numbers_check,
    template,
)

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


def _template(metric: str, metrics: dict[str, float], baseline: dict[str, float]) -> str:
    task = "regression" if metric in ("rmse", "mae", "r2") else "classification"
    return template(
        target="score",
        task=task,
        best="logistic regression",
        metric=metric,
        metrics=metrics,
        baseline_metrics=baseline,
        rows=40,
        drivers=[("review", 0.05)],
    )


def test_the_template_never_says_better_where_the_test_metric_loses() -> None:
    # The run of the issue: test ROC-AUC 0.41, below the baseline's.
    text = _template("roc_auc", {"roc_auc": 0.41}, {"roc_auc": 0.52})
    assert "On roc_auc it scores 0.410 against the TF-IDF baseline's 0.520: not better." in text
    assert ": better" not in text


def test_the_template_names_the_metric_each_comparison_holds_on() -> None:
    text = _template(
        "f1_macro",
        {"f1_macro": 0.62, "accuracy": 0.7, "roc_auc": 0.41, "f1_weighted": 0.8},
        {"f1_macro": 0.55, "accuracy": 0.7, "roc_auc": 0.52, "f1_weighted": 0.6},
    )
    assert text.split(". ")[1:4] == [
        "On f1_macro it scores 0.620 against the TF-IDF baseline's 0.550: better",
        "On accuracy it scores 0.700 against the TF-IDF baseline's 0.700: not better",
        "On roc_auc it scores 0.410 against the TF-IDF baseline's 0.520: not better",
    ]
    assert "f1_weighted" not in text  # a further win is not needed to read the result


@pytest.mark.parametrize(
    ("metric", "test", "baseline", "better"),
    [
        ("accuracy", 0.8123, 0.8121, False),  # equal as printed: a tie
        ("accuracy", 0.81, 0.76, True),
        ("rmse", 0.9, 1.2, True),  # lower is better for an error
        ("rmse", 1.2, 0.9, False),
        ("r2", 0.3, 0.3, False),
    ],
)
def test_ties_and_losses_are_never_called_better(
    metric: str, test: float, baseline: float, better: bool
) -> None:
    text = _template(metric, {metric: test}, {metric: baseline})
    assert text.split(". ")[1].endswith(": better" if better else ": not better")


def test_the_template_passes_its_own_check() -> None:
    metrics = {"roc_auc": 0.41, "accuracy": 0.62}
    baseline = {"roc_auc": 0.52, "accuracy": 0.6}
    figures = {f"test {k}": v for k, v in metrics.items()}
    figures |= {f"baseline test {k}": v for k, v in baseline.items()}
    figures |= {"importance of review": 0.05, "test rows": 40}
    assert claims_check(_template("roc_auc", metrics, baseline), figures) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "The model does better than the TF-IDF baseline.",
            "beats the baseline without naming the metric",
        ),
        (
            "It outperforms the baseline on accuracy (0.81) and macro-F1 (0.556).",
            "beats the baseline on f1_macro, where it scores 0.556 against 0.625",
        ),
    ],
)
def test_a_model_text_claiming_a_win_it_does_not_have_fails(text: str, reason: str) -> None:
    assert reason in (claims_check(text, FIGURES) or "")


@pytest.mark.parametrize(
    "text",
    [
        "Its accuracy of 0.81 beats the TF-IDF baseline's 0.76.",
        "On macro-F1 it scores 0.556 against the TF-IDF baseline's 0.625: not better.",
        "Its macro-F1 does not improve on the baseline.",
    ],
)
def test_true_comparisons_pass(text: str) -> None:
    assert claims_check(text, FIGURES) is None


@pytest.fixture
def result() -> SimpleNamespace:
    """The fields of a ``MiningResult`` that a narrative reads."""
    return SimpleNamespace(
        target="score",
        task="classification",
        best_name="logistic regression",
        metric="accuracy",
        metrics={"accuracy": 0.8123, "roc_auc": float("nan")},
        baseline_metrics={"accuracy": 0.7634, "roc_auc": float("nan")},
        importances=pd.DataFrame({"column": ["review"], "importance": [0.118]}),
        splits=SimpleNamespace(test=list(range(200)), train=list(range(800)), folds=[0] * 5),
        chat_model="tiny-chat",
    )


def test_figures_of_a_result_leave_out_missing_metrics(result: SimpleNamespace) -> None:
    assert figures_of(result) == {
        "test accuracy": 0.8123,
        "baseline test accuracy": 0.7634,
        "importance of review": 0.118,
        "test rows": 200,
        "training rows": 800,
        "folds": 5,
    }


@pytest.mark.parametrize(
    ("answer", "source"),
    [
        ("Accuracy reaches 0.81 on 200 test rows.", "model"),
        ("Accuracy reaches 0.91.", "template"),
        ("", "template"),
    ],
)
def test_a_model_answer_is_kept_only_when_its_figures_check_out(
    result: SimpleNamespace, answer: str, source: str
) -> None:
    told = check_answer(result, answer)
    assert told.source == source
    assert told.text == (answer if source == "model" else narrate(result, use_model=False).text)


def test_narrate_without_the_model_is_the_template(result: SimpleNamespace) -> None:
    told = narrate(result, use_model=False)
    assert told.source == "template" and told.reason == "use_model=False"
    assert told.text.startswith("For classifying 'score', the best model was logistic regression")
