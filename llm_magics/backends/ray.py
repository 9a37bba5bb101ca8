"""The Ray backend: the row-wise operations over a Ray cluster, one model per worker, kept.

``run_op(dataset, op, column, **kwargs)`` adds an op's columns to a ``ray.data.Dataset`` (read
from Parquet or CSV on shared storage, so the table never has to fit in the driver's memory);
``df.llm.<op>(..., backend="ray")`` and ``--backend ray`` in ``%%mine`` and ``llm-mine run`` send
a pandas column through the same path and get back exactly what the local engine returns.

How it runs:

- ``run_series`` (``backend="ray"`` on an op, a plan's steps) runs on a pool of long-lived
  ``_Worker`` actors of our own, created on the first call and kept: each loads a model the first
  time a batch needs it, into its own model manager (LRU within its memory budget), with the
  driver's settings (models, dtype, memory budget, cache folder), and keeps it for the next batch,
  step and call. A call reuses the pool when the settings, the number of workers and their
  resources are those it was started with; otherwise the pool is released and a new one
  started (one pool at a time: it holds the CPUs or GPUs the next one needs). Workers are
  released by ``RayBackend.close()`` (or leaving ``with RayBackend(...)``), ``release_workers()``,
  ``ray.shutdown()`` and the end of the process; ``RayBackend(reuse=False)`` releases them after
  each call. On a cluster with GPUs each worker asks for one (``num_gpus``).
- ``run_op`` (a ``ray.data.Dataset``) streams through a ``ray.data.ActorPoolStrategy`` pool of
  ``_OpWorker`` actors, as Ray Data does best; Ray Data starts a pool for each dataset and
  cannot hand its actors to another, so the reusable pool is released first (its CPUs would
  starve the dataset's).
- Which ops may run here, and which engine primitive sizes a batch, come from each op's spec
  (``OpSpec.row_wise``, ``OpSpec.primitive``). A worker imports the module that defines the op
  before looking it up, so an op registered outside ``llm_magics.ops`` runs here too, as long as
  the workers can import that module (Ray puts the driver's working directory and script
  directory on their ``sys.path``; elsewhere, ship it with ``runtime_env``).
- A Ray batch holds as many rows as one engine batch may (the engine's row cap for the op's
  primitive on that device); inside it the worker's engine sorts by length, forms token-budget
  batches, dedups and reuses shared prompts exactly as it does locally. Same model, same greedy
  decoding: same texts and labels. Scores agree to float32 rounding (about 1e-6), which depends
  on which rows share a batch, locally too.
- Results are returned in input order: rows carry their position and the driver sorts on it;
  ``run_op``'s dataset keeps order (``preserve_order``).
- The driver keeps two batches in flight per worker, so a worker never waits for the next one;
  on cancel or Ctrl-C the queued batches are cancelled and a running one finishes into the
  cache (a regular Ray actor cannot be interrupted mid-call without killing it).
- The result cache is the driver's cache folder. Workers on one machine share it (SQLite in WAL
  mode); on a cluster it is shared when that folder is on shared storage, otherwise each node
  keeps its own. Either way a re-run computes only rows no worker has finished.
- A worker that dies is restarted by Ray and its unfinished batches are retried (restart and
  retry without limit, Ray Data's actor defaults, which our workers take too); a batch is
  written only once it is complete, so no row is lost or returned twice.

Ray is an optional extra (``pip install "llm-magics[ray]"``), imported only when a call asks for
this backend. Write our own only where Ray does not already do the job: here that is carrying
the settings to the workers, the batch size, putting pandas results back on the caller's index,
and the small dispatcher of ``_WorkerPool`` (``ray.util.ActorPool`` keeps one call per actor,
so a worker idles while its result travels back, and it cannot cancel queued calls).

Layer: a backend; it imports op specs and helpers (``llm_magics.ops``), the engine and the
runtime. Nothing in ``llm_magics.ops`` imports it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib
import os
import pickle
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from llm_magics._optional import import_optional
from llm_magics.config import get_config
from llm_magics.engine.jobs import Job, JobStopped, running
from llm_magics.engine.models import default_max_rows
from llm_magics.errors import (
    InvalidArgumentError,
    LlmMagicsError,
    LlmMagicsWarning,
    did_you_mean,
    warn,
)
from llm_magics.ops.backend import backend_names, renamed_engine
from llm_magics.ops.base import (
    OPERATIONS,
    SPECS,
    accepted_arguments,
    check_arguments,
    defaults_of,
    record_provenance,
    row_ops,
    text_of,
)
from llm_magics.ops.prompts import current_prompts, use_prompts
from llm_magics.progress import tqdm
from llm_magics.runtime.manager import get_manager

if TYPE_CHECKING:
    import ray.data

__all__ = [
    "RayBackend",
    "RayEngine",
    "backend_of",
    "connect",
    "kept_workers",
    "release_workers",
    "run_op",
    "run_series",
]

_ROW = "__llm_magics_row"
_TEXT = "__llm_magics_text"
_IN_FLIGHT = 2  # batches sent ahead to each worker: one running, one waiting
_WAIT_S = 0.5  # how often the driver looks for a cancel while batches run


@dataclass(frozen=True)
class RayBackend:
    """How to run an operation on Ray: pass ``backend=RayBackend(...)`` instead of ``"ray"``.

    Parameters
    ----------
    address
        The cluster to connect to (``"auto"``, ``"ray://head:10001"`` ...) when this process is
        not connected yet; ``None`` joins ``RAY_ADDRESS`` or starts Ray on this machine. An
        existing ``ray.init()`` is always used as it is.
    actors
        Workers in the pool, each with its own copy of the models; ``None``: one per GPU of the
        cluster, or one per CPU where there is no GPU.
    batch_rows
        Rows per Ray batch; ``None``: the engine's row cap for the op on the workers' device.
    cpus_per_actor
        CPUs each worker reserves (and torch threads it uses).
    gpus_per_actor
        GPUs each worker reserves; ``None``: 1 on a cluster with GPUs, else 0.
    reuse
        Keep the workers, with their models loaded, for the next step and call with the same
        settings (``True``), until ``close()``, ``release_workers()``, ``ray.shutdown()`` or
        the end of the process; ``False`` releases them when each call ends. Kept workers
        hold their CPUs or GPUs while idle: other jobs on the cluster cannot use them.

    Examples
    --------
    >>> RayBackend(actors=2).actors
    2
    >>> with RayBackend(actors=1) as ray_backend:  # doctest: +SKIP
    ...     reviews.llm.sentiment("review", backend=ray_backend)  # workers start, load, are kept
    ...     reviews.llm.summarize("review", backend=ray_backend)  # the same workers
    ... # here the workers are released
    """

    address: str | None = None
    actors: int | None = None
    batch_rows: int | None = None
    cpus_per_actor: float = 1.0
    gpus_per_actor: float | None = None
    reuse: bool = True

    def __post_init__(self) -> None:
        for name in ("actors", "batch_rows"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                msg = f"RayBackend({name}=...) must be a positive whole number or None, not {value!r}."
                raise InvalidArgumentError(msg)

    def run_series(self, op: str, texts: pd.Series, **kwargs: Any) -> pd.Series | pd.DataFrame:
        """``op(texts, **kwargs)`` on this Ray pool (the backend protocol, ``llm_magics.ops.backend``)."""
        return run_series(op, texts, backend=self, **kwargs)

    def close(self) -> int:
        """Release the workers kept for calls with this backend's pool shape (``actors``,
        ``cpus_per_actor``, ``gpus_per_actor``); returns how many were released.

        Examples
        --------
        >>> RayBackend(actors=3).close()  # none started
        0
        """
        return _release(lambda pool: pool.shape == _shape(self))

    def __enter__(self) -> RayBackend:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @classmethod
    def of(cls, backend: Any) -> RayBackend:
        """``backend`` as a ``RayBackend`` (``"ray"`` gives the defaults)."""
        if isinstance(backend, RayBackend):
            return backend
        if isinstance(backend, str) and backend == "ray":
            return cls()
        names = backend_names()
        msg = (
            f"backend must be one of {', '.join(names)} or a llm_magics.backends.ray.RayBackend, "
            f"not {backend!r}." + (did_you_mean(backend, names) if isinstance(backend, str) else "")
        )
        raise InvalidArgumentError(msg)


RayEngine = RayBackend
"""The name ``RayBackend`` had before backends were a registry (``llm_magics.distributed``)."""


def backend_of(name: str, *, address: str | None = None, actors: int | None = None) -> Any:
    """The backend that ``--backend NAME [--address A] [--actors N]`` asks for.

    Examples
    --------
    >>> backend_of("local")
    'local'
    >>> backend_of("ray", actors=2)  # doctest: +NORMALIZE_WHITESPACE
    RayBackend(address=None, actors=2, batch_rows=None, cpus_per_actor=1.0, gpus_per_actor=None,
               reuse=True)
    """
    names = backend_names()
    if name not in names:
        msg = f"backend must be one of {', '.join(names)}, not {name!r}.{did_you_mean(name, names)}"
        raise InvalidArgumentError(msg)
    if name == "ray":
        return RayBackend(address=address, actors=actors)
    if address is not None or actors is not None:
        msg = "--address and --actors are for the Ray backend; add --backend ray."
        raise InvalidArgumentError(msg)
    return name


def _ray() -> Any:
    ray = import_optional("ray", purpose="backend='ray'", extra="ray")
    import_optional("ray.data", purpose="backend='ray'", extra="ray")
    return ray


def connect(address: str | None = None) -> Any:
    """The ``ray`` module, connected: to ``address`` if this process is not connected yet."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray


