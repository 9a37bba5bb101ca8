"""What a table cell's text is: a blank-looking cell is missing, bytes are decoded, other values
are their ``str()``.

Every op reads its rows through ``text_of`` (``ops.base.TextColumn``), and so do the labelled
examples of few-label learning (``llm_magics.learning``) and a plan's ``with`` table: one rule for
what counts as text everywhere. This module imports nothing of ``llm_magics``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["decoded", "is_blank", "text_of"]

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


def decoded(value: bytes | bytearray | memoryview) -> tuple[str, bool]:
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
        value = decoded(value)[0]
    elif not isinstance(value, str):
        if value is None or (np.ndim(value) == 0 and pd.isna(value)):
            return None
        value = str(value)
    return None if is_blank(value) else value
