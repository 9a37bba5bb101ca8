from __future__ import annotations

import html
from typing import Any

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from llm_magics import get_manager
from llm_magics.errors import InvalidArgumentError, RunInterruptedError
from llm_magics.widgets import TUNABLE, TunePanel

# Settings for each op that a user would type; the panel must turn them into a call that, run as
# code, gives exactly what "Apply to all" gave.
SETTINGS: dict[str, dict[str, Any]] = {
    "summarize": {"max_words": 8},
    "classify": {"labels": "taste, price, shipping", "method": "llm"},
    "sentiment": {"calibrate": True},
    "extract": {"schema": "product, price:float, problem:[shipping, quality, none]"},
    "filter": {"condition": "mentions a price", "threshold": 0.4},
    "keywords": {"top": 3},
}


def _set(panel: TunePanel, settings: dict[str, Any]) -> None:
    for name, value in settings.items():
        panel.params[name].value = value


def _same(left: Any, right: Any) -> None:
    if isinstance(left, pd.DataFrame):
        pd.testing.assert_frame_equal(left, right)
    else:
        pd.testing.assert_series_equal(left, right)


def test_every_tunable_op_has_its_settings_in_the_panel() -> None:
    assert set(SETTINGS) == set(TUNABLE)


@pytest.mark.parametrize("op", list(SETTINGS))
@pytest.mark.slow
def test_apply_then_copied_code_gives_the_same_result(
    op: str, shell: InteractiveShell, reviews: pd.DataFrame
) -> None:
    panel = reviews.llm.tune(op, "review", sample=3)
    assert panel.name == "reviews"  # found in the notebook's variables
    _set(panel, SETTINGS[op])
    panel.variable.value = f"tuned_{op}"
    panel.apply_button.click()
    assert panel.wait(timeout=600)
    assert panel.error is None, panel.status.value
    applied = shell.user_ns.pop(f"tuned_{op}")
    assert applied is panel.result
    assert len(applied) == len(reviews) and applied.index.equals(reviews.index)
    assert "Wrote <code>tuned_" in panel.status.value

    panel.copy_button.click()
    code = panel.code_view.value
    assert shell.rl_next_input == code == panel.code()
    assert code.startswith(f"tuned_{op} = reviews.llm.{op}(")
    shell.run_cell(code, store_history=False)
    _same(shell.user_ns.pop(f"tuned_{op}"), applied)


@pytest.mark.slow
def test_previews_show_input_and_output_beside_the_previous_one(reviews: pd.DataFrame) -> None:
    panel = reviews.llm.tune("summarize", "review", sample=4)
    assert panel.code() == "review_summary = reviews.llm.summarize('review')"
    panel.params["max_words"].value = 10
    panel.preview_button.click()
    assert panel.wait(timeout=600)
    first = panel.previews[-1]
    assert list(first.table.columns) == ["input", "review_summary"]
    assert first.rows == 4 and first.kwargs == {"max_words": 10}
    assert first.table["input"].tolist() == panel.sample_rows().tolist()
    assert first.table["review_summary"].map(lambda s: len(s.split()) <= 10).all()
    assert "4 rows in" in panel.status.value and "This preview" in panel.current_view.value
    assert panel.previous_view.value == ""

    panel.prompt.value = "In at most {max_words} words, what did the buyer think?"
    panel.preview(wait=True)
    second = panel.previews[-1]
    assert second.kwargs["instruction"] == "In at most 10 words, what did the buyer think?"
    assert "Previous" in panel.previous_view.value
    assert "max_words=10" in panel.previous_view.value  # the first preview's settings
    assert second.table["input"].tolist() == first.table["input"].tolist()  # the same rows

    panel.preview(wait=True)  # nothing changed: every row comes from the cache
    assert panel.previews[-1].cached == 4 and panel.previews[-1].computed == 0
    assert panel.previews[-1].table.equals(second.table)
    panel.sample.value = 6  # a bigger sample keeps the rows it had
    assert set(first.table.index) <= set(panel.sample_rows().index)


def test_the_model_list_follows_the_method(reviews: pd.DataFrame) -> None:
    panel = reviews.llm.tune("classify", "review", labels=["taste", "price"])
    assert panel.params["labels"].value == "taste, price"
    # the default method (llm) asks a chat model, whose prompt can be edited
    assert "default-chat" in panel.model.options and not panel.prompt.disabled
    panel.params["method"].value = "embed"
    assert "default-embed" in panel.model.options and panel.prompt.disabled
    panel.params["method"].value = "llm"
    assert "default-chat" in panel.model.options and not panel.prompt.disabled
    assert panel.model.placeholder == f"default: {get_manager().config.default_chat_model}"
    panel.model.value = "default-chat"
    panel.prompt.value = "Is this text about {labels}?"
    assert panel.kwargs() == {
        "labels": ["taste", "price"],
        "method": "llm",
        "instruction": "Is this text about taste, price?",
        "model": "default-chat",
    }


def test_settings_without_a_widget_are_kept(reviews: pd.DataFrame) -> None:
    panel = reviews.llm.tune("filter", "review", condition="is a gift", baseline="A review.")
    assert panel.kwargs() == {"condition": "is a gift", "baseline": "A review."}
    assert "baseline='A review.'" in panel.code()


