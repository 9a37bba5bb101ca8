"""The renderer that draws charts offline: its display bundle, the user's choice kept, and a
notebook exported with nbconvert whose chart needs no CDN."""

from __future__ import annotations

import re
import struct
import sys
from collections.abc import Iterator

import altair as alt
import nbformat
import numpy as np
import pandas as pd
import pytest
from nbconvert import HTMLExporter

from llm_magics.plots import RENDERER, sentiment_distribution, use_renderer
from llm_magics.plots._data import MAX_POINTS
from llm_magics.plots.render import MAX_SVG_CHARS
from llm_magics.plots.render import VEGALITE_MIME_TYPE as V6


@pytest.fixture
def chart() -> alt.Chart:
    labels = pd.Series(["positive", "negative", "positive", "neutral"], name="sentiment")
    return sentiment_distribution(labels)


@pytest.fixture
def active_renderer() -> Iterator[None]:
    before = alt.renderers.active
    yield
    alt.renderers.enable(before)


def test_importing_the_charts_enables_our_renderer_and_it_sends_the_spec_and_an_svg(
    chart: alt.Chart,
) -> None:
    assert alt.renderers.active == RENDERER
    bundle, metadata = chart._repr_mimebundle_()
    assert bundle[V6] == chart.to_dict()
    svg = bundle["image/svg+xml"]
    assert svg.startswith("<svg") and "Sentiment" in svg
    assert "text/html" not in bundle  # Altair's HTML loads Vega from a CDN
    assert metadata == {}


def test_a_map_of_thousands_of_points_goes_as_a_png_a_fraction_of_the_svg() -> None:
    rng = np.random.default_rng(0)
    points = pd.DataFrame({"x": rng.normal(size=MAX_POINTS), "y": rng.normal(size=MAX_POINTS)})
    chart = alt.Chart(points).mark_circle().encode(x="x:Q", y="y:Q")
    bundle, metadata = chart._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    png = bundle["image/png"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < MAX_SVG_CHARS
    width, height = struct.unpack(">II", png[16:24])
    assert metadata["image/png"] == {"width": width / 2, "height": height / 2}


def test_embed_options_reach_the_extension(chart: alt.Chart, active_renderer: None) -> None:
    alt.renderers.enable(RENDERER, embed_options={"renderer": "canvas"})
    _, metadata = chart._repr_mimebundle_()
    assert metadata == {V6: {"embed_options": {"renderer": "canvas"}}}


def test_a_renderer_the_user_chose_stays(active_renderer: None) -> None:
    alt.renderers.enable("png")
    use_renderer()
    assert alt.renderers.active == "png"
    alt.renderers.enable("default")
    use_renderer()
    assert alt.renderers.active == RENDERER


def test_without_vl_convert_the_bundle_says_how_to_get_a_picture(
    chart: alt.Chart, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # as if it were not installed
    bundle, _ = chart._repr_mimebundle_()
    assert set(bundle) == {V6, "text/plain"}
    assert 'pip install "llm-magics[report]"' in bundle["text/plain"]


def test_nbconvert_html_shows_the_svg_and_loads_nothing_from_the_web(chart: alt.Chart) -> None:
    bundle, metadata = chart._repr_mimebundle_()
    output = nbformat.v4.new_output(
        "execute_result", data=bundle, metadata=metadata, execution_count=1
    )
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("chart", outputs=[output], execution_count=1)]
    )
    nbformat.validate(notebook)
    html, _ = HTMLExporter().from_notebook_node(notebook)
    body = html[html.index("<body") :]
    assert 'data-mime-type="image/svg+xml"' in body
    assert 'src="data:image/svg+xml;base64,' in body
    assert "<script" not in body
    # nbconvert's own page loads require.js and MathJax from a CDN; nothing of the chart does.
    assert not [src for src in re.findall(r'<script[^>]+src="([^"]+)"', html) if "vega" in src]
