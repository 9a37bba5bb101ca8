from __future__ import annotations

from pathlib import Path

import pandas as pd

from llm_magics import get_manager
from llm_magics.config import LlmMagics
from llm_magics.engine import embed
from llm_magics.runtime.manager import ModelManager
from llm_magics.status import cache_report, models_report, status_report


def test_status_report_shows_models_memory_jobs_and_cache() -> None:
    embed(["a report row", "another report row"], progress=False)
    report = status_report()
    models = report.models()
    assert "default-embed" in models["model"].tolist()
    assert report.memory()["device"].tolist()[0] == "cpu"
    jobs = report.jobs()
    assert jobs.iloc[0]["step"] == "embed · default-embed" and jobs.iloc[0]["rows"] == "2/2"
    text, html = repr(report), report._repr_html_()
    assert "Jobs (most recent first):" in text and "default-embed" in text
    assert "<b>Memory</b>" in html and report.data["cache"]["entries"] >= 2


def test_models_report_marks_defaults_loaded_and_broken_aliases(tmp_path: Path) -> None:
    config = LlmMagics(cache_dir=str(tmp_path), device="cpu")
    config.aliases = {"gone": str(tmp_path / "missing.gguf"), "hub": "org/some-model"}
    manager = ModelManager(config)
    report = models_report(manager)
    rows = report.aliases.set_index("alias")
    assert rows.loc["default-embed", "default for"] == "embed"
    assert (
        rows.loc["gone", "kind"] == "unavailable"
        and "No model file" in rows.loc["gone", "location"]
    )
    assert rows.loc["hub", "kind"] == "hub" and rows.loc["hub", "loaded"] == ""
    assert report.loaded.empty and "none loaded" in repr(report)


def test_cache_report_counts_and_clears(tmp_path: Path) -> None:
    config = LlmMagics(cache_dir=str(tmp_path), device="cpu")
    manager = ModelManager(config)
    embed(["one", "two", "three"], progress=False, manager=manager)
    report = cache_report(manager)
    assert report.data["entries"] == 3 and report.cleared is None
    assert isinstance(report.table(), pd.DataFrame) and report.table()["results"].sum() == 3
    cleared = cache_report(manager, clear=True)
    assert cleared.cleared == 3 and cleared.data["entries"] == 0
    assert get_manager() is not manager
