"""``generate``: answers from a chat model, batched, prefix-shared, cached and resumable.

Our own decode loop rather than ``model.generate``: it starts from the shared-prefix cache (see
``decoding``), drops rows from the batch as soon as they finish (the long tail of a batch no longer
pays for the rows that stopped early), and does per step only one forward pass and a few tensor
operations for the whole batch.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from llm_magics.engine.continuous import choose_decoder, decode_continuous
from llm_magics.engine.decoding import (
    PrefixReuse,
    SharedPrefix,
    prefill,
    prompt_rows,
)
from llm_magics.engine.models import batch_defaults, load_for
from llm_magics.engine.results import GenerateResult
from llm_magics.engine.runner import RowTask, report_batch_progress, run_rows
from llm_magics.errors import InvalidArgumentError
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager

__all__ = ["generate"]


def _stop_token_ids(loaded: LoadedModel) -> torch.Tensor:
    ids = {loaded.tokenizer.eos_token_id}
    configured = getattr(loaded.model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    ids.discard(None)
    return torch.tensor(sorted(ids), device=loaded.device)


@functools.lru_cache(maxsize=16)
def _token_mask(tokenizer: Any, pattern: str, size: int) -> torch.Tensor:
    """Which token ids (of a ``size``-row output layer) decode to text matching ``pattern``."""
    compiled = re.compile(pattern)
    allowed = torch.zeros(size, dtype=torch.bool)
    texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    for i, text in enumerate(texts[:size]):
        allowed[i] = bool(text) and compiled.fullmatch(text) is not None
    if not bool(allowed.any()):
        msg = f"No token of this model matches allowed_tokens={pattern!r}."
        raise InvalidArgumentError(msg)
    return allowed


def _next_tokens(
    logits: torch.Tensor, temperature: float, top_p: float, generator: Any
) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _decode_batch(
    loaded: LoadedModel,
    rows: Sequence[Sequence[int]],
    prefix: SharedPrefix | None,
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
    allowed: torch.Tensor | None,
) -> list[list[int]]:
    """Generated token ids of each row of one batch (without the stop token)."""
    state = prefill(loaded, rows, prefix)
    stops = _stop_token_ids(loaded)
    if allowed is not None:
        allowed = allowed.to(loaded.device).clone()
        allowed[stops] = True
    generator = None
    if temperature > 0:
        generator = torch.Generator(device=loaded.device).manual_seed(seed)
    cache, mask, position, logits = (
        state.cache,
        state.attention_mask,
        state.next_position,
        state.logits,
    )
    alive = torch.arange(len(rows), device=loaded.device)
    tokens = torch.full((len(rows), max_new_tokens), -1, dtype=torch.long, device=loaded.device)
    for step in range(max_new_tokens):
        if allowed is not None:
            logits = logits.masked_fill(~allowed, float("-inf"))
        chosen = _next_tokens(logits, temperature, top_p, generator)
        finished = torch.isin(chosen, stops)
        tokens[alive, step] = chosen.masked_fill(finished, -1)
        if step == max_new_tokens - 1:
            break
        if bool(finished.any()):
            keep = (~finished).nonzero().squeeze(1)
            if len(keep) == 0:
                break
            cache.batch_select_indices(keep)
            alive, chosen, mask, position = alive[keep], chosen[keep], mask[keep], position[keep]
        # Finished rows, and the others by the share of the token budget they used (no GPU sync).
        report_batch_progress(len(rows) - len(alive) * (1 - (step + 1) / max_new_tokens))
        mask = torch.cat([mask, mask.new_ones(len(alive), 1)], dim=1)
        out = loaded.model(
            input_ids=chosen[:, None],
            attention_mask=mask,
            position_ids=position[:, None],
            cache=cache,
            use_cache=True,
        )
        cache, logits, position = out.cache, out.logits[:, -1].float(), position + 1
    generated = []
    for row in tokens.cpu().tolist():
        end = row.index(-1) if -1 in row else len(row)
        generated.append(row[:end])
    return generated


def _answers(tokenizer: Any, ids: list[list[int]]) -> list[dict[str, Any]]:
    """Each row's answer text and token count. A token budget can end an answer inside a
    character that byte-level tokens spell in several pieces (an emoji, CJK): its first bytes
    decode to U+FFFD, which is dropped, as is the whitespace around the answer."""
    texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
    return [
        {"text": t.rstrip().rstrip("\ufffd").strip(), "tokens": len(i)}
        for t, i in zip(texts, ids, strict=True)
    ]


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    cuts = [text.index(s) for s in stop if s and s in text]
    return text[: min(cuts)] if cuts else text


def generate(
    prompts: Sequence[str],
    *,
    model: str | LoadedModel | None = None,
    system: str | None = None,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_p: float = 1.0,
    stop: Sequence[str] = (),
    seed: int = 0,
    allowed_tokens: str | None = None,
    answer_prefix: str = "",
    batch_tokens: int | None = None,
    shared_prefix: bool = True,
    decoder: str | None = None,
    cache: bool = True,
    progress: bool = True,
    manager: ModelManager | None = None,
) -> GenerateResult:
    """Answer each prompt with a chat model; greedy unless ``temperature > 0``.

    Parameters
    ----------
    prompts
        One user message per row; the model's chat template is applied.
    model
        A model name (default: ``LlmMagics.default_chat_model``) or a ``LoadedModel``.
    system
        An optional system message for every row.
    max_new_tokens, temperature, top_p, seed
        The generation budget and sampling (``temperature=0``: greedy, deterministic).
    stop
        Strings that end an answer (the answer is cut before the first one).
    allowed_tokens
        A regular expression that the text of every generated token must match in full (the
        end-of-text token is always allowed): ``r" ?[0-9.,-]+"`` makes answers numbers.
    answer_prefix
        The first words of every answer, written for the model, which continues from them: the
        surest way to steer a small model's answer. ``texts`` hold only the continuation.
    shared_prefix
        Compute the prompt prefix common to all rows once (outputs are the same either way).
    decoder
        "loop" (our decode loop), "continuous" (transformers' continuous batching over a paged
        cache, ``engine.continuous``) or "auto" (the one measured faster on the model's device);
        ``None``: the ``LlmMagics.decoder`` setting. Part of the result cache's key only when
        sampling: greedy answers of both paths agree in float32 (in bfloat16 a row's answer can
        differ with the batch and the path, as rounding does), samples do not.
    batch_tokens, cache, progress, manager
        See ``llm_magics.engine`` (module docs).

    Returns
    -------
    GenerateResult
        ``texts`` in input order, ``prompt_tokens`` and ``generated_tokens`` per row, ``provenance``.

    Examples
    --------
    >>> generate(["What is the capital of France?"], max_new_tokens=12).texts   # doctest: +SKIP
    ['The capital of France is Paris.']
    """
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)):
        msg = f"max_new_tokens must be a whole number of tokens, not {max_new_tokens!r}."
        raise InvalidArgumentError(msg)
    if max_new_tokens < 1:
        msg = f"max_new_tokens must be at least 1, not {max_new_tokens}."
        raise InvalidArgumentError(msg)
    if not temperature >= 0:
        msg = f"temperature must be 0 (greedy) or more, not {temperature}."
        raise InvalidArgumentError(msg)
    if not 0.0 < top_p <= 1.0:
        msg = f"top_p must be in (0, 1], not {top_p}."
        raise InvalidArgumentError(msg)
    manager, handle = load_for(model, "chat", manager)
    path = choose_decoder(manager.config.decoder if decoder is None else decoder, handle)
    prompts = [str(p) for p in prompts]
    rows = prompt_rows(
        handle,
        prompts,
        system,
        reserve=max_new_tokens,
        why="the model's context minus max_new_tokens",
        answer_prefix=answer_prefix,
    )
    default_tokens, max_rows = batch_defaults(handle, "generate")
    params = {
        "system": system,
        "max_new_tokens": max_new_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "seed": seed if temperature > 0 else None,
        "allowed_tokens": allowed_tokens,
        "answer_prefix": answer_prefix,
    }
    if temperature > 0:  # greedy answers agree across the two paths; samples do not
        params["decoder"] = path
    reuse = PrefixReuse(handle, rows, enabled=shared_prefix)

    def compute(indices: np.ndarray) -> list[dict[str, Any]]:
        loaded = handle.load()  # the weights, read when a first batch is not in the cache
        allowed = None
        if allowed_tokens is not None:
            vocabulary = loaded.model.get_output_embeddings().weight.shape[0]
            allowed = _token_mask(loaded.tokenizer, allowed_tokens, vocabulary)
        if path == "continuous":
            with torch.inference_mode():
                ids = decode_continuous(
                    loaded,
                    [rows[i] for i in indices],
                    max_new_tokens=max_new_tokens,
                    temperature=temperature,
                    top_p=top_p,
                    seed=seed,
                    allowed=allowed,
                    stops=_stop_token_ids(loaded).tolist(),
                    shared_prefix=shared_prefix,
                )
            return _answers(loaded.tokenizer, ids)
        with torch.inference_mode():
            ids = _decode_batch(
                loaded,
                [rows[i] for i in indices],
                reuse.prefix,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed,
                allowed=allowed,
            )
        return _answers(loaded.tokenizer, ids)

    task = RowTask(
        primitive="generate",
        loaded=handle,
        params=params,
        items=prompts,
        lengths=[len(r) for r in rows],
        compute=compute,
        encode=lambda value: json.dumps(value).encode(),
        decode=json.loads,
        batch_tokens=batch_tokens or default_tokens,
        max_rows=max_rows,
        extra_tokens=max_new_tokens,
    )
    values, provenance = run_rows(task, cache=cache, progress=progress, manager=manager)
    return GenerateResult(
        texts=[_cut_at_stop(v["text"], stop) for v in values],
        prompt_tokens=np.array([len(r) for r in rows], dtype=np.int64),
        generated_tokens=np.array([v["tokens"] for v in values], dtype=np.int64),
        provenance=provenance,
    )
