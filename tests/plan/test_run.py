"""Running plans through the Python API (``run_mine`` / ``mine_plan``) on real reviews."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llm_magics import MineRun, PlanEstimate, get_manager, run_mine
from llm_magics.datasets import amazon_reviews
from llm_magics.engine import get_result_cache
from llm_magics.errors import (
    InvalidArgumentError,
    LlmMagicsWarning,
    ModelLoadError,
    RunInterruptedError,
)
from llm_magics.plan import PlanSyntaxError, parse_plan
from llm_magics.plan.runner import mine_plan


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    frame = amazon_reviews("test").head(40).copy()
    frame.loc[frame.index[2], "review"] = "<p>Great <b>tea</b>, write to me@example.com</p>"
    frame.loc[frame.index[5], "review"] = None
    return frame


def test_steps_add_named_columns_and_the_input_is_unchanged(reviews: pd.DataFrame) -> None:
    before = reviews.copy()
    run = run_mine(
        reviews.head(12),
        "clean review\nsentiment review -> mood\nembed review -> vec  dims=3\nkeywords review top=3",
        progress=False,
    )
    assert isinstance(run, MineRun) and run.completed and run.error is None
    pd.testing.assert_frame_equal(reviews, before)
    frame = run.frame
    assert run.new_columns == [
        "review",
        "mood",
        "mood_score",
        "vec_0",
        "vec_1",
        "vec_2",
        "review_keywords",
    ]
    assert frame["mood"].dropna().isin(["positive", "negative", "neutral"]).all()
    assert frame["mood_score"].dtype == "float64" and frame["vec_0"].dtype == "float32"
    assert frame.loc[2, "review"] == "Great tea, write to [EMAIL]"
    missing = frame["review"].isna()
    assert frame.loc[missing, "mood"].isna().all()
    table = run.table()
    assert table["line"].tolist() == [1, 2, 3, 4]
    assert table.loc[1, "models"] == "default-chat" and table.loc[0, "models"] == ""
    assert (table["computed"] + table["from cache"]).iloc[1] == frame["review"].notna().sum()


def test_sample_draws_rows_in_their_order(reviews: pd.DataFrame) -> None:
    run = run_mine(reviews, "clean review", sample=12, progress=False)
    assert len(run.frame) == 12 and run.input_rows == 40
    assert run.frame.index.is_monotonic_increasing and run.frame.index.isin(reviews.index).all()
    again = run_mine(reviews, "clean review", sample=12, progress=False)
    assert run.frame.index.equals(again.frame.index)
    assert "(sampled from 40)" in repr(run)


def test_a_k_the_sample_cannot_support_is_lowered_with_a_warning(reviews: pd.DataFrame) -> None:
    with pytest.warns(LlmMagicsWarning, match=r"k=6 but the texts hold only 4 distinct text"):
        run = run_mine(reviews, "topics review  k=6", sample=4, progress=False)
    assert run.completed and len(run.frame) == 4 and run.frame["review"].nunique() == 4
    assert sorted(run.frame["topic"]) == [0, 1, 2, 3]


@pytest.mark.slow
def test_a_rerun_comes_from_the_cache(reviews: pd.DataFrame) -> None:
    plan = 'sentiment review\nfilter review "mentions coffee" -> coffee'
    first = run_mine(reviews, plan, sample=8, progress=False)
    again = run_mine(reviews, plan, sample=8, progress=False)
    assert again.table()["computed"].sum() == 0 and again.table()["from cache"].sum() > 0
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert first.frame["coffee"].dtype == "boolean"
    assert "of rows match" in again.steps[1].note


@pytest.mark.slow
def test_the_issue_example_produces_every_column_with_its_dtype(reviews: pd.DataFrame) -> None:
    run = run_mine(
        reviews,
        """
        clean review
        summarize review -> summary  max_words=15
        sentiment review
        keywords review  top=5
        topics review  k=3
        extract review -> item, price:float, problem:[shipping, quality, price, none]
        filter review "mentions delivery" -> about_delivery
        predict score from review, product  budget=2 folds=3
        explain use_model=False
        """,
        progress=False,
    )
    frame = run.frame

    def text(series: pd.Series) -> bool:
        return bool(series.dropna().map(lambda v: isinstance(v, str)).all())

    expected = {
        "summary": text,
        "sentiment": text,
        "sentiment_score": pd.api.types.is_float_dtype,
        "review_keywords": pd.api.types.is_object_dtype,
        "topic": lambda s: str(s.dtype) == "Int64",
        "topic_label": text,
        "item": text,
        "price": pd.api.types.is_float_dtype,
        "problem": lambda s: isinstance(s.dtype, pd.CategoricalDtype),
        "about_delivery": pd.api.types.is_bool_dtype,
        "score_predicted": lambda s: s.dropna().isin(["great", "other"]).all(),
    }
    for column, check in expected.items():
        assert check(frame[column]), (column, frame[column].dtype)
    assert set(frame["problem"].dropna()) <= {"shipping", "quality", "price", "none"}
    assert frame["topic"].dropna().between(0, 2).all() and run.topics["review"].k == 3
    assert frame["review_keywords"].dropna().map(len).le(5).all()
    assert frame["summary"].dropna().str.split().str.len().le(15).all()
    result = run.result
    assert result is not None and result.target == "score"
    # predict learns from the named columns and the columns the plan made (lists left out)
    assert frame["product"].equals(reviews.loc[frame.index, "product"])  # the input, kept
    assert {"review", "product", "item", "sentiment_score", "price", "problem"} <= set(
        result.columns.features
    )
    assert "review_keywords" not in result.columns.features
    assert "list columns left out: review_keywords" in run.steps[7].note
    cut = [w for s in run.steps for w in s.warnings if "longer than 512 tokens" in w]
    assert len(cut) == 1  # said once for the plan, not once per embedding step
    assert run.narrative is not None and run.narrative.source == "template"
    assert f"{result.metrics[result.metric]:.3f}" in run.narrative.text
    html = run._repr_html_()
    for piece in ("New columns", "Steps", "Topics of", "Held-out test", "Narrative"):
        assert piece in html
    assert "9 of 9 steps on 40 rows" in repr(run)
    assert run.to_dict()["result"]["target"] == "score"


def test_model_sets_the_chat_model_for_the_run_only(
    reviews: pd.DataFrame, tiny_models: list
) -> None:
    config = get_manager().config
    before = config.default_chat_model
    tiny = str(tiny_models[0])
    with pytest.raises(ModelLoadError, match="an encoder: it cannot generate text"):
        run_mine(reviews, "summarize review max_words=3", sample=2, model=tiny, progress=False)
    assert config.default_chat_model == before
    run = run_mine(reviews, "sentiment review", sample=2, model="default-chat", progress=False)
    assert isinstance(run, MineRun) and run.steps[0].models == ["default-chat"]
    assert config.default_chat_model == before
    # Only the chat-model calls get it: classify by embeddings keeps the embedding model.
    run = run_mine(
        reviews,
        "classify review labels=[good, bad] method=embed",
        sample=2,
        model=tiny,
        progress=False,
    )
    assert isinstance(run, MineRun) and run.steps[0].models == ["default-embed"]


def test_engine_is_the_old_name_of_backend(reviews: pd.DataFrame) -> None:
    with pytest.warns(FutureWarning, match=r"run_mine\(engine=\.\.\.\) is now run_mine\(backend="):
        run = run_mine(reviews, "clean review", sample=3, engine="local", progress=False)
    assert isinstance(run, MineRun) and run.completed
    with pytest.raises(InvalidArgumentError, match="Unknown backend 'rya'"):
        mine_plan(reviews, parse_plan("clean review"), backend="rya", progress=False)


@pytest.mark.slow
def test_an_interrupted_plan_keeps_the_steps_before_it_and_resumes(reviews: pd.DataFrame) -> None:
    manager = get_manager()
    plan = parse_plan(
        "clean review\nsummarize review -> s max_words=8 batch_tokens=512\nsentiment review"
    )

    def stop_after_first_batch(job: object) -> None:
        if getattr(job, "primitive", "") == "generate" and job.done > 0 and job.state == "running":  # type: ignore[attr-defined]
            raise KeyboardInterrupt

    partial = MineRun(plan=plan, frame=reviews)
    remove = manager.add_job_listener(stop_after_first_batch)
    try:
        with pytest.raises(RunInterruptedError, match="run it again to resume"):
            mine_plan(reviews, plan, sample=30, progress=False, run=partial)
    finally:
        remove()
    assert (
        not partial.completed
        and partial.error is not None
        and "line 2 (summarize)" in partial.error
    )
    assert [s.line for s in partial.steps] == [1] and "s" not in partial.frame
    resumed = mine_plan(reviews, plan, sample=30, progress=False)
    step = resumed.steps[1]
    assert 0 < step.cached < step.computed + step.cached == resumed.frame["review"].notna().sum()


@pytest.mark.slow
def test_dry_run_times_a_few_rows_and_keeps_nothing(reviews: pd.DataFrame) -> None:
    cache = get_result_cache()
    entries = cache.size()["entries"]
    estimate = run_mine(
        reviews,
        "summarize review -> s max_words=5\nkeywords s top=2\npredict score from review",
        dry_run=True,
    )
    assert isinstance(estimate, PlanEstimate)
    assert cache.size()["entries"] == entries
    assert estimate.rows == len(reviews) and estimate.probe_rows == 8
    steps = estimate.steps
    assert steps["line"].tolist() == [1, 2, 3]
    assert (steps["estimate_seconds"] > 0).all()
    assert np.allclose(
        steps["estimate_seconds"], (steps["probe_seconds"] * len(reviews) / 8).round(1), atol=0.11
    )
    assert "model selection" in steps.loc[2, "note"]
    assert set(estimate.models["model"]) == {"default-chat", "default-embed"}
    assert "Dry run: 3 steps on 40 rows" in repr(estimate) and "<table" in estimate._repr_html_()


@pytest.mark.slow
def test_a_dry_run_says_how_a_scored_step_over_many_rows_was_timed(
    reviews: pd.DataFrame,
) -> None:
    many = pd.concat([reviews] * 6, ignore_index=True)  # 240 rows: more than the cascade samples
    plan = "sentiment review\nsummarize review -> s max_words=5"
    notes = run_mine(many, plan, dry_run=True).steps["note"].tolist()
    assert "quality model alone" in notes[0] and "cascade" in notes[0]
    assert "cascade" not in notes[1]  # generated text: no cascade
    few = run_mine(reviews, plan, dry_run=True).steps["note"].tolist()
    assert not any("cascade" in n for n in few)  # 40 rows: the quality model alone anyway
    named = run_mine(many, plan, dry_run=True, model="default-chat").steps["note"].tolist()
    assert not any("cascade" in n for n in named)


def test_plan_errors_come_before_anything_runs(reviews: pd.DataFrame) -> None:
    jobs = len(get_manager().status()["jobs"])
    with pytest.raises(PlanSyntaxError, match="line 2, column 11: no column 'reveiw'"):
        run_mine(reviews, "sentiment review\nsentiment reveiw", progress=False)
    assert len(get_manager().status()["jobs"]) == jobs
    with pytest.raises(InvalidArgumentError, match="makes 2 column"):
        run_mine(reviews, "sentiment review -> a, b, c", sample=2, progress=False)
    with pytest.raises(InvalidArgumentError, match="pandas DataFrame"):
        run_mine(reviews["review"], "clean review")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="positive number"):
        run_mine(reviews, "clean review", sample=0)


@pytest.mark.slow
def test_a_plan_lists_one_job_per_step_and_a_rerun_computes_nothing(
    reviews: pd.DataFrame,
) -> None:
    manager = get_manager()
    predict = "predict score from review kinds=['embedding']"
    plan = f"clean review\n{predict}"

    def new_jobs(before: set[str]) -> list[dict]:
        return [j for j in manager.status()["jobs"] if j["id"] not in before]

    before = {j["id"] for j in manager.status()["jobs"]}
    run = run_mine(reviews, plan, sample=30, progress=False)
    first = new_jobs(before)
    # Not one job per embedding call of each cross-validation fold: one per line.
    assert [j["primitive"] for j in first] == ["clean review", predict]
    assert [j["state"] for j in first] == ["done", "done"]
    clean, mined = first
    assert clean["done"] == clean["total"] == 30 and clean["model"] == ""
    # A step counts the rows of its engine calls, as its report does.
    assert mined["model"] == "default-embed"
    assert mined["done"] == run.steps[1].computed + run.steps[1].cached >= 29
    assert mined["cached"] == run.steps[1].cached

    before |= {j["id"] for j in first}
    run_mine(reviews, plan, sample=30, progress=False)
    (_, again) = new_jobs(before)
    assert again["cached"] == again["done"] == mined["done"]
    assert again["rows_per_second"] == 0  # rows served from the cache are not computed


def test_a_column_only_the_run_names_is_not_replaced_silently(reviews: pd.DataFrame) -> None:
    # classify's p_LABEL columns are known when it runs; the frame already has one of them.
    frame = reviews.head(6).assign(p_taste=1.0)
    plan = "classify review  labels=['taste', 'price']"
    run = MineRun(plan=parse_plan(plan), frame=frame)
    with pytest.raises(PlanSyntaxError, match="would replace the column 'p_taste' of the frame"):
        mine_plan(frame, parse_plan(plan), progress=False, run=run)
    assert run.error is not None and "p_taste" in run.error and not run.steps
    replaced = run_mine(frame, f"{plan}  overwrite=True", progress=False).frame
    assert replaced["p_taste"].dropna().between(0, 1).all()
    assert not (replaced["p_taste"] == 1.0).any()


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty result cache for this test (the models stay loaded)."""
    monkeypatch.setattr(get_manager().config, "cache_dir", str(tmp_path))
    return tmp_path


