"""Checking a parsed plan against the verbs and the frame, before anything runs.

Every verb must be an operation or a mining step, every column must exist in the frame or be made
by an earlier step, every key must be an argument of the verb's function with a value it takes
(``OpSpec.bounds``), and each verb gets the
pieces it needs, where its spec says a line gives them (``OpSpec.plan_argument``: ``filter``'s
quoted condition, ``extract``'s ``-> fields``, ``classify``'s ``labels=``). Errors name the line
and column and suggest the closest valid name.

A step never replaces a column silently: an output named like a column of the frame or of an
earlier step is an error, unless the step says ``overwrite=True`` (``clean COLUMN`` rewrites its
own column by design). Names that only the run knows (``p_LABEL``, ``vec_0`` ...) are checked
again when the step's columns are added (``check_replaced``).

An operation across rows whose result is a new table (``OpSpec.output_kind == "frame"``:
``aggregate``, ``join``, ``top_k``) changes the columns the lines after it see to those its spec
says (``OpSpec.columns_after``); ``by NAME`` names columns of the frame (the spec's
``frame_arguments``), and ``with TABLE`` gives ``join`` its other table: a DataFrame or Series,
or a file path, read here to learn its columns (``right_on`` must be one of them).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from llm_magics.errors import InvalidArgumentError, did_you_mean
from llm_magics.ops.base import SPECS
from llm_magics.ops.spec import STEPS, OpSpec
from llm_magics.plan.parse import CONNECTORS, Plan, PlanSyntaxError, Step
from llm_magics.plan.verbs import (
    EXAMPLES,
    OVERWRITE,
    default_outputs,
    frame_columns,
    options_of,
    output_schema,
    required_options,
    verbs,
)
from llm_magics.tables import read_table

__all__ = ["check_plan", "check_replaced"]

# The plan key of ``with TABLE`` and the key that names a column of that table.
_RIGHT = CONNECTORS["with"][0]
_RIGHT_COLUMN = f"{_RIGHT}_on"

# What a verb needs is read off its spec: an operation's (``SPECS``) or a step's (``STEPS``).


def _column_of(step: Step, name: str) -> int:
    at = step.text.find(name)
    return at + 1 if at >= 0 else 1


def _word_at(step: Step, word: str, after: str = "") -> int:
    """The column of ``word`` standing alone in the line (after ``after``, if that is there)."""
    start = max(step.text.find(f" {after} ") if after else 0, 0)
    at = step.text.find(f" {word}", start)
    return at + 2 if at >= 0 else 1


def _fail(step: Step, message: str, at: str | int) -> PlanSyntaxError:
    column = at if isinstance(at, int) else _column_of(step, at)
    return PlanSyntaxError(message, line=step.line, column=column, text=step.text)


def _check_columns(step: Step, spec: OpSpec | None) -> None:
    """A verb of one text column names exactly one; a frame's op names several; a step
    (``predict``, ``finetune``, ``explain``) as many as its spec's ``columns`` say."""
    verb = step.verb
    if spec is None:
        fewest, most = STEPS[verb].columns
        end = len(step.text.rstrip()) + 1
        if len(step.columns) < fewest or (most is not None and len(step.columns) > most):
            at = step.columns[most] if most is not None and len(step.columns) > most else end
            raise _fail(step, STEPS[verb].usage or f"{verb}: {EXAMPLES[verb]}", at)
        return
    if spec.input != "frame" and not step.columns:
        raise _fail(step, f"{verb} needs a column: {verb} COLUMN ...", len(verb) + 1)
    several = spec.input == "frame" and spec.column_argument is None
    if len(step.columns) > 1 and not several:
        raise _fail(step, f"{verb} takes one column; write one line per column.", step.columns[1])


def _quoted_example(spec: OpSpec) -> str:
    """``filter COLUMN "mentions delivery"``: the quoted part of the op's example."""
    quoted = re.search(r"\"[^\"]*\"|'[^']*'", spec.example)
    text = quoted.group(0) if quoted else '"..."'
    return f"{spec.name} COLUMN {text}"


def _no_quoted_text(step: Step) -> None:
    if step.arguments:
        quotes = [i for i in (step.text.find('"'), step.text.find("'")) if i >= 0]
        at = min(quotes) + 1 if quotes else _column_of(step, step.arguments[0])
        message = f"{step.verb} takes no quoted text; options are written key=value."
        raise _fail(step, message, at)


def _check_method(step: Step, spec: OpSpec) -> None:
    """``method=`` is one the op offers (with ``examples=``, also the few-shot methods)."""
    from llm_magics.learning.methods import METHODS

    method = step.options.get("method")
    learns = "examples" in step.options and "examples" in spec.frame_arguments
    allowed = [*spec.by_method, *(m for m in METHODS if learns and m not in spec.by_method)]
    if method is None or not allowed or method in allowed:
        return
    message = (
        f"{step.verb}: method={method} is not one of {', '.join(allowed)}."
        f"{did_you_mean(str(method), allowed)}"
    )
    raise _fail(step, message, len(step.text.rstrip()) + 1)


