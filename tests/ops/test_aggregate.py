from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import llm_magics  # noqa: F401  (registers df.llm)
from llm_magics.errors import InvalidArgumentError, RunInterruptedError
from llm_magics.ops import aggregate
from llm_magics.ops.aggregate import _pack, _split, _without_labels
from llm_magics.ops.prompts import DEFAULT_PROMPTS
from llm_magics.runtime.loading import LoadedModel

pytestmark = pytest.mark.slow

WORDS = 8  # short answers: each test asks the model a few times only


@pytest.fixture(scope="module")
def frame(reviews: pd.DataFrame) -> pd.DataFrame:
    """The twelve test reviews (a missing and a blank one) with two key columns.

    Group ``z`` holds only the missing and the blank review; ``shop`` has a NaN key.
    """
    out = reviews.copy()
    out["kind"] = ["b", "a", "b", "z", "c", "a", "c", "b", "z", "a", "c", "b"]
    out["shop"] = ["x", "y", None, "x", "y", "x", "y", None, "x", "y", "x", "y"]
    return out


def present(frame: pd.DataFrame) -> pd.Series:
    return frame["review"].fillna("").str.strip().astype(bool)


@pytest.mark.parametrize("sort", [True, False])
def test_groups_keep_their_keys_order_and_counts(frame: pd.DataFrame, sort: bool) -> None:
    out = aggregate(frame["review"], by=frame["kind"], sort=sort, max_words=WORDS, progress=False)
    expected = frame.groupby("kind", sort=sort)["review"].size().index
    assert out.index.equals(expected) and out.index.name == "kind"
    assert list(out.columns) == ["review_aggregate", "review_rows"]
    assert out["review_rows"].dtype == np.int64
    assert out["review_rows"].to_dict() == present(frame).groupby(frame["kind"]).sum().to_dict()
    assert pd.isna(out.loc["z", "review_aggregate"]) and out.loc["z", "review_rows"] == 0
    answers = out["review_aggregate"].drop("z")
    assert answers.map(lambda a: isinstance(a, str) and 0 < len(a.split()) <= WORDS).all()
    assert not answers.str.match(r"(?:Text|Answer) \d+:").any()  # an echoed label is dropped
    info = out.attrs["llm_magics"]
    assert info["op"] == "aggregate" and info["levels"] == 1
    assert info["calls_per_level"] == [3] and info["parameters"]["by"] == ["kind"]


def test_a_group_over_the_context_folds_into_one_answer(frame: pd.DataFrame) -> None:
    texts = frame["review"].dropna().head(6)
    out = aggregate(texts, max_words=WORDS, chunk_tokens=64, progress=False)
    info = out.attrs["llm_magics"]
    assert out.index.tolist() == ["review"] and out["review_rows"].tolist() == [6]
    assert isinstance(out["review_aggregate"].iloc[0], str)
    assert info["levels"] >= 2 and info["calls_per_level"][0] > 6  # long texts are split
    assert info["calls_per_level"][-1] == 1 and info["parameters"]["chunk_tokens"] == 64
    calls = sum(info["calls_per_level"])
    assert info["rows_computed"] + info["rows_from_cache"] == calls


def test_a_text_longer_than_a_chunk_is_split_not_cut(chat: LoadedModel) -> None:
    text = " ".join(f"Sentence number {i} is about tea." for i in range(40))
    tokens = len(chat.tokenizer(text, add_special_tokens=False)["input_ids"])
    pieces = _split(text, tokens, 30, chat.tokenizer)
    assert len(pieces) > 1 and all(count <= 30 for _, count in pieces)
    assert " ".join(p for p, _ in pieces) == text
    assert _pack([("a", 20), ("b", 20), ("c", 60)], 50, at_least=1) == [["a", "b"], ["c"]]
    assert _pack([("a", 40), ("b", 40), ("c", 40)], 50, at_least=2) == [["a", "b"], ["c"]]


