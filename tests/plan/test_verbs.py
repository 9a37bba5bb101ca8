from __future__ import annotations

import pandas as pd
import pytest

from llm_magics import ops
from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.spec import STEPS, StepSpec, register_step
from llm_magics.plan import EXAMPLES, VERBS, PlanSyntaxError, check_plan, describe, parse_plan
from llm_magics.plan.verbs import models_for, options_of, output_schema


def test_every_operation_and_mining_step_is_a_verb_with_an_example() -> None:
    assert set(VERBS) == {*ops.OPERATIONS, "predict", "finetune", "explain"}
    assert set(EXAMPLES) == set(VERBS)


@pytest.mark.parametrize("verb", VERBS)
def test_each_example_checks_and_each_verb_describes_its_keys(verb: str) -> None:
    plan = "predict score from review\n" if verb == "explain" else ""
    # The examples across rows name the columns (emp_title, ticket) and a table.
    namespace = {"issues": pd.DataFrame({"issue": ["late delivery", "broken lid"]})}
    columns = ["review", "score", "product", "emp_title", "ticket"]
    check_plan(parse_plan(plan + EXAMPLES[verb], namespace), columns)
    text = describe(verb)
    assert text.startswith(f"{verb}: ") and EXAMPLES[verb] in text
    for key in options_of(verb):
        assert f"  {key}=" in text


def test_a_registered_step_spec_is_a_verb_everywhere_without_editing_the_plan() -> None:
    def forecast(frame: pd.DataFrame, target: str, *, text: list | None = None, horizon: int = 3):
        """Forecast ``target`` some rows ahead."""

    spec = StepSpec(
        name="forecast",
        function=forecast,
        example="forecast score from review  horizon=2",
        given=frozenset({"frame", "target", "text"}),
        columns=(1, 2),
        usage="forecast reads one or two columns: forecast TARGET from COLUMN[, COLUMN]",
        target=True,
        outputs=("{target}_ahead",),
    )
    register_step(spec)
    try:
        assert VERBS[-1] == "forecast" and EXAMPLES["forecast"] == spec.example
        assert options_of("forecast") == ["horizon", "overwrite"]
        assert describe("forecast").startswith("forecast: Forecast ``target`` some rows ahead.")
        plan = parse_plan("forecast score from review -> ahead  horizon=5")
        step = plan.steps[0]
        assert (step.target, step.columns, step.outputs) == ("score", ("review",), ("ahead",))
        check_plan(plan, ["review", "score"])
        with pytest.raises(PlanSyntaxError, match="forecast reads one or two columns"):
            check_plan(
                parse_plan("forecast score from review, title, product"),
                ["review", "score", "title", "product"],
            )
        with pytest.raises(PlanSyntaxError, match="horizen"):
            check_plan(parse_plan("forecast score from review horizen=2"), ["review", "score"])
    finally:
        del STEPS["forecast"]
    assert "forecast" not in VERBS


def test_explain_keys_are_its_signature() -> None:
    assert options_of("explain") == ["use_model", "timeout"]
    assert "  timeout=60" in describe("explain")
    check_plan(parse_plan("predict score from review\nexplain timeout=5"), ["review", "score"])
    with pytest.raises(PlanSyntaxError, match="explain takes no column") as raised:
        check_plan(parse_plan("predict score from review\nexplain review"), ["review", "score"])
    assert (raised.value.line, raised.value.column) == (2, 9)


def test_describe_an_unknown_verb_suggests_one() -> None:
    with pytest.raises(InvalidArgumentError, match="Did you mean 'summarize'"):
        describe("sumarize")


def test_output_schema_reads_types_and_choices() -> None:
    step = parse_plan("extract review -> product, n:int, ok:bool, p:['a b', c]").steps[0]
    assert output_schema(step) == {"product": "str", "n": "int", "ok": "bool", "p": ["a b", "c"]}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("summarize review", [("chat", "C")]),
        ("summarize review model=other", [("chat", "other")]),
        ("classify review labels=[a, b]", [("chat", "C")]),
        ("classify review labels=[a, b] method=embed", [("embed", "E")]),
        ("filter review 'x'", [("chat", "C")]),
        ("filter review 'x' method=embed", [("embed", "E")]),
        ("keywords review", [("embed", "E")]),
        ("topics review label=False", [("embed", "E")]),
        ("topics review", [("embed", "E"), ("chat", "C")]),
        ("predict score from review kinds=['embedding']", [("embed", "E")]),
        ("predict score from review", [("embed", "E"), ("chat", "C")]),
        ("predict score from review chat_model=q", [("embed", "E"), ("chat", "q")]),
        ("finetune review, score -> m", [("embed", "default-embed")]),
        ("explain", [("chat", "C")]),
        ("explain use_model=False", []),
        ("clean review", []),
    ],
)
def test_models_for_names_the_models_a_step_loads(line: str, expected: list) -> None:
    assert models_for(parse_plan(line).steps[0], chat="C", embed="E") == expected