def _check_bounds(step: Step, spec: OpSpec) -> None:
    """Each option's value is one the op takes (``OpSpec.bounds``): ``dedup review
    threshold=2`` fails here, at its column, not minutes into the run when dedup starts."""
    for key, value in step.options.items():
        bound = spec.bounds.get(key)
        problem = bound.problem(key, value) if bound is not None else None
        if problem is not None:
            raise _fail(step, f"{step.verb}: {problem}", _option_at(step, key))


def _option_at(step: Step, key: str) -> int:
    """The column of ``key=`` standing alone in the line."""
    found = re.search(rf"(?<![\w.]){re.escape(key)}\s*=", step.text)
    return found.start() + 1 if found else _column_of(step, key)


def _check_argument(step: Step, spec: OpSpec) -> None:
    """The op's required argument is where its spec says a line gives it."""
    verb, end = step.verb, len(step.text.rstrip()) + 1
    if spec.plan_argument != "quoted":
        _no_quoted_text(step)
    given = len(step.arguments)
    if spec.plan_argument == "quoted" and (given > 1 or (given == 0 and spec.argument_required)):
        needs = "needs one" if spec.argument_required else "takes at most one"
        message = f"{verb} {needs} quoted {spec.argument}: {_quoted_example(spec)}"
        raise _fail(step, message, end)
    # A fine-tuned classifier brings its own labels; examples= bring theirs.
    own_labels = step.options.get("method") == "finetuned" or "examples" in step.options
    if spec.plan_argument == "option" and spec.argument not in step.options and not own_labels:
        message = f"{verb} needs {spec.argument}: {verb} COLUMN {spec.argument}=[a, b, c]"
        raise _fail(step, message, end)
    if spec.plan_argument == "outputs":
        if not step.outputs:
            message = f"{verb} needs the fields to read: {verb} COLUMN -> name, price:float"
            raise _fail(step, message, end)
        try:
            output_schema(step)
        except InvalidArgumentError as err:
            raise _fail(step, str(err), "->") from None


def _check_outputs(step: Step, spec: OpSpec) -> None:
    """``-> ...`` names no more columns than the op makes (none when it names its own)."""
    verb = step.verb
    if step.outputs and not spec.outputs and spec.output_kind != "schema":
        raise _fail(step, f"{verb} names its own columns; remove '-> ...'.", "->")
    if len(step.outputs) > 1 and len(spec.outputs) == 1:
        raise _fail(step, f"{verb} makes one column; name one output.", step.outputs[1])


def _check_step(step: Step, done: set[str]) -> None:
    """A step's line against its spec: no quoted text, ``->`` only where it names something,
    and the step it needs before it (``done``: the verbs of the lines above)."""
    spec = STEPS[step.verb]
    _no_quoted_text(step)
    if step.outputs and spec.arrow is None:
        raise _fail(step, f"{step.verb} names its own columns; remove '-> ...'.", "->")
    if spec.after is not None and spec.after not in done:
        example = EXAMPLES[spec.after].split("  ")[0]
        msg = f"{step.verb} needs a {spec.after} step before it, such as: {example}"
        raise _fail(step, msg, 1)


def _check_shape(step: Step, done: set[str]) -> None:
    """What a verb needs beyond known columns and keys."""
    spec = SPECS.get(step.verb)
    _check_columns(step, spec)
    if spec is None:
        _check_step(step, done)
    else:
        _check_argument(step, spec)
        _check_method(step, spec)
        _check_bounds(step, spec)
        _check_outputs(step, spec)


def check_replaced(step: Step, made: Iterable[str], existing: Iterable[str], origin: str) -> None:
    """Raise ``PlanSyntaxError`` when ``step`` would replace one of the ``existing`` columns.

    ``origin`` says where those columns come from (for the message): the frame or a line.
    """
    if step.options.get(OVERWRITE, False):
        return
    spec = SPECS.get(step.verb)
    rewrites = spec is not None and spec.output_kind == "replace"  # clean: its own column
    own = step.columns[0] if rewrites and step.columns else None
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


def _check_known(step: Step, available: list[str]) -> None:
    """The verb, the columns and the keys of ``step`` exist."""
    known = verbs()
    if step.verb not in known:
        message = (
            f"unknown verb {step.verb!r}.{did_you_mean(step.verb, known)} "
            f"Verbs: {', '.join(known)}."
        )
        raise _fail(step, message, step.verb)
    for name in [*step.columns, *([step.target] if step.target else [])]:
        if name not in available:
            message = (
                f"no column {name!r}.{did_you_mean(name, available)} "
                f"Columns here: {', '.join(available)}."
            )
            raise _fail(step, message, name)


def _connector_of(key: str) -> str | None:
    return next((word for word, (option, _) in CONNECTORS.items() if option == key), None)


