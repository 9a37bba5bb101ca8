"""A dry run: the models a plan uses and its time, from running it on a few rows, uncached.

``estimate_plan(frame, plan)`` (``run_mine(..., dry_run=True)``, ``%%mine --dry-run``) loads each
model the plan names and times every step on ``PROBE_ROWS`` rows with the cache off, so nothing is
kept; it returns a ``PlanEstimate`` (``llm_magics.plan.results``).

The time of a step is scaled from the probe rows to all rows in proportion. An operation across
rows says in its note how its cost really grows (``OpSpec.cost``: ``dedup`` ~ rows·k candidate
pairs, ``top_k`` a pool that does not grow with the rows ...), and a step whose result replaces
the frame (``aggregate``, ``top_k``, ``join``) runs on the probe rows too, so the lines after it
time what it made from them; how many rows it makes from all the rows is known only when it runs,
so they are scaled as if it kept every row (an upper bound), and say so.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from llm_magics import ops
from llm_magics.mining.columns import is_free_text
from llm_magics.ops.base import SPECS, defaults_of
from llm_magics.ops.cascade import SAMPLE_ROWS
from llm_magics.ops.spec import STEPS
from llm_magics.plan.check import check_plan
from llm_magics.plan.parse import Plan, Step
from llm_magics.plan.results import MineRun, PlanEstimate
from llm_magics.plan.steps import StepRunner, add_columns, replaces_frame, sample_rows
from llm_magics.plan.verbs import models_for
from llm_magics.runtime.manager import ModelManager, get_manager

__all__ = ["PROBE_ROWS", "estimate_plan"]

PROBE_ROWS = 8
"""Rows a dry run times each step on."""


def _load_models(plan: Plan, manager: ModelManager, chat: str, embed: str) -> list[dict[str, Any]]:
    """Load each model the plan uses once, timing it; classifiers are the run's own."""
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
    return models


def _fitting_step(
    step: Step, probe: pd.DataFrame, chat: str | None
) -> tuple[pd.DataFrame, int, str]:
    """Time a step that fits a model (``predict``, ``finetune``) by its feature extraction only
    (with the run's chat model, as the step would use): a ``"training"`` step embeds its texts,
    then trains ~3 forward passes an epoch."""
    columns = [c for c in step.columns if is_free_text(probe[c])] or [
        c for c in probe.columns if is_free_text(probe[c])
    ]
    spec = STEPS[step.verb]
    training = spec.estimate == "training"
    kinds = ("embedding",) if training else ops.FEATURE_KINDS
    chat = step.options.get("chat_model", chat)
    ops.features(probe, columns, kinds=kinds, chat_model=chat, cache=False, progress=False)
    epochs = step.options.get("epochs", 3)
    factor = 3 * epochs if training else 1
    note = (
        f"rough: {epochs} epochs of training at ~3 forward passes"
        if training
        else "features only; model selection and tuning come on top"
    )
    added = pd.DataFrame(index=probe.index)
    if spec.makes_columns:
        named = step.outputs or spec.output_names(step.target)
        added[named[0]] = probe[step.target]
    return added, factor, note


def _topic_outputs(step: Step) -> list[str]:
    outputs = [o.split(":")[0] for o in step.outputs]
    return outputs + SPECS[step.verb].output_names(step.columns[0])[len(outputs) :]


CASCADE_NOTE = (
    "timed as the quality model alone; through the cascade it takes about as long (1.03 of it "
    "for sentiment on 2,000 reviews: the sample is scored by both models)"
)


def _scores_with_chat(step: Step) -> bool:
    """Whether ``step`` scores answers with the chat model (so goes through the cascade)."""
    spec = SPECS.get(step.verb)
    if spec is None:
        return False
    options = defaults_of(step.verb) | dict(step.options)
    return any(u.role == "chat" and u.primitive == "score" for u in spec.calls(options))


def _probe_step(
    runner: StepRunner, step: Step, probe: pd.DataFrame
) -> tuple[pd.DataFrame, int, str]:
    """Run ``step`` on the ``probe`` rows: its columns, how many times over the real run takes,
    a note. The steps timed by their features read the probe rows as drawn."""
    spec = STEPS.get(step.verb)
    if spec is not None and spec.estimate == "generation":
        return pd.DataFrame(index=probe.index), 0, "one generation"
    if spec is not None:
        return _fitting_step(step, probe, runner.chat)
    if step.verb == "topics" and len(probe) < 10:
        ops.embed(probe[step.columns[0]], cache=False, progress=False)
        added = pd.DataFrame({n: pd.Series(0, index=probe.index) for n in _topic_outputs(step)})
        return added, 1, "embedding only; clustering and naming come on top"
    added, _ = runner.step(step)
    spec = SPECS[step.verb]
    return added, 1, f"cost {spec.cost}" if spec.cost else ""


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
    extraction only; model selection and training come on top. ``model`` is the run's chat
    model (see ``run_mine``).
    """
    check_plan(plan, frame.columns)
    manager = manager or get_manager()
    rows = sample_rows(frame, sample, seed)
    chat, embed = manager.model_for("chat", model), manager.model_for("embed")
    models = _load_models(plan, manager, chat, embed)
    probe_frame = sample_rows(rows, min(probe, len(rows)), seed).copy()
    scale = len(rows) / max(len(probe_frame), 1)
    run = MineRun(plan=plan, frame=probe_frame)
    runner = StepRunner(run, cache=False, progress=False, backend="local", chat=chat)
    # The probe rows are too few for the cascade (a column of SAMPLE_ROWS or fewer is answered
    # by the quality model alone), so a scored step is timed as the quality model alone.
    cascading = model is None and manager.config.cascade and len(rows) > SAMPLE_ROWS
    estimates, reshaped = [], None  # the last line whose result replaced the frame
    for step in plan.steps:
        started = time.perf_counter()
        added, factor, note = _probe_step(runner, step, run.frame)
        seconds = time.perf_counter() - started
        if reshaped is not None:
            upper = f"rows as made by line {reshaped} from the probe; scaled as all rows: an upper bound"
            note = "; ".join(n for n in (note, upper) if n)
        add_columns(run, added, step)
        runner.made += [c for c in added.columns if c not in runner.made]
        runner.made = [c for c in runner.made if c in run.frame.columns]
        reshaped = step.line if replaces_frame(step) else reshaped
        if cascading and _scores_with_chat(step):
            note = "; ".join(n for n in (note, CASCADE_NOTE) if n)
        estimates.append(
            {
                "line": step.line,
                "step": step.code,
                "models": ", ".join(n for _, n in models_for(step, chat=chat, embed=embed) if n),
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
