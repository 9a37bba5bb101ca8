"""Mining results and text outputs to chart: real reviews and loans, small and fast settings."""

from __future__ import annotations

import pandas as pd
import pytest

from llm_magics import MiningResult, mine
from llm_magics.datasets import amazon_reviews, loans

FAST = {"budget": 2, "folds": 3, "progress": False}


@pytest.fixture(scope="session")
def chart_reviews() -> pd.DataFrame:
    frame = amazon_reviews("train").iloc[:120].copy()
    frame["length"] = frame["review"].str.len()
    return frame


@pytest.fixture(scope="session")
def classified(chart_reviews: pd.DataFrame) -> MiningResult:
    return mine(chart_reviews, "score", text="review", kinds=("stats", "embedding"), **FAST)


@pytest.fixture(scope="session")
def three_classes() -> MiningResult:
    frame = loans()[["emp_title", "annual_income", "debt_to_income", "homeownership"]].iloc[:300]
    return mine(frame, "homeownership", text="emp_title", kinds=("stats",), **FAST)


@pytest.fixture(scope="session")
def regressed() -> MiningResult:
    frame = loans()[["emp_title", "annual_income", "debt_to_income", "interest_rate"]].iloc[:200]
    return mine(frame, "interest_rate", text="emp_title", kinds=("stats",), **FAST)
