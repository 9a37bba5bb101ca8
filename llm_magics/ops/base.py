"""What every operation shares: reading a text column, checking arguments, recording provenance.

An operation takes a ``pandas.Series`` of text and returns a new Series or DataFrame on the same
index. Missing cells (NaN, None, and strings with nothing visible: empty, whitespace, zero-width
spaces, byte-order marks, soft hyphens, control characters) give missing results and are never
sent to a model or cached; ``bytes`` are decoded as UTF-8 (cp1252 where that fails, with one
warning); other non-string cells are converted with ``str`` and one warning.
``@operation(OpSpec(...))`` registers the function with its spec (``llm_magics.ops.spec``): the
accessors, the plan language, the tuning panel and the backends find it there by name.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from llm_magics.cells import decoded, is_blank, text_of
from llm_magics.engine.jobs import Job, step
from llm_magics.engine.results import Provenance
from llm_magics.errors import (
    InvalidArgumentError,
    bind_arguments,
    collected_warnings,
    did_you_mean,
    warn,
)
from llm_magics.ops.backend import LOCAL, renamed_engine, resolve_backend
from llm_magics.ops.cascade import CascadeReport
from llm_magics.ops.spec import BACKEND_DOC, ENGINE_ARGUMENTS, EngineArgument, OpSpec
from llm_magics.runtime.loading import conversion_progress
from llm_magics.runtime.manager import ModelManager, get_manager

__all__ = [
    "OPERATIONS",
    "SPECS",
    "TextColumn",
    "accepted_arguments",
    "check_arguments",
    "columns_of",
    "defaults_of",
    "is_blank",
    "looks_like_text",
    "one_job",
    "operation",
    "record_provenance",
    "resolve_column",
    "row_ops",
    "spec_of",
    "text_of",
]

F = TypeVar("F", bound=Callable[..., Any])

OPERATIONS: dict[str, Callable[..., Any]] = {}
"""Every operation by name, in the order they were defined."""

SPECS: dict[str, OpSpec] = {}
"""Every operation's spec by name (``llm_magics.ops.spec``), in the same order."""


def operation(spec: OpSpec) -> Callable[[F], F]:
    """Register the decorated function as the operation ``spec`` describes.

    The function takes the text (or frame) and its own arguments, plus ``**engine`` when the op
    calls models: the decorator adds the shared engine arguments of ``spec.engine_arguments``
    (declared once, in ``llm_magics.ops.spec.ENGINE_ARGUMENTS``) to its signature and
    documentation and passes them in ``engine``, defaults filled in. A row-wise op also gets
    ``backend=``: any backend but ``"local"`` receives the call instead
    (``llm_magics.ops.backend``); the op itself never sees it.

    An unknown keyword argument raises ``InvalidArgumentError`` listing the valid ones, a value
    outside the spec's ``bounds`` one naming the values it takes, both before the op runs. Each of
    the op's warnings is said once per call, at the caller's line, however many inner calls
    (batches, primitives) repeat it.
    """

    def register(fn: F) -> F:
        own, shared = _arguments(fn, spec)
        public = inspect.signature(fn).replace(parameters=[*own, *_public(shared, spec)])
        accepted = [p.name for p in public.parameters.values()]

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            with collected_warnings() as notes:
                result = _call(args, kwargs)
            for note in notes:
                warn(note)
            return result

        def _call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if spec.row_wise and "engine" in kwargs:
                if "backend" in kwargs:
                    msg = f"{spec.name}(): engine= is the old name of backend=; pass only backend=."
                    raise InvalidArgumentError(msg)
                kwargs["backend"] = renamed_engine(spec.name, LOCAL, kwargs.pop("engine"))
            check_arguments(spec.name, accepted, kwargs)
            bound = bind_arguments(spec.name, public, args, kwargs)
            for name, value in bound.arguments.items():
                if name in spec.bounds:
                    spec.bounds[name].check(spec.name, name, value)
            backend = resolve_backend(kwargs.pop("backend", LOCAL)) if spec.row_wise else None
            if backend is not None:
                bound.arguments.pop("backend", None)
                texts = bound.arguments.pop(own[0].name)
                return backend.run_series(spec.name, texts, **bound.arguments)
            engine = {a.name: kwargs.pop(a.name, a.default) for a in shared}
            with conversion_progress(engine.get("progress") is not False):
                return fn(*args, **kwargs, **engine)

        checked.__signature__ = public  # type: ignore[attr-defined]
        checked.__doc__ = _documented(fn.__doc__ or "", shared, spec)
        checked.spec = spec  # type: ignore[attr-defined]
        OPERATIONS[spec.name] = checked
        SPECS[spec.name] = spec
        return checked  # type: ignore[return-value]

    return register


