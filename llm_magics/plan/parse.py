"""The plan language of ``%%mine`` and ``llm-mine run``: one step per line.

::

    VERB COLUMN[, COLUMN ...] [by NAME, ...] [with TABLE] ["text"] [-> OUTPUT, ...] ["text"] [key=value ...]

``#`` starts a comment (outside quotes); strings are quoted with ``"`` or ``'``; ``[a, b]`` is a
list. ``predict TARGET from COLUMN, ...`` names its target first. Values are read as Python
literals where they are ones (``k=6``, ``calibrate=False``, ``labels=["a", "b"]``), else kept as
text (``model=default-chat``).

``{name}`` (or ``{name.attribute}``) takes the value of ``name`` from the namespace given to
``parse_plan`` (the notebook's variables), as IPython expands ``{name}`` in a command line:

- standing alone, as a column, a quoted text or an option (``filter {col} {condition}``,
  ``top={n}``), it is the variable's value itself, whatever characters a text holds (quotes,
  spaces, ``#``, braces) and whatever its type (a list stays a list);
- inside a quoted string, like an f-string, its text is put in place (``"mentions {thing}"``);
- inside a longer word, its text too (``{prefix}_summary``); inside a list, its value;
- after ``#`` nothing is expanded: a comment is never read.

``{{`` and ``}}`` are a literal ``{`` and ``}`` everywhere (``instruction="Answer {{yes}}"``);
``plan_value`` writes any value so that it reads back the same.

A connector word after the columns gives an option a plain phrase (``CONNECTORS``): ``by NAME[,
NAME]`` the columns to group by (``options["by"]``, a list: ``aggregate review by product``) and
``with TABLE`` the other table (``options["right"]``: ``join ticket with {issues} ...``, a lone
``{name}`` being the DataFrame itself, a word or a quoted text a file path). The quoted text may
also come after the outputs (``aggregate review by product -> complaints "What ..."``), as one
reads the line aloud.

Parsing checks the shape of every line; ``check_plan`` then checks verbs, columns and keys against
the operations and the frame, before any model is loaded. Every error names the line and column,
what was expected, and the closest valid name.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.spec import STEPS

__all__ = ["CONNECTORS", "Plan", "PlanSyntaxError", "Step", "parse_plan", "plan_value"]

_VARIABLE = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"  # name or name.attribute
_INTERPOLATION = re.compile(rf"\{{\{{|\}}\}}|\{{({_VARIABLE})\}}")  # {{, }} or {name}
_ALONE = re.compile(rf"\{{({_VARIABLE})\}}")
_NAME = re.compile(r"[A-Za-z_][\w.\-:]*")
_PLAIN = re.compile(r"[A-Za-z_][\w.\-/]*")
_PLAIN_KEYWORDS = {"True", "False", "None", "from"}

CONNECTORS: dict[str, tuple[str, bool]] = {"by": ("by", True), "with": ("right", False)}
"""Connector word → the option it gives, and whether it takes names (``by a, b``: a list) or one
value (``with {table}``)."""


class PlanSyntaxError(InvalidArgumentError):
    """A plan that cannot be read: where, what was expected, and a suggestion."""

    def __init__(self, message: str, *, line: int, column: int, text: str = "") -> None:
        self.line, self.column, self.text = line, column, text
        pointer = f"\n    {text}\n    {' ' * (column - 1)}^" if text else ""
        super().__init__(f"line {line}, column {column}: {message}{pointer}")


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "string", "list", "arrow", "comma", "option", "value" (a lone {name})
    value: Any
    column: int
    raw: str
    shown: str | None = None  # how the token reads with its {name}s expanded, if it has any

    @property
    def is_text(self) -> bool:
        """Whether this is a name or a text: a word, or a lone ``{name}`` that holds a str."""
        return self.kind == "word" or (self.kind == "value" and isinstance(self.value, str))


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
    text: str = ""  # the whole line, as written but with each {name} replaced by its value
    code: str = ""  # the line without its comment and surrounding blanks


@dataclass(frozen=True)
class Plan:
    """The steps of a plan, in order."""

    steps: tuple[Step, ...]
    source: str = ""

    def __len__(self) -> int:
        return len(self.steps)


def plan_value(value: Any, *, quoted: bool = False) -> str:
    """``value`` as the plan language reads it back (a plain word where one is enough).

    Braces are doubled, so a text holding ``{text}`` stays that text and is not expanded;
    ``quoted`` writes a text in quotes even where a word would do (``filter``'s condition).

    Examples
    --------
    >>> plan_value("default-chat"), plan_value("two words"), plan_value(["a", "b"]), plan_value(0.5)
    ('default-chat', "'two words'", "['a', 'b']", '0.5')
    >>> plan_value("Summarize {text}")
    "'Summarize {{text}}'"
    """
    return _redouble(repr(value) if quoted and isinstance(value, str) else _written(value))


def _written(value: Any) -> str:
    """``value`` as a plan token, braces as they are (what a lone ``{name}`` stands for)."""
    if isinstance(value, str):
        plain = _PLAIN.fullmatch(value) and value not in _PLAIN_KEYWORDS and "->" not in value
        return value if plain else repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return repr(value)


@dataclass(frozen=True)
class _Expander:
    """Expands ``{name}`` in one line from ``namespace``; errors point into the line as written."""

    namespace: Mapping[str, Any] | None
    line: int
    text: str

    def value(self, name: str, column: int) -> Any:
        head, *rest = name.split(".")
        if self.namespace is None or head not in self.namespace:
            msg = (
                f"{{{name}}} names no variable; define {head!r} first, or write {{{{{name}}}}} "
                "for the braces themselves."
            )
            raise PlanSyntaxError(msg, line=self.line, column=column, text=self.text)
        found = self.namespace[head]
        for attribute in rest:
            if not hasattr(found, attribute):
                msg = f"{{{name}}}: {type(found).__name__} {head!r} has no attribute {attribute!r}."
                raise PlanSyntaxError(msg, line=self.line, column=column, text=self.text)
            found = getattr(found, attribute)
        return found

    def alone(self, raw: str, column: int) -> tuple[bool, Any]:
        """Whether ``raw`` is one ``{name}`` and nothing else, and then the value it names."""
        match = _ALONE.fullmatch(raw)
        return (True, self.value(match.group(1), column)) if match else (False, None)

    def within(self, raw: str, column: int, write: Callable[[Any], str] = str) -> str:
        """``raw`` with ``{{``, ``}}`` and each ``{name}`` replaced (by ``write(value)``)."""
        if "{" not in raw and "}" not in raw:
            return raw

        def replace(match: re.Match[str]) -> str:
            if match.group(1) is None:
                return match.group(0)[0]
            return write(self.value(match.group(1), column + match.start()))

        return _INTERPOLATION.sub(replace, raw)


def _literal(raw: str) -> Any:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        if raw.startswith("[") and raw.endswith("]"):  # plain words: labels=[taste, price]
            return [_literal(item.strip()) for item in raw[1:-1].split(",") if item.strip()]
        return raw


def _redouble(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _tokens(text: str, line: int, expander: _Expander) -> tuple[list[Token], int]:
    """Split one line into tokens, keeping quoted strings and bracketed lists whole.

    Also returns where the comment starts (the line's length without one).
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "#":
            return tokens, i
        elif char == ",":
            tokens.append(Token("comma", ",", i + 1, ","))
            i += 1
        elif text.startswith("->", i):
            tokens.append(Token("arrow", "->", i + 1, "->"))
            i += 2
        elif char in "\"'":
            token, i = _string(text, i, line, expander)
            tokens.append(token)
        else:
            start, i = i, _word_end(text, i, line)
            tokens.append(_word(text[start:i], start + 1, line, text, expander))
    return tokens, n


def _string(text: str, start: int, line: int, expander: _Expander) -> tuple[Token, int]:
    """The quoted string at ``start`` (``{name}`` inside it expanded), and where it ends."""
    end = _closing_quote(text, start, line)
    raw = text[start : end + 1]
    value = _literal(raw)
    shown = None
    if isinstance(value, str) and ("{" in raw or "}" in raw):
        value = expander.within(value, start + 2)
        shown = _redouble(repr(value))
    return Token("string", value, start + 1, raw, shown), end + 1


def _word_end(text: str, start: int, line: int) -> int:
    """Where the unquoted token at ``start`` ends: a space, ``,``, ``#`` or ``->`` outside brackets."""
    i, opened, depth = start, start, 0
    while i < len(text):
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
                msg = "a ']' closes no '['."
                raise PlanSyntaxError(msg, line=line, column=i + 1, text=text)
        elif depth == 0 and (c.isspace() or c in ",#" or text.startswith("->", i)):
            break
        i += 1
    if depth > 0:
        msg = "a '[' is never closed; add ']'."
        raise PlanSyntaxError(msg, line=line, column=opened + 1, text=text)
    return i


def _word(raw: str, column: int, line: int, text: str, expander: _Expander) -> Token:
    """An unquoted token: an option, a list, a lone ``{name}`` or a word."""
    braces = "{" in raw or "}" in raw
    if "=" in raw and not raw.startswith(("=", "[")):
        key, _, value = raw.partition("=")
        if not _NAME.fullmatch(key):
            msg = f"{key!r} is not an option name; options are written key=value."
            raise PlanSyntaxError(msg, line=line, column=column, text=text)
        if not value:
            msg = f"option {key!r} has no value; write {key}=VALUE."
            raise PlanSyntaxError(msg, line=line, column=column + len(key) + 1, text=text)
        if not braces:
            return Token("option", (key, _literal(value)), column, raw)
        at = column + len(key) + 1
        alone, found = expander.alone(value, at)
        if alone:
            return Token("option", (key, found), column, raw, f"{key}={plan_value(found)}")
        write = _written if value.startswith("[") else str
        expanded = expander.within(value, at, write)
        return Token(
            "option", (key, _literal(expanded)), column, raw, f"{key}={_redouble(expanded)}"
        )
    if raw.startswith("["):
        expanded = expander.within(raw, column, _written) if braces else raw
        return Token(
            "list", _literal(expanded), column, raw, _redouble(expanded) if braces else None
        )
    if not braces:
        return Token("word", raw, column, raw)
    alone, found = expander.alone(raw, column)
    if alone:  # a value whose text spans lines (a DataFrame) is written back as {name}
        shown = plan_value(found)
        return Token("value", found, column, raw, None if "\n" in shown else shown)
    expanded = expander.within(raw, column)
    return Token("word", expanded, column, raw, _redouble(expanded))


def _closing_quote(text: str, start: int, line: int) -> int:
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    msg = f"the string opened here is never closed; add {quote}."
    raise PlanSyntaxError(msg, line=line, column=start + 1, text=text)


def _names(tokens: list[Token], what: str, line: int, text: str) -> tuple[list[str], list[Token]]:
    """Comma-separated words (``price:float`` and ``problem:[a, b]`` count as one) at the front."""
    names: list[str] = []
    expect_name = True
    while tokens:
        token = tokens[0]
        if expect_name and token.is_text:
            names.append(token.value)
            tokens = tokens[1:]
            expect_name = False
        elif not expect_name and token.kind == "comma":
            tokens = tokens[1:]
            expect_name = True
        elif expect_name and token.kind == "list" and names:
            msg = f"a list needs a name before it, as in name:{token.raw}."
            raise PlanSyntaxError(msg, line=line, column=token.column, text=text)
        else:
            break
    if names and expect_name:
        msg = f"expected another {what} after ','."
        raise PlanSyntaxError(
            msg, line=line, column=len(text) + 1 if not tokens else tokens[0].column, text=text
        )
    return names, tokens


def _step(text: str, line: int, expander: _Expander) -> Step | None:
    tokens, comment = _tokens(text, line, expander)
    if not tokens:
        return None
    verb, target, rest = _head(tokens, line, text)
    if len(rest) > 1 and rest[0].kind == "word" and rest[0].value in CONNECTORS and rest[1].is_text:
        msg = (
            f"expected the text column before {rest[0].value!r}: {verb} COLUMN {rest[0].value} ..."
        )
        raise PlanSyntaxError(msg, line=line, column=rest[0].column, text=text)
    columns, rest = _names(rest, "column", line, text)
    connected, rest = _connectors(rest, line, text)
    quoted: set[int] = set()
    arguments, rest = _quoted(rest, quoted)
    outputs, rest = _outputs(rest, line, text)
    if outputs:
        more, rest = _quoted(rest, quoted)
        arguments += more
    options = _options(rest, bool(outputs), line, text)
    for key, (token, _) in connected.items():
        if key in options:
            msg = f"option {key!r} is given twice ({token.raw} ... and {key}=)."
            raise PlanSyntaxError(msg, line=line, column=token.column, text=text)
    options = {key: value for key, (_, value) in connected.items()} | options
    code = _code(tokens, quoted, text, comment)
    return Step(
        verb,
        tuple(columns),
        tuple(outputs),
        tuple(arguments),
        options,
        target,
        line,
        code + text[comment:],
        code.strip(),
    )


def _quoted(tokens: list[Token], quoted: set[int]) -> tuple[list[str], list[Token]]:
    """The quoted texts (and lone ``{name}``s holding text) at the front of ``tokens``."""
    arguments = []
    while tokens and tokens[0].kind in ("string", "value") and isinstance(tokens[0].value, str):
        arguments.append(tokens[0].value)
        quoted.add(tokens[0].column)  # a {name} read as a quoted text is written back quoted
        tokens = tokens[1:]
    return arguments, tokens


def _connectors(
    tokens: list[Token], line: int, text: str
) -> tuple[dict[str, tuple[Token, Any]], list[Token]]:
    """The ``by NAME, ...`` and ``with TABLE`` phrases after the columns: option → (word, value)."""
    found: dict[str, tuple[Token, Any]] = {}
    while tokens and tokens[0].kind == "word" and tokens[0].value in CONNECTORS:
        word, rest = tokens[0], tokens[1:]
        key, takes_names = CONNECTORS[word.value]
        if key in found:
            msg = f"{word.value!r} is given twice; write {word.value} once."
            raise PlanSyntaxError(msg, line=line, column=word.column, text=text)
        end = rest[0].column if rest else len(text) + 1
        if takes_names:
            names, rest = _names(rest, "column", line, text)
            if not names:
                msg = f"expected a column after {word.value!r}: {word.value} NAME[, NAME ...]."
                raise PlanSyntaxError(msg, line=line, column=end, text=text)
            found[key] = (word, names)
        else:
            if not rest or rest[0].kind not in ("word", "string", "value"):
                msg = (
                    f"expected a table after {word.value!r}: {word.value} {{name}}, or a file path."
                )
                raise PlanSyntaxError(msg, line=line, column=end, text=text)
            found[key] = (word, rest[0].value)
            rest = rest[1:]
        tokens = rest
    return found, tokens


def _head(tokens: list[Token], line: int, text: str) -> tuple[str, str | None, list[Token]]:
    """The verb, the target of ``predict TARGET from ...`` (else ``None``), and the tokens after."""
    head = tokens[0]
    if head.kind != "word" or not _NAME.fullmatch(head.value):
        msg = "expected a verb (summarize, sentiment, ...) at the start of the line."
        raise PlanSyntaxError(msg, line=line, column=head.column, text=text)
    verb, rest = head.value, tokens[1:]
    if verb not in STEPS or not STEPS[verb].target:
        return verb, None, rest
    if not rest or not rest[0].is_text:
        msg_0 = f"expected the target column: {verb} TARGET from COLUMN, ..."
        raise PlanSyntaxError(
            msg_0,
            line=line,
            column=rest[0].column if rest else len(text) + 1,
            text=text,
        )
    target, rest = rest[0].value, rest[1:]
    if rest and rest[0].kind == "word" and rest[0].value == "from":
        rest = rest[1:]
    return verb, target, rest


def _outputs(tokens: list[Token], line: int, text: str) -> tuple[list[str], list[Token]]:
    """The names after ``->`` (none without an arrow) and the tokens after them."""
    if not tokens or tokens[0].kind != "arrow":
        return [], tokens
    outputs, rest = _names(tokens[1:], "output name", line, text)
    if not outputs:
        msg = "expected an output name after '->'."
        raise PlanSyntaxError(
            msg,
            line=line,
            column=rest[0].column if rest else len(text) + 1,
            text=text,
        )
    return outputs, rest


def _options(tokens: list[Token], has_outputs: bool, line: int, text: str) -> dict[str, Any]:
    """The ``key=value`` options that end a line; anything else there is an error."""
    options: dict[str, Any] = {}
    for token in tokens:
        if token.kind == "word" and token.value in CONNECTORS:
            msg = (
                f"{token.value!r} comes right after the columns: "
                f'VERB COLUMN {token.value} ... ["text"] [-> OUTPUT] [key=value].'
            )
            raise PlanSyntaxError(msg, line=line, column=token.column, text=text)
        if token.kind == "arrow" and options:
            msg = "'->' comes before the options: VERB COLUMN -> OUTPUT key=value."
            raise PlanSyntaxError(msg, line=line, column=token.column, text=text)
        if token.kind != "option":
            expected = "an option key=value" + ("" if has_outputs else ", '->' and output names")
            msg_0 = f"unexpected {token.raw!r}; expected {expected}."
            raise PlanSyntaxError(
                msg_0,
                line=line,
                column=token.column,
                text=text,
            )
        key, value = token.value
        if key in options:
            msg = f"option {key!r} is given twice."
            raise PlanSyntaxError(msg, line=line, column=token.column, text=text)
        options[key] = value
    return options


def _code(tokens: list[Token], quoted: set[int], text: str, comment: int) -> str:
    """The line as run, up to its comment: each ``{name}`` replaced by the value it stood for."""
    code, at = "", 0
    for token in tokens:
        start = token.column - 1
        if token.kind == "value" and token.column in quoted:
            shown = plan_value(token.value, quoted=True)
        else:
            shown = token.raw if token.shown is None else token.shown
        code += text[at:start] + shown
        at = start + len(token.raw)
    return code + text[at:comment]


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
    for number, text in enumerate(source.splitlines(), start=1):
        step = _step(text, number, _Expander(namespace, number, text))
        if step is not None:
            steps.append(step)
    return Plan(tuple(steps), source)
