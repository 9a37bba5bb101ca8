"""The labelling panel: label a text column row by row, the next row chosen where a model is unsure.

``df.llm.label("review", ["great", "other"])`` (or ``%mine label reviews.review
labels=[great, other]``) shows one row's text, a button per label, Skip and Undo, a progress line
and a key box (click it, then type ``1``-``9`` to label, ``s`` to skip, ``u`` to undo: ipywidgets
has no page-wide key events, so keys reach the kernel only from a focused text box).

Which row next (active learning by uncertainty sampling, Lewis & Gale 1994, "A sequential
algorithm for training text classifiers"): the first rows are random (a seeded shuffle) until
``warmup`` rows are labelled and every label has an example; after that a logistic regression on
the embedding model's vectors of the labelled rows (``learning.methods.fit_linear``, the model of
``classify(examples=..., method="linear")``) scores the unlabelled rows, and the one it is
least sure of (lowest top probability) comes next. Embedding the rows (cached per row by the
engine) and fitting run in a background thread (``background.BackgroundRun``), so the panel answers
clicks meanwhile; until the model is ready the rows stay random. A frame of more than ``pool``
rows is labelled from a seeded sample of ``pool`` rows, so the embedding cost stays bounded.

Labels are written at once: into ``df[into]`` (object dtype, NaN where unlabelled: what
``classify(..., examples=df[into])`` and ``finetune(df, column, into)`` take), and into the label
store beside the cache (``llm_magics.labels``), keyed by the row's text, so opening the panel
again, even on a frame read afresh after a kernel restart, restores them. The column holds the
label objects as passed in ``labels=`` (``[0, 1]`` writes the ints 0 and 1, in an object column,
so a label column never turns float by its NaN); buttons and keys show their ``str``.

One label per distinct text (the store's key): labelling (or skipping) a row does the same to
every row with the same text, so a text is shown once; undo takes back all of them at once. Writing into the
caller's frame is the panel's purpose, and the one place where ``df.llm`` changes the frame it is
called on. A Series has no columns: its panel writes into its own Series, ``panel.labels``.

Everything a button does is a method (``label_as(name)``, ``skip()``, ``undo()``), so code and
tests drive the panel as a person would.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from llm_magics.errors import InvalidArgumentError, kept_warnings
from llm_magics.learning.labels import LabelStore, text_key
from llm_magics.learning.methods import fit_linear
from llm_magics.ops.base import TextColumn, resolve_column
from llm_magics.runtime.manager import ModelManager, get_manager
from llm_magics.widgets.background import BackgroundRun
from llm_magics.widgets.shared import error_html

__all__ = ["LabelPanel", "label"]

WARMUP = 5
POOL = 2000
FRESH_WAIT = 0.25  # seconds a click waits for a running fit, so the next row uses every label
KEYS = 9
# One panel embeds at a time: two threads loading the first model at once can trip over
# transformers' lazy imports (``cannot import name 'AutoConfig'``), and the rows are cached after.
_EMBEDDING = threading.Lock()


@dataclass(frozen=True)
class _Choice:
    """Why the shown row is shown: ``"random"``, ``"uncertain"`` (with the model's guess) or
    ``"undone"``."""

    how: str
    guess: str | None = None
    p: float | None = None

    def __str__(self) -> str:
        if self.how == "uncertain":
            return f"this row: most uncertain (model says {self.guess}, p={self.p:.2f})"
        return "this row: back by undo" if self.how == "undone" else "this row: random"


def _checked_labels(labels: Any) -> dict[str, Any]:
    """``{name: label}``: each label's ``str`` (stripped), the button's name, and the label itself.

    A ``str`` label is kept stripped; any other (an int, a bool) is kept as passed.
    """
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        msg = f"labels= is a list of at least two labels, e.g. ['great', 'other'], not {labels!r}."
        raise InvalidArgumentError(msg)
    names = [str(name).strip() for name in labels]
    if len(names) < 2 or "" in names or len(set(names)) != len(names):
        msg = f"labels= needs at least two distinct, non-blank labels (got {names!r})."
        raise InvalidArgumentError(msg)
    values = [value.strip() if isinstance(value, str) else value for value in labels]
    return dict(zip(names, values, strict=True))


def _stored(value: Any) -> Any:
    """A label as the JSON store keeps it: str, int, float or bool as is, numpy scalars as Python's,
    anything else as its ``str``."""
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, (str, int, float, bool)) else str(value)


class LabelPanel:
    """A panel to label the rows of a text column (see the module docs).

    Parameters
    ----------
    data
        A DataFrame (labels go into its column ``into``, created if missing) or a Series of text
        (labels go into ``panel.labels``, a new Series named ``into`` on its index).
    labels
        The labels, two or more, distinct by their ``str``: strings, or any value (``[0, 1]``)
        that the label column then holds as passed (object dtype); the first nine have keys
        ``1``-``9``.
    column
        The text column of a DataFrame (``None``: its one text column).
    into
        The label column. Existing labels in it are kept (they count as labelled and train the
        model); it may hold only values of ``labels`` (or equal ones: 0.0 for 0, "0" for 0),
        which are rewritten as the labels themselves, object dtype. Also names the label store's file.
    warmup
        Random rows before uncertainty sampling starts (it also waits for one example per label).
    pool
        At most this many rows are candidates (a seeded sample of a bigger frame).
    seed
        The random order and the pool's sample.
    model
        The embedding model of the uncertainty model (default: the kernel's default embed model).
    manager
        The model manager (default: this kernel's).

    Raises
    ------
    InvalidArgumentError
        Fewer than two distinct labels; ``into`` is the text column or holds other values; no
        row has text.
    """

    def __init__(
        self,
        data: pd.DataFrame | pd.Series,
        labels: Sequence[Any],
        column: Any = None,
        *,
        into: str = "label",
        warmup: int = WARMUP,
        pool: int = POOL,
        seed: int = 0,
        model: str | None = None,
        manager: ModelManager | None = None,
    ) -> None:
        self._values = _checked_labels(labels)
        self.names = list(self._values)  # the labels' str: buttons, keys, progress, the model
        self.store = LabelStore(into)
        self.into, self.data, self.warmup = into, data, warmup
        self.manager = manager or get_manager()
        self.model = model or self.manager.model_for("embed")
        self.texts = self._texts(data, column)
        self._target = self._label_column()
        text = TextColumn.of(self.texts, "label")
        self._positions = np.flatnonzero(text.present)
        if not len(self._positions):
            msg = f"No row of {self._where()} has text to label."
            raise InvalidArgumentError(msg)
        self._text = dict(zip(self._positions.tolist(), text.texts, strict=True))
        self._key = {position: text_key(t) for position, t in self._text.items()}
        self._same: dict[str, list[int]] = {}  # text key -> every row with that text
        for position, key in self._key.items():
            self._same.setdefault(key, []).append(position)
        rng = np.random.default_rng(seed)
        order = rng.permutation(self._positions)
        self.order = order[:pool] if len(order) > pool else order
        labelled = self._labelled_positions()
        self._embedded = np.union1d(self.order, labelled)  # the rows the model sees
        self.skipped: set[int] = set()
        self.history: list[tuple[str, int, list[Any]]] = []  # action, row, its twins' values before
        self.current: int | None = None
        self.choice = _Choice("random")
        self.error: BaseException | None = None
        self._vectors: np.ndarray | None = None
        self._scores: tuple[np.ndarray, np.ndarray, list[str]] | None = None
        self._run: BackgroundRun | None = None
        self._stale = False
        self._build()
        self.restored = self._restore()
        self._advance()
        self._refresh()

    # ----------------------------------------------------------------------------- setup

    def _texts(self, data: Any, column: Any) -> pd.Series:
        if isinstance(data, pd.Series):
            self.column = None
            return data
        if not isinstance(data, pd.DataFrame):
            msg = f"label() needs a DataFrame or a Series, not {type(data).__name__}."
            raise InvalidArgumentError(msg)
        texts = resolve_column(data, column)
        self.column = texts.name
        if self.into == self.column:
            msg = (
                f"into={self.into!r} is the text column; name another column for the labels, "
                "e.g. into='label'."
            )
            raise InvalidArgumentError(msg)
        return texts

    def _where(self) -> str:
        return "the Series" if self.column is None else f"column {self.column!r}"

    def _label_column(self) -> pd.Series:
        """The Series labels go into: ``data[into]`` (made object dtype), or the panel's own."""
        if self.column is None:
            return pd.Series(np.nan, index=self.texts.index, dtype=object, name=self.into)
        frame = self.data
        if self.into not in frame.columns:
            frame[self.into] = pd.Series(np.nan, index=frame.index, dtype=object)
        elif isinstance(frame[self.into], pd.DataFrame):
            msg = f"Column name {self.into!r} is not unique; rename the duplicates first."
            raise InvalidArgumentError(msg)
        values = frame[self.into]
        present = values.notna().to_numpy()
        resolved = [self.label_of(v) if p else None for v, p in zip(values, present, strict=True)]
        other = values[present & np.array([r is None for r in resolved])]
        if len(other):
            found = ", ".join(map(repr, pd.unique(other)[:5]))
            msg = (
                f"Column {self.into!r} holds values not in labels= ({found}: {len(other)} rows); "
                "add them to labels= or pick another into=."
            )
            raise InvalidArgumentError(msg)
        # The labels themselves (0.0 read back from a float column is the label 0), NaN where
        # none, object dtype as ops return.
        column = np.empty(len(values), dtype=object)
        column[:] = [self._values[r] if r is not None else np.nan for r in resolved]
        same = [
            r is None or (type(v) is type(self._values[r]) and v == self._values[r])
            for v, r in zip(values, resolved, strict=True)
        ]
        if values.dtype != object or not all(same):
            frame[self.into] = column
        return frame[self.into]

    def label_of(self, value: Any) -> str | None:
        """The name (``str``) of the label ``value`` stands for, ``None`` if none.

        ``value`` is a label as passed in ``labels=``, its ``str``, or an equal value (``0.0``,
        as a float column with NaN holds the int label ``0``, or ``np.int64(0)``).
        """
        if isinstance(value, str):
            return value.strip() if value.strip() in self._values else None
        for name, label in self._values.items():
            if not isinstance(label, str) and type(label) is not bool and _equal(value, label):
                return name
        text = str(value)
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            text = str(int(value))
        return text if text in self._values else None

    @property
    def labels(self) -> pd.Series:
        """The labels so far: ``data[into]`` of a DataFrame, the panel's own Series for a Series.

        Object dtype, NaN where unlabelled, on the data's index: pass it as
        ``classify(..., examples=...)``, or train with ``finetune(df, column, into)``.
        """
        return self._target if self.column is None else self.data[self.into]

    def _set(self, position: int, value: Any) -> None:
        if self.column is None:
            self._target.iat[position] = value
        else:
            self.data.iloc[position, self.data.columns.get_loc(self.into)] = value

    def _set_all(self, positions: list[int], values: list[Any]) -> None:
        for position, value in zip(positions, values, strict=True):
            self._set(position, value)

    def _labelled_positions(self) -> np.ndarray:
        present = self.labels.iloc[self._positions].notna().to_numpy()
        return self._positions[present]

    def _restore(self) -> int:
        """Put the stored labels of rows with no label yet into the label column."""
        stored = self.store.read()
        current = self.labels
        given = {  # a text labelled in the column labels its twins too
            self._key[int(p)]: current.iat[int(p)] for p in self._labelled_positions()
        }
        restored = foreign = 0
        for position in self._positions[current.iloc[self._positions].isna().to_numpy()]:
            key = self._key[int(position)]
            if key in given:
                self._set(int(position), given[key])
                continue
            entry = stored.get(key)
            if entry is None:
                continue
            name = self.label_of(entry["label"])
            if name is not None:
                self._set(int(position), self._values[name])
                restored += 1
            else:
                foreign += 1
        note = f"Restored {restored:,} labels from {self.store.path}." if restored else ""
        if foreign:
            note += f" {foreign:,} stored labels are not in labels= and were left out."
        self.status.value = html.escape(note.strip())
        return restored

    # ----------------------------------------------------------------------------- widgets

    def _build(self) -> None:
        w = widgets
        self.buttons = {
            name: w.Button(
                description=f"{name} ({i + 1})" if i < KEYS else name, button_style="primary"
            )
            for i, name in enumerate(self.names)
        }
        for name, button in self.buttons.items():
            button.on_click(lambda _, name=name: self.label_as(name))
        self.skip_button = w.Button(description="Skip (s)", icon="forward")
        self.undo_button = w.Button(description="Undo (u)", icon="undo")
        self.skip_button.on_click(lambda _: self.skip())
        self.undo_button.on_click(lambda _: self.undo())
        keys = f"1–{min(KEYS, len(self.names))}"
        self.keys = w.Text(
            value="",
            placeholder=f"click here, then press {keys} to label, s to skip, u to undo",
            continuous_update=True,
            layout=w.Layout(width="32em"),
        )
        self.keys.observe(self._typed, names="value")
        self.text_view = w.HTML()
        self.progress_text = w.HTML()
        self.model_text = w.HTML()
        self.status = w.HTML()
        where = self.into if self.column is None else f"{self.column} → {self.into}"
        self.widget = w.VBox(
            [
                w.HTML(f"<b>Label <code>{html.escape(str(where))}</code></b>"),
                self.text_view,
                w.HBox([*self.buttons.values(), self.skip_button, self.undo_button]),
                self.keys,
                self.progress_text,
                self.model_text,
                self.status,
            ]
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _typed(self, change: Any) -> None:
        typed = str(change["new"])
        if not typed:
            return
        self.keys.value = ""  # ready for the next key
        key = typed[-1].lower()
        if key.isdigit() and 1 <= int(key) <= min(KEYS, len(self.names)):
            self.label_as(self.names[int(key) - 1])
        elif key == "s":
            self.skip()
        elif key == "u":
            self.undo()
        else:
            self.status.value = html.escape(f"Keys: {self.keys.placeholder}.")

    def _show(self) -> None:
        if self.current is None:
            self.text_view.value = (
                "<i>Every row with text is labelled or skipped.</i> Undo brings back the last one."
            )
        else:
            index = html.escape(repr(self.texts.index[self.current]))
            text = html.escape(self._text[self.current])
            self.text_view.value = (
                f"<div style='color:#666;font-size:0.85em'>row {index}</div>"
                "<div style='max-height:16em;overflow-y:auto;white-space:pre-wrap;"
                f"border:1px solid #ddd;padding:0.5em'>{text}</div>"
            )
        for button in [*self.buttons.values(), self.skip_button]:
            button.disabled = self.current is None
        self.undo_button.disabled = not self.history
        self.progress_text.value = html.escape(self.progress())

    def progress(self) -> str:
        """The progress line: labelled, skipped, the count per label, and why this row.

        Examples: ``"12 of 30 labelled · 3 skipped · 8 great / 4 other · this row: most
        uncertain (model says great, p=0.52)"``.
        """
        values = self.labels.iloc[self._positions]
        counts = values.dropna().map(lambda v: self.label_of(v) or str(v)).value_counts()
        per_label = " / ".join(f"{int(counts.get(n, 0))} {n}" for n in self.names)
        return (
            f"{int(values.notna().sum()):,} of {len(self._positions):,} labelled · "
            f"{len(self.skipped):,} skipped · {per_label} · {self.choice}"
        )

    # ----------------------------------------------------------------------------- actions

    def label_as(self, name: Any) -> None:
        """Label the shown row, and every row with the same text, ``name``; then show the next.

        ``name`` is a label as passed in ``labels=`` or its ``str`` (``0`` or ``"0"``); the label
        column gets the label as passed in ``labels=``, the store too (see ``labels``).

        Raises
        ------
        InvalidArgumentError
            ``name`` is not one of the labels.
        """
        found = self.label_of(name)
        if found is None:
            msg = f"{name!r} is not one of the labels: {', '.join(self.names)}."
            raise InvalidArgumentError(msg)
        if self.current is None:
            return
        position, value = self.current, self._values[found]
        twins = self._same[self._key[position]]
        before = [self.labels.iat[p] for p in twins]
        self._set_all(twins, [value] * len(twins))
        self.store.put(self._key[position], _stored(value))
        self.history.append(("label", position, before))
        self.status.value = ""
        self._refresh()
        self._advance()

    def skip(self) -> None:
        """Leave the shown row (and its twins: the same text) unlabelled; do not show them again."""
        if self.current is None:
            return
        self.skipped.update(self._same[self._key[self.current]])
        self.history.append(("skip", self.current, []))
        self._advance()

    def undo(self) -> bool:
        """Take back the last label or skip and show that row again; ``False`` if none is left."""
        if not self.history:
            self.status.value = "Nothing to undo."
            return False
        action, position, before = self.history.pop()
        twins = self._same[self._key[position]]
        if action == "label":
            self._set_all(twins, before)
            self.store.remove(self._key[position])
            self._refresh()
        else:
            self.skipped.difference_update(twins)
        self.current, self.choice = position, _Choice("undone")
        self.status.value = html.escape(
            f"Undid the {action} of row {self.texts.index[position]!r}."
        )
        self._show()
        return True

    # ----------------------------------------------------------------------------- next row

    def _candidates(self) -> np.ndarray:
        """The pool's rows still to show, in the random order: unlabelled and not skipped."""
        unlabelled = self.labels.iloc[self.order].isna().to_numpy()
        skipped = np.isin(self.order, list(self.skipped))
        return self.order[unlabelled & ~skipped]

    def _advance(self) -> None:
        if self._run is not None and self._run.running and self._vectors is not None:
            self._run.join(FRESH_WAIT)  # a fit takes milliseconds: use the label just given
        candidates = self._candidates()
        if not len(candidates):
            self.current, self.choice = None, _Choice("random")
        elif self._scores is not None and self._ready():
            self.current, self.choice = self._most_uncertain(candidates)
        else:
            self.current, self.choice = int(candidates[0]), _Choice("random")
        self._show()

    def _ready(self) -> bool:
        """Whether uncertainty sampling has started: ``warmup`` labels, one of every label."""
        values = self.labels.iloc[self._embedded].dropna()
        return len(values) >= self.warmup and set(self.names) <= {self.label_of(v) for v in values}

    def _most_uncertain(self, candidates: np.ndarray) -> tuple[int, _Choice]:
        positions, probabilities, classes = self._scores  # type: ignore[misc]
        top = probabilities.max(axis=1)
        at = np.searchsorted(positions, candidates)
        best = int(np.argmin(top[at]))  # the first in random order among equals
        row = at[best]
        guess = classes[int(np.argmax(probabilities[row]))]
        return int(candidates[best]), _Choice("uncertain", guess, float(top[row]))

    # ----------------------------------------------------------------------------- the model

    def _refresh(self, *, chained: bool = False) -> None:
        """Start the next background step: embed the rows (once), fit on the labels so far.

        One run at a time: a change while one runs marks it stale, and its end starts the next.
        """
        if not chained and self._run is not None and self._run.running:
            self._stale = True
            return
        self._stale = False
        snapshot = self._snapshot() if self._ready() else None
        if self._vectors is not None and snapshot is None:
            return

        def work() -> tuple[np.ndarray, np.ndarray, list[str]] | None:
            if self._vectors is None:
                self._vectors = self._embed()
                self._embedded_done()
            return None if snapshot is None else self._fit(*snapshot)

        def finished(scores: tuple[np.ndarray, np.ndarray, list[str]] | None) -> None:
            if scores is not None:
                self._fitted(scores)
            if self._stale:
                self._refresh(chained=True)

        self._run = BackgroundRun(
            work,
            manager=self.manager,
            on_done=finished,
            on_error=self._failed,
            on_progress=self._progressed,
            name="llm_magics label panel",
        ).start()

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """The labelled rows the model can see and their labels, as they are now."""
        labelled = self._labelled_positions()
        labelled = labelled[np.isin(labelled, self._embedded)]
        names = [self.label_of(v) or str(v) for v in self.labels.iloc[labelled]]
        return labelled, np.array(names, dtype=object)

    def _embed(self) -> np.ndarray:
        from llm_magics.engine import embed

        texts = [self._text[int(p)] for p in self._embedded]
        # Rows cut to the encoder's length still serve to pick the next row: no warning for that.
        with _EMBEDDING, kept_warnings():
            return embed(texts, model=self.model, progress=False, manager=self.manager).vectors

    def _embedded_done(self) -> None:
        self.model_text.value = html.escape(
            f"{len(self._embedded):,} rows embedded with {self.model}; uncertainty sampling starts after "
            f"{self.warmup} labels with one of each."
        )

    def _fit(self, labelled: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
        # The model classify(examples=..., method="linear") fits on the same vectors.
        vectors = self._vectors
        rows = np.searchsorted(self._embedded, labelled)
        classes, codes = np.unique(np.asarray(y).astype(str), return_inverse=True)
        fitted = fit_linear(vectors[rows], codes)
        return self._embedded, fitted.predict_proba(vectors), [str(c) for c in classes]

    def _fitted(self, scores: tuple[np.ndarray, np.ndarray, list[str]]) -> None:
        self._scores = scores
        self.model_text.value = html.escape(
            f"Next rows: the most uncertain of a logistic regression on {self.model} vectors "
            "(Lewis & Gale 1994)."
        )

    def _progressed(self, job: Any) -> None:
        self.model_text.value = html.escape(
            f"Embedding rows for the uncertainty model: {job.done:,}/{job.total:,}…"
        )

    def _failed(self, err: BaseException) -> None:
        self.error = err
        self.model_text.value = error_html(err) + " (rows stay random)"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background embedding or fit; ``False`` if it still runs after ``timeout``.

        The panel never needs this (it shows random rows until the model is ready); code and
        tests call it to see the model's choice.
        """
        while self._run is not None:
            run = self._run
            if not run.join(timeout):
                return False
            if self._run is run:
                return True
        return True


def _equal(value: Any, label: Any) -> bool:
    try:
        return bool(value == label)
    except (TypeError, ValueError):  # an array or a value that cannot compare
        return False


def label(
    data: pd.DataFrame | pd.Series, labels: Sequence[Any], column: Any = None, **kwargs: Any
) -> LabelPanel:
    """A labelling panel on ``column`` of ``data`` (see ``LabelPanel``).

    Examples
    --------
    >>> panel = label(reviews, ["great", "other"], "review", into="label")   # doctest: +SKIP
    >>> panel.label_as("great"); reviews["label"].notna().sum()             # doctest: +SKIP
    1
    """
    return LabelPanel(data, labels, column, **kwargs)
