"""The messages between the kernel and the JupyterLab sidebar, defined once.

Mirrored field for field by ``labextension/src/protocol.ts``; ``PROTOCOL_VERSION`` changes when
either side would misread the other. The sidebar opens a comm on the target ``llm_magics``; the
kernel answers with a ``StateMessage`` and pushes a new one whenever its models change and at
most every ``PUSH_INTERVAL`` seconds while a job runs. The sidebar sends ``Request``s; the kernel
performs only the actions in ``ACTIONS`` and answers each request with a ``ReplyMessage``
(``ok: false`` and an error for anything else). Nothing received is ever run as code.

::

    sidebar                                  kernel
    comm_open  {version}            ──▶
                                    ◀──      state  {models, memory, jobs, cache, templates}
    request    {action, request_id} ──▶
                                    ◀──      reply  {request_id, ok, error}
                                    ◀──      state  (after every change)
"""

from __future__ import annotations

from typing import Literal, TypedDict

__all__ = [
    "ACTIONS",
    "PROTOCOL_VERSION",
    "PUSH_INTERVAL",
    "TARGET",
    "CacheInfo",
    "JobInfo",
    "MemoryInfo",
    "ModelInfo",
    "ReplyMessage",
    "Request",
    "StateMessage",
    "Template",
]

PROTOCOL_VERSION = 2  # 2: jobs say foreground, stopping, batch
TARGET = "llm_magics"
PUSH_INTERVAL = 0.5  # seconds between two pushes of job progress, at most
ACTIONS = ("status", "unload", "cancel", "clear_cache")

Action = Literal["status", "unload", "cancel", "clear_cache"]


class Request(TypedDict, total=False):
    """What the sidebar asks. ``key`` names the model to unload, ``job_id`` the job to cancel."""

    version: int
    action: Action
    request_id: str
    key: str
    job_id: str


class ModelInfo(TypedDict, total=False):
    """A loaded model (``state: "loaded"``) or one being loaded (``"loading"``)."""

    name: str
    key: str
    role: str
    state: Literal["loaded", "loading"]
    device: str
    dtype: str
    quantization: str
    parameters: int
    bytes: int
    load_seconds: float
    last_used: float
    started: float
    source: str
    fingerprint: str


class MemoryInfo(TypedDict):
    """One device, in bytes."""

    device: str
    total: int
    used: int
    free: int
    budget: int
    models_bytes: int


class JobInfo(TypedDict):
    """One engine call, or one step of a ``%%mine`` plan counting its calls' rows.

    ``done``, ``total`` and ``cached`` count input rows, ``batch`` the rows' worth of the running
    batch done so far. A ``foreground`` job runs in a notebook cell, so the kernel reads no request
    until it ends: the sidebar interrupts the kernel to stop it. ``stopping``: a stop was asked for
    and the job has not stopped yet. ``note``: one line on how the work went (a cascade's rows
    routed to the quality model), or ``None``.
    """

    id: str
    primitive: str
    model: str
    done: int
    total: int
    cached: int
    rows_per_second: float
    started: float
    finished: float | None
    state: Literal["running", "done", "cancelled", "interrupted", "failed"]
    error: str | None
    note: str | None
    batch: float
    foreground: bool
    stopping: bool


class CacheInfo(TypedDict):
    """The result cache on disk."""

    path: str
    entries: int
    bytes: int


class Template(TypedDict):
    """A ``%%mine`` cell the sidebar can insert: a title and the cell's text."""

    title: str
    code: str


class StateMessage(TypedDict):
    """Everything the sidebar shows, pushed by the kernel."""

    type: Literal["state"]
    version: int
    models: list[ModelInfo]
    memory: list[MemoryInfo]
    jobs: list[JobInfo]
    cache: CacheInfo
    templates: list[Template]
    time: float  # the kernel's clock, so "last used" and ETAs don't depend on the browser's


class ReplyMessage(TypedDict):
    """The answer to one ``Request``."""

    type: Literal["reply"]
    version: int
    request_id: str | None
    ok: bool
    error: str | None
