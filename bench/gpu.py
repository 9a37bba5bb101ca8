"""Generation speed on a GPU: our decode loop, continuous batching and ``pipeline``, Qwen2.5-0.5B shape.

The model has the Qwen2.5-0.5B architecture with random weights in bf16 (nothing is downloaded),
and a word-level tokenizer built here with one word per vocabulary entry, so any prompt length
is exact and every generated id decodes. Each prompt is ``--prompt-tokens`` long and each answer is
``--new-tokens`` long (the end-of-text token is taken out of the model's reach, so no row stops
early and every side generates the same number of tokens). For batches of 1, 32 and 256 rows it
reports generated tokens/s of three sides, measured one after the other on the same prompts:
``generate(decoder="loop")`` (our decode loop), ``generate(decoder="continuous")`` (transformers'
continuous batching over a paged cache, ``llm_magics.engine.continuous``) and ``pipeline``. Each
side's share of the decode bandwidth roofline is its decode steps per second (tokens/s ÷ batch)
against the bytes of weights read per step divided by the device's measured copy bandwidth (the
key/value reads are left out, so the share is an upper bound at long contexts).

This is where ``decoder="auto"`` is decided on CUDA (``engine.continuous.choose_decoder``): it
keeps our loop until a run here shows continuous batching faster.

    python bench/gpu.py [--batches 1 32 256] [--prompt-tokens 128] [--new-tokens 128] [--tiny]

``--tiny`` uses a two-layer model of the same family, to check the script on a CPU. Results go to
``bench/results/gpu.json`` and ``bench/results/gpu.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ["LLM_MAGICS_CACHE"] = tempfile.mkdtemp(prefix="llm-magics-bench-gpu-")

import torch

RESULTS = Path(__file__).parent / "results"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL = ["<pad>", "<eos>", "<|system|>", "<|user|>", "<|assistant|>"]


def qwen_config(tiny: bool) -> Any:
    from transformers import Qwen2Config

    # Qwen2.5-0.5B-Instruct's shape (config.json of that model).
    shape = {
        "vocab_size": 151_936,
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "max_position_embeddings": 32_768,
        "rope_theta": 1_000_000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True,
    }
    if tiny:
        shape.update(
            hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4
        )
    return Qwen2Config(**shape, pad_token_id=0, bos_token_id=1, eos_token_id=1)


def word_tokenizer(vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = SPECIAL + [f"w{i}" for i in range(vocab_size - len(SPECIAL))]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<pad>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", padding_side="left"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(folder: Path, tiny: bool) -> None:
    """A random-weight model and its tokenizer, saved where the model manager can load them."""
    from transformers import AutoModelForCausalLM

    config = qwen_config(tiny)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    with torch.no_grad():
        model.lm_head.weight[config.eos_token_id] = 0  # no row stops early
        if model.lm_head.bias is not None:
            model.lm_head.bias[config.eos_token_id] = -1e4
    model.generation_config.eos_token_id = config.eos_token_id
    model.save_pretrained(folder)
    word_tokenizer(config.vocab_size).save_pretrained(folder)


def prompts(count: int, length: int, vocab: int, seed: int) -> list[str]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(len(SPECIAL), vocab - len(SPECIAL), (count, length), generator=generator)
    return [" ".join(f"w{i}" for i in row.tolist()) for row in ids]


def copy_bandwidth(device: torch.device, megabytes: int = 1024) -> float:
    """Bytes per second read + written by a device-to-device copy."""
    source = torch.empty(megabytes * 2**20, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    target.copy_(source)
    sync(device)
    started, repeats = time.perf_counter(), 10
    for _ in range(repeats):
        target.copy_(source)
    sync(device)
    return 2 * source.numel() * repeats / (time.perf_counter() - started)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Any) -> tuple[Any, float]:
    sync(device)
    started = time.perf_counter()
    value = fn()
    sync(device)
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256])
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()

    from transformers import pipeline

    from llm_magics import get_manager
    from llm_magics.engine import generate

    folder = Path(os.environ["LLM_MAGICS_CACHE"]) / "qwen2.5-0.5b-random"
    build_model(folder, args.tiny)
    loaded = get_manager().load(str(folder), role="chat")
    # AutoTokenizer reads a qwen2 folder as Qwen2Tokenizer (a byte-level BPE that needs merges);
    # the benchmark's word-level tokenizer is the one built here.
    loaded.tokenizer = word_tokenizer(loaded.model.config.vocab_size)
    device = loaded.device
    weight_bytes = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
    bandwidth = copy_bandwidth(device)
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
        "dtype": str(loaded.dtype),
        "shape": "two-layer test model" if args.tiny else "Qwen2.5-0.5B",
        "parameters": loaded.parameters,
        "weight_bytes": weight_bytes,
        "copy_bandwidth_gb_s": bandwidth / 1e9,
        "roofline_batch1_tokens_s": bandwidth / weight_bytes,
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
        "runs": [],
    }
    pipe = pipeline(
        "text-generation", model=loaded.model, tokenizer=loaded.tokenizer, device=device
    )
    vocab = loaded.model.config.vocab_size
    # Warm-up: kernels, allocator.
    for decoder in ("loop", "continuous"):
        generate(
            prompts(2, 8, vocab, 99),
            max_new_tokens=4,
            model=loaded,
            cache=False,
            progress=False,
            decoder=decoder,
        )
    for batch in args.batches:
        rows = prompts(batch, args.prompt_tokens, vocab, seed=batch)

        def engine(decoder: str, rows: list[str] = rows, batch: int = batch) -> Any:
            return generate(
                rows,
                model=loaded,
                max_new_tokens=args.new_tokens,
                batch_tokens=batch * (args.prompt_tokens + args.new_tokens + 16),
                cache=False,
                progress=False,
                decoder=decoder,
            )

        ours, ours_s = timed(device, lambda: engine("loop"))
        paged, paged_s = timed(device, lambda: engine("continuous"))
        messages = [[{"role": "user", "content": r}] for r in rows]
        theirs, pipe_s = timed(
            device,
            lambda messages=messages, batch=batch: pipe(
                messages,
                batch_size=batch,
                max_new_tokens=args.new_tokens,
                min_new_tokens=args.new_tokens,
                do_sample=False,
                return_full_text=False,
            ),
        )
        generated = int(ours.generated_tokens.sum())
        roofline = results["roofline_batch1_tokens_s"]
        run = {
            "batch": batch,
            "engine_generated_tokens": generated,
            "continuous_generated_tokens": int(paged.generated_tokens.sum()),
            "engine_tokens_s": generated / ours_s,
            "continuous_tokens_s": int(paged.generated_tokens.sum()) / paged_s,
            "pipeline_tokens_s": batch * args.new_tokens / pipe_s,
            "same_text_share": sum(
                a == t[0]["generated_text"].strip() for a, t in zip(ours.texts, theirs, strict=True)
            )
            / batch,
            "continuous_same_text_share": sum(
                a == b for a, b in zip(ours.texts, paged.texts, strict=True)
            )
            / batch,
        }
        run["ratio"] = run["engine_tokens_s"] / run["pipeline_tokens_s"]
        run["continuous_ratio"] = run["continuous_tokens_s"] / run["pipeline_tokens_s"]
        for side in ("engine", "continuous", "pipeline"):
            run[f"{side}_roofline_share"] = run[f"{side}_tokens_s"] / batch / roofline
        results["runs"].append(run)
        print(json.dumps(run), flush=True)

    RESULTS.mkdir(exist_ok=True)
    name = "gpu-tiny" if args.tiny else "gpu"
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(results))
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    head = (
        f"{r['device']}, {r['dtype']}, {r['parameters'] / 1e6:.0f}M parameters ({r['shape']} shape, "
        f"random weights); {r['prompt_tokens']} prompt + {r['new_tokens']} generated tokens a row; "
        f"copy bandwidth {r['copy_bandwidth_gb_s']:.0f} GB/s → roofline at batch 1: "
        f"{r['roofline_batch1_tokens_s']:.0f} tokens/s\n\n"
    )
    lines = [
        "| batch | pipeline tokens/s | loop tokens/s | continuous tokens/s | loop ÷ pipeline "
        "| continuous ÷ pipeline | roofline share: pipeline / loop / continuous "
        "| continuous = loop text |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        shares = " / ".join(
            f"{100 * run[f'{side}_roofline_share']:.1f}%"
            for side in ("pipeline", "engine", "continuous")
        )
        lines.append(
            f"| {run['batch']} | {run['pipeline_tokens_s']:.0f} | {run['engine_tokens_s']:.0f} "
            f"| {run['continuous_tokens_s']:.0f} | {run['ratio']:.2f}× "
            f"| {run['continuous_ratio']:.2f}× | {shares} "
            f"| {100 * run['continuous_same_text_share']:.0f}% |"
        )
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
