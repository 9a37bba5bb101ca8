from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_magics.ops import embed

pytestmark = pytest.mark.slow


def test_one_column_per_dimension_and_nan_rows(reviews: pd.DataFrame) -> None:
    out = embed(reviews["review"], progress=False)
    assert out.shape == (12, 384)
    assert out.columns[0] == "review_emb_0" and out.columns[-1] == "review_emb_383"
    assert out.index.equals(reviews.index)
    present = out.notna().all(axis=1)
    assert present.sum() == 10 and out[~present].isna().all().all()
    assert np.allclose(np.linalg.norm(out[present].to_numpy(), axis=1), 1.0, atol=1e-5)


def test_dims_reduces_with_pca(reviews: pd.DataFrame) -> None:
    out = embed(reviews["review"], dims=3, progress=False)
    assert out.columns.tolist() == ["review_emb_0", "review_emb_1", "review_emb_2"]
    assert out.dropna().shape == (10, 3)
    assert str(out.dtypes.iloc[0]) == "float32"
