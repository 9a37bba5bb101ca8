"""Clear-cut reviews for the op tests (the real ones, `reviews`, are in tests/conftest.py)."""

from __future__ import annotations

import pandas as pd
import pytest

_POSITIVE = [
    "I love this tea. It is delicious and wonderful, the best I have ever had!",
    "Excellent coffee, great taste, my whole family loves it. Highly recommended!",
]
_NEGATIVE = [
    "Terrible. It tasted awful and stale, I hate it. A total waste of money.",
    "Disgusting product, it arrived rotten and made me sick. Never again.",
]


@pytest.fixture(scope="session")
def clear_reviews() -> pd.Series:
    """Two clearly positive then two clearly negative reviews."""
    return pd.Series(_POSITIVE + _NEGATIVE, index=[9, 7, 5, 3], name="review")
