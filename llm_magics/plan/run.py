"""Running a plan: each step calls its operation or mining function on the frame built so far.

``run_mine(frame, text)`` parses, checks (before any model loads) and runs; ``mine_plan(frame,
plan)`` runs a parsed ``Plan``. Both return a ``MineRun``: the enriched frame (a new object; the
input is never changed) and, per step, its time, rows computed and served from the cache, and
models. Every model call goes through the engine's result cache, so running a plan again after an
interruption resumes where it stopped. With ``dry_run=True`` they return a ``PlanEstimate``
instead: the models the plan uses and a time estimate from timing a few rows, uncached.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from llm_magics import ops
from llm_magics.engine.jobs import step as step_job
from llm_magics.errors import InvalidArgumentError, collected_warnings, warn
from llm_magics.mining import MiningResult, mine
from llm_magics.mining.columns import is_free_text
from llm_magics.mining.narrative import Narrative
from llm_magics.ops.base import text_of
from llm_magics.plan.check import check_plan, check_replaced
from llm_magics.plan.parse import Plan, Step, parse_plan
from llm_magics.plan.verbs import (
    OVERWRITE,
    default_outputs,
    function_of,
    models_for,
    output_schema,
)
from llm_magics.runtime.manager import ModelManager, get_manager
from llm_magics.units import format_seconds

if TYPE_CHECKING:
    from llm_magics.distributed import RayEngine

__all__ = ["MineRun", "PlanEstimate", "StepReport", "mine_plan", "run_mine"]

PROBE_ROWS = 8
"""Rows a dry run times each step on."""


@dataclass
class StepReport:
    """What one step did."""

    line: int
    step: str
    outputs: list[str]
    seconds: float
    rows: int
    computed: int = 0
    cached: int = 0
    models: list[str] = field(default_factory=list)
    note: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class MineRun:
    """The outcome of a plan: the enriched frame, what each step did, and the mining results.

    Attributes
    ----------
    frame
        The input rows (sampled, if asked) with every step's columns; a ``clean`` step replaces
        its column.
    steps
        One ``StepReport`` per step that ran, in order.
    result, narrative
        The last ``predict`` step's ``MiningResult`` and the last ``explain``'s ``Narrative``.
    topics, finetuned
        The ``TopicModel`` of each ``topics`` step (by column) and each ``finetune``'s model.
    completed, error
        ``False`` and the error's text when a step failed or was interrupted: ``frame`` then
        holds the steps that finished, and running the plan again resumes from the cache.
    """

    plan: Plan
    frame: pd.DataFrame
    steps: list[StepReport] = field(default_factory=list)
    result: MiningResult | None = None
    narrative: Narrative | None = None
    topics: dict[str, ops.TopicModel] = field(default_factory=dict)
    finetuned: dict[str, ops.FineTuned] = field(default_factory=dict)
    completed: bool = False
    error: str | None = None
    input_rows: int = 0

    @property
    def new_columns(self) -> list[str]:
        """The columns the steps made or replaced, in the order they were made."""
        seen: dict[str, None] = {}
        for report in self.steps:
            seen.update(dict.fromkeys(c for c in report.outputs if c in self.frame.columns))
        return list(seen)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def table(self) -> pd.DataFrame:
        """One row per step: line, step, outputs, seconds, rows computed and from the cache, models."""
        rows = [
            {
                "line": s.line,
                "step": s.step,
                "outputs": ", ".join(s.outputs),
                "seconds": round(s.seconds, 2),
                "computed": s.computed,
                "from cache": s.cached,
                "models": ", ".join(s.models),
                "note": "; ".join([n for n in (s.note, *s.warnings) if n]),
            }
            for s in self.steps
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "line",
                "step",
                "outputs",
                "seconds",
                "computed",
                "from cache",
                "models",
                "note",
            ],
        )

    def charts(self) -> list[Any]:
        """The charts that explain this run: what the text steps made (sentiment, keywords,
        summary lengths, classification confidence), each topic map, then the mining result's."""
        found = self._text_charts()
        found += [
            model.plot("map", texts=self.frame.get(column)) for column, model in self.topics.items()
        ]
        if self.result is not None:
            found += self.result.charts()
        return found

    def _text_charts(self) -> list[Any]:
        from llm_magics.plots.text import (
            confidence_histogram,
            keyword_frequency,
            sentiment_distribution,
            summary_lengths,
        )

        steps = {step.line: step for step in self.plan.steps}
        charts: list[Any] = []
        for report in self.steps:
            step, made = steps.get(report.line), [c for c in report.outputs if c in self.frame]
            if step is None or not made:
                continue
            if step.verb == "sentiment":
                charts.append(sentiment_distribution(self.frame[made[0]]))
            elif step.verb == "keywords":
                charts.append(keyword_frequency(self.frame[made[0]]))
            elif step.verb == "summarize" and step.columns[0] in self.frame:
                charts.append(summary_lengths(self.frame[step.columns[0]], self.frame[made[0]]))
            elif (
                step.verb == "classify"
                and len(made) > 1
                and pd.api.types.is_numeric_dtype(self.frame[made[1]])
            ):
                charts.append(confidence_histogram(self.frame[made[1]], self.frame[made[0]]))
        return charts

    def to_dict(self) -> dict[str, Any]:
        """Everything but the frame and the fitted models, as plain Python values."""
        return {
            "plan": self.plan.source,
            "rows": len(self.frame),
            "input_rows": self.input_rows,
            "completed": self.completed,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "new_columns": self.new_columns,
            "steps": [s.to_dict() for s in self.steps],
            "result": self.result.to_dict() if self.result is not None else None,
            "narrative": self.narrative.text if self.narrative is not None else None,
        }

    def status_line(self) -> str:
        sampled = f" (sampled from {self.input_rows})" if self.input_rows > len(self.frame) else ""
        state = "done" if self.completed else f"stopped: {self.error}"
        return (
            f"{len(self.steps)} of {len(self.plan)} steps on {len(self.frame)} rows{sampled} in "
            f"{self.seconds:.1f} s; {state}"
        )

    def __repr__(self) -> str:
        parts = [f"MineRun: {self.status_line()}", self.table().to_string(index=False)]
        if self.new_columns:
            parts.append(self.frame[self.new_columns].head(5).to_string(max_colwidth=40))
        if self.result is not None:
            parts.append(repr(self.result))
        if self.narrative is not None:
            parts.append(str(self.narrative))
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        from llm_magics.plan.views import mine_run_html

        return mine_run_html(self)