def _settings() -> dict[str, Any]:
    """The driver's settings, for the workers: the same models, dtype, budget and cache."""
    config = get_config()
    names = config.trait_names(config=True)
    return {name: getattr(config, name) for name in names} | {"cache_dir": str(config.cache_path)}


def _apply_settings(settings: dict[str, Any]) -> None:
    """The driver's settings, in a worker's process (its own ``LlmMagics``)."""
    config = get_config()
    for setting, value in settings.items():
        setattr(config, setting, value)


def _bound(
    op: str, module: str, kwargs: dict[str, Any], prompts: dict[str, str]
) -> tuple[Any, dict[str, Any]]:
    """The op's function, found after importing ``module`` (which registers it in this worker's
    process, one that has imported only ``llm_magics``: an op may live in a module of its own),
    and its arguments, with the worker's own progress bar off. The driver's prompts (``prompts``,
    with its ``set_prompt`` changes) become the worker's, so it asks what the driver would."""
    importlib.import_module(module)
    use_prompts(prompts)
    fn = OPERATIONS[op]
    kwargs = dict(kwargs)
    if "progress" in accepted_arguments(fn):
        kwargs["progress"] = False
    return fn, kwargs


class _OpWorker:
    """One Ray Data actor of ``run_op``: the op's columns added to each batch of a dataset."""

    def __init__(
        self,
        op: str,
        module: str,
        column: str,
        kwargs: dict[str, Any],
        settings: dict[str, Any],
        prompts: dict[str, str],
    ) -> None:
        _apply_settings(settings)
        self.column = column
        self.fn, self.kwargs = _bound(op, module, kwargs, prompts)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """The input columns, then the op's (replacing any of the same name)."""
        result = self.fn(batch[self.column], **self.kwargs)
        frame = (result.to_frame() if isinstance(result, pd.Series) else result).reset_index(
            drop=True
        )
        frame.attrs = {}
        for name, dtype in frame.dtypes.items():
            # None, not NaN, for a missing text: Ray stores an object column holding NaN as
            # pickled Python objects, which Parquet writers and other readers cannot use. (Text
            # is object dtype in pandas 2, str in pandas 3.)
            if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
                frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
        rest = batch.reset_index(drop=True).drop(columns=frame.columns, errors="ignore")
        return pd.concat([rest, frame], axis=1)


