"""The loop under every primitive: dedup, result cache, batches, progress, stopping, OOM retries.

A primitive describes its rows (``RowTask``); ``run_rows`` decides what to compute and in which
batches, and hands each batch to the primitive's ``compute``. Finished batches go to the result
cache at once, so a run that stops for any reason keeps them and a re-run computes only the rest.
A long batch reports how far it got from inside ``compute`` (``report_batch_progress``), so the
job and its progress bar move during the batch, not only between batches.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from llm_magics.engine.batching import token_budget_batches
from llm_magics.engine.cache import cache_key, get_result_cache
from llm_magics.engine.jobs import Job, JobStopped, TimeLimitReached, running
from llm_magics.engine.results import Provenance
from llm_magics.errors import DeviceOutOfMemoryError
from llm_magics.progress import tqdm
from llm_magics.runtime.loading import LoadedModel, ModelHandle
from llm_magics.runtime.manager import ModelManager

__all__ = ["RowTask", "report_batch_progress", "run_rows", "time_limit"]

BATCH_PROGRESS_INTERVAL = 0.5  # seconds between two progress reports from inside one batch

_batch = threading.local()


def report_batch_progress(rows: float) -> None:
    """Say, from a primitive's ``compute``, that ``rows`` rows' worth of the running batch is done.

    Cheap enough to call at every decoding step: the job's listeners and the bar hear of it at
    most every ``BATCH_PROGRESS_INTERVAL`` seconds. Outside ``run_rows`` it does nothing.
    """
    hook = getattr(_batch, "hook", None)
    if hook is not None:
        hook(rows)


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Stop the engine calls this thread makes in the block once ``seconds`` have passed.

    A call over time stops before its next batch, or inside a batch at its next progress report
    (every decoding step), and raises ``RunInterruptedError`` with ``reason="time limit"``; the
    rows it finished are in the cache. Time spent loading a model counts. ``None``: no limit.
    Limits nest: the earliest deadline holds.
    """
    outer = getattr(_batch, "deadline", None)
    if seconds is None:
        yield
        return
    deadline = time.monotonic() + seconds
    _batch.deadline = deadline if outer is None else min(outer, deadline)
    try:
        yield
    finally:
        _batch.deadline = outer


def _check_time_limit() -> None:
    deadline = getattr(_batch, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise TimeLimitReached


@contextlib.contextmanager
def _batch_progress(job: Job, bar: Any, size: int, manager: ModelManager) -> Iterator[None]:
    last = time.monotonic()

    def hook(rows: float) -> None:
        nonlocal last
        _check_time_limit()
        job.batch = rows
        now = time.monotonic()
        if now - last >= BATCH_PROGRESS_INTERVAL:
            last = now
            bar.set_postfix_str(f"batch {rows / size:.0%}")
            manager.notify(job)

    outer = getattr(_batch, "hook", None)
    _batch.hook = hook
    try:
        yield
    finally:
        _batch.hook = outer
        bar.set_postfix_str("", refresh=False)  # the batch is over: its share would mislead


@dataclass(frozen=True)
class RowTask:
    """What a primitive asks of the runner.

    ``items`` identify the rows for the cache (JSON-serializable, e.g. the input text);
    ``lengths`` are their token lengths; ``compute(indices)`` returns one result per index;
    ``encode``/``decode`` turn a result into bytes for the cache and back.
    """

    primitive: str
    loaded: LoadedModel | ModelHandle
    params: dict[str, Any]
    items: list[Any]
    lengths: list[int]
    compute: Callable[[np.ndarray], list[Any]]
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]
    batch_tokens: int
    max_rows: int
    extra_tokens: int = 0


@contextlib.contextmanager
def _ctrl_c_stops_at_batch_end(job: Job) -> Iterator[None]:
    # First Ctrl-C: finish the running batch (it is kept) and stop. Second: stop at once.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if job.stop_requested:
            raise KeyboardInterrupt
        job.interrupted = True
        job.cancel()
        print("Stopping after this batch; press Ctrl-C again to stop now.", file=sys.stderr)

    try:
        signal.signal(signal.SIGINT, handler)
    except (ValueError, TypeError):  # no signal handling here (embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(
            signal.SIGINT, previous if previous is not None else signal.default_int_handler
        )


