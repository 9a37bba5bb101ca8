"""llm_magics: mine pandas DataFrames with local Hugging Face models, from Jupyter.

In a notebook: ``%load_ext llm_magics``. In Python::

    import llm_magics                      # registers the df.llm / series.llm accessors
    reviews["review"].llm.sentiment()
    llm_magics.get_manager().status()
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from llm_magics import accessor as _accessor  # noqa: F401  (registers df.llm and series.llm)
from llm_magics import backends as _backends  # noqa: F401  (registers backend='ray')
from llm_magics.config import LlmMagics, get_config
from llm_magics.errors import (
    DeviceOutOfMemoryError,
    InvalidArgumentError,
    LlmMagicsError,
    LlmMagicsWarning,
    MissingDependencyError,
    ModelError,
    ModelLoadError,
    ModelNotFoundError,
)
from llm_magics.learning import labels  # noqa: F401  (llm_magics.labels.load / restore: the label store)
from llm_magics.learning.quality import Evaluation, evaluate
from llm_magics.mining import MiningResult, mine
from llm_magics.ops import TopicModel, get_prompt, reset_prompts, set_prompt
from llm_magics.plan.results import MineRun, PlanEstimate
from llm_magics.plan.runner import mine_plan, run_mine
from llm_magics.runtime import LoadedModel, ModelManager, get_manager

try:
    __version__ = version("llm-magics")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "DeviceOutOfMemoryError",
    "Evaluation",
    "InvalidArgumentError",
    "LlmMagics",
    "LlmMagicsError",
    "LlmMagicsWarning",
    "LoadedModel",
    "MineRun",
    "MiningResult",
    "MissingDependencyError",
    "ModelError",
    "ModelLoadError",
    "ModelManager",
    "ModelNotFoundError",
    "PlanEstimate",
    "TopicModel",
    "__version__",
    "evaluate",
    "get_config",
    "get_manager",
    "get_prompt",
    "load_ipython_extension",
    "mine",
    "mine_plan",
    "reset_prompts",
    "run_mine",
    "set_prompt",
]


def _answer_the_sidebar() -> None:
    """In a Jupyter kernel, a plain ``import llm_magics`` answers the sidebar as ``%load_ext``
    does (its state, jobs and Cancel), so that it never says "not loaded" while ops run."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if getattr(shell, "kernel", None) is None:  # plain Python, a terminal IPython, a script
        return
    from llm_magics.comm import register_comm_target

    register_comm_target()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext llm_magics``: the ``%%mine`` / ``%mine`` magics, the ``df.llm`` accessors, the
    settings through ``%config LlmMagics``, the JupyterLab sidebar's comm target, and Altair
    charts (ours and yours) that draw offline in JupyterLab (``llm_magics.plots.render``)."""
    from llm_magics.comm import register_comm_target
    from llm_magics.magics import MineMagics
    from llm_magics.plots import use_renderer

    config = get_config()
    if config not in ipython.configurables:
        config.update_config(ipython.config)
        ipython.configurables.append(config)
    ipython.register_magics(MineMagics)
    register_comm_target()
    use_renderer()


_answer_the_sidebar()