def _arguments(
    fn: Callable[..., Any], spec: OpSpec
) -> tuple[list[inspect.Parameter], list[EngineArgument]]:
    """The function's own parameters, and the shared engine arguments it receives in ``**engine``."""
    parameters = list(inspect.signature(fn).parameters.values())
    own = [p for p in parameters if p.kind is not p.VAR_KEYWORD]
    takes_engine = len(own) < len(parameters)
    if fn.__name__ != spec.name or takes_engine != bool(spec.engine_arguments):
        msg = (
            f"@operation: {fn.__name__}() must be named as its spec ({spec.name!r}) and take "
            "**engine exactly when spec.engine_arguments names some."
        )
        raise TypeError(msg)
    by_name = {a.name: a for a in ENGINE_ARGUMENTS}
    return own, [by_name[name] for name in spec.engine_arguments]


def _public(shared: list[EngineArgument], spec: OpSpec) -> list[inspect.Parameter]:
    keyword = inspect.Parameter.KEYWORD_ONLY
    public = [
        inspect.Parameter(a.name, keyword, default=a.default, annotation=a.annotation)
        for a in shared
    ]
    if spec.row_wise:
        public.append(
            inspect.Parameter("backend", keyword, default=LOCAL, annotation="str | Backend")
        )
    return public


def _documented(doc: str, shared: list[EngineArgument], spec: OpSpec) -> str:
    """``doc`` with the shared arguments described at the end of its Parameters section."""
    described = [(a.name, a.doc) for a in shared] + (
        [("backend", BACKEND_DOC)] if spec.row_wise else []
    )
    lines = [
        f"    {name}\n" + textwrap.fill(text, 96, initial_indent=" " * 8, subsequent_indent=" " * 8)
        for name, text in described
    ]
    if not lines:
        return doc
    head, found, tail = doc.partition("\n\n    Returns\n")
    return f"{head}\n" + "\n".join(lines) + (f"\n\n    Returns\n{tail}" if found else "\n")


def spec_of(name: str) -> OpSpec:
    """The spec of the operation ``name``, or an error listing the operations."""
    if name not in SPECS:
        msg = f"No operation {name!r}.{did_you_mean(name, list(SPECS))} Operations: {', '.join(SPECS)}."
        raise InvalidArgumentError(msg)
    return SPECS[name]