def test_mistakes_show_in_the_panel_and_run_nothing(reviews: pd.DataFrame) -> None:
    jobs = len(get_manager().status()["jobs"])
    panel = reviews.llm.tune("extract", "review")
    panel.preview()
    assert "Name the fields to extract" in panel.status.value
    panel.params["schema"].value = "price:money"
    panel.preview()
    assert "unknown type 'money'" in html.unescape(panel.status.value)
    assert panel.code_view.value.startswith("# ")
    panel.params["schema"].value = "price:float"
    panel.variable.value = "not a name"
    panel.apply()
    assert "a Python name" in panel.status.value
    classify = reviews.llm.tune("classify", "review")
    classify.preview()
    assert "Type the labels" in classify.status.value
    classify.params["labels"].value = "taste"
    classify.preview(wait=True)  # one label: the op's own error, from the thread
    assert "at least two distinct" in classify.status.value
    assert isinstance(classify.error, InvalidArgumentError)
    assert not classify.preview_button.disabled and classify.cancel_button.disabled
    assert len(get_manager().status()["jobs"]) == jobs


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.llm.tune("summarise", "review"), "Did you mean 'summarize'"),
        (lambda f: f.llm.tune("summarize", "reveiw"), "Did you mean 'review'"),
        (lambda f: f.llm.tune("summarize", "review", max_word=3), "Did you mean 'max_words'"),
        (lambda f: f.llm.tune("summarize", "review", style="sql"), "style must be"),
        (lambda f: f["review"].llm.tune("summarize", style="mine"), "runs over a DataFrame"),
    ],
)
def test_bad_arguments_say_what_to_do(reviews: pd.DataFrame, call: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        call(reviews)


def test_a_series_panel_writes_a_series_call(
    shell: InteractiveShell, reviews: pd.DataFrame
) -> None:
    texts = reviews["review"]
    shell.user_ns["texts"] = texts
    panel = texts.llm.tune("sentiment")
    assert panel.code() == "texts_sentiment = texts.llm.sentiment()"


@pytest.mark.slow
def test_cancel_stops_apply_and_writes_nothing_then_a_rerun_resumes(
    shell: InteractiveShell,
) -> None:
    frame = pd.DataFrame({"note": [f"Order {i} arrived late and cold." for i in range(10)]})
    panel = TunePanel(frame, "summarize", "note", name="frame", batch_tokens=200)
    panel.variable.value = "cancelled_run"
    seen = []
    progressed = panel._progressed

    def cancel_after_first_batch(job: Any) -> None:
        progressed(job)
        if job.done > 0:
            seen.append(job.done)
        if len(seen) == 1:
            panel.cancel_button.click()

    panel._progressed = cancel_after_first_batch
    panel.apply_button.click()
    assert panel.running and not panel.cancel_button.disabled
    assert panel.wait(timeout=600)
    assert isinstance(panel.error, RunInterruptedError) and panel.error.reason == "cancelled"
    assert "Cancelled" in panel.status.value and "Nothing was written" in panel.status.value
    assert "cancelled_run" not in shell.user_ns
    done = panel.error.done
    assert 0 < done < len(frame)
    assert panel.cancel_button.disabled and not panel.apply_button.disabled

    panel._progressed = progressed
    panel.apply(wait=True)
    assert panel.error is None
    assert shell.user_ns.pop("cancelled_run").notna().all()
    assert panel.result.attrs["llm_magics"]["rows_from_cache"] == done


@pytest.mark.slow
def test_mine_tune_magic_copies_a_mine_cell(shell: InteractiveShell, reviews: pd.DataFrame) -> None:
    panel = shell.run_line_magic("mine", "tune summarize reviews.review --sample 2")
    assert isinstance(panel, TunePanel) and panel.style == "mine"
    assert panel.variable.value == "reviews_mined"
    panel.params["max_words"].value = 6
    # {anything} is no field of the prompt: it stays as typed, and the copied cell keeps it so.
    panel.prompt.value = "Say in {max_words} words what went wrong, {anything}."
    assert panel.code() == (
        "%%mine reviews --out reviews_mined\n"
        "summarize review  max_words=6 instruction='Say in 6 words what went wrong, {{anything}}.'"
    )
    panel.apply(wait=True)
    assert panel.error is None, panel.status.value
    applied = shell.user_ns.pop("reviews_mined")
    assert list(applied.columns) == [*reviews.columns, "review_summary"]
    shell.run_cell(panel.copy_code(), store_history=False)
    pd.testing.assert_frame_equal(shell.user_ns.pop("reviews_mined"), applied)

    python = shell.run_line_magic("mine", "tune filter reviews review --python")
    assert python.style == "python" and python.column == "review"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tune", "the following arguments are required"),
        ("tune summarize", "name the text column"),
        ("tune sumarize reviews.review", "Did you mean 'summarize'"),
        ("tune summarize reviews.reveiw", "Did you mean 'review'"),
        ("tune summarize nowhere.review", "no variable 'nowhere'"),
    ],
)
def test_mine_tune_usage_errors(
    shell: InteractiveShell, reviews: pd.DataFrame, line: str, message: str
) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=message):
        shell.run_line_magic("mine", line)
