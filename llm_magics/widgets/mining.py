"""The tuning panel of a mining result: other candidates, metric, folds or budget, and run again.

``result.tune(frame)`` starts from the settings that made ``result``; "Run" calls ``mine`` again
with the panel's (in a thread, so "Cancel" reaches it: the language-model features' engine jobs
stop at their next batch, cross-validation at its next fold) and redraws the leaderboard chart.
The text features come from the result cache after the first run, so a re-run costs the model
fitting only. "Copy code" writes the ``mine`` call into the next cell.
"""

from __future__ import annotations

import html
import inspect
from typing import Any

import ipywidgets as widgets
import pandas as pd

from llm_magics.errors import InvalidArgumentError
from llm_magics.mining import MiningResult, candidate_names, mine
from llm_magics.mining.metrics import CLASSIFICATION, DEFAULT_METRIC, REGRESSION
from llm_magics.runtime.manager import ModelManager, get_manager
from llm_magics.units import format_seconds
from llm_magics.widgets.code import call_code
from llm_magics.widgets.panel import BackgroundPanel
from llm_magics.widgets.shared import find_name, notebook_shell, uncut

__all__ = ["MiningTunePanel"]

_REPEATED = ("target", "text", "task")  # always written out: the call must mean the same thing


def _budget_value(text: str) -> int | str:
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text.lower().endswith("s") and text[:-1].replace(".", "", 1).isdigit():
        return text
    msg = f"The budget is a number of trials (20) or of seconds (60s), not {text!r}."
    raise InvalidArgumentError(msg)


