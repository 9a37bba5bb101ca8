"""The IPython magics: ``%%mine`` (a plan over a DataFrame) and ``%mine`` (models, cache, help)."""

from llm_magics.magics.mine import PLAN_HELP, MineMagics

__all__ = ["PLAN_HELP", "MineMagics"]
