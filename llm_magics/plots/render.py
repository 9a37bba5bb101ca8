"""How charts reach the notebook: Altair's renderer registry, plus one renderer of ours.

Altair 6 emits Vega-Lite 6, which JupyterLab 4's own renderer does not read, so Altair's default
renderer falls back to HTML that loads Vega from a CDN: offline, a chart is an error line. Ours
sends the spec under the Vega-Lite 6 mime type, which our JupyterLab extension draws with
the vega-embed it bundles (interactive, no network), and an SVG drawn by vl-convert beside it,
which a notebook opened elsewhere and ``nbconvert --to html`` show without a CDN.

Importing ``llm_magics.plots`` (and ``%load_ext llm_magics``) enables it only while Altair's own
``"default"`` renderer is active: a renderer you chose stays yours, and
``alt.renderers.enable("default")`` turns ours off.
"""

from __future__ import annotations

from typing import Any

import altair as alt
from altair.vegalite.v6.display import png_renderer, svg_renderer

from llm_magics._optional import import_optional
from llm_magics.errors import MissingDependencyError

__all__ = ["MAX_SVG_CHARS", "RENDERER", "VEGALITE_MIME_TYPE", "chart_bundle", "use_renderer"]

RENDERER = "llm_magics"

VEGALITE_MIME_TYPE = "application/vnd.vegalite.v6+json"
"""Not Altair's own ``application/vnd.vegalite.v6.json``: nbformat admits a JSON value only under
a ``+json`` type, so a notebook saved with Altair's fails validation (and nbconvert refuses it)."""

MAX_SVG_CHARS = 500_000
"""A larger SVG (a map of thousands of points: ~2 MB for 5,000) goes as a PNG, several times
smaller."""

_NO_PICTURE = (
    "<Vega-Lite 6 chart: drawn by the llm-magics JupyterLab extension. "
    'For a picture anywhere else, install vl-convert: pip install "llm-magics[report]">'
)


def chart_bundle(spec: dict[str, Any], **metadata: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The display bundle of a Vega-Lite ``spec``: the spec, and an SVG of it (a PNG when the SVG
    would be over ``MAX_SVG_CHARS``) when vl-convert is installed: the picture shown where our
    JupyterLab extension is not.

    ``metadata`` is what ``alt.renderers.enable(RENDERER, ...)`` was given, e.g. ``embed_options``.

    Examples
    --------
    >>> import altair as alt
    >>> chart = alt.Chart(alt.Data(values=[{"x": 1}])).mark_point().encode(x="x:Q")
    >>> bundle, _ = chart_bundle(chart.to_dict())
    >>> sorted(bundle)
    ['application/vnd.vegalite.v6+json', 'image/svg+xml', 'text/plain']
    """
    bundle: dict[str, Any] = {VEGALITE_MIME_TYPE: spec}
    bundle_metadata: dict[str, Any] = {VEGALITE_MIME_TYPE: metadata} if metadata else {}
    try:
        import_optional(
            "vl_convert", package="vl-convert-python", purpose="Drawing charts", extra="report"
        )
    except MissingDependencyError:
        bundle["text/plain"] = _NO_PICTURE
        return bundle, bundle_metadata
    # Altair's own renderers: they map its Vega-Lite version onto one that vl-convert ships.
    picture = svg_renderer(spec)
    if len(picture["image/svg+xml"]) > MAX_SVG_CHARS:
        # Twice the pixels, shown at the size of the SVG.
        png, size = png_renderer(spec, ppi=144)
        picture, bundle_metadata = png, {**bundle_metadata, **size}
    bundle.update(picture)
    bundle["text/plain"] = "<Vega-Lite 6 chart>"
    return bundle, bundle_metadata


alt.renderers.register(RENDERER, chart_bundle)


def use_renderer() -> None:
    """Enable our renderer unless the user picked another one."""
    if alt.renderers.active == "default":
        alt.renderers.enable(RENDERER)
