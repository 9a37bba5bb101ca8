"""Checking a parsed plan against the verbs and the frame, before anything runs.

Every verb must be an operation or a mining step, every column must exist in the frame or be made
by an earlier step, every key must be an argument of the verb's function, and each verb gets the
pieces it needs (``filter``'s condition, ``extract``'s outputs, ``classify``'s labels ...). Errors
name the line and column and suggest the closest valid name.

A step never replaces a column silently: an output named like a column of the frame or of an
earlier step is an error, unless the step says ``overwrite=True`` (``clean COLUMN`` rewrites its
own column by design). Names that only the run knows (``p_LABEL``, ``vec_0`` ...) are checked
again when the step's columns are added (``check_replaced``).
"""

from __future__ import annotations

from collections.abc import Iterable

from llm_magics.errors import InvalidArgumentError, did_you_mean
from llm_magics.plan.parse import Plan, PlanSyntaxError, Step
from llm_magics.plan.verbs import OVERWRITE, VERBS, default_outputs, options_of, output_schema

__all__ = ["check_plan", "check_replaced"]

_NO_COLUMN = ("explain", "features", "predict")
_NO_OUTPUTS = ("explain", "features")


def _column_of(step: Step, name: str) -> int:
    at = step.text.find(name)
    return at + 1 if at >= 0 else 1


def _fail(step: Step, message: str, at: str | int) -> PlanSyntaxError:
    column = at if isinstance(at, int) else _column_of(step, at)
    return PlanSyntaxError(message, line=step.line, column=column, text=step.text)


def _check_shape(step: Step, predicted: bool) -> None:
    """What a verb needs beyond known columns and keys."""
    verb, end = step.verb, len(step.text.rstrip()) + 1
    if verb not in _NO_COLUMN and not step.columns:
        raise _fail(step, f"{verb} needs a column: {verb} COLUMN ...", len(verb) + 1)
    if len(step.columns) > 1 and verb not in ("features", "predict", "finetune"):
        raise _fail(step, f"{verb} takes one column; write one line per column.", step.columns[1])
    if step.arguments and verb != "filter":
        quotes = [i for i in (step.text.find('"'), step.text.find("'")) if i >= 0]
        at = min(quotes) + 1 if quotes else _column_of(step, step.arguments[0])
        raise _fail(step, f"{verb} takes no quoted text; options are written key=value.", at)
    if verb == "filter" and len(step.arguments) != 1:
        raise _fail(
            step, 'filter needs one quoted condition: filter COLUMN "mentions delivery"', end
        )
    finetuned = step.options.get("method") == "finetuned"
    if verb == "classify" and "labels" not in step.options and not finetuned:
        raise _fail(step, "classify needs labels: classify COLUMN labels=[a, b, c]", end)
    if verb == "extract":
        if not step.outputs:
            raise _fail(
                step, "extract needs the fields to read: extract COLUMN -> name, price:float", end
            )
        try:
            output_schema(step)
        except InvalidArgumentError as err:
            raise _fail(step, str(err), "->") from None
    if verb == "finetune" and len(step.columns) != 2:
        raise _fail(step, "finetune needs the text and the label: finetune TEXT, LABEL", end)
    if verb in _NO_OUTPUTS and step.outputs:
        raise _fail(step, f"{verb} names its own columns; remove '-> ...'.", "->")
    if verb == "explain" and not predicted:
        raise _fail(step, "explain needs a predict step before it: predict TARGET from ...", 1)
    if len(step.outputs) > 1 and verb in ("clean", "summarize", "filter", "keywords", "embed"):
        raise _fail(step, f"{verb} makes one column; name one output.", step.outputs[1])


def check_replaced(step: Step, made: Iterable[str], existing: Iterable[str], origin: str) -> None:
    """Raise ``PlanSyntaxError`` when ``step`` would replace one of the ``existing`` columns.

    ``origin`` says where those columns come from (for the message): the frame or a line.
    """
    if step.options.get(OVERWRITE, False):
        return
    own = step.columns[0] if step.verb == "clean" and step.columns else None
    existing = set(existing)
    for name in made:
        if name in existing and name != own:
            message = (
                f"{step.verb} would replace the column {name!r} {origin}. Name the output "
                f"otherwise (-> NEW_NAME), or add {OVERWRITE}=True to replace it on purpose."
            )
            # Point at the output that names it, or at the verb whose default name it is.
            arrow = step.text.find("->")
            at = step.text.find(name, arrow) if arrow >= 0 else -1
            raise _fail(step, message, at + 1 if at >= 0 else 1)


def check_plan(plan: Plan, columns: Iterable[str]) -> None:
    """Raise ``PlanSyntaxError`` for the first step that cannot run on a frame with ``columns``."""
    available = [str(c) for c in columns]
    makers: dict[str, int] = {}  # column → the line that makes it
    predicted = False
    for step in plan.steps:
        if step.verb not in VERBS:
            raise _fail(
                step,
                f"unknown verb {step.verb!r}.{did_you_mean(step.verb, VERBS)} Verbs: {', '.join(VERBS)}.",
                step.verb,
            )
        needed = list(step.columns) + ([step.target] if step.target else [])
        for name in needed:
            if name not in available:
                raise _fail(
                    step,
                    f"no column {name!r}.{did_you_mean(name, available)} Columns here: {', '.join(available)}.",
                    name,
                )
        _check_shape(step, predicted)
        valid = options_of(step.verb)
        for key in step.options:
            if key not in valid:
                raise _fail(
                    step,
                    f"{step.verb} takes no option {key!r}.{did_you_mean(key, valid)} Options: {', '.join(valid)}.",
                    f"{key}=",
                )
        predicted = predicted or step.verb == "predict"
        made = [o.split(":")[0] for o in step.outputs] or default_outputs(step)
        if step.verb == "embed":  # -> vec makes vec_0, vec_1 ...: known when it runs
            made = []
        for name in made:
            where = makers.get(name)
            origin = "of the frame" if where is None else f"made by line {where}"
            check_replaced(step, [name], available, origin)
        makers.update(dict.fromkeys(made, step.line))
        available += [m for m in made if m not in available]
