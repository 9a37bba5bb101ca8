"""HTML views of a plan's run and of a dry run (the text views are the objects' ``repr``).

The views read the objects they are given (a ``MineRun``, a ``PlanEstimate``) by their attributes
and import neither: the results import this module to draw themselves.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from llm_magics.units import format_seconds

__all__ = ["estimate_html", "mine_run_html"]

_STYLE = "font-size:0.9em"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, float_format=lambda v: f"{v:.3f}", border=0)


def _short(value: object, width: int = 80) -> object:
    if isinstance(value, str) and len(value) > width:
        return value[: width - 1] + "…"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return value


def mine_run_html(run: Any) -> str:
    """The run's status, its new columns' first rows, the per-step table, and the mining result.

    ``run`` is a ``MineRun`` or any object with its ``status_line()``, ``new_columns``,
    ``shown_columns``, ``frame``,
    ``table()``, ``qualities()``, ``topics``, ``result`` and ``narrative``.
    """
    parts = [f"<h4>%%mine: {html.escape(run.status_line())}</h4>"]
    if run.shown_columns:
        head = run.frame[run.shown_columns].head(5).map(_short)
        title = "New columns" if run.shown_columns == run.new_columns else "The new table"
        parts.append(
            f"<b>{title}</b> (first 5 of {len(run.frame)} rows)"
            f"<div style='{_STYLE}'>{head.to_html(escape=True, border=0)}</div>"
        )
    parts.append(f"<b>Steps</b><div style='{_STYLE}'>{_table(run.table())}</div>")
    if run.qualities():
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in run.qualities())
        parts.append(f"<b>Quality</b> (estimated on your labels)<ul>{lines}</ul>")
    for column, model in run.topics.items():
        parts.append(f"<b>Topics of <code>{html.escape(column)}</code></b>{model._repr_html_()}")
    if run.result is not None:
        parts.append(run.result._repr_html_())
    if run.narrative is not None:
        parts.append(
            f"<b>Narrative</b> (by the {html.escape(run.narrative.source)})"
            f"<p>{html.escape(run.narrative.text)}</p>"
        )
    return "<div class='llm-magics-run'>" + "".join(parts) + "</div>"


def estimate_html(estimate: Any) -> str:
    """The dry run's steps with their estimates, and the models the plan uses.

    ``estimate`` is a ``PlanEstimate`` (or an object with its ``plan``, ``rows``, ``probe_rows``,
    ``seconds``, ``steps`` and ``models``).
    """
    return (
        f"<h4>%%mine --dry-run: {len(estimate.plan)} steps on {estimate.rows} rows, about "
        f"{format_seconds(estimate.seconds)}</h4>"
        f"<p>Timed on {estimate.probe_rows} rows with the cache off; nothing was kept. Larger "
        "batches run faster per row, so the real run is usually quicker.</p>"
        f"<div style='{_STYLE}'>{_table(estimate.steps)}</div>"
        f"<b>Models</b><div style='{_STYLE}'>{_table(estimate.models)}</div>"
    )
