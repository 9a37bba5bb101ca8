"""Scoring each label as a complete answer, against scoring its tokens alone, side by side.

``engine.score`` scores a label that begins a longer one ("4" and "4.5") as stopping there
(times 1 - P(going on into the longer label)), so it no longer scores at least as high by
construction. This runs the ops built on ``score`` both ways in one process (the other way by
making ``continuations`` find none) on the same rows:

- star ratings written as numbers, ``classify(["1", "1.5", ..., "5"], method="llm")``: accuracy;
- the Amazon fine-food test reviews (great / other): ``sentiment`` and ``classify(method="llm")``
  at their default calibration: accuracy and macro-F1.

Results go to ``bench/results/answer_end.json`` and ``bench/results/answer_end.md``.

    python bench/answer_end.py [--rows 100]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-answer-end-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

import llm_magics  # noqa: F401  (the accessors)
from llm_magics.datasets import amazon_reviews

# The module, not the function that llm_magics.engine exports under the same name.
score_module = importlib.import_module("llm_magics.engine.score")
RESULTS = Path(__file__).parent / "results"
STARS = ["1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5"]
RATINGS = [
    "I rate this {} stars.",
    "{} stars from me.",
    "My rating: {} stars out of 5.",
    "Overall I would give it {} stars.",
]


def measures(truth: pd.Series, predicted: pd.Series) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
    }


def stages(reviews: pd.Series, truth: pd.Series) -> dict[str, Callable[[], dict[str, float]]]:
    """Each measure by name; the ops at their own default calibration, as users run them."""
    rated = [(template.format(s), s) for template in RATINGS for s in STARS]
    texts, stars = pd.Series([t for t, _ in rated]), pd.Series([s for _, s in rated])

    def star_ratings(calibrate: bool) -> dict[str, float]:
        found = texts.llm.classify(STARS, method="llm", calibrate=calibrate, progress=False)
        return measures(stars, found["label"])

    def sentiment() -> dict[str, float]:
        mood = reviews.llm.sentiment(progress=False)
        return measures(truth, mood["sentiment"].map({"positive": "great"}).fillna("other"))

    def classify() -> dict[str, float]:
        found = reviews.llm.classify(["great", "other"], method="llm", progress=False)
        return measures(truth, found["label"])

    return {
        "star ratings, classify llm (raw)": lambda: star_ratings(False),
        "star ratings, classify llm (calibrated)": lambda: star_ratings(True),
        "reviews, sentiment (raw)": sentiment,
        "reviews, classify llm (calibrated)": classify,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    data = amazon_reviews("test").head(args.rows)
    reviews, truth = data["review"], data["score"].astype(str)
    results: dict[str, Any] = {"rows": len(data), "star_texts": len(RATINGS) * len(STARS)}
    results["whole_answer"], results["tokens_alone"] = {}, {}
    whole = score_module.continuations
    RESULTS.mkdir(exist_ok=True)
    for name, measure in stages(reviews, truth).items():  # both ways, then the next measure
        results["whole_answer"][name] = measure()
        score_module.continuations = lambda candidates: [[] for _ in candidates]
        try:
            results["tokens_alone"][name] = measure()
        finally:
            score_module.continuations = whole
        (RESULTS / "answer_end.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "answer_end.md").write_text(markdown(results))
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"{r['star_texts']} star ratings written as numbers (9 labels) and {r['rows']} Amazon "
        "fine-food test reviews (great / other); the default chat model.",
        "",
        "| accuracy / macro-F1 | label tokens alone | whole answer (stops before a longer label) |",
        "|---|---|---|",
    ]
    for name, whole in r["whole_answer"].items():
        alone = r["tokens_alone"][name]
        lines.append(
            f"| {name} | {alone['accuracy']:.3f} / {alone['macro_f1']:.3f} "
            f"| {whole['accuracy']:.3f} / {whole['macro_f1']:.3f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
