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


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        (
            "dedup review threshold=2",
            14,
            "dedup: threshold must be a number in (0, 1] (or None), not 2.",
        ),
        ("dedup review k=0 threshold=0.9", 14, "k must be a whole number of neighbours, 1 or more"),
        ("dedup review linkage=average", 14, "linkage must be one of 'centre', 'single'"),
        ('filter review "is short" threshold=1.5', 26, "threshold must be a number in (0, 1)"),
        ("summarize review max_words=2.5", 18, "max_words must be a whole number of words"),
        ('top_k review "tea" k=-3', 20, "k must be a whole number of rows, 1 or more"),
        ("keywords review diversity=3", 17, "diversity must be a number in [0, 1]"),
        (
            "embed review dims=0",
            14,
            "dims must be a whole number of dimensions, 1 or more (or None)",
        ),
    ],
)
def test_option_values_are_checked_before_anything_runs(
    text: str, column: int, message: str
) -> None:
    """Every value against the op's declared bounds, at its line and column, before a model
    loads: ``dedup review threshold=2`` after a summarize line failed minutes into the run."""
    plan = parse_plan(f"summarize review\n{text}")
    with pytest.raises(PlanSyntaxError) as caught:
        check_plan(plan, COLUMNS)
    assert (caught.value.line, caught.value.column) == (2, column)
    assert message in str(caught.value)


def test_every_declared_bound_is_checked_when_the_op_is_called() -> None:
    """A value outside an op's ``bounds`` is refused before any model loads, naming the op."""
    import pandas as pd

    from llm_magics.errors import InvalidArgumentError
    from llm_magics.ops.base import OPERATIONS, SPECS

    texts = pd.Series(["Lovely tea."])
    needs = {"classify": (["a", "b"],), "filter": ("is short",), "top_k": ("tea",),
             "aggregate": ("What?",), "extract": ({"n": int},), "join": (texts, "same")}  # fmt: skip
    checked = 0
    for name, spec in SPECS.items():
        for key, bound in spec.bounds.items():
            bad = "zzz" if bound.choices else 1.5 if bound.whole and bound.low == 1 else -5
            with pytest.raises(InvalidArgumentError, match=rf"^{name}\(\): {key} must be"):
                OPERATIONS[name](texts, *needs.get(name, ()), **{key: bad})
            checked += 1
    assert checked >= 20
