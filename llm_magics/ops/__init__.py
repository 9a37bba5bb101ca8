"""The data-mining operations: pandas in, pandas out, the engine underneath.

Each is a function of a text Series (``features`` and ``join`` of DataFrames) that returns new
objects on the same index, or a new table for those across rows (``aggregate``: one row per
group, ``top_k``: the chosen rows, ``join``: the matching pairs); ``df.llm.<op>`` and ``series.llm.<op>`` call them, and so do ``%%mine`` and the CLI.

A new operation is one module here with an ``OpSpec`` and an ``@operation(SPEC)`` function
(``llm_magics.ops.spec``): importing this package imports every module in it, so the op is
registered, and exported under its name, with no other edit.

The ops may import ``learning``, ``engine``, ``runtime`` and the bottom layer; never ``backends``,
``distributed`` or Ray (not even for typing: the op runner chooses where work runs), nor
``mining``, ``plots``, ``plan`` or an entry point.
"""

import importlib
import pkgutil

from llm_magics.ops.base import OPERATIONS, SPECS

# isort: off
# The ops register in the order of a plan (clean first, then the per-row ops, then those across
# rows): the order of SPECS, so the order in which `%mine help`, the sidebar and the plan's error
# messages list the verbs.
from llm_magics.ops.clean import clean
from llm_magics.ops.summarize import summarize
from llm_magics.ops.classify import classify
from llm_magics.ops.sentiment import sentiment
from llm_magics.ops.extract import extract
from llm_magics.ops.filter import filter, query
from llm_magics.ops.embed import embed
from llm_magics.ops.keywords import keywords
from llm_magics.ops.topics import TopicModel, topics
from llm_magics.ops.features import FEATURE_KINDS, TextFeatures, features
from llm_magics.ops.aggregate import aggregate
from llm_magics.ops.dedup import dedup
from llm_magics.ops.join import join
from llm_magics.ops.top_k import top_k

# isort: on
from llm_magics.ops.finetune import FineTuned, finetune
from llm_magics.ops.prompts import get_prompt, reset_prompts, set_prompt

__all__ = [
    "FEATURE_KINDS",
    "OPERATIONS",
    "FineTuned",
    "TextFeatures",
    "TopicModel",
    "aggregate",
    "classify",
    "clean",
    "dedup",
    "embed",
    "extract",
    "features",
    "filter",
    "finetune",
    "get_prompt",
    "join",
    "keywords",
    "query",
    "reset_prompts",
    "sentiment",
    "set_prompt",
    "summarize",
    "top_k",
    "topics",
]


def _register_other_modules() -> list[str]:
    """Import the modules of this package not imported above (new ops register on import), in
    name order after the ops above, and export each op they register under its name."""
    known = set(SPECS)
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    added = [name for name in SPECS if name not in known]
    globals().update({name: OPERATIONS[name] for name in added})
    __all__.extend(added)
    return added


_register_other_modules()
