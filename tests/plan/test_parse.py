from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_magics.plan import PlanSyntaxError, parse_plan

EXAMPLE = """
clean review
summarize review -> summary  max_words=15
sentiment review
keywords review  top=5
topics review  k=6
extract review -> item, price:float, problem:[shipping, quality, price, none]
filter review "mentions delivery" -> about_delivery
predict score from review, product      # runs mine(target=...) on the features so far
explain
"""


def test_the_issue_example_parses_step_by_step() -> None:
    plan = parse_plan(EXAMPLE)
    assert [s.verb for s in plan.steps] == [
        "clean",
        "summarize",
        "sentiment",
        "keywords",
        "topics",
        "extract",
        "filter",
        "predict",
        "explain",
    ]
    summarize, extract, filter_, predict = (
        plan.steps[1],
        plan.steps[5],
        plan.steps[6],
        plan.steps[7],
    )
    assert summarize.columns == ("review",) and summarize.outputs == ("summary",)
    assert dict(summarize.options) == {"max_words": 15}
    assert extract.outputs == ("item", "price:float", "problem:[shipping, quality, price, none]")
    assert filter_.arguments == ("mentions delivery",) and filter_.outputs == ("about_delivery",)
    assert predict.target == "score" and predict.columns == ("review", "product")
    assert plan.steps[8].columns == () and plan.steps[2].line == 4
    assert predict.code == "predict score from review, product"
    assert parse_plan('  filter review "item #5" -> f  # why').steps[0].code == (
        'filter review "item #5" -> f'
    )


def test_values_are_python_literals_where_they_can_be() -> None:
    step = parse_plan(
        "classify review labels=['great', 'other'] calibrate=False model=default-chat"
    ).steps[0]
    assert dict(step.options) == {
        "labels": ["great", "other"],
        "calibrate": False,
        "model": "default-chat",
    }


def test_variables_are_interpolated() -> None:
    step = parse_plan("summarize {col} max_words={n}", {"col": "review", "n": 12}).steps[0]
    assert step.columns == ("review",) and step.options["max_words"] == 12
    with pytest.raises(
        PlanSyntaxError,
        match=r"line 1, column 11: \{missing\} names no variable; define 'missing' first, or "
        r"write \{\{missing\}\} for the braces themselves",
    ):
        parse_plan("summarize {missing}", {})
    with pytest.raises(PlanSyntaxError, match=r"column 20: \{gone\} names no variable"):
        parse_plan('filter review "has {gone}"', {})
    with pytest.raises(
        PlanSyntaxError, match=r"column 11: \{col.nope\}: str 'col' has no attribute"
    ):
        parse_plan("summarize {col.nope}", {"col": "review"})


def test_comments_are_never_expanded() -> None:
    step = parse_plan("sentiment review  # try model={other}", {}).steps[0]
    assert (step.verb, step.columns, dict(step.options), step.code) == (
        "sentiment",
        ("review",),
        {},
        "sentiment review",
    )
    assert parse_plan("clean review  # {x} and {{ and }", None).steps[0].code == "clean review"


def test_doubled_braces_are_literal_braces_everywhere() -> None:
    step = parse_plan(
        'classify review "Is it {{good}}?" instruction="Answer {{yes}} on {text}}}" '
        "labels=[a, b] model=x{{y}}",
        {"text": "T"},
    ).steps[0]
    assert step.arguments == ("Is it {good}?",)
    assert step.options["instruction"] == "Answer {yes} on T}"
    assert step.options["model"] == "x{y}"


# Texts that break a line spliced in as written: quotes, '#', commas, arrows, brackets, braces.
AWKWARD = 'it\'s "fine" # {not} a, b -> c [x] {{y}} \\ end'


def test_a_variable_arrives_as_the_same_value_wherever_it_stands() -> None:
    namespace = {
        "col": "review",
        "cond": AWKWARD,
        "word": "tea",
        "labels": ["a b", "c#d", AWKWARD],
        "n": 3,
        "off": False,
        "nothing": None,
    }
    plan = parse_plan(
        "filter {col} {cond} -> kept\n"
        "filter {col} {word}\n"
        'filter {col} "about {word}: {cond}"\n'
        "classify {col} labels={labels} calibrate={off} model={nothing}\n"
        "keywords {col} top={n}  # {n} keywords",
        namespace,
    )
    first, second, third, fourth, fifth = plan.steps
    assert first.columns == ("review",) and first.arguments == (AWKWARD,)
    assert first.outputs == ("kept",)
    assert second.arguments == ("tea",)
    assert third.arguments == (f"about tea: {AWKWARD}",)
    assert dict(fourth.options) == {
        "labels": ["a b", "c#d", AWKWARD],
        "calibrate": False,
        "model": None,
    }
    assert dict(fifth.options) == {"top": 3}
    # Each step as run reads back the same without the namespace.
    for step in plan.steps:
        again = parse_plan(step.code).steps[0]
        assert (again.columns, again.arguments, dict(again.options), again.outputs) == (
            step.columns,
            step.arguments,
            dict(step.options),
            step.outputs,
        )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_any_text_in_a_variable_arrives_unchanged(text: str) -> None:
    namespace = {"v": text}
    step = parse_plan("filter review {v} instruction={v}", namespace).steps[0]
    assert step.arguments == (text,) and step.options["instruction"] == text
    assert parse_plan('filter review "{v}"', namespace).steps[0].arguments == (text,)
    assert parse_plan(step.code).steps[0].arguments == (text,)


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ('filter review "unclosed', 1, 15, "never closed"),
        ("clean review\nextract review -> a, b:[x, y", 2, 24, r"'\[' is never closed"),
        ("summarize review -> ", 1, 21, "output name after '->'"),
        ("summarize review, -> s", 1, 19, "another column after ','"),
        ("summarize review max_words=", 1, 28, "has no value"),
        ("summarize review top=1 top=2", 1, 24, "given twice"),
        ("summarize review -> s extra", 1, 23, "unexpected 'extra'"),
        ("summarize review max_words=3 -> s", 1, 30, "'->' comes before the options"),
        ("-> summary", 1, 1, "expected a verb"),
        ("predict", 1, 8, "expected the target column"),
    ],
)
def test_errors_name_the_line_and_column(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(PlanSyntaxError, match=message) as caught:
        parse_plan(text)
    assert (caught.value.line, caught.value.column) == (line, column)


def test_comments_and_blank_lines_are_skipped() -> None:
    assert len(parse_plan("# just a comment\n\n   \nclean review  # tidy")) == 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_any_text_parses_or_raises_a_plan_error(text: str) -> None:
    with contextlib.suppress(PlanSyntaxError):
        parse_plan(text, {})


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["clean", "review", ",", "->", "'x'", "k=1", "[a, b]", "#", "{v}", "]", "=", " "]
        ),
        max_size=12,
    )
)
def test_plan_shaped_noise_parses_or_raises_a_plan_error(parts: list[str]) -> None:
    with contextlib.suppress(PlanSyntaxError):
        parse_plan(" ".join(parts), {"v": "review"})


def test_a_list_of_plain_words_is_a_list_of_strings() -> None:
    # As the README writes it: labels=[taste, price, shipping]
    step = parse_plan("classify review -> aspect  labels=[taste, price, shipping]").steps[0]
    assert step.options["labels"] == ["taste", "price", "shipping"]
    assert parse_plan("classify review  labels=[4, 4.5, five]").steps[0].options["labels"] == [
        4,
        4.5,
        "five",
    ]
