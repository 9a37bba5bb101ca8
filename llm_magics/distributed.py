"""Scale-out on Ray Data: the row-wise operations over a Ray cluster, one model per worker.

``run_op(dataset, op, column, **kwargs)`` adds an op's columns to a ``ray.data.Dataset`` (read
from Parquet or CSV on shared storage, so the table never has to fit in the driver's memory);
``df.llm.<op>(..., engine="ray")`` and ``--engine ray`` in ``%%mine`` and ``llm-mine run`` send a
pandas column through the same path and get back exactly what the local engine returns.

How it runs:

- Workers are a ``ray.data.ActorPoolStrategy`` pool of ``_OpWorker`` actors. Each loads the
  models once, into its own model manager, with the driver's settings (models, dtype, memory
  budget, cache folder); on a cluster with GPUs each actor asks for one (``num_gpus``).
- A Ray batch holds as many rows as one engine batch may (the engine's row cap for the op's
  primitive on that device); inside it the worker's engine sorts by length, forms token-budget
  batches, dedups and reuses shared prompts exactly as it does locally. Same model, same greedy
  decoding: same texts and labels. Scores agree to float32 rounding (about 1e-6), which depends
  on which rows share a batch, locally too.
- Results are returned in input order: rows carry their position and the driver sorts on it;
  ``run_op``'s dataset keeps order (``preserve_order``).
- The result cache is the driver's cache folder. Workers on one machine share it (SQLite in WAL
  mode); on a cluster it is shared when that folder is on shared storage, otherwise each node
  keeps its own. Either way a re-run computes only rows no worker has finished.
- A worker that dies is restarted by Ray and its unfinished batches are retried on the pool
  (Ray Data's actor defaults: restart and retry without limit); a batch is written only once it
  is complete, so no row is lost or returned twice.

Ray is an optional extra (``pip install "llm-magics[ray]"``). Write our own only where Ray Data
does not already do the job: here that is carrying the settings to the workers, the batch size,
and putting pandas results back on the caller's index.
"""

from __future__ import annotations

import contextlib
import pickle
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

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
from llm_magics.ops.base import (
    OPERATIONS,
    accepted_arguments,
    check_arguments,
    record_provenance,
    row_ops,
    text_of,
)
from llm_magics.runtime.manager import get_manager

if TYPE_CHECKING:
    import ray.data

__all__ = ["ENGINES", "RayEngine", "connect", "engine_of", "row_ops", "run_op", "run_series"]

ENGINES = ("local", "ray")

_ROW = "__llm_magics_row"
_ROWS = "rows"
_PAYLOAD = "result"
_TEXT = "__llm_magics_text"


