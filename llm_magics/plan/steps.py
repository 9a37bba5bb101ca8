"""Running one step of a plan: the step runner shared by a run and a dry run.

An operation step is generic over its spec (``llm_magics.ops.spec``): the op is called with the
text column (or the frame and its columns), the required argument read from the line as
``spec.plan_argument`` says, the run's chat model for each chat call the line does not name, and
the engine options its signature takes; its result becomes columns (``spec.to_frame``) named as
``spec.output_kind`` says, and ``spec.note`` writes the step's note. The mining steps
(``predict``, ``explain``, ``finetune``) have their own code.

An operation across rows reads the spec's other fields: the columns its ``frame_arguments`` name
(``by product``) are passed as the frame's Series (``llm_magics.ops.base.columns_of``); an op of
a frame with a ``column_argument`` (``join``) takes the frame first and the line's column under
that name, its other arguments by keyword; a ``with PATH`` table is read as ``llm-mine run``
reads its input (``llm_magics.tables``). A ``"frame"`` result (``spec.output_kind``) becomes
the run's frame: ``spec.reshape(frame, result)`` where the spec has one, the group keys of its
index made columns (where ``spec.columns_after`` lists them), its own columns under the line's
output names (``-> complaints``: complaints, complaints_rows).

``llm_magics.plan.runner`` (a run) and ``llm_magics.plan.estimate`` (a dry run) both use this
module, which imports neither.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llm_magics import ops
from llm_magics.errors import InvalidArgumentError
from llm_magics.mining import mine
from llm_magics.mining.columns import is_free_text
from llm_magics.ops.base import OPERATIONS, SPECS, columns_of, defaults_of
from llm_magics.ops.cascade import CascadeReport
from llm_magics.ops.spec import OpSpec
from llm_magics.plan.check import check_replaced
from llm_magics.plan.parse import CONNECTORS, Step
from llm_magics.plan.results import MineRun
from llm_magics.plan.verbs import (
    OVERWRITE,
    default_outputs,
    frame_columns,
    function_of,
    output_names,
    output_schema,
)
from llm_magics.tables import read_table

__all__ = ["StepRunner", "add_columns", "replaces_frame", "sample_rows"]

_RIGHT = CONNECTORS["with"][0]  # the plan key of ``with TABLE``


def _engine_options(
    function: Callable[..., Any] | None, *, cache: bool, progress: bool, backend: Any
) -> dict[str, Any]:
    """The engine options a step passes, those ``function``'s signature takes."""
    if function is None:
        return {}
    accepted = inspect.signature(function).parameters
    options = {"cache": cache, "progress": progress, "backend": backend}
    return {k: v for k, v in options.items() if k in accepted}


def _argument(step: Step, spec: OpSpec, options: dict[str, Any]) -> Any:
    """The op's required argument, where the line gives it (``spec.plan_argument``)."""
    if spec.plan_argument == "option":
        return options.pop(spec.argument, None)
    if spec.plan_argument == "quoted":
        return step.arguments[0]
    if spec.plan_argument == "outputs":
        return output_schema(step)
    msg = f"{spec.name}: its spec names the argument {spec.argument!r} but not where a plan line gives it."
    raise InvalidArgumentError(msg)


def _named(step: Step, spec: OpSpec, result: pd.DataFrame) -> pd.DataFrame:
    """The op's columns under the step's output names (``-> mood`` → mood, mood_score)."""
    names = [str(c) for c in result.columns]
    outputs = [o.split(":")[0] for o in step.outputs]
    if spec.output_kind == "schema":
        return result.set_axis(outputs, axis=1)
    if spec.output_kind == "replace":
        outputs = outputs or [step.columns[0]]
    if not outputs:
        return result
    if spec.output_kind == "prefix":
        return result.set_axis([f"{outputs[0]}_{i}" for i in range(len(names))], axis=1)
    if len(outputs) > len(names):
        msg = (
            f"line {step.line}: {step.verb} makes {len(names)} column(s) ({', '.join(names)}); "
            f"name at most that many outputs."
        )
        raise InvalidArgumentError(msg)
    return result.set_axis(
        output_names(names, outputs, step.columns[0] if step.columns else ""), axis=1
    )


