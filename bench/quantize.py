"""Quantized chat models on CPU: speed, agreement with float32, and weight bytes (``make quantize``).

The default chat model is loaded four ways in one process: float32; ``quantization="int8"``
(torchao int8 weight-only, what the option loads on CPU); torchao's int8 dynamic quantization
(activations quantized per token at run time too: ``Int8DynamicActivationInt8WeightConfig``, the
torch.ao-style "dynamic int8 linear"); and int4 where it runs. Each variant summarizes the same
real reviews greedily (the demo's instruction) and scores their sentiment on two labels. The
variants run alternately, ``--repeats`` times, so that the shared CPU's load falls on all of them
alike; rates are medians. Agreement is measured against float32: the share of identical summaries
and of identical sentiment labels. Results go to ``bench/results/quantize.{json,md}``.

    OMP_NUM_THREADS=2 python bench/quantize.py [--rows 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ["LLM_MAGICS_CACHE"] = tempfile.mkdtemp(prefix="llm-magics-bench-")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch

from llm_magics import get_manager
from llm_magics.datasets import amazon_reviews
from llm_magics.demo import SUMMARY_INSTRUCTION
from llm_magics.engine import generate, score
from llm_magics.errors import LlmMagicsError
from llm_magics.runtime.loading import LoadedModel, _tensor_bytes

RESULTS = Path(__file__).parent / "results"
SENTIMENT_QUESTION = "Is this review positive or negative? Answer with one word."
LABELS = ["positive", "negative"]
MAX_NEW_TOKENS = 32


def int8_dynamic(int8: LoadedModel) -> LoadedModel:
    """The default chat model with torchao's dynamic int8 activations and int8 weights."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig
    from transformers import AutoModelForCausalLM, TorchAoConfig

    folder = int8.source.split()[2]
    model = AutoModelForCausalLM.from_pretrained(
        folder,
        dtype=torch.float32,
        local_files_only=True,
        quantization_config=TorchAoConfig(Int8DynamicActivationInt8WeightConfig()),
    ).eval()
    return dataclasses.replace(
        int8,
        name="default-chat (int8 dynamic)",
        key=f"{int8.key}-dynamic",
        model=model,
        bytes=_tensor_bytes(model),
        fingerprint=f"{int8.fingerprint}-dynamic",
        quantization="int8-dynamic",
    )


def run_once(chat: LoadedModel, prompts: list[str], questions: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    summaries = generate(
        prompts, model=chat, max_new_tokens=MAX_NEW_TOKENS, cache=False, progress=False
    )
    summarize_s = time.perf_counter() - started
    started = time.perf_counter()
    scored = score(questions, LABELS, model=chat, cache=False, progress=False)
    score_s = time.perf_counter() - started
    return {
        "summaries": summaries.texts,
        "labels": scored.best,
        "summarize_s": summarize_s,
        "score_s": score_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    manager = get_manager()
    variants: dict[str, LoadedModel] = {
        "float32": manager.load("default-chat", device="cpu", dtype="float32"),
        "int8 weight-only": manager.load(
            "default-chat", device="cpu", dtype="float32", quantization="int8"
        ),
    }
    variants["int8 dynamic"] = int8_dynamic(variants["int8 weight-only"])
    try:
        manager.load("default-chat", device="cpu", dtype="float32", quantization="int4")
        int4_error = None
    except LlmMagicsError as err:
        int4_error = str(err)

    reviews = amazon_reviews("train")["review"].astype(str).head(args.rows).tolist()
    prompts = [f"{SUMMARY_INSTRUCTION}\n\n{r}" for r in reviews]
    questions = [f"{SENTIMENT_QUESTION}\n\n{r}" for r in reviews]
    for chat in variants.values():  # warm-up: first calls pay one-off costs
        run_once(chat, prompts[:2], questions[:2])
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for done in range(1, args.repeats + 1):
        for name, chat in variants.items():
            runs[name].append(run_once(chat, prompts, questions))
        # Written after every round: on a busy machine a partial result still comes back.
        write(summarize_runs(variants, runs, args.rows, done, int4_error))


def summarize_runs(
    variants: dict[str, LoadedModel],
    runs: dict[str, list[dict[str, Any]]],
    rows: int,
    repeats: int,
    int4_error: str | None,
) -> dict[str, Any]:
    base = runs["float32"][0]
    results: dict[str, Any] = {
        "machine": {
            "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "torchao": __import__("torchao").__version__,
            "platform": platform.platform(),
        },
        "rows": rows,
        "repeats": repeats,
        "max_new_tokens": MAX_NEW_TOKENS,
        "int4": int4_error or "ran",
        "variants": {},
    }
    for name, chat in variants.items():
        first = runs[name][0]
        summarize_s = statistics.median(r["summarize_s"] for r in runs[name])
        score_s = statistics.median(r["score_s"] for r in runs[name])
        results["variants"][name] = {
            "weight_bytes": chat.bytes,
            "summarize_rows_s": rows / summarize_s,
            "score_rows_s": rows / score_s,
            "identical_summaries": float(
                np.mean(
                    [a == b for a, b in zip(first["summaries"], base["summaries"], strict=True)]
                )
            ),
            "identical_labels": float(
                np.mean([a == b for a, b in zip(first["labels"], base["labels"], strict=True)])
            ),
            "deterministic": all(r["summaries"] == first["summaries"] for r in runs[name]),
            "examples": first["summaries"][:3],
        }
    return results


def write(results: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quantize.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (RESULTS / "quantize.md").write_text(table)
    print(table, flush=True)


def markdown(r: dict[str, Any]) -> str:
    base = r["variants"]["float32"]
    lines = [
        f"Default chat model on CPU, {r['rows']} Amazon reviews, greedy summaries of up to "
        f"{r['max_new_tokens']} tokens and 2-label sentiment scores; {r['machine']['cpu_threads']} "
        f"threads, medians of {r['repeats']} interleaved runs; torch {r['machine']['torch']}, "
        f"torchao {r['machine']['torchao']}.",
        "",
        "| variant | weight bytes | summarize rows/s | × float32 | score rows/s | × float32 "
        "| identical summaries | identical sentiment labels |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in r["variants"].items():
        lines.append(
            f"| {name} | {v['weight_bytes'] / 2**20:.0f} MiB "
            f"({v['weight_bytes'] / base['weight_bytes']:.2f}×) "
            f"| {v['summarize_rows_s']:.2f} | {v['summarize_rows_s'] / base['summarize_rows_s']:.2f}× "
            f"| {v['score_rows_s']:.2f} | {v['score_rows_s'] / base['score_rows_s']:.2f}× "
            f"| {100 * v['identical_summaries']:.0f}% | {100 * v['identical_labels']:.0f}% |"
        )
    lines += ["", f"int4 on CPU: {r['int4']}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
