"""``aggregate`` on real reviews: speed, model calls per level, answer quality, folding.

On a fresh result cache, in one process, on the first ``--rows`` Amazon fine-food reviews
(``llm_magics.datasets.amazon_reviews()``, train split):

1. grouped by ``product``. Every product of this data set has exactly one review (4,000 rows,
   4,000 products), so these are ``--rows`` groups of one review: the "many small groups" case;
2. the whole column, the same rows: one group far beyond the chat model's context, which folds
   (levels >= 2). Side by side with 1 this is the claim that many small groups cost about what
   one long document of the same rows costs, and that the long one is folded, not truncated;
3. groups of several reviews, by food: the reviews (of all 4,000) that name exactly one of
   ``FOODS``, up to ``--per-group`` of each. The answer of each group should be about its own
   food: quality is the share of groups whose answer is more similar (cosine of the default
   embedding model) to the mean embedding of its own group's reviews than to every other
   group's. The same for the product groups of 1 (there, the answer against all ``--rows``
   reviews). Measured three ways: one chunk per group (the default ``chunk_tokens``), folded
   (``--fold-chunk`` tokens per chunk, so levels >= 2), and ``engine.generate`` called directly
   on the same prompts with ``summarize``'s answer start ("In short,"), to choose between the two;
4. the food groups again with one row added to one group: only that group's chunk is computed.

Results go to ``bench/results/aggregate.json`` and ``bench/results/aggregate.md``.

    python bench/aggregate.py [--rows 200] [--per-group 12] [--far-chunk 256] [--threads 2]

The defaults take about 10 minutes on 2 CPU threads (the committed results).
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

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-aggregate-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd
import torch

from llm_magics import get_manager
from llm_magics.datasets import amazon_reviews
from llm_magics.engine import embed, generate
from llm_magics.ops import aggregate
from llm_magics.ops.aggregate import _numbered, _without_labels
from llm_magics.ops.clean import strip_html
from llm_magics.ops.prompts import get_prompt, render
from llm_magics.ops.summarize import TOKENS_PER_WORD, _at_most, _sentence

RESULTS = Path(__file__).parent / "results"
FOODS = ("coffee", "tea", "chocolate", "dog", "cat", "chips", "sauce", "cereal")
MAX_WORDS = 30  # half of aggregate's default (60): the decode steps dominate on a shared CPU


def food_groups(reviews: pd.DataFrame, per_group: int) -> pd.DataFrame:
    """Reviews naming exactly one food of ``FOODS`` (as a word), up to ``per_group`` per food."""
    words = {
        f: reviews["review"].str.contains(rf"\b{f}s?\b", case=False, regex=True) for f in FOODS
    }
    named = pd.DataFrame(words)
    one = named[named.sum(axis=1) == 1]
    food = one.idxmax(axis=1).rename("food")
    out = reviews.loc[one.index].assign(food=food)
    return out.groupby("food", sort=False).head(per_group)


def own_group_share(answers: pd.Series, texts: pd.Series, keys: pd.Series) -> float:
    """Share of groups whose answer is nearest (cosine) to its own group's mean text embedding."""
    answers = answers.dropna()
    text_vectors = embed(texts.tolist(), progress=False).vectors
    means = pd.DataFrame(text_vectors, index=texts.index).groupby(keys.to_numpy()).mean()
    order = means.index.tolist()
    matrix = means.to_numpy() / np.linalg.norm(means.to_numpy(), axis=1, keepdims=True)
    vectors = embed(answers.tolist(), progress=False).vectors
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    nearest = (vectors @ matrix.T).argmax(axis=1)
    return float(np.mean([order[i] == key for i, key in zip(nearest, answers.index, strict=True)]))


def timed(texts: pd.Series, **kwargs) -> tuple[pd.DataFrame, float]:
    started = time.perf_counter()
    out = aggregate(texts, max_words=MAX_WORDS, progress=False, **kwargs)
    seconds = time.perf_counter() - started
    print(f"{len(texts)} rows, {len(out)} groups: {seconds:.1f} s", flush=True)
    return out, seconds


def summary(name: str, out: pd.DataFrame, seconds: float, rows: int) -> dict:
    info = out.attrs["llm_magics"]
    answers = out.iloc[:, 0].dropna()
    return {
        "case": name,
        "rows": rows,
        "groups": len(out),
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds, 2),
        "levels": info["levels"],
        "calls_per_level": info["calls_per_level"],
        "model_calls": sum(info["calls_per_level"]),
        "chunk_tokens": info["parameters"]["chunk_tokens"],
        "computed": info["rows_computed"],
        "from_cache": info["rows_from_cache"],
        "answer_words": round(float(answers.str.split().str.len().mean()), 1),
        "example": answers.iloc[0],
    }


