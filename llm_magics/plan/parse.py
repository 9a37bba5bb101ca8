"""The plan language of ``%%mine`` and ``llm-mine run``: one step per line.

::

    VERB COLUMN[, COLUMN ...] ["positional text"] [-> OUTPUT[, OUTPUT ...]] [key=value ...]

``#`` starts a comment (outside quotes); strings are quoted with ``"`` or ``'``; ``[a, b]`` is a
list; ``{name}`` is replaced by the value of ``name`` from the namespace given to ``parse_plan``
(the notebook's variables). ``predict TARGET from COLUMN, ...`` names its target first. Values are
read as Python literals where they are ones (``k=6``, ``calibrate=False``, ``labels=["a", "b"]``),
else kept as text (``model=default-chat``).

Parsing checks the shape of every line; ``check_plan`` then checks verbs, columns and keys against
the operations and the frame, before any model is loaded. Every error names the line and column,
what was expected, and the closest valid name.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_magics.errors import InvalidArgumentError

__all__ = ["Plan", "PlanSyntaxError", "Step", "parse_plan"]

_INTERPOLATION = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
_NAME = re.compile(r"[A-Za-z_][\w.\-:]*")


class PlanSyntaxError(InvalidArgumentError):
    """A plan that cannot be read: where, what was expected, and a suggestion."""

    def __init__(self, message: str, *, line: int, column: int, text: str = "") -> None:
        self.line, self.column, self.text = line, column, text
        pointer = f"\n    {text}\n    {' ' * (column - 1)}^" if text else ""
        super().__init__(f"line {line}, column {column}: {message}{pointer}")


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "string", "list", "arrow", "comma", "option"
    value: Any
    column: int
    raw: str


@dataclass(frozen=True)
class Step:
    """One line of a plan."""

    verb: str
    columns: tuple[str, ...]
    outputs: tuple[str, ...] = ()
    arguments: tuple[Any, ...] = ()  # quoted positional texts (filter's condition ...)
    options: Mapping[str, Any] = field(default_factory=dict)
    target: str | None = None  # predict TARGET from ...
    line: int = 0
    text: str = ""  # the whole line, as written
    code: str = ""  # the line without its comment and surrounding blanks


@dataclass(frozen=True)
class Plan:
    """The steps of a plan, in order."""

    steps: tuple[Step, ...]
    source: str = ""

    def __len__(self) -> int:
        return len(self.steps)


def _interpolate(text: str, namespace: Mapping[str, Any] | None, line: int) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        head, *rest = name.split(".")
        if namespace is None or head not in namespace:
            raise PlanSyntaxError(
                f"{{{name}}} names no variable; define {head!r} first or remove the braces.",
                line=line,
                column=match.start() + 1,
                text=text,
            )
        found = namespace[head]
        for attribute in rest:
            if not hasattr(found, attribute):
                raise PlanSyntaxError(
                    f"{{{name}}}: {type(found).__name__} {head!r} has no attribute {attribute!r}.",
                    line=line,
                    column=match.start() + 1,
                    text=text,
                )
            found = getattr(found, attribute)
        return repr(found) if not isinstance(found, str) else found

    return _INTERPOLATION.sub(value, text)


def _literal(raw: str) -> Any:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        if raw.startswith("[") and raw.endswith("]"):  # plain words: labels=[taste, price]
            return [_literal(item.strip()) for item in raw[1:-1].split(",") if item.strip()]
        return raw


def _tokens(text: str, line: int) -> list[Token]:
    """Split one line into tokens, keeping quoted strings and bracketed lists whole."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "#":
            break
        elif char == ",":
            tokens.append(Token("comma", ",", i + 1, ","))
            i += 1
        elif text.startswith("->", i):
            tokens.append(Token("arrow", "->", i + 1, "->"))
            i += 2
        elif char in "\"'":
            end = _closing_quote(text, i, line)
            raw = text[i : end + 1]
            tokens.append(Token("string", _literal(raw), i + 1, raw))
            i = end + 1
        else:
            start = opened = i
            depth = 0
            while i < n:
                c = text[i]
                if c in "\"'":
                    i = _closing_quote(text, i, line) + 1
                    continue
                if c == "[":
                    opened = i if depth == 0 else opened
                    depth += 1
                elif c == "]":
                    depth -= 1
                    if depth < 0:
                        raise PlanSyntaxError(
                            "a ']' closes no '['.", line=line, column=i + 1, text=text
                        )
                elif depth == 0 and (c.isspace() or c in ",#" or text.startswith("->", i)):
                    break
                i += 1
            if depth > 0:
                raise PlanSyntaxError(
                    "a '[' is never closed; add ']'.", line=line, column=opened + 1, text=text
                )
            raw = text[start:i]
            if "=" in raw and not raw.startswith(("=", "[")):
                key, _, value = raw.partition("=")
                if not _NAME.fullmatch(key):
                    raise PlanSyntaxError(
                        f"{key!r} is not an option name; options are written key=value.",
                        line=line,
                        column=start + 1,
                        text=text,
                    )
                if not value:
                    raise PlanSyntaxError(
                        f"option {key!r} has no value; write {key}=VALUE.",
                        line=line,
                        column=start + len(key) + 2,
                        text=text,
                    )
                tokens.append(Token("option", (key, _literal(value)), start + 1, raw))
            elif raw.startswith("["):
                tokens.append(Token("list", _literal(raw), start + 1, raw))
            else:
                tokens.append(Token("word", raw, start + 1, raw))
    return tokens