def _release(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_rows(
    task: RowTask, *, cache: bool, progress: bool, manager: ModelManager
) -> tuple[list[Any], Provenance]:
    """Compute every row of ``task`` (each distinct row once), in input order."""
    started = time.perf_counter()
    loaded = task.loaded
    keys = [cache_key(loaded.fingerprint, task.primitive, task.params, item) for item in task.items]
    counts = Counter(keys)
    first: dict[str, int] = {}
    for row, key in enumerate(keys):
        first.setdefault(key, row)
    store = get_result_cache(manager.config.cache_path) if cache else None
    values: dict[str, Any] = {}
    if store is not None:
        values = {k: task.decode(raw) for k, raw in store.get_many(list(first)).items()}
    hits = len(values)
    todo = np.array([row for key, row in first.items() if key not in values], dtype=np.int64)

    job = Job(task.primitive, loaded.name, total=len(keys))
    job.done = job.cached = sum(counts[k] for k in values)
    plan = deque(
        todo[batch]
        for batch in token_budget_batches(
            [task.lengths[i] for i in todo],
            batch_tokens=task.batch_tokens,
            max_rows=task.max_rows,
            extra_tokens=task.extra_tokens,
        )
    )
    bar = tqdm(
        total=len(keys),
        initial=job.done,
        # Nothing to compute (every row cached, or none): no bar. mine() re-reads cached
        # features in every fold, and a bar each time would bury the cell's output.
        disable=not progress or len(todo) == 0,
        unit="rows",
        desc=f"{task.primitive} · {loaded.name}",
    )
    row_cap = task.max_rows
    resume = (
        "run it again to resume: finished rows come from the cache."
        if store is not None
        else "the cache is off (cache=False), so a re-run starts over."
    )
    with (
        running(job, manager, resume=resume, listed=len(todo) > 0),
        contextlib.closing(bar),
        _ctrl_c_stops_at_batch_end(job),
    ):
        while plan:
            if job.stop_requested:
                raise JobStopped
            _check_time_limit()
            batch = plan.popleft()
            if len(batch) > row_cap:
                plan.extendleft(reversed(np.array_split(batch, -(-len(batch) // row_cap))))
                continue
            try:
                with _batch_progress(job, bar, len(batch), manager):
                    results = task.compute(batch)
            except torch.OutOfMemoryError as err:
                job.batch = 0.0
                _release(loaded.device)
                if len(batch) == 1:
                    msg = (
                        f"One row of {task.lengths[batch[0]] + task.extra_tokens} tokens does not fit "
                        f"in {loaded.device} memory with {loaded.name!r}. Shorten the inputs or the "
                        "generation budget, unload other models, or use a smaller dtype or model."
                    )
                    raise DeviceOutOfMemoryError(
                        msg, model=loaded.name, device=str(loaded.device)
                    ) from err
                # Halve this batch and every later one: no row is lost or computed twice.
                row_cap = max(1, len(batch) // 2)
                plan.extendleft(reversed(np.array_split(batch, 2)))
                continue
            fresh = {keys[row]: result for row, result in zip(batch, results, strict=True)}
            values.update(fresh)
            if store is not None:
                encoded = {key: task.encode(value) for key, value in fresh.items()}
                store.put_many(task.primitive, loaded.fingerprint, encoded)
            rows = sum(counts[key] for key in fresh)
            job.advance(rows)
            bar.update(rows)
            manager.notify(job)
    provenance = Provenance(
        primitive=task.primitive,
        model=loaded.name,
        fingerprint=loaded.fingerprint,
        parameters=task.params,
        rows=len(keys),
        unique_rows=len(first),
        cache_hits=hits,
        computed=len(todo),
        seconds=round(time.perf_counter() - started, 4),
        job_id=job.id,
    )
    return [values[key] for key in keys], provenance
