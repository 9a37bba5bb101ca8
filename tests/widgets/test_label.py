"""The labelling panel on real reviews with the real embedding model, driven as a person would:
in-process (buttons, keys, order, store, magic) and over the widget protocol in real kernels."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import llm_magics
from llm_magics.datasets import amazon_reviews
from llm_magics.engine import embed
from llm_magics.errors import InvalidArgumentError
from llm_magics.learning.labels import LabelStore, text_key
from llm_magics.learning.methods import fit_linear
from llm_magics.widgets import LabelPanel
from tests.kernels import click, comm_data_until, kernel_client, run

LABELS = ["great", "other"]


@pytest.fixture
def frame() -> pd.DataFrame:
    """Thirty real reviews (a fresh copy per test: the panel writes into it), a shuffled index."""
    frame = amazon_reviews("test").iloc[100:130].copy()
    frame.index = pd.Index(np.random.default_rng(3).permutation(30) + 700, name="id")
    return frame


def _truth(panel: LabelPanel, frame: pd.DataFrame) -> str:
    return str(frame["score"].iat[panel.current])


def test_buttons_and_keys_label_skip_and_undo(frame: pd.DataFrame) -> None:
    panel = frame.llm.label("review", LABELS, into="first")
    assert frame["first"].dtype == object and frame["first"].isna().all()
    shown = panel.current
    assert html.escape(frame["review"].iat[shown]) in panel.text_view.value
    panel.buttons["great"].click()
    assert frame["first"].iat[shown] == "great"
    assert frame["first"].notna().sum() == 1 and panel.current != shown

    second = panel.current
    panel.keys.value = "2"  # the key box: 2 is the second label
    assert panel.keys.value == "" and frame["first"].iat[second] == "other"
    third = panel.current
    panel.keys.value = "s"
    assert third in panel.skipped and pd.isna(frame["first"].iat[third])
    assert panel.progress().startswith("2 of 30 labelled · 1 skipped · 1 great / 1 other · ")
    stored = LabelStore("first").read()
    assert {v["label"] for v in stored.values()} == {"great", "other"}

    panel.keys.value = "u"  # undo the skip: the skipped row comes back
    assert panel.current == third and not panel.skipped
    panel.undo_button.click()  # undo the label "other"
    assert panel.current == second and pd.isna(frame["first"].iat[second])
    assert list(LabelStore("first").read()) == [text_key(frame["review"].iat[shown])]
    assert "back by undo" in panel.progress_text.value
    panel.undo()
    assert not panel.undo() and panel.status.value == "Nothing to undo."
    assert frame["first"].isna().all() and LabelStore("first").read() == {}


def test_random_rows_first_then_the_most_uncertain(frame: pd.DataFrame) -> None:
    panel = frame.llm.label("review", LABELS, into="order", warmup=4, seed=1)
    assert panel.wait(timeout=300) and panel.error is None
    random_order = list(panel.order)
    shown = []
    while not panel._ready():
        assert panel.choice.how == "random"
        shown.append(panel.current)
        panel.label_as(_truth(panel, frame))
    assert shown == random_order[: len(shown)] and len(shown) >= 4  # the seeded shuffle, in order

    for _ in range(3):
        assert panel.wait(timeout=300)
        panel._advance()  # what the panel shows once the fit on every label so far is in
        assert panel.choice.how == "uncertain"
        assert "most uncertain" in panel.progress()
        # The model of classify(examples=..., method="linear"), fitted independently: the shown
        # row has the lowest top probability.
        labelled = frame["order"].notna().to_numpy()
        vectors = embed(frame["review"].tolist(), progress=False).vectors
        codes = np.unique(frame["order"][labelled].astype(str), return_inverse=True)[1]
        model = fit_linear(vectors[labelled], codes)
        top = model.predict_proba(vectors).max(axis=1)
        top[labelled] = np.inf
        assert top[panel.current] == pytest.approx(top.min(), abs=1e-6)
        assert panel.choice.p == pytest.approx(top.min(), abs=1e-6)
        panel.label_as(_truth(panel, frame))


def test_labels_survive_in_the_store_and_come_back_on_a_fresh_frame(frame: pd.DataFrame) -> None:
    panel = frame.llm.label("review", LABELS, into="kept")
    given = {}
    for _ in range(3):
        given[panel.current] = _truth(panel, frame)
        panel.label_as(given[panel.current])
    path = LabelStore("kept").path
    assert path.name == "kept.json" and path.parent.name == "labels"
    assert json.loads(path.read_text())["format"] == 1

    fresh = amazon_reviews("test").iloc[100:130].iloc[::-1]  # another order, another index
    again = fresh.llm.label("review", LABELS, into="kept")
    assert again.restored == 3 and "Restored 3 labels" in again.status.value
    restored = fresh["kept"].dropna()
    assert sorted(restored.tolist()) == sorted(given.values())
    assert set(restored.index) == {100 + position for position in given}
    pd.testing.assert_series_equal(
        llm_magics.labels.restore(fresh["review"], "kept"), fresh["kept"]
    )
    table = llm_magics.labels.load("kept")
    assert len(table) == 3 and str(table["time"].dtype).endswith("UTC]")
    assert fresh.index[again.current] not in restored.index  # labelled rows are not shown again


def test_a_series_panel_labels_its_own_series(frame: pd.DataFrame) -> None:
    texts = frame["review"]
    panel = texts.llm.label(LABELS, into="series_labels")
    panel.label_as("other")
    assert panel.labels.name == "series_labels" and panel.labels.index.equals(texts.index)
    assert panel.labels.notna().sum() == 1 and "series_labels" not in frame.columns


def test_existing_labels_are_kept_and_count(frame: pd.DataFrame) -> None:
    frame["mine"] = [np.nan] * 28 + ["great", "other"]
    panel = frame.llm.label("review", LABELS, into="mine")
    assert panel.progress().startswith("2 of 30 labelled · 0 skipped · 1 great / 1 other")
    assert frame["mine"].iat[-1] == "other"


def test_a_big_frame_is_labelled_from_a_seeded_pool(frame: pd.DataFrame) -> None:
    frame["pooled"] = [np.nan] * 29 + ["great"]  # a labelled row outside the pool still trains
    panel = frame.llm.label("review", LABELS, into="pooled", pool=8, seed=2)
    again = frame.copy().llm.label("review", LABELS, into="pooled_again", pool=8, seed=2)
    assert len(panel.order) == 8 and list(panel.order) == list(again.order)
    assert 29 in panel._embedded and len(panel._embedded) == 8 + (29 not in panel.order)
    seen = set()
    while panel.current is not None:
        seen.add(panel.current)
        panel.skip()
    assert seen == set(panel.order) - {29}
    assert "0 of 30 labelled" not in panel.progress() and panel.skip_button.disabled


def test_one_label_per_text_fills_every_row_with_that_text_and_undo_clears_them() -> None:
    texts = ["same text", "alpha", "Same  text ", "beta", "same text", "gamma"]
    frame = pd.DataFrame({"r": texts})  # "Same  text " has another case: another text
    panel = frame.llm.label("r", LABELS, into="twins", warmup=100)
    twins = [0, 4]
    shown = []
    while panel.current is not None:
        shown.append(panel.current)
        panel.label_as("great")
        assert panel.wait(timeout=300)
    assert len(shown) == 5 and len(set(shown) & set(twins)) == 1  # the text is shown once
    assert frame["twins"].tolist() == ["great"] * 6
    assert panel.progress().startswith("6 of 6 labelled")  # the progress counts rows
    assert len(LabelStore("twins").read()) == 5

    while panel.history[-1][1] not in twins:  # undo back to the shared text's label
        panel.undo()
    panel.undo()
    assert frame["twins"].iloc[twins].isna().all() and panel.current in twins
    assert text_key("same text") not in LabelStore("twins").read()
    fresh = pd.DataFrame({"r": texts})
    fresh.llm.label("r", LABELS, into="twins")
    pd.testing.assert_series_equal(fresh["twins"], frame["twins"])  # the store agrees

    panel.label_as("other")  # labelled again: both rows, one stored key
    assert frame["twins"].iloc[twins].tolist() == ["other", "other"]
    again = pd.DataFrame({"r": texts[::-1]})
    labelled = int(frame["twins"].notna().sum())
    assert again.llm.label("r", LABELS, into="twins").restored == labelled
    assert again["twins"].tolist() == frame["twins"].tolist()[::-1]

    skipping = pd.DataFrame({"r": texts}).llm.label("r", LABELS, into="twins_skip")
    seen = []
    while skipping.current is not None:
        seen.append(skipping.current)
        skipping.skip()
    assert len(seen) == 5 and skipping.skipped == set(range(6))


def test_labels_that_are_not_strings_stay_as_given() -> None:
    frame = amazon_reviews("test").iloc[:6].copy()
    panel = frame.llm.label("review", [0, 1], into="ints")
    first = panel.current
    panel.label_as(0)
    second = panel.current
    panel.label_as("1")  # the str of a label names it too: the buttons' and keys' name
    panel.keys.value = "2"
    assert frame["ints"].dtype == object and frame["ints"].notna().sum() == 3
    assert frame["ints"].iat[first] == 0 and type(frame["ints"].iat[first]) is int
    assert frame["ints"].iat[second] == 1 and type(frame["ints"].iat[second]) is int
    assert panel.progress().startswith("3 of 6 labelled · 0 skipped · 1 0 / 2 1")
    with pytest.raises(InvalidArgumentError, match="2 is not one of the labels: 0, 1"):
        panel.label_as(2)
    restored = llm_magics.labels.restore(frame["review"], "ints")
    assert restored.dropna().map(type).eq(int).all()
    pd.testing.assert_series_equal(restored, frame["ints"], check_names=False)

    fresh = amazon_reviews("test").iloc[:6].copy()
    assert fresh.llm.label("review", [0, 1], into="ints").restored == 3
    assert fresh["ints"].dropna().map(type).eq(int).all()

    floats = amazon_reviews("test").iloc[:6].copy()  # 0/1 with NaN, as read from a CSV: floats
    floats["read"] = [0.0, np.nan, 1.0, np.nan, np.nan, 1.0]
    panel = floats.llm.label("review", [0, 1], into="read")
    assert panel.progress().startswith("3 of 6 labelled · 0 skipped · 1 0 / 2 1")
    assert floats["read"].dtype == object
    assert floats["read"].dropna().tolist() == [0, 1, 1]
    assert floats["read"].dropna().map(type).eq(int).all()
    with pytest.raises(InvalidArgumentError, match="holds values not in labels="):
        floats.llm.label("review", [0, 2], into="read")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"labels": ["great"]}, "at least two distinct"),
        ({"labels": "great, other"}, "a list of at least two labels"),
        ({"labels": ["a", "a"]}, "at least two distinct"),
        ({"labels": LABELS, "into": "review"}, "is the text column"),
        ({"labels": ["good", "bad"], "into": "score"}, "holds values not in labels="),
        ({"labels": LABELS, "column": "reveiw"}, "Did you mean 'review'"),
    ],
)
def test_mistakes_are_one_line_errors(frame: pd.DataFrame, arguments: dict, message: str) -> None:
    column = arguments.pop("column", "review")
    labels = arguments.pop("labels")
    with pytest.raises(InvalidArgumentError, match=message):
        frame.llm.label(column, labels, **arguments)


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "llm_magics")
    yield shell
    shell.user_ns.pop("reviews", None)


def test_mine_label_magic(shell: InteractiveShell, frame: pd.DataFrame) -> None:
    shell.user_ns["reviews"] = frame
    panel = shell.run_line_magic("mine", "label reviews.review labels=[great, other] into=magic")
    assert isinstance(panel, LabelPanel) and panel.names == LABELS and panel.into == "magic"
    panel.label_as("great")
    assert frame["magic"].notna().sum() == 1
    assert "%mine label DATAFRAME.COLUMN" in repr(shell.run_line_magic("mine", "help"))
    assert repr(shell.run_line_magic("mine", "help label")).startswith("%mine label DATAFRAME")
    for line, message in [
        ("label reviews.review", "name the labels"),
        ("label reviews.review labels=[a, b] int=x", "Did you mean 'into'"),
        ("label reviews.reveiw labels=[a, b]", "Did you mean 'review'"),
        ("label reviews.review labels=[a]", "at least two distinct"),
    ]:
        with pytest.raises(UsageError, match=message):
            shell.run_line_magic("mine", line)


# ------------------------------------------------------------------------ in a real kernel

SETUP = """
%load_ext llm_magics
import json
from llm_magics.datasets import amazon_reviews
frame = amazon_reviews("test").iloc[200:220].copy()
panel = frame.llm.label("review", ["great", "other"], into="kernel_label")
print(json.dumps({"great": panel.buttons["great"].model_id, "other": panel.buttons["other"].model_id,
                  "skip": panel.skip_button.model_id, "undo": panel.undo_button.model_id,
                  "keys": panel.keys.model_id, "progress": panel.progress_text.model_id}))
