from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import llm_magics
from llm_magics.errors import InvalidArgumentError, LlmMagicsWarning
from llm_magics.ops import OPERATIONS, clean, summarize
from llm_magics.ops.base import SPECS, TextColumn, operation, resolve_column, text_of
from llm_magics.ops.spec import OpSpec


def test_missing_and_blank_cells_are_not_texts() -> None:
    series = pd.Series(["a", None, np.nan, "", "  ", pd.NA, "b"], index=list("pqrstuv"))
    column = TextColumn.of(series, "test")
    assert column.texts == ["a", "b"]
    assert column.present.tolist() == [True, False, False, False, False, False, True]
    out = column.series([1.5, 2.5], name="x", dtype="float64")
    assert out.index.tolist() == list("pqrstuv")
    assert out.iloc[[0, 6]].tolist() == [1.5, 2.5]
    assert out.iloc[1:6].isna().all()


def test_non_text_cells_are_converted_with_one_warning() -> None:
    with pytest.warns(LlmMagicsWarning, match="2 non-text cell") as caught:
        column = TextColumn.of(pd.Series([12, "x", 3.5], name="c"), "test")
    assert len(caught) == 1
    assert column.texts == ["12", "x", "3.5"]


@pytest.mark.parametrize(
    "blank",
    [
        "\u200b",  # zero-width space
        "\ufeff",  # byte-order mark
        "\u00ad",  # soft hyphen
        "\x00\x07\x1b",  # control characters
        " \u2060\u200d\u200e\u202e ",  # word joiner, joiner, direction marks
        "\u3000\u00a0\n\t",  # ideographic and no-break spaces, whitespace
    ],
)
def test_cells_of_invisible_characters_are_blank(blank: str) -> None:
    column = TextColumn.of(pd.Series(["tea", blank, "tea\u200b"]), "test")
    assert column.texts == ["tea", "tea\u200b"]
    assert column.present.tolist() == [True, False, True]
    assert text_of(blank) is None


