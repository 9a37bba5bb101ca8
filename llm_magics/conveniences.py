"""The one place where a result object reaches up to a higher layer, late, for a convenience.

Result objects hold data and sit beside the operations that make them: ``MiningResult``
(``mining/result.py``) and ``TopicModel`` (``ops/topics.py``). (``MineRun``, in ``plan/results.py``,
sits above the charts and imports them itself.) For
the reader's sake they also offer ``.plot()``, ``.charts()`` and ``.tune()``, which need the
charts (``llm_magics.plots``) or the widgets (``llm_magics.widgets``) — layers above them that
import them in turn. As pandas' ``DataFrame.plot`` finds its plotting backend only when it is
called, each function here imports what it needs inside its body, when called; a result's
method calls the function here and never imports those layers itself.

This module imports nothing from ``llm_magics`` at module level, so any layer may import it
without a circle. The late imports in its functions are the only upward imports of a result
object, and the import-direction test allows exactly these.

Examples
--------
>>> from llm_magics import conveniences
>>> conveniences.mining_chart_kinds("regression")
['leaderboard', 'importance', 'predicted']
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "mining_chart_kinds",
    "mining_charts",
    "mining_tune_panel",
    "plot_mining",
    "plot_topics",
]


def plot_mining(result: Any, kind: str, **kwargs: Any) -> Any:
    """``MiningResult.plot``: the ``kind`` chart of a mining result (see
    ``llm_magics.plots.mining_chart``)."""
    from llm_magics.plots import mining_chart

    return mining_chart(result, kind, **kwargs)


def mining_chart_kinds(task: str) -> list[str]:
    """The chart kinds that fit a mining ``task``, in reading order."""
    return ["leaderboard", "importance"] + (
        ["confusion", "roc"] if task == "classification" else ["predicted"]
    )


def mining_charts(result: Any) -> list[Any]:
    """``MiningResult.charts``: the charts that fit the result's task, in reading order."""
    return [plot_mining(result, kind) for kind in mining_chart_kinds(result.task)]


def mining_tune_panel(result: Any, frame: Any, **kwargs: Any) -> Any:
    """``MiningResult.tune``: the panel that re-runs the model selection on ``frame`` (see
    ``llm_magics.widgets.MiningTunePanel``)."""
    from llm_magics.widgets import MiningTunePanel

    return MiningTunePanel(result, frame, **kwargs)


def plot_topics(model: Any, kind: str, texts: Any = None) -> Any:
    """``TopicModel.plot``: the topic map (``"map"``, ``texts`` as tooltips) or the topic sizes
    (``"sizes"``); the caller has checked ``kind``."""
    from llm_magics.plots import topic_map, topic_sizes

    return topic_map(model, texts) if kind == "map" else topic_sizes(model)
