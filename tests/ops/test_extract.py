from __future__ import annotations

import warnings

import pandas as pd
import pytest

from llm_magics.errors import InvalidArgumentError, LlmMagicsWarning
from llm_magics.ops import extract
from llm_magics.ops.extract import _number, _text_answer, parse_schema
from llm_magics.ops.grounding import grounded_number, number_readings, numbers_in

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


@pytest.mark.slow
def test_a_score_the_review_does_not_give_is_nan_and_counted(reviews: pd.DataFrame) -> None:
    # Issue 31: {"score": int} gave a number for real reviews that state none, with no warning.
    texts = reviews["review"].head(3)
    raw = extract(texts, {"score": int}, progress=False, grounded=False)["score"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = extract(texts, {"score": int}, progress=False)
    in_text = [pd.notna(v) and float(v) in numbers_in(t) for v, t in zip(raw, texts, strict=True)]
    absent = int(raw.notna().sum() - sum(in_text))
    assert absent >= 1  # the model still invents a score: the case the rule is for
    assert out["score"].tolist() == raw.where(in_text).tolist()
    assert out.attrs["llm_magics"]["ungrounded"] == {"score": absent}
    notes = [str(w.message) for w in caught if w.category is LlmMagicsWarning]
    assert [n for n in notes if "not in their text" in n] == [
        f"extract(): {absent} of 3 'score' values were not in their text: set to NaN (the model "
        "gave a number the text does not contain, or a fraction for an int field). If a field "
        "is computed rather than quoted (a count, a total), pass grounded=False."
    ]


def test_schemas_are_checked() -> None:
    assert parse_schema({"a": "float", "b": ("x", "y")}) == {"a": float, "b": ["x", "y"]}
    with pytest.raises(InvalidArgumentError, match="unknown type 'money'"):
        parse_schema({"price": "money"})
    with pytest.raises(InvalidArgumentError, match="at least two distinct"):
        parse_schema({"problem": ["only"]})
    with pytest.raises(InvalidArgumentError, match="non-empty dict"):
        extract(pd.Series(["x"]), {})


@pytest.mark.parametrize(
    ("answer", "readings"),
    [
        ("12.99", [12.99]),
        (" 1,299.5", [1299.5]),
        ("1,299", [1299, 1.299]),  # thousands first: three decimals are rarer
        ("4,5", [4.5]),
        ("1.299,50", [1299.5]),
        ("0.125", [0.125]),
        ("-3", [-3]),
        ("1.2.3", []),
        ("", []),
    ],
)
def test_answers_are_read_as_every_number_they_may_be(answer: str, readings: list[float]) -> None:
    assert number_readings(answer) == readings


@pytest.mark.parametrize(
    ("answer", "text", "kind", "grounded", "value"),
    [
        ("12.99", "It was $12.99.", float, True, 12.99),
        ("4.0", "4 stars", int, True, 4),
        ("3.6", "3.6 stars", int, True, "ungrounded"),  # 4 is not in the text
        ("3.6", "3.6 stars", int, False, 4),
        ("1000000000", "Tasty, but the box was crushed.", int, True, "ungrounded"),
        ("1000000000", "Tasty, but the box was crushed.", int, False, 1000000000),
        ("1.2.3", "1.2.3", float, True, "unreadable"),
        ("", "Tasty.", float, False, "unreadable"),
    ],
)
def test_numbers_are_read_grounded_or_refused(
    answer: str, text: str, kind: type, grounded: bool, value: float | str
) -> None:
    assert _number(answer, text, kind, grounded=grounded) == value


@pytest.mark.parametrize(
    ("text", "answer", "value"),
    [
        # English
        ("I paid $12.99 for 3 boxes.", "12.99", 12.99),
        ("It cost 1,299 dollars.", "1,299", 1299),
        ("It cost 1,299 dollars.", "1299", 1299),
        ("Five stars, would buy again.", "5", 5),
        ("I give it 4/5.", "4", 4),
        ("4.5 out of 5", "4.5", 4.5),
        ("20% off", "20", 20),
        ("20% off", "0.2", 0.2),
        ("99 cents a bag", "0.99", 0.99),
        ("It was -5 degrees.", "-5", -5),
        ("It was \u22125 degrees.", "-5", -5),
        ("twenty-five boxes", "25", 25),
        ("one hundred and five pages, a dozen eggs", "105", 105),
        ("one hundred and five pages, a dozen eggs", "12", 12),
        ("1.5 million views", "1500000", 1_500_000),
        ("2k reviews", "2000", 2000),
        # German
        ("Der Preis: 1.299 €", "1.299", 1299),
        ("Der Preis: 1.299,50 €", "1299.5", 1299.5),
        ("Kostet 12,99 €.", "12.99", 12.99),
        ("4,5 von 5 Sternen", "4,5", 4.5),
        ("4,5 von 5 Sternen", "4.5", 4.5),
        ("1\u00a0299 Euro", "1299", 1299),
        ("Fünf Sterne!", "5", 5),
        ("fünfundzwanzig Packungen", "25", 25),
        ("zweihundert Gramm", "200", 200),
        ("3 Mio. Aufrufe", "3000000", 3_000_000),
        # Chinese
        ("\uff15星好评", "5", 5),  # full-width 5
        ("价格\uff11\uff12\uff0e\uff19\uff19元", "12.99", 12.99),  # full-width 12.99
        ("五星好评", "5", 5),
        ("二十五块钱", "25", 25),
        ("两百克", "200", 200),
        ("三万五千人", "35000", 35000),
        ("1.5万人", "15000", 15000),
        ("二〇二四年买的", "2024", 2024),
    ],
)
def test_a_number_the_text_gives_is_kept(text: str, answer: str, value: float) -> None:
    assert grounded_number(number_readings(answer), text) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Tasty, but the box was crushed.", "1000000000"),
        ("Five stars, would buy again.", "-5"),  # no minus sign in the text
        ("I give it 4/5.", "0.8"),  # a fraction is two numbers, not their quotient
        ("It cost 1,299 dollars.", "1,3"),
        ("Geschmack gut, Verpackung kaputt.", "1000000000"),
        ("Kostet 12,99 €.", "1299"),  # a decimal comma is not a thousands separator
        ("茶叶受潮发霉了\uff0c非常失望", "1000000000"),
        ("五星好评", "50"),
    ],
)
def test_a_number_the_text_does_not_give_is_refused(text: str, answer: str) -> None:
    assert grounded_number(number_readings(answer), text) is None


