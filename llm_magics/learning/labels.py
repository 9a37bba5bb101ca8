"""The label store: labels a person gave to texts, kept beside the cache so they outlive the kernel.

The labelling panel (``df.llm.label``) writes every click here at once, so a kernel restart, a
crash or a reloaded frame loses nothing. A label is kept under the SHA-256 of its row's text
(normalised: Unicode NFC, runs of whitespace as one space, no blanks at the ends), not under the
row's index: an index changes when a frame is re-read, sorted or filtered, its texts do not. Two
rows with the same text therefore share one label, which is what a label of the text means.

One JSON file per label column, ``<cache_dir>/labels/<into>.json``::

    {"format": 1, "into": "label",
     "labels": {"<sha256 hex>": {"label": "great", "time": "2026-11-30T03:51:07+00:00"}, ...}}

A label is a JSON scalar: the str of a text label, or the int, float or bool the panel was given
(``labels=[0, 1]`` stores 0 and 1, and they come back as ints).

It is rewritten whole on every change (a temporary file renamed over the old one, so a reader
never sees half a file); label stores are small (a person labels hundreds of rows, not millions).
The result cache's ``%mine cache clear`` does not touch it.

``load(into)`` reads a store as a table and ``restore(texts, into)`` gives a text column's labels
without opening a panel::

    reviews["label"] = llm_magics.labels.restore(reviews["review"], "label")

A bottom-layer module: it imports only the settings (``config``), the errors, pandas and the
standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.config import get_config
from llm_magics.errors import InvalidArgumentError

__all__ = ["LabelStore", "load", "restore", "text_key"]

STORE_FORMAT = 1
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")
_WHITESPACE = re.compile(r"\s+")
_LOCK = threading.Lock()  # one writer at a time in this process: a read-modify-write per change


def text_key(text: str) -> str:
    """The store's key of ``text``: the SHA-256 (hex) of its normalised form.

    Normalised: Unicode NFC, every run of whitespace one space, stripped; case is kept.

    Examples
    --------
    >>> text_key("Great  tea.\\n") == text_key(" Great tea.")
    True
    >>> text_key("Great tea.") == text_key("great tea.")
    False
    """
    normal = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def _key_of(value: Any) -> str | None:
    """The key of a cell's text; ``None`` for a missing or blank cell."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", errors="replace")
    elif not isinstance(value, str):
        if value is None or (np.ndim(value) == 0 and pd.isna(value)):
            return None
        value = str(value)
    return text_key(value) if value.strip() else None


def _checked_into(into: Any) -> str:
    if not isinstance(into, str) or not into.strip():
        msg = f"into= names the label column: a non-empty str such as 'label', not {into!r}."
        raise InvalidArgumentError(msg)
    return into


class LabelStore:
    """The stored labels of one label column ``into`` (see the module docs for the format).

    Parameters
    ----------
    into
        The label column's name; it names the file.
    cache_dir
        The folder that holds ``labels/`` (default: ``LlmMagics.cache_dir``, read when the store
        is made).
    """

    def __init__(self, into: str, *, cache_dir: str | Path | None = None) -> None:
        self.into = _checked_into(into)
        root = get_config().cache_path if cache_dir is None else Path(cache_dir).expanduser()
        if _SAFE_NAME.fullmatch(into):
            name = into
        else:  # a name with spaces or slashes: readable stem, hash for uniqueness
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", into).strip("._")[:40] or "labels"
            name = f"{stem}-{hashlib.sha256(into.encode()).hexdigest()[:10]}"
        self.path = root / "labels" / f"{name}.json"

    def read(self) -> dict[str, dict[str, str]]:
        """Every stored label: ``{text key: {"label": ..., "time": ISO 8601 UTC}}`` (empty if none).

        Raises ``InvalidArgumentError`` when the file is not a label store.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            msg = (
                f"The label store {self.path} cannot be read ({err}); move it away to start afresh."
            )
            raise InvalidArgumentError(msg) from err
        if not isinstance(data, dict) or not isinstance(data.get("labels"), dict):
            msg = f"{self.path} is not a label store; move it away to start afresh."
            raise InvalidArgumentError(msg)
        return data["labels"]

    def put(self, key: str, label: str | int | float | bool) -> None:
        """Store ``label`` for the text whose key is ``key`` (replacing any label it had).

        A label is a JSON scalar: a str, or an int/float/bool label (``labels=[0, 1]``), which
        comes back as it went in.
        """
        time = datetime.now(UTC).isoformat(timespec="seconds")
        self._change(lambda labels: labels.__setitem__(key, {"label": label, "time": time}))

    def remove(self, key: str) -> None:
        """Forget the label of the text whose key is ``key`` (nothing if it has none)."""
        self._change(lambda labels: labels.pop(key, None))

    def _change(self, edit: Any) -> None:
        with _LOCK:
            labels = self.read()
            edit(labels)
            self._write({"format": STORE_FORMAT, "into": self.into, "labels": labels})

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file, ensure_ascii=False, indent=0)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def restore(self, texts: pd.Series) -> pd.Series:
        """The stored label of each row of ``texts`` (object dtype, NaN where none), on its index.

        Rows with the same text (the same key) get the same label.
        """
        stored = self.read()
        values = [
            stored.get(key, {}).get("label", np.nan) if key is not None else np.nan
            for key in map(_key_of, texts.tolist())
        ]
        return pd.Series(values, index=texts.index, dtype=object, name=self.into)


def load(into: str, *, cache_dir: str | Path | None = None) -> pd.DataFrame:
    """The labels stored for the label column ``into``, one row per labelled text.

    Parameters
    ----------
    into
        The label column the panel wrote (``df.llm.label(..., into=...)``).
    cache_dir
        Where the store lives (default: ``LlmMagics.cache_dir``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``key`` (``text_key`` of the text), with ``label`` (object) and ``time``
        (``datetime64[s, UTC]``, when it was given); empty when nothing is stored.

    Examples
    --------
    >>> load("label").columns.tolist()      # doctest: +SKIP
    ['label', 'time']
    """
    stored = LabelStore(into, cache_dir=cache_dir).read()
    frame = pd.DataFrame(
        {
            "label": pd.Series([v["label"] for v in stored.values()], dtype=object),
            "time": pd.to_datetime([v["time"] for v in stored.values()], utc=True),
        }
    )
    frame.index = pd.Index(list(stored), name="key", dtype=object)
    return frame


def restore(texts: pd.Series, into: str, *, cache_dir: str | Path | None = None) -> pd.Series:
    """The stored labels of ``texts``: what the panel would restore, with no panel.

    Parameters
    ----------
    texts
        The text column the labels were given on (any row order, any index: rows are matched by
        their text).
    into
        The label column's name (the store's).
    cache_dir
        Where the store lives (default: ``LlmMagics.cache_dir``).

    Returns
    -------
    pandas.Series
        Object dtype, named ``into``, on ``texts``' index; the label of each row whose text has
        one (as the panel was given it: ``labels=[0, 1]`` restores the ints), NaN elsewhere. It is what ``classify(..., examples=)`` and ``finetune`` take.

    Examples
    --------
    >>> reviews["label"] = restore(reviews["review"], "label")      # doctest: +SKIP
    """
    if not isinstance(texts, pd.Series):
        msg = f"restore() needs the text column as a pandas Series, not {type(texts).__name__}."
        raise InvalidArgumentError(msg)
    return LabelStore(into, cache_dir=cache_dir).restore(texts)
