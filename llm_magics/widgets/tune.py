"""The tuning panel of an operation: try settings on a sample, then run them on the whole column.

``df.llm.tune("summarize", "review")`` (or ``%mine tune summarize reviews.review``) shows the
model, the instruction, the op's parameters and a sample size. "Preview" runs the op on the sample
and shows input → output with the time it took and the rows served from the cache, next to the
previous preview; "Apply to all" runs it on the whole column with a progress bar and puts the
result in the variable named beside it; "Copy code" writes the same call (or ``%%mine`` cell) into
the next cell. Runs happen in a thread, so "Cancel" reaches them (see ``background``).

Everything a button does is a method (``preview()``, ``apply()``, ``cancel()``, ``copy_code()``)
and every setting a widget attribute, so the panel can be driven from code and tests.
"""

from __future__ import annotations

import html
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from llm_magics import ops
from llm_magics.errors import (
    InvalidArgumentError,
    did_you_mean,
)
from llm_magics.ops.base import resolve_column, text_of
from llm_magics.ops.prompts import get_prompt
from llm_magics.runtime.manager import ModelManager, get_manager
from llm_magics.widgets.code import call_code, mine_cell, plan_line
from llm_magics.widgets.panel import BackgroundPanel
from llm_magics.widgets.shared import (
    find_name,
    notebook_shell,
)

__all__ = ["TUNABLE", "Preview", "TunePanel", "tune"]

SAMPLE_SEED = 0
MAX_SAMPLE = 200
SNIPPET = 160


@dataclass(frozen=True)
class Param:
    """One of the op's arguments as a widget: how to build it and how to read its value."""

    name: str
    make: Callable[[Any], Any]  # initial argument value → widget
    read: Callable[[Any], Any] = lambda value: value  # widget value → argument value
    show: Callable[[Any], Any] = lambda value: value  # argument value → widget value
    required: bool = False


@dataclass(frozen=True)
class OpSpec:
    """What the panel offers for one op."""

    params: tuple[Param, ...]
    prompt: str | None = None  # the shipped prompt the instruction box starts from
    chat_methods: tuple[str, ...] = ("llm",)  # values of ``method`` that use the chat model
    role: str = "chat"  # the model's role when the op has no ``method``


def _int(description: str, low: int, high: int, step: int = 1) -> Callable[[Any], Any]:
    return lambda value: widgets.IntSlider(
        value=value, min=low, max=high, step=step, description=description
    )


def _float(description: str, low: float, high: float, step: float) -> Callable[[Any], Any]:
    return lambda value: widgets.FloatSlider(
        value=value, min=low, max=high, step=step, description=description
    )


def _check(description: str) -> Callable[[Any], Any]:
    return lambda value: widgets.Checkbox(value=bool(value), description=description)


def _choice(description: str, options: tuple[str, ...]) -> Callable[[Any], Any]:
    return lambda value: widgets.Dropdown(value=value, options=options, description=description)


def _text(description: str, placeholder: str) -> Callable[[Any], Any]:
    return lambda value: widgets.Text(value=value, placeholder=placeholder, description=description)


def _labels(value: str) -> list[str]:
    labels = [part.strip() for part in value.split(",") if part.strip()]
    if not labels:
        msg = "Type the labels, separated by commas: taste, price, shipping."
        raise InvalidArgumentError(msg)
    return labels


def _condition(value: str) -> str:
    if not value.strip():
        msg = "Describe the rows to keep: mentions late delivery, is a complaint ..."
        raise InvalidArgumentError(msg)
    return value.strip()


def _schema(value: str) -> dict[str, Any]:
    """``product, price:float, problem:[late, none]`` (the plan's output syntax) as a schema."""
    from llm_magics.plan import PlanSyntaxError, parse_plan
    from llm_magics.plan.verbs import output_schema

    if not value.strip():
        msg = (
            "Name the fields to extract, e.g. product, price:float, problem:[late, damaged, none]."
        )
        raise InvalidArgumentError(msg)
    try:
        return output_schema(parse_plan(f"extract text -> {value}").steps[0])
    except PlanSyntaxError as err:
        msg = f"Cannot read the fields {value!r}: {err.args[0]}"
        raise InvalidArgumentError(msg) from None


