"""A panel in a real Jupyter kernel, clicked over the widget protocol as JupyterLab would.

The in-process tests call the buttons directly; this one checks what only a kernel shows: the
widgets update while a run is in a background thread, a Cancel click is handled while the run is
going, and "Copy code" reaches the notebook with the next execution.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from tests.kernels import click, comm_data_until, kernel_client, run

pytestmark = pytest.mark.slow

SETUP = """
%load_ext llm_magics
import json, pandas as pd
from llm_magics.widgets import TunePanel
frame = pd.DataFrame({"note": [f"Order {i} came late; the box was crushed and wet." for i in range(24)]})
panel = TunePanel(frame, "summarize", "note", name="frame", batch_tokens=200)
panel.variable.value = "summaries"
print(json.dumps({k: getattr(panel, k).model_id for k in
                  ("apply_button", "cancel_button", "copy_button", "status", "progress")}))
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[BlockingKernelClient]:
    with kernel_client() as client:
        yield client


def test_a_running_apply_shows_progress_and_a_cancel_click_stops_it(
    kernel: BlockingKernelClient,
) -> None:
    _, printed = run(kernel, SETUP)
    ids = json.loads(printed.strip().splitlines()[-1])

    click(kernel, ids["apply_button"])
    progress = comm_data_until(
        kernel, ids["progress"], lambda d: d.get("state", {}).get("value", 0) > 0
    )["state"]
    assert progress["value"] < 24  # pushed while the run goes on, not at its end

    click(kernel, ids["cancel_button"])
    status = comm_data_until(
        kernel, ids["status"], lambda d: "Cancelled" in d.get("state", {}).get("value", "")
    )["state"]
    assert "Nothing was written" in status["value"]
    _, printed = run(
        kernel, "print(panel.error.reason, 'summaries' in globals(), 0 < panel.error.done < 24)"
    )
    assert printed.split() == ["cancelled", "False", "True"]

    click(kernel, ids["copy_button"])
    comm_data_until(
        kernel, ids["status"], lambda d: "next runs" in d.get("state", {}).get("value", "")
    )
    reply, _ = run(kernel, "1")
    payload = reply["content"]["payload"]
    assert payload == [
        {
            "source": "set_next_input",
            "text": "summaries = frame.llm.summarize('note', batch_tokens=200)",
            "replace": False,
        }
    ]
