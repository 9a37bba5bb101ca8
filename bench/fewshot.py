"""Few-shot classification on Amazon fine-food reviews (great / other): each method side by side.

The start of ``bench/quality.py``'s few-shot section. Per draw, ``--labels`` examples are drawn
from the train split; every method labels the same ``--rows`` held-out test rows. Printed per
method and draw: held-out accuracy and macro-F1, the cross-validated estimate the result reports
(with its interval, and whether the interval holds the held-out accuracy), and rows/s. Zero-shot
``sentiment`` (positive read as "great"), zero-shot ``classify`` and the majority rate beside.

    OMP_NUM_THREADS=2 python bench/fewshot.py --labels 32 --rows 300 --draws 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from llm_magics.datasets import amazon_reviews
from llm_magics.ops.classify import classify
from llm_magics.ops.sentiment import sentiment

LABELS = ["great", "other"]


def _row(name: str, draw: int, predicted: pd.Series, truth: pd.Series, seconds: float) -> dict:
    return {
        "method": name,
        "draw": draw,
        "accuracy": float((predicted.to_numpy() == truth.to_numpy()).mean()),
        "f1_macro": float(f1_score(truth, predicted, average="macro")),
        "rows/s": len(truth) / seconds,
    }


def zero_shot(test: pd.DataFrame) -> list[dict]:
    """Zero-shot sentiment and classify, and the majority rate (no examples)."""
    truth, rows = test["score"], []
    started = time.perf_counter()
    mood = sentiment(test["review"], progress=False)["sentiment"]
    guess = mood.map({"positive": "great"}).fillna("other")
    rows.append(_row("zero-shot sentiment", 0, guess, truth, time.perf_counter() - started))
    for method in ("embed", "llm"):
        started = time.perf_counter()
        label = classify(test["review"], LABELS, method=method, progress=False)["label"]
        rows.append(
            _row(f"zero-shot classify {method}", 0, label, truth, time.perf_counter() - started)
        )
    majority = pd.Series(truth.mode()[0], index=truth.index)
    rows.append(_row("majority", 0, majority, truth, 1.0) | {"rows/s": float("nan")})
    return rows


def few_shot(test: pd.DataFrame, train: pd.DataFrame, method: str, draw: int, n: int) -> dict:
    """``classify(examples=...)`` with ``method`` on one draw of ``n`` labelled examples."""
    picked = train.sample(n, random_state=draw)
    examples = dict(zip(picked["review"], picked["score"], strict=True))
    started = time.perf_counter()
    result = classify(test["review"], LABELS, examples=examples, method=method, progress=False)
    row = _row(method, draw, result["label"], test["score"], time.perf_counter() - started)
    meta = result.attrs["llm_magics"]
    low, high = meta["quality"]["accuracy_interval"]
    row |= {
        "chosen": meta["method"],
        "cv_accuracy": meta["quality"]["accuracy"],
        "interval": f"{low:.2f}-{high:.2f}",
        "holds": low <= row["accuracy"] <= high,
        "best_cv_naive": max(m["accuracy"] for m in meta["methods"].values()),
    }
    return row


def main() -> None:
    """Run the comparison and print one table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--labels", type=int, default=32)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--methods", default="linear,stack,auto,llm,setfit")
    parser.add_argument("--llm-rows", type=int, default=100, help="held-out rows for 'llm' (slow)")
    args = parser.parse_args()
    train = amazon_reviews("train")
    test = amazon_reviews("test").head(args.rows)
    rows = zero_shot(test)
    print(pd.DataFrame(rows).round(3).to_string(index=False), flush=True)
    for draw in range(args.draws):
        for method in args.methods.split(","):
            part = test.head(args.llm_rows) if method == "llm" else test
            rows.append(few_shot(part, train, method, draw, args.labels))
            print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print(table.round(3).to_string(index=False))
    summary = table.groupby("method")[["accuracy", "f1_macro", "rows/s"]].agg(["mean", "std"])
    print(summary.round(3).to_string())


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
