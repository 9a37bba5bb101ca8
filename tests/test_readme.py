"""Every code example in README.md runs, in order, as a reader would run them.

The ``python`` and ``ipython`` blocks become the cells of one notebook, executed in a real kernel
(so ``%%mine`` and ``%config`` work as they do in Jupyter); the ``bash`` blocks then run in a
scratch folder with this environment's ``llm-mine`` on ``PATH``. The quickstart's ``make`` commands
are the exception: CI runs them itself (``.ci/run`` calls ``make test``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from llm_magics.plan.verbs import VERBS
from tests.kernels import execute_notebook

README = Path(__file__).parents[1] / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(README.read_text()) if lang == language]


def test_the_readme_has_examples_of_every_kind() -> None:
    assert len(blocks("python")) >= 8
    assert any(code.startswith("%%mine") for code in blocks("ipython"))
    assert any("llm-mine run" in code for code in blocks("bash"))
    assert "make demo" in blocks("bash")[0] and "make test" in blocks("bash")[0]


def test_the_plan_language_table_lists_every_verb() -> None:
    text = README.read_text()
    table = text[text.index("### The plan language") :]
    for verb in VERBS:
        assert f"| `{verb}` |" in table, verb


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_every_python_and_magic_example_runs(tmp_path: Path) -> None:
    cells = [
        code for lang, code in BLOCK.findall(README.read_text()) if lang in ("python", "ipython")
    ]
    notebook = new_notebook(cells=[new_code_cell(code) for code in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    assert not execute_notebook(notebook, tmp_path, timeout=900)
    shown = [o for cell in notebook.cells for o in cell.outputs]
    assert len(shown) >= len(cells) // 2  # the examples show results, not only run


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_shell_example_runs(tmp_path: Path) -> None:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for code in blocks("bash"):
        if re.search(r"^make ", code, re.MULTILINE):
            continue  # the quickstart: CI runs it
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=800,
        )
        assert done.returncode == 0, f"{code}\n{done.stdout}\n{done.stderr}"
    assert (tmp_path / "mined.parquet").exists()
    assert "<svg" in (tmp_path / "report.html").read_text()