def _closing_quote(text: str, start: int, line: int) -> int:
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    raise PlanSyntaxError(
        f"the string opened here is never closed; add {quote}.",
        line=line,
        column=start + 1,
        text=text,
    )


def _names(tokens: list[Token], what: str, line: int, text: str) -> tuple[list[str], list[Token]]:
    """Comma-separated words (``price:float`` and ``problem:[a, b]`` count as one) at the front."""
    names: list[str] = []
    expect_name = True
    while tokens:
        token = tokens[0]
        if expect_name and token.kind == "word":
            names.append(token.value)
            tokens = tokens[1:]
            expect_name = False
        elif not expect_name and token.kind == "comma":
            tokens = tokens[1:]
            expect_name = True
        elif expect_name and token.kind == "list" and names:
            raise PlanSyntaxError(
                f"a list needs a name before it, as in name:{token.raw}.",
                line=line,
                column=token.column,
                text=text,
            )
        else:
            break
    if names and expect_name:
        raise PlanSyntaxError(
            f"expected another {what} after ','.",
            line=line,
            column=len(text) + 1 if not tokens else tokens[0].column,
            text=text,
        )
    return names, tokens


def _step(text: str, line: int) -> Step | None:
    tokens = _tokens(text, line)
    if not tokens:
        return None
    head = tokens[0]
    if head.kind != "word" or not _NAME.fullmatch(head.value):
        raise PlanSyntaxError(
            "expected a verb (summarize, sentiment, ...) at the start of the line.",
            line=line,
            column=head.column,
            text=text,
        )
    verb, rest = head.value, tokens[1:]
    target = None
    if verb == "predict":
        if not rest or rest[0].kind != "word":
            raise PlanSyntaxError(
                "expected the target column: predict TARGET from COLUMN, ...",
                line=line,
                column=rest[0].column if rest else len(text) + 1,
                text=text,
            )
        target, rest = rest[0].value, rest[1:]
        if rest and rest[0].kind == "word" and rest[0].value == "from":
            rest = rest[1:]
    columns, rest = _names(rest, "column", line, text)
    arguments = []
    while rest and rest[0].kind == "string":
        arguments.append(rest[0].value)
        rest = rest[1:]
    outputs: list[str] = []
    if rest and rest[0].kind == "arrow":
        outputs, rest = _names(rest[1:], "output name", line, text)
        if not outputs:
            raise PlanSyntaxError(
                "expected an output name after '->'.",
                line=line,
                column=rest[0].column if rest else len(text) + 1,
                text=text,
            )
    options: dict[str, Any] = {}
    for token in rest:
        if token.kind == "arrow" and options:
            raise PlanSyntaxError(
                "'->' comes before the options: VERB COLUMN -> OUTPUT key=value.",
                line=line,
                column=token.column,
                text=text,
            )
        if token.kind != "option":
            expected = "an option key=value" + ("" if outputs else ", '->' and output names")
            raise PlanSyntaxError(
                f"unexpected {token.raw!r}; expected {expected}.",
                line=line,
                column=token.column,
                text=text,
            )
        key, value = token.value
        if key in options:
            raise PlanSyntaxError(
                f"option {key!r} is given twice.", line=line, column=token.column, text=text
            )
        options[key] = value
    last = tokens[-1]
    code = text[: last.column - 1 + len(last.raw)].strip()
    return Step(
        verb, tuple(columns), tuple(outputs), tuple(arguments), options, target, line, text, code
    )


def parse_plan(source: str, namespace: Mapping[str, Any] | None = None) -> Plan:
    """Read a plan; ``{name}`` takes its value from ``namespace``.

    Examples
    --------
    >>> plan = parse_plan('summarize review -> summary  max_words=15\\nfilter review "mentions tea"')
    >>> [(s.verb, s.columns, s.outputs, s.arguments, dict(s.options)) for s in plan.steps]
    [('summarize', ('review',), ('summary',), (), {'max_words': 15}), ('filter', ('review',), (), ('mentions tea',), {})]
    """
    if not isinstance(source, str):
        msg = f"A plan is text, not {type(source).__name__}."
        raise InvalidArgumentError(msg)
    steps = []
    for number, raw in enumerate(source.splitlines(), start=1):
        text = _interpolate(raw, namespace, number) if "{" in raw else raw
        step = _step(text, number)
        if step is not None:
            steps.append(step)
    return Plan(tuple(steps), source)
