"""Where the engine's CPU time goes, and what each tried change is worth (``make bench``).

Two tables, on real Amazon fine-food reviews and the default models, in one run:

1. **Profile** (``torch.profiler``, CPU): a summarize call and a sentiment-scoring call, their
   operator time grouped into matrix products, attention, key/value cache growth (``torch.cat``),
   other copies and indexing, element-wise maths (norms, rotary positions, activations), sampling
   and row selection, and what is left to Python (the call's wall time minus its operators' own
   time). Tokenization is timed on its own. The profiler slows each operator a little, so the
   shares are of the profiled run.
2. **Changes**: each tried change against the reference (the engine's defaults, float32
   weights), run alternately on the same rows (``--repeats`` each, medians), with its speed
   ratio and its agreement with the reference's output: the share of identical greedy
   summaries, of identical sentiment labels, and the lowest cosine between the two runs'
   embeddings. A change is a default when the engine uses it without being asked.

    python bench/cpu.py [--rows 64] [--repeats 2] [--profile-rows 16]

Results go to ``bench/results/cpu.json`` and ``bench/results/cpu.md``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ["LLM_MAGICS_CACHE"] = tempfile.mkdtemp(prefix="llm-magics-bench-cpu-")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from transformers.cache_utils import DynamicLayer

from llm_magics import get_manager
from llm_magics.datasets import amazon_reviews
from llm_magics.demo import SUMMARY_INSTRUCTION
from llm_magics.engine import embed, generate, score
from llm_magics.engine.decoding import chat_token_ids
from llm_magics.engine.models import batch_defaults
from llm_magics.runtime.devices import native_bf16

# The module, not the function that llm_magics.engine exports under the same name.
generate_module = importlib.import_module("llm_magics.engine.generate")
RESULTS = Path(__file__).parent / "results"
SENTIMENT_QUESTION = "Is this review positive or negative? Answer with one word."
LABELS = ["positive", "negative"]

_GROUPS = {
    "matrix products": {"aten::mm", "aten::addmm", "aten::bmm", "aten::_addmm_activation"},
    "attention": {
        "aten::_scaled_dot_product_flash_attention_for_cpu",
        "aten::_scaled_dot_product_attention_math",
        "aten::_softmax",
    },
    "key/value cache growth (cat)": {"aten::cat"},
    "copies and indexing": {
        "aten::copy_",
        "aten::index",
        "aten::index_select",
        "aten::clone",
        "aten::index_put_",
        "aten::slice_scatter",
        "aten::repeat_interleave",
        "aten::fill_",
        "aten::zero_",
    },
    "element-wise (norms, rotary, activations)": {
        "aten::mul",
        "aten::add",
        "aten::pow",
        "aten::mean",
        "aten::rsqrt",
        "aten::neg",
        "aten::silu",
        "aten::sum",
        "aten::where",
        "aten::cos",
        "aten::sin",
        "aten::div",
        "aten::div_",
        "aten::sub",
        "aten::gelu",
        "aten::tanh",
        "aten::to",
        "aten::_to_copy",
    },
    "sampling and row selection": {
        "aten::argmax",
        "aten::isin",
        "aten::nonzero",
        "aten::masked_fill",
        "aten::_log_softmax",
        "aten::log_softmax",
        "aten::gather",
    },
}


def _group(name: str) -> str:
    for group, names in _GROUPS.items():
        if name in names:
            return group
    return "other operators"


def profile(fn: Callable[[], Any]) -> dict[str, float]:
    """Seconds per group of operators (their own time), and Python: wall time minus all of it."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        started = time.perf_counter()
        fn()
        wall = time.perf_counter() - started
    seconds: dict[str, float] = collections.Counter()
    for event in prof.key_averages():
        seconds[_group(event.key)] += event.self_cpu_time_total / 1e6
    seconds["Python and framework (wall minus operators)"] = max(0.0, wall - sum(seconds.values()))
    return {"wall_s": wall, **dict(seconds)}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


