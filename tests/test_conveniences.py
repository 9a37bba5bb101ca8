"""Result objects reach the charts and widgets only through ``llm_magics.conveniences``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import llm_magics
from llm_magics import conveniences
from llm_magics.mining.result import MiningResult

PACKAGE = Path(llm_magics.__file__).parent
UPPER = ("llm_magics.plots", "llm_magics.widgets", "llm_magics.engine")


def _imported(path: Path, *, top_level_only: bool = False) -> set[str]:
    """The modules ``path`` imports (inside functions too, unless ``top_level_only``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize(
    ("module", "upper"),
    [
        ("mining/result.py", UPPER),
        ("ops/topics.py", ("llm_magics.plots", "llm_magics.widgets")),
    ],
)
def test_results_import_no_upper_layer_even_late(module: str, upper: tuple[str, ...]) -> None:
    imported = _imported(PACKAGE / module)
    reaching_up = {n for n in imported if n.startswith(upper)}
    assert not reaching_up


def test_conveniences_import_nothing_of_the_package_at_module_level() -> None:
    imported = _imported(PACKAGE / "conveniences.py", top_level_only=True)
    assert not {n for n in imported if n.startswith("llm_magics")}


def test_importing_the_mining_result_loads_no_chart_or_widget() -> None:
    code = (
        "import sys, llm_magics.mining.result; "
        "print(sorted(m for m in sys.modules if m.startswith(('llm_magics.plots', "
        "'llm_magics.widgets'))))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert shown.strip() == "[]"


@pytest.mark.parametrize(
    ("task", "kinds"),
    [
        ("classification", ["leaderboard", "importance", "confusion", "roc"]),
        ("regression", ["leaderboard", "importance", "predicted"]),
    ],
)
def test_result_charts_go_through_conveniences(
    monkeypatch: pytest.MonkeyPatch, task: str, kinds: list[str]
) -> None:
    drawn: list[tuple[object, str, dict[str, object]]] = []
    monkeypatch.setattr(
        conveniences, "plot_mining", lambda result, kind, **kw: drawn.append((result, kind, kw))
    )
    result = SimpleNamespace(task=task)
    MiningResult.charts(result)  # type: ignore[arg-type]
    MiningResult.plot(result, "contributions", row="r")  # type: ignore[arg-type]
    assert [kind for _, kind, _ in drawn] == [*kinds, "contributions"]
    assert all(r is result for r, _, _ in drawn) and drawn[-1][2] == {"row": "r"}