@pytest.mark.parametrize("dropna", [True, False])
def test_a_nan_key_is_a_group_only_without_dropna(frame: pd.DataFrame, dropna: bool) -> None:
    out = aggregate(
        frame["review"], by=frame["shop"], dropna=dropna, max_words=WORDS, progress=False
    )
    expected = frame.groupby("shop", dropna=dropna)["review"].size().index
    assert out.index.equals(expected)
    assert out.index.hasnans is not dropna
    assert out["review_rows"].sum() == present(frame)[frame["shop"].notna() | (not dropna)].sum()


def test_the_whole_column_is_one_row(frame: pd.DataFrame) -> None:
    out = aggregate(frame["review"], max_words=WORDS, progress=False)
    assert out.index.tolist() == ["review"] and out["review_rows"].tolist() == [10]
    blank = aggregate(pd.Series([None, "  "], name="note"), progress=False)
    assert blank.index.tolist() == ["note"] and blank["note_rows"].tolist() == [0]
    assert blank["note_aggregate"].isna().all()


def test_keys_align_on_the_index_not_the_position(frame: pd.DataFrame) -> None:
    keys = frame["kind"]
    shuffled = keys.iloc[::-1]
    a = aggregate(frame["review"], by=keys, max_words=WORDS, progress=False)
    b = aggregate(frame["review"], by=shuffled, max_words=WORDS, progress=False)
    pd.testing.assert_frame_equal(a, b)
    c = aggregate(frame["review"], by=keys.to_numpy(), max_words=WORDS, progress=False)
    assert c["review_aggregate"].tolist() == a["review_aggregate"].tolist()
    assert c.index.name is None


def test_the_accessor_takes_column_names(frame: pd.DataFrame) -> None:
    one = frame.llm.aggregate("review", by="kind", max_words=WORDS, progress=False)
    assert one.index.name == "kind" and len(one) == 4
    two = frame.llm.aggregate("review", by=["kind", "shop"], max_words=WORDS, progress=False)
    assert isinstance(two.index, pd.MultiIndex) and list(two.index.names) == ["kind", "shop"]
    assert two.index.equals(frame.groupby(["kind", "shop"])["review"].size().index)
    assert two["review_rows"].sum() == present(frame)[frame["shop"].notna()].sum()
    assert "kind" in frame.columns and "review_aggregate" not in frame.columns


def test_a_rerun_is_served_from_the_cache_and_new_rows_recompute_their_group(
    frame: pd.DataFrame,
) -> None:
    texts, keys = frame["review"], frame["kind"]
    first = aggregate(texts, by=keys, instruction="What is liked?", max_words=WORDS, progress=False)
    again = aggregate(texts, by=keys, instruction="What is liked?", max_words=WORDS, progress=False)
    pd.testing.assert_frame_equal(first, again)
    assert again.attrs["llm_magics"]["rows_computed"] == 0
    assert again.attrs["llm_magics"]["rows_from_cache"] == 3
    more = pd.concat(
        [texts, pd.Series(["Lovely mint tea, I buy it again."], index=[1], name="review")]
    )
    more_keys = pd.concat([keys, pd.Series(["a"], index=[1])])
    grown = aggregate(
        more, by=more_keys, instruction="What is liked?", max_words=WORDS, progress=False
    )
    assert grown.attrs["llm_magics"]["rows_computed"] == 1  # group a's chunk, the others cached
    assert grown.loc[["b", "c"]].equals(first.loc[["b", "c"]])
    assert grown.loc["a", "review_rows"] == first.loc["a", "review_rows"] + 1


