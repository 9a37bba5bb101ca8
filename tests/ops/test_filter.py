from __future__ import annotations

import pandas as pd
import pytest

from llm_magics.errors import InvalidArgumentError
from llm_magics.ops import filter, query
from llm_magics.ops.classify import CONTENT_FREE

pytestmark = pytest.mark.slow

SHIPPING = [
    "The package arrived two weeks late and the box was crushed by the courier.",
    "Delivery took forever and the parcel came damaged in shipping.",
]
OTHER = [
    "This green tea has a lovely mild flavor and a nice aroma.",
    "My kids love these crackers, they taste great with cheese.",
]


def test_filter_selects_texts_about_shipping() -> None:
    texts = pd.Series(SHIPPING + OTHER + [None], index=list("abcde"))
    out = filter(texts, "mentions shipping or delivery", method="embed", progress=False)
    assert out.attrs["llm_magics"]["parameters"]["method"] == "embed"
    assert str(out.dtype) == "boolean"
    assert out.tolist()[:4] == [True, True, False, False]
    assert out.isna().tolist() == [False] * 4 + [True]
    probability = out.attrs["llm_magics"]["probability"]
    assert min(probability[:2]) > max(probability[2:4])


def test_query_returns_matching_rows_of_the_frame() -> None:
    frame = pd.DataFrame(
        {"review": SHIPPING + OTHER, "stars": [1, 2, 5, 5]}, index=[40, 30, 20, 10]
    )
    rows = query(
        frame, "mentions shipping or delivery", frame["review"], method="embed", progress=False
    )
    assert rows.index.tolist() == [40, 30]
    assert rows["stars"].tolist() == [1, 2]


def test_the_llm_method_answers_every_row() -> None:
    texts = pd.Series([*SHIPPING, ""], index=[3, 2, 1])
    out = filter(texts, "mentions shipping or delivery", method="llm", progress=False)
    assert out.isna().tolist() == [False, False, True]
    assert all(0 < p < 1 for p in out.attrs["llm_magics"]["probability"][:2])


@pytest.mark.parametrize(
    ("method", "others"),
    [("embed", 2), ("llm", len(CONTENT_FREE))],  # the condition and baseline; calibration inputs
)
def test_cells_of_invisible_characters_are_never_sent_to_the_model(
    method: str, others: int
) -> None:
    texts = pd.Series(
        ["\u200b", "I drink green tea every morning.", "\ufeff", "\u00ad", "\x07\x00"]
    )
    out = filter(texts, "mentions tea", method=method, cache=False, progress=False)
    if method == "embed":
        assert out.tolist()[1] is True
    # The 135M chat model's yes/no on this one text is its own (0.38 calibrated): the point here
    # is that only the text with words is answered.
    assert out.isna().tolist() == [True, False, True, True, True]
    probability = out.attrs["llm_magics"]["probability"]
    assert 0 < probability[1] < 1 and pd.isna([probability[i] for i in (0, 2, 3, 4)]).all()
    assert out.attrs["llm_magics"]["rows_computed"] == 1 + others


def test_a_condition_is_needed() -> None:
    with pytest.raises(InvalidArgumentError, match="condition must be a non-empty"):
        filter(pd.Series(["x"]), " ")
