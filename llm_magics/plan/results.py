"""What a plan run gives back: ``MineRun`` (the enriched frame and a ``StepReport`` per step) and
``PlanEstimate`` (a dry run's models and time).

These objects hold data and show it (``repr``, ``_repr_html_`` through ``llm_magics.plan.views``,
``MineRun.charts()`` through ``llm_magics.plots``); running and estimating live in
``llm_magics.plan.runner`` and ``llm_magics.plan.estimate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from llm_magics import ops
from llm_magics.learning.quality import quality_text
from llm_magics.mining import MiningResult
from llm_magics.mining.narrative import Narrative
from llm_magics.ops.base import SPECS
from llm_magics.plan.parse import Plan
from llm_magics.units import format_seconds

__all__ = ["MineRun", "PlanEstimate", "StepReport"]


@dataclass
class StepReport:
    """What one step did: ``rows`` in the frame after it, of ``input_rows`` it read (they differ
    for a step whose result replaces the frame: ``aggregate``, ``top_k``, ``join``); of the rows
    with text, ``computed`` by a model and ``cached`` from the result cache."""

    line: int
    step: str
    outputs: list[str]
    seconds: float
    rows: int
    input_rows: int = 0
    computed: int = 0
    cached: int = 0
    models: list[str] = field(default_factory=list)
    note: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python values."""
        return dict(self.__dict__)


@dataclass
class MineRun:
    """The outcome of a plan: the enriched frame, what each step did, and the mining results.

    Attributes
    ----------
    frame
        The input rows (sampled, if asked) with every step's columns; a ``clean`` step replaces
        its column, and a step whose result is a new table (``aggregate``: one row per group,
        ``top_k``: the chosen rows, ``join``: the matching pairs) replaces the frame itself, so
        the steps after it add their columns to that table.
    steps
        One ``StepReport`` per step that ran, in order.
    outputs
        What each operation step returned, by the step's line (a ``TopicModel`` for ``topics``,
        the Series or DataFrame of the others, before its columns were named).
    result, narrative
        The last ``predict`` step's ``MiningResult`` and the last ``explain``'s ``Narrative``.
    finetuned
        Each ``finetune`` step's model, by name.
    completed, error
        ``False`` and the error's text when a step failed or was interrupted: ``frame`` then
        holds the steps that finished, and running the plan again resumes from the cache.
    """

    plan: Plan
    frame: pd.DataFrame
    steps: list[StepReport] = field(default_factory=list)
    outputs: dict[int, Any] = field(default_factory=dict)
    result: MiningResult | None = None
    narrative: Narrative | None = None
    finetuned: dict[str, ops.FineTuned] = field(default_factory=dict)
    completed: bool = False
    error: str | None = None
    input_rows: int = 0

    @property
    def topics(self) -> dict[str, ops.TopicModel]:
        """The ``TopicModel`` of each ``topics`` step, by its text column."""
        return {
            step.columns[0]: self.outputs[step.line]
            for step in self.plan.steps
            if isinstance(self.outputs.get(step.line), ops.TopicModel)
        }

    @property
    def new_columns(self) -> list[str]:
        """The columns the steps made or replaced, in the order they were made."""
        seen: dict[str, None] = {}
        for report in self.steps:
            seen.update(dict.fromkeys(c for c in report.outputs if c in self.frame.columns))
        return list(seen)

    @property
    def shown_columns(self) -> list[str]:
        """The columns a view shows first: the new ones, or the whole table once a step made a
        new one (``aggregate``'s group keys beside its answers, ``top_k``'s rows, ``join``'s
        pairs): without them a user could not tell which answer is which group's."""
        from llm_magics.ops.base import SPECS

        made_table = any(
            getattr(SPECS.get(s.step.split()[0] if s.step else ""), "output_kind", "") == "frame"
            for s in self.steps
        )
        return list(self.frame.columns) if made_table else self.new_columns

    @property
    def seconds(self) -> float:
        """The time of the steps that ran."""
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

    def qualities(self) -> list[str]:
        """How good each step's result is, where labels said: "line 3 (classify ...): accuracy
        0.72 (95% CI 0.55-0.85) · ..." (an op given labelled examples puts an ``Evaluation``'s
        dict in its result's ``attrs["llm_magics"]["quality"]``; see ``llm_magics.evaluate``)."""
        found = []
        for report in self.steps:
            attrs = getattr(self.outputs.get(report.line), "attrs", None)
            text = quality_text(attrs.get("llm_magics")) if isinstance(attrs, dict) else None
            if text:
                found.append(f"line {report.line} ({report.step}): {text}")
        if self.result is not None and self.result.quality:
            found.append(f"predict {self.result.target}: {self.result.quality_text()}")
        return found

    def charts(self) -> list[Any]:
        """The charts that explain this run: what the text steps made (each op's ``spec.chart``:
        sentiment, keywords, summary lengths, classification confidence), each topic map, then
        the mining result's."""
        found = self._text_charts()
        found += [
            model.plot("map", texts=self.frame.get(column)) for column, model in self.topics.items()
        ]
        if self.result is not None:
            found += self.result.charts()
        return found

    def _text_charts(self) -> list[Any]:
        from llm_magics.plots.text import step_chart

        steps = {step.line: step for step in self.plan.steps}
        charts: list[Any] = []
        for report in self.steps:
            step, made = steps.get(report.line), [c for c in report.outputs if c in self.frame]
            spec = SPECS.get(step.verb) if step is not None else None
            if spec is None or spec.chart is None or not made:
                continue
            source = self.frame.get(step.columns[0]) if step.columns else None
            chart = step_chart(spec.chart, source, self.frame[made])
            if chart is not None:
                charts.append(chart)
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
            "quality": self.qualities(),
            "result": self.result.to_dict() if self.result is not None else None,
            "narrative": self.narrative.text if self.narrative is not None else None,
        }

    def status_line(self) -> str:
        """How many steps ran on how many rows, how long, and whether the run finished."""
        # The rows the plan started on; a step across rows (top_k, aggregate) may change them.
        started = self.steps[0].input_rows if self.steps else len(self.frame)
        sampled = f" (sampled from {self.input_rows})" if self.input_rows > started else ""
        now = f" → {len(self.frame)}" if len(self.frame) != started else ""
        state = "done" if self.completed else f"stopped: {self.error}"
        return (
            f"{len(self.steps)} of {len(self.plan)} steps on {started} rows{sampled}{now} in "
            f"{self.seconds:.1f} s; {state}"
        )

    def __repr__(self) -> str:
        parts = [f"MineRun: {self.status_line()}", self.table().to_string(index=False)]
        if self.qualities():
            parts.append("Quality:\n" + "\n".join(self.qualities()))
        if self.shown_columns:
            parts.append(self.frame[self.shown_columns].head(5).to_string(max_colwidth=40))
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
