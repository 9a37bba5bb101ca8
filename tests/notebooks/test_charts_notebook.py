"""``notebooks/charts.ipynb`` runs headless and every chart in it renders to a real PNG."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import nbformat
import pytest

from tests.kernels import execute_notebook

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "charts.ipynb"
CHARTS = 14  # 7 of a classification, 1 of a regression, 6 of text


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.timeout(900)
@pytest.mark.slow
def test_every_chart_renders_to_a_non_empty_png(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    errors = execute_notebook(notebook, tmp_path)
    images = [
        base64.b64decode(output["data"]["image/png"])
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert not errors
    assert len(images) == CHARTS
    for data in images:
        width, height = _png_size(data)
        assert width > 100 and height > 40 and len(data) > 2000
