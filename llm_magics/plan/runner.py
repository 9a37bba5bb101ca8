"""Running a plan: each step calls its operation or mining function on the frame built so far.

``run_mine(frame, text)`` parses, checks (before any model loads) and runs; ``mine_plan(frame,
plan)`` runs a parsed ``Plan``. Both return a ``MineRun`` (``llm_magics.plan.results``): the
enriched frame (a new object; the input is never changed) and, per step, its time, rows computed
and served from the cache, and models. Every model call goes through the engine's result cache,
so running a plan again after an interruption resumes where it stopped. With ``dry_run=True``
they return a ``PlanEstimate`` instead (``llm_magics.plan.estimate``).

A step of an operation across rows whose result is a new table (``aggregate``: one row per
group, ``top_k``: the chosen rows, ``join``: the matching pairs) replaces the frame: the lines
after it see its columns, and its report says how many rows it read and how many it made.

``model=`` is passed down to each step as an argument (``llm_magics.plan.steps``); a run never
writes the kernel's settings, so a tuning panel running at the same time keeps its own model.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from llm_magics.cells import text_of
from llm_magics.engine.jobs import step as step_job
from llm_magics.errors import InvalidArgumentError, checked_arguments, collected_warnings, warn
from llm_magics.mining.columns import is_free_text
from llm_magics.ops.backend import LOCAL, renamed_engine, resolve_backend
from llm_magics.plan.check import check_plan
from llm_magics.plan.estimate import estimate_plan
from llm_magics.plan.parse import Plan, Step, parse_plan
from llm_magics.plan.results import MineRun, PlanEstimate, StepReport
from llm_magics.plan.steps import StepRunner, add_columns, replaces_frame, sample_rows
from llm_magics.progress import tqdm
from llm_magics.runtime.manager import ModelManager, get_manager

__all__ = ["mine_plan", "run_mine"]


@contextlib.contextmanager
def _finished_jobs(manager: ModelManager) -> Iterator[dict[str, Any]]:
    """The engine jobs that finish inside the block in this thread, by id.

    Listeners run in the job's thread, and a step's engine calls run in the step's: the jobs of
    a tuning panel previewing at the same time (another thread) are not this step's.
    """
    jobs: dict[str, Any] = {}
    thread = threading.get_ident()

    def listen(job: Any) -> None:
        if job.state != "running" and threading.get_ident() == thread:
            jobs[job.id] = job

    remove = manager.add_job_listener(listen)
    try:
        yield jobs
    finally:
        remove()


@contextlib.contextmanager
def _warnings_once(
    step: Step, seen: set[str], kept: list[str], shown: set[tuple[Any, ...]]
) -> Iterator[None]:
    """Our warnings of a step, each kind once per plan and prefixed with the step's line; other
    libraries' warnings each once per plan (``shown``), not once per model call.

    A plan repeats what one op warns about (the same long rows are cut in every embedding step);
    the reader needs it once.
    """
    with collected_warnings(shown) as notes:
        yield
    for text in notes:
        kind = re.sub(r"\d+", "#", text)
        if kind not in seen:
            seen.add(kind)
            kept.append(text)
            warn(f"line {step.line} ({step.verb}): {text}")


def _shorten(code: str, width: int = 60) -> str:
    """A plan line short enough to name its job in the sidebar."""
    return code if len(code) <= width else code[: width - 1] + "…"


def _rows_with_text(step: Step, frame: pd.DataFrame) -> int:
    """The rows a step reads text from: those with text in its (first) text column; a step that
    predicts a target (``predict``) reads every text column it names, else every one but the
    target."""
    if step.target is not None:
        named = [c for c in step.columns if c in frame and is_free_text(frame[c])]
        columns = named or [c for c in frame.columns if c != step.target and is_free_text(frame[c])]
    else:
        columns = [c for c in step.columns[:1] if c in frame]
    return max((sum(text_of(v) is not None for v in frame[c]) for c in columns), default=0)


def _row_counts(step: Step, frame: pd.DataFrame, jobs: list[dict[str, Any]]) -> tuple[int, int]:
    """Of the step's rows with text, how many were computed and how many came from the cache.

    The engine counts its own items, which are not the user's rows: the candidate phrases of
    ``keywords``, the label texts of ``classify``, the folds ``predict`` embeds again. A row is
    computed when the step computed it in one of the engine calls over its rows (those with one
    item per row), else it came from the cache; a step that called no model counts neither.
    ``predict`` computes its training rows and its test rows in separate calls, and only then the
    whole column (from the cache by then), so its computed rows are what its calls computed.
    A step whose calls are not over its rows (``aggregate``'s chunks, a ``join``'s pairs) or whose
    result replaces the frame counts its rows in the share of the calls' items it computed: every
    row when nothing came from the cache, none on a re-run.
    """
    if not jobs:
        return 0, 0
    rows = _rows_with_text(step, frame)
    over_rows = [j for j in jobs if j["total"] == rows]
    if step.target is not None:
        computed = sum(j["done"] - j["cached"] for j in jobs)
    elif over_rows and not replaces_frame(step):
        computed = max(j["done"] - j["cached"] for j in over_rows)
    else:
        items = sum(j["done"] for j in jobs)
        computed = round(rows * sum(j["done"] - j["cached"] for j in jobs) / max(items, 1))
    computed = min(rows, computed)
    return computed, rows - computed


class _Steps:
    """Runs each step of a plan as a listed job, and writes its ``StepReport``."""

    def __init__(self, runner: StepRunner, manager: ModelManager) -> None:
        self.runner, self.manager = runner, manager
        self.seen: set[str] = set()  # kinds of our warnings said so far
        self.shown: set[tuple[Any, ...]] = set()  # other libraries' warnings said so far

    def run(self, step: Step) -> None:
        run, runner, manager = self.runner.run, self.runner, self.manager
        started, kept, frame_before = time.perf_counter(), [], run.frame
        try:
            # One listed job per line of the plan; its engine calls report to it.
            with (
                step_job(_shorten(step.code), manager, rows=len(run.frame)) as listed,
                _finished_jobs(manager) as jobs,
                _warnings_once(step, self.seen, kept, self.shown),
            ):
                added, note = runner.step(step)
            add_columns(run, added, step)
        except BaseException as err:
            run.error = f"line {step.line} ({step.verb}): {type(err).__name__}: {err}"
            raise
        outputs = [str(c) for c in added.columns]
        if replaces_frame(step):  # the new table's own columns, not those it kept or joined
            outputs = [c for c in outputs if c not in frame_before.columns]
            note = "; ".join(n for n in (f"{len(frame_before)} rows → {len(run.frame)}", note) if n)
        runner.made += [c for c in outputs if c not in runner.made and c not in step.columns]
        runner.made = [c for c in runner.made if c in run.frame.columns]
        snapshots = [job.snapshot() for job in jobs.values()]
        computed, cached = _row_counts(step, frame_before, snapshots)
        if snapshots:
            listed.settle(computed + cached, cached)
            manager.notify(listed)
        run.steps.append(
            StepReport(
                line=step.line,
                step=step.code,
                outputs=outputs,
                seconds=time.perf_counter() - started,
                rows=len(run.frame),
                input_rows=len(frame_before),
                computed=computed,
                cached=cached,
                models=sorted({s["model"] for s in snapshots}),
                note=note,
                warnings=kept,
            )
        )


@checked_arguments
def mine_plan(
    frame: pd.DataFrame,
    plan: Plan,
    *,
    sample: int | None = None,
    model: str | None = None,
    cache: bool = True,
    progress: bool = True,
    seed: int = 0,
    manager: ModelManager | None = None,
    run: MineRun | None = None,
    backend: Any = LOCAL,
    engine: Any = None,
) -> MineRun:
    """Run a parsed ``plan`` over ``frame`` (see ``run_mine``).

    A step that fails or is interrupted leaves the steps before it in ``run`` (pass a ``MineRun``
    to keep them when the error propagates) and raises. ``engine=`` is the old name of
    ``backend=`` (deprecated).
    """
    if not isinstance(frame, pd.DataFrame):
        msg = f"A plan runs over a pandas DataFrame, not {type(frame).__name__}."
        raise InvalidArgumentError(msg)
    check_plan(plan, frame.columns)
    backend = renamed_engine("mine_plan", backend, engine)
    # Resolved once, so a misspelt backend fails before the first step and every step shares it.
    backend = resolve_backend(backend) or LOCAL
    manager = manager or get_manager()
    rows = sample_rows(frame, sample, seed)
    run = run or MineRun(plan=plan, frame=rows.copy())
    run.plan, run.frame, run.input_rows = plan, rows.copy(), len(frame)
    runner = StepRunner(
        run,
        cache=cache,
        progress=progress,
        backend=backend,
        # Without a model named, each step asks for its own default: scored steps go through
        # the cascade (fast model → LlmMagics.default_chat_model), generating ones use the latter.
        chat=model
        if model is not None or not manager.config.cascade
        else manager.model_for("chat"),
    )
    steps = _Steps(runner, manager)
    bar = tqdm(plan.steps, disable=not progress or not plan.steps, unit="step", desc="plan")
    with contextlib.closing(bar):
        for step in bar:
            bar.set_description(f"line {step.line}: {step.verb}")
            steps.run(step)
    run.completed = True
    return run


@checked_arguments
def run_mine(
    frame: pd.DataFrame,
    text: str,
    *,
    namespace: Mapping[str, Any] | None = None,
    sample: int | None = None,
    model: str | None = None,
    cache: bool = True,
    progress: bool = True,
    dry_run: bool = False,
    seed: int = 0,
    manager: ModelManager | None = None,
    backend: Any = LOCAL,
    engine: Any = None,
) -> MineRun | PlanEstimate:
    """Run a plan written in the ``%%mine`` language over ``frame``.

    Parameters
    ----------
    frame
        The rows; it is not changed (the result holds a new frame).
    text
        The plan, one step per line (``llm_magics.plan`` describes the language).
    namespace
        Values for ``{name}`` in the plan.
    sample
        Run on this many rows drawn at random (in their original order) instead of all.
    model
        The chat model of this run: every step that calls a chat model and names none uses it.
        ``None``: each step's default (scored steps through the cascade of
        ``LlmMagics.fast_chat_model`` and ``default_chat_model``, the others the latter).
    cache
        Keep and reuse results in the engine's cache (a re-run resumes).
    progress
        Progress bars for the plan and each model call.
    dry_run
        Load the models and time the steps on a few rows (uncached), returning a
        ``PlanEstimate`` instead of running.
    seed
        Which rows ``sample`` draws.
    manager
        The model manager (``None``: this kernel's).
    backend
        ``"ray"`` (or a ``llm_magics.backends.ray.RayBackend``) runs the row-wise steps (the ops
        of ``llm_magics.ops.base.row_ops()``: clean, summarize, classify, sentiment, extract,
        filter, embed, keywords) on a Ray cluster, and the operations across rows (aggregate,
        dedup, join, top_k) their row-wise parts (embeddings, pair scores, chunk answers); the
        others (topics, features, predict, explain, finetune) need every row and run here.
    engine
        The old name of ``backend`` (deprecated: it warns, and will be removed).

    Raises
    ------
    PlanSyntaxError
        A plan that cannot run on ``frame``: with the line, the column and a suggestion, before
        any model is loaded.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"note": ["<b>Great</b> tea!", "Call me at me@example.com"]})
    >>> run_mine(frame, "clean note", progress=False).frame["note"].tolist()
    ['Great tea!', 'Call me at [EMAIL]']
    """
    backend = renamed_engine("run_mine", backend, engine)
    plan = parse_plan(text, namespace)
    if dry_run:
        return estimate_plan(frame, plan, sample=sample, model=model, seed=seed, manager=manager)
    return mine_plan(
        frame,
        plan,
        sample=sample,
        model=model,
        cache=cache,
        progress=progress,
        seed=seed,
        manager=manager,
        backend=backend,
    )
