"""What an operation is, declared once: the single source every entry point reads.

An operation module defines its function and decorates it with ``@operation(OpSpec(...))``. The
spec says which models the op calls (role and engine primitive, by ``method`` where that changes
them), the columns it adds, the prompts it uses, whether each row is computed on its own (so a
backend such as Ray may spread the rows), the settings a tuning panel may offer with their ranges,
and how a plan line gives its required argument. From it:

- ``df.llm`` / ``series.llm`` offer the op (``llm_magics.accessor``);
- the plan language accepts it as a verb, checks its lines and names its outputs (``llm_magics.plan``);
- ``backend="ray"`` may run it when it is row-wise (``llm_magics.backends``);
- ``df.llm.tune(name)`` shows its ``tunable`` settings (``llm_magics.widgets``);
- a ``%%mine`` run draws its ``chart`` (``llm_magics.plots``).

Adding an operation is one module in ``ops/`` (plus its tests); nothing else is edited by hand.
The shape follows transformers' ``Pipeline`` (each pipeline class declares what it accepts and
returns) and scikit-learn's ``_parameter_constraints`` (settings declared beside the estimator,
read by tools that did not write them).

This module imports nothing above ``llm_magics.errors``: a spec is data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from llm_magics.errors import InvalidArgumentError

__all__ = [
    "COVERAGE",
    "ENGINE_ARGUMENTS",
    "STEPS",
    "Bound",
    "EngineArgument",
    "OpSpec",
    "Setting",
    "StepSpec",
    "Uses",
    "register_step",
]

Role = Literal["chat", "embed", "classifier"]
Primitive = Literal["generate", "score", "embed", "predict"]


@dataclass(frozen=True)
class EngineArgument:
    """A keyword argument that every model-backed op takes the same way, documented once."""

    name: str
    default: Any
    annotation: str
    doc: str


ENGINE_ARGUMENTS: tuple[EngineArgument, ...] = (
    EngineArgument(
        "model",
        None,
        "str | None",
        "The model (a name, an alias or a Hugging Face id); ``None``: the default model of the "
        "role the op uses (``LlmMagics.default_chat_model`` / ``default_embed_model``).",
    ),
    EngineArgument("progress", True, "bool", "Show a progress bar per model call."),
    EngineArgument(
        "cache",
        True,
        "bool",
        "Keep and reuse results in the persistent result cache (a re-run resumes).",
    ),
    EngineArgument(
        "batch_tokens",
        None,
        "int | None",
        "Token budget of an engine batch, padding included (``None``: the device's default).",
    ),
    EngineArgument(
        "manager",
        None,
        "ModelManager | None",
        "The model manager (``None``: this kernel's, ``llm_magics.get_manager()``).",
    ),
)
"""The engine settings shared by the model-backed ops, in signature order."""

BACKEND_DOC = (
    'Where the rows are computed: ``"local"`` (this process) or ``"ray"`` / a '
    "``llm_magics.backends.ray.RayBackend`` (a Ray cluster, one model per worker); see "
    "``llm_magics.backends``."
)


@dataclass(frozen=True)
class Uses:
    """One model an op calls: its role, the engine primitive, and the argument that names it.

    ``when`` (given the call's options, defaults filled in) says whether this call happens at all,
    e.g. ``topics`` names its topics with the chat model only when ``label=True``.
    """

    role: Role
    primitive: Primitive
    argument: str = "model"
    when: Callable[[Mapping[str, Any]], bool] | None = None

    def happens(self, options: Mapping[str, Any]) -> bool:
        """Whether a run with ``options`` (defaults filled in) makes this call."""
        return self.when is None or self.when(options)

    def model(self, options: Mapping[str, Any], defaults: Mapping[str, str]) -> tuple[str, str]:
        """``(role, model)`` of this call: the model ``options`` name, else the role's default."""
        return self.role, options.get(self.argument) or defaults.get(self.role, "")


@dataclass(frozen=True)
class Bound:
    """The values an op's argument may take, declared once in its spec (``OpSpec.bounds``): the
    op refuses anything else before it reads a row, and a plan before any step runs.

    Numbers from ``low`` to ``high`` (an end is left out where ``open_low`` / ``open_high``),
    whole numbers only where ``whole``, ``None`` too where ``optional``; or one of ``choices``.

    Examples
    --------
    >>> Bound(0, 1, open_low=True, optional=True).check("dedup", "threshold", 2)
    Traceback (most recent call last):
    ...
    llm_magics.errors.InvalidArgumentError: dedup(): threshold must be a number in (0, 1] (or None), not 2.
    >>> Bound(1, whole=True, what="neighbours").check("dedup", "k", 10)
    """

    low: float | None = None
    high: float | None = None
    whole: bool = False
    open_low: bool = False
    open_high: bool = False
    optional: bool = False
    choices: tuple[Any, ...] = ()
    what: str = ""  # what a whole number counts ("neighbours"), for the message

    def describe(self) -> str:
        """``"a whole number of neighbours, 1 or more"``, ``"a number in (0, 1]"`` ..."""
        if self.choices:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.whole:
            counted = f" of {self.what}" if self.what else ""
            low = "" if self.low is None else f", {self.low:g} or more"
            high = "" if self.high is None else f", at most {self.high:g}"
            text = f"a whole number{counted}{low}{high}"
        else:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            if self.high is None:
                text = f"a number {'above' if self.open_low else 'from'} {self.low:g}"
            else:
                text = f"a number in {left}{self.low:g}, {self.high:g}{right}"
        return text + (" (or None)" if self.optional else "")

    def holds(self, value: Any) -> bool:
        """Whether ``value`` is one of the values described."""
        if value is None:
            return self.optional
        if self.choices:
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            return False
        if self.whole and not float(value).is_integer():
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or (value < self.high if self.open_high else value <= self.high)

    def problem(self, name: str, value: Any) -> str | None:
        """What is wrong with ``name=value`` (``"k must be ..., not 0."``); None if it holds."""
        return None if self.holds(value) else f"{name} must be {self.describe()}, not {value!r}."

    def check(self, op: str, name: str, value: Any) -> None:
        """Raise ``InvalidArgumentError`` naming ``op``, ``name`` and the values it takes."""
        problem = self.problem(name, value)
        if problem is not None:
            msg = f"{op}(): {problem}"
            raise InvalidArgumentError(msg)


COVERAGE = Bound(0, 1, open_low=True, open_high=True, optional=True)
"""What ``coverage=`` (conformal label sets) may be, in every op that takes it."""


@dataclass(frozen=True)
class Setting:
    """A setting a tuning panel may offer, with its range (widget-free: panels draw it).

    Parameters
    ----------
    name
        The op's keyword argument.
    kind
        ``"int"`` / ``"float"`` (a slider from ``low`` to ``high`` by ``step``), ``"bool"``,
        ``"choice"`` (one of ``choices``), ``"text"`` (free text; ``placeholder`` shows an
        example), ``"count"`` (a whole number from ``low`` to ``high`` where 0 means ``None``).
    label
        What the control says.
    parse, show
        Text or control value → argument value, and back (``labels`` from "a, b, c").
    required
        The op cannot run without it (a required argument such as ``labels``).
    """

    name: str
    kind: Literal["int", "float", "bool", "choice", "text", "count"]
    label: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    placeholder: str = ""
    parse: Callable[[Any], Any] | None = None
    show: Callable[[Any], Any] | None = None
    required: bool = False

    def value_of(self, shown: Any) -> Any:
        """The argument value of what a control shows."""
        if self.kind == "count":
            return shown or None
        return self.parse(shown) if self.parse is not None else shown

    def shown(self, value: Any) -> Any:
        """What a control shows for an argument value."""
        if self.kind == "count":
            return value or 0
        return self.show(value) if self.show is not None else value


@dataclass(frozen=True)
class OpSpec:
    """The facts of one operation (see the module docs).

    Parameters
    ----------
    name
        The op's name: the function's, the accessor method's and the plan verb's.
    uses
        The models the op calls, in order (none for ``clean``).
    by_method
        ``uses`` per value of the op's ``method`` argument, where the method changes them.
    outputs
        The columns the op adds, ``{column}`` standing for the text column's name.
    output_kind
        ``"columns"`` (fixed names), ``"prefix"`` (numbered columns such as ``vec_0``, named
        by the first output), ``"replace"`` (the text column itself) or ``"schema"`` (one
        column per field the plan line names); ``"frame"``: the op returns a new table (one row
        per group, the top rows, the joined pairs) that becomes a plan's frame from that step on.
    prompts
        The names of the shipped prompts the op renders (``llm_magics.ops.prompts``).
    row_wise
        Each row is computed on its own, so a backend may split the rows among workers.
    input
        ``"column"`` (a text Series) or ``"frame"`` (a DataFrame and its text columns).
    engine_arguments
        Which of ``ENGINE_ARGUMENTS`` the op takes (declared once there).
    argument
        The op's argument after the text that a plan line gives (``labels``, ``schema``,
        ``condition``); required unless ``argument_required`` is false (``aggregate``'s
        instruction: without one it summarizes).
    argument_required
        Whether a line must give ``argument``.
    frame_arguments
        Arguments that name other columns of the frame (``aggregate``'s ``by``): on a DataFrame
        (``df.llm``, a plan line) a name or a list of names is given, and the op receives those
        columns as Series.
    plan_argument
        Where a plan line gives ``argument``: ``"option"`` (``labels=[a, b]``), ``"quoted"``
        (``filter review "mentions delivery"``) or ``"outputs"`` (``-> item, price:float``).
    example
        One plan line (``%mine help``, the sidebar's templates).
    tunable
        The settings a tuning panel offers (the others keep their defaults).
    tune_prompt
        The shipped prompt a panel's instruction box starts from (``None``: no instruction box
        when the op has no ``instruction`` argument).
    result_name
        The variable name a panel suggests for the result.
    chart
        The chart that explains the op's columns in a run (a kind of
        ``llm_magics.plots.step_chart``), or ``None``.
    to_frame
        The op's result as the columns a plan step adds, where it is not a Series or DataFrame
        (``topics`` returns a ``TopicModel``).
    note
        A one-line note on a result for the run's table ("35% of rows match").
    reshape
        ``reshape(frame, result)``: what ``df.llm.<op>`` returns and a plan's frame becomes, from
        the frame the text came from and the op's result (``top_k``: the chosen rows of the frame,
        all their columns, with the score). ``None``: the result itself.
    columns_after
        ``columns_after(available, columns, outputs, options)``: the columns of a plan's frame
        after a ``"frame"`` step, from the columns before it, the line's text columns, its output
        names (the defaults where it names none) and its options; read by the plan checker, before
        anything runs.
    column_argument
        For an op of a frame (``input="frame"``): the argument a plan line's text column gives,
        by name (``join``'s ``left_on``; the op then takes the frame first and the other arguments
        by keyword). ``None``: the op's second argument takes the list of the line's columns
        (``features``).
    cost
        How the op's time grows with the rows, as a dry run's note says it (``"~ rows·k
        candidate pairs"``); ``""``: in proportion to the rows, the dry run's scaling.
    bounds
        The values each bounded argument takes (``Bound``): checked when the op is called,
        before anything else, and by the plan checker before any step runs.
    """

    name: str
    uses: tuple[Uses, ...] = ()
    by_method: Mapping[str, tuple[Uses, ...]] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    output_kind: Literal["columns", "prefix", "replace", "schema", "frame"] = "columns"
    prompts: tuple[str, ...] = ()
    row_wise: bool = True
    input: Literal["column", "frame"] = "column"
    engine_arguments: tuple[str, ...] = tuple(a.name for a in ENGINE_ARGUMENTS)
    argument: str | None = None
    plan_argument: Literal["option", "quoted", "outputs"] | None = None
    example: str = ""
    tunable: tuple[Setting, ...] = ()
    tune_prompt: str | None = None
    result_name: str = "result"
    chart: str | None = None
    to_frame: Callable[[Any], Any] | None = None
    note: Callable[[Any], str] | None = None
    argument_required: bool = True
    frame_arguments: tuple[str, ...] = ()
    reshape: Callable[[Any, Any], Any] | None = None
    columns_after: (
        Callable[[Sequence[str], Sequence[str], Sequence[str], Mapping[str, Any]], list[str]] | None
    ) = None
    column_argument: str | None = None
    cost: str = ""
    bounds: Mapping[str, Bound] = field(default_factory=dict)

    def calls(self, options: Mapping[str, Any]) -> tuple[Uses, ...]:
        """The model calls of a run with ``options`` (the op's defaults filled in)."""
        uses = self.by_method.get(options.get("method"), self.uses) if self.by_method else self.uses
        return tuple(u for u in uses if u.happens(options))

    def models(
        self, options: Mapping[str, Any], defaults: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        """``(role, model)`` of each model a run with ``options`` uses.

        ``defaults`` gives the model of each role when the options name none (a classifier has
        no default: its model is the name a ``finetune`` registered, or ``""``).
        """
        return [u.model(options, defaults) for u in self.calls(options)]

    def primitive(self, options: Mapping[str, Any]) -> Primitive | None:
        """The engine primitive of the op's main model call, ``None`` when it calls no model."""
        calls = self.calls(options)
        return calls[0].primitive if calls else None

    def output_names(self, column: str) -> list[str]:
        """The default output columns for a text column named ``column``."""
        return [o.format(column=column) for o in self.outputs]


@dataclass(frozen=True)
class StepSpec:
    """The facts of a plan step that is not an operation of text rows: ``predict`` (``mine``),
    ``explain`` (the last ``predict`` step's ``MiningResult.explain``) and ``finetune``.

    Declared beside the function it calls and registered in ``STEPS`` (``register_step``); the
    plan language reads it as it reads an ``OpSpec``: its keys, help, checks, models and dry run.

    Parameters
    ----------
    name
        The plan verb.
    function
        What the step calls; its keyword arguments, less ``given``, are the line's keys (with
        ``overwrite`` where the step adds columns), and its docstring's first paragraph the help.
    example
        One plan line (``%mine help``, the sidebar's templates).
    uses
        The models it calls, as an op's (``models``).
    given
        The function's arguments that the line gives otherwise (its columns, its target) or that
        the runner passes (the frame, the engine's ``manager``, ``progress``, ``cache``).
    columns
        The fewest and the most text columns the line names (``None``: no limit).
    usage
        How the line is written, for the message when it names too few or too many columns.
    target
        The line names a target before its columns (``predict TARGET from COLUMN, ...``).
    arrow
        What ``-> NAME`` names: ``"columns"`` (the columns it adds, ``outputs`` by default),
        ``"model"`` (the name to register the trained model under), ``None`` (refused).
    outputs
        The columns it adds, ``{target}`` standing for the target.
    after
        A verb that must come before it in the plan.
    estimate
        How a dry run times it: ``"features"`` (the feature extraction on the probe rows),
        ``"training"`` (the embedding pass times ~3 forward passes an epoch) or ``"generation"``
        (one generation).
    """

    name: str
    function: Callable[..., Any]
    example: str
    uses: tuple[Uses, ...] = ()
    given: frozenset[str] = frozenset({"self", "frame", "manager", "progress", "cache"})
    columns: tuple[int, int | None] = (1, 1)
    usage: str = ""
    target: bool = False
    arrow: Literal["columns", "model"] | None = "columns"
    outputs: tuple[str, ...] = ()
    after: str | None = None
    estimate: Literal["features", "training", "generation"] = "features"

    @property
    def makes_columns(self) -> bool:
        """Whether the step adds columns to the plan's frame."""
        return self.arrow == "columns"

    def models(
        self, options: Mapping[str, Any], defaults: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        """``(role, model)`` of each model a run with ``options`` (defaults filled in) uses."""
        return [u.model(options, defaults) for u in self.uses if u.happens(options)]

    def output_names(self, target: str | None) -> list[str]:
        """The default output columns for ``target``."""
        return [o.format(target=target) for o in self.outputs]


STEPS: dict[str, StepSpec] = {}
"""The plan steps that are not operations, by verb, in the order they were registered."""


def register_step(spec: StepSpec) -> StepSpec:
    """Make ``spec``'s verb a step of the plan language; returns ``spec``."""
    STEPS[spec.name] = spec
    return spec
