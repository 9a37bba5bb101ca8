"""Progress bars in a notebook: live ipywidgets bars that a saved notebook shows as plain lines."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.kernels import execute_notebook

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.mark.slow
def test_a_saved_notebook_shows_each_finished_bar_as_its_last_line(tmp_path: Path) -> None:
    # Reopened, a widget whose state died with the kernel reads "Error displaying widget:
    # model not found"; the bar's final line as text reads the same in any viewer.
    code = (
        "import pandas as pd\nimport llm_magics\n"
        "vectors = pd.Series(['tea was mouldy', 'fast delivery', 'tea was mouldy']).llm.embed()\n"
        "from llm_magics.progress import tqdm\n"
        "for _ in tqdm(range(3), desc='dropped', leave=False): pass"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    assert execute_notebook(notebook, tmp_path) == []
    outputs = notebook.cells[0].outputs
    assert not [o for o in outputs if WIDGET in o.get("data", {})], outputs
    lines = [o["data"]["text/plain"] for o in outputs if o.get("output_type") == "display_data"]
    assert any(line.startswith("embed · default-embed: 100%") and "3/3" in line for line in lines)
    assert not any("dropped" in line for line in lines)  # leave=False: nothing stays
