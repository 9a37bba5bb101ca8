"""Talking to a real Jupyter kernel as JupyterLab does: execute, comm messages, iopub updates."""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel


@contextlib.contextmanager
def kernel_client() -> Iterator[BlockingKernelClient]:
    """A fresh python3 kernel (this environment's) and a client on it, shut down afterwards."""
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client: BlockingKernelClient, code: str) -> tuple[dict[str, Any], str]:
    """Execute ``code``; the reply and what it printed.

    Other iopub messages that arrive meanwhile (comm pushes) are kept for ``iopub_until``.
    """
    printed: list[str] = []

    def keep(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        else:
            _backlog(client).append(message)

    reply = client.execute_interactive(code, timeout=300, output_hook=keep)
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply, "".join(printed)


def send(client: BlockingKernelClient, msg_type: str, content: dict[str, Any]) -> None:
    """Send a ``comm_open`` / ``comm_msg`` / ``comm_close`` on the shell channel."""
    client.shell_channel.send(client.session.msg(msg_type, content))


def click(client: BlockingKernelClient, model_id: str) -> None:
    """What a click on an ipywidgets button sends."""
    data = {"method": "custom", "content": {"event": "click"}}
    send(client, "comm_msg", {"comm_id": model_id, "data": data})


def iopub_until(
    client: BlockingKernelClient,
    wanted: Callable[[dict[str, Any]], bool],
    timeout: float = 300,
) -> dict[str, Any]:
    """The first iopub message ``wanted`` accepts (including those ``run`` set aside)."""
    backlog = _backlog(client)
    for i, message in enumerate(backlog):
        if wanted(message):
            del backlog[: i + 1]
            return message
    backlog.clear()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = client.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        if wanted(message):
            return message
    pytest.fail(f"no such message from the kernel in {timeout} s")


def comm_data_until(
    client: BlockingKernelClient,
    comm_id: str,
    wanted: Callable[[dict[str, Any]], bool],
    timeout: float = 300,
) -> dict[str, Any]:
    """The data of the first ``comm_msg`` on ``comm_id`` that ``wanted`` accepts."""
    message = iopub_until(
        client,
        lambda m: (
            m["msg_type"] == "comm_msg"
            and m["content"].get("comm_id") == comm_id
            and wanted(m["content"]["data"])
        ),
        timeout,
    )
    return message["content"]["data"]


def _backlog(client: BlockingKernelClient) -> list[dict[str, Any]]:
    if not hasattr(client, "_llm_magics_backlog"):
        client._llm_magics_backlog = []  # type: ignore[attr-defined]
    return client._llm_magics_backlog  # type: ignore[attr-defined]


def execute_notebook(notebook: Any, folder: Path, *, timeout: int = 600) -> list[str]:
    """Run ``notebook`` (an nbformat node, changed in place: outputs) top to bottom in a fresh
    kernel whose working folder is ``folder``; return its errors as ``"Name: message"`` lines,
    leaving out those of cells tagged ``raises-exception``."""
    from nbclient import NotebookClient

    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return [
        f"{output['ename']}: {output['evalue']}"
        for cell in notebook.cells
        if cell.cell_type == "code" and "raises-exception" not in cell.metadata.get("tags", [])
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
