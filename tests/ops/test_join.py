from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_magics.errors import InvalidArgumentError, LlmMagicsWarning
from llm_magics.ops import join

pytestmark = pytest.mark.slow

CONDITION = "the review complains about the known issue"


@pytest.fixture(scope="module")
def issues() -> pd.DataFrame:
    """Three known issues; ``product`` clashes with the reviews' column of that name."""
    return pd.DataFrame(
        {
            "product": ["any", "any", "tea"],
            "issue": ["The order arrived late.", "The food was stale.", "It is far too sweet."],
            "severity": [2, 3, 1],
        },
        index=[30, 10, 20],
    )


def test_pairs_have_both_tables_columns_suffixed_where_they_clash(
    reviews: pd.DataFrame, issues: pd.DataFrame
) -> None:
    out = join(
        reviews,
        issues,
        CONDITION,
        left_on="review",
        right_on="issue",
        k=2,
        threshold=1e-6,
        method="llm",
        progress=False,
    )
    assert out.columns.tolist() == [
        "product_left",
        "review",
        "score",
        "product_right",
        "issue",
        "severity",
        "review_probability",
    ]
    assert str(out["review_probability"].dtype) == "float64"
    assert str(out["severity"].dtype) == "int64"
    assert isinstance(out.index, pd.RangeIndex)
    # every text row (10 of 12: one is None, one blank) with its two nearest issues, best first
    assert len(out) == 20
    texts = reviews["review"].dropna()
    texts = texts[texts.str.strip() != ""]
    assert out["review"].drop_duplicates().tolist() == texts.tolist()
    for _, pairs in out.groupby("review", sort=False):
        p = pairs["review_probability"].to_numpy()
        assert np.all(np.diff(p) <= 0) and np.all((p > 0) & (p < 1))
    counts = out.attrs["llm_magics"]
    assert (counts["pairs_scored"], counts["all_pairs"], counts["times_fewer"]) == (20, 30, 1.5)
    assert counts["models"] == ["default-chat", "default-embed"]


def test_how_left_keeps_every_left_row_and_inner_only_matches(
    reviews: pd.DataFrame, issues: pd.DataFrame
) -> None:
    options = {"left_on": "review", "right_on": "issue", "k": 1, "method": "llm", "progress": False}
    none = join(reviews, issues, CONDITION, threshold=0.999, **options)
    assert len(none) == 0
    assert "review_probability" in none.columns
    left = join(reviews, issues, CONDITION, threshold=0.999, how="left", **options)
    assert len(left) == len(reviews)
    assert left["product_left"].tolist() == reviews["product"].tolist()
    assert left[["issue", "review_probability"]].isna().all().all()
    assert str(left["severity"].dtype) == "float64"  # NaN where no match, as pandas.merge does
    every = join(reviews, issues, CONDITION, threshold=1e-6, how="left", **options)
    assert len(every) == len(reviews)
    missing = every["review"].isna() | (every["review"].str.strip() == "")
    assert every.loc[missing, "issue"].isna().all()
    assert every.loc[~missing, "issue"].notna().all()


def test_series_are_one_column_tables_and_embed_asks_no_chat_model() -> None:
    tickets = pd.Series(
        ["My parcel came two weeks late.", None, "The cookies were stale."],
        index=["a", "b", "c"],
        name="ticket",
    )
    known = pd.Series(["late delivery", "stale food"])
    out = join(tickets, known, "the ticket is about the issue", k=1, threshold=1e-6, progress=False)
    assert out.columns.tolist() == ["ticket", "text", "ticket_probability"]
    assert out["text"].tolist() == ["late delivery", "stale food"]
    assert out.attrs["llm_magics"]["models"] == ["default-embed"]
    assert out.attrs["llm_magics"]["pairs_scored"] == 0
    both = join(known, known, "the same issue", k=1, threshold=1e-6, progress=False)
    assert both.columns.tolist() == ["text_left", "text_right", "text_probability"]
    assert both["text_left"].tolist() == both["text_right"].tolist()


def test_empty_inputs_give_an_empty_table_with_the_columns(issues: pd.DataFrame) -> None:
    empty = pd.DataFrame({"review": pd.Series([], dtype=object), "stars": []})
    out = join(empty, issues, CONDITION, left_on="review", right_on="issue", progress=False)
    assert out.columns.tolist() == [
        "review",
        "stars",
        "product",
        "issue",
        "severity",
        "review_probability",
    ]
    assert len(out) == 0
    assert out.attrs["llm_magics"]["all_pairs"] == 0


def test_a_rerun_is_read_from_the_cache(reviews: pd.DataFrame, issues: pd.DataFrame) -> None:
    options = {"left_on": "review", "right_on": "issue", "k": 1, "method": "llm", "progress": False}
    first = join(reviews.head(4), issues, "the review is about the issue", **options)
    again = join(reviews.head(4), issues, "the review is about the issue", **options)
    pd.testing.assert_frame_equal(first, again)
    assert again.attrs["llm_magics"]["rows_computed"] == 0
    assert again.attrs["llm_magics"]["rows_from_cache"] > 0


def test_the_accessor_joins_a_frame(reviews: pd.DataFrame, issues: pd.DataFrame) -> None:
    out = reviews.head(3).llm.join(
        issues,
        CONDITION,
        left_on="review",
        right_on="issue",
        k=1,
        threshold=1e-6,
        method="embed",
        progress=False,
    )
    assert out["review"].tolist() == reviews["review"].head(3).tolist()


@pytest.mark.parametrize(
    "bad",
    [
        {"k": 0},
        {"k": 2.5},
        {"how": "outer"},
        {"threshold": 1.5},
        {"method": "fuzzy"},
        {"suffixes": ("_x",)},
        {"condition": " "},
        {"left_on": "nope"},
    ],
)
def test_bad_arguments_say_what_to_pass(
    reviews: pd.DataFrame, issues: pd.DataFrame, bad: dict[str, object]
) -> None:
    arguments = {"condition": CONDITION, "left_on": "review", "right_on": "issue"} | bad
    with pytest.raises(InvalidArgumentError):
        join(reviews, issues, **arguments)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"t": ["tea"]}, {"u": ["tea"], "t_probability": [1.0]}),
        ({"t": ["tea"], "t_probability": [1.0]}, {"u": ["tea"]}),
        ({"t": ["tea"], "a": [1], "a_left": [2]}, {"u": ["tea"], "a": [3]}),
    ],
)
def test_two_output_columns_of_one_name_are_an_error(
    left: dict[str, list[object]], right: dict[str, list[object]]
) -> None:
    with pytest.raises(InvalidArgumentError, match="two columns named"):
        join(pd.DataFrame(left), pd.DataFrame(right), "same", left_on="t", right_on="u")


def test_embed_says_when_one_right_text_can_never_match() -> None:
    left = pd.Series(["green tea", "a broken box"], name="t")
    with pytest.warns(LlmMagicsWarning, match="one distinct text, so no pair matches"):
        out = join(left, pd.Series(["tea"], name="u"), "same", k=1, progress=False)
    assert out.empty