def test_step_counters_count_the_rows_the_user_gave(
    reviews: pd.DataFrame, fresh_cache: Path
) -> None:
    frame = reviews.head(20).copy()
    frame.loc[frame.index[0], "review"] = "tea " * 700  # longer than the encoder reads
    with_text = int(frame["review"].notna().sum())
    plan = 'keywords review  top=3\nclassify review  labels=["taste", "price"] method=embed\nclean review'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = run_mine(frame, plan, progress=False).table()
    # keywords embeds hundreds of candidate phrases and classify its labels: not the user's rows
    assert first[["computed", "from cache"]].values.tolist() == [
        [with_text, 0],
        [0, with_text],  # the same texts, embedded by the keywords step just before
        [0, 0],  # clean calls no model
    ]
    cut = [str(w.message) for w in caught if "longer than" in str(w.message)]
    assert cut == [
        f"line 1 (keywords): 1 of {with_text} rows were longer than 512 tokens (the most the "
        "encoder reads) and were cut in the middle."
    ]
    again = run_mine(frame, plan, progress=False).table()
    assert again[["computed", "from cache"]].values.tolist() == [
        [0, with_text],
        [0, with_text],
        [0, 0],
    ]


@pytest.mark.slow
def test_predict_on_a_fresh_cache_counts_its_rows_as_computed(
    reviews: pd.DataFrame, fresh_cache: Path
) -> None:
    plan = "predict score from review  budget=2 folds=3"
    first = run_mine(reviews, plan, progress=False).steps[0]
    with_text = int(reviews["review"].notna().sum())
    assert (first.computed, first.cached) == (with_text, 0)
    again = run_mine(reviews, plan, progress=False).steps[0]
    assert (again.computed, again.cached) == (0, with_text)
