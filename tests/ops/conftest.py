"""Real reviews for the op tests, on a shuffled, non-default index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_magics.datasets import amazon_reviews

_POSITIVE = [
    "I love this tea. It is delicious and wonderful, the best I have ever had!",
    "Excellent coffee, great taste, my whole family loves it. Highly recommended!",
]
_NEGATIVE = [
    "Terrible. It tasted awful and stale, I hate it. A total waste of money.",
    "Disgusting product, it arrived rotten and made me sick. Never again.",
]


@pytest.fixture(scope="session")
def reviews() -> pd.DataFrame:
    """Twelve real test reviews with a shuffled integer index, plus a missing and a blank row."""
    frame = amazon_reviews("test").head(12).reset_index(drop=True)
    frame.index = pd.Index(np.random.default_rng(7).permutation(1000)[:12] + 5000, name="id")
    frame.loc[frame.index[3], "review"] = None
    frame.loc[frame.index[8], "review"] = "   "
    return frame


@pytest.fixture(scope="session")
def clear_reviews() -> pd.Series:
    """Two clearly positive then two clearly negative reviews."""
    return pd.Series(_POSITIVE + _NEGATIVE, index=[9, 7, 5, 3], name="review")
