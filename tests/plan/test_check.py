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
