from __future__ import annotations

import inspect

import pandas as pd
import pytest

import llm_magics  # noqa: F401  (registers the accessors)
from llm_magics.accessor import column_ops
from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.base import OPERATIONS as SPECS_OPS
from llm_magics.ops.base import SPECS


def test_every_column_op_is_a_method_of_both_accessors() -> None:
    frame = pd.DataFrame({"review": ["x"]})
    expected = [name for name, spec in SPECS.items() if spec.input == "column"]
    assert column_ops() == expected
    assert {"classify", "clean", "summarize", "topics"} <= set(expected)
    assert "features" not in expected  # an op of a frame: its own method, taking cols
    for name in expected:
        assert name in dir(frame.llm) and name in dir(frame["review"].llm)
    assert "features" in dir(frame.llm)


def test_an_unknown_method_suggests_the_nearest_op() -> None:
    with pytest.raises(AttributeError, match=r"no attribute 'sumarize'\. Did you mean 'summarize'"):
        pd.Series(["x"]).llm.sumarize  # noqa: B018
    assert not hasattr(pd.Series(["x"]).llm, "_repr_html_")


def test_series_and_frame_methods_carry_the_op_signature() -> None:
    frame = pd.DataFrame({"review": ["x"]})
    for name in column_ops():
        on_series = inspect.signature(getattr(frame["review"].llm, name))
        on_frame = inspect.signature(getattr(frame.llm, name))
        assert next(iter(on_frame.parameters)) == "column"
        assert list(on_frame.parameters)[1:] == list(on_series.parameters)
        assert getattr(frame.llm, name).__doc__
        assert "\n    column\n" in getattr(frame.llm, name).__doc__
        assert "\n    texts\n" not in getattr(frame.llm, name).__doc__
        assert "\n    texts\n" not in getattr(frame["review"].llm, name).__doc__


def test_frame_and_series_give_the_same_result_and_never_mutate() -> None:
    frame = pd.DataFrame({"review": ["<b>Hi</b> a@b.org", None], "n": [1, 2]}, index=[5, 3])
    before = frame.copy()
    assert frame.llm.clean("review").equals(frame["review"].llm.clean())
    assert frame.llm.clean().index.tolist() == [5, 3]
    pd.testing.assert_frame_equal(frame, before)


def test_a_missing_column_names_the_columns() -> None:
    frame = pd.DataFrame({"review": ["x"], "stars": [5]})
    with pytest.raises(
        InvalidArgumentError,
        match=r"No column 'reviews'\. Did you mean 'review'\?.*Columns: review, stars",
    ):
        frame.llm.summarize("reviews")


def test_an_unknown_keyword_on_the_accessor_lists_the_valid_ones() -> None:
    with pytest.raises(
        InvalidArgumentError, match="Valid arguments: html, unicode, whitespace, pii"
    ):
        pd.Series(["x"]).llm.clean(htm=False)


@pytest.mark.slow
def test_empty_frames_give_empty_results_of_the_right_shape() -> None:
    frame = pd.DataFrame({"review": pd.Series([], dtype=object)})
    assert frame.llm.sentiment("review", progress=False).columns.tolist() == [
        "sentiment",
        "sentiment_score",
    ]
    labels = frame.llm.classify("review", ["a", "b"], progress=False)
    assert labels.shape == (0, 4) and str(labels["probability"].dtype) == "float64"
    assert frame.llm.summarize("review", progress=False).empty
    assert str(frame.llm.filter("review", "is short", progress=False).dtype) == "boolean"
    assert frame.llm.embed("review", progress=False).shape == (0, 384)
    assert frame.llm.keywords("review", progress=False).empty
    assert frame.llm.topics("review", progress=False).k == 0
    assert frame.llm.extract("review", {"n": int}, progress=False).shape == (0, 1)
    assert frame.llm.query("is short", "review", progress=False).empty


ARGUMENTS = {  # each op's arguments beyond the text, for a call that runs
    "classify": (["praise", "complaint"],),
    "extract": ({"product": str},),
    "filter": ("the review is a complaint",),
    "top_k": ("a broken item",),
    "aggregate": ("What do the reviews say?",),
}


@pytest.mark.parametrize("name", column_ops())
def test_every_op_result_in_every_form_says_what_computed_it(name: str) -> None:
    frame = pd.DataFrame({
        "review": ["The kettle broke after a week.", "Lovely tea, fast delivery.", None,
                   "The kettle leaks and the lid broke."],
        "shop": ["a", "a", "b", "b"],
    }, index=[7, 3, 5, 1])  # fmt: skip
    arguments = ARGUMENTS.get(name, ())
    extra = {"k": 2} if name == "top_k" else {"k": 2} if name == "topics" else {}
    options = (
        {"progress": False} if "progress" in inspect.signature(SPECS_OPS[name]).parameters else {}
    )
    results = {
        "series": getattr(frame["review"].llm, name)(*arguments, **extra, **options),
        "frame": getattr(frame.llm, name)("review", *arguments, **extra, **options),
    }
    if name == "aggregate":
        results["frame, by"] = frame.llm.aggregate("review", *arguments, by="shop", **options)
    for form, result in results.items():
        meta = getattr(result, "attrs", {}).get("llm_magics")
        assert meta is not None, f"{name} on a {form}: no attrs['llm_magics']"
        assert meta["op"] == name, (form, meta["op"])


def test_the_frame_methods_say_what_computed_them_too() -> None:
    frame = pd.DataFrame({"review": ["The kettle broke.", "Lovely tea."], "n": [1, 2]})
    shops = pd.DataFrame({"shop": ["kettles and lids", "tea leaves"]})
    results = {
        "features": frame.llm.features("review", progress=False),
        "features ": frame["review"].llm.features(progress=False),
        "query": frame.llm.query("the review is a complaint", "review", progress=False),
        "join": frame.llm.join(
            shops, "the review is about something the shop sells", progress=False
        ),
        "join ": frame["review"].llm.join(
            shops, "the review is about something the shop sells", progress=False
        ),
    }
    for name, result in results.items():
        assert result.attrs["llm_magics"]["op"] == name.strip(), name


def test_a_name_clash_is_settled_the_pandas_way() -> None:
    frame = pd.DataFrame(
        {"review": ["Lovely tea, fresh taste.", "The box came late."], "label": ["mine", "mine"]}
    )
    labelled = frame.llm.classify("review", ["taste", "delivery"], method="embed", progress=False)
    assert frame.columns.tolist() == ["review", "label"]  # the accessor added nothing
    with pytest.raises(ValueError, match="columns overlap"):
        frame.join(labelled)
    suffix = (
        {"suffixes": ("", "_model")}
        if "suffixes" in inspect.signature(pd.DataFrame.join).parameters
        else {"rsuffix": "_model"}  # pandas before 3.1
    )
    joined = frame.join(labelled, **suffix)
    assert joined["label"].tolist() == ["mine", "mine"]
    assert joined["label_model"].tolist() == ["taste", "delivery"]
    assert frame.assign(label=labelled["label"])["label"].tolist() == ["taste", "delivery"]
