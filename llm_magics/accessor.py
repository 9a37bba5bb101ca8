"""``series.llm`` and ``df.llm``: the operations as pandas accessors.

pandas builds the accessor object on every attribute access, so it holds only the object it wraps;
state lives in the model manager. Every registered operation of a text column (its spec's
``input == "column"``, ``llm_magics.ops.base.SPECS``) is a method of both, found when it is asked
for, so an op registered later is one too. A method calls the op of the same name (same
arguments, same documentation): on a Series, the Series is the text; on a DataFrame, the first
argument names the text column (``None``: the one text column, if there is one), arguments
that name other columns (``aggregate``'s ``by``) take column names, and an op whose result is
rows of the frame (``top_k``) returns them with all their columns. ``features`` and ``join``
(ops of a frame) and the conveniences below are written out.

A method returns new objects aligned to the input's index and never adds columns to the caller's
frame, so a name clash is settled the pandas way: ``df.join(df.llm.sentiment("review"))`` refuses
columns that overlap (pandas' ``ValueError`` names them; pass ``suffixes=`` — ``rsuffix=`` before
pandas 3.1 — or rename), while
``df.assign(...)`` or ``df[columns] = ...`` replace them on purpose. The one exception is the
labelling panel (``df.llm.label``): a person's labels go into the frame's label column as they are
given, which is what the panel is for.

Examples
--------
>>> import llm_magics, pandas as pd
>>> pd.Series(["Mail me at jo@example.com"]).llm.clean().tolist()
['Mail me at [EMAIL]']
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any, ClassVar

import pandas as pd

from llm_magics import ops
from llm_magics.errors import checked_arguments, did_you_mean
from llm_magics.ops.base import OPERATIONS, SPECS, columns_of, resolve_column

__all__ = ["DataFrameLlm", "SeriesLlm"]


def column_ops() -> list[str]:
    """The operations of a text column (``OpSpec.input == "column"``), registered so far."""
    return [name for name, spec in SPECS.items() if spec.input == "column"]


_TEXTS_DOC = "    texts\n        The text column.\n"


def _doc(op: Callable[..., Any], column: str = "") -> str:
    """The op's documentation without its examples (they run as the op's doctests), its text
    argument described as the method takes it: ``column`` on a DataFrame, none on a Series."""
    doc = (op.__doc__ or "").split("\n    Examples\n    --------")[0].rstrip() + "\n"
    return doc.replace(_TEXTS_DOC, column, 1)


def _series_method(name: str, op: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: SeriesLlm, *args: Any, **kwargs: Any) -> Any:
        return op(self._obj, *args, **kwargs)

    params = list(inspect.signature(op).parameters.values())
    method.__signature__ = inspect.Signature([params[0].replace(name="self"), *params[1:]])  # type: ignore[attr-defined]
    method.__name__ = method.__qualname__ = name
    method.__doc__ = _doc(op)
    return method


def _frame_method(name: str, op: Callable[..., Any]) -> Callable[..., Any]:
    spec = SPECS[name]

    def method(self: DataFrameLlm, column: Any = None, *args: Any, **kwargs: Any) -> Any:
        frame = self._obj
        for argument in spec.frame_arguments:  # by="product": the column itself
            if argument in kwargs:
                kwargs[argument] = columns_of(frame, kwargs[argument])
        result = op(resolve_column(frame, column), *args, **kwargs)
        if spec.reshape is None:
            return result
        shaped = spec.reshape(frame, result)  # top_k's rows of the frame: the op's attrs too
        shaped.attrs = dict(result.attrs)
        return shaped

    params = list(inspect.signature(op).parameters.values())
    column = inspect.Parameter("column", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    rest = params[1:]
    if rest and rest[0].default is inspect.Parameter.empty:  # labels, schema, condition
        column = column.replace(default=inspect.Parameter.empty)
    method.__signature__ = inspect.Signature([self_param, column, *rest])  # type: ignore[attr-defined]
    method.__name__ = method.__qualname__ = name
    method.__doc__ = _doc(
        op, "    column\n        The text column's name (``None``: the frame's one text column).\n"
    )
    return method


class _ColumnOps:
    """The column operations as methods, looked up in the registry when asked for.

    They are not class attributes: an op registered after import (a plugin's, a test's) is a
    method as soon as its module has run, with nothing else edited.
    """

    _obj: Any
    _make: Callable[[str, Callable[..., Any]], Callable[..., Any]]
    _methods: ClassVar[dict[Callable[..., Any], Callable[..., Any]]]

    def __getattr__(self, name: str) -> Any:
        # Dunder and private names (IPython's _repr_*_ probes, copy's __deepcopy__) are never ops.
        if name.startswith("_") or name not in column_ops():
            kind = type(self).__name__
            hint = "" if name.startswith("_") else did_you_mean(name, column_ops())
            msg = f"{kind!r} object has no attribute {name!r}.{hint}"
            raise AttributeError(msg)
        op = OPERATIONS[name]
        if op not in self._methods:  # built once per op: its signature and docs are copied
            self._methods[op] = type(self)._make(name, op)
        return types.MethodType(self._methods[op], self)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *column_ops()})


@pd.api.extensions.register_series_accessor("llm")
class SeriesLlm(_ColumnOps):
    """Language-model operations on a text Series: ``series.llm.summarize()`` ..."""

    _make = staticmethod(_series_method)
    _methods: ClassVar[dict[Callable[..., Any], Callable[..., Any]]] = {}

    def __init__(self, obj: pd.Series) -> None:
        self._obj = obj

    @checked_arguments
    def features(self, **kwargs: Any) -> pd.DataFrame:
        """Numeric features of this text Series (see ``llm_magics.ops.features``)."""
        return ops.features(self._obj, **kwargs)

    @checked_arguments
    def join(self, right: Any, condition: str, **kwargs: Any) -> pd.DataFrame:
        """Pairs of this Series' texts and ``right``'s rows that satisfy ``condition`` (see
        ``llm_magics.ops.join``)."""
        return ops.join(self._obj, right, condition, **kwargs)

    @checked_arguments
    def tune(self, op: str, **kwargs: Any) -> Any:
        """A panel to tune ``op`` on a sample of this Series before running it on all of it
        (see ``llm_magics.widgets.TunePanel``)."""
        from llm_magics.widgets import TunePanel

        return TunePanel(self._obj, op, **kwargs)

    @checked_arguments
    def label(self, labels: Any, *, into: str = "label", **kwargs: Any) -> Any:
        """A panel to label this Series' texts one by one, the most uncertain next (see
        ``llm_magics.widgets.LabelPanel``). A Series has no columns, so the labels go into
        ``panel.labels``: a Series named ``into`` on this Series' index, NaN where unlabelled
        (``classify(..., examples=panel.labels)``); they are also kept in the label store, and
        ``llm_magics.labels.restore(series, into)`` reads them back."""
        from llm_magics.widgets import LabelPanel

        return LabelPanel(self._obj, labels, into=into, **kwargs)


@pd.api.extensions.register_dataframe_accessor("llm")
class DataFrameLlm(_ColumnOps):
    """Language-model operations on a DataFrame's text columns: ``df.llm.summarize("review")`` ..."""

    _make = staticmethod(_frame_method)
    _methods: ClassVar[dict[Callable[..., Any], Callable[..., Any]]] = {}

    def __init__(self, obj: pd.DataFrame) -> None:
        self._obj = obj

    @checked_arguments
    def query(self, condition: str, column: Any = None, **kwargs: Any) -> pd.DataFrame:
        """The rows whose text in ``column`` matches ``condition`` (see ``filter``)."""
        return ops.query(self._obj, condition, resolve_column(self._obj, column), **kwargs)

    @checked_arguments
    def features(self, cols: Any = None, **kwargs: Any) -> pd.DataFrame:
        """Numeric features of the text columns ``cols`` (see ``llm_magics.ops.features``)."""
        return ops.features(self._obj, cols, **kwargs)

    @checked_arguments
    def join(self, right: Any, condition: str, **kwargs: Any) -> pd.DataFrame:
        """Pairs of this frame's rows and ``right``'s rows whose texts satisfy ``condition``, as
        ``pd.merge`` returns them, with each pair's probability (see ``llm_magics.ops.join``)."""
        return ops.join(self._obj, right, condition, **kwargs)

    @checked_arguments
    def plot(self, kind: str, column: Any, **kwargs: Any) -> Any:
        """A chart of ``column``: ``"sentiment"`` (``by=`` a category column), ``"keywords"``,
        ``"confidence"`` (``label=`` the label column) or ``"summary"`` (``source=`` the text
        column). Returns an ``altair.Chart`` (see ``llm_magics.plots``)."""
        from llm_magics.plots import text_chart

        return text_chart(self._obj, kind, column, **kwargs)

    @checked_arguments
    def tune(self, op: str, column: Any = None, **kwargs: Any) -> Any:
        """A panel to tune ``op`` on a sample of ``column``: model, instruction, the op's
        settings; preview, apply to all, copy the code (see ``llm_magics.widgets.TunePanel``)."""
        from llm_magics.widgets import TunePanel

        return TunePanel(self._obj, op, column, **kwargs)

    @checked_arguments
    def label(self, column: Any, labels: Any, *, into: str = "label", **kwargs: Any) -> Any:
        """A panel to label the rows of ``column`` with ``labels``, one at a time, the row the
        current model is least sure of next; each label goes into ``df[into]`` at once (object
        dtype, NaN where unlabelled, the column made if missing: ``classify(column, labels,
        examples=df[into])`` and ``finetune(df, column, into)`` take it) and into the label store,
        so it survives a kernel restart (see ``llm_magics.widgets.LabelPanel`` and
        ``llm_magics.labels``). Unlike the other methods, it changes this frame."""
        from llm_magics.widgets import LabelPanel

        return LabelPanel(self._obj, labels, column, into=into, **kwargs)

    @checked_arguments
    def finetune(self, text: str, label: str, **kwargs: Any) -> Any:
        """Fine-tune the embedding model to predict ``label`` from ``text`` (see
        ``llm_magics.ops.finetune``)."""
        return ops.finetune(self._obj, text, label, **kwargs)

    @checked_arguments
    def mine(self, target: str, **kwargs: Any) -> Any:
        """Predict ``target`` from the other columns (see ``llm_magics.mine``)."""
        from llm_magics.mining import mine

        return mine(self._obj, target, **kwargs)
