from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from llm_magics import get_config
from llm_magics.datasets import amazon_reviews
from llm_magics.errors import InvalidArgumentError
from llm_magics.mining.candidates import BASELINE
from llm_magics.ops import FineTuned, TextFeatures, classify, finetune

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tuned() -> FineTuned:
    frame = amazon_reviews("train").head(60)
    return finetune(
        frame, "review", "score", epochs=2, max_length=32, batch_size=16, progress=False
    )


def test_training_reports_each_epoch_and_saves_the_model(tuned: FineTuned) -> None:
    assert tuned.labels == ["great", "other"]
    assert tuned.history["epoch"].tolist() == [1, 2]
    assert tuned.history[["valid_accuracy", "valid_f1_macro"]].stack().between(0, 1).all()
    assert (tuned.history["train_loss"] > 0).all()
    folder = Path(tuned.path)
    assert folder.parent == Path(get_config().cache_dir) / "finetuned"
    assert json.loads((folder / "llm_magics_training.json").read_text())["labels"] == tuned.labels
    assert get_config().aliases[tuned.name] == tuned.path


def test_the_classifier_serves_classify_and_features(tuned: FineTuned) -> None:
    texts = pd.Series(["Wonderful tea!", None, "Stale and awful."], index=[7, 8, 9])
    out = classify(texts, method="finetuned", model=tuned.name, progress=False)
    assert out.columns.tolist() == ["label", "probability", "p_great", "p_other"]
    assert set(out["label"].dropna()) <= {"great", "other"} and out.loc[8].isna().all()
    assert np.allclose(out[["p_great", "p_other"]].dropna().sum(axis=1), 1.0, atol=1e-5)
    features = TextFeatures(("stats",), finetuned=tuned.name, progress=False).fit_transform(texts)
    assert features.columns[-2:].tolist() == ["text_ft_great", "text_ft_other"]
    with pytest.raises(InvalidArgumentError, match="leave labels out"):
        classify(texts, ["good", "bad"], method="finetuned", model=tuned.name, progress=False)


def test_ray_workers_load_the_fine_tuned_classifier_by_its_name(
    tuned: FineTuned, ray_cluster: Any
) -> None:
    # The alias travels with the driver's settings; the folder is in cache_dir (shared storage
    # on a cluster), so each worker loads the same classifier.
    texts = amazon_reviews("test")["review"].head(8)
    local = classify(texts, method="finetuned", model=tuned.name, cache=False, progress=False)
    remote = classify(
        texts, method="finetuned", model=tuned.name, cache=False, progress=False, backend="ray"
    )
    assert remote["label"].tolist() == local["label"].tolist()
    np.testing.assert_allclose(remote["probability"], local["probability"], atol=1e-5)


def test_a_single_label_is_refused() -> None:
    frame = pd.DataFrame({"review": [f"text {i}" for i in range(20)], "score": ["great"] * 20})
    with pytest.raises(InvalidArgumentError, match="at least two labels"):
        finetune(frame, "review", "score", progress=False)


def test_mine_uses_the_classifier_as_features(tuned: FineTuned) -> None:
    from llm_magics import get_manager, mine

    frame = amazon_reviews("test").head(40)
    result = mine(
        frame, "score", finetuned=tuned.name, kinds=("stats",), budget=0, folds=2, progress=False
    )
    jobs = get_manager().status()["jobs"]
    assert any(j["primitive"] == "predict" and j["model"] == tuned.name for j in jobs)
    if result.best_name != BASELINE:
        assert {"review_ft_great", "review_ft_other"} <= set(result.feature_importances["feature"])


def test_a_mostly_unlabelled_label_column_trains_on_the_labelled_rows() -> None:
    # what the labelling panel leaves: labels for 30 rows of 120, NaN elsewhere
    frame = amazon_reviews("train").head(120).copy()
    frame["label"] = frame["score"].where(frame.index < 30)
    tuned = finetune(frame, "review", "label", epochs=1, max_length=32, progress=False)
    assert tuned.labels == ["great", "other"]
    assert tuned.history["epoch"].tolist() == [1]
    # the name hashes the training rows: the same as tuning on the 30 labelled rows alone
    alone = finetune(frame.head(30), "review", "label", epochs=1, max_length=32, progress=False)
    assert alone.name == tuned.name
