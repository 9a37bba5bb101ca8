"""The llm_magics Altair theme: one look for every chart, readable on light and dark notebooks.

Text and grid lines are mid-grey and the background is transparent, so the same chart reads on
JupyterLab's light and dark themes; colours are Tableau 10 (distinct, colour-blind friendly).
Importing ``llm_magics.plots`` registers the theme and enables it only while Altair's own
``"default"`` theme is active: a theme you chose stays yours (``alt.theme.enable("default")``
turns ours off).
"""

from __future__ import annotations

import altair as alt

__all__ = ["THEME", "use_theme"]

THEME = "llm_magics"
_TEXT, _GRID = "#7f7f7f", "rgba(127, 127, 127, 0.25)"


@alt.theme.register(THEME, enable=False)
def _theme() -> alt.theme.ThemeConfig:
    axis = {
        "labelColor": _TEXT,
        "titleColor": _TEXT,
        "gridColor": _GRID,
        "domainColor": _TEXT,
        "tickColor": _TEXT,
        "labelFontSize": 11,
        "titleFontSize": 12,
    }
    return {
        "config": {
            "background": "transparent",
            "view": {"stroke": "transparent", "continuousWidth": 360, "continuousHeight": 240},
            "axis": axis,
            "legend": {"labelColor": _TEXT, "titleColor": _TEXT},
            "title": {"color": _TEXT, "fontSize": 13, "anchor": "start"},
            "header": {"labelColor": _TEXT, "titleColor": _TEXT},
            "range": {"category": {"scheme": "tableau10"}},
            "text": {"color": _TEXT},
        }
    }


def use_theme() -> None:
    """Enable the theme unless the user picked another one."""
    if alt.theme.active == "default":
        alt.theme.enable(THEME)