def accepted_arguments(fn: Callable[..., Any]) -> list[str]:
    """The names ``fn`` takes by keyword."""
    return [
        name
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def defaults_of(name: str) -> dict[str, Any]:
    """The keyword defaults of operation ``name`` (its signature's, engine arguments included)."""
    return {
        n: p.default
        for n, p in inspect.signature(OPERATIONS[name]).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def row_ops() -> list[str]:
    """The operations a backend may run (those that compute each row on its own)."""
    return [name for name, spec in SPECS.items() if spec.row_wise]


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
    if unknown[0] in ("engine", "backend"):
        msg = (
            f"{op}() runs in this process only: it needs every row at once, so it has no "
            f"{unknown[0]} argument. backend='ray' is for the row-wise operations "
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


def columns_of(frame: pd.DataFrame, names: Any) -> pd.Series | list[pd.Series]:
    """The columns of ``frame`` that ``names`` names: one name gives a Series, a list a list.

    Anything that is not a column name (a Series, an array, a list of them) is returned as it
    is, so ``by=df["product"]`` and ``by="product"`` mean the same. Raises
    ``InvalidArgumentError`` for a name that is not a column, naming the columns there are.
    """
    if isinstance(names, list | tuple):
        return [columns_of(frame, name) for name in names]  # type: ignore[misc]
    if isinstance(names, Mapping):  # examples={text: label}: values, not a column's name
        return names
    if isinstance(names, str) or (np.ndim(names) == 0 and names in frame.columns):
        return resolve_column(frame, names)
    return names


@contextlib.contextmanager
def one_job(op: str, texts: pd.Series, manager: ModelManager | None) -> Iterator[Job]:
    """Run the block as one listed job, ``"OP COLUMN"``, that its engine calls report to.

    An op that makes several engine calls (embed, then score the candidates, then reduce) shows
    as one job with one progress count and one cancel; inside a plan step it is that step's job
    (``llm_magics.engine.jobs.step``).
    """
    label = op if texts.name is None else f"{op} {texts.name}"
    with step(label, manager or get_manager(), rows=len(texts)) as job:
        yield job


def looks_like_text(series: pd.Series) -> bool:
    """Whether most of the first 100 values of an object/string column are strings (or bytes);
    in a table without rows (a header-only file), every object/string column."""
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return False
    if series.empty:
        return True
    sample = series.dropna().head(100)
    return len(sample) > 0 and sample.map(lambda v: isinstance(v, (str, bytes))).mean() > 0.5


def _named(series: pd.Series) -> str:
    """How a warning names a column: ``'review'``, or "the text" for a Series without a name."""
    return "the text" if series.name is None else repr(series.name)


@dataclass(frozen=True)
class TextColumn:
    """The rows of a Series that hold text, as strings, and how to put results back in place."""

    source: pd.Series
    present: np.ndarray  # bool per row: has text
    texts: list[str]  # the text of each present row, in order

    @classmethod
    def of(cls, series: pd.Series, op: str) -> TextColumn:
        """The text rows of ``series``, warning once about converted non-text or non-UTF-8 cells.

        Raises InvalidArgumentError, naming ``op``, if ``series`` is not a pandas Series.
        """
        if not isinstance(series, pd.Series):
            msg = f"{op}() needs a pandas Series of text, not {type(series).__name__}."
            raise InvalidArgumentError(msg)
        values = series.tolist()
        texts, present = [], np.zeros(len(values), dtype=bool)
        converted = not_utf8 = 0
        for i, value in enumerate(values):
            if isinstance(value, (bytes, bytearray, memoryview)):
                value, utf8 = decoded(value)  # decoded once: the text and how it was read
                not_utf8 += not utf8
            text = text_of(value)
            if text is not None:
                texts.append(text)
                present[i] = True
                converted += not isinstance(value, str)
        if converted:
            warn(
                f"{op}(): {converted} non-text cell(s) of {_named(series)} were converted with str(); "
                "cast the column with .astype(str) to silence this."
            )
        if not_utf8:
            warn(
                f"{op}(): {not_utf8} bytes cell(s) of {_named(series)} are not UTF-8 and were read "
                "as cp1252; decode the column yourself (.str.decode(ENCODING)) if that is wrong."
            )
        return cls(source=series, present=present, texts=texts)

    @property
    def name(self) -> str:
        """The source Series' name as a string, ``"text"`` if it has none."""
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
    cascade: CascadeReport | None = None,
) -> None:
    """Put what computed ``result`` in ``result.attrs["llm_magics"]`` (with the cascade's report
    under ``"cascade"`` where one answered)."""
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
    if cascade is not None:
        result.attrs["llm_magics"]["cascade"] = cascade.to_dict()
