"""One model manager per kernel: loads each model once, keeps every device within its budget.

``get_manager()`` returns the kernel's manager. Everything that needs a model (ops, widgets, the
sidebar comm, ``%mine``) goes through it, so a model is loaded once however many places use it,
and ``status()`` is the one snapshot that every display reads.

Memory: before a model is loaded its size is computed from its config, dtype and quantization
(``estimate_bytes``);
the least recently used models on the same device are unloaded until it fits the device's budget;
a model that cannot fit even alone raises ``DeviceOutOfMemoryError`` before anything is read.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import torch

from llm_magics.config import LlmMagics, get_config
from llm_magics.errors import DeviceOutOfMemoryError, InvalidArgumentError, did_you_mean, warn
from llm_magics.runtime import published
from llm_magics.runtime.devices import device_memory, resolve_device, resolve_dtype
from llm_magics.runtime.loading import (
    LoadedModel,
    ModelHandle,
    check_role,
    estimate_bytes,
    import_transformers,
    infer_role,
    load_model,
    locate,
    model_handle,
    read_config,
)
from llm_magics.runtime.published import PUBLISHED
from llm_magics.runtime.quantization import check_quantization
from llm_magics.runtime.specs import ModelSpec, Role, resolve_spec
from llm_magics.units import format_bytes

__all__ = ["KEPT_FINISHED_JOBS", "ModelManager", "get_manager"]

KEPT_FINISHED_JOBS = 20


@dataclass
class _Pending:
    """A load in progress: others asking for the same model wait on ``future``."""

    future: Future
    spec: ModelSpec
    role: Role
    device: torch.device
    dtype: torch.dtype
    quantization: str
    bytes: int
    started: float


class ModelManager:
    """Loads, shares and evicts models within a memory budget per device.

    Thread-safe: widgets and the sidebar comm call it from other threads. Loading the same model
    from several threads at once loads it once; every caller gets the same ``LoadedModel``.

    Parameters
    ----------
    config
        Settings to follow (default: the kernel's ``LlmMagics``). They are read at each call, so
        ``%config`` changes apply to the next load.

    Examples
    --------
    >>> manager = get_manager()
    >>> embedder = manager.load("default-embed")      # doctest: +SKIP
    >>> manager.status()["models"][0]["role"]          # doctest: +SKIP
    'embed'
    """

    def __init__(self, config: LlmMagics | None = None) -> None:
        self.config = config or get_config()
        self._lock = threading.RLock()
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()  # least recently used first
        self._pending: dict[str, _Pending] = {}
        self._jobs: OrderedDict[str, Any] = OrderedDict()  # the engine's jobs, oldest first
        self._job_listeners: list[Callable[[Any], None]] = []
        self._model_listeners: list[Callable[[], None]] = []
        self._warned_missing: set[str] = set()

    # ------------------------------------------------------------------------------ public API

    def load(
        self,
        name: str | None = None,
        *,
        role: Role | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        quantization: str | None = None,
    ) -> LoadedModel:
        """Return the model ``name``, loading it first if it is not in memory.

        Parameters
        ----------
        name
            An alias, a local folder, a ``.gguf`` file or a Hugging Face id. ``None``: the default
            model of ``role`` (``LlmMagics.default_chat_model`` / ``default_embed_model``).
        role
            ``"chat"``, ``"embed"`` or ``"classifier"``; read from the model's config when omitted.
        device, dtype
            Override the settings (``LlmMagics.device`` / ``dtype``) for this model.
        quantization
            ``"int8"`` or ``"int4"`` stores the linear layers' weights in 8 or 4 bits (torchao
            int8 on CPU; bitsandbytes int8/int4 on CUDA); ``"none"`` does not. Default:
            ``LlmMagics.quantization``. A quantized and an unquantized copy are separate entries.

        Raises
        ------
        ModelNotFoundError, ModelLoadError, DeviceOutOfMemoryError, InvalidArgumentError
        """
        spec, target, precision, quantized = self._resolve(name, role, device, dtype, quantization)
        found = self._loaded_copy(spec, target, precision, quantized)
        if found is not None:
            return found
        # One load at a time in the process: transformers' lazy imports are not thread-safe (a
        # panel's background thread loading the encoder while a cell loads the chat model got
        # "cannot import name 'AutoConfig'"), and two loads at once would double the memory peak.
        # Status and the loaded models stay readable meanwhile (``self._lock`` is not held).
        with _LOADING:
            found = self._loaded_copy(spec, target, precision, quantized)
            if found is not None:
                return found  # loaded by another thread while we waited
            return self._load_new(spec, target, precision, quantized)

    def handle(
        self,
        name: str | None = None,
        *,
        role: Role | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        quantization: str | None = None,
    ) -> LoadedModel | ModelHandle:
        """The model ``load`` would give, without reading its weights until they are needed.

        A loaded copy is returned as it is. Otherwise a ``ModelHandle``: the model's tokenizer,
        config and result-cache fingerprint (1.6 s for the quality model in a new process, most of
        it transformers' imports; 0.04 s for the embedding model after that), whose ``load()`` loads
        the weights through this manager. The engine asks for a handle, so that a call whose every
        row is in the result cache never loads the model. A ``.gguf`` file not yet converted is
        loaded at once (its conversion reads the weights anyway). Arguments and errors as
        ``load``'s, except that a model that does not fit the memory budget is refused only when
        it is loaded.
        """
        spec, target, precision, quantized = self._resolve(name, role, device, dtype, quantization)
        found = self._loaded_copy(spec, target, precision, quantized)
        if found is not None:
            return found
        source = locate(spec, self.config)
        if source.gguf_file:
            return self.load(name, role=role, device=device, dtype=dtype, quantization=quantization)

        def loader() -> LoadedModel:
            return self.load(
                name, role=role, device=target, dtype=precision, quantization=quantized
            )

        return model_handle(
            spec, source, spec.role, target, precision, self.config, quantized, loader
        )

    def model_for(self, role: Role | None, model: str | None = None) -> str:
        """The model a call in ``role`` uses: ``model`` when given, else the role's default.

        The one place that answers "which model": ``load`` and the plan runner ask it, and no
        caller changes the settings to choose a model for a while.

        Raises
        ------
        InvalidArgumentError
            No ``model`` and a role without a default (a classifier is always named).

        Examples
        --------
        >>> manager = get_manager()
        >>> manager.model_for("chat", "my-model"), manager.model_for("embed")
        ('my-model', 'default-embed')
        """
        if model is not None:
            return model
        if role not in ("chat", "embed"):
            msg = "Name a model, or pass role='chat' or role='embed' to get the default one."
            raise InvalidArgumentError(msg)
        if role == "embed":
            return self.config.default_embed_model
        chosen = self.config.default_chat_model
        if chosen in PUBLISHED and not published.available(chosen, self.config):
            fallback = self.config.fast_chat_model
            if chosen not in self._warned_missing:
                self._warned_missing.add(chosen)
                warn(
                    f"{chosen!r} is not installed, so {fallback!r} answers instead; its answers "
                    f"are much weaker. Install it with `llm-mine models install {chosen}` "
                    "(1.1 GB, once)."
                )
            return fallback
        return chosen

    def find(self, name: str, *, role: Role | None = None) -> str:
        """Say where the weights of ``name`` are, without loading them; check a name before use.

        As quick as ``load`` to refuse: a hub id that is neither in the local Hugging Face cache
        nor reachable within ``LlmMagics.hub_timeout`` raises at once.

        Raises
        ------
        ModelNotFoundError, InvalidArgumentError, MissingDependencyError
        """
        return locate(self._spec(name, role), self.config).description

    def get(self, name: str, *, role: Role | None = None) -> LoadedModel:
        """Return a model that is already loaded (most recently used first), without loading.

        Raises
        ------
        InvalidArgumentError
            When no model of that name is loaded; the message lists those that are.
        """
        spec = self._spec(name, role)
        with self._lock:
            for key in reversed(self._models):
                if self._matches(self._models[key], spec, spec.role):
                    return self._touch(key)
            loaded = [m.name for m in self._models.values()]
        msg = (
            f"{name!r} is not loaded (loaded: {', '.join(loaded) or 'none'})."
            f"{did_you_mean(name, loaded)} Load it with `get_manager().load({name!r})`."
        )
        raise InvalidArgumentError(msg)

    def unload(self, name: str, *, role: Role | None = None) -> int:
        """Unload every loaded copy of ``name`` (any device, dtype or quantization); return how many."""
        spec = self._spec(name, role)
        with self._lock:
            keys = [k for k, m in self._models.items() if self._matches(m, spec, role)]
            for key in keys:
                self._evict(key)
        if keys:
            self._models_changed()
        return len(keys)

    def unload_key(self, key: str) -> bool:
        """Unload the model whose ``key`` is ``key`` (as in ``status()["models"]``)."""
        with self._lock:
            found = key in self._models
            if found:
                self._evict(key)
        if found:
            self._models_changed()
        return found

    def unload_all(self) -> int:
        """Unload every model; return how many were loaded."""
        with self._lock:
            keys = list(self._models)
            for key in keys:
                self._evict(key)
        if keys:
            self._models_changed()
        return len(keys)

    def add_model_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` whenever the models change (a load starts, ends or fails, a model
        is unloaded or evicted); returns a function that removes it. The sidebar pushes its
        state from here."""
        return self._subscribe(self._model_listeners, listener)

    def _subscribe(self, listeners: list[Any], listener: Any) -> Callable[[], None]:
        """Add ``listener`` to ``listeners``; return the function that takes it out again."""
        with self._lock:
            listeners.append(listener)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                listeners.remove(listener)

        return remove

    def _models_changed(self) -> None:
        with self._lock:
            listeners = list(self._model_listeners)
        for listener in listeners:
            listener()

    # --------------------------------------------------------------------------------- jobs

    def add_job(self, job: Any) -> None:
        """Track an engine job (anything with ``id``, ``state``, ``cancel()`` and ``snapshot()``).

        Finished jobs stay listed until more than ``KEPT_FINISHED_JOBS`` have finished.
        """
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old_jobs()

    def _forget_old_jobs(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.state != "running"]
        for key in finished[: max(0, len(finished) - KEPT_FINISHED_JOBS)]:
            del self._jobs[key]

    def cancel(self, job_id: str) -> bool:
        """Stop a running job at its next batch boundary; ``False`` if it is not running."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.state != "running":
            return False
        job.cancel()
        return True

    def add_job_listener(self, listener: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``listener(job)`` after every batch of every job; returns a function that removes it.

        Listeners run in the job's thread, between batches: the sidebar and widgets use this to
        show live progress. An exception a listener raises stops the job (``KeyboardInterrupt``
        stops it the way Ctrl-C does).
        """
        return self._subscribe(self._job_listeners, listener)

    def notify(self, job: Any) -> None:
        """Tell the listeners that ``job`` moved on."""
        with self._lock:
            self._forget_old_jobs()
            listeners = list(self._job_listeners)
        for listener in listeners:
            listener(job)

    def loaded(self) -> list[LoadedModel]:
        """The models in memory, least recently used first."""
        with self._lock:
            return list(self._models.values())

    def budget(self, device: str | torch.device) -> int:
        """Bytes the models on ``device`` may take together.

        An explicit ``LlmMagics.memory_budget`` entry wins; otherwise a share
        (``gpu_memory_fraction`` / ``cpu_memory_fraction``) of what is free now plus what our own
        models already hold there.
        """
        device = resolve_device(device)
        explicit = self.config.memory_budget
        for name in (str(device), device.type):
            if name in explicit:
                return int(explicit[name])
        fraction = self.config.cpu_memory_fraction
        if device.type != "cpu":
            fraction = self.config.gpu_memory_fraction
        with self._lock:
            ours = sum(m.bytes for m in self._models.values() if m.device == device)
        return int(fraction * (device_memory(device).free + ours))

    def status(self) -> dict[str, Any]:
        """A JSON-serializable snapshot: models, memory per device, and jobs.

        ``models`` lists loaded models (least recently used first) then loads in progress
        (``state: "loading"``); ``memory`` has ``total``, ``used``, ``free``, ``budget`` and
        ``models_bytes`` in bytes per device; ``jobs`` lists the engine's runs.
        """
        with self._lock:
            models = [m.snapshot() for m in self._models.values()]
            models += [
                {
                    "name": p.spec.name,
                    "key": key,
                    "role": p.role,
                    "state": "loading",
                    "device": str(p.device),
                    "dtype": str(p.dtype).removeprefix("torch."),
                    "quantization": p.quantization,
                    "bytes": p.bytes,
                    "started": p.started,
                }
                for key, p in self._pending.items()
            ]
            devices = {torch.device("cpu"), *(m.device for m in self._models.values())}
            jobs = [job.snapshot() for job in self._jobs.values()]
        if torch.cuda.is_available():
            devices.update(torch.device("cuda", i) for i in range(torch.cuda.device_count()))
        memory = []
        for device in sorted(devices, key=str):
            info = device_memory(device)
            held = sum(m["bytes"] for m in models if m["device"] == str(device))
            memory.append(
                {
                    "device": str(device),
                    "total": info.total,
                    "used": info.used,
                    "free": info.free,
                    "budget": self.budget(device),
                    "models_bytes": held,
                }
            )
        return {"models": models, "memory": memory, "jobs": jobs}

    # ----------------------------------------------------------------------------- internals

    def _resolve(
        self,
        name: str | None,
        role: Role | None,
        device: str | torch.device | None,
        dtype: str | torch.dtype | None,
        quantization: str | None,
    ) -> tuple[ModelSpec, torch.device, torch.dtype, str]:
        """The spec, device, dtype and quantization a ``load(name, ...)`` asks for."""
        import_transformers()  # once, under a lock: threads may ask for their first model at once
        spec = self._spec(name, role)
        target = resolve_device(device or self.config.device)
        precision = resolve_dtype(target, dtype or self.config.dtype)
        quantized = check_quantization(quantization or self.config.quantization, target, precision)
        return spec, target, precision, quantized

    def _loaded_copy(
        self, spec: ModelSpec, device: torch.device, dtype: torch.dtype, quantization: str
    ) -> LoadedModel | None:
        """The loaded copy of ``spec`` in its own role, on ``device`` in ``dtype``, if any."""
        # ``spec.role`` is the role the name implies ("default-chat" is a chat model), so a copy of
        # the same file loaded in another role (the chat model as an encoder) is not returned.
        with self._lock:
            for key, loaded in self._models.items():
                if self._matches(loaded, spec, spec.role, device, dtype, quantization):
                    return self._touch(key)
        return None

    def _spec(self, name: str | None, role: Role | None) -> ModelSpec:
        return resolve_spec(self.model_for(role, name), self.config, role=role)

    @staticmethod
    def _matches(
        loaded: LoadedModel,
        spec: ModelSpec,
        role: Role | None,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
        quantization: str | None = None,
    ) -> bool:
        return (
            loaded.spec.key == spec.key
            and role in (None, loaded.role)
            and device in (None, loaded.device)
            and dtype in (None, loaded.dtype)
            and quantization in (None, loaded.quantization)
        )

    def _touch(self, key: str) -> LoadedModel:
        self._models.move_to_end(key)
        loaded = self._models[key]
        loaded.touch()
        return loaded

    def _load_new(
        self, spec: ModelSpec, device: torch.device, dtype: torch.dtype, quantization: str
    ) -> LoadedModel:
        source = locate(spec, self.config)
        model_config = read_config(spec, source, self.config)
        role = spec.role or infer_role(model_config)
        check_role(model_config, role, spec.name)
        key = f"{spec.key}|{role}|{device}|{str(dtype).removeprefix('torch.')}"
        if quantization != "none":
            key += f"|{quantization}"
        needed = estimate_bytes(
            model_config, role, dtype, self.config, quantization=quantization, device=device
        )
        with self._lock:
            if key in self._models:  # another thread finished it while we read the config
                return self._touch(key)
            pending = self._pending.get(key)
            if pending is None:
                self._make_room(spec, device, dtype, needed, quantization)
                owner = _Pending(
                    Future(), spec, role, device, dtype, quantization, needed, time.time()
                )
                self._pending[key] = owner
        if pending is not None:  # another thread is loading it: share its result
            return pending.future.result()
        self._models_changed()
        try:
            loaded = load_model(key, spec, source, role, device, dtype, self.config, quantization)
        except BaseException as err:
            with self._lock:
                del self._pending[key]
            owner.future.set_exception(err)
            self._models_changed()
            raise
        with self._lock:
            self._models[key] = loaded
            del self._pending[key]
        owner.future.set_result(loaded)
        self._models_changed()
        return loaded

    def _make_room(
        self,
        spec: ModelSpec,
        device: torch.device,
        dtype: torch.dtype,
        needed: int,
        quantization: str = "none",
    ) -> None:
        budget = self.budget(device)
        if needed > budget:
            how = (
                "LlmMagics.memory_budget"
                if str(device) in self.config.memory_budget
                else ("a share of free memory")
            )
            dtype_name = str(dtype).removeprefix("torch.")
            if quantization != "none":
                dtype_name += f", {quantization}"
            # Only what would shrink it from here: no bfloat16 to a model already in bfloat16.
            smaller = ["dtype='bfloat16' (half of float32)"] if dtype == torch.float32 else []
            if quantization == "none":
                smaller.append("quantization='int8'")
            elif quantization == "int8" and device.type == "cuda":
                smaller.append("quantization='int4'")
            smaller += ["a smaller model", "another device"]
            msg = (
                f"{spec.name!r} needs about {format_bytes(needed)} in {dtype_name} on {device}, more "
                f"than the memory budget of {format_bytes(budget)} ({how}). Try "
                f"{', '.join(smaller)}, or raise the budget: "
                f"%config LlmMagics.memory_budget = {{'{device}': '...GiB'}}."
            )
            raise DeviceOutOfMemoryError(
                msg, model=spec.name, device=str(device), needed_bytes=needed, budget_bytes=budget
            )
        reserved = sum(p.bytes for p in self._pending.values() if p.device == device)
        while True:
            held = sum(m.bytes for m in self._models.values() if m.device == device)
            if held + reserved + needed <= budget:
                return
            victim = next((k for k, m in self._models.items() if m.device == device), None)
            if victim is None:
                msg = (
                    f"{spec.name!r} ({format_bytes(needed)}) does not fit beside the models being "
                    f"loaded on {device} right now (budget {format_bytes(budget)}). Wait for them "
                    "and try again, or raise LlmMagics.memory_budget."
                )
                raise DeviceOutOfMemoryError(
                    msg,
                    model=spec.name,
                    device=str(device),
                    needed_bytes=needed,
                    budget_bytes=budget,
                )
            self._evict(victim)

    def _evict(self, key: str) -> None:
        # Drop our reference only: a job still running on the model keeps it alive until it ends,
        # and its memory comes back then.
        device = self._models.pop(key).device
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


_manager: ModelManager | None = None
_manager_lock = threading.Lock()
_LOADING = threading.RLock()


def get_manager() -> ModelManager:
    """Return this kernel's model manager (created on first use).

    Examples
    --------
    >>> get_manager() is get_manager()
    True
    """
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = ModelManager()
        return _manager
