"""``generate``'s second decode path: transformers' continuous batching over a paged key/value cache.

``model.init_continuous_batching`` (transformers' vLLM-style scheduler) keeps a paged cache and a
background thread that admits requests, prefills them packed into one sequence with no padding,
and decodes every running request in one forward pass per step, freeing a request's pages the
moment it ends. On a GPU it can add CUDA graphs, flash attention and asynchronous batching; on a
CPU it runs the same scheduler with SDPA over the pages (slowly: it is there so CI tests the path).

Everything around a batch stays ours (``runner.run_rows``): identical rows are computed once,
finished rows go to the result cache, progress moves during the batch, a cancel finishes the batch
and stops, and an out-of-memory error raised in the background thread is raised again in the
caller's so the runner halves the batch. What changes with this path:

- **Prefix reuse** is the paged cache's own block sharing: pages whose tokens are all equal are
  stored once. A page is shared only once its writer's forward pass has run, so the prompt
  prefix common to the batch is sent first as a request of its own; the rows then find its full
  pages already written (all but the last partial page of the prefix, ``PAGE_SIZE`` tokens).
- **allowed_tokens** becomes ``suppress_tokens`` (every other token id), a logits processor that
  the continuous-batching processor list keeps.
- **Sampling** (``temperature > 0``) is reproducible with ``seed`` but draws other samples than
  the loop does: transformers seeds the global generator once and samples all rows together.
  The caller's global random state is restored afterwards.
- Greedy answers equal the loop's up to floating-point summation order (the packed, unpadded
  attention adds in another order), which can flip a near-tie between two tokens.

Models whose class has no continuous batching (remote code, non-generative heads) or whose
attention implementation it refuses raise one ``InvalidArgumentError`` that names
``decoder="loop"``; nothing falls back silently.

Which path ``decoder="auto"`` takes is decided by measurement (``choose_decoder``): on this
project's 2-core CPU the loop wins (``bench/decoders.py``: continuous batching 0.81× its rows/s).
Without flash attention, each step gathers the running rows' keys and values into one sequence
and runs SDPA with a block-diagonal mask, so attention work grows with rows × all rows' tokens
rather than rows × own tokens (SDPA took 30% of a 16-row batch's time in a profile, against ~50%
in the linear layers). On CUDA the loop is kept until ``bench/gpu.py`` (which times both, and
``pipeline``) shows continuous batching faster there.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch

from llm_magics.config import DECODER_CHOICES, normalize_decoder
from llm_magics.engine.decoding import find_shared_prefix
from llm_magics.engine.runner import report_batch_progress
from llm_magics.errors import InvalidArgumentError
from llm_magics.runtime.loading import LoadedModel, ModelHandle

__all__ = ["DECODER_CHOICES", "PAGE_SIZE", "choose_decoder", "decode_continuous"]

Decoder = Literal["loop", "continuous"]
# Tokens a page holds. Small pages share more of a short prompt prefix (only full pages are
# shared) and waste less at each row's end; 16 ran as fast as 256 on 8 reviews on the CPU here.
PAGE_SIZE = 16
# What "auto" picks per device type (see ``choose_decoder``).
_AUTO: dict[str, Decoder] = {"cpu": "loop", "cuda": "loop"}
# Most prompt tokens prefilled in one step (longer prefills take several): SDPA over pages builds
# a [tokens, cache + tokens] mask, and this bounds its first dimension (tighter on a CPU).
_PREFILL_TOKENS = {True: 4096, False: 16384}
_POLL_SECONDS = 0.05  # how often the waiting caller looks at the background thread's progress


def choose_decoder(decoder: str, loaded: LoadedModel | ModelHandle) -> Decoder:
    """The decode path ``decoder`` means for ``loaded``: "auto" picks the one measured faster.

    "auto" is our loop on every device for now. On CPU it was measured: ``bench/decoders.py``
    (32 real reviews summarized, 2-core CPU) ran the loop at 1.2× the rows/s of continuous
    batching, with identical greedy summaries. On CUDA nothing has been measured yet: run
    ``bench/gpu.py`` on a GPU and set ``_AUTO["cuda"]`` to the path that wins there.

    Examples
    --------
    >>> choose_decoder("loop", None)
    'loop'
    """
    decoder = normalize_decoder(decoder)
    if decoder != "auto":
        return decoder  # type: ignore[return-value]
    return _AUTO.get(loaded.device.type, "loop")


class _QuietAboutWhatWeHandle(logging.Filter):
    # transformers warns that it "might not support" SuppressTokensLogitsProcessor in continuous
    # batching; it does (a token mask, applied row by row: tests/engine/test_continuous.py checks
    # allowed_tokens on this path). And it logs an out-of-memory error with its traceback before
    # we raise it again for the runner, which halves the batch: no traceback for a handled error.
    def filter(self, record: logging.LogRecord) -> bool:
        handled = record.exc_info is not None and isinstance(
            record.exc_info[1], torch.OutOfMemoryError
        )
        return not handled and "SuppressTokensLogitsProcessor" not in record.getMessage()


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    quiet = _QuietAboutWhatWeHandle()
    logger = logging.getLogger("ContinuousBatchingLogger")  # transformers' logger for this
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


@contextlib.contextmanager
def _global_random_state_kept(device: torch.device) -> Iterator[None]:
    # transformers calls torch.manual_seed for the batch: the caller's random stream must not change.
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state(cuda, device)


def _configs(
    loaded: LoadedModel,
    rows: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
    allowed: torch.Tensor | None,
    stops: Sequence[int],
) -> tuple[Any, Any]:
    from transformers import ContinuousBatchingConfig, GenerationConfig

    sampling = {"do_sample": False}
    if temperature > 0:
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": None}
    suppress = None
    if allowed is not None:
        allowed = allowed.clone()
        allowed[list(stops)] = True
        suppress = (~allowed).nonzero().squeeze(1).tolist()
    generation = GenerationConfig(
        max_new_tokens=max_new_tokens,
        eos_token_id=list(stops),
        pad_token_id=loaded.tokenizer.pad_token_id,
        suppress_tokens=suppress,
        **sampling,
    )
    # The cache holds this batch and nothing more (the runner sized the batch to the device):
    # every row's prompt and budget in whole pages, the prefix request, and one spare page a row.
    cpu = loaded.device.type == "cpu"
    pages = sum(math.ceil((len(r) + max_new_tokens) / PAGE_SIZE) + 1 for r in rows) + 8
    continuous = ContinuousBatchingConfig(
        page_size=PAGE_SIZE,
        num_blocks=pages,
        max_batch_tokens=min(sum(len(r) for r in rows) + len(rows), _PREFILL_TOKENS[cpu]),
        max_requests_per_batch=len(rows) + 1,
        seed=seed,
        allow_block_sharing=True,
        cpu_offload_space=0.0,
    )
    return generation, continuous


def _start(loaded: LoadedModel, generation: Any, continuous: Any) -> Any:
    from transformers.generation.continuous_batching.utils import WorkloadHints

    init = getattr(loaded.model, "init_continuous_batching", None)
    if init is None:
        msg = (
            f"{loaded.name!r} ({type(loaded.model).__name__}) has no continuous batching in "
            "transformers; use decoder='loop'."
        )
        raise InvalidArgumentError(msg)
    try:
        manager = init(
            generation_config=generation,
            continuous_batching_config=continuous,
            workload_hints=WorkloadHints(num_requests=continuous.max_requests_per_batch),
        )
    except ValueError as err:
        msg = f"Continuous batching cannot run {loaded.name!r}: {err} Use decoder='loop'."
        raise InvalidArgumentError(msg) from err
    return manager


def decode_continuous(
    loaded: LoadedModel,
    rows: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
    allowed: torch.Tensor | None,
    stops: Sequence[int],
    shared_prefix: bool = True,
) -> list[list[int]]:
    """Generated token ids of each row of one batch (without the stop token), by continuous batching.

    The same contract as the loop's ``_decode_batch`` (see the module docstring for how the
    results may differ). Progress is reported while the batch runs: finished rows, and the others
    by the share of the token budget the steps so far can have generated.
    """
    generation, continuous = _configs(
        loaded,
        rows,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        allowed=allowed,
        stops=stops,
    )
    with _global_random_state_kept(loaded.device), _quiet_logs():
        attention = loaded.model.config._attn_implementation
        manager = _start(loaded, generation, continuous)  # may switch the attention (flash)
        started = finished = False
        try:
            manager.warmup()  # CUDA graphs where they are on; nothing on a CPU
            manager.start()
            started = True
            prefix = find_shared_prefix(rows) if shared_prefix else []
            if len(prefix) >= PAGE_SIZE:
                # Two tokens: pages are registered for sharing after a step that does not end
                # the request, i.e. only when the request decodes past its first token.
                _collect(manager, [manager.add_request(prefix, max_new_tokens=2)], 0)
            ids = [manager.add_request(list(r), max_new_tokens=max_new_tokens) for r in rows]
            generated = _collect(manager, ids, max_new_tokens)
            finished = True
        finally:
            # Normal end: the thread has nothing left. Otherwise (Ctrl-C, an error) stop it now.
            if started:
                manager.stop(block=True, hard_stop=not finished)
            manager.destroy()
            if loaded.model.config._attn_implementation != attention:  # not started, or failed
                loaded.model.set_attn_implementation(attention)
    stop_set = set(stops)
    return [[t for t in generated[i] if t not in stop_set][:max_new_tokens] for i in ids]


def _collect(manager: Any, ids: list[str], budget: int) -> dict[str, list[int]]:
    """Wait for the requests ``ids``; raise the background thread's error in this thread."""
    out: dict[str, list[int]] = {}
    while len(out) < len(ids):
        result = manager.get_result(timeout=_POLL_SECONDS)
        if result is not None and result.is_finished():
            if result.error is not None:
                _raise_background_error(manager, result.error)
            out[result.request_id] = list(result.generated_tokens)
        elif result is None and not manager.is_running():
            _raise_background_error(manager, "the generation thread ended early")
        if budget:
            steps = getattr(manager, "current_batch", 0)
            running = len(ids) - len(out)
            report_batch_progress(len(out) + running * min(steps / (budget + 1), 0.99))
    return out


def _raise_background_error(manager: Any, message: str) -> None:
    # The thread fails the requests first and records its exception just after: wait for it
    # (the caller's ``finally`` stops the manager, once).
    status = manager.background_thread_status
    while status.fatal_error is None and manager.is_running():
        time.sleep(_POLL_SECONDS / 10)
    error = status.fatal_error
    if isinstance(error, BaseException):
        raise error
    msg = f"Continuous batching failed: {message}. Use decoder='loop' to decode with our loop."
    raise RuntimeError(msg)