@dataclass(frozen=True)
class RayEngine:
    """How to run an operation on Ray: pass ``engine=RayEngine(...)`` instead of ``"ray"``.

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

    Examples
    --------
    >>> RayEngine(actors=2).actors
    2
    """

    address: str | None = None
    actors: int | None = None
    batch_rows: int | None = None
    cpus_per_actor: float = 1.0
    gpus_per_actor: float | None = None

    def __post_init__(self) -> None:
        for name in ("actors", "batch_rows"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                msg = (
                    f"RayEngine({name}=...) must be a positive whole number or None, not {value!r}."
                )
                raise InvalidArgumentError(msg)

    def run_series(self, op: str, texts: pd.Series, **kwargs: Any) -> pd.Series | pd.DataFrame:
        """``op(texts, **kwargs)`` on this Ray pool (the backend protocol, ``llm_magics.ops.backend``)."""
        return run_series(op, texts, engine=self, **kwargs)

    @classmethod
    def of(cls, engine: Any) -> RayEngine:
        """``engine`` as a ``RayEngine`` (``"ray"`` gives the defaults)."""
        if isinstance(engine, RayEngine):
            return engine
        if isinstance(engine, str) and engine == "ray":
            return cls()
        msg = (
            f"engine must be 'local', 'ray' or a llm_magics.distributed.RayEngine, not {engine!r}."
            + (did_you_mean(engine, ENGINES) if isinstance(engine, str) else "")
        )
        raise InvalidArgumentError(msg)


def engine_of(
    name: str, *, address: str | None = None, actors: int | None = None
) -> str | RayEngine:
    """The engine that ``--engine NAME [--address A] [--actors N]`` asks for.

    Examples
    --------
    >>> engine_of("local")
    'local'
    >>> engine_of("ray", actors=2)
    RayEngine(address=None, actors=2, batch_rows=None, cpus_per_actor=1.0, gpus_per_actor=None)
    """
    if name == "local":
        if address is not None or actors is not None:
            msg = "--address and --actors are for the Ray engine; add --engine ray."
            raise InvalidArgumentError(msg)
        return "local"
    if name != "ray":
        msg = f"engine must be one of {', '.join(ENGINES)}, not {name!r}.{did_you_mean(name, ENGINES)}"
        raise InvalidArgumentError(msg)
    return RayEngine(address=address, actors=actors)


def _ray() -> Any:
    ray = import_optional("ray", purpose="engine='ray'", extra="ray")
    import_optional("ray.data", purpose="engine='ray'", extra="ray")
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


class _OpWorker:
    """One Ray actor: loads the op's models on its first batch and keeps them for the rest.

    For ``run_op`` (``name`` is None) it returns the batch with the op's columns added. For
    ``run_series`` it returns the op's columns, each row's position, and on the first row what
    the driver needs to rebuild the local result: whether it was a Series, and the engine steps.
    """

    def __init__(
        self,
        op: str,
        column: str,
        kwargs: dict[str, Any],
        settings: dict[str, Any],
        name: tuple[Any] | None,
    ) -> None:
        config = get_config()
        for setting, value in settings.items():
            setattr(config, setting, value)
        self.column, self.name = column, name
        self.fn = OPERATIONS[op]
        self.kwargs = dict(kwargs)
        if "progress" in accepted_arguments(self.fn):
            self.kwargs["progress"] = False

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        if self.name is None:
            return self._columns_added(batch)
        return self._pickled_result(batch)

    def _columns_added(self, batch: pd.DataFrame) -> pd.DataFrame:
        """``run_op``: the input columns, then the op's (replacing any of the same name)."""
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

    def _pickled_result(self, batch: pd.DataFrame) -> pd.DataFrame:
        """``run_series``: the pandas result itself, pickled, so it reaches the driver with its
        dtypes and values as the local engine makes them (Arrow would turn lists into arrays and
        float64 into double[pyarrow]); or our error, pickled the same way."""
        assert self.name is not None
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", LlmMagicsWarning)
                result = self.fn(batch[self.column].rename(self.name[0]), **self.kwargs)
        except LlmMagicsError as err:
            # Sent back as a value: Ray would wrap it in a UserCodeException that keeps only the
            # traceback's text, and the caller could no longer catch it by its class.
            return pd.DataFrame({_ROWS: [0], _PAYLOAD: [pickle.dumps(err)]})
        provenance = result.attrs.get("llm_magics", {})
        result = result.set_axis(batch[_ROW].to_numpy(), axis=0)
        result.attrs = {}
        notes = [str(w.message) for w in caught if issubclass(w.category, LlmMagicsWarning)]
        # Rows with text, and how many of them a model computed (the busiest engine call): the
        # driver's job counts rows as the local engine's does, the rest came from the cache.
        texts = sum(text_of(v) is not None for v in batch[self.column])
        computed = max((s["computed"] for s in provenance.get("steps", [])), default=0)
        counts = (texts, min(texts, computed))
        payload = pickle.dumps(
            (result, provenance, notes, counts), protocol=pickle.HIGHEST_PROTOCOL
        )
        return pd.DataFrame({_ROWS: [len(result)], _PAYLOAD: [payload]})


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


def _pool(ray: Any, engine: RayEngine, *, spare_cpu: bool) -> tuple[Any, dict[str, float], str]:
    """The actor pool, the resources of one actor, and the device kind the workers get.

    With ``spare_cpu`` the pool never reserves the cluster's last CPU: a dataset's own tasks
    (reading Parquet, say) need one, and a pool that holds them all waits for them forever.
    Workers then get a share of a CPU each in Ray's accounting; torch still runs one thread.
    """
    resources = ray.cluster_resources()
    cpus = float(resources.get("CPU", 1))
    gpus = engine.gpus_per_actor
    if gpus is None:
        gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
    budget = (cpus - 1 if cpus >= 2 else cpus / 2) if spare_cpu else cpus
    if engine.actors is not None:
        size = engine.actors
    elif gpus:
        size = max(1, int(resources.get("GPU", 0) // gpus))
    else:
        size = max(1, int(budget // engine.cpus_per_actor))
    actor = {"num_cpus": min(engine.cpus_per_actor, budget / size), "num_gpus": gpus}
    return ray.data.ActorPoolStrategy(size=size), actor, "gpu" if gpus else "cpu"


def _batch_rows(op: str, kwargs: dict[str, Any], engine: RayEngine, device: str) -> int:
    if engine.batch_rows is not None:
        return engine.batch_rows
    if op == "clean":
        return 1024
    method = kwargs.get("method", "embed")
    primitive = {
        "summarize": "generate",
        "extract": "generate",
        "sentiment": "score",
        "classify": "score" if method == "llm" else "embed",
        "filter": "score" if method == "llm" else "embed",
    }.get(op, "embed")
    return default_max_rows(primitive, device)


def run_op(
    dataset: ray.data.Dataset,
    op: str,
    column: str,
    *,
    engine: RayEngine | None = None,
    **kwargs: Any,
) -> ray.data.Dataset:
    """Add ``op``'s result columns to a Ray dataset, computed by a pool of model workers.

    Parameters
    ----------
    dataset
        The rows, for example ``ray.data.read_parquet("s3://bucket/reviews/")``. The work is
        spread over its blocks: a single block keeps a single worker busy (``repartition`` first).
    op
        A row-wise operation: clean, summarize, classify, sentiment, extract, filter, embed or
        keywords.
    column
        The text column.
    engine
        Pool size, batch size and resources (``RayEngine``); its ``address`` is used when this
        process is not connected to Ray yet.
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
    engine = engine or RayEngine()
    _check_call(op, kwargs)
    if op == "embed" and kwargs.get("dims") is not None:
        msg = (
            "embed(dims=...) fits a projection on all rows at once; on a dataset, embed with "
            "dims=None and reduce afterwards (for example sklearn's IncrementalPCA)."
        )
        raise InvalidArgumentError(msg)
    ray = connect(engine.address)
    names = dataset.schema().names if dataset.schema() is not None else [column]
    if column not in names:
        msg = f"No column {column!r} in the dataset.{did_you_mean(column, names)} Columns: {', '.join(names)}."
        raise InvalidArgumentError(msg)
    pool, actor, device = _pool(ray, engine, spare_cpu=True)
    out = dataset.map_batches(
        _OpWorker,
        fn_constructor_args=(op, column, kwargs, _settings(), None),
        batch_size=_batch_rows(op, kwargs, engine, device),
        batch_format="pandas",
        compute=pool,
        **actor,
    )
    out.context.execution_options.preserve_order = True
    return out


def run_series(
    op: str,
    texts: pd.Series,
    *,
    engine: Any = "ray",
    progress: bool = True,
    manager: Any = None,
    **kwargs: Any,
) -> pd.Series | pd.DataFrame:
    """``op(texts, **kwargs)`` computed on Ray: the same result as the local engine, same index.

    This is what ``engine="ray"`` on an op calls. Progress, the job in ``%mine status`` and the
    sidebar, and cancellation stay in this process; the rows go to the pool in Ray batches.
    """
    ray_engine = RayEngine.of(engine)
    _check_call(op, kwargs)
    _check_manager(op, manager)
    if not isinstance(texts, pd.Series):
        msg = f"{op}() needs a pandas Series of text, not {type(texts).__name__}."
        raise InvalidArgumentError(msg)
    if len(texts) == 0:  # nothing to spread out
        local = {"progress": progress} if "progress" in accepted_arguments(OPERATIONS[op]) else {}
        return OPERATIONS[op](texts, **kwargs, **local)
    dims = kwargs.pop("dims", None) if op == "embed" else None
    ray = connect(ray_engine.address)
    pool, actor, device = _pool(ray, ray_engine, spare_cpu=False)
    rows = _batch_rows(op, kwargs, ray_engine, device)
    table = pd.DataFrame({_TEXT: texts.to_numpy(dtype=object), _ROW: np.arange(len(texts))})
    # One block per Ray batch, so every worker gets work (a single block would go to one actor).
    blocks = [table.iloc[i : i + rows] for i in range(0, len(table), rows)] or [table]
    dataset = ray.data.from_pandas(blocks).map_batches(
        _OpWorker,
        fn_constructor_args=(op, _TEXT, kwargs, _settings(), (texts.name,)),
        batch_size=rows,
        batch_format="pandas",
        compute=pool,
        **actor,
    )
    # Our bar, job and sidebar entry stand for the run here; Ray's own bars would repeat them.
    dataset.context.enable_progress_bars = False
    with_text = sum(text_of(v) is not None for v in texts)
    parts, provenance = zip(
        *_collect(dataset, op, kwargs, rows=len(texts), texts=with_text, progress=progress),
        strict=True,
    )
    merged = pd.concat(parts).sort_index(kind="stable").set_axis(texts.index, axis=0)
    parameters = dict(provenance[0].get("parameters", {}))
    if dims is not None:
        merged = _reduce(merged, dims)
        parameters["dims"] = dims
    steps = _merged_steps([step for batch in provenance for step in batch.get("steps", [])])
    record_provenance(merged, op, parameters | {"engine": "ray"}, steps)
    return merged


def _reduce(vectors: pd.DataFrame, dims: int) -> pd.DataFrame:
    """``embed(dims=...)``'s projection, fitted here on every row the workers embedded."""
    from llm_magics.ops.embed import reduce_dims, vectors_frame

    present = vectors.notna().all(axis=1).to_numpy()
    reduced = reduce_dims(vectors.to_numpy(dtype=np.float32)[present], dims)
    prefix = str(vectors.columns[0]).rsplit("_", 1)[0]  # "<column>_emb", as the workers named it
    return vectors_frame(reduced, present, vectors.index, prefix)


def _collect(
    dataset: Any,
    op: str,
    kwargs: dict[str, Any],
    *,
    rows: int,
    texts: int,
    progress: bool,
) -> Iterator[tuple[pd.Series | pd.DataFrame, dict[str, Any]]]:
    """Yield the result batches as workers finish them, with a job, a bar and cancellation."""
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
    with running(job, manager, resume=resume), contextlib.closing(bar):
        for batch in dataset.iter_batches(batch_size=None, batch_format="pandas"):
            for size, payload in zip(batch[_ROWS], batch[_PAYLOAD], strict=True):
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
                bar.update(int(size))
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
