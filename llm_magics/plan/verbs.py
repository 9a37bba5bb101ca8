"""The verbs of the plan language: what each one calls, accepts, makes, loads, and an example.

A verb is an operation of ``llm_magics.ops`` (its keys are the op's keyword arguments) or a mining
step: ``predict`` (``llm_magics.mine``), ``explain`` (``MiningResult.explain``) and ``finetune``.
Everything here is read off the functions' signatures, so a new op argument is a new plan key.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from llm_magics import ops
from llm_magics.errors import InvalidArgumentError, did_you_mean
from llm_magics.mining import mine
from llm_magics.plan.parse import Step

__all__ = [
    "EXAMPLES",
    "OVERWRITE",
    "VERBS",
    "default_outputs",
    "describe",
    "function_of",
    "models_for",
    "options_of",
    "output_schema",
]

# Arguments a plan line gives by position, or that the runner passes itself.
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
    "progress",
    "cache",
}

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **ops.OPERATIONS,
    "predict": mine,
    "finetune": ops.finetune,
}

EXAMPLES = {
    "clean": "clean review                      # strip HTML, fix unicode, mask emails/phones/cards",
    "summarize": "summarize review -> summary  max_words=15",
    "classify": "classify review -> aspect  labels=[taste, price, shipping]",
    "sentiment": "sentiment review                  # adds sentiment, sentiment_score",
    "extract": "extract review -> item, price:float, problem:[shipping, quality, none]",
    "filter": 'filter review "mentions delivery" -> about_delivery',
    "embed": "embed review -> vec  dims=8",
    "keywords": "keywords review  top=5",
    "topics": "topics review  k=6                # adds topic, topic_label",
    "features": "features review                   # numeric text features, prefixed review_",
    "predict": "predict score from review, product  budget=10",
    "explain": "explain                           # after predict: a checked narrative",
    "finetune": "finetune review, score -> my-classifier  epochs=2",
}
"""One example line per verb (``%mine help VERB``, the sidebar's templates)."""

VERBS = tuple(EXAMPLES)
"""Every verb of the plan language: the operations, then the mining steps."""

OVERWRITE = "overwrite"
"""The plan key that lets a step replace a column that exists already (``overwrite=True``)."""

_MAKE_NO_COLUMNS = ("explain", "finetune")

_TYPES = ("str", "float", "int", "bool")


def function_of(verb: str) -> Callable[..., Any]:
    """The function a step of ``verb`` calls."""
    return _FUNCTIONS[verb]


def options_of(verb: str) -> list[str]:
    """The keys a step of ``verb`` accepts."""
    if verb == "explain":
        return ["use_model"]
    parameters = inspect.signature(_FUNCTIONS[verb]).parameters
    names = [n for n in parameters if n not in _NOT_OPTIONS]
    if verb == "classify":
        names.append("labels")
    if verb not in _MAKE_NO_COLUMNS:
        names.append(OVERWRITE)
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


def output_schema(step: Step) -> dict[str, Any]:
    """``extract``'s outputs as a schema: ``price:float`` → float, ``problem:[a, b]`` → choices.

    Examples
    --------
    >>> from llm_magics.plan import parse_plan
    >>> output_schema(parse_plan("extract review -> item, price:float, problem:[late, none]").steps[0])
    {'item': 'str', 'price': 'float', 'problem': ['late', 'none']}
    """
    schema: dict[str, Any] = {}
    for output in step.outputs:
        name, _, kind = output.partition(":")
        kind = kind.strip() or "str"
        if kind.startswith("["):
            schema[name] = [c.strip().strip("'\"") for c in kind[1:-1].split(",") if c.strip()]
        elif kind in _TYPES:
            schema[name] = kind
        else:
            msg = f"unknown type {kind!r} for {name!r}.{did_you_mean(kind, _TYPES)} Types: {', '.join(_TYPES)} or [choice, ...]."
            raise InvalidArgumentError(msg)
    return schema


def models_for(step: Step, *, chat: str, embed: str) -> list[tuple[str, str]]:
    """``(role, model)`` pairs a step will use, given the cell's default chat and embed models."""
    options = step.options
    model = options.get("model")
    verb = step.verb
    if verb in ("summarize", "sentiment", "extract"):
        return [("chat", model or chat)]
    if verb in ("classify", "filter"):
        method = options.get("method", "embed")
        if method == "finetuned":
            return [("classifier", model or "")]
        return [("embed", model or embed)] if method == "embed" else [("chat", model or chat)]
    if verb in ("embed", "keywords"):
        return [("embed", model or embed)]
    if verb in ("topics", "features", "predict"):
        pairs = [("embed", model or embed)]
        kinds = options.get("kinds", ops.FEATURE_KINDS)
        wants_chat = options.get("label", True) if verb == "topics" else "sentiment" in kinds
        if wants_chat:
            pairs.append(("chat", options.get("chat_model") or chat))
        return pairs
    if verb == "finetune":
        return [("embed", model or "default-embed")]
    if verb == "explain" and options.get("use_model", True):
        return [("chat", chat)]
    return []


def describe(verb: str) -> str:
    """Help for one verb: what it does, its keys with their defaults, what it adds, an example."""
    if verb not in VERBS:
        msg = f"Unknown verb {verb!r}.{did_you_mean(verb, VERBS)} Verbs: {', '.join(VERBS)}."
        raise InvalidArgumentError(msg)
    if verb == "explain":
        summary, keys = (
            "A short narrative of the last predict step's result, numbers checked.",
            {"use_model": True},
        )
    else:
        function = _FUNCTIONS[verb]
        summary = (inspect.getdoc(function) or "").split("\n\n")[0]
        parameters = inspect.signature(function).parameters
        keys = {
            name: parameters[name].default
            if parameters[name].default is not inspect.Parameter.empty
            else "(required)"
            for name in options_of(verb)
            if name in parameters
        }
        if verb == "classify":
            keys["labels"] = "(required)"
        if verb not in _MAKE_NO_COLUMNS:
            keys[OVERWRITE] = False
    made = default_outputs(Step(verb, ("COLUMN",), target="TARGET"))
    lines = [f"{verb}: {summary}", "", f"  {EXAMPLES[verb]}", "", "Keys:"]
    lines += [f"  {name}={value!r}" for name, value in keys.items()]
    if made:
        lines += ["", f"Adds (without -> OUTPUT): {', '.join(made)}"]
    return "\n".join(lines)
