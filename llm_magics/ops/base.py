"""What every operation shares: reading a text column, checking arguments, recording provenance.

An operation takes a ``pandas.Series`` of text and returns a new Series or DataFrame on the same
index. Missing cells (NaN, None, and strings with nothing visible: empty, whitespace, zero-width
spaces, byte-order marks, soft hyphens, control characters) give missing results and are never
sent to a model or cached; ``bytes`` are decoded as UTF-8 (cp1252 where that fails, with one
warning); other non-string cells are converted with ``str`` and one warning. ``@operation``
registers the function (the accessors, ``%%mine`` and the CLI find it by name) and turns an unknown
keyword argument into an ``InvalidArgumentError`` that lists the valid ones.
"""

from __future__ import annotations

import functools
import inspect
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError, collected_warnings, did_you_mean, warn

__all__ = [
    "OPERATIONS",
    "TextColumn",
    "accepted_arguments",
    "check_arguments",
    "is_blank",
    "looks_like_text",
    "operation",
    "record_provenance",
    "resolve_column",
    "row_ops",
    "text_of",
]

F = TypeVar("F", bound=Callable[..., Any])

OPERATIONS: dict[str, Callable[..., Any]] = {}
"""Every operation by name, in the order they were defined."""


def operation(fn: F) -> F:
    """Register ``fn`` as an operation and check its keyword arguments by name.

    An operation with an ``engine`` parameter is row-wise: ``engine="ray"`` (or a
    ``llm_magics.distributed.RayEngine``) runs it on a Ray cluster instead of in this process.
    Each of its warnings is said once per call, at the caller's line, however many inner calls
    (batches, primitives) repeat it.
    """
    accepted = accepted_arguments(fn)

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        with collected_warnings() as notes:
            result = _call(*args, **kwargs)
        for note in notes:
            warn(note)
        return result

    def _call(*args: Any, **kwargs: Any) -> Any:
        check_arguments(fn.__name__, accepted, kwargs)
        engine = kwargs.get("engine", "local")
        if "engine" in accepted and not (isinstance(engine, str) and engine == "local"):
            from llm_magics.distributed import run_series

            bound = inspect.signature(fn).bind(*args, **kwargs)
            texts = bound.arguments.pop("texts")
            return run_series(fn.__name__, texts, **bound.arguments)
        return fn(*args, **kwargs)

    OPERATIONS[fn.__name__] = checked
    return checked  # type: ignore[return-value]


