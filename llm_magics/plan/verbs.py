"""The verbs of the plan language: what each one calls, accepts, makes, loads, and an example.

A verb is a registered operation (``llm_magics.ops.base.SPECS``: its keys are the op's keyword
arguments, its example, outputs and models are its spec's) or a registered step
(``llm_magics.ops.spec.STEPS``, declared beside its function: ``predict`` calls ``llm_magics.mine``,
``explain`` the last predict's ``MiningResult.explain``, ``finetune`` ``ops.finetune``), read the
same way.
Everything is read when asked, so an op registered later is a verb too, and a new op argument is
a new plan key.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

from llm_magics import mining, ops  # noqa: F401  (importing them registers their ops and steps)
from llm_magics.errors import InvalidArgumentError, did_you_mean
from llm_magics.ops.base import OPERATIONS, SPECS, defaults_of
from llm_magics.ops.extract import schema_of_text
from llm_magics.ops.spec import STEPS
from llm_magics.plan.parse import CONNECTORS, Step

__all__ = [
    "EXAMPLES",
    "OVERWRITE",
    "VERBS",
    "default_outputs",
    "describe",
    "frame_columns",
    "function_of",
    "models_for",
    "options_of",
    "output_names",
    "output_schema",
    "required_options",
    "verbs",
]

# Engine arguments the runner passes itself (the cell's --no-cache, its progress bars).
_RUNNER_GIVEN = {"manager", "progress", "cache"}

OVERWRITE = "overwrite"
"""The plan key that lets a step replace a column that exists already (``overwrite=True``)."""


def steps() -> list[str]:
    """The plan steps that are not operations (``ops.spec.STEPS``): those another step needs
    first, each followed by the steps that need it (``predict``, ``explain``), then the rest
    (``finetune``), each group in the order they were registered."""
    needed = {s.after for s in STEPS.values()}
    roots = [n for n, s in STEPS.items() if s.after is None]
    ordered: list[str] = []
    for name in sorted(roots, key=lambda n: n not in needed):
        ordered.append(name)
        ordered.extend(n for n, s in STEPS.items() if s.after == name)
    return ordered


def verbs() -> list[str]:
    """Every verb of the plan language: the registered operations, then the mining steps."""
    return [*SPECS, *steps()]


class _Verbs(Sequence[str]):
    """``verbs()`` as a sequence that reads the registry on every use."""

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return verbs()[index]

    def __len__(self) -> int:
        return len(verbs())

    def __repr__(self) -> str:
        return repr(tuple(verbs()))


class _Examples(Mapping[str, str]):
    """One example line per verb, read from the op's spec (or the mining step's) when asked."""

    def __getitem__(self, verb: str) -> str:
        if verb in SPECS:
            return SPECS[verb].example
        return STEPS[verb].example

    def __iter__(self) -> Iterator[str]:
        return iter(verbs())

    def __len__(self) -> int:
        return len(verbs())

    def __repr__(self) -> str:
        return repr(dict(self))


VERBS: Sequence[str] = _Verbs()
"""Every verb of the plan language: the operations, then the mining steps (read when used)."""

EXAMPLES: Mapping[str, str] = _Examples()
"""One example line per verb (``%mine help VERB``, the sidebar's templates)."""


def function_of(verb: str) -> Callable[..., Any]:
    """The function a step of ``verb`` calls."""
    return OPERATIONS[verb] if verb in OPERATIONS else STEPS[verb].function


def _given(verb: str) -> set[str]:
    """The arguments of ``verb``'s function that its line gives otherwise, or the runner passes."""
    spec = SPECS.get(verb)
    if spec is None:
        return set(STEPS[verb].given)
    parameters = list(inspect.signature(OPERATIONS[verb]).parameters)
    given = {parameters[0]} | _RUNNER_GIVEN
    if spec.input == "frame":  # the text columns are the line's columns
        given.add(spec.column_argument or parameters[1])
    if spec.argument is not None and spec.plan_argument != "option":  # quoted, or -> outputs
        given.add(spec.argument)
    return given


def options_of(verb: str) -> list[str]:
    """The keys a step of ``verb`` accepts."""
    given = _given(verb)
    names = [n for n in inspect.signature(function_of(verb)).parameters if n not in given]
    if verb in SPECS or STEPS[verb].makes_columns:
        names.append(OVERWRITE)
    return names


def required_options(verb: str) -> list[str]:
    """The keys a step of ``verb`` must give (``join``'s ``right``, given as ``with TABLE``)."""
    if verb not in SPECS:
        return []
    parameters = inspect.signature(OPERATIONS[verb]).parameters
    return [
        name
        for name in options_of(verb)
        if name in parameters
        and parameters[name].default is inspect.Parameter.empty
        and parameters[name].kind is not inspect.Parameter.VAR_KEYWORD
    ]


def default_outputs(step: Step) -> list[str]:
    """The columns a step adds to the frame when no ``-> OUTPUT`` names them.

    Numbered columns (``embed``'s ``vec_0`` ...) and the fields an ``extract`` line names are
    known only when the step runs: none here.
    """
    if step.verb in STEPS:
        return STEPS[step.verb].output_names(step.target)
    spec = SPECS.get(step.verb)
    if spec is None or spec.output_kind in ("prefix", "schema"):
        return []
    return spec.output_names(step.columns[0] if step.columns else "")


def output_names(names: Sequence[str], outputs: Sequence[str], column: str) -> list[str]:
    """An op's columns ``names`` under a line's ``outputs``: the first ones as named, the others
    after the first output with what sets each apart (``-> mood``: mood, mood_score).

    A column named after the text column (``review_rows``) keeps what follows the text column's
    name; any other keeps its whole name (``-> aspect``: aspect_p_taste).

    Examples
    --------
    >>> output_names(["review_aggregate", "review_rows"], ["complaints"], "review")
    ['complaints', 'complaints_rows']
    >>> output_names(["sentiment", "sentiment_score"], ["mood"], "review")
    ['mood', 'mood_score']
    """
    if not outputs:
        return list(names)
    first, prefix = names[0], f"{column}_"
    renamed = list(outputs)
    for name in names[len(outputs) :]:
        if name.startswith(f"{first}_"):
            suffix = name[len(first) :]
        elif column and first.startswith(prefix) and name.startswith(prefix):
            suffix = name[len(column) :]
        else:
            suffix = f"_{name}"
        renamed.append(f"{outputs[0]}{suffix}")
    return renamed


def _step_outputs(step: Step) -> list[str]:
    """The output columns of an op's step, as the run names them."""
    spec = SPECS[step.verb]
    column = step.columns[0] if step.columns else ""
    named = [o.split(":")[0] for o in step.outputs]
    return output_names(spec.output_names(column), named, column)


def frame_columns(step: Step, available: Sequence[str]) -> tuple[list[str], list[str]]:
    """The columns of the frame after a ``"frame"`` step (``OpSpec.columns_after``) and, of
    them, those the step names: its outputs (``-> complaints`` and ``complaints_rows``).

    Examples
    --------
    >>> from llm_magics.plan import parse_plan
    >>> step = parse_plan('aggregate review by product -> complaints "What?"').steps[0]
    >>> frame_columns(step, ["review", "product", "score"])
    (['product', 'complaints', 'complaints_rows'], ['complaints', 'complaints_rows'])
    """
    spec = SPECS[step.verb]
    outputs = _step_outputs(step)
    if spec.columns_after is None:
        return [*available, *outputs], outputs
    options = defaults_of(step.verb) | dict(step.options)
    return spec.columns_after(list(available), list(step.columns), outputs, options), outputs


def output_schema(step: Step) -> dict[str, Any]:
    """A step's outputs as a schema: ``price:float`` → float, ``problem:[a, b]`` → choices.

    Examples
    --------
    >>> from llm_magics.plan import parse_plan
    >>> output_schema(parse_plan("extract review -> item, price:float, problem:[late, none]").steps[0])
    {'item': 'str', 'price': 'float', 'problem': ['late', 'none']}
    """
    return schema_of_text(list(step.outputs))


def models_for(step: Step, *, chat: str, embed: str) -> list[tuple[str, str]]:
    """``(role, model)`` pairs a step will use, given the cell's default chat and embed models."""
    spec = SPECS.get(step.verb) or STEPS[step.verb]
    options = _defaults(step.verb) | dict(step.options)
    return spec.models(options, {"chat": chat, "embed": embed})


def _defaults(verb: str) -> dict[str, Any]:
    """The keyword defaults of the function a step of ``verb`` calls."""
    if verb in SPECS:
        return defaults_of(verb)
    parameters = inspect.signature(function_of(verb)).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _keys(verb: str) -> dict[str, Any]:
    """The keys of ``verb`` with their defaults (``"(required)"`` for the op's argument)."""
    spec = SPECS.get(verb)
    parameters = inspect.signature(function_of(verb)).parameters
    keys = {}
    for name in options_of(verb):
        if name == OVERWRITE:
            keys[name] = False
        elif spec is not None and name == spec.argument and spec.argument_required:
            keys[name] = "(required)"
        elif name in parameters:
            default = parameters[name].default
            keys[name] = "(required)" if default is inspect.Parameter.empty else default
    return keys


def describe(verb: str) -> str:
    """Help for one verb: what it does, its keys with their defaults, what it adds, an example."""
    known = verbs()
    if verb not in known:
        msg = f"Unknown verb {verb!r}.{did_you_mean(verb, known)} Verbs: {', '.join(known)}."
        raise InvalidArgumentError(msg)
    summary = (inspect.getdoc(function_of(verb)) or "").split("\n\n")[0]
    phrases = {key: word for word, (key, _) in CONNECTORS.items()}
    lines = [f"{verb}: {summary}", "", f"  {EXAMPLES[verb]}", "", "Keys:"]
    for name, value in _keys(verb).items():
        word = phrases.get(name)
        also = (
            f"   (or: {word} {'NAME[, NAME]' if CONNECTORS[word][1] else 'TABLE'})" if word else ""
        )
        lines.append(f"  {name}={value!r}{also}")
    return "\n".join([*lines, *_made_help(verb)])


def _made_help(verb: str) -> list[str]:
    """What ``describe`` says a step of ``verb`` adds, or what the frame becomes after it."""
    spec = SPECS.get(verb)
    by = {name: [name.upper()] for name in spec.frame_arguments} if spec is not None else {}
    step = Step(verb, ("COLUMN",), target="TARGET", options=by)
    if spec is not None and spec.output_kind == "frame":
        after, _ = frame_columns(step, ["..."])
        return ["", f"The frame becomes (without -> OUTPUT): {', '.join(after)}"]
    made = default_outputs(step)
    return ["", f"Adds (without -> OUTPUT): {', '.join(made)}"] if made else []
