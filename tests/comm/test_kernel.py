"""The sidebar channel in a real kernel, opened and spoken to as the JupyterLab extension does."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from llm_magics.comm import PROTOCOL_VERSION, TARGET
from tests.kernels import comm_data_until, iopub_until, kernel_client, run, send


@pytest.fixture
def kernel() -> Iterator[BlockingKernelClient]:
    with kernel_client() as client:
        yield client


def _open(client: BlockingKernelClient) -> str:
    comm_id = uuid.uuid4().hex
    send(
        client,
        "comm_open",
        {"comm_id": comm_id, "target_name": TARGET, "data": {"version": PROTOCOL_VERSION}},
    )
    return comm_id


def test_without_the_extension_the_open_is_refused(kernel: BlockingKernelClient) -> None:
    comm_id = _open(kernel)
    closed = iopub_until(kernel, lambda m: m["msg_type"] == "comm_close", timeout=30)
    assert closed["content"]["comm_id"] == comm_id


@pytest.mark.slow
def test_after_load_ext_the_state_comes_and_requests_are_answered(
    kernel: BlockingKernelClient,
) -> None:
    run(kernel, "%load_ext llm_magics")
    comm_id = _open(kernel)
    state = comm_data_until(kernel, comm_id, lambda d: d.get("type") == "state", timeout=60)
    assert state["version"] == PROTOCOL_VERSION and state["models"] == []

    request = {"version": PROTOCOL_VERSION, "action": "exec", "request_id": "1", "code": "1/0"}
    send(kernel, "comm_msg", {"comm_id": comm_id, "data": request})
    reply = comm_data_until(kernel, comm_id, lambda d: d.get("type") == "reply")
    assert reply["ok"] is False and "Unknown action 'exec'" in reply["error"]

    run(kernel, "from llm_magics import get_manager; key = get_manager().load('default-embed').key")
    loaded = comm_data_until(
        kernel,
        comm_id,
        lambda d: d.get("type") == "state" and any(m["state"] == "loaded" for m in d["models"]),
    )
    (model,) = loaded["models"]
    unload = {
        "version": PROTOCOL_VERSION,
        "action": "unload",
        "request_id": "2",
        "key": model["key"],
    }
    send(kernel, "comm_msg", {"comm_id": comm_id, "data": unload})
    assert comm_data_until(kernel, comm_id, lambda d: d.get("type") == "reply")["ok"]
    assert comm_data_until(kernel, comm_id, lambda d: d.get("type") == "state")["models"] == []
    _, printed = run(kernel, "print(len(get_manager().loaded()))")
    assert printed.strip() == "0"


def test_a_plain_import_answers_the_sidebar(kernel: BlockingKernelClient) -> None:
    # Without %load_ext: ops run after `import llm_magics`, and the sidebar must see them.
    run(kernel, "import llm_magics")
    comm_id = _open(kernel)
    state = comm_data_until(kernel, comm_id, lambda d: d.get("type") == "state", timeout=60)
    assert state["version"] == PROTOCOL_VERSION


@pytest.mark.slow
def test_on_a_subshell_the_sidebar_is_answered_while_a_cell_runs(
    kernel: BlockingKernelClient,
) -> None:
    # What JupyterLab 4.4+ does for a comm on ipykernel 7 (JEP 91): the comm gets its own
    # subshell, so a Run All does not hold the sidebar at "Connecting…" until its last cell.
    run(kernel, "%load_ext llm_magics")
    kernel.control_channel.send(kernel.session.msg("create_subshell_request", {}))
    reply = kernel.control_channel.get_msg(timeout=30)
    subshell = reply["content"]["subshell_id"]
    kernel.execute("import time; time.sleep(60)")
    iopub_until(kernel, lambda m: m["msg_type"] == "execute_input", timeout=30)
    started = time.monotonic()
    comm_id = uuid.uuid4().hex
    message = kernel.session.msg(
        "comm_open",
        {"comm_id": comm_id, "target_name": TARGET, "data": {"version": PROTOCOL_VERSION}},
    )
    message["header"]["subshell_id"] = subshell
    kernel.shell_channel.send(message)
    comm_data_until(kernel, comm_id, lambda d: d.get("type") == "state", timeout=50)
    assert time.monotonic() - started < 30  # the sleeping cell has 60 s to go
    kernel.control_channel.send(kernel.session.msg("interrupt_request", {}))