def accepted_arguments(fn: Callable[..., Any]) -> list[str]:
    """The names ``fn`` takes by keyword."""
    return [
        name
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def row_ops() -> list[str]:
    """The operations that can run on Ray (those that compute each row on its own)."""
    return [name for name, fn in OPERATIONS.items() if "engine" in accepted_arguments(fn)]


def check_arguments(op: str, accepted: Sequence[str], kwargs: dict[str, Any]) -> None:
    """Raise ``InvalidArgumentError`` for a keyword ``op`` does not take, listing the valid ones."""
    unknown = [k for k in kwargs if k not in accepted]
    if not unknown:
        return
    valid = [a for a in accepted if a not in ("texts", "frame")]
    msg = (
        f"{op}() takes no argument {unknown[0]!r}.{did_you_mean(unknown[0], valid)} "
        f"Valid arguments: {', '.join(valid)}."
    )
    if unknown[0] == "engine":
        msg = (
            f"{op}() runs in this process only: it needs every row at once, so it has no engine "
            "argument. engine='ray' is for the row-wise operations "
            f"({', '.join(row_ops())})."
        )
    raise InvalidArgumentError(msg)


def resolve_column(frame: pd.DataFrame, column: Any) -> pd.Series:
    """``frame[column]``, or an ``InvalidArgumentError`` naming the columns there are."""
    if column is None:
        text = [c for c in frame.columns if looks_like_text(frame[c])]
        if len(text) == 1:
            return frame[text[0]]
        msg = f"Which column? Pass one of: {', '.join(map(str, frame.columns))}" + (
            f" (text columns: {', '.join(map(str, text))})." if text else "."
        )
        raise InvalidArgumentError(msg)
    if column not in frame.columns:
        names = [str(c) for c in frame.columns]
        msg = (
            f"No column {column!r}.{did_you_mean(str(column), names)} "
            f"Columns: {', '.join(names) or '(none)'}."
        )
        raise InvalidArgumentError(msg)
    values = frame[column]
    if isinstance(values, pd.DataFrame):
        msg = f"Column name {column!r} is not unique; rename the duplicates first."
        raise InvalidArgumentError(msg)
    return values


def looks_like_text(series: pd.Series) -> bool:
    """Whether most of the first 100 values of an object/string column are strings (or bytes)."""
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return False
    sample = series.dropna().head(100)
    return len(sample) > 0 and sample.map(lambda v: isinstance(v, (str, bytes))).mean() > 0.5


_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only whitespace, control and format characters.

    Format characters (Unicode category Cf) are the zero-width space, the byte-order mark, the
    soft hyphen, joiners and direction marks: a cell of only these reads as empty to a person,
    so it is missing, not a text for a model to judge.

    Examples
    --------
    >>> [is_blank(t) for t in ["", " \\n", "\\u200b", "\\ufeff\\u00ad\\x07", "tea\\u200b"]]
    [True, True, True, True, False]
    """
    # all() stops at the first visible character: the first one, for almost every real text.
    return all(unicodedata.category(c) in _INVISIBLE_CATEGORIES for c in text)


def _decoded(value: bytes | bytearray | memoryview) -> tuple[str, bool]:
    """The text of a bytes cell, and whether it was UTF-8 (else it is read as cp1252)."""
    raw = bytes(value)
    try:
        return raw.decode("utf-8-sig"), True
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), False


def text_of(value: Any) -> str | None:
    """The text of a cell: itself, decoded bytes, ``str()`` of another value; None when blank.

    Examples
    --------
    >>> [text_of(v) for v in ["tea", "  ", "\\u200b", None, float("nan"), 3, "café".encode()]]
    ['tea', None, None, None, None, '3', 'café']
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = _decoded(value)[0]
    elif not isinstance(value, str):
        if value is None or (np.ndim(value) == 0 and pd.isna(value)):
            return None
        value = str(value)
    return None if is_blank(value) else value


@dataclass(frozen=True)
class TextColumn:
    """The rows of a Series that hold text, as strings, and how to put results back in place."""

    source: pd.Series
    present: np.ndarray  # bool per row: has text
    texts: list[str]  # the text of each present row, in order

    @classmethod
    def of(cls, series: pd.Series, op: str) -> TextColumn:
        if not isinstance(series, pd.Series):
            msg = f"{op}() needs a pandas Series of text, not {type(series).__name__}."
            raise InvalidArgumentError(msg)
        values = series.tolist()
        texts, present = [], np.zeros(len(values), dtype=bool)
        converted = not_utf8 = 0
        for i, value in enumerate(values):
            if isinstance(value, (bytes, bytearray, memoryview)):
                value, utf8 = _decoded(value)  # decoded once: the text and how it was read
                not_utf8 += not utf8
            text = text_of(value)
            if text is not None:
                texts.append(text)
                present[i] = True
                converted += not isinstance(value, str)
        if converted:
            warn(
                f"{op}(): {converted} non-text cell(s) of {series.name!r} were converted with str(); "
                "cast the column with .astype(str) to silence this."
            )
        if not_utf8:
            warn(
                f"{op}(): {not_utf8} bytes cell(s) of {series.name!r} are not UTF-8 and were read "
                "as cp1252; decode the column yourself (.str.decode(ENCODING)) if that is wrong."
            )
        return cls(source=series, present=present, texts=texts)

    @property
    def name(self) -> str:
        return "text" if self.source.name is None else str(self.source.name)

    def series(
        self, values: Sequence[Any] | np.ndarray, *, name: str, dtype: str = "object"
    ) -> pd.Series:
        """A Series on the source's index: ``values`` at the present rows, NaN elsewhere.

        ``dtype`` is applied after filling (``"float64"``, ``"boolean"``, ``"Int64"`` ...).
        """
        out = pd.Series(np.nan, index=self.source.index, dtype=object, name=name)
        if len(values):
            out.iloc[np.flatnonzero(self.present)] = list(values)
        return out if dtype == "object" else out.astype(dtype)

    def frame(self, columns: dict[str, tuple[Sequence[Any] | np.ndarray, str]]) -> pd.DataFrame:
        """A DataFrame on the source's index from ``{name: (values at present rows, dtype)}``."""
        return pd.DataFrame(
            {n: self.series(v, name=n, dtype=d) for n, (v, d) in columns.items()},
            index=self.source.index,
        )


def record_provenance(
    result: pd.Series | pd.DataFrame,
    op: str,
    parameters: dict[str, Any],
    steps: Iterable[Provenance] = (),
) -> None:
    """Put what computed ``result`` in ``result.attrs["llm_magics"]``."""
    steps = list(steps)
    result.attrs["llm_magics"] = {
        "op": op,
        "parameters": parameters,
        "models": sorted({s.model for s in steps}),
        "rows": len(result),
        "rows_from_cache": sum(s.cache_hits for s in steps),
        "rows_computed": sum(s.computed for s in steps),
        "seconds": round(sum(s.seconds for s in steps), 3),
        "steps": [s.to_dict() for s in steps],
    }