def test_bad_arguments_and_empty_input(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgumentError, match="by has 3 values for 12 texts"):
        aggregate(frame["review"], by=["a", "b", "c"])
    with pytest.raises(InvalidArgumentError, match="lacks labels of the texts' index"):
        aggregate(frame["review"], by=frame["kind"].reset_index(drop=True))
    with pytest.raises(
        InvalidArgumentError, match="chunk_tokens must be a whole number of tokens, 16 or more"
    ):
        aggregate(frame["review"], chunk_tokens=3)
    with pytest.raises(InvalidArgumentError, match="leaves no room"):
        aggregate(frame["review"], chunk_tokens=10**6, progress=False)
    empty = aggregate(pd.Series([], dtype=object, name="review"), by=pd.Series([], dtype=object))
    assert empty.empty and list(empty.columns) == ["review_aggregate", "review_rows"]
    assert empty.dtypes.tolist() == [np.dtype(object), np.dtype(np.int64)]
    assert {"aggregate", "aggregate_combine", "aggregate_summary"} <= set(DEFAULT_PROMPTS)


def test_an_interrupted_run_resumes_from_the_cache(frame: pd.DataFrame, manager) -> None:
    asked = {"instruction": "What is disliked?", "max_words": WORDS, "progress": False}

    def interrupt_after_first_batch(job) -> None:
        if job.state == "running" and job.done > 0:
            raise KeyboardInterrupt

    remove = manager.add_job_listener(interrupt_after_first_batch)
    try:
        with pytest.raises(RunInterruptedError) as caught:
            aggregate(frame["review"], by=frame["kind"], batch_tokens=64, **asked)
    finally:
        remove()
    assert caught.value.reason == "interrupted"
    out = aggregate(frame["review"], by=frame["kind"], batch_tokens=64, **asked)
    info = out.attrs["llm_magics"]
    assert info["rows_from_cache"] >= 1 and info["rows_from_cache"] + info["rows_computed"] == 3


def test_keys_that_cannot_be_grouped_say_what_to_pass() -> None:
    texts = pd.Series(["good tea", "bad tea"], name="review")
    with pytest.raises(InvalidArgumentError, match=r"by keys cannot be grouped.*astype"):
        aggregate(texts, by=pd.Series([[1], [2]], index=texts.index), progress=False)


def test_a_key_series_repeating_labels_in_another_order_says_what_to_pass() -> None:
    texts = pd.Series(["good tea", "bad tea", "ok"], index=[0, 0, 1], name="review")
    keys = pd.Series(["a", "b", "a"], index=[1, 0, 0])
    with pytest.raises(InvalidArgumentError, match="repeats index labels"):
        aggregate(texts, by=keys, progress=False)


@pytest.mark.parametrize(
    ("answer", "kept"),
    [('"Awesome,', "Awesome"), ('"Good', "Good"), ('"Meh" says all', '"Meh" says all'), ("", "")],
)
def test_an_answer_cut_at_max_words_has_no_dangling_quote_or_comma(answer: str, kept: str) -> None:
    assert _without_labels(answer) == kept


def test_a_column_name_by_on_a_series_says_to_use_the_frame() -> None:
    with pytest.raises(InvalidArgumentError, match=r"by='kind' is one value.*df\.llm\.aggregate"):
        pd.Series(["good tea", "bad tea"], name="review").llm.aggregate(by="kind")


def test_chinese_and_german_groups_are_answered_in_their_language(quality_manager) -> None:
    texts = pd.Series(
        [
            "包装破损，茶叶受潮发霉了，客服也不回复，非常失望。",
            "物流太慢了，等了两个星期才到。",
            "Der Drucker im zweiten Stock druckt seit gestern nur leere Seiten.",
            "Das VPN bricht jede halbe Stunde ab, sehr ärgerlich.",
        ],
        name="ticket",
    )
    by = pd.Series(["zh", "zh", "de", "de"])
    answers = {}
    for key in ("zh", "de"):
        rows = texts[by == key]
        out = aggregate(rows, max_words=20, manager=quality_manager, cache=False, progress=False)
        answers[key] = out["ticket_aggregate"].item()
        assert out.attrs["llm_magics"]["parameters"]["language"] == key
    assert re.search(r"[\u4e00-\u9fff]{4}", answers["zh"]), answers
    assert re.search(r"\b(der|die|das|und|ist|nicht)\b", answers["de"], re.IGNORECASE), answers
    assert not re.search(r"\b(the|and|is)\b", answers["de"]), answers
