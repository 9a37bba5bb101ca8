from __future__ import annotations

import pytest

from llm_magics import get_manager
from llm_magics.plan import PlanSyntaxError, check_plan, parse_plan
from tests.plan.test_parse import EXAMPLE

COLUMNS = ["review", "score", "product"]


def test_the_issue_example_checks_against_the_reviews_columns() -> None:
    check_plan(parse_plan(EXAMPLE), COLUMNS)


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("sumarize review", 1, 1, "unknown verb 'sumarize'. Did you mean 'summarize'"),
        ("clean review\nsentiment reveiw", 2, 11, "no column 'reveiw'. Did you mean 'review'"),
        (
            "summarize review maxwords=3",
            1,
            18,
            "takes no option 'maxwords'. Did you mean 'max_words'",
        ),
        (
            "summarize review -> s\nkeywords summary",
            2,
            10,
            "no column 'summary'. Columns here: review, score, product, s\\.",
        ),
        ("predict grade from review", 1, 9, "no column 'grade'"),
        ("sentiment", 1, 10, "sentiment needs a column"),
        ("sentiment review, score", 1, 19, "sentiment takes one column"),
        ('summarize review "be brief"', 1, 18, "takes no quoted text"),
        ("filter review", 1, 14, "filter needs one quoted condition"),
        ("classify review", 1, 16, "classify needs labels"),
        ("extract review", 1, 15, "extract needs the fields"),
        (
            "extract review -> price:flaot",
            1,
            16,
            "unknown type 'flaot' for 'price'. Did you mean 'float'",
        ),
        ("finetune review", 1, 16, "finetune needs the text and the label"),
        ("features review -> f", 1, 17, "features names its own columns"),
        ("summarize review -> a, b", 1, 24, "summarize makes one column"),
        ("clean review\nexplain", 2, 1, "explain needs a predict step before it"),
        (
            "extract review -> product, price:float",
            1,
            19,
            r"extract would replace the column 'product' of the frame\. Name the output otherwise "
            r"\(-> NEW_NAME\), or add overwrite=True to replace it on purpose\.",
        ),
        (
            "sentiment review\nsentiment product",
            2,
            1,
            "sentiment would replace the column 'sentiment' made by line 1",
        ),
        ("predict score from review -> score", 1, 30, "predict would replace the column 'score'"),
        ("clean review -> product", 1, 17, "clean would replace the column 'product'"),
    ],
)
def test_errors_come_before_any_model_is_loaded(
    text: str, line: int, column: int, message: str
) -> None:
    loaded_before = {m["name"] for m in get_manager().status()["models"]}
    with pytest.raises(PlanSyntaxError, match=message) as caught:
        check_plan(parse_plan(text), COLUMNS)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert {m["name"] for m in get_manager().status()["models"]} == loaded_before


def test_outputs_of_earlier_steps_can_be_used() -> None:
    check_plan(
        parse_plan(
            "summarize review -> short\nkeywords short top=3\nsentiment review\nclassify short labels=['a', 'b']"
        ),
        COLUMNS,
    )


def test_classify_with_a_finetuned_model_needs_no_labels() -> None:
    check_plan(parse_plan("classify review method=finetuned model=mine"), COLUMNS)


@pytest.mark.parametrize(
    "text",
    [
        "extract review -> product, price:float  overwrite=True",
        "clean review\nclean review",  # clean rewrites its own column by design
        "sentiment review\nsentiment product -> product_sentiment",
        "summarize review -> summary\nsummarize summary -> summary  overwrite=True",
    ],
)
def test_a_replaced_column_is_allowed_only_when_asked_for(text: str) -> None:
    check_plan(parse_plan(text), COLUMNS)
