"""The cascade's target, chosen by replaying it on the real answers of both models.

Both models score the 2,000 short reviews of ``bench/cascade.py`` (``sentiment``'s prompt, raw
probabilities, as ``sentiment`` uses them; through the result cache, so a second run takes
seconds). Then, for each target, the cascade's choice is replayed ``--draws`` times with a new
random sample of 200 rows each (``llm_magics.ops.cascade.choose_threshold``, the code the op runs):
rows below the chosen threshold and the sample take the quality model's answer, the rest the
fast model's. Reported per target: accuracy against the stars (positive = great), the share of
rows routed, agreement with the quality model alone (mean and worst draw), and the time the
cascade would take from the measured seconds per row of each model (``--fast-s``, ``--quality-s``:
``bench/results/cascade.json``'s fast and quality sides, loads left out). Results go to
``bench/results/cascade_replay.md``.

    python bench/cascade_replay.py [--draws 100]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import llm_magics  # noqa: F401  (the accessors)
from llm_magics.ops.cascade import SAMPLE_ROWS, choose_threshold
from llm_magics.ops.classify import SENTIMENTS, score_labels
from llm_magics.ops.prompts import render

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    from cascade import short_reviews  # bench/cascade.py, run from bench/ or with it on the path

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    reviews = short_reviews(args.rows)
    truth = (reviews.score == "great").to_numpy()
    measured = json.loads((RESULTS / "cascade.json").read_text())["sides"]
    per_row = {
        side: (measured[side]["seconds"] - measured[side]["load_seconds"]) / len(reviews)
        for side in ("fast", "quality")
    }
    probs = {
        model: score_labels(
            list(reviews.review),
            list(SENTIMENTS),
            lambda t: render("sentiment", text=t),
            model=model,
            calibrate=False,
            progress=False,
        ).probs
        for model in ("default-chat", "quality-chat")
    }
    fast, quality = probs["default-chat"].argmax(1), probs["quality-chat"].argmax(1)
    sure = probs["default-chat"].max(1)
    n = len(reviews)

    def accuracy(labels: np.ndarray) -> float:
        return float(((labels == 0) == truth).mean())

    lines = [
        f"# The cascade replayed on {n} short reviews, {args.draws} draws per target",
        "",
        f"Fast model alone: accuracy {accuracy(fast):.3f}; quality model alone: "
        f"{accuracy(quality):.3f}; seconds per row {per_row['fast']:.3f} and "
        f"{per_row['quality']:.3f} (`cascade.json`).",
        "",
        "| target | accuracy | rows routed | agreement (mean) | agreement (worst draw) | "
        "seconds (fast pass + routed) | quality alone |",
        "|---|---|---|---|---|---|---|",
    ]
    for target in (0.9, 0.95, 0.97, 0.98, 0.99):
        draws = []
        for seed in range(args.draws):
            sample = np.sort(np.random.default_rng(seed).choice(n, SAMPLE_ROWS, replace=False))
            threshold, _ = choose_threshold(
                sure[sample],
                np.arange(SAMPLE_ROWS),
                fast[sample] != quality[sample],
                target=target,
                confidence=0.95,
            )
            routed = sure < threshold
            routed[sample] = True
            labels = np.where(routed, quality, fast)
            draws.append((accuracy(labels), routed.mean(), (labels == quality).mean()))
        acc, share, agree = np.array(draws).T
        seconds = n * per_row["fast"] + share.mean() * n * per_row["quality"]
        lines.append(
            f"| {target} | {acc.mean():.3f} | {share.mean():.0%} | {agree.mean():.3f} | "
            f"{agree.min():.3f} | {seconds:.0f} | {n * per_row['quality']:.0f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cascade_replay.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
