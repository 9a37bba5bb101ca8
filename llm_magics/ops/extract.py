"""``extract``: typed fields from free text, always valid for the schema.

Each field is asked for on its own, with the decoding its type needs, so no answer has to be
parsed out of free-form JSON:

- a list of choices: the chat model's calibrated probabilities over the choices (``score``,
  as ``classify`` does); the answer is always one of them;
- ``bool``: the calibrated probability of "yes" (as ``filter`` does);
- ``float`` / ``int``: generation restricted to tokens made of digits, ``.``, ``,`` and ``-``
  (``generate(allowed_tokens=...)``), then read as a number, kept only when the text contains it
  (``grounded=True``; the rule is ``llm_magics.ops.grounding``);
- ``str``: a short generated answer, first line, without the model's "The X is" preamble.

Why not a grammar engine (outlines) over one JSON object: it would bypass our engine's batching,
prefix reuse and cache, and per-field decoding is already valid by construction. A number that
still cannot be read (an empty answer, "1.2.3") becomes NaN, and so does one the text does not
contain (a small model asked for a score a review does not give answers 1000000000); one warning
counts each kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine import generate
from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError, did_you_mean, warn
from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.classify import score_labels
from llm_magics.ops.grounding import grounded_number, number_readings
from llm_magics.ops.prompts import render
from llm_magics.ops.spec import Bound, OpSpec, Setting, Uses

__all__ = ["SPEC", "extract", "parse_schema", "schema_of_text", "schema_text", "split_fields"]

NUMBER_TOKENS = r" ?([0-9.,-]+|[Nn]one)"
"""What a number answer may be made of: digits and separators, or "none" (the text gives no
such number). Without "none" the model had to name a number: asked for the price of 25 real
reviews, 23 of which give none, it named one for all 23 (the years a buyer had bought, a pack
size); with it, 8 of those 23 became NaN, and the two stated prices were read as before."""
_TYPE_NAMES = {"str": str, "float": float, "int": int, "bool": bool}
_NONE_ANSWERS = {"", "none", "n/a", "na", "unknown", "not mentioned", "nothing", "no"}


def parse_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with every type as ``str``, ``float``, ``int``, ``bool`` or a list of choices.

    Types may be given as the classes, their names (``"float"``) or lists / tuples of choices.

    Examples
    --------
    >>> parse_schema({"product": "str", "price": float, "problem": ("shipping", "none")})
    {'product': <class 'str'>, 'price': <class 'float'>, 'problem': ['shipping', 'none']}
    """
    if not isinstance(schema, Mapping) or not schema:
        msg = (
            "schema must be a non-empty dict of field: type, e.g. "
            '{"product": str, "price": float, "problem": ["shipping", "quality", "none"]}.'
        )
        raise InvalidArgumentError(msg)
    fields: dict[str, Any] = {}
    for name, kind in schema.items():
        if isinstance(kind, str) and kind in _TYPE_NAMES:
            kind = _TYPE_NAMES[kind]
        if isinstance(kind, Sequence) and not isinstance(kind, str):
            choices = [str(c) for c in kind]
            if len(choices) < 2 or len(set(choices)) != len(choices):
                msg = f"Field {name!r}: a list of choices needs at least two distinct ones, not {choices}."
                raise InvalidArgumentError(msg)
            fields[str(name)] = choices
        elif kind in (str, float, int, bool):
            fields[str(name)] = kind
        else:
            msg = (
                f"Field {name!r}: unknown type {kind!r}. Use str, float, int, bool or a list of "
                "choices."
            )
            raise InvalidArgumentError(msg)
    return fields


def _text_answer(answer: str, field: str) -> str | float:
    line = answer.strip().splitlines()[0] if answer.strip() else ""
    preamble = re.compile(
        rf"^(?:the\s+)?{re.escape(field)}(?:\s+(?:mentioned|in this text|in the text))?\s+(?:is|are|was)\s+",
        re.IGNORECASE,
    )
    line = preamble.sub("", line).strip(" \"'.*")
    return float("nan") if line.lower() in _NONE_ANSWERS else line


def _number(answer: str, text: str, kind: type, *, grounded: bool) -> float | int | str:
    """``answer`` as a ``kind`` number; ``"absent"`` (the model said the text gives none),
    ``"unreadable"`` or ``"ungrounded"`` where it is NaN.

    ``grounded``: only a number that ``text`` contains (``llm_magics.ops.grounding``) is kept,
    for ``int`` a whole one (rounding "12.99" would give 13, which the text does not say).
    """
    if answer.strip().lower().startswith("none"):
        return "absent"
    readings = number_readings(answer)
    if not readings:
        return "unreadable"
    if grounded:
        whole = [r for r in readings if kind is not int or r.is_integer()]
        value = grounded_number(whole, text)
    else:
        value = readings[0]
    if value is None:
        return "ungrounded"
    return round(value) if kind is int else value