def _schema_text(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    parts = []
    for name, kind in (schema or {}).items():
        if isinstance(kind, (list, tuple)):
            parts.append(f"{name}:[{', '.join(map(str, kind))}]")
        else:
            kind = getattr(kind, "__name__", kind)
            parts.append(name if kind == "str" else f"{name}:{kind}")
    return ", ".join(parts)


def _labels_text(labels: Any) -> str:
    return labels if isinstance(labels, str) else ", ".join(map(str, labels or []))


_METHODS = ("embed", "llm")

TUNABLE: dict[str, OpSpec] = {
    "summarize": OpSpec(
        prompt="summarize",
        params=(
            Param("max_words", _int("max words", 3, 100)),
            Param(
                "max_new_tokens",
                lambda value: widgets.BoundedIntText(
                    value=value, min=0, max=4096, description="max tokens"
                ),
                read=lambda value: value or None,
                show=lambda value: value or 0,
            ),
            Param("temperature", _float("temperature", 0.0, 2.0, 0.05)),
            Param("top_p", _float("top p", 0.05, 1.0, 0.05)),
        ),
    ),
    "classify": OpSpec(
        prompt="classify_question",
        params=(
            Param(
                "labels",
                _text("labels", "taste, price, shipping"),
                read=_labels,
                show=_labels_text,
                required=True,
            ),
            Param("method", _choice("method", _METHODS)),
            Param("multi_label", _check("several labels per row")),
        ),
    ),
    "sentiment": OpSpec(prompt="sentiment", params=(Param("calibrate", _check("calibrate")),)),
    "extract": OpSpec(
        params=(
            Param(
                "schema",
                _text("fields", "product, price:float, problem:[late, damaged, none]"),
                read=_schema,
                show=_schema_text,
                required=True,
            ),
            Param("max_words", _int("max words", 1, 30)),
            Param("calibrate", _check("calibrate")),
        ),
    ),
    "filter": OpSpec(
        params=(
            Param(
                "condition",
                _text("condition", "mentions late delivery"),
                read=_condition,
                required=True,
            ),
            Param("method", _choice("method", _METHODS)),
            Param("threshold", _float("threshold", 0.0, 1.0, 0.05)),
        ),
    ),
    "keywords": OpSpec(
        role="embed",
        params=(
            Param("top", _int("keywords", 1, 20)),
            Param("diversity", _float("diversity", 0.0, 1.0, 0.05)),
        ),
    ),
}
"""The ops the panel tunes, with the parameters it shows (the others keep their defaults)."""


_RESULT_NAMES = {
    "summarize": "summary",
    "classify": "labels",
    "sentiment": "sentiment",
    "extract": "fields",
    "filter": "match",
    "keywords": "keywords",
}


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
        return len(self.table)

    def summary(self) -> str:
        per_row = self.seconds / max(1, self.rows)
        models = f" · {', '.join(self.models)}" if self.models else ""
        return (
            f"{self.rows} rows in {self.seconds:.2f} s ({per_row * 1000:.0f} ms a row) · "
            f"{self.cached} from the cache{models}"
        )

    def settings(self) -> str:
        shown = {k: v for k, v in self.kwargs.items() if k not in ("progress", "cache")}
        return ", ".join(f"{k}={v!r}" for k, v in shown.items()) or "defaults"

    def to_html(self, title: str) -> str:
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


def _signature_defaults(op: str) -> dict[str, Any]:
    parameters = inspect.signature(getattr(ops, op)).parameters
    return {
        name: p.default
        for name, p in parameters.items()
        if p.default is not inspect.Parameter.empty
    }


class TunePanel(BackgroundPanel):
    """A panel that tunes one op on a sample of one text column (see the module docs).

    Parameters
    ----------
    data
        The DataFrame (with ``column``) or the Series of text.
    op
        One of ``TUNABLE``: summarize, classify, sentiment, extract, filter, keywords.
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
            msg = (
                f"No tuning panel for {op!r}.{did_you_mean(op, TUNABLE)} "
                f"Panels: {', '.join(TUNABLE)}."
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
        accepted = [
            name
            for name in inspect.signature(getattr(ops, op)).parameters
            if name not in ("texts", "progress", "cache", "manager")
        ]
        unknown = [k for k in initial if k not in accepted]
        if unknown:
            msg = (
                f"{op}() takes no argument {unknown[0]!r}.{did_you_mean(unknown[0], accepted)} "
                f"Arguments: {', '.join(accepted)}."
            )
            raise InvalidArgumentError(msg)
        shown = {p.name for p in TUNABLE[op].params} | {"model", "instruction"}
        self.fixed = {k: v for k, v in initial.items() if k not in shown}
        self.defaults = _signature_defaults(op)
        self.previews: list[Preview] = []
        self.result: Any = None
        self.error: BaseException | None = None
        self._present = np.flatnonzero(
            texts.map(lambda v: text_of(v) is not None).to_numpy(dtype=bool)
        )
        self._order = np.random.default_rng(SAMPLE_SEED).permutation(self._present)
        self._build(sample, initial)

    # ----------------------------------------------------------------------------- widgets

    def _build(self, sample: int, initial: dict[str, Any]) -> None:
        w = widgets
        self.params: dict[str, Any] = {}
        for param in self.spec.params:
            value = initial.get(param.name, self.defaults.get(param.name))
            if param.name == "labels" and value is None:
                value = ""
            if param.name in ("schema", "condition") and value is None:
                value = ""
            self.params[param.name] = param.make(param.show(value))
        most = max(1, min(MAX_SAMPLE, len(self._present)))
        self.sample = w.IntSlider(
            value=max(1, min(sample, most)), min=1, max=most, description="sample rows"
        )
        self.model = w.Combobox(
            value=str(initial.get("model") or ""),
            options=self._model_names(),
            placeholder=f"default: {self._default_model()}",
            description="model",
            ensure_option=False,
        )
        self.template = self._template()
        self.prompt = w.Textarea(
            value=initial.get("instruction") or self.template or "",
            description="instruction",
            placeholder=""
            if self.spec.prompt
            else f"{self.op} builds its prompts from the settings below",
            disabled=self.spec.prompt is None,
            layout=w.Layout(width="95%", height="4.5em"),
        )
        self.variable = w.Text(
            value=self._default_variable(), description="into", layout=w.Layout(width="16em")
        )
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
        for control in [self.model, self.prompt, self.variable, *self.params.values()]:
            control.observe(self._changed, names="value")
        for name in ("method", "multi_label"):
            if name in self.params:
                self.params[name].observe(self._method_changed, names="value")
        self._method_changed()
        self._changed()

        where = f"{self.name}.{self.column}" if self.column is not None else self.name
        title = w.HTML(
            f"<b>Tune <code>{self.op}</code> on <code>{html.escape(where)}</code></b> "
            f"({len(self._present):,} rows with text)"
        )
        self.widget = w.VBox(
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

    def _role(self) -> str:
        method = self.params.get("method")
        if method is None:
            return self.spec.role
        return "chat" if method.value in self.spec.chat_methods else "embed"

    def _default_model(self) -> str:
        config = self.manager.config
        return config.default_chat_model if self._role() == "chat" else config.default_embed_model

    def _model_names(self) -> list[str]:
        role = self._role()
        loaded = [m["name"] for m in self.manager.status()["models"] if m["role"] == role]
        aliases = [f"default-{role}", *self.manager.config.aliases]
        return list(dict.fromkeys(loaded + aliases))

    def _template(self) -> str | None:
        if self.spec.prompt is None:
            return None
        return get_prompt(self.spec.prompt).replace("\n\n{text}", "").replace("{text}", "")

    def _default_variable(self) -> str:
        if self.style == "mine":
            return f"{self.name.replace('.', '_')}_mined"
        stem = str(self.column) if self.column is not None else self.name
        stem = "".join(c if c.isalnum() else "_" for c in stem).strip("_")
        name = f"{stem}_{_RESULT_NAMES[self.op]}"
        return name if name.isidentifier() else _RESULT_NAMES[self.op]

    def _method_changed(self, change: Any = None) -> None:
        self.model.options = tuple(self._model_names())
        self.model.placeholder = f"default: {self._default_model()}"
        if self.op == "classify":
            self.prompt.disabled = (
                self.params["method"].value != "llm" or self.params["multi_label"].value
            )

    # ----------------------------------------------------------------------------- settings

    def kwargs(self) -> dict[str, Any]:
        """The op's arguments the panel stands for (only those not at their default).

        Raises ``InvalidArgumentError`` for a setting that cannot be read (fields of extract).
        """
        values: dict[str, Any] = {}
        for param in self.spec.params:
            value = param.read(self.params[param.name].value)
            if param.required or value != self.defaults.get(param.name):
                values[param.name] = value
        values.update(self.fixed)
        instruction = self._instruction(values)
        if instruction is not None:
            values["instruction"] = instruction
        model = self.model.value.strip()
        if model:
            values["model"] = model
        return values

    def _instruction(self, values: dict[str, Any]) -> str | None:
        text = self.prompt.value.strip()
        if self.prompt.disabled or not text or text == (self.template or "").strip():
            return None
        fields = {
            "max_words": values.get("max_words", self.defaults.get("max_words")),
            "labels": ", ".join(values.get("labels", [])),
        }
        for key, value in fields.items():
            text = text.replace("{" + key + "}", str(value))
        return text

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
        """The ``%%mine`` step for these settings."""
        options = dict(self.kwargs() if kwargs is None else kwargs)
        outputs: list[str] = []
        positional = None
        if self.op == "extract":
            outputs = [part.strip() for part in _split_fields(self.params["schema"].value)]
            options.pop("schema")
        if self.op == "filter":
            positional = options.pop("condition")
        return plan_line(
            self.op, str(self.column), positional=positional, outputs=outputs, options=options
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

        def work() -> Preview:
            started = time.perf_counter()
            result = getattr(ops, self.op)(rows, **kwargs, progress=False, manager=self.manager)
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

            def work() -> Any:
                return getattr(ops, self.op)(
                    self.texts, **kwargs, progress=False, manager=self.manager
                )

        def done(result: Any) -> None:
            self.result = result
            self.namespace[variable] = result
            self.status.value = f"Wrote <code>{html.escape(variable)}</code>: {_described(result)}."

        self._launch(work, done, f"Running on all {len(self.texts):,} rows…", wait=wait)

    # ----------------------------------------------------------------------------- plumbing

    def _previewed(self, preview: Preview) -> None:
        if self.previews:
            self.previous_view.value = self.previews[-1].to_html("Previous")
        self.previews.append(preview)
        self.current_view.value = preview.to_html("This preview")
        self.status.value = html.escape(preview.summary())


def _split_fields(text: str) -> list[str]:
    """``a, b:[x, y], c`` → ``["a", "b:[x, y]", "c"]`` (commas inside brackets stay)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


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
    if isinstance(result, pd.DataFrame):
        return f"{len(result):,} rows × {len(result.columns)} columns"
    if isinstance(result, pd.Series):
        return f"{len(result):,} rows, {int(result.notna().sum()):,} with a value"
    return type(result).__name__


def tune(data: pd.DataFrame | pd.Series, op: str, column: Any = None, **kwargs: Any) -> TunePanel:
    """A tuning panel for ``op`` on ``column`` of ``data`` (see ``TunePanel``).

    Examples
    --------
    >>> panel = tune(reviews, "summarize", "review", max_words=15)      # doctest: +SKIP
    >>> panel.preview(wait=True); panel.previews[-1].table               # doctest: +SKIP
    """
    return TunePanel(data, op, column, **kwargs)
