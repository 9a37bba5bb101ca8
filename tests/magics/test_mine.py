"""``%%mine`` and ``%mine`` in a real IPython shell, on real reviews with the default models."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import llm_magics
from llm_magics import MineRun, PlanEstimate, get_manager
from llm_magics.backends.ray import RayBackend
from llm_magics.datasets import amazon_reviews
from llm_magics.engine import get_result_cache
from llm_magics.errors import LlmMagicsWarning, ModelNotFoundError, RunInterruptedError
from llm_magics.magics.mine import CellRequest, MineMagics
from llm_magics.status import CacheReport, ModelsReport, StatusReport

EXAMPLE = """
clean review
summarize review -> summary  max_words=15
sentiment review
keywords review  top=5
topics review  k=6
extract review -> item, price:float, problem:[shipping, quality, price, none]
filter review "mentions delivery" -> about_delivery
predict score from review, product  budget=2 folds=3  # runs mine(target=...) on the features so far
explain
"""


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "llm_magics")
    shell.user_ns["reviews"] = amazon_reviews("test").head(40)
    shell.user_ns["numbers"] = [1, 2, 3]
    yield shell
    for name in ("reviews", "numbers", "mined", "run", "reviews_mined"):
        shell.user_ns.pop(name, None)


def _state() -> tuple[set[str], int]:
    status = get_manager().status()
    return {m["key"] for m in status["models"]}, len(status["jobs"])


def _text(series: pd.Series) -> bool:
    return bool(series.dropna().map(lambda v: isinstance(v, str)).all())


@pytest.mark.slow
def test_the_issue_example_makes_every_column_with_its_dtype(shell: InteractiveShell) -> None:
    returned = shell.run_cell_magic(
        "mine", "reviews --out mined --result run --sample 30 --quiet", EXAMPLE
    )
    assert returned is None  # --quiet
    mined, run = shell.user_ns["mined"], shell.user_ns["run"]
    assert isinstance(run, MineRun) and run.frame is mined and run.completed
    assert len(mined) == 30 and run.input_rows == 40
    assert shell.user_ns["reviews"].columns.tolist() == ["product", "review", "score"]
    checks = {
        "summary": _text,
        "sentiment": lambda s: s.dropna().isin(["positive", "negative", "neutral"]).all(),
        "sentiment_score": pd.api.types.is_float_dtype,
        "review_keywords": lambda s: s.dropna().map(lambda v: isinstance(v, list)).all(),
        "topic": lambda s: str(s.dtype) == "Int64",
        "topic_label": _text,
        "item": _text,
        "price": pd.api.types.is_float_dtype,
        "problem": lambda s: isinstance(s.dtype, pd.CategoricalDtype),
        "about_delivery": pd.api.types.is_bool_dtype,
        "score_predicted": lambda s: s.isin(["great", "other"]).all(),
    }
    for column, check in checks.items():
        assert check(mined[column]), (column, mined[column].dtype)
    assert [s.line for s in run.steps] == list(range(2, 11))
    # The input's product ids are kept: the model's text went to its own column.
    reviews = shell.user_ns["reviews"]
    assert mined["product"].equals(reviews.loc[mined.index, "product"])
    assert run.result is not None and run.narrative is not None
    assert run.steps[7].step == "predict score from review, product  budget=2 folds=3"


def test_a_cell_shows_its_run_and_names_the_frame_after_its_input(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.user_ns.pop("reviews_mined", None)
    returned = shell.run_cell_magic("mine", "reviews --sample 4", "clean review")
    assert returned is None
    assert len(shell.user_ns["reviews_mined"]) == 4
    assert "MineRun: 1 of 1 steps on 4 rows (sampled from 40)" in capsys.readouterr().out


@pytest.mark.slow  # it reads the issue example's run (above), which is slow
def test_the_run_charts_its_topics_and_result(shell: InteractiveShell) -> None:
    run = shell.user_ns["run"]  # the issue example, above
    charts = run.charts()
    # summary lengths, sentiment, keywords; the topic map; leaderboard, importance, confusion, ROC
    assert len(charts) == 3 + 1 + 4
    titles = [str(c.to_dict()["title"]) for c in charts]
    assert "ummar" in titles[0] and "entiment" in titles[1] and "eyword" in titles[2], titles
    assert titles[3].startswith("Topics of 'review'") and "Confusion matrix" in titles[6]


@pytest.mark.parametrize(
    ("line", "body", "where", "message"),
    [
        ("reviews", "sumarize review", "line 1, column 1", "Did you mean 'summarize'"),
        ("reviews", "clean review\nsentiment reveiw", "line 2, column 11", "Did you mean 'review'"),
        ("reviews", "summarize review maxwords=3", "line 1, column 18", "Did you mean 'max_words'"),
        ("reviews", 'filter review "unclosed', "line 1, column 15", "never closed"),
        ("reviews", "summarize review ->", "line 1, column 20", "output name after '->'"),
        (
            "reviews",
            "keywords review -> k\nsummarize k top=3",
            "line 2, column 13",
            "takes no option 'top'",
        ),
        ("reveiws", "clean review", "no variable 'reveiws'", "Did you mean 'reviews'"),
        ("numbers", "clean review", "'numbers' is a list", "not a pandas DataFrame"),
        ("reviews --sample x", "clean review", "--sample", "invalid int value"),
        ("reviews --sample 0", "clean review", "--sample", "positive number"),
        ("reviews --out 1x", "clean review", "--out", "variable name"),
        ("reviews --bogus", "clean review", "unrecognized arguments", "--bogus"),
        ("reviews --backend rya", "clean review", "--backend", "invalid choice"),
        ("reviews --actors 2", "clean review", "--actors", "add --backend ray"),
        ("reviews", "summarize {missing}", "line 1, column 11", "names no variable"),
        (
            "reviews",
            "extract review -> product, price:float",
            "line 1, column 19",
            "extract would replace the column 'product' of the frame. Name the output otherwise "
            "(-> NEW_NAME), or add overwrite=True",
        ),
    ],
)
def test_mistakes_are_usage_errors_before_any_model_loads(
    shell: InteractiveShell, line: str, body: str, where: str, message: str
) -> None:
    before = _state()
    with pytest.raises(UsageError) as caught:
        shell.run_cell_magic("mine", line, body)
    assert where in str(caught.value) and message in str(caught.value)
    assert _state() == before


def test_backend_options_make_a_ray_backend(shell: InteractiveShell) -> None:
    magics = shell.magics_manager.registry["MineMagics"]
    line = "reviews --backend ray --address auto --actors 3"
    request = magics.compile_cell(line, "clean review")
    assert request.options.backend == RayBackend(address="auto", actors=3)
    assert magics.compile_cell("reviews", "clean review").options.backend == "local"


def test_the_old_engine_option_still_works_and_warns_once(shell: InteractiveShell) -> None:
    magics = shell.magics_manager.registry["MineMagics"]
    with pytest.warns(FutureWarning, match="--engine is now --backend") as caught:
        request = magics.compile_cell("reviews --engine ray --actors 2", "clean review")
    assert len(caught) == 1
    assert request.options.backend == RayBackend(actors=2)


@pytest.mark.slow
def test_variables_are_interpolated(shell: InteractiveShell) -> None:
    shell.user_ns |= {"col": "review", "n": 2, "cond": "mentions coffee"}
    shell.run_cell_magic(
        "mine",
        "reviews --sample 6 --out small --quiet",
        'keywords {col} top={n}\nfilter {col} "{cond}" -> coffee',
    )
    small = shell.user_ns.pop("small")
    assert small["review_keywords"].dropna().map(len).le(2).all()
    assert small["coffee"].dtype == "boolean"


def test_variables_expand_where_a_value_belongs_and_never_in_comments(
    shell: InteractiveShell,
) -> None:
    magics = shell.magics_manager.registry["MineMagics"]
    shell.user_ns.pop("other", None)
    request = magics.compile_cell("reviews", "sentiment review  # try model={other}")
    assert dict(request.plan.steps[0].options) == {}
    shell.user_ns["condition"] = 'says "late" # or {late}, -> not'
    try:
        request = magics.compile_cell(
            "reviews",
            'filter review {condition} -> a\nfilter review "{{literal}} {condition}" -> b',
        )
    finally:
        shell.user_ns.pop("condition")
    first, second = request.plan.steps
    assert first.arguments == ('says "late" # or {late}, -> not',)
    assert second.arguments == ('{literal} says "late" # or {late}, -> not',)


@pytest.mark.slow
def test_dry_run_processes_no_rows(shell: InteractiveShell) -> None:
    shell.user_ns.pop("dry", None)
    entries = get_result_cache().size()["entries"]
    estimate = shell.run_cell_magic(
        "mine", "reviews --dry-run --out dry", "summarize review -> s\nsentiment s"
    )
    assert isinstance(estimate, PlanEstimate)
    assert "dry" not in shell.user_ns
    assert get_result_cache().size()["entries"] == entries
    assert estimate.rows == 40 and (estimate.steps["estimate_seconds"] > 0).all()
    assert estimate.models["model"].tolist() == ["default-chat"]


def test_an_interrupted_cell_keeps_its_finished_steps_and_says_how_to_resume(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupt(job: object) -> None:
        if getattr(job, "primitive", "") == "score" and job.state == "running":  # type: ignore[attr-defined]
            raise KeyboardInterrupt

    remove = get_manager().add_job_listener(interrupt)
    try:
        with pytest.raises(RunInterruptedError):
            shell.run_cell_magic(
                "mine",
                "reviews --sample 25 --out partial --result partial_run --quiet",
                "clean review\nembed review -> v dims=2\nsentiment review batch_tokens=256",
            )
    finally:
        remove()
    partial, run = shell.user_ns.pop("partial"), shell.user_ns.pop("partial_run")
    assert {"v_0", "v_1"} <= set(partial.columns) and "sentiment" not in partial
    assert not run.completed and "line 3 (sentiment)" in run.error
    err = capsys.readouterr().err
    assert "%%mine stopped at line 3 (sentiment)" in err and "run the cell again to resume" in err


# ---------------------------------------------------------------------------------- %mine


def test_status_models_and_help(shell: InteractiveShell) -> None:
    status = shell.run_line_magic("mine", "status")
    assert isinstance(status, StatusReport)
    assert {"models", "memory", "jobs", "cache"} <= set(status.data)
    assert "Models:" in repr(status) and "<b>Jobs</b>" in status._repr_html_()
    assert isinstance(shell.run_line_magic("mine", ""), StatusReport)
    models = shell.run_line_magic("mine", "models")
    assert isinstance(models, ModelsReport)
    aliases = models.aliases.set_index("alias")
    assert aliases.loc["default-chat", "default for"] == "chat"
    assert aliases.loc["default-embed", "kind"] == "local"
    assert "max_words=25" in repr(shell.run_line_magic("mine", "help summarize"))
    assert "Verbs: clean, summarize" in repr(shell.run_line_magic("mine", "help"))


def test_load_and_unload(shell: InteractiveShell, tiny_models: list[Path]) -> None:
    path = str(tiny_models[2])
    shell.run_line_magic("mine", f"load {path} --role embed --dtype float32")
    loaded = {m["name"] for m in get_manager().status()["models"]}
    assert path in loaded
    shell.run_line_magic("mine", f"unload {path}")
    assert path not in {m["name"] for m in get_manager().status()["models"]}
    with pytest.raises(UsageError, match="is not loaded"):
        shell.run_line_magic("mine", f"unload {path}")
    with pytest.raises(UsageError, match="name one model, or pass --all"):
        shell.run_line_magic("mine", "unload")
    with pytest.raises(UsageError, match="invalid choice"):
        shell.run_line_magic("mine", f"load {path} --role painter")


def test_use_sets_the_default_models(shell: InteractiveShell, tiny_models: list[Path]) -> None:
    config = get_manager().config
    shell.run_line_magic("mine", f"use embed={tiny_models[0]}")
    try:
        assert config.default_embed_model == str(tiny_models[0])
    finally:
        shell.run_line_magic("mine", "use embed=default-embed chat=default-chat")
    assert config.default_embed_model == "default-embed"
    with pytest.raises(UsageError, match="not chat=SPEC or embed=SPEC"):
        shell.run_line_magic("mine", "use chta=default-chat")


@pytest.mark.timeout(60)
def test_use_refuses_a_hub_id_that_is_neither_cached_nor_reachable(
    shell: InteractiveShell,
) -> None:
    config = get_manager().config
    before = (config.default_chat_model, config.default_embed_model)
    with pytest.raises(ModelNotFoundError, match="not in the local Hugging Face cache") as caught:
        shell.run_line_magic(
            "mine", "use embed=default-embed chat=nobody-here/definitely-not-a-model-7f3a"
        )
    assert "default-chat" in str(caught.value)  # the way out
    assert (config.default_chat_model, config.default_embed_model) == before  # nothing changed
    with pytest.raises(UsageError, match="not a model alias"):
        shell.run_line_magic("mine", "use chat=no-such-alias!")
    assert config.default_chat_model == "default-chat"


def test_cache_info_and_clear(
    shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = get_manager().config
    monkeypatch.setattr(config, "cache_dir", str(tmp_path))
    llm_magics.run_mine(amazon_reviews("test").head(3), "embed review", progress=False)
    info = shell.run_line_magic("mine", "cache")
    assert isinstance(info, CacheReport) and info.data["entries"] == 3
    assert str(tmp_path) in repr(info)
    cleared = shell.run_line_magic("mine", "cache clear")
    assert cleared.cleared == 3 and cleared.data["entries"] == 0
    assert "Removed 3 results" in repr(cleared)
    with pytest.raises(UsageError, match="Did you mean 'clear'"):
        shell.run_line_magic("mine", "cache claer")


def test_unknown_commands_suggest_one(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="Did you mean 'status'"):
        shell.run_line_magic("mine", "stauts")
    with pytest.raises(UsageError, match="Did you mean 'summarize'"):
        shell.run_line_magic("mine", "help sumarize")
    with pytest.raises(UsageError, match="takes no arguments"):
        shell.run_line_magic("mine", "status now")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    line=st.one_of(st.text(max_size=40), st.just("reviews"), st.just("reviews --sample 3")),
    body=st.one_of(
        st.text(max_size=200),
        st.lists(
            st.sampled_from(
                [
                    "clean",
                    "summarize",
                    "review",
                    "->",
                    ",",
                    "=",
                    '"',
                    "[",
                    "]",
                    "{",
                    "}",
                    "#",
                    "x=1",
                    "predict",
                    "from",
                    "\n",
                    " ",
                ]
            ),
            max_size=30,
        ).map("".join),
        st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
    ),
)
def test_any_input_compiles_or_is_a_usage_error(
    shell: InteractiveShell, line: str, body: str
) -> None:
    magics = shell.magics_manager.registry["MineMagics"]
    try:
        request = magics.compile_cell(line, body)
    except UsageError:
        return
    assert isinstance(request, CellRequest) and isinstance(magics, MineMagics)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rest=st.text(max_size=40))
def test_any_argument_answers_or_is_a_usage_error(shell: InteractiveShell, rest: str) -> None:
    assume(rest.strip() not in ("clear", "--all"))  # those would empty the session's cache/models
    for command in ("help", "cache", "unload", "status"):
        with contextlib.suppress(UsageError):
            shell.run_line_magic("mine", f"{command} {rest}")


def test_question_mark_help_has_the_options_the_language_and_an_example(
    shell: InteractiveShell,
) -> None:
    cell = shell.find_cell_magic("mine").__doc__
    assert "%%mine [--out NAME]" in cell and "--dry-run" in cell
    assert "VERB COLUMN" in cell and "extract review -> item, price:float" in cell
    line = shell.find_line_magic("mine").__doc__
    for command in (
        "status",
        "models",
        "load SPEC",
        "unload SPEC",
        "use chat=SPEC",
        "cache",
        "help",
    ):
        assert f"%mine {command}" in line


def test_a_plan_warning_is_said_once_at_the_cell(shell: InteractiveShell) -> None:
    shell.user_ns["long_reviews"] = pd.DataFrame(
        {"review": ["tea " * 600, "Fine tea.", "tea " * 700]}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = shell.run_cell(
            "%%mine long_reviews --quiet\nembed review\ntopics review  k=2\n", store_history=False
        )
    assert result.success, result.error_in_exec
    ours = [w for w in caught if issubclass(w.category, LlmMagicsWarning)]
    assert [str(w.message) for w in ours] == [
        "line 1 (embed): 2 of 3 rows were longer than 512 tokens (the most the encoder reads) "
        "and were cut in the middle."
    ]  # once, though both steps embed the long rows
    assert ours[0].filename.startswith("<ipython-input-")  # the cell, not IPython's internals
