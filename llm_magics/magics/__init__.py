"""The IPython magics: ``%%mine`` (a plan over a DataFrame) and ``%mine`` (models, cache, help).

An entry point: it may import every layer below it (``plan``, ``backends``, ``plots``, ``mining``,
``ops``, ``engine``, ``runtime``, the bottom layer) and the other entry points; no layer below
imports it (results reach it only through ``llm_magics.conveniences``).
"""

from llm_magics.magics.mine import PLAN_HELP, MineMagics

__all__ = ["PLAN_HELP", "MineMagics"]
