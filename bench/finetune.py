"""How long fine-tuning takes on this machine, and what it buys (``make finetune``).

``finetune`` on 2,000 short Amazon fine-food training reviews (at most 60 words), 2 epochs,
from the default embedding model on the CPU; then ``classify(method="finetuned")`` on the 1,000
test reviews. Results go to ``bench/results/finetune.json`` and ``.md``.

    python bench/finetune.py [--rows 2000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-finetune-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from sklearn.metrics import accuracy_score, f1_score

import llm_magics  # noqa: F401  (the accessors)
from llm_magics.datasets import amazon_reviews

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    train = amazon_reviews("train")
    short = train[train["review"].str.split().str.len() <= 60].head(args.rows)
    tuned = short.llm.finetune("review", "score", epochs=args.epochs, progress=False)
    test = amazon_reviews("test")
    predicted = test.llm.classify("review", method="finetuned", model=tuned.name, progress=False)
    results = {
        "rows": len(short),
        "epochs": args.epochs,
        "threads": torch.get_num_threads(),
        "seconds": tuned.seconds,
        "history": tuned.history.to_dict(orient="records"),
        "test_accuracy": float(accuracy_score(test["score"], predicted["label"])),
        "test_f1_macro": float(f1_score(test["score"], predicted["label"], average="macro")),
        "test_majority_accuracy": float(test["score"].value_counts(normalize=True).max()),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "finetune.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        f"Fine-tuning the default embedding model on {results['rows']} short reviews, "
        f"{results['epochs']} epochs, {results['threads']} CPU threads: {results['seconds']:.0f} s.",
        "",
        "| epoch | train loss | validation accuracy | validation macro-F1 | seconds |",
        "|---|---|---|---|---|",
        *[
            f"| {h['epoch']} | {h['train_loss']:.3f} | {h['valid_accuracy']:.3f} | "
            f"{h['valid_f1_macro']:.3f} | {h['seconds']:.0f} |"
            for h in results["history"]
        ],
        "",
        f"On the 1,000 test reviews: accuracy {results['test_accuracy']:.3f}, macro-F1 "
        f"{results['test_f1_macro']:.3f} (majority class {results['test_majority_accuracy']:.3f}).",
    ]
    (RESULTS / "finetune.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
