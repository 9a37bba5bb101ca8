"""A plan's run as one self-contained HTML file (``llm-mine run --report``): what ran, what it
made, what it found, its charts.

The file needs nothing at view time (no scripts, nothing fetched), so it can be mailed or opened
offline. Charts are drawn to inline SVG by ``vl-convert-python`` (``pip install
"llm-magics[report]"``); without it the report keeps its tables and says how to get the charts.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_magics.plan.views import mine_run_html

if TYPE_CHECKING:
    from llm_magics.plan.results import MineRun

__all__ = ["chart_svg", "report_html", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
code, pre { background: #f5f5f5; padding: 1px 4px; }
.chart { margin: 1.5em 0; }
.meta { color: #666; }
"""


def chart_svg(chart: Any) -> str | None:
    """``chart`` as SVG markup, or ``None`` when vl-convert is not installed."""
    try:
        import vl_convert
    except ImportError:
        return None
    return vl_convert.vegalite_to_svg(chart.to_dict())


def report_html(run: MineRun, *, title: str, plan_text: str, source: str = "") -> str:
    """The report of ``run`` as one HTML document."""
    charts = run.charts() if run.completed else []
    drawn = [chart_svg(chart) for chart in charts]
    if drawn and all(svg is None for svg in drawn):
        figures = (
            "<p class='meta'>Charts need vl-convert: <code>pip install "
            '"llm-magics[report]"</code>.</p>'
        )
    else:
        figures = "".join(f"<div class='chart'>{svg}</div>" for svg in drawn if svg)
    meta = (
        f"{html.escape(source)} · {run.input_rows:,} rows in, {len(run.frame):,} mined · "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='meta'>{meta}</p>"
        f"<h3>Plan</h3><pre>{html.escape(plan_text.strip())}</pre>"
        f"{mine_run_html(run)}"
        f"{'<h3>Charts</h3>' + figures if charts else ''}"
        "</body></html>"
    )


def write_report(
    run: MineRun, path: str | Path, *, title: str, plan_text: str, source: str = ""
) -> Path:
    """Write the report of ``run`` to ``path``; return the path."""
    path = Path(path)
    path.write_text(report_html(run, title=title, plan_text=plan_text, source=source))
    return path