class MiningTunePanel(BackgroundPanel):
    """Re-run model selection for ``result`` on ``frame`` with other settings (see module docs).

    Parameters
    ----------
    result
        A ``MiningResult`` from ``mine`` / ``df.llm.mine``.
    frame
        The DataFrame it was mined from.
    name
        The variable that holds ``frame`` in the generated code (default: found in the notebook's
        variables, else ``df``).
    namespace
        Where "Run" writes the new result (default: the notebook's variables).
    """

    def __init__(
        self,
        result: MiningResult,
        frame: pd.DataFrame,
        *,
        name: str | None = None,
        namespace: dict[str, Any] | None = None,
        manager: ModelManager | None = None,
    ) -> None:
        if not isinstance(frame, pd.DataFrame):
            msg = (
                f"tune() needs the DataFrame the result was mined from, not {type(frame).__name__}."
            )
            raise InvalidArgumentError(msg)
        if result.target not in frame.columns:
            msg = f"This frame has no column {result.target!r}: pass the frame the result was mined from."
            raise InvalidArgumentError(msg)
        self.frame, self.first = frame, result
        self.result: MiningResult = result
        self.results: list[MiningResult] = [result]
        self.error: BaseException | None = None
        self.manager = manager or get_manager()
        shell = notebook_shell()
        self.namespace = (
            namespace if namespace is not None else (shell.user_ns if shell is not None else {})
        )
        self.name = name or find_name(frame, self.namespace, "df")
        self.settings = dict(result.settings)
        self._defaults = {
            k: p.default
            for k, p in inspect.signature(mine).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        self._build(find_name(result, self.namespace, "result"))

    def _build(self, variable: str) -> None:
        w = widgets
        names = candidate_names(self.result.task)
        chosen = self.settings.get("candidates") or names
        self.candidates = w.SelectMultiple(
            options=names, value=tuple(chosen), description="candidates", rows=len(names)
        )
        metrics = CLASSIFICATION if self.result.task == "classification" else REGRESSION
        self.metric = w.Dropdown(options=metrics, value=self.result.metric, description="metric")
        self.folds = w.IntSlider(
            value=int(self.settings.get("folds", 5)), min=2, max=10, description="CV folds"
        )
        self.budget = w.Text(
            value=str(self.settings.get("budget", 20)),
            description="budget",
            placeholder="trials (20) or seconds (60s)",
        )
        self.variable = w.Text(value=variable, description="into", layout=w.Layout(width="16em"))
        uncut(self.candidates, self.metric, self.folds, self.budget, self.variable)
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.copy_button = w.Button(description="Copy code", icon="copy")
        self._busy = (self.run_button,)
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(visibility="hidden"))
        self.progress_text = w.HTML()
        self.status = w.HTML()
        self.code_view = w.Textarea(
            value=self.code(), description="code", layout=w.Layout(width="95%", height="6em")
        )
        self.chart = w.Output()
        self.board = w.HTML()

        self.run_button.on_click(lambda _: self.run())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.copy_button.on_click(lambda _: self.copy_code())
        for control in (self.candidates, self.metric, self.folds, self.budget, self.variable):
            control.observe(self._changed, names="value")
        self.widget = w.VBox(
            [
                w.HTML(
                    f"<b>Tune the model selection for <code>{html.escape(self.result.target)}</code>"
                    f"</b> ({self.result.task}, {len(self.frame):,} rows)"
                ),
                w.HBox([self.candidates, w.VBox([self.metric, self.folds, self.budget])]),
                w.HBox([self.run_button, self.variable, self.cancel_button, self.copy_button]),
                w.HBox([self.progress, self.progress_text]),
                self.status,
                self.code_view,
                self.chart,
                self.board,
            ]
        )
        self._show(self.result)

    # ----------------------------------------------------------------------------- settings

    def kwargs(self) -> dict[str, Any]:
        """The arguments of ``mine`` after the target: the result's, with the panel's changes."""
        chosen = list(self.candidates.value)
        if not chosen:
            msg = "Pick at least one candidate model (the baseline always runs as well)."
            raise InvalidArgumentError(msg)
        values = {
            **{k: v for k, v in self.settings.items() if k != "target"},
            "metric": None
            if self.metric.value == DEFAULT_METRIC[self.result.task]
            else self.metric.value,
            "folds": self.folds.value,
            "budget": _budget_value(self.budget.value),
            "candidates": None if set(chosen) == set(candidate_names(self.result.task)) else chosen,
        }
        return {
            k: v
            for k, v in values.items()
            if k in _REPEATED or (k in self._defaults and _differs(v, self._defaults[k]))
        }

    def code(self) -> str:
        """The ``mine`` call that "Run" makes."""
        target = self.variable.value.strip() or None
        return call_code(target, f"{self.name}.llm.mine", [self.settings["target"]], self.kwargs())

    # ----------------------------------------------------------------------------- actions

    def run(self, *, wait: bool = False) -> None:
        """Mine again with the panel's settings (in the background) and redraw the leaderboard."""
        variable = self.variable.value.strip()
        try:
            if not variable.isidentifier():
                msg = f"Name the variable to write into (a Python name, not {variable!r})."
                raise InvalidArgumentError(msg)
            kwargs = self.kwargs()
        except InvalidArgumentError as err:
            self._fail(err)
            return
        target = self.settings["target"]

        def work() -> MiningResult:
            return mine(self.frame, target, **{**kwargs, "progress": False})

        def done(result: MiningResult) -> None:
            self.result = result
            self.results.append(result)
            self.namespace[variable] = result
            self._show(result)
            best = result.metrics.get(result.metric, float("nan"))
            self.status.value = html.escape(
                f"Wrote {variable}: best {result.best_name}, {result.metric} {best:.3f} on the "
                f"test rows, in {format_seconds(result.seconds)}."
            )

        self._launch(work, done, "Mining…", wait=wait)

    # ----------------------------------------------------------------------------- plumbing

    def _show(self, result: MiningResult) -> None:
        self.leaderboard_chart = result.plot("leaderboard")
        self.chart.outputs = ()  # clear_output() goes through the frontend; this is the state
        self.chart.append_display_data(self.leaderboard_chart)
        board = result.leaderboard[
            ["model", f"{result.metric}_mean", f"{result.metric}_std", "tuned"]
        ]
        self.board.value = (
            f"<div style='font-size:0.85em'>{board.to_html(index=False, border=0, float_format=lambda v: f'{v:.3f}')}"
            "</div>"
        )


def _differs(value: Any, default: Any) -> bool:
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) != list(default)
    return bool(value != default)