def generate_directly(texts: pd.Series, keys: pd.Series) -> pd.Series:
    """One-chunk groups answered by ``engine.generate`` with the answer started, no summarize."""
    question = render("aggregate", instruction=get_prompt("aggregate_summary"), max_words=MAX_WORDS)
    groups = texts.groupby(keys.to_numpy(), sort=True)
    prompts = [
        question + "\n\n" + _numbered([" ".join(strip_html(t).split()) for t in g], "Text")
        for _, g in groups
    ]
    out = generate(
        prompts,
        max_new_tokens=int(MAX_WORDS * TOKENS_PER_WORD) + 8,
        answer_prefix=get_prompt("summarize_answer"),
        progress=False,
    )
    answers = [_at_most(_sentence(_without_labels(t.strip())), MAX_WORDS) for t in out.texts]
    return pd.Series(answers, index=[k for k, _ in groups])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--per-group", type=int, default=12)
    parser.add_argument("--fold-chunk", type=int, default=512)
    parser.add_argument("--far-chunk", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    everything = amazon_reviews()
    reviews = everything.head(args.rows)
    get_manager().load("default-chat")
    get_manager().load("default-embed")

    cases, quality = [], {}
    products, seconds = timed(reviews["review"], by=reviews["product"])
    cases.append(summary("by product (groups of 1)", products, seconds, args.rows))
    quality["by product (groups of 1)"] = own_group_share(
        products["review_aggregate"], reviews["review"], reviews["product"]
    )
    column, seconds = timed(reviews["review"])
    cases.append(summary("whole column (one group)", column, seconds, args.rows))
    far, seconds = timed(reviews["review"], chunk_tokens=args.far_chunk)
    cases.append(summary(f"whole column, {args.far_chunk}-token chunks", far, seconds, args.rows))

    foods = food_groups(everything, args.per_group)
    texts, keys = foods["review"], foods["food"]
    one_chunk, seconds = timed(texts, by=keys)
    cases.append(summary("by food, one chunk per group", one_chunk, seconds, len(foods)))
    quality["by food, one chunk per group (summarize)"] = own_group_share(
        one_chunk["review_aggregate"], texts, keys
    )
    folded, seconds = timed(texts, by=keys, chunk_tokens=args.fold_chunk)
    cases.append(summary(f"by food, {args.fold_chunk}-token chunks", folded, seconds, len(foods)))
    quality[f"by food, folded ({args.fold_chunk}-token chunks)"] = own_group_share(
        folded["review_aggregate"], texts, keys
    )
    started = time.perf_counter()
    direct = generate_directly(texts, keys)
    direct_seconds = time.perf_counter() - started
    quality["by food, one chunk per group (generate + 'In short,')"] = own_group_share(
        direct, texts, keys
    )

    again, seconds = timed(texts, by=keys)
    cases.append(summary("by food again (cached)", again, seconds, len(foods)))
    extra = everything.drop(foods.index)
    added = extra[extra["review"].str.contains(r"\btea\b", case=False)].head(1)
    grown_texts = pd.concat([texts, added["review"]])
    grown_keys = pd.concat([keys, pd.Series("tea", index=added.index, name="food")])
    grown, seconds = timed(grown_texts, by=grown_keys)
    cases.append(summary("by food, one row added to 'tea'", grown, seconds, len(grown_texts)))

    report = {
        "rows": args.rows,
        "food_rows": len(foods),
        "food_groups": int(keys.nunique()),
        "threads": torch.get_num_threads(),
        "max_words": MAX_WORDS,
        "distinct_products_in_data": int(everything["product"].nunique()),
        "cases": cases,
        "own_group_share": {k: round(v, 3) for k, v in quality.items()},
        "generate_direct_seconds": round(direct_seconds, 1),
        "answers_by_food": {
            "summarize": one_chunk["review_aggregate"].to_dict(),
            "generate": direct.to_dict(),
            "folded": folded["review_aggregate"].to_dict(),
        },
        "whole_column_answer": column["review_aggregate"].iloc[0],
        "whole_column_folded_answer": far["review_aggregate"].iloc[0],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "aggregate.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# `aggregate` on Amazon fine-food reviews ({report['threads']} threads, CPU, "
        f"SmolLM2-135M, max_words={MAX_WORDS})",
        "",
        f"The data has {report['distinct_products_in_data']} distinct products in 4,000 rows: "
        "grouped by product, every group is one review. Food groups: reviews naming exactly one "
        f"of {', '.join(FOODS)}, up to {args.per_group} each ({len(foods)} rows, "
        f"{report['food_groups']} groups).",
        "",
        "| case | rows | groups | s | rows/s | levels | model calls per level | chunk tokens "
        "| computed | from cache |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        lines.append(
            f"| {c['case']} | {c['rows']} | {c['groups']} | {c['seconds']} | {c['rows_per_s']} "
            f"| {c['levels']} | {c['calls_per_level']} | {c['chunk_tokens']} | {c['computed']} "
            f"| {c['from_cache']} |"
        )
    lines += [
        "",
        "Share of groups whose answer is nearest to its own group's mean review embedding "
        f"(chance: 1/{args.rows} for the products, 1/{report['food_groups']} for the foods):",
        "",
        "| answers | share |",
        "|---|---|",
        *(f"| {k} | {v:.3f} |" for k, v in report["own_group_share"].items()),
        "",
        "Whole column answer: " + re.sub(r"\s+", " ", str(report["whole_column_answer"])),
        "",
        f"Whole column folded ({args.far_chunk}-token chunks): "
        + re.sub(r"\s+", " ", str(report["whole_column_folded_answer"])),
    ]
    (RESULTS / "aggregate.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
