from __future__ import annotations

import numpy as np
import pandas as pd

from llm_magics.datasets import amazon_reviews
from llm_magics.mining.candidates import BaselineScore


def test_the_baseline_score_is_out_of_fold_on_its_own_rows() -> None:
    frame = amazon_reviews("train").head(120)
    score = BaselineScore(["review"], "classification", seed=0)
    stacked = score.fit_transform(frame[["review"]], frame["score"])
    refit = score.transform(frame[["review"]])
    assert stacked.shape == refit.shape == (120, 2)
    assert np.allclose(stacked.sum(axis=1), 1.0)
    # In-sample predictions are more confident about the true label than out-of-fold ones.
    truth = (frame["score"] == score.classes_[1]).to_numpy()
    assert np.abs(refit[:, 1] - truth).mean() < np.abs(stacked[:, 1] - truth).mean()
    assert score.get_feature_names_out().tolist() == [
        "review_tfidf_p_great",
        "review_tfidf_p_other",
    ]


def test_the_baseline_score_for_regression() -> None:
    frame = pd.DataFrame(
        {"note": [f"value {i % 7} words here" for i in range(60)], "y": np.arange(60) % 7}
    )
    score = BaselineScore(["note"], "regression")
    assert score.fit_transform(frame[["note"]], frame["y"]).shape == (60, 1)
    assert score.get_feature_names_out().tolist() == ["note_tfidf_prediction"]
