from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_magics.plan import parse_plan
from llm_magics.widgets.code import call_code, mine_cell, plan_line, plan_value


def test_a_short_call_is_one_line_and_a_long_one_one_argument_per_line() -> None:
    short = call_code("s", "df.llm.summarize", ["review"], {"max_words": 15})
    assert short == "s = df.llm.summarize('review', max_words=15)"
    long = call_code("s", "df.llm.summarize", ["review"], {"instruction": "x" * 80, "top_p": 0.9})
    assert long.splitlines() == [
        "s = df.llm.summarize(",
        "    'review',",
        f"    instruction='{'x' * 80}',",
        "    top_p=0.9,",
        ")",
    ]
    calls = []

    def summarize(*args: object, **kwargs: object) -> str:
        calls.append((args, kwargs))
        return "made"

    namespace = {"df": SimpleNamespace(llm=SimpleNamespace(summarize=summarize))}
    exec(long, namespace)
    assert namespace["s"] == "made"
    assert calls == [(("review",), {"instruction": "x" * 80, "top_p": 0.9})]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("default-chat", "default-chat"),
        ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct"),
        ("True", "'True'"),
        ("two words", "'two words'"),
        (["a", "b c"], "['a', 'b c']"),
        (0.25, "0.25"),
        (False, "False"),
        (None, "None"),
    ],
)
def test_plan_values_are_plain_words_only_where_that_reads_back_the_same(
    value: object, written: str
) -> None:
    assert plan_value(value) == written
    step = parse_plan(plan_line("summarize", "review", options={"key": value})).steps[0]
    assert step.options["key"] == value


# Braces included: a prompt's own {text} field is written {{text}}, so %%mine leaves it alone.
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(_TEXT)
def test_any_instruction_reads_back_from_a_plan_line(text: str) -> None:
    line = plan_line("summarize", "review", options={"instruction": text, "max_words": 9})
    for namespace in (None, {"text": "not this"}):
        step = parse_plan(line, namespace).steps[0]
        assert step.options == {"instruction": text, "max_words": 9}


def test_a_copied_prompt_keeps_its_fields_in_a_mine_cell() -> None:
    instruction = "Summarize in at most {max_words} words.\n\n{text}"
    line = plan_line("summarize", "review", options={"instruction": instruction})
    assert (
        line
        == "summarize review  instruction='Summarize in at most {{max_words}} words.\\n\\n{{text}}'"
    )
    step = parse_plan(line, {"text": "a notebook variable"}).steps[0]
    assert step.options["instruction"] == instruction
    condition = plan_line("filter", "review", positional="says {x} # or 'y'")
    assert parse_plan(condition, {}).steps[0].arguments == ("says {x} # or 'y'",)


def test_plan_lines_with_text_and_outputs() -> None:
    line = plan_line("filter", "review", positional="mentions delivery", outputs=["late"])
    step = parse_plan(line).steps[0]
    assert (step.verb, step.columns, step.arguments, step.outputs) == (
        "filter",
        ("review",),
        ("mentions delivery",),
        ("late",),
    )
    cell = mine_cell("reviews", "mined", [line])
    assert cell == f"%%mine reviews --out mined\n{line}"
