from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from llm_magics import MiningResult, mine
from llm_magics.datasets import loans
from llm_magics.errors import InvalidArgumentError, RunInterruptedError
from llm_magics.plots.render import VEGALITE_MIME_TYPE
from llm_magics.widgets import MiningTunePanel


@pytest.fixture(scope="module")
def loan_rows(shell: InteractiveShell) -> pd.DataFrame:
    frame = loans()[["emp_title", "annual_income", "debt_to_income", "interest_rate"]].iloc[:160]
    shell.user_ns["loan_rows"] = frame
    return frame


@pytest.fixture(scope="module")
def first(shell: InteractiveShell, loan_rows: pd.DataFrame) -> MiningResult:
    result = mine(
        loan_rows,
        "interest_rate",
        text="emp_title",
        kinds=("stats",),
        budget=2,
        folds=3,
        progress=False,
    )
    shell.user_ns["rates"] = result
    return result


def _charted_models(panel: MiningTunePanel) -> set[str]:
    """The models in the chart the panel shows (its one output is that chart)."""
    assert len(panel.chart.outputs) == 1
    assert VEGALITE_MIME_TYPE in panel.chart.outputs[0]["data"]
    spec = panel.leaderboard_chart.to_dict()
    return {row["model"] for rows in spec["datasets"].values() for row in rows}


def test_the_panel_starts_from_the_result_and_its_code_reruns_it(
    shell: InteractiveShell, loan_rows: pd.DataFrame, first: MiningResult
) -> None:
    panel = first.tune(loan_rows)
    assert (panel.name, panel.variable.value) == ("loan_rows", "rates")
    assert set(panel.candidates.value) == set(panel.candidates.options)
    assert (panel.metric.value, panel.folds.value, panel.budget.value) == ("rmse", 3, "2")
    assert panel.code() == (
        "rates = loan_rows.llm.mine(\n"
        "    'interest_rate',\n"
        "    text=['emp_title'],\n"
        "    task='regression',\n"
        "    budget=2,\n"
        "    folds=3,\n"
        "    kinds=['stats'],\n"
        ")"
    )
    assert _charted_models(panel) == set(first.leaderboard["model"])  # before any run
    assert "ridge regression" in panel.board.value


@pytest.mark.slow
def test_run_with_other_candidates_and_metric_redraws_the_leaderboard(
    shell: InteractiveShell, loan_rows: pd.DataFrame, first: MiningResult
) -> None:
    panel = first.tune(loan_rows)
    panel.candidates.value = ("ridge regression", "random forest")
    panel.metric.value = "mae"
    panel.folds.value = 4
    panel.budget.value = "0"
    panel.variable.value = "retuned"
    panel.run_button.click()
    assert panel.wait(timeout=600)
    assert panel.error is None, panel.status.value
    result = shell.user_ns.pop("retuned")
    assert result is panel.result and panel.results == [first, result]
    assert set(result.leaderboard["model"]) == {
        "tfidf + linear (baseline)",
        "ridge regression",
        "random forest",
    }
    assert result.metric == "mae" and not result.leaderboard["tuned"].any()
    assert len(result.splits.folds) == 4
    assert _charted_models(panel) == set(result.leaderboard["model"])
    assert "best" in panel.status.value and "mae" in panel.status.value

    code = panel.copy_code()
    assert shell.rl_next_input == code
    assert "candidates=['ridge regression', 'random forest']" in code
    assert "metric='mae'" in code and "budget=0" in code and "folds=4" in code
    shell.run_cell(code, store_history=False)
    again = shell.user_ns.pop("retuned")
    pd.testing.assert_frame_equal(
        again.leaderboard.drop(columns="fit_seconds"),
        result.leaderboard.drop(columns="fit_seconds"),
    )
    assert again.metrics == pytest.approx(result.metrics, rel=1e-9)  # forests sum in threads


def test_cancel_stops_at_the_next_fold(loan_rows: pd.DataFrame, first: MiningResult) -> None:
    panel = first.tune(loan_rows, namespace={})
    panel.budget.value = "50"
    panel.run()
    panel.cancel_button.click()
    assert panel.wait(timeout=600)
    assert isinstance(panel.error, RunInterruptedError)
    assert "mine cancelled" in panel.status.value
    assert panel.results == [first] and panel.namespace == {}
    assert not panel.run_button.disabled


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"budget": "soon"}, "number of trials (20) or of seconds (60s)"),
        ({"candidates": ()}, "Pick at least one candidate"),
        ({"variable": "2nd"}, "a Python name"),
    ],
)
def test_mistakes_show_in_the_panel(
    loan_rows: pd.DataFrame, first: MiningResult, change: dict, message: str
) -> None:
    panel = first.tune(loan_rows, namespace={})
    for name, value in change.items():
        getattr(panel, name).value = value
    panel.run()
    assert message in panel.status.value
    assert not panel.running and panel.results == [first]


def test_the_frame_must_be_the_one_mined(first: MiningResult) -> None:
    with pytest.raises(InvalidArgumentError, match="no column 'interest_rate'"):
        first.tune(pd.DataFrame({"a": [1]}))
    with pytest.raises(InvalidArgumentError, match="not list"):
        first.tune([1, 2])


def test_mine_tune_magic_opens_the_panel_of_a_result_or_a_run(
    shell: InteractiveShell, loan_rows: pd.DataFrame, first: MiningResult
) -> None:
    from IPython.core.error import UsageError

    panel = shell.run_line_magic("mine", "tune rates loan_rows")
    assert isinstance(panel, MiningTunePanel) and panel.frame is loan_rows
    with pytest.raises(UsageError, match="name the frame it was mined from"):
        shell.run_line_magic("mine", "tune rates")
