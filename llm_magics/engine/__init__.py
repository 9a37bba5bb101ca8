"""Batched inference on the models the manager holds: ``generate`` and ``embed``."""

from llm_magics.engine.embed import embed
from llm_magics.engine.generate import generate

__all__ = ["embed", "generate"]