@dataclass
class PlanEstimate:
    """What a dry run found: the models a plan uses and how long it should take."""

    plan: Plan
    rows: int
    probe_rows: int
    steps: pd.DataFrame  # line, step, models, probe_seconds, estimate_seconds, note
    models: pd.DataFrame  # role, model, loaded_before, load_seconds

    @property
    def seconds(self) -> float:
        """The estimated time of the whole plan (model loading not included)."""
        return float(self.steps["estimate_seconds"].sum())

    def __repr__(self) -> str:
        return (
            f"Dry run: {len(self.plan)} steps on {self.rows} rows; about {format_seconds(self.seconds)} "
            f"(timed on {self.probe_rows} rows, uncached; larger batches are faster per row).\n\n"
            f"{self.steps.to_string(index=False)}\n\nModels:\n{self.models.to_string(index=False)}"
        )

    def _repr_html_(self) -> str:
        from llm_magics.plan.views import estimate_html

        return estimate_html(self)


@contextlib.contextmanager
def _finished_jobs(manager: ModelManager) -> Iterator[dict[str, Any]]:
    """The engine jobs that finish inside the block, by id."""
    jobs: dict[str, Any] = {}

    def listen(job: Any) -> None:
        if job.state != "running":
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


@contextlib.contextmanager
def _chat_model(manager: ModelManager, model: str | None) -> Iterator[None]:
    """Make ``model`` the default chat model inside the block (``%%mine --model``)."""
    if model is None:
        yield
        return
    config = manager.config
    before = config.default_chat_model
    config.default_chat_model = model
    try:
        yield
    finally:
        config.default_chat_model = before


def _named(step: Step, result: pd.DataFrame) -> pd.DataFrame:
    """The op's columns under the step's output names (``-> mood`` → mood, mood_score)."""
    names = [str(c) for c in result.columns]
    outputs = [o.split(":")[0] for o in step.outputs]
    if step.verb == "clean":
        outputs = outputs or [step.columns[0]]
    if not outputs:
        return result
    if step.verb == "embed":
        return result.set_axis([f"{outputs[0]}_{i}" for i in range(len(names))], axis=1)
    if len(outputs) > len(names):
        msg = (
            f"line {step.line}: {step.verb} makes {len(names)} column(s) ({', '.join(names)}); "
            f"name at most that many outputs."
        )
        raise InvalidArgumentError(msg)
    first = names[0]
    renamed = list(outputs)
    for name in names[len(outputs) :]:
        suffix = name[len(first) :] if name.startswith(f"{first}_") else f"_{name}"
        renamed.append(f"{outputs[0]}{suffix}")
    return result.set_axis(renamed, axis=1)