def replaces_frame(step: Step) -> bool:
    """Whether ``step``'s result becomes the run's frame (``OpSpec.output_kind == "frame"``)."""
    spec = SPECS.get(step.verb)
    return spec is not None and spec.output_kind == "frame"


def _table(step: Step, spec: OpSpec, frame: pd.DataFrame, result: Any) -> pd.DataFrame:
    """A ``"frame"`` op's result as the run's next frame: reshaped as its spec says, the group
    keys of its index as columns, its own columns under the line's output names."""
    table = spec.reshape(frame, result) if spec.reshape is not None else result
    if isinstance(table, pd.Series):
        table = table.to_frame()
    after, _ = frame_columns(step, [str(c) for c in frame.columns])
    keys = [n for n in table.index.names if n is not None and n in after and n not in table]
    if keys:
        table = table.reset_index(level=keys if len(keys) < table.index.nlevels else None)
    own = [c for c in spec.output_names(step.columns[0]) if c in table.columns]
    if step.outputs and own:
        named = _named(step, spec, table[own]).columns
        table = table.rename(columns=dict(zip(own, named, strict=True)))
        # overwrite=True: the output replaces the column of that name
        table = table.loc[:, ~table.columns.duplicated(keep="last")]
    return table


def _is_list_column(series: pd.Series) -> bool:
    first = series.dropna().head(1)
    return len(first) > 0 and isinstance(first.iloc[0], list | tuple | np.ndarray)


class StepRunner:
    """Runs the steps of one plan into ``run``, keeping what each produced.

    ``chat`` is the run's chat model: passed to every chat-model call whose argument the line
    does not set (``%%mine --model``), so the run never changes the kernel's settings.
    """

    def __init__(
        self,
        run: MineRun,
        *,
        cache: bool,
        progress: bool,
        backend: Any,
        chat: str | None = None,
    ) -> None:
        self.run, self.cache, self.progress, self.backend = run, cache, progress, backend
        self.chat = chat
        self.made: list[str] = []  # columns the plan made so far (predict learns from them too)

    def step(self, step: Step) -> tuple[pd.DataFrame, str]:
        """The columns ``step`` adds (replaced ones included) and a note."""
        function = function_of(step.verb)
        options = {k: v for k, v in step.options.items() if k != OVERWRITE} | _engine_options(
            function, cache=self.cache, progress=self.progress, backend=self.backend
        )
        mining = {"predict": self._predict, "explain": self._explain, "finetune": self._finetune}
        if step.verb in mining:
            return mining[step.verb](step, options)
        return self._operation(step, SPECS[step.verb], options)

    def _operation(
        self, step: Step, spec: OpSpec, options: dict[str, Any]
    ) -> tuple[pd.DataFrame, str]:
        frame = self.run.frame
        options |= self._chat_models(step, spec, options)
        for argument in spec.frame_arguments:  # by product: the column itself
            if argument in options:
                options[argument] = columns_of(frame, options[argument])
        if isinstance(options.get(_RIGHT), str | Path):
            options[_RIGHT] = read_table(Path(options[_RIGHT]))
        inputs: tuple[Any, ...] = (frame[step.columns[0]],)
        if spec.input == "frame" and spec.column_argument is not None:
            inputs = (frame,)
            options[spec.column_argument] = step.columns[0]
        elif spec.input == "frame":
            inputs = (frame, list(step.columns))
        if spec.argument is not None and (step.arguments or spec.plan_argument != "quoted"):
            argument = _argument(step, spec, options)
            if spec.column_argument is None:
                inputs += (argument,)
            else:  # the frame's op takes its other arguments by name (join's right, condition)
                options[spec.argument] = argument
        result = OPERATIONS[spec.name](*inputs, **options)
        self.run.outputs[step.line] = result
        note = _note(spec, result)
        if spec.output_kind == "frame":
            return _table(step, spec, frame, result), note
        made = spec.to_frame(result) if spec.to_frame is not None else result
        if isinstance(made, pd.Series):
            made = made.to_frame()
        return _named(step, spec, made), note

    def _chat_models(self, step: Step, spec: OpSpec, options: dict[str, Any]) -> dict[str, str]:
        """The run's chat model for each chat call of the step the line names no model for."""
        if self.chat is None:
            return {}
        calls = spec.calls(defaults_of(spec.name) | options)
        return {
            use.argument: self.chat
            for use in calls
            if use.role == "chat" and use.argument not in step.options
        }

    def _explain(self, step: Step, options: dict[str, Any]) -> tuple[pd.DataFrame, str]:
        if self.run.result is None:
            msg = f"line {step.line}: explain needs a predict step before it."
            raise InvalidArgumentError(msg)
        # The result explains with the chat model its predict step was given (the run's).
        self.run.narrative = self.run.result.explain(**options)
        frame = self.run.frame
        return pd.DataFrame(index=frame.index), f"narrative by the {self.run.narrative.source}"

    def _finetune(self, step: Step, options: dict[str, Any]) -> tuple[pd.DataFrame, str]:
        frame = self.run.frame
        text, label = step.columns
        name = step.outputs[0] if step.outputs else None
        tuned = ops.finetune(frame, text, label, name=name, **options)
        self.run.finetuned[tuned.name] = tuned
        return pd.DataFrame(index=frame.index), f"registered as model {tuned.name!r}"

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
        if self.chat is not None and "chat_model" not in step.options:
            options["chat_model"] = self.chat
        result = mine(frame[[*inputs, target]], target, text=text, **options)
        self.run.result = result
        predicted = result.predict(frame).rename((step.outputs or default_outputs(step))[0])
        note = (
            f"trained on {len(result.splits.train)} rows, tested on {len(result.splits.test)}; "
            f"test {result.metric} {result.metrics[result.metric]:.3f}"
        )
        if len(result.unlabelled):
            note += f"; {len(result.unlabelled)} rows without a {target!r}: predicted"
        if skipped:
            note += f"; list columns left out: {', '.join(skipped)}"
        return predicted.to_frame(), note


