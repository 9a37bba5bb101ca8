"""A panel in a real Jupyter kernel, clicked over the widget protocol as JupyterLab would.

The in-process tests call the buttons directly; this one checks what only a kernel shows: the
widgets update while a run is in a background thread, a Cancel click is handled while the run is
going, and "Copy code" reaches the notebook with the next execution.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

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
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _run(client: BlockingKernelClient, code: str) -> tuple[dict[str, Any], str]:
    printed: list[str] = []

    def keep(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    reply = client.execute_interactive(code, timeout=300, output_hook=keep)
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply, "".join(printed)


def _click(client: BlockingKernelClient, model_id: str) -> None:
    content = {"comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}}
    client.shell_channel.send(client.session.msg("comm_msg", content))


def _state_until(
    client: BlockingKernelClient,
    model_id: str,
    wanted: Callable[[dict], bool],
    timeout: float = 300,
) -> dict[str, Any]:
    """The first update of widget ``model_id`` that ``wanted`` accepts (sent by the kernel)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = client.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        content = message["content"]
        if message["msg_type"] == "comm_msg" and content.get("comm_id") == model_id:
            state = content["data"].get("state", {})
            if wanted(state):
                return state
    pytest.fail(f"no update of {model_id} in {timeout} s")


def test_a_running_apply_shows_progress_and_a_cancel_click_stops_it(
    kernel: BlockingKernelClient,
) -> None:
    _, printed = _run(kernel, SETUP)
    ids = json.loads(printed.strip().splitlines()[-1])

    _click(kernel, ids["apply_button"])
    progress = _state_until(kernel, ids["progress"], lambda s: s.get("value", 0) > 0)
    assert progress["value"] < 24  # pushed while the run goes on, not at its end

    _click(kernel, ids["cancel_button"])
    status = _state_until(kernel, ids["status"], lambda s: "Cancelled" in s.get("value", ""))
    assert "Nothing was written" in status["value"]
    _, printed = _run(
        kernel, "print(panel.error.reason, 'summaries' in globals(), 0 < panel.error.done < 24)"
    )
    assert printed.split() == ["cancelled", "False", "True"]

    _click(kernel, ids["copy_button"])
    _state_until(kernel, ids["status"], lambda s: "next runs" in s.get("value", ""))
    reply, _ = _run(kernel, "1")
    payload = reply["content"]["payload"]
    assert payload == [
        {
            "source": "set_next_input",
            "text": "summaries = frame.llm.summarize('note', batch_tokens=200)",
            "replace": False,
        }
    ]