class ReservedLayer(DynamicLayer):
    """A key/value cache layer whose tensors are views of buffers with room for the answer.

    transformers' ``DynamicLayer`` grows by ``torch.cat`` at every step, a copy of the layer's
    whole cache per generated token. This one writes each new token in place and keeps the views
    exactly as long as what was written, so attention sees what ``DynamicLayer`` gives it.
    (Tried here, not kept: it measured slower; see the table.)
    """

    def __init__(self, layer: DynamicLayer, room: int) -> None:
        super().__init__()
        self.device, self.is_initialized = layer.device, True
        rows, heads, length, width = layer.keys.shape
        self._keys = layer.keys.new_empty((rows, heads, length + room, width))
        self._values = layer.values.new_empty((rows, heads, length + room, width))
        self._keys[:, :, :length] = layer.keys
        self._values[:, :, :length] = layer.values
        self._view(length)

    def _view(self, length: int) -> None:
        self._length = length
        self.keys, self.values = self._keys[:, :, :length], self._values[:, :, :length]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        end = self._length + key_states.shape[-2]
        if end > self._keys.shape[2]:
            self._keys = torch.cat([self.keys, key_states], dim=-2)
            self._values = torch.cat([self.values, value_states], dim=-2)
        else:
            self._keys[:, :, self._length : end] = key_states
            self._values[:, :, self._length : end] = value_states
        self._view(end)
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._keys, self._values = self._keys[indices], self._values[indices]
        self._view(self._length)


@contextlib.contextmanager
def reserved_kv_cache(room: int = 32) -> Iterator[None]:
    """After each prefill, the cache's layers become ``ReservedLayer``s with ``room`` tokens."""
    prefill = generate_module.prefill

    def reserving(*args: Any, **kwargs: Any) -> Any:
        state = prefill(*args, **kwargs)
        state.cache.layers = [
            ReservedLayer(layer, room) if type(layer) is DynamicLayer else layer
            for layer in state.cache.layers
        ]
        return state

    generate_module.prefill = reserving
    try:
        yield
    finally:
        generate_module.prefill = prefill


def repeated_blocks(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The model's stack of identical transformer blocks (the longest ModuleList of one class)."""
    stacks = [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.ModuleList) and len({type(b) for b in m}) == 1 and len(m) > 1
    ]
    return max(stacks, key=len)


@contextlib.contextmanager
def compiled_blocks(model: torch.nn.Module, compiled: list[Any]) -> Iterator[None]:
    """Regional compilation (PyTorch's recipe for a short cold start): each transformer block's
    forward through ``torch.compile(dynamic=True)``; identical blocks share the compiled code."""
    blocks = repeated_blocks(model)
    if not compiled:
        compiled += [torch.compile(block.forward, dynamic=True) for block in blocks]
    eager = [block.forward for block in blocks]
    for block, forward in zip(blocks, compiled, strict=True):
        block.forward = forward
    try:
        yield
    finally:
        for block, forward in zip(blocks, eager, strict=True):
            block.forward = forward


def workloads(
    chat: Any, embedder: Any, rows: list[str], sentences: list[str], **options: Any
) -> dict[str, Callable[[], Any]]:
    prompts = [f"{SUMMARY_INSTRUCTION}\n\n{r}" for r in rows]
    questions = [f"{SENTIMENT_QUESTION}\n\n{r}" for r in rows]
    common = {"cache": False, "progress": False}
    return {
        "summarize": lambda: (
            generate(
                prompts,
                model=chat,
                max_new_tokens=32,
                batch_tokens=options.get("generate_tokens"),
                **common,
            ).texts
        ),
        "sentiment": lambda: (
            score(
                questions, LABELS, model=chat, batch_tokens=options.get("score_tokens"), **common
            ).best
        ),
        "embed": lambda: (
            embed(
                sentences, model=embedder, batch_tokens=options.get("embed_tokens"), **common
            ).vectors
        ),
    }


def warm_up(chat: Any) -> None:
    # Three rows of different lengths: a dimension of size 1 would be compiled as a constant.
    prompts = ["Say hi.", "Say hello to the world.", "Name three colours of the rainbow."]
    generate(prompts, model=chat, max_new_tokens=4, cache=False, progress=False)
    score(prompts, ["yes", "no"], model=chat, cache=False, progress=False)


