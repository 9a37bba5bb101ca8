from __future__ import annotations

import numpy as np
import pytest

from llm_magics.cli import main
from llm_magics.demo import run_demo
from llm_magics.engine import embed
from llm_magics.runtime.loading import LoadedModel


@pytest.mark.slow
def test_demo_summaries_are_closer_to_their_own_review(
    chat: LoadedModel, embedder: LoadedModel
) -> None:
    result = run_demo(4)
    assert result.columns.tolist() == ["review", "score", "summary", "similarity"]
    assert result["summary"].str.len().gt(0).all()
    assert set(result["score"]) <= {"great", "other"}
    reviews = embed(result["review"].tolist(), progress=False).vectors
    summaries = embed(result["summary"].tolist(), progress=False).vectors
    cross = summaries @ reviews.T
    assert np.allclose(np.diag(cross), result["similarity"], atol=1e-3)
    assert np.diag(cross).mean() > (cross.sum() - np.trace(cross)) / (cross.size - len(cross))


@pytest.mark.slow
def test_cli_demo_prints_each_review_and_summary(
    chat: LoadedModel, embedder: LoadedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--rows", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("summary:") == 2
    assert "default-chat on cpu" in out
    assert "Mean similarity:" in out


def test_cli_error_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--chat-model", "/no/such/model.gguf"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith(
        "llm-mine: ModelNotFoundError: No model file or folder at '/no/such/model.gguf'"
    )


def test_python_dash_m_runs_the_cli() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "llm_magics", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in done.stdout
    assert done.stdout.startswith("usage: llm-mine")
