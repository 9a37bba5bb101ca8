"""The tuning panel of an operation: try settings on a sample, then run them on the whole column.

``df.llm.tune("summarize", "review")`` (or ``%mine tune summarize reviews.review``) shows the
model, the instruction, the op's parameters and a sample size. "Preview" runs the op on the sample
and shows input → output with the time it took and the rows served from the cache, next to the
previous preview; "Apply to all" runs it on the whole column with a progress bar and puts the
result in the variable named beside it; "Copy code" writes the same call (or ``%%mine`` cell) into
the next cell. Runs happen in a thread, so "Cancel" reaches them (see ``background``).

The panel knows no op by name: everything it offers comes from the op's spec
(``llm_magics.ops.spec.OpSpec``): a control per ``tunable`` setting (drawn by
``llm_magics.widgets.controls``), the instruction box's starting prompt (``tune_prompt``), the
variable it suggests (``result_name``), and the role of the model it offers (``calls``). So an op
that declares tunable settings has a panel with no edit here (``TUNABLE``).

Everything a button does is a method (``preview()``, ``apply()``, ``cancel()``, ``copy_code()``)
and every setting a widget attribute, so the panel can be driven from code and tests.
"""

from __future__ import annotations

import html
import inspect
import string
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from llm_magics.errors import InvalidArgumentError, did_you_mean
from llm_magics.learning.quality import quality_text
from llm_magics.ops.base import (
    OPERATIONS,
    SPECS,
    defaults_of,
    resolve_column,
    text_of,
)
from llm_magics.ops.prompts import get_prompt
from llm_magics.ops.spec import OpSpec
from llm_magics.runtime.manager import ModelManager, get_manager
from llm_magics.units import format_per_row, format_seconds
from llm_magics.widgets.code import call_code, mine_cell, plan_line
from llm_magics.widgets.controls import control, value_of
from llm_magics.widgets.panel import BackgroundPanel
from llm_magics.widgets.shared import find_name, notebook_shell, uncut

__all__ = ["TUNABLE", "Preview", "TunePanel", "tune"]

SAMPLE_SEED = 0
MAX_SAMPLE = 200
SNIPPET = 160
PANEL_ARGUMENTS = ("progress", "cache", "manager")  # the panel sets these on every run


class _Tunable(Mapping[str, OpSpec]):
    """The ops with a tuning panel, by name: those whose spec declares ``tunable`` settings.

    Read from ``llm_magics.ops.base.SPECS`` each time it is asked, so an op registered after this
    module was imported (a test's toy op, a plug-in) has a panel too.
    """

    def __getitem__(self, op: str) -> OpSpec:
        spec = SPECS[op]
        if not spec.tunable:
            raise KeyError(op)
        return spec

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, spec in SPECS.items() if spec.tunable])

    def __len__(self) -> int:
        return sum(1 for spec in SPECS.values() if spec.tunable)

    def __repr__(self) -> str:
        return f"TUNABLE({', '.join(self)})"


TUNABLE: Mapping[str, OpSpec] = _Tunable()
"""The ops ``tune()`` has a panel for, with their specs (a live view of the ops' specs)."""


def _default_model(manager: ModelManager, role: str) -> str:
    """The model a run of the panel uses for ``role`` when its model box is empty."""
    return manager.model_for(role)  # type: ignore[arg-type]


def _fields(template: str) -> set[str]:
    """The ``{field}`` names of a prompt template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Preview:
    """One preview: the settings, the sample's input → output, and what it cost."""

    kwargs: dict[str, Any]
    table: pd.DataFrame
    seconds: float
    cached: int
    computed: int
    models: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """The number of sample rows."""
        return len(self.table)

    def summary(self) -> str:
        """One line: rows, seconds (and per row), rows from the cache, the models used."""
        per_row = self.seconds / max(1, self.rows)
        models = f" · {', '.join(self.models)}" if self.models else ""
        took = f"{self.seconds:.1f} s" if self.seconds < 90 else format_seconds(self.seconds)
        return (
            f"{self.rows} rows in {took} ({format_per_row(per_row)}) · "
            f"{self.cached} from the cache{models}"
        )

    def settings(self) -> str:
        """The preview's arguments as ``name=value, ...`` (``"defaults"`` when none)."""
        shown = {k: v for k, v in self.kwargs.items() if k not in ("progress", "cache")}
        return ", ".join(f"{k}={v!r}" for k, v in shown.items()) or "defaults"

    def to_html(self, title: str) -> str:
        """The preview as an HTML table of input → output under ``title`` and its summary."""

        def cell(value: Any) -> str:
            if isinstance(value, float):
                text = "" if np.isnan(value) else f"{value:.3f}"
            elif isinstance(value, (list, tuple)):
                text = ", ".join(map(str, value))
            else:
                text = "" if value is None else str(value)
            if len(text) > SNIPPET:
                text = text[: SNIPPET - 1] + "…"
            return html.escape(text)

        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.table.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
            for row in self.table.itertuples(index=False)
        )
        return (
            f"<div style='font-size:0.85em'><b>{html.escape(title)}</b>: "
            f"{html.escape(self.summary())}<br><code>{html.escape(self.settings())}</code>"
            f"<table style='border-collapse:collapse'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>"
        )


