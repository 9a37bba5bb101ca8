"""A job is one engine call: what it runs, how far it is, and a way to stop it from another thread.

The manager lists the jobs a user would call work: an engine call that computes something, or a
``step`` (one line of a ``%%mine`` plan) whose engine calls report to it instead of being listed
one by one. A call served wholly from the result cache is not listed (its listeners still hear
that it finished). A job started on the main thread (a notebook cell) is ``foreground``: the
kernel cannot read a request from the sidebar while the cell runs, so the sidebar interrupts the
kernel (SIGINT), which the engine turns into a stop at the end of the running batch.

A ``CancelScope`` stops a whole piece of work that may start several jobs one after another (an op
with one engine call per field, ``mine`` with its features and tuning trials): code that runs the
work in a thread enters the scope there, and ``scope.cancel()`` from any other thread cancels the
job running now and every job started in the scope later. Work that is not an engine job asks
``raise_if_cancelled()`` between its steps.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from llm_magics.errors import RunInterruptedError

if TYPE_CHECKING:
    from llm_magics.runtime.manager import ModelManager

__all__ = [
    "CancelScope",
    "Job",
    "JobState",
    "JobStopped",
    "TimeLimitReached",
    "current_scope",
    "raise_if_cancelled",
    "running",
    "step",
]

JobState = Literal["running", "done", "cancelled", "interrupted", "failed"]


@dataclass
class Job:
    """Progress of one engine call, in input rows (a row served from the cache counts as done).

    ``note`` is one line an op adds on how the work went (what a cascade routed to the quality
    model); the sidebar shows it under the job's progress.
    """

    primitive: str
    model: str
    total: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    done: int = 0
    cached: int = 0
    state: JobState = "running"
    started: float = field(default_factory=time.time)
    finished: float | None = None
    error: str | None = None
    note: str | None = None
    interrupted: bool = False  # stopped by Ctrl-C rather than cancel()
    foreground: bool = field(
        default_factory=lambda: threading.current_thread() is threading.main_thread()
    )
    batch: float = 0.0  # rows' worth of the running batch done so far (within-batch progress)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _computed: int = field(default=0, repr=False)
    _scope: CancelScope | None = field(default=None, repr=False)  # a step's engine calls
    _parts: list[Job] = field(default_factory=list, repr=False)  # a step's engine calls
    _settled: tuple[int, int] | None = field(default=None, repr=False)  # a step's (rows, cached)

    def cancel(self) -> None:
        """Ask the job to stop at its next batch boundary (safe from any thread)."""
        self._stop.set()
        if self._scope is not None:
            self._scope.cancel()

    @property
    def stop_requested(self) -> bool:
        """Whether ``cancel()`` was called (the job stops at its next batch boundary)."""
        return self._stop.is_set()

    def advance(self, rows: int) -> None:
        """Count ``rows`` more input rows computed, and reset the within-batch progress."""
        self.done += rows
        self._computed += rows
        self.batch = 0.0

    def finish(self, state: JobState, error: str | None = None) -> None:
        """End the job in ``state`` (with ``error``'s message if it failed) and stamp the time."""
        self.state = state
        self.error = error
        self.finished = time.time()
        self.batch = 0.0

    def settle(self, rows: int, cached: int) -> None:
        """Count a finished step in the user's rows with text, ``cached`` of them from the cache.

        A step's engine calls count their own items (``keywords``' candidate phrases,
        ``predict``'s folds), which are not the rows the user gave.
        """
        self._settled = (rows, cached)

    @property
    def rows_per_second(self) -> float:
        """Rows computed (not served from the cache) per second of this job so far."""
        elapsed = (self.finished or time.time()) - self.started
        computed = self._computed + self.batch + sum(p._computed + p.batch for p in self._parts)
        if self._settled is not None:
            computed = self._settled[0] - self._settled[1]
        return computed / elapsed if elapsed > 0 else 0.0

    def snapshot(self) -> dict[str, Any]:
        """JSON-serializable state for ``status()["jobs"]``; a step counts its calls' rows."""
        parts = [self, *self._parts]
        done, total = sum(p.done for p in parts), max(self.total, sum(p.total for p in self._parts))
        cached = sum(p.cached for p in parts)
        if self._settled is not None:
            done, cached = self._settled
            total = done
        return {
            "id": self.id,
            "primitive": self.primitive,
            "model": self.model,
            "done": done,
            "total": total,
            "cached": cached,
            "batch": round(sum(p.batch for p in parts), 3),
            "rows_per_second": round(self.rows_per_second, 3),
            "started": self.started,
            "finished": self.finished,
            "state": self.state,
            "error": self.error,
            "note": self.note,
            "foreground": self.foreground,
            "stopping": self.state == "running" and any(p.stop_requested for p in parts),
        }


class CancelScope:
    """A way to cancel, from another thread, every engine job a piece of work starts.

    Examples
    --------
    >>> scope = CancelScope()
    >>> with scope.active():
    ...     scope.cancel()
    ...     raise_if_cancelled("the work")
    Traceback (most recent call last):
    ...
    llm_magics.errors.RunInterruptedError: the work cancelled.
    """

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._jobs: list[Job] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel()`` was called on this scope."""
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Stop the running job at its next batch boundary, and every later one before it starts."""
        with self._lock:
            self._cancelled.set()
            jobs = list(self._jobs)
        for job in jobs:
            job.cancel()

    def adopt(self, job: Job) -> None:
        """Count ``job`` in this scope (cancelled at once if the scope already is)."""
        with self._lock:
            self._jobs.append(job)
            if self._cancelled.is_set():
                job.cancel()

    @property
    def jobs(self) -> list[Job]:
        """A copy of the list of jobs started in this scope so far, oldest first."""
        with self._lock:
            return list(self._jobs)

    @contextlib.contextmanager
    def active(self) -> Iterator[CancelScope]:
        """Make this the scope of the jobs the current thread starts, until the block ends."""
        stack = _scopes()
        stack.append(self)
        try:
            yield self
        finally:
            stack.remove(self)


_local = threading.local()


def _scopes() -> list[CancelScope]:
    if not hasattr(_local, "scopes"):
        _local.scopes = []
    return _local.scopes


def _steps() -> list[Job]:
    if not hasattr(_local, "steps"):
        _local.steps = []
    return _local.steps


def current_scope() -> CancelScope | None:
    """The innermost scope this thread is in, if any."""
    stack = _scopes()
    return stack[-1] if stack else None


def raise_if_cancelled(what: str) -> None:
    """Raise ``RunInterruptedError`` if this thread's scope was cancelled."""
    scope = current_scope()
    if scope is not None and scope.cancelled:
        msg = f"{what} cancelled."
        raise RunInterruptedError(msg, job_id=None, done=0, total=0, reason="cancelled")


class JobStopped(Exception):
    """Raised inside ``running()`` at a batch boundary when the job's stop was requested."""


class TimeLimitReached(JobStopped):
    """Raised inside ``running()`` when the caller's ``time_limit`` has passed (mid-batch)."""


@contextlib.contextmanager
def step(label: str, manager: ModelManager, *, rows: int) -> Iterator[Job]:
    """Make the block one listed job, ``label``, that the engine calls inside report to.

    The calls' rows add up in the step's counts and cancelling the step stops the call running
    now and every later one. Ctrl-C or a cancel ends the step ``interrupted``/``cancelled``.
    Inside another step of this thread (an op that makes itself one job, run by a plan line that
    is one already), the block belongs to the outer step: one job per step, as the user sees it.

    Examples
    --------
    >>> from llm_magics import get_manager
    >>> with step("summarize review", get_manager(), rows=3) as job:
    ...     pass
    >>> job.state, job.total
    ('done', 3)
    """
    stack = _steps()
    if stack:
        yield stack[-1]
        return
    job = Job(label, "", total=rows)
    job._scope = CancelScope()
    manager.add_job(job)
    outer = current_scope()
    if outer is not None:
        outer.adopt(job)
    stack.append(job)
    try:
        with job._scope.active():
            manager.notify(job)
            yield job
    except RunInterruptedError as err:
        job.finish("interrupted" if err.reason == "interrupted" else "cancelled")
        raise
    except KeyboardInterrupt:
        job.finish("interrupted")
        raise
    except BaseException as err:
        job.finish("failed", f"{type(err).__name__}: {err}")
        raise
    else:
        if not job._parts:  # a step without engine calls (clean, explain) did all its rows
            job.done = job.total
        job.finish("done")
    finally:
        stack.remove(job)
        manager.notify(job)


@contextlib.contextmanager
def running(job: Job, manager: ModelManager, *, resume: str, listed: bool = True) -> Iterator[Job]:
    """Run ``job`` in the block: shown from its start, finished however it ends.

    The job is listed by the manager unless it runs in a ``step`` (the step is listed and counts
    its rows) or ``listed`` is false (a call that computes nothing). Ctrl-C
    (``KeyboardInterrupt``) or ``JobStopped`` becomes a ``RunInterruptedError`` that says how far
    the job got and ``resume`` (how to go on); any other error marks the job failed.
    """
    steps = _steps()
    if steps:
        parent = steps[-1]
        parent.model = job.model if parent.model in ("", job.model) else "several models"
        parent._parts.append(job)
    elif listed:
        manager.add_job(job)
    scope = current_scope()
    if scope is not None:
        scope.adopt(job)
    try:
        # The sidebar and the panels show the job from its start; a listener may stop it here.
        manager.notify(job)
        yield job
    except (KeyboardInterrupt, JobStopped) as err:
        timed_out = isinstance(err, TimeLimitReached)
        reason = (
            "cancelled"
            if timed_out or (job.stop_requested and not job.interrupted)
            else "interrupted"
        )
        job.finish(reason)
        manager.notify(job)
        said = "stopped at its time limit" if timed_out else reason
        msg = f"{job.primitive} {said}: {job.done} of {job.total} rows done; {resume}"
        raise RunInterruptedError(
            msg,
            job_id=job.id,
            done=job.done,
            total=job.total,
            reason="time limit" if timed_out else reason,
        ) from None
    except BaseException as err:
        job.finish("failed", f"{type(err).__name__}: {err}")
        manager.notify(job)
        raise
    job.finish("done")
    manager.notify(job)
