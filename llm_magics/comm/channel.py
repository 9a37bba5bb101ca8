"""The kernel's side of the sidebar channel: push the state, perform the known actions only.

``register_comm_target`` (called by ``%load_ext llm_magics``) registers the comm target
``llm_magics``; each comm the sidebar opens gets a ``SidebarChannel``. The channel pushes a
``StateMessage`` when the comm opens, when the manager's models change, and while a job runs (at
most every ``PUSH_INTERVAL`` seconds, with a last push when it ends); it answers each request with
a ``ReplyMessage``. A request is data, never code: its ``action`` is looked up in a fixed table,
its fields must be strings, and anything else is answered with ``ok: false`` and an error.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from llm_magics.comm.protocol import (
    ACTIONS,
    PROTOCOL_VERSION,
    PUSH_INTERVAL,
    TARGET,
    ReplyMessage,
    StateMessage,
    Template,
)
from llm_magics.engine.cache import get_result_cache
from llm_magics.errors import InvalidArgumentError, did_you_mean
from llm_magics.runtime.manager import ModelManager, get_manager

__all__ = ["SidebarChannel", "register_comm_target", "sidebar_state"]

log = logging.getLogger(__name__)

_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Clean, summarize, sentiment", ("clean", "summarize", "sentiment")),
    ("Keywords and topics", ("keywords", "topics")),
    ("Extract fields", ("extract", "filter")),
    ("Predict a column", ("sentiment", "features", "predict", "explain")),
    ("One answer per group", ("aggregate",)),
    ("Near duplicates", ("dedup",)),
)


def _templates() -> list[Template]:
    from llm_magics.plan.verbs import EXAMPLES

    return [
        {
            "title": title,
            "code": "%%mine DATAFRAME --out mined\n"
            + "\n".join(EXAMPLES[verb].split("  #")[0].rstrip() for verb in verbs),
        }
        for title, verbs in _TEMPLATES
    ]


def sidebar_state(manager: ModelManager | None = None) -> StateMessage:
    """What the sidebar shows: the manager's ``status()``, the cache's size, the templates."""
    manager = manager or get_manager()
    status = manager.status()
    size = get_result_cache(manager.config.cache_path).size()
    return {
        "type": "state",
        "version": PROTOCOL_VERSION,
        "models": status["models"],
        "memory": status["memory"],
        "jobs": status["jobs"],
        "cache": {"path": size["path"], "entries": size["entries"], "bytes": size["bytes"]},
        "templates": _templates(),
        "time": time.time(),
    }


class SidebarChannel:
    """One open comm to a sidebar (see the module docs).

    Parameters
    ----------
    comm
        The kernel-side comm (``comm.base_comm.BaseComm``) the sidebar opened.
    manager
        Whose state to push and whose models and jobs the actions act on.
    interval
        Seconds between two pushes of job progress, at most.
    """

    def __init__(
        self, comm: Any, manager: ModelManager | None = None, *, interval: float = PUSH_INTERVAL
    ) -> None:
        self.comm = comm
        self.manager = manager or get_manager()
        self.interval = interval
        self.pushes = 0
        self._lock = threading.Lock()
        self._last_push = float("-inf")
        self._timer: threading.Timer | None = None
        self._closed = False
        self._actions: dict[str, Callable[[dict[str, Any]], None]] = {
            "status": lambda request: None,
            "unload": self._unload,
            "cancel": self._cancel,
            "clear_cache": self._clear_cache,
        }
        self._removers = [
            self.manager.add_model_listener(self.push),
            self.manager.add_job_listener(self._job_moved),
        ]
        comm.on_msg(self._received)
        comm.on_close(lambda message: self.close())
        self.push()

    # ----------------------------------------------------------------------------- pushing

    def push(self) -> None:
        """Send the state now. Never raises: a listener that raised would stop the user's job."""
        if self._closed:
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._last_push = time.monotonic()
        try:
            self.comm.send(sidebar_state(self.manager))
            self.pushes += 1
        except Exception:  # a comm that broke with its kernel connection: stop pushing
            log.warning("The llm_magics sidebar channel failed; closing it.", exc_info=True)
            self.close()

    def _job_moved(self, job: Any) -> None:
        if job.state != "running":
            self.push()
            return
        with self._lock:
            wait = self._last_push + self.interval - time.monotonic()
            if wait > 0:
                if self._timer is None:  # the last progress of the interval goes out at its end
                    self._timer = threading.Timer(wait, self.push)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self.push()

    def close(self) -> None:
        """Stop listening to the manager (the comm closed, or broke)."""
        if self._closed:
            return
        self._closed = True
        for remove in self._removers:
            remove()
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()

    # ----------------------------------------------------------------------------- requests

    def _received(self, message: dict[str, Any]) -> None:
        data = message.get("content", {}).get("data") if isinstance(message, dict) else None
        reply = self.handle(data)
        with contextlib.suppress(Exception):
            self.comm.send(reply)
        self.push()

    def handle(self, request: Any) -> ReplyMessage:
        """Perform ``request`` if it is one of the known actions, well formed; say how it went."""
        request_id = request.get("request_id") if isinstance(request, dict) else None
        if not isinstance(request_id, str):
            request_id = None
        try:
            action = self._check(request)
            self._actions[action](request)
        except InvalidArgumentError as err:
            return self._reply(request_id, error=str(err))
        except Exception as err:  # the action failed in the kernel: say so, keep the channel
            log.warning("llm_magics sidebar action failed", exc_info=True)
            return self._reply(request_id, error=f"{type(err).__name__}: {err}")
        return self._reply(request_id)

    @staticmethod
    def _check(request: Any) -> str:
        if not isinstance(request, dict):
            msg = f"A request is a JSON object, not {type(request).__name__}."
            raise InvalidArgumentError(msg)
        version = request.get("version")
        if version != PROTOCOL_VERSION:
            msg = (
                f"Protocol version {version!r} is not this kernel's ({PROTOCOL_VERSION}); update "
                "the llm_magics package and the JupyterLab extension to the same release."
            )
            raise InvalidArgumentError(msg)
        action = request.get("action")
        if action not in ACTIONS:
            msg = f"Unknown action {action!r}.{did_you_mean(str(action), ACTIONS)} Actions: {', '.join(ACTIONS)}."
            raise InvalidArgumentError(msg)
        needed = {"unload": "key", "cancel": "job_id"}.get(action)
        if needed is not None and not isinstance(request.get(needed), str):
            msg = f"Action {action!r} needs {needed!r}, a string."
            raise InvalidArgumentError(msg)
        return action

    @staticmethod
    def _reply(request_id: str | None, *, error: str | None = None) -> ReplyMessage:
        return {
            "type": "reply",
            "version": PROTOCOL_VERSION,
            "request_id": request_id,
            "ok": error is None,
            "error": error,
        }

    def _unload(self, request: dict[str, Any]) -> None:
        if not self.manager.unload_key(request["key"]):
            msg = f"No model {request['key']!r} is loaded (it may have been unloaded already)."
            raise InvalidArgumentError(msg)

    def _cancel(self, request: dict[str, Any]) -> None:
        if not self.manager.cancel(request["job_id"]):
            msg = f"Job {request['job_id']!r} is not running."
            raise InvalidArgumentError(msg)

    def _clear_cache(self, request: dict[str, Any]) -> None:
        get_result_cache(self.manager.config.cache_path).clear()


def register_comm_target(manager: ModelManager | None = None) -> None:
    """Answer comms the sidebar opens on ``llm_magics`` (``%load_ext llm_magics`` calls this)."""
    import comm

    def opened(kernel_comm: Any, message: dict[str, Any]) -> None:
        SidebarChannel(kernel_comm, manager)

    comm.get_comm_manager().register_target(TARGET, opened)
