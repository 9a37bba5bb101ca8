from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_magics.errors import InvalidArgumentError
from llm_magics.ops import top_k

pytestmark = pytest.mark.slow

TEXTS = [
    "The box arrived crushed and two jars inside were broken.",
    "Lovely green tea, mild and fragrant.",
    None,
    "The packaging was torn open and the bag had spilled everywhere.",
    "   ",
    "My dog loves these treats.",
]


@pytest.fixture(scope="module")
def texts() -> pd.Series:
    return pd.Series(TEXTS, index=[50, 40, 30, 20, 10, 0], name="review")


def test_the_best_rows_come_first_with_their_labels(texts: pd.Series) -> None:
    out = top_k(texts, "broken packaging", k=2, method="llm", progress=False)
    assert out.columns.tolist() == ["review", "review_score"]
    assert str(out["review_score"].dtype) == "float64"
    assert len(out) == 2
    assert np.all(np.diff(out["review_score"].to_numpy()) <= 0)
    assert set(out.index) <= {50, 40, 20, 0}
    assert out["review"].tolist() == texts[out.index].tolist()
    assert out.attrs["llm_magics"]["models"] == ["default-chat", "default-embed"]
    # the pool (every row with text, 4 < 20) scored by the chat model; the blend is in [0, 1]
    assert sorted(out.attrs["llm_magics"]["p_yes"]) == [0, 20, 40, 50]
    assert out["review_score"].between(0, 1).all()


def test_embed_ranks_by_similarity_and_never_picks_missing_rows(texts: pd.Series) -> None:
    out = top_k(texts, "broken packaging", k=10, method="embed", progress=False)
    assert sorted(out.index) == [0, 20, 40, 50]  # k beyond the rows: every row with text
    assert set(out.index[:2]) == {50, 20}
    assert out["review"].notna().all()
    assert out.attrs["llm_magics"]["models"] == ["default-embed"]


def test_a_frame_gets_its_rows_with_every_column(reviews: pd.DataFrame) -> None:
    out = reviews.llm.top_k("review", "tea", k=3, progress=False)
    assert out.columns.tolist() == [*reviews.columns, "review_score"]
    assert len(out) == 3
    pd.testing.assert_frame_equal(out[reviews.columns], reviews.loc[out.index])
    assert out["review"].notna().all()


def test_a_rerun_is_read_from_the_cache(texts: pd.Series) -> None:
    first = top_k(texts, "tea", k=2, method="llm", progress=False)
    again = top_k(texts, "tea", k=2, method="llm", progress=False)
    pd.testing.assert_frame_equal(first, again)
    assert again.attrs["llm_magics"]["rows_computed"] == 0


def test_no_text_gives_an_empty_table() -> None:
    out = top_k(pd.Series([None, " "], name="note"), "tea", k=3, progress=False)
    assert out.columns.tolist() == ["note", "note_score"]
    assert len(out) == 0


@pytest.mark.parametrize(
    "bad", [{"k": 0}, {"k": "3"}, {"query": ""}, {"pool": 0}, {"method": "bm25"}]
)
def test_bad_arguments_say_what_to_pass(texts: pd.Series, bad: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        top_k(texts, **({"query": "tea"} | bad))


def test_a_frame_with_repeated_labels_gets_the_chosen_rows() -> None:
    frame = pd.DataFrame(
        {"review": ["broken box, jars smashed", "lovely tea", "crushed parcel"], "n": [1, 2, 3]},
        index=[7, 7, 8],
    )
    out = frame.llm.top_k("review", "broken packaging", k=2, method="embed", progress=False)
    assert len(out) == 2
    assert out["n"].tolist() in ([1, 3], [3, 1])
    assert out["review"].tolist() == frame["review"].iloc[[n - 1 for n in out["n"]]].tolist()