class TunePanel(BackgroundPanel):
    """A panel that tunes one op on a sample of one text column (see the module docs).

    The op's spec (``llm_magics.ops.spec.OpSpec``) gives everything the panel shows: a control
    per ``tunable`` setting (``llm_magics.widgets.controls``), the instruction box's starting
    prompt (``tune_prompt``), the suggested variable (``result_name``) and the role of the model
    the model box names (``calls``: ``classify`` with ``method="llm"`` uses the chat model).

    Parameters
    ----------
    data
        The DataFrame (with ``column``) or the Series of text.
    op
        One of ``TUNABLE``: summarize, classify, sentiment, extract, filter, keywords (and any op
        whose spec declares tunable settings).
    column
        The text column of ``data`` (``None``: its one text column).
    name
        The variable that holds ``data`` in the generated code (default: found in the notebook's
        variables, else ``df``).
    style
        ``"python"``: "Copy code" writes a ``df.llm`` call; ``"mine"``: a ``%%mine`` cell (and
        "Apply to all" runs that plan, so the variable holds the frame with the new columns).
    sample
        Rows in the preview (picked at random among the rows with text, the same ones each time).
    namespace
        Where "Apply to all" writes (default: the notebook's variables).
    manager
        The model manager runs use (default: this kernel's).
    initial
        Starting values of the op's arguments (``labels=[...]``, ``max_words=15``, ``model=...``);
        arguments the panel has no widget for (``baseline=`` of filter ...) are kept as given.
    """

    def __init__(
        self,
        data: pd.DataFrame | pd.Series,
        op: str,
        column: Any = None,
        *,
        name: str | None = None,
        style: str = "python",
        sample: int = 8,
        namespace: dict[str, Any] | None = None,
        manager: ModelManager | None = None,
        **initial: Any,
    ) -> None:
        if op not in TUNABLE:
            panels = list(TUNABLE)
            msg = (
                f"No tuning panel for {op!r}.{did_you_mean(op, panels)} "
                f"Panels: {', '.join(panels)}."
            )
            raise InvalidArgumentError(msg)
        if style not in ("python", "mine"):
            msg = f"style must be 'python' or 'mine', not {style!r}."
            raise InvalidArgumentError(msg)
        if isinstance(data, pd.Series):
            if style == "mine":
                msg = "A %%mine cell runs over a DataFrame; tune a DataFrame's column for style='mine'."
                raise InvalidArgumentError(msg)
            texts, self.column = data, None
        elif isinstance(data, pd.DataFrame):
            texts = resolve_column(data, column)
            self.column = texts.name
        else:
            msg = f"tune() needs a DataFrame or a Series, not {type(data).__name__}."
            raise InvalidArgumentError(msg)
        self.op, self.spec, self.data, self.texts, self.style = op, TUNABLE[op], data, texts, style
        self.manager = manager or get_manager()
        shell = notebook_shell()
        self.namespace = (
            namespace if namespace is not None else (shell.user_ns if shell is not None else {})
        )
        self.name = name or find_name(
            data, self.namespace, "df" if self.column is not None else "texts"
        )
        accepted = _accepted(op)
        unknown = [k for k in initial if k not in accepted]
        if unknown:
            msg = (
                f"{op}() takes no argument {unknown[0]!r}.{did_you_mean(unknown[0], accepted)} "
                f"Arguments: {', '.join(accepted)}."
            )
            raise InvalidArgumentError(msg)
        shown = {s.name for s in self.spec.tunable} | {"model", "instruction"}
        self.fixed = {k: v for k, v in initial.items() if k not in shown}
        self.defaults = defaults_of(op)
        self.previews: list[Preview] = []
        self.result: Any = None
        self.error: BaseException | None = None
        self._present = np.flatnonzero(
            texts.map(lambda v: text_of(v) is not None).to_numpy(dtype=bool)
        )
        self._order = np.random.default_rng(SAMPLE_SEED).permutation(self._present)
        # The instruction box offers the op's shipped prompt, when the op takes an instruction.
        self._instructed = self.spec.tune_prompt is not None and "instruction" in accepted
        self._build(sample, initial)

    # ----------------------------------------------------------------------------- widgets

    def _build(self, sample: int, initial: dict[str, Any]) -> None:
        w = widgets
        self.params: dict[str, Any] = {
            setting.name: control(
                setting, initial.get(setting.name, self.defaults.get(setting.name))
            )
            for setting in self.spec.tunable
        }
        most = max(1, min(MAX_SAMPLE, len(self._present)))
        self.sample = w.IntSlider(
            value=max(1, min(sample, most)), min=1, max=most, description="sample rows"
        )
        self.model = w.Combobox(
            value=str(initial.get("model") or ""), description="model", ensure_option=False
        )
        self.template = self._template()
        self.prompt = w.Textarea(
            value=initial.get("instruction") or self.template or "",
            description="instruction",
            placeholder=""
            if self._instructed
            else f"{self.op} builds its prompts from the settings below",
            disabled=not self._instructed,
            layout=w.Layout(width="95%", height="4.5em"),
        )
        self.variable = w.Text(
            value=self._default_variable(), description="into", layout=w.Layout(width="16em")
        )
        uncut(self.sample, self.model, self.prompt, self.variable)
        self.preview_button = w.Button(description="Preview", button_style="primary", icon="eye")
        self.apply_button = w.Button(description="Apply to all", icon="play")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.copy_button = w.Button(description="Copy code", icon="copy")
        self._busy = (self.preview_button, self.apply_button)
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(visibility="hidden"))
        self.progress_text = w.HTML()
        self.status = w.HTML()
        self.code_view = w.Textarea(
            value="",
            description="code",
            disabled=False,
            layout=w.Layout(width="95%", height="5em"),
        )
        self.current_view = w.HTML(layout=w.Layout(width="50%"))
        self.previous_view = w.HTML(layout=w.Layout(width="50%"))

        self.preview_button.on_click(lambda _: self.preview())
        self.apply_button.on_click(lambda _: self.apply())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.copy_button.on_click(lambda _: self.copy_code())
        for control_ in [self.model, self.prompt, self.variable, *self.params.values()]:
            control_.observe(self._changed, names="value")
        for setting in self.spec.tunable:
            if setting.kind != "text":  # a method, a switch: they may change the model's role
                self.params[setting.name].observe(self._settings_changed, names="value")
        self._show_role(self._role())
        self._changed()
        self.widget = self._layout()

    def _layout(self) -> widgets.VBox:
        w = widgets
        where = f"{self.name}.{self.column}" if self.column is not None else self.name
        title = w.HTML(
            f"<b>Tune <code>{self.op}</code> on <code>{html.escape(where)}</code></b> "
            f"({len(self._present):,} rows with text)"
        )
        return w.VBox(
            [
                title,
                w.HBox([self.model, self.sample]),
                self.prompt,
                w.GridBox(
                    list(self.params.values()),
                    layout=w.Layout(grid_template_columns="repeat(2, 50%)"),
                ),
                w.HBox(
                    [
                        self.preview_button,
                        self.apply_button,
                        self.variable,
                        self.cancel_button,
                        self.copy_button,
                    ]
                ),
                w.HBox([self.progress, self.progress_text]),
                self.status,
                self.code_view,
                w.HBox([self.current_view, self.previous_view]),
            ]
        )

    def _role(self) -> str | None:
        """The role of the model the model box names, for the current settings (``None``: none)."""
        options = {**self.defaults, **self.fixed}
        for setting in self.spec.tunable:
            if setting.kind != "text":  # text settings are parsed only when a run starts
                options[setting.name] = value_of(setting, self.params[setting.name])
        calls = self.spec.calls(options)
        return next((u.role for u in calls if u.argument == "model"), None)

    def _model_names(self, role: str) -> list[str]:
        loaded = [m["name"] for m in self.manager.status()["models"] if m["role"] == role]
        aliases = [f"default-{role}", *self.manager.config.aliases]
        return list(dict.fromkeys(loaded + aliases))

    def _template(self) -> str | None:
        if not self._instructed:
            return None
        return get_prompt(self.spec.tune_prompt).replace("\n\n{text}", "").replace("{text}", "")

    def _default_variable(self) -> str:
        if self.style == "mine":
            return f"{self.name.replace('.', '_')}_mined"
        stem = str(self.column) if self.column is not None else self.name
        stem = "".join(c if c.isalnum() else "_" for c in stem).strip("_")
        name = f"{stem}_{self.spec.result_name}"
        return name if name.isidentifier() else self.spec.result_name

    def _settings_changed(self, change: Any = None) -> None:
        role = self._role()
        if role != self.role:
            self._show_role(role)

    def _show_role(self, role: str | None) -> None:
        """Offer the models of ``role``; the instruction box is for the chat model's prompt."""
        self.role = role
        self.model.disabled = role is None
        self.model.options = tuple(self._model_names(role)) if role is not None else ()
        self.model.placeholder = (
            f"default: {_default_model(self.manager, role)}" if role is not None else "no model"
        )
        self.prompt.disabled = not (self._instructed and role == "chat")

    # ----------------------------------------------------------------------------- settings

    def kwargs(self) -> dict[str, Any]:
        """The op's arguments the panel stands for (only those not at their default).

        Raises ``InvalidArgumentError`` for a setting that cannot be read (fields of extract).
        """
        values: dict[str, Any] = {}
        for setting in self.spec.tunable:
            value = value_of(setting, self.params[setting.name])
            if setting.required or value != self.defaults.get(setting.name):
                values[setting.name] = value
        values.update(self.fixed)
        instruction = self._instruction(values)
        if instruction is not None:
            values["instruction"] = instruction
        model = self.model.value.strip()
        if model:
            values["model"] = model
        return values

    def _instruction(self, values: dict[str, Any]) -> str | None:
        """The typed instruction with the shipped prompt's fields (``{max_words}``) filled in."""
        text = self.prompt.value.strip()
        if self.prompt.disabled or not text or text == (self.template or "").strip():
            return None
        for name in sorted(_fields(get_prompt(self.spec.tune_prompt)) - {"text"}):
            text = text.replace("{" + name + "}", str(self._shown(name, values)))
        return text

    def _shown(self, name: str, values: dict[str, Any]) -> Any:
        """Argument ``name`` of ``values`` (else its default) as its control shows it."""
        value = values.get(name, self.defaults.get(name))
        settings = {s.name: s for s in self.spec.tunable}
        return settings[name].shown(value) if name in settings else value

    def code(self) -> str:
        """The call (or ``%%mine`` cell) that gives what "Apply to all" gives."""
        kwargs = self.kwargs()
        if self.style == "mine":
            return mine_cell(
                self.name, self.variable.value.strip() or "mined", [self.plan_line(kwargs)]
            )
        target = self.variable.value.strip() or None
        if self.column is None:
            return call_code(target, f"{self.name}.llm.{self.op}", [], kwargs)
        return call_code(target, f"{self.name}.llm.{self.op}", [self.column], kwargs)

    def plan_line(self, kwargs: dict[str, Any] | None = None) -> str:
        """The ``%%mine`` step for these settings.

        The op's required argument goes where its spec's ``plan_argument`` says: quoted after
        the column (``filter``), after ``->`` (``extract``'s fields) or as an option.
        """
        options = dict(self.kwargs() if kwargs is None else kwargs)
        outputs: list[str] = []
        positional = None
        argument, where = self.spec.argument, self.spec.plan_argument
        if argument in options and where in ("outputs", "quoted"):
            text = str(self._shown(argument, {argument: options.pop(argument)}))
            if where == "outputs":
                outputs = [text]
            else:
                positional = text
        return plan_line(
            self.op,
            str(self.texts.name if self.column is None else self.column),
            positional=positional,
            outputs=outputs,
            options=options,
        )

    # ----------------------------------------------------------------------------- actions

    def sample_rows(self) -> pd.Series:
        """The preview's rows: the first ``sample`` of a fixed shuffle of the rows with text."""
        chosen = np.sort(self._order[: self.sample.value])
        return self.texts.iloc[chosen]

    def preview(self, *, wait: bool = False) -> None:
        """Run the op on the sample and show input → output beside the previous preview."""
        try:
            kwargs = self.kwargs()
        except InvalidArgumentError as err:
            self._fail(err)
            return
        rows = self.sample_rows()
        call = self._call(kwargs)

        def work() -> Preview:
            started = time.perf_counter()
            result = call(rows)
            seconds = time.perf_counter() - started
            return _preview(kwargs, rows, result, seconds)

        self._launch(work, self._previewed, f"Previewing {len(rows)} rows…", wait=wait)

    def apply(self, *, wait: bool = False) -> None:
        """Run on the whole column (in the background) and put the result in ``variable``."""
        variable = self.variable.value.strip()
        if not variable.isidentifier():
            self._fail(
                InvalidArgumentError(
                    f"Name the variable to write into (a Python name, not {variable!r})."
                )
            )
            return
        try:
            kwargs = self.kwargs()
        except InvalidArgumentError as err:
            self._fail(err)
            return
        if self.style == "mine":
            from llm_magics.plan import parse_plan
            from llm_magics.plan.runner import mine_plan

            plan = parse_plan(self.plan_line(kwargs))

            def work() -> Any:
                return mine_plan(self.data, plan, progress=False, manager=self.manager).frame

        else:
            call = self._call(kwargs)

            def work() -> Any:
                return call(self.texts)

        def done(result: Any) -> None:
            self.result = result
            self.namespace[variable] = result
            self.status.value = f"Wrote <code>{html.escape(variable)}</code>: {_described(result)}."

        self._launch(work, done, f"Running on all {len(self.texts):,} rows…", wait=wait)

    # ----------------------------------------------------------------------------- plumbing

    def _call(self, kwargs: dict[str, Any]) -> Any:
        """The op with ``kwargs`` and the model named: the box's, else its role's default.

        The model is decided here, before the run's thread starts, and passed down as
        ``model=``: a change of the kernel's default model during the run does not reach it.
        """
        arguments = dict(kwargs)
        if self.role is not None:
            arguments.setdefault("model", _default_model(self.manager, self.role))
        op = OPERATIONS[self.op]
        return lambda texts: op(texts, **arguments, progress=False, manager=self.manager)

    def _previewed(self, preview: Preview) -> None:
        if self.previews:
            self.previous_view.value = self.previews[-1].to_html("Previous")
        self.previews.append(preview)
        self.current_view.value = preview.to_html("This preview")
        self.status.value = html.escape(preview.summary())


