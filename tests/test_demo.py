from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from llm_magics.cli import main
from llm_magics.demo import QUICKSTART_PLAN, run_demo
from llm_magics.engine import embed
from llm_magics.plan import parse_plan
from llm_magics.runtime.loading import LoadedModel

ROWS = 20


@pytest.fixture(scope="module")
def demo_run(chat: LoadedModel, embedder: LoadedModel):
    return run_demo(ROWS, progress=False)


def test_the_quickstart_plan_parses_and_mines_the_score() -> None:
    steps = parse_plan(QUICKSTART_PLAN).steps
    assert [step.verb for step in steps] == [
        "clean",
        "summarize",
        "sentiment",
        "keywords",
        "topics",
        "predict",
        "explain",
    ]


@pytest.mark.slow
def test_demo_makes_every_column_and_a_mining_result(demo_run) -> None:
    frame = demo_run.frame
    assert demo_run.completed and len(frame) == ROWS
    assert demo_run.new_columns == [
        "review",
        "summary",
        "sentiment",
        "sentiment_score",
        "review_keywords",
        "topic",
        "topic_label",
        "score_predicted",
    ]
    assert frame["summary"].str.len().gt(0).all()
    assert frame["sentiment"].isin(["positive", "negative"]).all()
    assert frame["sentiment_score"].between(-1, 1).all()
    assert all(len(k) > 0 for k in frame["review_keywords"])
    assert set(frame["score_predicted"]) <= {"great", "other"}
    assert demo_run.result is not None and demo_run.result.target == "score"
    assert "score" in str(demo_run.narrative)


@pytest.mark.slow
def test_demo_summaries_are_closer_to_their_own_review(demo_run) -> None:
    reviews = embed(demo_run.frame["review"].tolist(), progress=False).vectors
    summaries = embed(demo_run.frame["summary"].tolist(), progress=False).vectors
    cross = summaries @ reviews.T
    assert np.diag(cross).mean() > (cross.sum() - np.trace(cross)) / (cross.size - len(cross))


@pytest.mark.slow
def test_cli_demo_prints_the_run_and_writes_the_report(
    demo_run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "demo.html"
    # The same rows as the fixture: every model row comes from the cache.
    assert main(["demo", "--rows", str(ROWS), "--report", str(report), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("summary:") == 3
    assert "default-chat on cpu" in out
    assert "MiningResult(classification of 'score'" in out
    assert f"Wrote {report}" in out
    page = report.read_text()
    assert "llm-mine demo" in page and "<script" not in page
    assert len(re.findall("<svg", page)) >= 6
    assert "summarize review -&gt; summary" in page


def test_cli_demo_with_too_few_rows_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--rows", "3"]) == 2
    assert "--rows must be at least 10" in capsys.readouterr().err


def test_cli_error_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "demo.html"
    assert main(["demo", "--chat-model", "/no/such/model.gguf", "--report", str(report)]) == 1
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(
        "llm-mine: ModelNotFoundError: No model file or folder at '/no/such/model.gguf'"
    )
    assert not report.exists()


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llm_magics", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in done.stdout
    assert done.stdout.startswith("usage: llm-mine")
