"""``generate``'s two decode paths on this machine: our loop vs continuous batching, real reviews.

Summaries (the demo's ``SUMMARY_INSTRUCTION``, ``max_new_tokens=32``) of real Amazon reviews by
the default chat model, once with ``decoder="loop"`` and once with ``decoder="continuous"``,
alternating for ``--rounds`` rounds in one process so both see the same machine load. Prints
rows/s of each path per round, the ratio of the medians, and how many greedy summaries agree.
This is the CPU measurement behind ``decoder="auto"`` (``engine.continuous.choose_decoder``);
``bench/gpu.py`` is the GPU one.

    OMP_NUM_THREADS=1 python bench/decoders.py [--rows 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ["LLM_MAGICS_CACHE"] = tempfile.mkdtemp(prefix="llm-magics-bench-decoders-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()

    import torch

    from llm_magics import get_manager
    from llm_magics.datasets import amazon_reviews
    from llm_magics.demo import SUMMARY_INSTRUCTION
    from llm_magics.engine import generate

    loaded = get_manager().load("default-chat")
    reviews = amazon_reviews("train").head(args.rows)["review"]
    prompts = [f"{SUMMARY_INSTRUCTION}\n\n{review}" for review in reviews]
    generate(prompts[:2], max_new_tokens=4, cache=False, progress=False, decoder="continuous")
    seconds: dict[str, list[float]] = {"loop": [], "continuous": []}
    texts: dict[str, list[str]] = {}
    for round_ in range(args.rounds):
        for decoder in ("loop", "continuous") if round_ % 2 == 0 else ("continuous", "loop"):
            started = time.perf_counter()
            result = generate(
                prompts,
                max_new_tokens=args.max_new_tokens,
                cache=False,
                progress=False,
                decoder=decoder,
            )
            seconds[decoder].append(time.perf_counter() - started)
            texts[decoder] = result.texts
            print(
                json.dumps(
                    {
                        "round": round_,
                        "decoder": decoder,
                        "rows_s": round(args.rows / seconds[decoder][-1], 3),
                        "generated_tokens": int(result.generated_tokens.sum()),
                    }
                ),
                flush=True,
            )
    loop, paged = (statistics.median(seconds[d]) for d in ("loop", "continuous"))
    same = sum(a == b for a, b in zip(texts["loop"], texts["continuous"], strict=True))
    print(
        f"{loaded.name} on {loaded.device} ({torch.get_num_threads()} threads), {args.rows} "
        f"reviews, max_new_tokens={args.max_new_tokens}, median of {args.rounds} rounds: "
        f"loop {args.rows / loop:.2f} rows/s, continuous {args.rows / paged:.2f} rows/s "
        f"(continuous ÷ loop {loop / paged:.2f}×); identical greedy summaries {same}/{args.rows}"
    )


if __name__ == "__main__":
    main()
