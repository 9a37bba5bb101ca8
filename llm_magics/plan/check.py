"""Checking a parsed plan against the operations and the frame, before anything runs.

Every verb must be an operation or a mining step, every column must exist in the frame or be made
by an earlier step, and every key must be an argument of the verb's function. Errors name the
line and column and suggest the closest valid name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from llm_magics import ops
from llm_magics.errors import did_you_mean
from llm_magics.mining import mine
from llm_magics.plan.parse import Plan, PlanSyntaxError, Step

__all__ = ["VERBS", "check_plan", "default_outputs"]

_NOT_OPTIONS = {
    "texts",
    "frame",
    "text",
    "label",
    "target",
    "cols",
    "manager",
    "labels",
    "schema",
    "condition",
}


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **ops.OPERATIONS,
    "predict": mine,
    "finetune": ops.finetune,
}
VERBS = (*_FUNCTIONS, "explain")
"""Every verb of the plan language: the operations, then the mining steps."""


def options_of(verb: str) -> list[str]:
    """The keys a step of ``verb`` accepts."""
    if verb == "explain":
        return ["use_model"]
    function = _FUNCTIONS[verb]
    parameters = inspect.signature(function).parameters
    names = [n for n in parameters if n not in _NOT_OPTIONS]
    if verb == "classify":
        names.append("labels")
    return names


def default_outputs(step: Step) -> list[str]:
    """The columns a step adds to the frame when no ``-> OUTPUT`` names them."""
    column = step.columns[0] if step.columns else ""
    return {
        "clean": [column],
        "summarize": [f"{column}_summary"],
        "sentiment": ["sentiment", "sentiment_score"],
        "classify": ["label", "probability"],
        "filter": [f"{column}_match"],
        "keywords": [f"{column}_keywords"],
        "topics": ["topic", "topic_label"],
        "predict": [f"{step.target}_predicted"],
    }.get(step.verb, [])


def _column_of(step: Step, name: str) -> int:
    at = step.text.find(name)
    return at + 1 if at >= 0 else 1


def check_plan(plan: Plan, columns: Iterable[str]) -> None:
    """Raise ``PlanSyntaxError`` for the first step that cannot run on a frame with ``columns``."""
    available = [str(c) for c in columns]
    for step in plan.steps:
        if step.verb not in VERBS:
            raise PlanSyntaxError(
                f"unknown verb {step.verb!r}.{did_you_mean(step.verb, VERBS)} Verbs: {', '.join(VERBS)}.",
                line=step.line,
                column=_column_of(step, step.verb),
                text=step.text,
            )
        needed = list(step.columns) + ([step.target] if step.target else [])
        for name in needed:
            if name not in available:
                raise PlanSyntaxError(
                    f"no column {name!r}.{did_you_mean(name, available)} Columns here: {', '.join(available)}.",
                    line=step.line,
                    column=_column_of(step, name),
                    text=step.text,
                )
        if step.verb not in ("explain", "features", "predict") and not step.columns:
            raise PlanSyntaxError(
                f"{step.verb} needs a column: {step.verb} COLUMN ...",
                line=step.line,
                column=len(step.verb) + 1,
                text=step.text,
            )
        valid = options_of(step.verb)
        for key in step.options:
            if key not in valid:
                raise PlanSyntaxError(
                    f"{step.verb} takes no option {key!r}.{did_you_mean(key, valid)} Options: {', '.join(valid)}.",
                    line=step.line,
                    column=_column_of(step, f"{key}="),
                    text=step.text,
                )
        made = [o.split(":")[0] for o in step.outputs] or default_outputs(step)
        available += [m for m in made if m not in available]
