"""Engine benchmarks on real Amazon fine-food reviews, side by side in one run (``make bench``).

Each comparison runs the baseline and our engine on the same rows, the same model and the same
threads, and reports rows/s and their ratio. Results go to ``bench/results/latest.json`` and
``bench/results/latest.md``. Slow baselines (a Python loop over rows) run on ``--loop-rows`` rows
spread evenly over the set (every 8th by default), so their lengths are the set's: a rate is a
rate, and the full set would take ten minutes more.

    python bench/run.py [--rows 256] [--loop-rows 32] [--sentences 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time
from pathlib import Path
from typing import Any

# A fresh result cache: the engine's first run must compute everything.
os.environ["LLM_MAGICS_CACHE"] = tempfile.mkdtemp(prefix="llm-magics-bench-")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch

from llm_magics import get_manager
from llm_magics.datasets import amazon_reviews
from llm_magics.demo import SUMMARY_INSTRUCTION
from llm_magics.engine import embed, generate, score
from llm_magics.runtime.devices import native_bf16

RESULTS = Path(__file__).parent / "results"
SENTIMENT_QUESTION = "Is this review positive or negative? Answer with one word."
LABELS = ["positive", "negative"]


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def chat_inputs(chat: Any, prompt: str) -> dict[str, torch.Tensor]:
    return chat.tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )


def per_row_generate(chat: Any, prompts: list[str], max_new_tokens: int) -> list[str]:
    texts = []
    with torch.inference_mode():
        for prompt in prompts:
            inputs = chat_inputs(chat, prompt)
            out = chat.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
            texts.append(
                chat.tokenizer.decode(
                    out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True
                )
            )
    return texts


def padded_generate(
    chat: Any, prompts: list[str], max_new_tokens: int, batch_size: int
) -> list[str]:
    tokenizer, texts = chat.tokenizer, []
    templated = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        for p in prompts
    ]
    with torch.inference_mode():
        for start in range(0, len(templated), batch_size):
            batch = tokenizer(
                templated[start : start + batch_size],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            )
            out = chat.model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
            texts += tokenizer.batch_decode(
                out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
            )
    return texts


def pipeline_generate(
    chat: Any, prompts: list[str], max_new_tokens: int, batch_size: int
) -> list[str]:
    from transformers import pipeline

    pipe = pipeline(
        "text-generation", model=chat.model, tokenizer=chat.tokenizer, batch_size=batch_size
    )
    messages = [[{"role": "user", "content": p}] for p in prompts]
    out = pipe(messages, max_new_tokens=max_new_tokens, do_sample=False, return_full_text=False)
    return [o[0]["generated_text"] for o in out]


def parse_label(text: str) -> str | None:
    """The label a generated answer names, if it names exactly one (lenient to the baseline)."""
    named = {word for word in re.findall(r"[a-z]+", text.lower()) if word in LABELS}
    return named.pop() if len(named) == 1 else None


def spread(items: list[Any], count: int) -> list[Any]:
    """``count`` items taken at even steps over ``items`` (a sample with the same lengths)."""
    return items[:: max(1, len(items) // count)][:count]


def matmul_flops(size: int = 2048, repeats: int = 8, dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of a size² matrix product in ``dtype`` on this machine's threads (the roofline)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def review_sentences(count: int) -> list[str]:
    text = " ".join(amazon_reviews("train")["review"].astype(str))
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 3]
    return (sentences * (count // len(sentences) + 1))[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--loop-rows", type=int, default=32)
    parser.add_argument("--sentences", type=int, default=10_000)
    args = parser.parse_args()

    manager = get_manager()
    chat = manager.load("default-chat")
    embedder = manager.load("default-embed")
    reviews = amazon_reviews("train")["review"].astype(str).head(args.rows).tolist()
    results: dict[str, Any] = {
        "machine": {
            "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "platform": platform.platform(),
            "device": str(chat.device),
            "native_bf16": native_bf16(),
            "dtype": str(chat.dtype).removeprefix("torch."),
        },
        "rows": args.rows,
        "loop_rows": args.loop_rows,
    }
    flops = matmul_flops()
    flops_bf16 = matmul_flops(dtype=torch.bfloat16)
    results["matmul_gflops"] = flops / 1e9
    results["matmul_gflops_bf16"] = flops_bf16 / 1e9

    # 1. summarize, and 4. its cached re-run
    prompts = [f"{SUMMARY_INSTRUCTION}\n\n{r}" for r in reviews]
    _, loop_s = timed(lambda: per_row_generate(chat, spread(prompts, args.loop_rows), 32))
    _, pipe_s = timed(lambda: pipeline_generate(chat, prompts, 32, 16))
    ours, ours_s = timed(lambda: generate(prompts, model=chat, max_new_tokens=32, progress=False))
    again, again_s = timed(lambda: generate(prompts, model=chat, max_new_tokens=32, progress=False))
    assert again.provenance.cache_hits == len(set(prompts))
    tokens = int(ours.prompt_tokens.sum() + ours.generated_tokens.sum())
    summarize = {
        "per_row_loop_rows_s": args.loop_rows / loop_s,
        "pipeline_bs16_rows_s": args.rows / pipe_s,
        "engine_rows_s": args.rows / ours_s,
        "prompt_tokens": int(ours.prompt_tokens.sum()),
        "generated_tokens": int(ours.generated_tokens.sum()),
    }
    summarize["engine_vs_loop"] = summarize["engine_rows_s"] / summarize["per_row_loop_rows_s"]
    summarize["engine_vs_pipeline"] = summarize["engine_rows_s"] / summarize["pipeline_bs16_rows_s"]
    summarize["achieved_gflops"] = tokens * 2 * chat.parameters / ours_s / 1e9
    summarize["roofline_share"] = summarize["achieved_gflops"] * 1e9 / flops
    summarize["roofline_share_bf16"] = summarize["achieved_gflops"] * 1e9 / flops_bf16
    results["summarize"] = summarize
    results["cached_rerun"] = {"first_s": ours_s, "second_s": again_s, "speedup": ours_s / again_s}

    # 2. zero-shot sentiment
    questions = [f"{SENTIMENT_QUESTION}\n\n{r}" for r in reviews]
    loop_labels, loop_s = timed(
        lambda: per_row_generate(chat, spread(questions, args.loop_rows), 3)
    )
    batch_labels, batch_s = timed(lambda: padded_generate(chat, questions, 3, 16))
    scored, score_s = timed(
        lambda: score(questions, LABELS, model=chat, cache=False, progress=False)
    )
    sentiment = {
        "generate_per_row_rows_s": args.loop_rows / loop_s,
        "generate_bs16_rows_s": args.rows / batch_s,
        "score_rows_s": args.rows / score_s,
        "generate_per_row_valid_share": float(
            np.mean([parse_label(t) is not None for t in loop_labels])
        ),
        "generate_bs16_valid_share": float(
            np.mean([parse_label(t) is not None for t in batch_labels])
        ),
        "score_valid_share": float(np.mean(np.isfinite(scored.probs).all(axis=1))),
    }
    sentiment["score_vs_per_row"] = sentiment["score_rows_s"] / sentiment["generate_per_row_rows_s"]
    sentiment["score_vs_bs16"] = sentiment["score_rows_s"] / sentiment["generate_bs16_rows_s"]
    results["sentiment"] = sentiment

    # 3. embeddings
    from sentence_transformers import SentenceTransformer

    sentences = review_sentences(args.sentences)
    half = len(sentences) // 2
    rng = np.random.default_rng(0)
    duplicated = sentences[:half] + [
        sentences[i] for i in rng.integers(0, half, len(sentences) - half)
    ]
    st_model = SentenceTransformer(embedder.spec.location, device=str(embedder.device))
    _, st_s = timed(lambda: st_model.encode(sentences, batch_size=64, normalize_embeddings=True))
    _, ours_s = timed(lambda: embed(sentences, cache=False, progress=False))
    _, st_dup_s = timed(
        lambda: st_model.encode(duplicated, batch_size=64, normalize_embeddings=True)
    )
    _, ours_dup_s = timed(lambda: embed(duplicated, cache=False, progress=False))
    # sentence-transformers loads float32 unless told; when our model runs in another dtype,
    # also time it in that dtype, so the ratio that is left is the engine's own.
    same_dtype_s = None
    if embedder.dtype != torch.float32:
        st_same = SentenceTransformer(
            embedder.spec.location,
            device=str(embedder.device),
            model_kwargs={"dtype": embedder.dtype},
        )
        _, same_dtype_s = timed(
            lambda: st_same.encode(sentences, batch_size=64, normalize_embeddings=True)
        )
    results["embed"] = {
        "sentences": len(sentences),
        "unique_in_distinct_list": len(set(sentences)),
        "sentence_transformers_rows_s": len(sentences) / st_s,
        "engine_rows_s": len(sentences) / ours_s,
        "ratio": st_s / ours_s,
        "half_duplicates_sentence_transformers_rows_s": len(duplicated) / st_dup_s,
        "half_duplicates_engine_rows_s": len(duplicated) / ours_dup_s,
        "half_duplicates_ratio": st_dup_s / ours_dup_s,
        "dtype": str(embedder.dtype).removeprefix("torch."),
        "sentence_transformers_same_dtype_rows_s": (
            len(sentences) / same_dtype_s if same_dtype_s else None
        ),
        "ratio_same_dtype": same_dtype_s / ours_s if same_dtype_s else None,
    }

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (RESULTS / "latest.md").write_text(table)
    print(table)


def markdown(r: dict[str, Any]) -> str:
    s, z, e, c = r["summarize"], r["sentiment"], r["embed"], r["cached_rerun"]
    rows = [
        ("summarize: per-row generate loop", f"{s['per_row_loop_rows_s']:.2f} rows/s", "1.00×"),
        (
            "summarize: pipeline(batch_size=16)",
            f"{s['pipeline_bs16_rows_s']:.2f} rows/s",
            f"{s['pipeline_bs16_rows_s'] / s['per_row_loop_rows_s']:.2f}×",
        ),
        (
            "summarize: llm_magics engine",
            f"{s['engine_rows_s']:.2f} rows/s",
            f"{s['engine_vs_loop']:.2f}× loop, {s['engine_vs_pipeline']:.2f}× pipeline",
        ),
        (
            "summarize: achieved FLOP/s",
            f"{s['achieved_gflops']:.0f} GFLOP/s",
            f"{100 * s['roofline_share']:.0f}% of the fp32 matmul peak "
            f"({r['matmul_gflops']:.0f} GFLOP/s), {100 * s['roofline_share_bf16']:.0f}% of the "
            f"bf16 peak ({r['matmul_gflops_bf16']:.0f} GFLOP/s)",
        ),
        (
            "summarize: cached re-run",
            f"{c['second_s']:.3f} s vs {c['first_s']:.1f} s",
            f"{c['speedup']:.0f}×",
        ),
        (
            "sentiment: generate label, per row",
            f"{z['generate_per_row_rows_s']:.2f} rows/s",
            f"{100 * z['generate_per_row_valid_share']:.0f}% valid",
        ),
        (
            "sentiment: generate label, batch 16",
            f"{z['generate_bs16_rows_s']:.2f} rows/s",
            f"{100 * z['generate_bs16_valid_share']:.0f}% valid",
        ),
        (
            "sentiment: llm_magics score",
            f"{z['score_rows_s']:.2f} rows/s",
            f"{z['score_vs_per_row']:.2f}× per-row, {100 * z['score_valid_share']:.0f}% valid",
        ),
        (
            "embed: sentence-transformers bs64 (float32, its default)",
            f"{e['sentence_transformers_rows_s']:.0f} rows/s",
            "1.00×",
        ),
        ("embed: llm_magics", f"{e['engine_rows_s']:.0f} rows/s", f"{e['ratio']:.2f}×"),
        *(
            [
                (
                    f"embed: sentence-transformers bs64 in {e['dtype']}",
                    f"{e['sentence_transformers_same_dtype_rows_s']:.0f} rows/s",
                    f"llm_magics {e['ratio_same_dtype']:.2f}× it",
                )
            ]
            if e.get("ratio_same_dtype")
            else []
        ),
        (
            "embed, half duplicates: sentence-transformers",
            f"{e['half_duplicates_sentence_transformers_rows_s']:.0f} rows/s",
            "1.00×",
        ),
        (
            "embed, half duplicates: llm_magics",
            f"{e['half_duplicates_engine_rows_s']:.0f} rows/s",
            f"{e['half_duplicates_ratio']:.2f}×",
        ),
    ]
    head = (
        f"Rows: {r['rows']} reviews (per-row loops: {r['loop_rows']} of them, evenly spread); "
        f"{r['machine']['cpu_threads']} threads, {r['machine']['device']}, models in "
        f"{r['machine']['dtype']} (native bfloat16: {r['machine']['native_bf16'] or 'no'})\n\n"
    )
    lines = ["| measurement | speed | ratio |", "|---|---|---|"] + [
        f"| {a} | {b} | {c} |" for a, b, c in rows
    ]
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