def add_columns(run: MineRun, added: pd.DataFrame, step: Step) -> None:
    """Put a step's columns into the frame: replaced ones in place, new ones at the end; the
    result of a step whose op returns a new table (``replaces_frame``) replaces the frame.

    ``check_plan`` refused the names it could foresee; the ones only the run knows (``p_LABEL``,
    ``vec_0`` ...) are refused here, before the frame changes.
    """
    if replaces_frame(step):
        run.frame = added
        return
    for report in run.steps:
        check_replaced(step, added.columns, report.outputs, f"made by line {report.line}")
    check_replaced(step, added.columns, run.frame.columns, "of the frame")
    new = [c for c in added.columns if c not in run.frame.columns]
    for name in added.columns.difference(new, sort=False):
        run.frame[name] = added[name]
    if new:
        run.frame = pd.concat([run.frame, added[new]], axis=1)


def sample_rows(frame: pd.DataFrame, sample: int | None, seed: int) -> pd.DataFrame:
    """``sample`` rows of ``frame`` drawn with ``seed``, in their order (all when ``None``)."""
    if sample is None or sample >= len(frame):
        return frame
    if sample < 1:
        msg = f"sample must be a positive number of rows, not {sample!r}."
        raise InvalidArgumentError(msg)
    positions = np.sort(np.random.default_rng(seed).choice(len(frame), sample, replace=False))
    return frame.iloc[positions]


def _note(spec: OpSpec, result: Any) -> str:
    """The step's note: the op's own, then what the cascade did where one answered."""
    note = spec.note(result) if spec.note is not None else ""
    attrs = getattr(result, "attrs", {}).get("llm_magics", {})
    routed = attrs.get("cascade")
    if routed is not None:
        note = "; ".join(filter(None, [note, CascadeReport(**routed).summary()]))
    for field, report in attrs.get("cascades", {}).items():  # extract's fields
        note = "; ".join(filter(None, [note, f"{field}: {CascadeReport(**report).summary()}"]))
    return note
