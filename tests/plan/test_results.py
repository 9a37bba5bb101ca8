"""A run shows the quality of each step whose result carries one: ``repr`` (what ``%%mine`` and
``llm-mine run`` print), the HTML view (``%%mine`` output and ``llm-mine run --report``) and
``to_dict``."""

from __future__ import annotations

import html

import pandas as pd
import pytest

from llm_magics import evaluate, run_mine
from llm_magics.datasets import amazon_reviews
from llm_magics.errors import LlmMagicsWarning
from llm_magics.plan.export import report_html
from llm_magics.widgets.tune import _described


@pytest.fixture(scope="module")
def labelled_run() -> tuple:
    """A real ``sentiment`` step over 16 reviews whose result carries its accuracy on the
    reviews' own labels (``score``), as an op given labelled examples records it."""
    frame = amazon_reviews("test").head(16)
    run = run_mine(frame, "sentiment review -> mood", progress=False)
    result = run.outputs[1]
    predicted = run.frame["mood"].map({"positive": "great"}).fillna("other")
    found = evaluate(predicted, frame["score"], source="16 labelled rows (not used for fitting)")
    result.attrs["llm_magics"] |= {"quality": found.to_dict(), "method": "zero-shot"}
    return run, found


def test_a_run_shows_each_steps_quality(labelled_run: tuple) -> None:
    run, found = labelled_run
    line = f"line 1 (sentiment review -> mood): {found} · method zero-shot"
    assert run.qualities() == [line]
    assert f"Quality:\n{line}" in repr(run)
    assert run.to_dict()["quality"] == [line]
    page = report_html(run, title="t", plan_text="sentiment review -> mood")
    assert "<b>Quality</b>" in run._repr_html_() and "<b>Quality</b>" in page
    assert "n=16, 16 labelled rows (not used for fitting)" in page
    assert "the interval is wide: label more rows to narrow it" in page  # 16 labels: wide


def test_the_tune_panels_summary_says_the_quality(labelled_run: tuple) -> None:
    run, found = labelled_run
    result = run.outputs[1]
    assert _described(result).endswith(html.escape(f"; {found} · method zero-shot"))
    plain = pd.Series(["a", None])
    assert _described(plain) == "2 rows, 1 with a value"


def test_a_run_without_labels_shows_no_quality() -> None:
    run = run_mine(amazon_reviews("test").head(4), "clean review", progress=False)
    assert run.qualities() == [] and "Quality" not in repr(run)
    assert "<b>Quality</b>" not in run._repr_html_()


@pytest.mark.slow
def test_predict_on_a_mostly_unlabelled_target_says_so_and_shows_its_quality() -> None:
    # what the labelling panel leaves: labels for 30 rows of 60, NaN elsewhere
    frame = amazon_reviews("train").head(60).copy()
    frame["label"] = frame["score"].where(frame.index < 30)
    plan = "predict label from review -> guess  kinds=['stats'] budget=0 folds=2"
    with pytest.warns(LlmMagicsWarning, match="30 of 60 rows have no 'label'"):
        run = run_mine(frame, plan, progress=False)
    assert "30 rows without a 'label': predicted" in run.steps[0].note
    assert run.frame["guess"].notna().all()
    assert run.frame.loc[30:, "guess"].equals(run.result.unlabelled.rename("guess"))
    assert run.qualities() == [f"predict label: {run.result.quality_text()}"]
    assert "n=6, held-out test rows" in repr(run)
