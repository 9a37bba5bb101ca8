"""The sidebar channel's kernel side, in process: every action, and everything it must refuse."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from comm.base_comm import BaseComm

from llm_magics.comm import ACTIONS, PROTOCOL_VERSION, SidebarChannel
from llm_magics.comm.protocol import ReplyMessage, StateMessage
from llm_magics.engine import embed, get_result_cache
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager


class RecordingComm(BaseComm):
    """A kernel-side comm whose messages go to a list instead of a frontend.

    The transport is the only part replaced: ``SidebarChannel`` sees a real ``BaseComm`` (its
    ``on_msg`` / ``handle_msg`` / ``send`` / ``close``), and every message is JSON-encoded as the
    kernel would.
    """

    def __init__(self) -> None:
        super().__init__(target_name="llm_magics", primary=False)
        self.sent: list[tuple[str, Any]] = []
        self.broken = False

    def publish_msg(self, msg_type: str, data: Any = None, **keys: Any) -> None:
        if self.broken:
            msg = "the kernel's connection is gone"
            raise OSError(msg)
        self.sent.append((msg_type, json.loads(json.dumps(data))))

    def receive(self, data: Any) -> None:
        self.handle_msg({"content": {"comm_id": self.comm_id, "data": data}})

    def messages(self, kind: str) -> list[dict[str, Any]]:
        return [d for t, d in self.sent if t == "comm_msg" and d.get("type") == kind]


@pytest.fixture
def channel(manager: ModelManager) -> Any:
    comm = RecordingComm()
    channel = SidebarChannel(comm, manager, interval=0.2)
    yield channel
    channel.close()


def _request(action: str, **fields: Any) -> dict[str, Any]:
    return {"version": PROTOCOL_VERSION, "action": action, "request_id": "r1", **fields}


def _last_reply(channel: SidebarChannel) -> ReplyMessage:
    return channel.comm.messages("reply")[-1]


def _last_state(channel: SidebarChannel) -> StateMessage:
    return channel.comm.messages("state")[-1]


def test_opening_pushes_the_state_with_templates(channel: SidebarChannel) -> None:
    (state,) = channel.comm.messages("state")
    assert state["version"] == PROTOCOL_VERSION
    assert {"models", "memory", "jobs", "cache", "templates", "time"} <= set(state)
    assert state["memory"][0]["device"] == "cpu" and state["memory"][0]["budget"] > 0
    assert state["templates"][0]["code"].startswith("%%mine DATAFRAME --out mined\nclean review")
    assert all(t["title"] and "\n" in t["code"] for t in state["templates"])
    codes = "\n".join(t["code"] for t in state["templates"])
    assert "\naggregate review by product -> complaints" in codes and "\ndedup emp_title" in codes


def test_status_answers_and_pushes(channel: SidebarChannel) -> None:
    channel.comm.receive(_request("status"))
    assert _last_reply(channel) == {
        "type": "reply",
        "version": PROTOCOL_VERSION,
        "request_id": "r1",
        "ok": True,
        "error": None,
    }
    assert len(channel.comm.messages("state")) == 2


def test_unload_removes_the_model_and_the_state_says_so(
    channel: SidebarChannel, manager: ModelManager, tiny_models: list
) -> None:
    # A model of this test's own: the session's embedder stays loaded for the other tests.
    key = manager.load(str(tiny_models[0]), role="embed").key
    assert key in {m["key"] for m in _state_after(channel, "status")["models"]}
    channel.comm.receive(_request("unload", key=key))
    assert _last_reply(channel)["ok"]
    assert key not in {m["key"] for m in _last_state(channel)["models"]}
    assert key not in {m.key for m in manager.loaded()}
    channel.comm.receive(_request("unload", key=key))
    assert "No model" in _last_reply(channel)["error"]


def test_loading_a_model_pushes_loading_then_loaded(
    channel: SidebarChannel, manager: ModelManager, tiny_models: list
) -> None:
    before = len(channel.comm.messages("state"))
    key = manager.load(str(tiny_models[1]), role="embed").key
    try:
        states = channel.comm.messages("state")[before:]
        seen = [{m["key"]: m["state"] for m in s["models"]}.get(key) for s in states]
        assert seen == ["loading", "loaded"]
    finally:
        manager.unload_key(key)


def test_clear_cache_empties_it(channel: SidebarChannel, manager: ModelManager, embedder) -> None:
    embed(["a row for the cache to hold"], progress=False)
    assert get_result_cache(manager.config.cache_path).size()["entries"] > 0
    channel.comm.receive(_request("clear_cache"))
    assert _last_reply(channel)["ok"]
    assert _last_state(channel)["cache"]["entries"] == 0


def test_cancel_stops_a_running_job_and_job_progress_is_throttled(
    channel: SidebarChannel, manager: ModelManager, embedder: LoadedModel
) -> None:
    texts = [f"row {i} of a job the sidebar cancels" for i in range(40)]
    started = threading.Event()
    caught: list[BaseException] = []

    def slow_batches(job: Any) -> None:  # 40 batches of 0.05 s: progress every 0.05 s
        started.set()
        time.sleep(0.05)

    remove = manager.add_job_listener(slow_batches)
    before = len(channel.comm.messages("state"))

    def work() -> None:
        try:
            embed(texts, batch_tokens=12, cache=False, progress=False)
        except Exception as err:
            caught.append(err)

    worker = threading.Thread(target=work)
    worker.start()
    try:
        assert started.wait(timeout=60)
        time.sleep(0.7)
        running = [j for j in _last_state(channel)["jobs"] if j["state"] == "running"]
        assert running and 0 < running[0]["done"] < len(texts)  # pushed while it runs
        channel.comm.receive(_request("cancel", job_id=running[0]["id"]))
        worker.join(timeout=60)
    finally:
        remove()
    assert _last_reply(channel)["ok"]
    assert type(caught[0]).__name__ == "RunInterruptedError"
    time.sleep(0.3)
    states = channel.comm.messages("state")[before:]
    job = {j["id"]: j for j in states[-1]["jobs"]}[running[0]["id"]]
    assert job["state"] == "cancelled"
    # About 15 batches went by before the cancel; at 0.2 s apart that is a handful of pushes.
    assert 2 <= len(states) <= 10
    channel.comm.receive(_request("cancel", job_id=running[0]["id"]))
    assert "is not running" in _last_reply(channel)["error"]


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        ("unload everything", "A request is a JSON object, not str"),
        (None, "A request is a JSON object, not NoneType"),
        ([1, 2], "not list"),
        ({"action": "status"}, "Protocol version None is not this kernel's"),
        ({"version": 99, "action": "status"}, "Protocol version 99"),
        (_request("execute", code="import os"), "Unknown action 'execute'"),
        (_request("unlod", key="x"), "Did you mean 'unload'?"),
        (_request("unload"), "needs 'key', a string"),
        (_request("unload", key=["a"]), "needs 'key', a string"),
        (_request("cancel", job_id=3), "needs 'job_id', a string"),
        (_request("__init__"), "Unknown action '__init__'"),
    ],
)
def test_anything_but_a_known_action_is_refused(
    channel: SidebarChannel, manager: ModelManager, request_: Any, error: str
) -> None:
    models = [m.key for m in manager.loaded()]
    channel.comm.receive(request_)
    reply = _last_reply(channel)
    assert reply["ok"] is False and error in reply["error"]
    assert reply["request_id"] == (
        request_.get("request_id") if isinstance(request_, dict) else None
    )
    assert [m.key for m in manager.loaded()] == models  # nothing happened


def test_every_action_is_handled() -> None:
    assert ACTIONS == ("status", "unload", "cancel", "clear_cache")


def test_a_broken_comm_closes_the_channel_and_never_stops_a_job(
    manager: ModelManager, embedder: LoadedModel
) -> None:
    comm = RecordingComm()
    channel = SidebarChannel(comm, manager, interval=0.0)
    comm.broken = True
    vectors = embed(["the job goes on", "and ends"], cache=False, progress=False).vectors
    assert vectors.shape[0] == 2
    assert channel._closed
    comm.broken = False
    manager.load("default-embed")  # a model change: nothing is sent any more
    assert comm.messages("state") == comm.messages("state")[:1]


def test_closing_the_comm_stops_the_pushes(manager: ModelManager, embedder: LoadedModel) -> None:
    comm = RecordingComm()
    SidebarChannel(comm, manager)
    comm.handle_close({"content": {"comm_id": comm.comm_id, "data": {}}})
    count = len(comm.messages("state"))
    embed(["after the close"], cache=False, progress=False)
    assert len(comm.messages("state")) == count


def _state_after(channel: SidebarChannel, action: str) -> StateMessage:
    channel.comm.receive(_request(action))
    return _last_state(channel)
