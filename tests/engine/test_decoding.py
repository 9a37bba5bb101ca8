from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from llm_magics.engine.decoding import reserve


def _states(rows: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(rows, 3, length, 8, generator=generator),
        torch.randn(rows, 3, length, 8, generator=generator),
    )


def test_reserved_layers_hold_what_growing_layers_hold() -> None:
    growing, reserved = DynamicCache(), DynamicCache()
    for cache in (growing, reserved):
        cache.layers = [DynamicLayer(), DynamicLayer()]
        for index in range(2):
            cache.update(*_states(4, 5, seed=index), index)
    reserve(reserved, 2)
    assert type(reserved.layers[0]).__name__ == "ReservedLayer"
    # Two steps within the room, a dropped row, then a step past the room (the buffer grows).
    for step, keep in [(10, None), (11, torch.tensor([0, 2, 3])), (12, None)]:
        if keep is not None:
            growing.batch_select_indices(keep)
            reserved.batch_select_indices(keep)
        for index in range(2):
            new = _states(growing.layers[index].keys.shape[0], 1, seed=step + index)
            expected = growing.update(*new, index)
            got = reserved.update(*new, index)
            assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    assert reserved.get_seq_length() == growing.get_seq_length() == 8
    assert reserved.layers[0].keys.shape == (3, 3, 8, 8)


def test_empty_layers_are_left_as_they_are() -> None:
    cache = DynamicCache()
    cache.layers = [DynamicLayer()]
    reserve(cache, 4)
    assert type(cache.layers[0]) is DynamicLayer