def test_number_words_count_alone_and_as_phrases() -> None:
    assert {105.0, 1.0, 100.0, 5.0}.issubset(numbers_in("one hundred and five"))
    assert 251.0 not in numbers_in("zweihundert, einundzwanzig und dreißig")  # commas end phrases
    assert {200.0, 21.0, 30.0} <= numbers_in("zweihundert, einundzwanzig und dreißig")
    assert 0.0 not in numbers_in("Tee und Kaffee")  # "und" joins numbers, it is not one


def test_text_answers_lose_the_preamble() -> None:
    assert _text_answer("The product is green tea.\nMore", "product") == "green tea"
    assert _text_answer("none", "product") != _text_answer("none", "product")  # NaN


@pytest.mark.slow
def test_the_model_may_say_a_text_gives_no_number(quality_manager) -> None:
    texts = pd.Series(
        [
            "Only $12.99 for 3 boxes, a bargain.",
            "Tasty tea with a lovely smell.",
            "This tastes so bad, I'm considering throwing it away.",
        ]
    )
    # Before "none" was an answer, the model had to name a number here: one the text does not
    # contain (NaN with a warning), or one it does that is no price (a count, a year).
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a number the text does not give is not a fault
        out = extract(texts, {"price": float}, manager=quality_manager, cache=False, progress=False)
    assert out["price"].iloc[0] == 12.99
    assert out["price"].iloc[1:].isna().all()
    assert out.attrs["llm_magics"]["absent"] == {"price": 2}
