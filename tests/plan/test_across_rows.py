"""The plan language of the operations across rows: ``aggregate``, ``dedup``, ``join``, ``top_k``.

Parsing, checking, help and the steps' reshaping run without a model. The tests under "End to
end" run the real ops on twelve real reviews (the ``reviews`` fixture).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from llm_magics import MineRun, PlanEstimate, get_manager, mine_plan, run_mine
from llm_magics.ops.base import SPECS
from llm_magics.plan import PlanSyntaxError, check_plan, describe, parse_plan
from llm_magics.plan.runner import _row_counts, _shorten
from llm_magics.plan.steps import _table, add_columns
from llm_magics.plan.verbs import (
    frame_columns,
    models_for,
    options_of,
    output_names,
    required_options,
)

COLUMNS = ["review", "score", "product", "emp_title", "ticket"]
ISSUES = pd.DataFrame({"issue": ["arrived broken", "tastes stale"], "severity": [2, 1]})


# Parsing


@pytest.mark.parametrize(
    ("line", "columns", "outputs", "arguments", "options"),
    [
        (
            'aggregate review by product -> complaints "what do customers complain about?"',
            ("review",),
            ("complaints",),
            ("what do customers complain about?",),
            {"by": ["product"]},
        ),
        ("aggregate review -> overall", ("review",), ("overall",), (), {}),
        (
            'aggregate review by product, score "q"',
            ("review",),
            (),
            ("q",),
            {"by": ["product", "score"]},
        ),
        ("dedup emp_title -> title_group", ("emp_title",), ("title_group",), (), {}),
        ('top_k review "broken packaging" k=20', ("review",), (), ("broken packaging",), {"k": 20}),
        (
            'join ticket with issues.csv "about it"',
            ("ticket",),
            (),
            ("about it",),
            {"right": "issues.csv"},
        ),
        (
            'join ticket with "my issues.csv" "x"',
            ("ticket",),
            (),
            ("x",),
            {"right": "my issues.csv"},
        ),
    ],
)
def test_by_and_with_give_options_and_text_may_follow_the_outputs(
    line: str, columns: tuple, outputs: tuple, arguments: tuple, options: dict
) -> None:
    step = parse_plan(line).steps[0]
    assert (step.columns, step.outputs, step.arguments, dict(step.options)) == (
        columns,
        outputs,
        arguments,
        options,
    )
    assert step.code == line


def test_with_a_variable_gives_the_table_itself_and_writes_back_its_name() -> None:
    line = 'join ticket with {issues} "the ticket is about the known issue" right_on=issue k=5'
    step = parse_plan(f"{line}  # known issues", {"issues": ISSUES}).steps[0]
    assert step.options["right"] is ISSUES
    assert (step.options["right_on"], step.options["k"]) == ("issue", 5)
    assert step.arguments == ("the ticket is about the known issue",)
    assert step.code == line and step.text == f"{line}  # known issues"
    by = parse_plan("aggregate review by {key}", {"key": "product"}).steps[0]
    assert by.options["by"] == ["product"] and by.code == "aggregate review by product"


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("aggregate review by", 20, "expected a column after 'by'"),
        ("aggregate review by -> x", 21, "expected a column after 'by'"),
        ("aggregate review by a, -> x", 24, "expected another column after ','"),
        ("aggregate by product", 11, "expected the text column before 'by'"),
        ("aggregate review -> x by product", 23, "'by' comes right after the columns"),
        ('top_k review "x" by product', 18, "'by' comes right after the columns"),
        ("aggregate review by a by b", 23, "'by' is given twice"),
        ("aggregate review by a by=b", 18, "option 'by' is given twice"),
        ("join ticket with", 17, "expected a table after 'with'"),
        ("join ticket with -> x", 18, "expected a table after 'with'"),
    ],
)
def test_a_misplaced_or_empty_connector_names_the_line_and_column(
    line: str, column: int, message: str
) -> None:
    with pytest.raises(PlanSyntaxError, match=message) as caught:
        parse_plan(f"clean review\n{line}")
    assert (caught.value.line, caught.value.column) == (2, column)


# Checking


@pytest.mark.parametrize(
    "plan",
    [
        'aggregate review by product -> complaints "What?"\nsummarize complaints\nsentiment complaints',
        "aggregate review -> overall\nkeywords overall\nclean overall_rows",
        'summarize review -> s\naggregate s by product, score "q"\nclean product',
        "dedup emp_title -> title_group\nsummarize emp_title",
        'top_k review "broken packaging" k=20\nsummarize review\nclean review_score',
        'join ticket with {issues} "about it" right_on=issue k=5\nsummarize issue\nclean severity',
        'top_k review "x" -> best\ntop_k review "y" -> best  overwrite=True',
    ],
)
def test_lines_after_a_frame_step_see_its_columns(plan: str) -> None:
    check_plan(parse_plan(plan, {"issues": ISSUES}), COLUMNS)


@pytest.mark.parametrize(
    ("plan", "line", "column", "message"),
    [
        (
            "aggregate review by prodct",
            1,
            21,
            r"no column 'prodct' \(by\)\. Did you mean 'product'",
        ),
        ("summarize review by product", 1, 18, "summarize takes no 'by ...'; by is for aggregate"),
        ("dedup emp_title with {issues}", 1, 17, "dedup takes no 'with ...'; with is for join"),
        ('join ticket "x"', 1, 16, "join needs right: join COLUMN with TABLE"),
        ('join ticket with {n} "x"', 1, 13, "'with' takes a DataFrame or a Series"),
        (
            'join ticket with {issues} "x" right_on=isue',
            1,
            31,
            "no column 'isue'. Did you mean 'issue'",
        ),
        ('join ticket with nowhere.csv "x"', 1, 18, "nowhere.csv: no such file"),
        ("join ticket, review with {issues} 'x'", 1, 14, "join takes one column"),
        ('aggregate review "a" "b"', 1, 25, "aggregate takes at most one quoted instruction"),
        ("top_k review k=3", 1, 17, "top_k needs one quoted query"),
        ("aggregate review by product -> product", 1, 32, "would replace the column 'product'"),
        ('top_k review "x" -> score', 1, 21, "would replace the column 'score'"),
        (
            "aggregate review by product\nsummarize review",
            2,
            11,
            "no column 'review'. Did you mean 'review_rows'",
        ),
        ('top_k review "x"\nsummarize review_scor', 2, 11, "Did you mean 'review_score'"),
    ],
)
def test_mistakes_are_found_before_anything_runs(
    plan: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(PlanSyntaxError, match=message) as caught:
        check_plan(parse_plan(plan, {"issues": ISSUES, "n": 3}), COLUMNS)
    assert (caught.value.line, caught.value.column) == (line, column)


def test_a_table_given_by_path_is_read_to_know_its_columns(tmp_path: Path) -> None:
    ISSUES.to_csv(tmp_path / "issues.csv", index=False)
    path = tmp_path / "issues.csv"
    check_plan(parse_plan(f'join ticket with {path} "x" right_on=issue\nclean severity'), COLUMNS)
    with pytest.raises(PlanSyntaxError, match="Did you mean 'severity'"):
        check_plan(parse_plan(f'join ticket with {path} "x"\nclean severty'), COLUMNS)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(PlanSyntaxError, match=r"empty\.csv is empty"):
        check_plan(parse_plan(f'join ticket with {tmp_path / "empty.csv"} "x"'), COLUMNS)


# Verbs and help


def test_help_shows_by_and_with_and_what_the_frame_becomes() -> None:
    aggregate = describe("aggregate")
    assert "  by=None   (or: by NAME[, NAME])" in aggregate
    assert "The frame becomes (without -> OUTPUT): BY, COLUMN_aggregate, COLUMN_rows" in aggregate
    join = describe("join")
    assert "  right='(required)'   (or: with TABLE)" in join and "right_on=None" in join
    assert "Adds (without -> OUTPUT): COLUMN_cluster, COLUMN_canonical" in describe("dedup")
    assert "The frame becomes (without -> OUTPUT): ..., COLUMN_score" in describe("top_k")


def test_the_line_gives_join_its_column_and_condition_and_with_its_table() -> None:
    keys = options_of("join")
    assert "right" in keys and "right_on" in keys
    assert not {"left", "left_on", "condition"} & set(keys)
    assert required_options("join") == ["right"] and required_options("aggregate") == []
    assert "by" in options_of("aggregate") and "instruction" not in options_of("aggregate")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("aggregate review by product", [("chat", "C")]),
        ("dedup emp_title", [("embed", "E")]),
        ("dedup emp_title method=llm", [("embed", "E"), ("chat", "C")]),
        ("dedup emp_title method=llm chat_model=big", [("embed", "E"), ("chat", "big")]),
        ('join ticket with t.csv "x"', [("embed", "E")]),
        ('join ticket with t.csv "x" method=llm', [("embed", "E"), ("chat", "C")]),
        ('top_k review "x"', [("embed", "E")]),
        ('top_k review "x" method=llm', [("embed", "E"), ("chat", "C")]),
    ],
)
def test_models_for_the_operations_across_rows(line: str, expected: list) -> None:
    assert models_for(parse_plan(line).steps[0], chat="C", embed="E") == expected


def test_output_names_keep_what_follows_the_text_column() -> None:
    assert output_names(["review_aggregate", "review_rows"], ["c"], "review") == ["c", "c_rows"]
    assert output_names(["label", "probability", "p_a"], ["aspect"], "p") == [
        "aspect",
        "aspect_probability",
        "aspect_p_a",
    ]
    step = parse_plan('join ticket with {t} "x" -> p', {"t": ISSUES}).steps[0]
    assert frame_columns(step, ["ticket", "severity"]) == (
        ["ticket", "severity_left", "issue", "severity_right", "p"],
        ["p"],
    )


# A step's result becomes the frame (the results built here have the shape each spec documents)


def test_an_aggregate_result_becomes_the_frame_with_its_keys_as_columns() -> None:
    frame = pd.DataFrame({"review": ["a", "b", "c"], "product": ["x", "y", "x"]})
    step = parse_plan('aggregate review by product -> complaints "q"').steps[0]
    result = pd.DataFrame(
        {"review_aggregate": ["ax", "ay"], "review_rows": [2, 1]},
        index=pd.Index(["x", "y"], name="product"),
    )
    table = _table(step, SPECS["aggregate"], frame, result)
    assert table.columns.tolist() == ["product", "complaints", "complaints_rows"]
    assert table["product"].tolist() == ["x", "y"]
    run = MineRun(plan=parse_plan(""), frame=frame)
    add_columns(run, table, step)
    assert run.frame is table and frame.columns.tolist() == ["review", "product"]


def test_top_k_keeps_the_rows_labels_and_all_their_columns() -> None:
    frame = pd.DataFrame(
        {"review": ["a", "bb", "ccc"], "score": [1, 2, 3]}, index=pd.Index([7, 8, 9], name="id")
    )
    result = pd.DataFrame({"review": ["ccc", "a"], "review_score": [0.9, 0.2]}, index=[9, 7])
    step = parse_plan('top_k review "x" -> best k=2').steps[0]
    table = _table(step, SPECS["top_k"], frame, result)
    assert table.index.tolist() == [9, 7] and table.index.name == "id"
    assert table.columns.tolist() == ["review", "score", "best"]


def test_a_frame_step_counts_its_rows_by_the_share_of_items_it_computed() -> None:
    frame = pd.DataFrame({"review": ["a", "b", None, "d"], "product": list("xxyy")})
    step = parse_plan("aggregate review by product").steps[0]
    # two chunks, one from the cache: half of the three rows with text were computed
    chunks = [{"total": 2, "done": 2, "cached": 1}]
    assert _row_counts(step, frame, chunks) == (2, 1)
    assert _row_counts(step, frame, [{"total": 2, "done": 2, "cached": 2}]) == (0, 3)
    assert _row_counts(step, frame, []) == (0, 0)


# End to end: the real ops on real reviews (these need the ops' bodies of issue 21)


def _new_jobs(before: set[str]) -> list[dict]:
    return [j for j in get_manager().status()["jobs"] if j["id"] not in before]


@pytest.mark.slow
def test_a_plan_across_rows_runs_and_a_rerun_comes_from_the_cache(reviews: pd.DataFrame) -> None:
    plan = (
        'aggregate review by score -> verdict "What do they say?" max_words=10\nsentiment verdict'
    )
    run = run_mine(reviews, plan, progress=False)
    assert isinstance(run, MineRun) and run.completed
    frame = run.frame
    assert frame.columns.tolist() == [
        "score",
        "verdict",
        "verdict_rows",
        "sentiment",
        "sentiment_score",
    ]
    assert sorted(frame["score"]) == sorted(reviews["score"].unique())
    with_text = int(reviews["review"].map(lambda v: isinstance(v, str) and v.strip() != "").sum())
    assert frame["verdict_rows"].sum() == with_text
    first = run.steps[0]
    assert (first.input_rows, first.rows) == (len(reviews), len(frame))
    assert first.computed + first.cached == with_text
    assert first.note.startswith(f"{len(reviews)} rows → {len(frame)}")
    assert f"2 of 2 steps on {len(reviews)} rows → {len(frame)} in " in repr(run)  # not "sampled"
    again = run_mine(reviews, plan, progress=False)
    assert again.steps[0].computed == 0 and again.steps[0].cached == with_text
    pd.testing.assert_frame_equal(run.frame, again.frame)


@pytest.mark.parametrize(
    "line",
    [
        "aggregate review -> overall  max_words=8",
        "dedup review -> group",
        'top_k review "coffee" k=3',
        'join review with {issues} "the review is about the issue" right_on=issue k=1',
    ],
)
def test_each_step_across_rows_is_one_job(reviews: pd.DataFrame, line: str) -> None:
    before = {j["id"] for j in get_manager().status()["jobs"]}
    run = run_mine(reviews, line, namespace={"issues": ISSUES}, progress=False)
    jobs = _new_jobs(before)
    assert [j["primitive"] for j in jobs] == [_shorten(line)]
    assert jobs[0]["state"] == "done"
    assert run.steps[0].models  # it called a model, inside the one job


def test_top_k_and_join_frames_have_their_spec_shapes(reviews: pd.DataFrame) -> None:
    top = run_mine(reviews, 'top_k review "coffee" -> match k=3', progress=False).frame
    assert len(top) == 3 and top.index.isin(reviews.index).all()
    assert top.columns.tolist() == [*reviews.columns, "match"]
    assert top["match"].is_monotonic_decreasing
    pairs = run_mine(
        reviews,
        'join review with {issues} "the review is about the issue" right_on=issue k=1 how=left',
        namespace={"issues": ISSUES},
        progress=False,
    ).frame
    assert pairs.columns.tolist() == [*reviews.columns, "issue", "severity", "review_probability"]
    assert len(pairs) == len(reviews)  # how=left: every review, matched or not


def test_dry_run_runs_frame_steps_on_the_probe_and_says_how_cost_grows(
    reviews: pd.DataFrame,
) -> None:
    estimate = run_mine(
        reviews,
        'dedup review\ntop_k review "coffee" k=2\nsummarize review max_words=5',
        dry_run=True,
    )
    assert isinstance(estimate, PlanEstimate) and estimate.probe_rows == 8
    notes = estimate.steps["note"].tolist()
    assert notes[0].startswith("cost ~ rows·k candidate pairs")
    assert "not the rows" in notes[1]
    assert "rows as made by line 2 from the probe" in notes[2]


def test_a_run_shows_an_aggregate_with_its_groups() -> None:
    """The %%mine view of an aggregate showed the answers without the group they answer for."""
    frame = pd.DataFrame({
        "review": ["The printer jams every day.", "VPN drops every hour.",
                   "Payslip was late again.", "The holiday form is confusing."],
        "dept": ["IT", "IT", "HR", "HR"],
    })  # fmt: skip
    run = mine_plan(
        frame, parse_plan('aggregate review by dept "What is the main problem?"'), progress=False
    )
    assert run.shown_columns == ["dept", "review_aggregate", "review_rows"]
    shown = run._repr_html_()
    assert "The new table" in shown and "<th>dept</th>" in shown and "<td>HR</td>" in shown
    assert "dept" in repr(run).split("\n\n")[2]
    plain = mine_plan(frame, parse_plan("clean review -> tidy"), progress=False)
    assert plain.shown_columns == plain.new_columns == ["tidy"]