def test_bytes_cells_are_decoded_as_text() -> None:
    cells = pd.Series(
        [b"caf\xc3\xa9", bytearray(b"green tea"), b"\xef\xbb\xbfbom", b"\xe2\x80\x8b"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        column = TextColumn.of(cells, "test")
    assert column.texts == ["café", "green tea", "bom"]
    assert column.present.tolist() == [True, True, True, False]
    frame = pd.DataFrame({"id": [1, 2], "raw": [b"Caf\xc3\xa9 <b>ok</b>", b"tea"]})
    assert frame.llm.clean().tolist() == ["Café ok", "tea"]  # found as the text column
    with pytest.warns(LlmMagicsWarning, match="1 bytes cell.*not UTF-8 and were read as cp1252"):
        assert TextColumn.of(pd.Series([b"caf\xe9 cr\xe8me", b"ok"]), "t").texts == [
            "café crème",
            "ok",
        ]


def test_non_text_cells_are_converted_with_str_and_counted_once() -> None:
    cells = pd.Series(["tea", 3, None, 4.5, b"ok"], name="notes")
    with pytest.warns(LlmMagicsWarning, match=r"test\(\): 2 non-text cell\(s\) of 'notes' were"):
        column = TextColumn.of(cells, "test")
    assert column.texts == ["tea", "3", "4.5", "ok"]


def test_a_missing_column_suggests_the_closest() -> None:
    frame = pd.DataFrame({"review": ["a"], "score": [1]})
    with pytest.raises(InvalidArgumentError, match=r"No column 'reveiw'\. Did you mean 'review'\?"):
        resolve_column(frame, "reveiw")


def test_the_only_text_column_is_found_and_several_need_a_choice() -> None:
    frame = pd.DataFrame({"review": ["good tea"], "score": [5]})
    assert resolve_column(frame, None).name == "review"
    frame["title"] = ["Tea"]
    with pytest.raises(InvalidArgumentError, match="text columns: review, title"):
        resolve_column(frame, None)


def test_an_unknown_keyword_lists_the_valid_ones() -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"'maxwords'\. Did you mean 'max_words'\?"
    ) as err:
        summarize(pd.Series(["x"]), maxwords=3)
    assert (
        "Valid arguments: max_words, language, instruction, max_new_tokens, temperature, top_p, seed, model"
        in str(err.value)
    )


def test_every_operation_is_registered() -> None:
    assert set(OPERATIONS) >= {
        "clean",
        "summarize",
        "classify",
        "sentiment",
        "extract",
        "filter",
        "embed",
        "keywords",
        "topics",
        "features",
        "aggregate",
        "dedup",
        "join",
        "top_k",
    }


def test_every_op_takes_the_engine_arguments_its_spec_names_and_no_engine() -> None:
    for name, spec in SPECS.items():
        parameters = inspect.signature(OPERATIONS[name]).parameters
        assert "engine" not in parameters
        assert set(spec.engine_arguments) <= set(parameters)
        # A row-wise op gets backend= from the decorator; an op across rows may take its own,
        # for its row-wise parts (embeddings, pair scores), and documents it itself.
        assert "backend" in parameters or not spec.row_wise
        doc = OPERATIONS[name].__doc__ or ""
        for argument in [*spec.engine_arguments, *(["backend"] if spec.row_wise else [])]:
            assert doc.count(f"\n    {argument}\n") == 1, (name, argument)  # written once
    assert not set(inspect.signature(OPERATIONS["clean"]).parameters) & {"model", "manager"}
    features = inspect.signature(OPERATIONS["features"]).parameters
    assert {"model", "chat_model", "progress", "cache"} <= set(features)
    assert not {"batch_tokens", "manager"} & set(features)


def test_an_op_takes_engine_exactly_when_its_spec_names_engine_arguments() -> None:
    def loud(texts: pd.Series, **engine: object) -> pd.Series:
        return texts

    with pytest.raises(TypeError, match="take \\*\\*engine exactly when"):
        operation(OpSpec(name="loud", engine_arguments=()))(loud)
    assert "loud" not in OPERATIONS


def test_engine_and_backend_together_ask_for_backend_only() -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"engine= is the old name of backend=; pass only"
    ):
        clean(pd.Series(["x"]), engine="local", backend="local")


def test_an_unnamed_series_is_called_the_text_in_warnings() -> None:
    with pytest.warns(LlmMagicsWarning, match="1 non-text cell\\(s\\) of the text were converted"):
        clean(pd.Series(["tea", 3]))


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_a_call_missing_an_argument_gets_our_error_not_a_type_error(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^{name}\(\): missing a required argument"):
        OPERATIONS[name]()
    with pytest.raises(InvalidArgumentError, match=r"got multiple values|too many positional"):
        OPERATIONS[name](*range(40))


def test_the_accessors_and_the_functions_refuse_bad_calls_with_our_error() -> None:
    texts = pd.Series(["a cat", "a dog"])
    frame = pd.DataFrame({"review": texts, "stars": [1, 2]})
    calls = {
        "top_k(): missing a required argument: 'query'. It needs (texts, query)": [
            lambda: texts.llm.top_k(),
            lambda: frame.llm.top_k(),
            lambda: frame.llm.top_k("review"),
        ],
        "join(): missing a required argument: 'right'": [
            lambda: texts.llm.join(),
            lambda: frame.llm.join(),
        ],
        "mine(): missing a required argument: 'target'": [lambda: frame.llm.mine()],
        "query(): missing a required argument: 'condition'": [lambda: frame.llm.query()],
        "plot(): missing a required argument: 'kind'": [lambda: frame.llm.plot()],
        "mine(): missing a required argument": [lambda: llm_magics.mine()],
        "mine_plan(): missing a required argument": [lambda: llm_magics.mine_plan()],
        "evaluate(): missing a required argument": [lambda: llm_magics.evaluate()],
        "label(): too many positional arguments": [lambda: texts.llm.label(["x"], "y", into="z")],
    }
    for message, functions in calls.items():
        for call in functions:
            with pytest.raises(InvalidArgumentError, match=re.escape(message)):
                call()
