"""The guide notebooks (``notebooks/0*.ipynb``) run headless, top to bottom, and show what they say.

Each runs in its own kernel on the default models on the CPU (the test session's result cache is
shared, through ``LLM_MAGICS_CACHE``, so the second notebook reuses the first one's rows).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from llm_magics.runtime.loading import hub_reachable
from tests.kernels import execute_notebook

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"


def _execute(name: str, tmp_path: Path) -> list[Any]:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert not execute_notebook(notebook, tmp_path)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _text(cell: Any) -> str:
    """Everything a cell printed or displayed, as text (HTML and chart specs included)."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        for kind, value in output.get("data", {}).items():
            parts.append(value if isinstance(value, str) else json.dumps(value))
            parts.append(kind)
    return "\n".join(parts)


def _cell(cells: list[Any], starting: str) -> Any:
    (found,) = [c for c in cells if c.source.startswith(starting)]
    return found


def _charts(cell: Any) -> int:
    """Altair charts a cell displayed (vega-embed HTML or a vega-lite mime bundle)."""
    return sum(
        1
        for o in cell.get("outputs", [])
        if "vega" in str(o.get("data", {}).get("text/html", ""))
        or any(k.startswith("application/vnd.vegalite") for k in o.get("data", {}))
    )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quickstart_runs_every_step_on_real_reviews(tmp_path: Path) -> None:
    cells = _execute("01-quickstart.ipynb", tmp_path)
    assert "(200, 2)" in _text(cells[0])
    assert "reviews changed, for example" in _text(_cell(cells, "cleaned ="))
    summarized = _text(_cell(cells, "sample ="))
    assert re.search(
        r"summarize by \['default-chat'\]: \d rows computed, \d from the cache", summarized
    )
    assert "All" in _text(_cell(cells, "reviews = reviews.join"))  # the crosstab's margins
    for start in (
        'reviews.llm.plot("sentiment"',
        'reviews.llm.plot("keywords"',
        "topics.plot(",
        'result.plot("importance")',
    ):
        assert _charts(_cell(cells, start)) == 1, start
    assert "keywords" in _text(_cell(cells, "topics = "))
    assert "(200, " in _text(_cell(cells, "features = "))
    assert "MiningResult(classification of 'score'" in _text(_cell(cells, "result = "))
    assert "tfidf + linear (baseline)" in _text(_cell(cells, "result.leaderboard"))
    assert "f1_macro" in _text(_cell(cells, 'pd.DataFrame({"chosen model"'))
    assert "For classifying 'score'" in _text(_cell(cells, "result.explain()"))
    assert "predicted" in _text(_cell(cells, "new_rows = "))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_mine_magic_notebook_runs_checks_and_tunes(tmp_path: Path) -> None:
    cells = _execute("02-mine-magic.ipynb", tmp_path)
    assert "Dry run: 7 steps on 120 rows" in _text(_cell(cells, "%%mine reviews --dry-run"))
    run = _cell(cells, "%%mine reviews --out mined --result run\n")
    assert "7 of 7 steps on 120 rows" in _text(run)
    assert _charts(run) >= 5
    # Engine progress bars only where rows were computed, not once per cross-validation fold.
    bars = [o for o in run.outputs if "rows/s" in str(o.get("data", {}).get("text/plain", ""))]
    assert len(bars) < 20
    rerun = _text(_cell(cells, "rerun.table()"))
    assert "from cache" in rerun
    packaging = _cell(cells, 'packaging[["review", "review_score"]]')
    plain = packaging.outputs[0]["data"]["text/plain"].splitlines()
    assert "review_score" in plain[0] and len(plain) == 1 + 5  # the header, then the 5 best rows
    complaints = _text(_cell(cells, "complaints"))
    assert "complaints_rows" in complaints and "great" in complaints and "other" in complaints
    mistake = _cell(cells, "%%mine reviews\nsentimnet")
    assert "raises-exception" in mistake.metadata["tags"]
    assert "unknown verb 'sentimnet'. Did you mean 'sentiment'?" in _text(mistake)
    assert "default-chat" in _text(_cell(cells, "%mine status"))
    assert "application/vnd.jupyter.widget-view+json" in _text(_cell(cells, "panel = %mine tune"))
    assert "3 rows in" in _text(_cell(cells, "panel.preview("))
    assert "%%mine reviews --out reviews_mined\nsummarize review" in _text(
        _cell(cells, "print(panel.code())")
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize("default_dtype", ["float32", "bfloat16"])
@pytest.mark.slow
def test_your_own_models_runs_and_says_what_it_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_dtype: str
) -> None:
    # dtype="auto" is float32 on some CPUs and bfloat16 on others: the notebook holds for both.
    monkeypatch.setenv("LLM_MAGICS_DTYPE", default_dtype)
    cells = _execute("03-your-own-models.ipynb", tmp_path)
    several = _text(_cell(cells, 'manager.load("default-chat")'))
    assert "default-chat" in several and "default-embed" in several
    dtype = _text(_cell(cells, "half = "))
    assert "torch.bfloat16: 43 MiB; torch.float32: 87 MiB" in dtype
    assert f"this machine's default: torch.{default_dtype}" in dtype
    budget = _cell(cells, "manager.unload_all()\nchat_bytes")
    before, after = _text(budget).split("after:")
    float32_embedder = "90861056"  # its bytes
    assert float32_embedder in before and "default-chat" not in before
    assert float32_embedder not in after and "bfloat16" in after and "default-chat" in after
    assert "DeviceOutOfMemoryError: 'default-chat' needs about" in _text(
        _cell(cells, 'config.memory_budget = {"cpu": "64MiB"}')
    )
    hub = _text(_cell(cells, "MODEL = "))
    online = os.environ.get("HF_HUB_OFFLINE") != "1" and hub_reachable(3)
    assert ("Skipped: the Hugging Face hub cannot be reached" in hub) is not online
    gpu = _text(_cell(cells, "if not GPU:"))
    assert ("Skipped: this machine has no CUDA GPU" in gpu) is not torch.cuda.is_available()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_few_labels_labels_learns_and_checks_its_own_estimate(tmp_path: Path) -> None:
    cells = _execute("04-few-labels.ipynb", tmp_path)
    assert "application/vnd.jupyter.widget-view+json" in _text(_cell(cells, "panel = "))
    progress = _text(_cell(cells, "while reviews"))
    assert "30 of 100 labelled" in progress and "most uncertain" in progress
    learned = _text(_cell(cells, "guess = "))
    assert re.search(r"chosen: (recalibrated|linear|zero-shot embed|zero-shot llm|stack)", learned)
    assert "accuracy 0." in learned and "95% CI" in learned and "n=30" in learned
    assert "label_set" in _text(_cell(cells, 'guess[["label"'))
    assert "Evaluation(n=70" in _text(_cell(cells, "unlabelled = "))
    assert re.search(r"held the true label on \d+%", _text(_cell(cells, "held = ")))
    run = _text(_cell(cells, "%%mine reviews"))
    assert "Quality" in run and "n=30, 5-fold cross-validation" in run