class _Worker:
    """One long-lived Ray actor of ``run_series``: any row-wise op, on batch after batch.

    It applies the driver's settings once; its model manager loads each model the first time a
    batch needs it and keeps it (LRU within the budget), so the steps of a plan and later calls
    find their models loaded. ``info()`` says what it holds, for tests and the bench.
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        _apply_settings(settings)
        self.batches = 0
        self.loads: list[str] = []
        self._loading: set[str] = set()
        get_manager().add_model_listener(self._count_loads)

    def _count_loads(self) -> None:
        models = get_manager().status()["models"]
        loading = {m["key"] for m in models if m.get("state") == "loading"}
        self.loads += sorted(loading - self._loading)
        self._loading = loading

    def info(self) -> dict[str, Any]:
        """This worker's process id, the models it has loaded (in order, one entry per load),
        the models in memory now, and how many batches it has run."""
        return {
            "pid": os.getpid(),
            "loads": list(self.loads),
            "models": [m.key for m in get_manager().loaded()],
            "batches": self.batches,
        }

    def run(
        self,
        op: str,
        module: str,
        kwargs: dict[str, Any],
        name: Any,
        prompts: dict[str, str],
        batch: pd.DataFrame,
    ) -> bytes:
        """The pandas result of ``op`` on ``batch``, pickled, so it reaches the driver with its
        dtypes and values as the local engine makes them; with what the driver needs besides:
        the op's provenance, our warnings, and the rows with text and those a model computed.
        Or our error, pickled the same way (Ray would wrap it in an exception that keeps only
        the traceback's text, and the caller could no longer catch it by its class)."""
        self.batches += 1
        try:
            fn, kwargs = _bound(op, module, kwargs, prompts)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", LlmMagicsWarning)
                result = fn(batch[_TEXT].rename(name), **kwargs)
        except LlmMagicsError as err:
            return pickle.dumps(err)
        provenance = result.attrs.get("llm_magics", {})
        result = result.set_axis(batch[_ROW].to_numpy(), axis=0)
        result.attrs = {}
        notes = [str(w.message) for w in caught if issubclass(w.category, LlmMagicsWarning)]
        # Rows with text, and how many of them a model computed (the busiest engine call): the
        # driver's job counts rows as the local engine's does, the rest came from the cache.
        texts = sum(text_of(v) is not None for v in batch[_TEXT])
        computed = max((s["computed"] for s in provenance.get("steps", [])), default=0)
        counts = (texts, min(texts, computed))
        return pickle.dumps((result, provenance, notes, counts), protocol=pickle.HIGHEST_PROTOCOL)


@functools.cache
def _remote_worker() -> Any:
    """``_Worker`` as a Ray actor class: restarted if it dies, its unfinished calls retried."""
    return _ray().remote(max_restarts=-1, max_task_retries=-1)(_Worker)


def _shape(backend: RayBackend) -> tuple[Any, ...]:
    """What ``RayBackend.close()`` matches: the pool a backend asks for, whatever the settings."""
    return (backend.actors, backend.cpus_per_actor, backend.gpus_per_actor)


def _session(ray: Any) -> tuple[str, str]:
    """This connection to Ray: a pool's actors die with it (they are not detached)."""
    context = ray.get_runtime_context()
    return (context.get_job_id(), context.get_node_id())


class _WorkerPool:
    """Long-lived ``_Worker`` actors with one set of settings, and the dispatcher that feeds
    them batches: ``_IN_FLIGHT`` per worker, results as they finish (any order)."""

    def __init__(
        self,
        ray: Any,
        key: tuple[Any, ...],
        shape: tuple[Any, ...],
        size: int,
        actor: dict[str, float],
        device: str,
        settings: dict[str, Any],
    ) -> None:
        self.ray, self.key, self.shape, self.device = ray, key, shape, device
        self.session = _session(ray)
        self.actors = [_remote_worker().options(**actor).remote(settings) for _ in range(size)]

    def alive(self) -> bool:
        """Whether this pool's Ray connection is the current one (else its actors are gone)."""
        return self.ray.is_initialized() and _session(self.ray) == self.session

    def info(self) -> list[dict[str, Any]]:
        """Each worker's ``_Worker.info()``."""
        return list(self.ray.get([actor.info.remote() for actor in self.actors]))

    def results(self, call: tuple[Any, ...], blocks: Sequence[pd.DataFrame]) -> Iterator[Any]:
        """Yield each block's result as a worker finishes it, and ``None`` every ``_WAIT_S``
        seconds without one (so the caller can stop); a stop cancels the batches not started."""
        slots = [actor for _ in range(_IN_FLIGHT) for actor in self.actors]  # round robin
        pending: dict[Any, Any] = {}
        todo = iter(blocks)
        try:
            while True:
                while slots and (block := next(todo, None)) is not None:
                    actor = slots.pop(0)
                    pending[actor.run.remote(*call, block)] = actor
                if not pending:
                    return
                ready, _ = self.ray.wait(list(pending), num_returns=1, timeout=_WAIT_S)
                if not ready:
                    yield None
                    continue
                slots.append(pending.pop(ready[0]))
                yield self.ray.get(ready[0])
        finally:
            for ref in pending:
                with contextlib.suppress(Exception):
                    self.ray.cancel(ref)

    def close(self) -> int:
        """Kill the workers (nothing to do when Ray has shut down: they died with it)."""
        if not self.alive():
            return 0
        for actor in self.actors:
            with contextlib.suppress(Exception):
                self.ray.kill(actor, no_restart=True)
        return len(self.actors)


_POOLS: list[_WorkerPool] = []  # the kept pool: at most one, a new one replaces it
_POOLS_LOCK = threading.Lock()
_EXIT_HOOK: list[bool] = []  # whether release_workers() runs at exit (registered once)


def _acquire(ray: Any, backend: RayBackend) -> _WorkerPool:
    """The pool for ``backend`` and the driver's settings now: the kept one when they match,
    else a new one, after releasing any other (it holds the CPUs or GPUs the new one needs)."""
    size, actor, device = _pool(ray, backend, spare_cpu=False)
    settings = _settings()
    shape = _shape(backend)
    key = (shape, size, tuple(sorted(actor.items())), repr(sorted(settings.items())))
    with _POOLS_LOCK:
        for pool in list(_POOLS):
            if pool.alive() and pool.key == key:
                return pool
            _POOLS.remove(pool)
            pool.close()
        if not _POOLS and not _EXIT_HOOK:
            atexit.register(release_workers)
            _EXIT_HOOK.append(True)
        pool = _WorkerPool(ray, key, shape, size, actor, device, settings)
        _POOLS.append(pool)
        return pool


def _release(which: Any) -> int:
    with _POOLS_LOCK:
        chosen = [pool for pool in _POOLS if which(pool)]
        for pool in chosen:
            _POOLS.remove(pool)
        return sum(pool.close() for pool in chosen)


def kept_workers() -> list[dict[str, Any]]:
    """The Ray workers kept for reuse, one dict each: ``pid``, ``loads`` (the models it has
    loaded, one entry per load), ``models`` (those in its memory now) and ``batches`` run.

    Examples
    --------
    >>> kept_workers()  # none started
    []
    """
    with _POOLS_LOCK:
        pools = [pool for pool in _POOLS if pool.alive()]
    return [info for pool in pools for info in pool.info()]


def release_workers() -> int:
    """Release every Ray worker kept for reuse (``backend="ray"`` calls, ``%%mine --backend
    ray``); returns how many were released. The next call starts new ones.

    Examples
    --------
    >>> release_workers()  # none kept
    0
    """
    return _release(lambda pool: True)


def _check_call(op: str, kwargs: dict[str, Any]) -> None:
    if op not in row_ops():
        msg = (
            f"{op!r} cannot run on Ray.{did_you_mean(op, row_ops())} The row-wise operations "
            f"are: {', '.join(row_ops())}."
        )
        if op in OPERATIONS:
            msg = f"{op}() needs every row at once, so it runs in one process. {msg}"
        raise InvalidArgumentError(msg)
    check_arguments(op, accepted_arguments(OPERATIONS[op]), kwargs)


def _check_manager(op: str, manager: Any) -> None:
    if manager is not None:
        msg = f"{op}(manager=...) is a model manager in this process; Ray workers have their own."
        raise InvalidArgumentError(msg)


def _pool(ray: Any, backend: RayBackend, *, spare_cpu: bool) -> tuple[int, dict[str, float], str]:
    """The number of workers, the resources of one, and the device kind they get.

    With ``spare_cpu`` the pool never reserves the cluster's last CPU: a dataset's own tasks
    (reading Parquet, say) need one, and a pool that holds them all waits for them forever.
    Workers then get a share of a CPU each in Ray's accounting; torch still runs one thread.
    """
    resources = ray.cluster_resources()
    cpus = float(resources.get("CPU", 1))
    gpus = backend.gpus_per_actor
    if gpus is None:
        gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
    budget = (cpus - 1 if cpus >= 2 else cpus / 2) if spare_cpu else cpus
    if backend.actors is not None:
        size = backend.actors
    elif gpus:
        size = max(1, int(resources.get("GPU", 0) // gpus))
    else:
        size = max(1, int(budget // backend.cpus_per_actor))
    actor = {"num_cpus": min(backend.cpus_per_actor, budget / size), "num_gpus": gpus}
    return size, actor, "gpu" if gpus else "cpu"


def _batch_rows(op: str, kwargs: dict[str, Any], backend: RayBackend, device: str) -> int:
    """Rows per Ray batch: the engine's row cap for the op's main primitive on ``device``."""
    if backend.batch_rows is not None:
        return backend.batch_rows
    primitive = SPECS[op].primitive(defaults_of(op) | kwargs)
    if primitive is None:  # no model: plain Python per row, so batches only bound the overhead
        return 1024
    # A classifier's predict runs through the encoder's runner, with embed's batch sizes.
    return default_max_rows("embed" if primitive == "predict" else primitive, device)


def run_op(
    dataset: ray.data.Dataset,
    op: str,
    column: str,
    *,
    backend: RayBackend | None = None,
    **kwargs: Any,
) -> ray.data.Dataset:
    """Add ``op``'s result columns to a Ray dataset, computed by a pool of model workers.

    Parameters
    ----------
    dataset
        The rows, for example ``ray.data.read_parquet("s3://bucket/reviews/")``. The work is
        spread over its blocks: a single block keeps a single worker busy (``repartition`` first).
    op
        A row-wise operation (``llm_magics.ops.base.row_ops()``: clean, summarize, classify,
        sentiment, extract, filter, embed, keywords, and any op of yours whose spec is row-wise).
    column
        The text column.
    backend
        Pool size, batch size and resources (``RayBackend``); its ``address`` is used when this
        process is not connected to Ray yet. (``engine=``, its old name, still works and warns.)
        Ray Data starts the dataset's own pool, so the workers kept by ``run_series`` calls
        are released first (``release_workers()``).
    **kwargs
        The op's arguments, as for ``df.llm.<op>`` (``labels=``, ``schema=``, ``model=`` ...).

    Returns
    -------
    ray.data.Dataset
        Lazy, like every Ray dataset: the input columns plus the op's, in input order. Write it
        (``.write_parquet(...)``) or iterate it; nothing runs before that.

    Examples
    --------
    >>> import ray  # doctest: +SKIP
    >>> reviews = ray.data.read_parquet("/shared/reviews/")  # doctest: +SKIP
    >>> run_op(reviews, "sentiment", "review").write_parquet("/shared/sentiment/")  # doctest: +SKIP
    """
    backend = RayBackend.of(renamed_engine("run_op", backend, kwargs.pop("engine", None)) or "ray")
    _check_call(op, kwargs)
    if op == "embed" and kwargs.get("dims") is not None:
        msg = (
            "embed(dims=...) fits a projection on all rows at once; on a dataset, embed with "
            "dims=None and reduce afterwards (for example sklearn's IncrementalPCA)."
        )
        raise InvalidArgumentError(msg)
    ray = connect(backend.address)
    release_workers()
    names = dataset.schema().names if dataset.schema() is not None else [column]
    if column not in names:
        msg = f"No column {column!r} in the dataset.{did_you_mean(column, names)} Columns: {', '.join(names)}."
        raise InvalidArgumentError(msg)
    size, actor, device = _pool(ray, backend, spare_cpu=True)
    out = dataset.map_batches(
        _OpWorker,
        fn_constructor_args=(
            op,
            OPERATIONS[op].__module__,
            column,
            kwargs,
            _settings(),
            current_prompts(),
        ),
        batch_size=_batch_rows(op, kwargs, backend, device),
        batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=size),
        **actor,
    )
    out.context.execution_options.preserve_order = True
    return out


def run_series(
    op: str,
    texts: pd.Series,
    *,
    backend: Any = "ray",
    progress: bool = True,
    manager: Any = None,
    **kwargs: Any,
) -> pd.Series | pd.DataFrame:
    """``op(texts, **kwargs)`` computed on Ray: the same result as the local engine, same index.

    This is what ``backend="ray"`` on an op calls (``RayBackend.run_series``). Progress, the job
    in ``%mine status`` and the sidebar, and cancellation stay in this process; the rows go to the
    pool in Ray batches. The pool's workers, with their models, are kept for the next call with
    the same settings (``RayBackend.reuse``). (``engine=``, the old name of ``backend=``, still
    works and warns.)
    """
    ray_backend = RayBackend.of(renamed_engine("run_series", backend, kwargs.pop("engine", None)))
    _check_call(op, kwargs)
    _check_manager(op, manager)
    if not isinstance(texts, pd.Series):
        msg = f"{op}() needs a pandas Series of text, not {type(texts).__name__}."
        raise InvalidArgumentError(msg)
    if len(texts) == 0:  # nothing to spread out
        local = {"progress": progress} if "progress" in accepted_arguments(OPERATIONS[op]) else {}
        return OPERATIONS[op](texts, **kwargs, **local)
    dims = kwargs.pop("dims", None) if op == "embed" else None
    ray = connect(ray_backend.address)
    pool = _acquire(ray, ray_backend)
    rows = _batch_rows(op, kwargs, ray_backend, pool.device)
    table = pd.DataFrame({_TEXT: texts.to_numpy(dtype=object), _ROW: np.arange(len(texts))})
    blocks = [table.iloc[i : i + rows] for i in range(0, len(table), rows)]
    call = (op, OPERATIONS[op].__module__, kwargs, texts.name, current_prompts())
    with_text = sum(text_of(v) is not None for v in texts)
    try:
        parts, provenance = zip(
            *_collect(
                pool, call, blocks, kwargs, rows=len(texts), texts=with_text, progress=progress
            ),
            strict=True,
        )
    finally:
        if not ray_backend.reuse:
            _release(lambda kept: kept is pool)
    merged = pd.concat(parts).sort_index(kind="stable").set_axis(texts.index, axis=0)
    parameters = dict(provenance[0].get("parameters", {}))
    if dims is not None:
        merged = _reduce(merged, dims)
        parameters["dims"] = dims
    steps = _merged_steps([step for batch in provenance for step in batch.get("steps", [])])
    record_provenance(merged, op, parameters | {"backend": "ray"}, steps)
    return merged


def _reduce(vectors: pd.DataFrame, dims: int) -> pd.DataFrame:
    """``embed(dims=...)``'s projection, fitted here on every row the workers embedded."""
    from llm_magics.ops.embed import reduce_dims, vectors_frame

    present = vectors.notna().all(axis=1).to_numpy()
    reduced = reduce_dims(vectors.to_numpy(dtype=np.float32)[present], dims)
    prefix = str(vectors.columns[0]).rsplit("_", 1)[0]  # "<column>_emb", as the workers named it
    return vectors_frame(reduced, present, vectors.index, prefix)


def _collect(
    pool: _WorkerPool,
    call: tuple[Any, ...],
    blocks: Sequence[pd.DataFrame],
    kwargs: dict[str, Any],
    *,
    rows: int,
    texts: int,
    progress: bool,
) -> Iterator[tuple[pd.Series | pd.DataFrame, dict[str, Any]]]:
    """Yield the result batches as workers finish them, with a job, a bar and cancellation."""
    op = call[0]
    # The job counts rows with text, as the local engine's jobs do; the bar counts every row.
    job = Job(f"{op} · ray", str(kwargs.get("model") or "default"), total=texts)
    resume = (
        "run it again to resume: the workers keep finished batches in the result cache."
        if kwargs.get("cache", True)
        else "the cache is off (cache=False), so a re-run starts over."
    )
    bar = tqdm(total=rows, disable=not progress, unit="rows", desc=f"{op} · ray")
    manager = get_manager()
    noted: set[str] = set()
    finished = contextlib.closing(pool.results(call, blocks))
    with running(job, manager, resume=resume), contextlib.closing(bar), finished as payloads:
        for payload in payloads:
            if payload is not None:
                loaded = pickle.loads(payload)
                if isinstance(loaded, LlmMagicsError):
                    raise loaded
                result, provenance, notes, (present, computed) = loaded
                for note in notes:
                    if note not in noted:  # each worker batch warns on its own; say it once
                        noted.add(note)
                        warn(note)
                job.cached += present - computed
                job.advance(present)
                bar.update(len(result))
                manager.notify(job)
                yield result, provenance
            if job.stop_requested:
                raise JobStopped


def _merged_steps(steps: list[dict[str, Any]]) -> list[Any]:
    """The workers' engine steps added up per primitive and model (one per Ray batch otherwise)."""
    from llm_magics.engine.results import Provenance

    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for step in steps:
        key = (step["primitive"], step["model"], step["fingerprint"])
        if key not in merged:
            merged[key] = dict(step) | {"job_id": "ray"}
            continue
        for field in ("rows", "unique_rows", "cache_hits", "computed", "seconds"):
            merged[key][field] += step[field]
    return [Provenance(**step) for step in merged.values()]