def _check_options(step: Step) -> None:
    valid = options_of(step.verb)
    for key in step.options:
        word = _connector_of(key)
        if key not in valid and word is not None and f" {word} " in f" {step.code} ":
            takers = [v for v in verbs() if key in options_of(v)]
            message = f"{step.verb} takes no '{word} ...'; {word} is for {', '.join(takers)}."
            raise _fail(step, message, _word_at(step, word))
        if key not in valid:
            message = (
                f"{step.verb} takes no option {key!r}.{did_you_mean(key, valid)} "
                f"Options: {', '.join(valid)}."
            )
            raise _fail(step, message, f"{key}=")
    for key in required_options(step.verb):
        if key not in step.options:
            word = _connector_of(key)
            how = f"{word} {'NAME' if CONNECTORS[word][1] else 'TABLE'}" if word else f"{key}=..."
            message = f"{step.verb} needs {key}: {step.verb} COLUMN {how} ..."
            raise _fail(step, message, len(step.text.rstrip()) + 1)


def _check_frame_arguments(step: Step, spec: OpSpec, available: list[str]) -> None:
    """``by NAME, ...``: each name is a column here."""
    for argument in spec.frame_arguments:
        names = step.options.get(argument)
        for name in [names] if isinstance(names, str) else names or []:
            if isinstance(name, str) and name not in available:
                message = (
                    f"no column {name!r} ({argument}).{did_you_mean(name, available)} "
                    f"Columns here: {', '.join(available)}."
                )
                raise _fail(step, message, _word_at(step, name, argument))


def _right_table(step: Step) -> pd.DataFrame | pd.Series | None:
    """The table ``with`` gives (a path read as ``llm-mine run`` reads its input), if any."""
    right = step.options.get(_RIGHT)
    if right is None or isinstance(right, pd.DataFrame | pd.Series):
        return right
    if not isinstance(right, str | Path):
        message = (
            f"'with' takes a DataFrame or a Series ({{name}}) or a file path, "
            f"not {type(right).__name__}."
        )
        raise _fail(step, message, _word_at(step, "with"))
    try:
        return read_table(Path(right))
    except InvalidArgumentError as err:
        raise _fail(step, str(err), str(right)) from None


def _check_right(step: Step, right: pd.DataFrame | pd.Series | None) -> None:
    """``right_on`` names a column of the ``with`` table."""
    name = step.options.get(_RIGHT_COLUMN)
    columns = [str(c) for c in getattr(right, "columns", [])]
    if isinstance(name, str) and columns and name not in columns:
        message = (
            f"the 'with' table has no column {name!r}.{did_you_mean(name, columns)} "
            f"Its columns: {', '.join(columns)}."
        )
        raise _fail(step, message, f"{_RIGHT_COLUMN}=")


def _made(step: Step) -> list[str]:
    """The columns ``step`` adds that are known before it runs."""
    spec = SPECS.get(step.verb)
    if spec is not None and spec.output_kind == "prefix":  # -> vec makes vec_0, vec_1 ...
        return []
    return [o.split(":")[0] for o in step.outputs] or default_outputs(step)


def _frame_step(step: Step, available: list[str], makers: dict[str, int]) -> list[str]:
    """The columns after a step whose result becomes the frame; its outputs must not clash with
    the other columns of the new frame."""
    options: Mapping[str, Any] = step.options
    right = _right_table(step)
    _check_right(step, right)
    if right is not None:
        step = dataclasses.replace(step, options={**options, _RIGHT: right})
    after, outputs = frame_columns(step, available)
    kept = list(after)
    for name in outputs:  # the other columns, a name the op's keys or rows share included
        kept.remove(name)
    for name in outputs:
        where = makers.get(name)
        origin = "of the frame" if where is None else f"made by line {where}"
        check_replaced(step, [name], kept, origin)
    return after


def check_plan(plan: Plan, columns: Iterable[str]) -> None:
    """Raise ``PlanSyntaxError`` for the first step that cannot run on a frame with ``columns``."""
    available = [str(c) for c in columns]
    makers: dict[str, int] = {}  # column → the line that makes it
    done: set[str] = set()  # the verbs of the lines checked so far
    for step in plan.steps:
        _check_known(step, available)
        _check_shape(step, done)
        _check_options(step)
        done.add(step.verb)
        spec = SPECS.get(step.verb)
        if spec is not None:
            _check_frame_arguments(step, spec, available)
        if spec is not None and spec.output_kind == "frame":
            available = _frame_step(step, available, makers)
            makers = {c: m for c, m in makers.items() if c in available}
            makers.update(dict.fromkeys(frame_columns(step, [])[1], step.line))
            continue
        made = _made(step)
        for name in made:
            where = makers.get(name)
            origin = "of the frame" if where is None else f"made by line {where}"
            check_replaced(step, [name], available, origin)
        makers.update(dict.fromkeys(made, step.line))
        available += [m for m in made if m not in available]