def _engine_options(verb: str, *, cache: bool, progress: bool, engine: Any) -> dict[str, Any]:
    if verb == "explain":
        return {}
    accepted = inspect.signature(function_of(verb)).parameters
    options = {"cache": cache, "progress": progress, "backend": engine}
    return {k: v for k, v in options.items() if k in accepted}


def _is_list_column(series: pd.Series) -> bool:
    first = series.dropna().head(1)
    return len(first) > 0 and isinstance(first.iloc[0], list | tuple | np.ndarray)


class _Runner:
    """Runs the steps of one plan, keeping what each produced."""

    def __init__(
        self, run: MineRun, *, cache: bool, progress: bool, engine: Any, made: list[str]
    ) -> None:
        self.run, self.cache, self.progress, self.engine = run, cache, progress, engine
        self.made = made  # columns the plan made so far (predict learns from them too)

    def step(self, step: Step) -> tuple[pd.DataFrame, str]:
        """The columns ``step`` adds (replaced ones included) and a note."""
        frame = self.run.frame
        options = {k: v for k, v in step.options.items() if k != OVERWRITE} | _engine_options(
            step.verb, cache=self.cache, progress=self.progress, engine=self.engine
        )
        if step.verb == "predict":
            return self._predict(step, options)
        if step.verb == "explain":
            if self.run.result is None:
                msg = f"line {step.line}: explain needs a predict step before it."
                raise InvalidArgumentError(msg)
            self.run.narrative = self.run.result.explain(**options)
            return pd.DataFrame(index=frame.index), f"narrative by the {self.run.narrative.source}"
        if step.verb == "finetune":
            text, label = step.columns
            name = step.outputs[0] if step.outputs else None
            tuned = ops.finetune(frame, text, label, name=name, **options)
            self.run.finetuned[tuned.name] = tuned
            return pd.DataFrame(index=frame.index), f"registered as model {tuned.name!r}"
        if step.verb == "features":
            return ops.features(frame, list(step.columns), **options), ""
        texts = frame[step.columns[0]]
        op = function_of(step.verb)
        if step.verb == "classify":
            result = op(texts, options.pop("labels", None), **options)
        elif step.verb == "extract":
            result = op(texts, output_schema(step), **options)
            return result.set_axis([o.split(":")[0] for o in step.outputs], axis=1), ""
        elif step.verb == "filter":
            result = op(texts, step.arguments[0], **options)
            share = float(result.mean()) if result.notna().any() else 0.0
            return _named(step, result.to_frame()), f"{share:.0%} of rows match"
        elif step.verb == "topics":
            model = op(texts, **options)
            self.run.topics[step.columns[0]] = model
            return _named(step, model.rows[["topic", "topic_label"]]), f"{model.k} topics"
        else:
            result = op(texts, **options)
        if isinstance(result, pd.Series):
            result = result.to_frame()
        return _named(step, result), ""

    def _predict(self, step: Step, options: dict[str, Any]) -> tuple[pd.DataFrame, str]:
        frame = self.run.frame
        target = step.target or ""
        if step.columns:
            inputs = list(dict.fromkeys([*step.columns, *self.made]))
            text = [c for c in step.columns if is_free_text(frame[c])]
        else:
            inputs, text = [c for c in frame.columns if c != target], None
        skipped = [c for c in inputs if c != target and _is_list_column(frame[c])]
        inputs = [c for c in inputs if c != target and c not in skipped]
        result = mine(frame[[*inputs, target]], target, text=text, **options)
        self.run.result = result
        predicted = result.predict(frame).rename(
            step.outputs[0] if step.outputs else f"{target}_predicted"
        )
        note = (
            f"trained on {len(result.splits.train)} rows, tested on {len(result.splits.test)}; "
            f"test {result.metric} {result.metrics[result.metric]:.3f}"
        )
        if skipped:
            note += f"; list columns left out: {', '.join(skipped)}"
        return predicted.to_frame(), note


