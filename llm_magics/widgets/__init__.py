"""ipywidgets panels: tune an op on a sample before a full run, re-run model selection, label rows.

``df.llm.tune(op, column)`` / ``%mine tune OP DATAFRAME.COLUMN`` open a ``TunePanel``;
``MiningResult.tune(frame)`` opens a ``MiningTunePanel``. Panels call the same public API as
code does, run it in a background thread (so Cancel reaches it), and write the code they stand for
into the next cell. A panel's controls come from the op's spec (``llm_magics.widgets.controls``).
``df.llm.label(column, labels)`` / ``%mine label DATAFRAME.COLUMN labels=[...]`` open a
``LabelPanel``: rows to label one at a time, the next chosen by a model fitted in the background.

An entry point: it may import every layer below it (``plan``, ``backends``, ``plots``, ``mining``,
``ops``, ``engine``, ``runtime``, the bottom layer) and the other entry points; no layer below
imports it (results reach it only through ``llm_magics.conveniences``).
"""

from llm_magics.widgets.label import LabelPanel, label
from llm_magics.widgets.mining import MiningTunePanel
from llm_magics.widgets.tune import TUNABLE, Preview, TunePanel, tune

__all__ = ["TUNABLE", "LabelPanel", "MiningTunePanel", "Preview", "TunePanel", "label", "tune"]