def split_fields(text: str) -> list[str]:
    """``"a, b:[x, y], c"`` → ``["a", "b:[x, y]", "c"]`` (commas inside brackets stay).

    Examples
    --------
    >>> split_fields("item, price:float, problem:[late, none]")
    ['item', 'price:float', 'problem:[late, none]']
    """
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def schema_of_text(fields: str | Sequence[str]) -> dict[str, Any]:
    """A schema from the plan's output syntax: ``price:float`` → float, ``problem:[a, b]`` → choices.

    ``fields`` is the text after ``->`` (``"item, price:float"``) or its parts.

    Examples
    --------
    >>> schema_of_text("item, price:float, problem:[late, none]")
    {'item': 'str', 'price': 'float', 'problem': ['late', 'none']}
    """
    if isinstance(fields, str):
        if not fields.strip():
            msg = "Name the fields to extract, e.g. product, price:float, problem:[late, damaged, none]."
            raise InvalidArgumentError(msg)
        fields = split_fields(fields)
    schema: dict[str, Any] = {}
    for field in fields:
        name, _, kind = field.partition(":")
        name, kind = name.strip(), kind.strip() or "str"
        if kind.startswith("["):
            schema[name] = [c.strip().strip("'\"") for c in kind[1:-1].split(",") if c.strip()]
        elif kind in _TYPE_NAMES:
            schema[name] = kind
        else:
            types = ", ".join(_TYPE_NAMES)
            msg = (
                f"unknown type {kind!r} for {name!r}.{did_you_mean(kind, list(_TYPE_NAMES))} "
                f"Types: {types} or [choice, ...]."
            )
            raise InvalidArgumentError(msg)
    return schema


def schema_text(schema: Any) -> str:
    """A schema as the plan's output syntax: ``{"price": float}`` → ``"price:float"``."""
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


SPEC = OpSpec(
    name="extract",
    uses=(Uses("chat", "generate"),),
    output_kind="schema",
    prompts=("extract_choice", "extract_text", "extract_number"),
    argument="schema",
    plan_argument="outputs",
    example="extract review -> item, price:float, problem:[shipping, quality, none]",
    tunable=(
        Setting(
            "schema",
            "text",
            "fields",
            placeholder="product, price:float, problem:[late, damaged, none]",
            parse=schema_of_text,
            show=schema_text,
            required=True,
        ),
        Setting("max_words", "int", "max words", low=1, high=30, step=1),
        Setting("calibrate", "bool", "calibrate"),
    ),
    result_name="fields",
    bounds={
        "max_words": Bound(1, whole=True, what="words"),
    },
)


