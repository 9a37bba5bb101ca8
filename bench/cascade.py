"""One scored pass (sentiment) over 2,000 short reviews: fast model, quality model, the cascade.

Issue 31 §5: on a 2-core CPU, fresh result cache, defaults, one sentiment pass over 2,000 short
reviews (about 30 words) within 600 s including model loads. Reported side by side in one run:

- the fast model alone (``model="default-chat"``), the quality model alone
  (``model="quality-chat"``) and the cascade (no model named): rows/s, seconds including the
  model's load, agreement of each with the quality model alone and accuracy against the stars;
- the cascade's rows routed, its seconds per routed row, its estimated agreement and bound;
- the quality model through our engine against ``transformers.pipeline("text-generation",
  batch_size=16)`` generating the label, same model and dtype, on ``--pipeline-rows`` rows.

The reviews are the Amazon fine-food reviews (train and test) of 15 to 45 words, the first
``--rows`` of them. Results go to ``bench/results/cascade.json`` and ``.md``.

    python bench/cascade.py [--rows 2000] [--pipeline-rows 64]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd

import llm_magics  # noqa: F401  (the accessors)
from llm_magics import get_manager
from llm_magics.datasets import amazon_reviews

RESULTS = Path(__file__).parent / "results"


def short_reviews(rows: int) -> pd.DataFrame:
    frame = pd.concat([amazon_reviews("train"), amazon_reviews("test")], ignore_index=True)
    words = frame.review.str.split().str.len()
    return frame[(words >= 15) & (words <= 45)].head(rows).reset_index(drop=True)


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def accuracy(labels: pd.Series, stars: pd.Series) -> float:
    return float(((labels == "positive") == (stars == "great")).mean())


def pipeline_labels(loaded: Any, texts: list[str], batch_size: int) -> list[str]:
    from transformers import pipeline

    from llm_magics.ops.prompts import render

    pipe = pipeline(
        "text-generation", model=loaded.model, tokenizer=loaded.tokenizer, batch_size=batch_size
    )
    messages = [[{"role": "user", "content": render("sentiment", text=t)}] for t in texts]
    out = pipe(messages, max_new_tokens=3, do_sample=False, return_full_text=False)
    return [o[0]["generated_text"] for o in out]


def run(texts: pd.Series, stars: pd.Series, model: str | None) -> dict[str, Any]:
    manager = get_manager()
    manager.unload_all()
    gc.collect()
    started = time.perf_counter()
    if model is not None:
        manager.load(model)
    loaded_s = time.perf_counter() - started
    result = texts.llm.sentiment(model=model, cache=False, progress=False)
    seconds = time.perf_counter() - started
    return {
        "labels": result.sentiment,
        "seconds": seconds,
        "load_seconds": loaded_s,
        "rows_s": len(texts) / seconds,
        "accuracy": accuracy(result.sentiment, stars),
        "cascade": result.attrs["llm_magics"].get("cascade"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--pipeline-rows", type=int, default=64)
    args = parser.parse_args()
    config = get_manager().config  # models from the user's cache; results computed (cache=False)
    reviews = short_reviews(args.rows)
    texts, stars = reviews.review, reviews.score
    words = float(texts.str.split().str.len().mean())
    print(f"{len(texts)} reviews, {words:.1f} words on average; dtype {config.dtype}")

    quality = run(texts, stars, "quality-chat")
    print(f"quality alone: {quality['seconds']:.0f} s")
    fast = run(texts, stars, "default-chat")
    print(f"fast alone: {fast['seconds']:.0f} s")
    cascaded = run(texts, stars, None)
    print(f"cascade: {cascaded['seconds']:.0f} s")
    report = cascaded["cascade"]

    loaded = get_manager().load("quality-chat")
    sample = texts.iloc[:: max(1, len(texts) // args.pipeline_rows)].head(args.pipeline_rows)
    _, ours_s = timed(
        lambda: sample.llm.sentiment(model="quality-chat", cache=False, progress=False)
    )
    generated, pipe_s = timed(lambda: pipeline_labels(loaded, sample.tolist(), 16))
    results = {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": os.cpu_count()},
        "rows": len(texts),
        "mean_words": words,
        "dtype": config.dtype,
        "sides": {
            name: {k: v for k, v in side.items() if k not in ("labels", "cascade")}
            | {"agreement_with_quality": float((side["labels"] == quality["labels"]).mean())}
            for name, side in (("fast", fast), ("quality", quality), ("cascade", cascaded))
        },
        "cascade": {k: v for k, v in report.items() if k != "quality_rows"},
        "cascade_seconds_per_routed_row": (cascaded["seconds"] - fast["seconds"])
        / max(report["routed"], 1),
        "pipeline": {
            "rows": len(sample),
            "engine_rows_s": len(sample) / ours_s,
            "pipeline_bs16_rows_s": len(sample) / pipe_s,
            "ratio": pipe_s / ours_s,
            "pipeline_answers_naming_one_label": float(
                np.mean(
                    [
                        sum(w in g.lower() for w in ("positive", "negative", "neutral")) == 1
                        for g in generated
                    ]
                )
            ),
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cascade.json").write_text(json.dumps(results, indent=2))
    lines = [
        f"# Sentiment over {len(texts)} short reviews ({words:.1f} words), {config.dtype}, "
        f"{results['machine']['threads']} threads",
        "",
        "| side | seconds (with load) | rows/s | agreement with quality alone | accuracy (great = positive) |",
        "|---|---|---|---|---|",
    ]
    for name, side in results["sides"].items():
        lines.append(
            f"| {name} | {side['seconds']:.0f} | {side['rows_s']:.2f} | "
            f"{side['agreement_with_quality']:.3f} | {side['accuracy']:.3f} |"
        )
    lines += [
        "",
        f"Cascade: {report['routed']} of {report['rows']} rows answered by the quality model "
        f"({report['sampled']} sampled), threshold {report['threshold']:.3f}; estimated agreement "
        f"{report['agreement']:.3f} (≥ {report['agreement_low']:.3f} at "
        f"{report['confidence']:.0%}); "
        f"{results['cascade_seconds_per_routed_row']:.2f} s per routed row beyond the fast pass.",
        "",
        f"Quality model, engine vs `pipeline(batch_size=16)` generating the label, "
        f"{len(sample)} rows: {results['pipeline']['engine_rows_s']:.2f} vs "
        f"{results['pipeline']['pipeline_bs16_rows_s']:.2f} rows/s "
        f"({results['pipeline']['ratio']:.2f}×); the pipeline's answers named one label in "
        f"{results['pipeline']['pipeline_answers_naming_one_label']:.0%} of rows.",
    ]
    (RESULTS / "cascade.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
