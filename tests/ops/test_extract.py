from __future__ import annotations

import pandas as pd
import pytest

from llm_magics.errors import InvalidArgumentError
from llm_magics.ops import extract
from llm_magics.ops.extract import _number, _text_answer, parse_schema

SCHEMA = {
    "product": str,
    "price": float,
    "boxes": "int",
    "gift": bool,
    "problem": ["shipping", "quality", "price", "none"],
}


@pytest.mark.slow
def test_every_field_has_the_schema_dtype(reviews: pd.DataFrame) -> None:
    texts = pd.concat(
        [
            pd.Series(["I paid $12.99 for 3 boxes of green tea as a gift; one arrived crushed."]),
            reviews["review"].head(4),
        ]
    )
    texts.index = range(100, 105)
    out = extract(texts, SCHEMA, progress=False)
    assert out.columns.tolist() == list(SCHEMA)
    assert out.index.equals(texts.index)
    assert {k: str(v) for k, v in out.dtypes.items()} == {
        "product": "object",
        "price": "float64",
        "boxes": "Int64",
        "gift": "boolean",
        "problem": "category",
    }
    assert out["problem"].cat.categories.tolist() == SCHEMA["problem"]
    present = texts.notna() & texts.fillna("").str.strip().astype(bool)
    assert out.loc[present, "problem"].notna().all()
    assert out.loc[present, "gift"].notna().all()
    assert out.loc[100, "price"] == pytest.approx(12.99)


def test_schemas_are_checked() -> None:
    assert parse_schema({"a": "float", "b": ("x", "y")}) == {"a": float, "b": ["x", "y"]}
    with pytest.raises(InvalidArgumentError, match="unknown type 'money'"):
        parse_schema({"price": "money"})
    with pytest.raises(InvalidArgumentError, match="at least two distinct"):
        parse_schema({"problem": ["only"]})
    with pytest.raises(InvalidArgumentError, match="non-empty dict"):
        extract(pd.Series(["x"]), {})


@pytest.mark.parametrize(
    ("answer", "kind", "value"),
    [
        ("12.99", float, 12.99),
        (" 1,299.5", float, 1299.5),
        ("3.6", int, 4),
        ("1.2.3", float, None),
        ("", float, None),
    ],
)
def test_numbers_are_read_or_refused(answer: str, kind: type, value: float | None) -> None:
    assert _number(answer, kind) == value


def test_text_answers_lose_the_preamble() -> None:
    assert _text_answer("The product is green tea.\nMore", "product") == "green tea"
    assert _text_answer("none", "product") != _text_answer("none", "product")  # NaN