@operation(SPEC)
def extract(
    texts: pd.Series,
    schema: Mapping[str, Any],
    *,
    max_words: int = 6,
    calibrate: bool = True,
    grounded: bool = True,
    **engine: Any,
) -> pd.DataFrame:
    """One typed column per field of ``schema``, read from each text by the chat model.

    Parameters
    ----------
    texts
        The text column.
    schema
        ``{field: type}`` with types ``str``, ``float``, ``int``, ``bool`` (or their names) or a
        list of choices, e.g. ``{"product": str, "price": float, "problem": ["shipping",
        "quality", "price", "none"]}``.
    max_words
        The longest ``str`` answer, in words.
    calibrate
        Contextual calibration of choice and ``bool`` fields (see ``classify``).
    grounded
        Keep a ``float`` / ``int`` answer only where the text contains that number, in digits
        of any width (``"1,299"``, ``"4,5"``, ``"20%"``, ``"1.5 million"``, ``"５星"``) or in
        English, German or Chinese words (``"five"``, ``"fünf"``, ``"五"``); other answers
        become NaN, counted in one warning. An ``int`` field keeps only a whole number
        (``"3.6 stars"`` gives NaN, not 4: ask for a ``float``). The rule is
        ``llm_magics.ops.grounding.numbers_in``. Pass ``False`` when a field is computed
        rather than quoted (a count of the items a text lists, a total), which a text need not
        contain.

    Returns
    -------
    pandas.DataFrame
        One column per field on the same index: ``str`` → object, ``float`` → float64, ``int`` →
        Int64, ``bool`` → boolean, choices → category; missing texts give missing values.
        ``attrs["llm_magics"]`` counts per number field the answers that could not be read
        (``"unreadable"``), those the text does not contain (``"ungrounded"``) and the rows
        whose text, the model said, gives none (``"absent"``: NaN without a warning); where a
        choice or yes/no field went through the cascade, ``"cascades"`` holds its report by field
        (as ``sentiment``'s ``"cascade"``).

    Examples
    --------
    >>> reviews = pd.Series(["Five stars, and only $12.99 for 3 boxes.", "Tasty."])
    >>> extract(reviews, {"price": float}, progress=False)  # doctest: +SKIP
       price
    0  12.99
    1    NaN
    """
    fields = parse_schema(schema)
    column = TextColumn.of(texts, "extract")
    steps: list[Provenance] = []
    columns: dict[str, tuple[Sequence[Any], str]] = {}
    unreadable: dict[str, int] = {}
    ungrounded: dict[str, int] = {}
    cascades: dict[str, dict[str, Any]] = {}
    stated_none: dict[str, int] = {}
    for name, kind in fields.items():
        label = name.replace("_", " ")
        if isinstance(kind, list) or kind is bool:
            choices = ["yes", "no"] if kind is bool else kind
            template = "extract_bool" if kind is bool else "extract_choice"
            scored = score_labels(
                column.texts,
                choices,
                lambda t, template=template, label=label, choices=choices: render(
                    template, field=label, choices=", ".join(choices), text=t
                ),
                calibrate=calibrate,
                **engine,
            )
            steps += scored.provenance
            if scored.cascade is not None:
                cascades[name] = scored.cascade.to_dict()
            best = scored.probs.argmax(axis=1) if len(scored.probs) else np.zeros(0, dtype=int)
            if kind is bool:
                columns[name] = ([bool(i == 0) for i in best], "boolean")
            else:
                columns[name] = ([choices[i] for i in best], "object")
        elif kind is str:
            out = generate(
                [render("extract_text", field=label, text=t) for t in column.texts],
                max_new_tokens=int(max_words * 1.6) + 4,
                **engine,
            )
            steps.append(out.provenance)
            values = [_text_answer(a, label) for a in out.texts]
            columns[name] = (
                [" ".join(str(v).split()[:max_words]) if isinstance(v, str) else v for v in values],
                "object",
            )
        else:
            out = generate(
                [render("extract_number", field=label, text=t) for t in column.texts],
                max_new_tokens=10,
                allowed_tokens=NUMBER_TOKENS,
                **engine,
            )
            steps.append(out.provenance)
            numbers = [
                _number(a, t, kind, grounded=grounded)
                for a, t in zip(out.texts, column.texts, strict=True)
            ]
            unreadable[name] = numbers.count("unreadable")
            stated_none[name] = numbers.count("absent")
            ungrounded[name] = numbers.count("ungrounded")
            columns[name] = (
                [np.nan if isinstance(n, str) else n for n in numbers],
                "Int64" if kind is int else "float64",
            )
    result = column.frame(columns)
    for name, kind in fields.items():
        if isinstance(kind, list):
            result[name] = pd.Categorical(result[name], categories=kind)
    _warn_numbers(unreadable, ungrounded, len(column.texts))
    record_provenance(
        result,
        "extract",
        {"schema": {k: v if isinstance(v, list) else v.__name__ for k, v in fields.items()}},
        steps,
    )
    result.attrs["llm_magics"]["unreadable"] = unreadable
    result.attrs["llm_magics"]["absent"] = stated_none
    result.attrs["llm_magics"]["ungrounded"] = ungrounded
    if cascades:  # a choice or yes/no field answered through the cascade: its report, by field
        result.attrs["llm_magics"]["cascades"] = cascades
    return result


def _warn_numbers(unreadable: dict[str, int], ungrounded: dict[str, int], rows: int) -> None:
    """One warning per kind of NaN number: those not read, those not in their text."""
    failed = {k: v for k, v in unreadable.items() if v}
    if failed:
        warn(
            "extract(): answers that could not be read as numbers became NaN: "
            + ", ".join(f"{k}: {v} of {rows}" for k, v in failed.items())
            + "."
        )
    absent = [f"{v} of {rows} {k!r}" for k, v in ungrounded.items() if v]
    if absent:
        warn(
            f"extract(): {' and '.join(absent)} values were not in their text: set to NaN (the "
            "model gave a number the text does not contain, or a fraction for an int field). If a "
            "field is computed rather than quoted (a count, a total), pass grounded=False."
        )