def _add_columns(run: MineRun, added: pd.DataFrame, step: Step) -> None:
    """Put a step's columns into the frame: replaced ones in place, new ones at the end.

    ``check_plan`` refused the names it could foresee; the ones only the run knows (``p_LABEL``,
    ``vec_0`` ...) are refused here, before the frame changes.
    """
    for report in run.steps:
        check_replaced(step, added.columns, report.outputs, f"made by line {report.line}")
    check_replaced(step, added.columns, run.frame.columns, "of the frame")
    new = [c for c in added.columns if c not in run.frame.columns]
    for name in added.columns.difference(new, sort=False):
        run.frame[name] = added[name]
    if new:
        run.frame = pd.concat([run.frame, added[new]], axis=1)


def _shorten(code: str, width: int = 60) -> str:
    """A plan line short enough to name its job in the sidebar."""
    return code if len(code) <= width else code[: width - 1] + "…"


def _rows_with_text(step: Step, frame: pd.DataFrame) -> int:
    """The rows a step reads text from: those with text in its (first) text column."""
    if step.verb == "predict":
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
    """
    if not jobs:
        return 0, 0
    rows = _rows_with_text(step, frame)
    over_rows = [j for j in jobs if j["total"] == rows]
    if step.verb == "predict" or not over_rows:
        computed = sum(j["done"] - j["cached"] for j in jobs)
    else:
        computed = max(j["done"] - j["cached"] for j in over_rows)
    computed = min(rows, computed)
    return computed, rows - computed


def _sample(frame: pd.DataFrame, sample: int | None, seed: int) -> pd.DataFrame:
    if sample is None or sample >= len(frame):
        return frame
    if sample < 1:
        msg = f"sample must be a positive number of rows, not {sample!r}."
        raise InvalidArgumentError(msg)
    positions = np.sort(np.random.default_rng(seed).choice(len(frame), sample, replace=False))
    return frame.iloc[positions]


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
    engine: str | RayEngine = "local",
) -> MineRun:
    """Run a parsed ``plan`` over ``frame`` (see ``run_mine``).

    A step that fails or is interrupted leaves the steps before it in ``run`` (pass a ``MineRun``
    to keep them when the error propagates) and raises.
    """
    if not isinstance(frame, pd.DataFrame):
        msg = f"A plan runs over a pandas DataFrame, not {type(frame).__name__}."
        raise InvalidArgumentError(msg)
    check_plan(plan, frame.columns)
    if not (isinstance(engine, str) and engine == "local"):
        from llm_magics.distributed import RayEngine

        engine = RayEngine.of(engine)  # a misspelt engine fails before the first step
    manager = manager or get_manager()
    rows = _sample(frame, sample, seed)
    run = run or MineRun(plan=plan, frame=rows.copy())
    run.plan, run.frame, run.input_rows = plan, rows.copy(), len(frame)
    runner = _Runner(run, cache=cache, progress=progress, engine=engine, made=[])
    bar = tqdm(plan.steps, disable=not progress or not plan.steps, unit="step", desc="plan")
    seen: set[str] = set()
    shown: set[tuple[Any, ...]] = set()
    with _chat_model(manager, model), contextlib.closing(bar):
        for step in bar:
            bar.set_description(f"line {step.line}: {step.verb}")
            started, kept, frame_before = time.perf_counter(), [], run.frame
            try:
                # One listed job per line of the plan; its engine calls report to it.
                with (
                    step_job(_shorten(step.code), manager, rows=len(run.frame)) as listed,
                    _finished_jobs(manager) as jobs,
                    _warnings_once(step, seen, kept, shown),
                ):
                    added, note = runner.step(step)
                _add_columns(run, added, step)
            except BaseException as err:
                run.error = f"line {step.line} ({step.verb}): {type(err).__name__}: {err}"
                raise
            outputs = [str(c) for c in added.columns]
            runner.made += [c for c in outputs if c not in runner.made and c not in step.columns]
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
                    computed=computed,
                    cached=cached,
                    models=sorted({s["model"] for s in snapshots}),
                    note=note,
                    warnings=kept,
                )
            )
    run.completed = True
    return run


def estimate_plan(
    frame: pd.DataFrame,
    plan: Plan,
    *,
    sample: int | None = None,
    model: str | None = None,
    probe: int = PROBE_ROWS,
    seed: int = 0,
    manager: ModelManager | None = None,
) -> PlanEstimate:
    """The models ``plan`` uses and its time on ``frame``, from running it on ``probe`` rows.

    The probe rows are computed with the cache off, so nothing is kept: the real run computes
    every row. Steps that fit a model (``predict``, ``finetune``) are timed by their feature
    extraction only; model selection and training come on top.
    """
    check_plan(plan, frame.columns)
    manager = manager or get_manager()
    rows = _sample(frame, sample, seed)
    config = manager.config
    chat, embed = model or config.default_chat_model, config.default_embed_model
    loaded_before = {m.spec.key for m in manager.loaded()}
    models, seen = [], set()
    for step in plan.steps:
        for role, name in models_for(step, chat=chat, embed=embed):
            if (role, name) in seen or role == "classifier" or not name:
                continue
            seen.add((role, name))
            started = time.perf_counter()
            loaded = manager.load(name, role=role)  # type: ignore[arg-type]
            models.append(
                {
                    "role": role,
                    "model": name,
                    "loaded_before": loaded.spec.key in loaded_before,
                    "load_seconds": round(time.perf_counter() - started, 2),
                }
            )
    probe_frame = _sample(rows, min(probe, len(rows)), seed).copy()
    scale = len(rows) / max(len(probe_frame), 1)
    run = MineRun(plan=plan, frame=probe_frame)
    runner = _Runner(run, cache=False, progress=False, engine="local", made=[])
    estimates = []
    with _chat_model(manager, model):
        for step in plan.steps:
            started, note = time.perf_counter(), ""
            if step.verb in ("predict", "finetune"):
                columns = [c for c in step.columns if is_free_text(probe_frame[c])] or [
                    c for c in probe_frame.columns if is_free_text(probe_frame[c])
                ]
                kinds = ("embedding",) if step.verb == "finetune" else ops.FEATURE_KINDS
                ops.features(probe_frame, columns, kinds=kinds, cache=False, progress=False)
                epochs = step.options.get("epochs", 3)
                factor = 3 * epochs if step.verb == "finetune" else 1
                note = (
                    "features only; model selection and tuning come on top"
                    if step.verb == "predict"
                    else f"rough: {epochs} epochs of training at ~3 forward passes"
                )
                added = pd.DataFrame(index=probe_frame.index)
                if step.verb == "predict":
                    added[step.outputs[0] if step.outputs else f"{step.target}_predicted"] = (
                        probe_frame[step.target]
                    )
            elif step.verb == "explain":
                factor, added, note = 0, pd.DataFrame(index=probe_frame.index), "one generation"
            elif step.verb == "topics" and len(probe_frame) < 10:
                ops.embed(probe_frame[step.columns[0]], cache=False, progress=False)
                factor, note = 1, "embedding only; clustering and naming come on top"
                added = pd.DataFrame(
                    {n: pd.Series(0, index=probe_frame.index) for n in _topic_outputs(step)}
                )
            else:
                factor = 1
                added, _ = runner.step(step)
            seconds = time.perf_counter() - started
            _add_columns(run, added, step)
            runner.made += [c for c in added.columns if c not in runner.made]
            estimates.append(
                {
                    "line": step.line,
                    "step": step.code,
                    "models": ", ".join(
                        n for _, n in models_for(step, chat=chat, embed=embed) if n
                    ),
                    "probe_seconds": round(seconds, 2),
                    "estimate_seconds": round(seconds * scale * factor, 1),
                    "note": note,
                }
            )
    return PlanEstimate(
        plan=plan,
        rows=len(rows),
        probe_rows=len(probe_frame),
        steps=pd.DataFrame(estimates),
        models=pd.DataFrame(models, columns=["role", "model", "loaded_before", "load_seconds"]),
    )


def _topic_outputs(step: Step) -> list[str]:
    outputs = [o.split(":")[0] for o in step.outputs]
    return outputs + default_outputs(step)[len(outputs) :]


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
    engine: str | RayEngine = "local",
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
        The default chat model for this run.
    cache
        Keep and reuse results in the engine's cache (a re-run resumes).
    progress
        Progress bars for the plan and each model call.
    dry_run
        Load the models and time the steps on a few rows (uncached), returning a
        ``PlanEstimate`` instead of running.
    seed
        Which rows ``sample`` draws.
    engine
        ``"ray"`` (or a ``llm_magics.distributed.RayEngine``) runs the row-wise steps (clean,
        summarize, classify, sentiment, extract, filter, embed, keywords) on a Ray cluster; the
        others (topics, features, predict, explain, finetune) need every row and run here.

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
        engine=engine,
    )