"""
CHECK = "print(json.dumps(frame['kernel_label'].dropna().to_dict()), panel.restored)"


@pytest.mark.slow
def test_clicks_in_a_kernel_write_the_column_and_a_new_kernel_restores_them() -> None:
    with kernel_client() as kernel:
        _, printed = run(kernel, SETUP)
        ids = json.loads(printed.strip().splitlines()[-1])
        click(kernel, ids["great"])
        click(kernel, ids["skip"])
        click(kernel, ids["other"])
        click(kernel, ids["undo"])  # takes back "other"
        data = {"method": "update", "state": {"value": "2"}, "buffer_paths": []}
        kernel.shell_channel.send(
            kernel.session.msg("comm_msg", {"comm_id": ids["keys"], "data": data})
        )
        comm_data_until(
            kernel,
            ids["progress"],
            lambda d: "2 of 20 labelled · 1 skipped" in d.get("state", {}).get("value", ""),
        )
        _, printed = run(kernel, CHECK)
        labelled = json.loads(printed.split("\n")[0].rsplit(" ", 1)[0])
        assert sorted(labelled.values()) == ["great", "other"]

    with kernel_client() as kernel:  # a restart: a new kernel, the same LLM_MAGICS_CACHE
        _, printed = run(kernel, SETUP)
        _, printed = run(kernel, CHECK)
        restored, count = printed.strip().rsplit(" ", 1)
        assert json.loads(restored) == labelled and count == "2"


def test_the_background_embedding_shows_no_warning_for_rows_cut_to_the_encoder(
    frame: pd.DataFrame,
) -> None:
    import warnings

    frame.iloc[0, frame.columns.get_loc("review")] = " ".join(frame["review"]) * 3  # > 512 tokens
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel = frame.llm.label("review", LABELS, into="long")
        assert panel.wait(60)
    assert [str(w.message) for w in caught if "tokens" in str(w.message)] == []
    assert panel.error is None
