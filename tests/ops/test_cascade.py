"""The cascade: the fast model on every row, the quality model on a sample and where unsure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_magics.ops import cascade as cascade_module
from llm_magics.ops.cascade import CascadeReport, choose_threshold, upper_bound
from llm_magics.runtime.manager import ModelManager


def test_upper_bound_is_clopper_pearson() -> None:
    assert upper_bound(0, 200, 0.95) == pytest.approx(1 - 0.05 ** (1 / 200), rel=1e-9)
    assert upper_bound(5, 200, 0.95) == pytest.approx(0.0518, abs=1e-4)
    assert upper_bound(10, 10, 0.95) == 1.0


def test_a_useless_fast_model_routes_every_row() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.34, 1.0, 2000)
    sample = rng.choice(2000, 200, replace=False)
    disagrees = rng.random(200) < 0.4  # as often wrong when sure as when unsure
    threshold, _ = choose_threshold(confidence, sample, disagrees, target=0.95, confidence=0.95)
    # it may keep only as many rows as its 40% errors allow: 5% / 40% ≈ 12% of them
    assert (confidence < threshold).mean() > 0.85


@pytest.mark.parametrize("target", [0.9, 0.95])
def test_the_agreement_holds_in_at_least_the_stated_share_of_draws(target: float) -> None:
    """On 400 simulated columns the realised agreement meets the target in ≥ 95% of draws
    (allowing for the simulation's own noise, ≥ 93%)."""
    rng = np.random.default_rng(1)
    held = []
    for _ in range(400):
        n = 3000
        confidence = rng.uniform(0.34, 1.0, n)
        # the fast model disagrees with the quality model more often where it is unsure
        disagrees_all = rng.random(n) < 0.6 * (1 - confidence) ** 1.5
        sample = rng.choice(n, 200, replace=False)
        threshold, _ = choose_threshold(
            confidence, sample, disagrees_all[sample], target=target, confidence=0.95
        )
        kept = confidence >= threshold
        kept[sample] = False  # sampled rows carry the quality model's answer
        held.append(1 - (disagrees_all & kept).mean() >= target)
    assert np.mean(held) >= 0.93
    assert np.mean(held) < 1.0 or target == 0.9  # not trivially by routing everything


def test_report_summary_says_rows_agreement_and_time() -> None:
    report = CascadeReport(
        "default-chat", "quality-chat", 2000, 200, 640, 0.93, 0.95, 0.95, 0.985, 0.962,
        412.0, 1210.0, [],
    )  # fmt: skip
    line = report.summary()
    assert "640 of 2000 rows answered by quality-chat" in line
    assert "≥ 0.96 at 95% confidence" in line
    assert "412 s against about 1210 s" in line
    assert report.brief() == (
        "640 of 2,000 rows to quality-chat · agreement 0.98 (≥ 0.96) · 412 s, "
        "quality-chat alone ~1,210 s"
    )


@pytest.mark.slow
def test_a_short_column_is_answered_by_the_quality_model(
    quality_manager: ModelManager,
) -> None:
    texts = pd.Series(
        [
            "包装破损，茶叶受潮发霉了，客服也不回复，非常失望",
            "茶叶很香，包装精美，物流也很快，下次还会买。",
            "Der Kaffee war stark und frisch, sehr zu empfehlen!",
            "Die Lieferung kam zwei Wochen zu spät und die Dose war verbeult. Ärgerlich.",
            "Very annoying: the lid broke on the first day.",
            None,
        ],
        index=[10, 11, 12, 13, 14, 15],
    )
    result = texts.llm.sentiment(manager=quality_manager, cache=False, progress=False)
    assert result.sentiment.tolist()[:5] == [
        "negative",
        "positive",
        "positive",
        "negative",
        "negative",
    ]
    assert pd.isna(result.sentiment.iloc[5])
    report = result.attrs["llm_magics"]["cascade"]
    assert report["quality"] == "quality-chat" and report["fast"] == "default-chat"
    assert report["rows"] == report["routed"] == 5  # no larger than the sample: quality alone
    assert report["agreement_low"] == 1.0
    fields = texts.llm.extract(
        {"complaint": bool, "note": str},
        max_words=3,
        manager=quality_manager,
        cache=False,
        progress=False,
    )
    truth = [True, False, False, True, True]
    right = sum(a == b for a, b in zip(fields["complaint"].tolist()[:5], truth, strict=True))
    assert right >= 4  # asked before the text, the model said yes to all five
    assert set(fields.attrs["llm_magics"]["cascades"]) == {"complaint"}  # not the text field
    assert fields.attrs["llm_magics"]["cascades"]["complaint"]["routed"] == 5


@pytest.mark.slow
def test_long_column_keeps_sure_fast_answers_and_routes_the_rest(
    quality_manager: ModelManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_magics.datasets import amazon_reviews

    texts = amazon_reviews("test").review.iloc[100:124]
    monkeypatch.setattr(cascade_module, "SAMPLE_ROWS", 10)
    config = quality_manager.config
    monkeypatch.setattr(config, "cascade_target", 0.6)
    monkeypatch.setattr(config, "cascade_confidence", 0.6)
    engine = {"manager": quality_manager, "cache": False, "progress": False}
    before = {j["id"] for j in quality_manager.status()["jobs"]}
    result = texts.llm.sentiment(**engine)
    listed = [j for j in quality_manager.status()["jobs"] if j["id"] not in before]
    fast = texts.llm.sentiment(model="default-chat", **engine)
    quality = texts.llm.sentiment(model="quality-chat", **engine)
    report = result.attrs["llm_magics"]["cascade"]
    answered = np.zeros(len(texts), dtype=bool)
    answered[report["quality_rows"]] = True
    assert report["sampled"] == 10 and report["rows"] == 24
    assert report["routed"] == answered.sum() >= 10
    expected = np.where(answered, quality.sentiment, fast.sentiment)
    assert result.sentiment.tolist() == expected.tolist()
    assert 0 <= report["agreement_low"] <= report["agreement"] <= 1
    assert report["quality_alone_seconds"] > 0
    # the sidebar shows the cascade's engine calls as one job, its note saying what it did
    assert [j["primitive"] for j in listed] == ["cascade default-chat → quality-chat"]
    assert listed[0]["note"] == CascadeReport(**report).brief()
    assert listed[0]["note"].startswith(f"{report['routed']} of 24 rows to quality-chat · ")