def _accepted(op: str) -> list[str]:
    """The arguments a panel for ``op`` may start from: the op's, but the text and the panel's own."""
    names = list(inspect.signature(OPERATIONS[op]).parameters)[1:]
    return [name for name in names if name not in PANEL_ARGUMENTS]


def _preview(kwargs: dict[str, Any], rows: pd.Series, result: Any, seconds: float) -> Preview:
    outputs = result.to_frame() if isinstance(result, pd.Series) else result
    shown = [c for c in outputs.columns if not str(c).startswith("p_")]
    table = pd.concat([rows.rename("input"), outputs[shown]], axis=1)
    table.index = rows.index
    record = result.attrs.get("llm_magics", {})
    return Preview(
        kwargs=dict(kwargs),
        table=table,
        seconds=seconds,
        cached=int(record.get("rows_from_cache", 0)),
        computed=int(record.get("rows_computed", 0)),
        models=list(record.get("models", [])),
    )


def _described(result: Any) -> str:
    quality = quality_text(getattr(result, "attrs", {}).get("llm_magics"))
    if isinstance(result, pd.DataFrame):
        found = f"{len(result):,} rows × {len(result.columns)} columns"
    elif isinstance(result, pd.Series):
        found = f"{len(result):,} rows, {int(result.notna().sum()):,} with a value"
    else:
        return type(result).__name__
    return f"{found}; {html.escape(quality)}" if quality else found


def tune(data: pd.DataFrame | pd.Series, op: str, column: Any = None, **kwargs: Any) -> TunePanel:
    """A tuning panel for ``op`` on ``column`` of ``data`` (see ``TunePanel``).

    Examples
    --------
    >>> panel = tune(reviews, "summarize", "review", max_words=15)      # doctest: +SKIP
    >>> panel.preview(wait=True); panel.previews[-1].table               # doctest: +SKIP
    """
    return TunePanel(data, op, column, **kwargs)