def agreement(kind: str, reference: Any, other: Any) -> float:
    if kind == "embed":
        return float((np.asarray(reference) * np.asarray(other)).sum(axis=1).min())
    return float(np.mean([a == b for a, b in zip(reference, other, strict=True)]))


def compare(
    name: str,
    reference: dict[str, Callable[[], Any]],
    changed: dict[str, Callable[[], Any]],
    *,
    repeats: int,
    context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    default: str,
) -> dict[str, Any]:
    """The change against the reference on each workload it applies to, run alternately."""
    result: dict[str, Any] = {"change": name, "default": default, "workloads": {}}
    for kind, run in changed.items():
        times: dict[str, list[float]] = {"reference": [], "changed": []}
        outputs: dict[str, Any] = {}
        for _ in range(repeats):
            outputs["reference"], seconds = timed(reference[kind])
            times["reference"].append(seconds)
            with context():
                outputs["changed"], seconds = timed(run)
            times["changed"].append(seconds)
        ratio = statistics.median(times["reference"]) / statistics.median(times["changed"])
        result["workloads"][kind] = {
            "reference_s": statistics.median(times["reference"]),
            "changed_s": statistics.median(times["changed"]),
            "ratio": ratio,
            "agreement": agreement(kind, outputs["reference"], outputs["changed"]),
        }
        print(json.dumps({name: {kind: result["workloads"][kind]}}), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--profile-rows", type=int, default=16)
    parser.add_argument("--sentences", type=int, default=2000)
    args = parser.parse_args()

    manager = get_manager()
    chat = manager.load("default-chat", dtype="float32")
    embedder = manager.load("default-embed", dtype="float32")
    reviews = amazon_reviews("train")["review"].astype(str)
    # Rows the other benchmarks do not use, so nothing is warm from an earlier call.
    rows = reviews.iloc[400 : 400 + args.rows].tolist()
    from run import review_sentences

    sentences = review_sentences(args.sentences)
    results: dict[str, Any] = {
        "machine": {
            "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "platform": platform.platform(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": native_bf16(),
        },
        "rows": args.rows,
        "sentences": args.sentences,
    }

    # 1. Profile
    profiled = rows[: args.profile_rows]
    prompts = [f"{SUMMARY_INSTRUCTION}\n\n{r}" for r in profiled]
    questions = [f"{SENTIMENT_QUESTION}\n\n{r}" for r in profiled]
    generate(prompts[:2], model=chat, max_new_tokens=4, cache=False, progress=False)  # warm-up
    _, tokenize_s = timed(lambda: chat_token_ids(chat, prompts, None))
    results["profile"] = {
        "rows": len(profiled),
        "tokenize_s": tokenize_s,
        "summarize": profile(
            lambda: generate(prompts, model=chat, max_new_tokens=32, cache=False, progress=False)
        ),
        "sentiment": profile(
            lambda: score(questions, LABELS, model=chat, cache=False, progress=False)
        ),
    }

    # 2. Changes, each against the float32 reference
    reference = workloads(chat, embedder, rows, sentences)
    changes = []
    chat16 = manager.load("default-chat", dtype="bfloat16")
    embed16 = manager.load("default-embed", dtype="bfloat16")
    changes.append(
        compare(
            "bfloat16 weights",
            reference,
            workloads(chat16, embed16, rows, sentences),
            repeats=args.repeats,
            default="yes, where the CPU has bfloat16 instructions" if native_bf16() else "no",
        )
    )
    manager.unload_key(chat16.key)
    manager.unload_key(embed16.key)
    changes.append(
        compare(
            "key/value buffers reserved for the answer, written in place (not grown by torch.cat)",
            {"summarize": reference["summarize"]},
            {"summarize": reference["summarize"]},
            repeats=args.repeats,
            context=reserved_kv_cache,
            default="no",
        )
    )
    tokens, _ = batch_defaults(chat, "generate")
    score_tokens, _ = batch_defaults(chat, "score")
    embed_tokens, _ = batch_defaults(embedder, "embed")
    larger = workloads(
        chat,
        embedder,
        rows,
        sentences,
        generate_tokens=2 * tokens,
        score_tokens=2 * score_tokens,
        embed_tokens=2 * embed_tokens,
    )
    changes.append(
        compare(
            "batches of twice the token budget",
            reference,
            larger,
            repeats=args.repeats,
            default="no",
        )
    )
    int8 = manager.load("default-chat", dtype="float32", quantization="int8")
    changes.append(
        compare(
            "int8 weights (torchao weight-only, quantization='int8')",
            {k: reference[k] for k in ("summarize", "sentiment")},
            {k: v for k, v in workloads(int8, embedder, rows, sentences).items() if k != "embed"},
            repeats=args.repeats,
            default="no",
        )
    )
    from quantize import int8_dynamic

    dynamic = int8_dynamic(int8)
    changes.append(
        compare(
            "int8 weights and activations (torchao dynamic int8 linear layers)",
            {k: reference[k] for k in ("summarize", "sentiment")},
            {
                k: v
                for k, v in workloads(dynamic, embedder, rows, sentences).items()
                if k != "embed"
            },
            repeats=args.repeats,
            default="no",
        )
    )
    del dynamic
    manager.unload_key(int8.key)

    compiled: list[Any] = []

    def compiling() -> contextlib.AbstractContextManager[None]:
        return compiled_blocks(chat.model, compiled)

    with compiling():
        _, compile_s = timed(lambda: warm_up(chat))
    changes.append(
        compare(
            "torch.compile of the transformer blocks (inductor, dynamic shapes)",
            {k: reference[k] for k in ("summarize", "sentiment")},
            {k: reference[k] for k in ("summarize", "sentiment")},
            repeats=args.repeats,
            context=compiling,
            default="no",
        )
        | {"compile_s": compile_s}
    )
    results["changes"] = changes

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cpu.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (RESULTS / "cpu.md").write_text(table)
    print(table)


def markdown(r: dict[str, Any]) -> str:
    m, p = r["machine"], r["profile"]
    out = [
        f"{m['cpu_threads']} threads, {m['cpu_capability']}, native bfloat16: "
        f"{m['native_bf16'] or 'no'}; torch {m['torch']}\n",
        f"## Where the time goes ({p['rows']} reviews; tokenization {p['tokenize_s']:.3f} s)\n",
        "| share of the call | summarize | sentiment score |",
        "|---|---|---|",
    ]
    groups = [k for k in p["summarize"] if k != "wall_s"]
    groups += [k for k in p["sentiment"] if k != "wall_s" and k not in groups]
    for group in sorted(groups, key=lambda g: -p["summarize"].get(g, 0.0)):
        cells = [
            f"{100 * p[kind].get(group, 0.0) / p[kind]['wall_s']:.1f}%"
            for kind in ("summarize", "sentiment")
        ]
        out.append(f"| {group} | {cells[0]} | {cells[1]} |")
    out.append(
        f"| (wall time, profiled) | {p['summarize']['wall_s']:.1f} s | "
        f"{p['sentiment']['wall_s']:.1f} s |"
    )
    out += [
        "",
        f"## Tried changes ({r['rows']} reviews, {r['sentences']} sentences; speed ratio, "
        "agreement with the float32 reference)\n",
        "| change | summarize | sentiment | embed | default |",
        "|---|---|---|---|---|",
    ]
    for change in r["changes"]:
        cells = []
        for kind in ("summarize", "sentiment", "embed"):
            w = change["workloads"].get(kind)
            if w is None:
                cells.append("–")
                continue
            ratio = w["ratio"]
            agree = (
                f"cosine ≥ {w['agreement']:.4f}"
                if kind == "embed"
                else f"{100 * w['agreement']:.0f}% same"
            )
            cells.append(f"{ratio:.2f}× ({agree})")
        name = change["change"]
        if "compile_s" in change:
            name += f" (compiling took {change['compile_s']:.0f} s, not counted)"
        out.append(f"| {name} | {' | '.join(cells)} | {change['default']} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
