"""Prompt tokens, the shared prefix, and the prefill that ``generate`` and ``score`` both start with.

Ops send many prompts that begin with the same chat template and instruction and end with the
row's text. The longest token prefix common to all rows of a call is run through the model once;
its key/value cache is copied into every batch, so each row's prefill covers only its own tokens.
Rows are left-padded *after* the prefix, and position ids skip the padding, so every row sees
exactly the positions and attention it would see alone.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from llm_magics.errors import warn
from llm_magics.runtime.loading import LoadedModel, ModelHandle

__all__ = [
    "Prefill",
    "PrefixReuse",
    "SharedPrefix",
    "chat_token_ids",
    "find_shared_prefix",
    "prefill",
    "truncate_rows",
]

MIN_SHARED_PREFIX = 4
_KEEP_TAIL = 16  # tokens kept at the end of a truncated prompt: the template's assistant turn


def chat_token_ids(
    loaded: LoadedModel | ModelHandle,
    prompts: Sequence[str],
    system: str | None,
    answer_prefix: str = "",
) -> list[list[int]]:
    """Token ids of each prompt wrapped in the model's chat template, ready for the answer.

    ``answer_prefix`` is put at the start of the answer turn: the model continues it.
    """
    tokenizer = loaded.tokenizer
    if getattr(tokenizer, "chat_template", None):
        head = [{"role": "system", "content": system}] if system else []
        texts = [
            tokenizer.apply_chat_template(
                [*head, {"role": "user", "content": prompt}],
                tokenize=False,
                add_generation_prompt=True,
            )
            + answer_prefix
            for prompt in prompts
        ]
        return tokenizer(texts, add_special_tokens=False)["input_ids"]
    texts = [f"{system}\n\n{prompt}" if system else prompt for prompt in prompts]
    return tokenizer([t + answer_prefix for t in texts])["input_ids"]


def prompt_rows(
    loaded: LoadedModel | ModelHandle,
    prompts: Sequence[str],
    system: str | None,
    *,
    reserve: int,
    why: str,
    answer_prefix: str = "",
) -> list[list[int]]:
    """Chat-templated token ids of ``prompts``, cut to leave ``reserve`` tokens of the context."""
    rows = chat_token_ids(loaded, prompts, system, answer_prefix) if prompts else []
    return truncate_rows(rows, context_length(loaded) - reserve, why=why)


def context_length(loaded: LoadedModel | ModelHandle) -> int:
    config = loaded.config.get_text_config()
    return int(
        getattr(config, "max_position_embeddings", None) or loaded.tokenizer.model_max_length
    )


def truncate_rows(rows: list[list[int]], limit: int, *, why: str) -> list[list[int]]:
    """Cut rows longer than ``limit`` tokens in the middle, keeping the head and the tail.

    The head holds the instruction and the tail the template's answer turn, so the model still
    knows what to do; one warning counts the rows cut.
    """
    limit = max(limit, _KEEP_TAIL + 1)
    cut = [i for i, ids in enumerate(rows) if len(ids) > limit]
    if not cut:
        return rows
    head = limit - _KEEP_TAIL
    rows = [ids[:head] + ids[-_KEEP_TAIL:] if len(ids) > limit else ids for ids in rows]
    msg = (
        f"{len(cut)} of {len(rows)} rows were longer than {limit} tokens ({why}) and were cut in "
        "the middle."
    )
    warn(msg)
    return rows


def find_shared_prefix(rows: Sequence[Sequence[int]]) -> list[int]:
    """The longest token prefix of all rows, leaving every row at least one token of its own.

    Examples
    --------
    >>> find_shared_prefix([[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 9]])
    [1, 2, 3, 4, 5]
    >>> find_shared_prefix([[1, 2, 3, 4, 5]])
    []
    """
    if len(rows) < 2:
        return []
    width = min(len(r) for r in rows) - 1
    if width < MIN_SHARED_PREFIX:
        return []
    heads = np.array([r[:width] for r in rows])
    same = (heads == heads[0]).all(axis=0)
    length = width if same.all() else int(same.argmin())
    return [int(t) for t in heads[0, :length]] if length >= MIN_SHARED_PREFIX else []


class SharedPrefix:
    """The key/value cache of a token prefix, computed once and copied into each batch."""

    def __init__(self, loaded: LoadedModel, ids: list[int]) -> None:
        self.ids = ids
        with torch.inference_mode():
            out = loaded.model(
                torch.tensor([ids], device=loaded.device), use_cache=True, logits_to_keep=1
            )
        self.cache = out.cache

    def __len__(self) -> int:
        return len(self.ids)

    def expand(self, rows: int) -> Any:
        """A fresh copy of the prefix's cache, repeated for a batch of ``rows`` rows."""
        cache = copy.deepcopy(self.cache)
        cache.batch_repeat_interleave(rows)
        return cache


class PrefixReuse:
    """The shared prefix of one call's rows, found and computed on first use (a call served
    entirely from the result cache computes nothing)."""

    def __init__(
        self, loaded: LoadedModel | ModelHandle, rows: Sequence[Sequence[int]], *, enabled: bool
    ) -> None:
        self._loaded, self._rows, self._enabled = loaded, rows, enabled

    @functools.cached_property
    def prefix(self) -> SharedPrefix | None:
        """The rows' shared prefix, computed once; None when reuse is off or none is long enough."""
        common = find_shared_prefix(self._rows) if self._enabled else []
        return SharedPrefix(self._loaded.load(), common) if common else None


@dataclass
class Prefill:
    """State after running a batch's prompts: ready to decode or score the next tokens."""

    logits: torch.Tensor  # [rows, vocab], at each row's last prompt token
    cache: Any
    attention_mask: torch.Tensor  # [rows, prefix + padded suffix]
    next_position: torch.Tensor  # [rows], the position of the next token


def prefill(
    loaded: LoadedModel, rows: Sequence[Sequence[int]], prefix: SharedPrefix | None
) -> Prefill:
    """Run the prompt tokens of one batch (after the shared prefix, if any) through the model."""
    from transformers import DynamicCache

    device = loaded.device
    shared = len(prefix) if prefix is not None else 0
    suffixes = [list(r[shared:]) for r in rows]
    width = max(len(s) for s in suffixes)
    pad = loaded.tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(s)) + s for s in suffixes], device=device)
    suffix_mask = torch.tensor(
        [[0] * (width - len(s)) + [1] * len(s) for s in suffixes], device=device
    )
    attention_mask = torch.cat(
        [torch.ones(len(rows), shared, dtype=suffix_mask.dtype, device=device), suffix_mask], dim=1
    )
    positions = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)[:, shared:]
    cache = (
        prefix.expand(len(rows)) if prefix is not None else DynamicCache(config=loaded.model.config)
    )
    out = loaded.model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=positions,
        cache=cache,
        use_cache=True,
        logits_to_keep=1,
    )
    return Prefill(
        logits=out.logits[:, -1].float(),
        cache=out.cache,
        attention_mask=attention_mask,
        next_position=positions[:, -1] + 1,
    )
